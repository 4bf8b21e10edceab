using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary>
/// Walks the server's own OpenAPI document and sends every operation hostile requests (path tricks, bad query
/// values, malformed and mistyped bodies, wrong content types, oversized bodies) with and without credentials. An
/// endpoint added later is covered without touching this file.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class HostileInputTests(SkillLoopServer server)
{
    /// <summary>Raw (already URL-encoded) path segments. None names an existing row, so even an admin's DELETE changes nothing.</summary>
    private static readonly string[] HostileSegments =
    [
        "..%2F..%2Fetc", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc", "%252e%252e%252f", "..%5C..%5Cwindows",
        "99999999999999999999", "-99999999999999999999", "-1", "0", "1e9", "NaN", "0x10",
        "%00", "x%00y", "%FF%FE", "%C0%AF", "%E2%80%AE", "%0D%0AX-Injected:%20yes", "%27%20OR%201%3D1%20--", "%3Cscript%3E",
        new string('a', 4_000), new string('9', 10_000),
    ];

    private static readonly string[] HostileQueryValues =
    [
        "abc", "99999999999999999999", "-99999999999999999999", "1e400", "-1", "0", "%00", "%FF", "%27%20OR%201%3D1%20--",
        new string('z', 5_000),
    ];

    private static readonly string[] Credentials = ["none", "wrong token", "oversized token", "ingest token", "admin key"];

    [Fact]
    public async Task Every_documented_operation_answers_hostile_requests_below_500_with_problem_details()
    {
        using var document = await ReadOpenApiAsync();
        var operations = Operation.All(document.RootElement);
        Assert.Contains(operations, o => o is { Method: "POST", Path: "/api/v1/signals" }); // the document was really read
        var failures = new List<string>();
        var sent = 0;

        foreach (var credential in Credentials)
        {
            using var client = ClientFor(credential);
            foreach (var operation in operations)
            {
                foreach (var request in HostileRequests(operation, document.RootElement))
                {
                    sent++;
                    var failure = await SendAsync(client, request);
                    if (failure is not null)
                    {
                        failures.Add($"{request.Method} {Shorten(request.Uri)} [{credential}; {request.Variant}]: {failure}");
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {sent} hostile requests misbehaved:\n{string.Join('\n', failures.Take(60))}");
        Assert.True(sent > 1_000, $"only {sent} requests were sent");
        // Nothing hostile revoked a credential or broke the server for the tests that follow.
        using var admin = server.CreateAdminClient();
        using var ingest = server.CreateIngestClient();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/status")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ingest.GetAsync("/api/v1/client/config")).StatusCode);
    }

    [Fact]
    public async Task Hostile_signal_posts_leave_every_row_count_unchanged()
    {
        using var document = await ReadOpenApiAsync();
        var signals = Operation.All(document.RootElement).Single(o => o is { Method: "POST", Path: "/api/v1/signals" });
        var before = await CountRowsAsync();

        using var client = server.CreateIngestClient();
        var requests = HostileRequests(signals, document.RootElement).ToList();
        foreach (var request in requests)
        {
            var failure = await SendAsync(client, request);
            Assert.True(failure is null, $"{request.Variant}: {failure}");
        }

        Assert.True(requests.Count > 20);
        Assert.Equal(before, await CountRowsAsync());
    }

    [Fact]
    public async Task A_binding_failure_is_a_400_problem_that_says_what_could_not_be_read()
    {
        using var admin = server.CreateAdminClient();

        var response = await admin.PostAsync("/api/v1/clusters/1/merge", new StringContent("{\"into\":\"x\"}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("request body", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Json_in_another_charset_than_utf8_gets_415_problem_details()
    {
        using var ingest = server.CreateIngestClient();
        using var content = new ByteArrayContent(Encoding.Unicode.GetBytes("{}"));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json; charset=utf-16");

        var response = await ingest.PostAsync("/api/v1/signals", content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("UTF-8", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_sign_in_post_without_an_antiforgery_token_is_a_400_not_a_server_error()
    {
        using var client = server.CreateClientWith(null);

        var response = await client.PostAsync("/account/login", new FormUrlEncodedContent([new("userName", "admin")]));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    private async Task<JsonDocument> ReadOpenApiAsync()
    {
        using var anonymous = server.CreateClientWith(null);
        return JsonDocument.Parse(await anonymous.GetStringAsync("/openapi/v1.json"));
    }

    private HttpClient ClientFor(string credential) => credential switch
    {
        "none" => server.CreateClientWith(null),
        "wrong token" => server.CreateClientWith("not-a-registered-token"),
        "oversized token" => server.CreateClientWith(new string('t', 4_000)),
        "ingest token" => server.CreateIngestClient(),
        "admin key" => server.CreateAdminClient(),
        _ => throw new ArgumentOutOfRangeException(nameof(credential)),
    };

    /// <summary>Null when the answer is acceptable, else what was wrong with it.</summary>
    private static async Task<string?> SendAsync(HttpClient client, HostileRequest request)
    {
        using var message = new HttpRequestMessage(new HttpMethod(request.Method), request.Uri);
        if (request.Body is { } body)
        {
            message.Content = new ByteArrayContent(body);
            if (request.ContentType is { } contentType)
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(message);
        }
        catch (HttpRequestException ex)
        {
            return $"no response ({ex.Message})";
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            var content = await response.Content.ReadAsByteArrayAsync();
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (status >= 500)
            {
                return $"{status} {Encoding.UTF8.GetString(content.AsSpan(0, Math.Min(content.Length, 300)))}";
            }

            if (status >= 400 && content.Length > 0 && mediaType != "application/problem+json")
            {
                return $"{status} with a {mediaType ?? "untyped"} body instead of problem details";
            }

            if (request.MustBeRejected && status is < 400 or >= 500)
            {
                return $"{status}: a hostile body was accepted";
            }

            return null;
        }
    }

    /// <summary>Hostile variants of one operation: path tricks, query tricks, and (where it takes one) bad bodies.</summary>
    private static IEnumerable<HostileRequest> HostileRequests(Operation operation, JsonElement document)
    {
        // The plain request first (ids "0" name nothing), so operations without parameters are called too.
        yield return new HostileRequest(operation.Method, operation.Fill("0"), "plain, no body", null, null, MustBeRejected: false);

        foreach (var segment in operation.PathParameters.Count > 0 ? HostileSegments : [])
        {
            yield return new HostileRequest(operation.Method, operation.Fill(segment), $"path {Shorten(segment)}", null, null, MustBeRejected: false);
        }

        var benignPath = operation.Fill("0");
        foreach (var parameter in operation.QueryParameters)
        {
            foreach (var value in HostileQueryValues)
            {
                yield return new HostileRequest(operation.Method, $"{benignPath}?{parameter}={value}", $"query {parameter}={Shorten(value)}", null, null, MustBeRejected: false);
            }
        }

        if (operation.QueryParameters.Count > 0)
        {
            yield return new HostileRequest(operation.Method, $"{benignPath}?{string.Join('&', operation.QueryParameters.Select(p => $"{p}=1&{p}=2"))}", "repeated query parameters", null, null, MustBeRejected: false);
        }

        if (operation.BodySchema is not { } schema)
        {
            yield break;
        }

        foreach (var (variant, body, contentType) in HostileBodies(Properties(schema, document)))
        {
            yield return new HostileRequest(operation.Method, benignPath, variant, body, contentType, MustBeRejected: true);
        }
    }

    private static IEnumerable<(string Variant, byte[] Body, string? ContentType)> HostileBodies(IReadOnlyList<(string Name, string Type)> properties)
    {
        const string Json = "application/json";
        static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

        yield return ("empty body", [], Json);
        yield return ("malformed JSON", Utf8("{not json"), Json);
        yield return ("truncated JSON", Utf8("{\"a\":"), Json);
        yield return ("two documents", Utf8("{}{}"), Json);
        yield return ("JSON null", Utf8("null"), Json);
        yield return ("JSON array", Utf8("[]"), Json);
        yield return ("JSON string", Utf8("\"x\""), Json);
        yield return ("JSON number", Utf8("42"), Json);
        yield return ("deep nesting", Utf8(new string('[', 10_000) + new string(']', 10_000)), Json);
        // Bodies that could never bind to any schema: an unknown property alone might bind to an all-defaults object.
        yield return ("invalid UTF-8", [.. Utf8("\""), 0xFF, 0xFE, 0xC0, 0xAF, .. Utf8("\"")], Json);
        yield return ("text/plain", Utf8("[]"), "text/plain");
        yield return ("no content type", Utf8("[]"), null);
        yield return ("form content type", Utf8("a=b"), "application/x-www-form-urlencoded");
        yield return ("unknown charset", Utf8("[]"), "application/json; charset=no-such-charset");
        yield return ("UTF-7 charset", Utf8("[]"), "application/json; charset=utf-7");
        yield return ("UTF-16 charset over UTF-8 bytes", Utf8("[1]"), "application/json; charset=utf-16");
        yield return ("2 MB string", Utf8($"\"{new string('a', 2 << 20)}\""), Json);

        foreach (var (name, type) in properties)
        {
            yield return ($"{name} has the wrong type", Utf8($"{{\"{name}\":{WrongValue(type)}}}"), Json);
            if (type == "string")
            {
                yield return ($"{name} is a 300k string", Utf8($"{{\"{name}\":\"{new string('a', 300_000)}\"}}"), Json);
                yield return ($"{name} holds control characters", Utf8($"{{\"{name}\":\"\\u0000\\u001b[2J..\\/..\\/etc\"}}"), Json);
                yield return ($"{name} is invalid UTF-8", [.. Utf8($"{{\"{name}\":\""), 0xFF, 0xFE, 0xC0, 0xAF, .. Utf8("\"}")], Json);
                yield return ($"{name} is a lone surrogate", Utf8($"{{\"{name}\":\"\\uD800\"}}"), Json);
            }
        }

        if (properties.Count > 0)
        {
            yield return ("every property has the wrong type", Utf8($"{{{string.Join(',', properties.Select(p => $"\"{p.Name}\":{WrongValue(p.Type)}"))}}}"), Json);
        }
    }

    private static string WrongValue(string type) => type switch
    {
        "string" => "12345",
        "integer" or "number" => "\"not-a-number\"",
        "boolean" => "\"yes\"",
        "array" => "{\"a\":1}",
        _ => "[1,2]",
    };

    /// <summary>Top-level properties of a request body schema and their JSON types (following $ref and nullable oneOf).</summary>
    private static IReadOnlyList<(string Name, string Type)> Properties(JsonElement schema, JsonElement document)
    {
        var resolved = Resolve(schema, document);
        if (!resolved.TryGetProperty("properties", out var properties))
        {
            return [];
        }

        return properties.EnumerateObject().Select(p => (p.Name, TypeOf(Resolve(p.Value, document)))).ToList();
    }

    private static JsonElement Resolve(JsonElement schema, JsonElement document)
    {
        if (schema.TryGetProperty("$ref", out var reference))
        {
            var name = reference.GetString()!.Split('/')[^1];
            return Resolve(document.GetProperty("components").GetProperty("schemas").GetProperty(name), document);
        }

        foreach (var combinator in new[] { "oneOf", "anyOf", "allOf" })
        {
            if (schema.TryGetProperty(combinator, out var options))
            {
                foreach (var option in options.EnumerateArray())
                {
                    var candidate = Resolve(option, document);
                    if (TypeOf(candidate) != "null")
                    {
                        return candidate;
                    }
                }
            }
        }

        return schema;
    }

    private static string TypeOf(JsonElement schema)
    {
        if (!schema.TryGetProperty("type", out var type))
        {
            return schema.TryGetProperty("properties", out _) ? "object" : "unknown";
        }

        return type.ValueKind == JsonValueKind.Array
            ? type.EnumerateArray().Select(t => t.GetString()!).FirstOrDefault(t => t != "null") ?? "null"
            : type.GetString()!;
    }

    private async Task<IReadOnlyDictionary<string, long>> CountRowsAsync()
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(server.DataDirectory, "skillloop.db"),
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        await connection.OpenAsync();
        var counts = new Dictionary<string, long>();
        // Only what ingest writes: background extraction and clustering may still be busy with earlier tests' signals.
        foreach (var table in new[] { "sessions", "turns", "signals" })
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT count(*) FROM {table}";
            counts[table] = (long)(await command.ExecuteScalarAsync())!;
        }

        return counts;
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : $"{text[..40]}…({text.Length} chars)";

    private sealed record HostileRequest(string Method, string Uri, string Variant, byte[]? Body, string? ContentType, bool MustBeRejected);

    private sealed record Operation(string Method, string Path, IReadOnlyList<string> PathParameters, IReadOnlyList<string> QueryParameters, JsonElement? BodySchema)
    {
        /// <summary>The path with every template parameter replaced by <paramref name="segment"/>.</summary>
        public string Fill(string segment) =>
            PathParameters.Aggregate(Path, (path, parameter) => path.Replace($"{{{parameter}}}", segment, StringComparison.Ordinal));

        public static IReadOnlyList<Operation> All(JsonElement document)
        {
            var operations = new List<Operation>();
            foreach (var path in document.GetProperty("paths").EnumerateObject())
            {
                foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "put" or "patch" or "delete"))
                {
                    var parameters = operation.Value.TryGetProperty("parameters", out var list) ? list.EnumerateArray().ToList() : [];
                    JsonElement? body = null;
                    if (operation.Value.TryGetProperty("requestBody", out var requestBody))
                    {
                        var content = requestBody.GetProperty("content").EnumerateObject().First().Value;
                        body = content.TryGetProperty("schema", out var schema) ? schema : default;
                    }

                    operations.Add(new Operation(
                        operation.Name.ToUpperInvariant(),
                        path.Name,
                        parameters.Where(p => p.GetProperty("in").GetString() == "path").Select(p => p.GetProperty("name").GetString()!).ToList(),
                        parameters.Where(p => p.GetProperty("in").GetString() == "query").Select(p => p.GetProperty("name").GetString()!).ToList(),
                        body));
                }
            }

            return operations;
        }
    }
}
