using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary>
/// Settings → AI providers through the API of the real server: saved in the database, switched without a restart,
/// tried without saving, keys never shown. Each test puts the defaults back (the other tests on this server expect
/// heuristic extraction and the bundled MiniLM).
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class AiSettingsApiTests(SkillLoopServer server) : IAsyncLifetime
{
    private const string Secret = "sk-test-5e1f0c2b9d7a4e38b6";
    private const string IssueJson = """{"problemPattern":"The agent put the totals row first.","rootCause":"The skill does not say where totals go.","expectedBehavior":"Totals last.","evidenceQuote":"totals","severity":"low","confidence":0.7}""";
    private static readonly object Defaults = new { chat = new { provider = "heuristic" }, embeddings = new { provider = "minilm" } };

    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync();
        _fake.DefaultContent = IssueJson;
    }

    public async Task DisposeAsync()
    {
        using var admin = server.CreateAdminClient();
        (await admin.PutAsJsonAsync("/api/v1/settings/ai", Defaults)).EnsureSuccessStatusCode();
        await _fake.DisposeAsync();
    }

    [Fact]
    public async Task Saving_an_endpoint_switches_server_extraction_to_it_without_a_restart()
    {
        using var admin = server.CreateAdminClient();
        var put = await admin.PutAsJsonAsync("/api/v1/settings/ai", new
        {
            chat = new { provider = "openai", endpoint = _fake.V1.ToString(), model = "fake-chat", apiKey = Secret },
            embeddings = new { provider = "minilm" },
        });

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var status = await admin.GetFromJsonAsync<JsonElement>("/api/v1/status");
        Assert.Equal("openai", status.GetProperty("chat").GetProperty("provider").GetString());
        Assert.Equal("fake-chat", status.GetProperty("chat").GetProperty("model").GetString());
        Assert.Equal("minilm", status.GetProperty("embeddings").GetProperty("provider").GetString());

        var session = $"ai-switch-{Guid.NewGuid():N}";
        var correction = $"no, the {session} totals row goes at the bottom";
        using var ingest = server.CreateIngestClient();
        (await ingest.PostAsJsonAsync("/api/v1/signals", SignalIngestorTests.Batch(session, 0, 100, corrections: correction))).EnsureSuccessStatusCode();

        var issue = await PipelineTests.IssueOfAsync(admin, session, TimeSpan.FromSeconds(60));
        Assert.Equal("server:fake-chat", issue.GetProperty("extractedBy").GetString());
        Assert.Equal("The agent put the totals row first.", issue.GetProperty("problemPattern").GetString());
        var request = Assert.Single(_fake.Requests, r => r.Path == "/v1/chat/completions" && r.Body.GetRawText().Contains(session, StringComparison.Ordinal));
        Assert.Equal($"Bearer {Secret}", request.Authorization);
        Assert.Equal("fake-chat", request.Body.GetProperty("model").GetString());
    }

    [Fact]
    public async Task The_api_key_is_never_returned_and_is_stored_only_encrypted()
    {
        using var admin = server.CreateAdminClient();
        var chat = new { provider = "openai", endpoint = _fake.V1.ToString(), model = "fake-chat", apiKey = Secret };

        var put = await admin.PutAsJsonAsync("/api/v1/settings/ai", new { chat, embeddings = new { provider = "minilm" } });
        var putBody = await put.Content.ReadAsStringAsync();
        var getBody = await admin.GetStringAsync("/api/v1/settings/ai");
        var statusBody = await admin.GetStringAsync("/api/v1/status");

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.All(new[] { putBody, getBody, statusBody }, body => Assert.DoesNotContain(Secret, body, StringComparison.Ordinal));
        var settings = JsonDocument.Parse(getBody).RootElement;
        Assert.Equal("stored", settings.GetProperty("source").GetString());
        Assert.True(settings.GetProperty("chat").GetProperty("hasApiKey").GetBoolean());
        Assert.False(settings.GetProperty("chat").TryGetProperty("apiKey", out _));
        Assert.False(settings.GetProperty("embeddings").GetProperty("hasApiKey").GetBoolean());

        // Neither the database nor its write-ahead log holds the key in plain text; the row holds its ciphertext.
        var secret = Encoding.UTF8.GetBytes(Secret);
        var files = Directory.GetFiles(server.DataDirectory, "skillloop.db*");
        Assert.Contains(files, f => f.EndsWith("skillloop.db", StringComparison.Ordinal));
        Assert.All(files, file => Assert.Equal(-1, ReadShared(file).AsSpan().IndexOf(secret)));
        var stored = await ReadSettingAsync("ai.providers");
        var protectedKey = JsonDocument.Parse(stored!).RootElement.GetProperty("chat").GetProperty("protectedApiKey").GetString();
        Assert.False(string.IsNullOrEmpty(protectedKey));
        Assert.DoesNotContain(Secret, stored, StringComparison.Ordinal);

        // Left empty, the key stays for the same endpoint, and is not handed to another one.
        var same = await admin.PutAsJsonAsync("/api/v1/settings/ai", new { chat = chat with { apiKey = (string)null! }, embeddings = new { provider = "minilm" } });
        Assert.True((await same.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("chat").GetProperty("hasApiKey").GetBoolean());
        var other = await admin.PutAsJsonAsync("/api/v1/settings/ai", new
        {
            chat = new { provider = "openai", endpoint = "http://127.0.0.1:1/v1", model = "fake-chat" },
            embeddings = new { provider = "minilm" },
        });
        Assert.False((await other.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("chat").GetProperty("hasApiKey").GetBoolean());
    }

    [Fact]
    public async Task The_test_reports_success_and_clear_failures_of_an_unsaved_configuration_without_a_server_error()
    {
        using var admin = server.CreateAdminClient();
        var before = await admin.GetStringAsync("/api/v1/settings/ai");

        var works = await admin.PostAsJsonAsync("/api/v1/settings/ai/test", new
        {
            chat = new { provider = "openai", endpoint = _fake.V1.ToString(), model = "fake-chat" },
            embeddings = new { provider = "openai", endpoint = _fake.V1.ToString(), model = "fake-embed" },
        });
        var closed = await admin.PostAsJsonAsync("/api/v1/settings/ai/test", new
        {
            chat = new { provider = "openai", endpoint = $"http://127.0.0.1:{ClosedPort()}/v1", model = "fake-chat" },
        });
        _fake.Enqueue(500, """{"error":{"message":"the model fell over"}}""");
        var failing = await admin.PostAsJsonAsync("/api/v1/settings/ai/test", new
        {
            chat = new { provider = "openai", endpoint = _fake.V1.ToString(), model = "fake-chat" },
        });

        Assert.Equal(HttpStatusCode.OK, works.StatusCode);
        var report = await works.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(report.GetProperty("chat").GetProperty("ok").GetBoolean());
        Assert.True(report.GetProperty("chat").GetProperty("latencyMs").GetInt64() >= 0);
        Assert.Equal("fake-chat", report.GetProperty("chat").GetProperty("model").GetString());
        Assert.True(report.GetProperty("embeddings").GetProperty("ok").GetBoolean());
        Assert.Equal(3, report.GetProperty("embeddings").GetProperty("dimensions").GetInt32());

        Assert.Equal(HttpStatusCode.OK, closed.StatusCode);
        var closedReport = await closed.Content.ReadFromJsonAsync<JsonElement>();
        var unreachable = closedReport.GetProperty("chat");
        Assert.False(unreachable.GetProperty("ok").GetBoolean());
        Assert.Contains("could not be reached", unreachable.GetProperty("error").GetString());
        Assert.Equal(JsonValueKind.Null, closedReport.GetProperty("embeddings").ValueKind);

        Assert.Equal(HttpStatusCode.OK, failing.StatusCode);
        var error = (await failing.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("chat");
        Assert.False(error.GetProperty("ok").GetBoolean());
        Assert.Contains("HTTP 500", error.GetProperty("error").GetString());
        Assert.DoesNotContain("the model fell over", error.GetProperty("error").GetString()); // a short reason, not the body

        // An endpoint that quotes the refused key in its error: the result does not repeat it.
        _fake.Enqueue(401, $$$"""{"error":{"message":"Incorrect API key provided: {{{Secret}}}"}}""");
        var refused = await admin.PostAsJsonAsync("/api/v1/settings/ai/test", new
        {
            chat = new { provider = "openai", endpoint = _fake.V1.ToString(), model = "fake-chat", apiKey = Secret },
        });
        var refusedBody = await refused.Content.ReadAsStringAsync();
        Assert.Contains("HTTP 401", refusedBody);
        Assert.DoesNotContain(Secret, refusedBody, StringComparison.Ordinal);

        Assert.Equal(before, await admin.GetStringAsync("/api/v1/settings/ai"));
    }

    [Fact]
    public async Task Path_tricks_and_bad_urls_are_refused_with_problem_details_and_nothing_is_saved()
    {
        await File.WriteAllBytesAsync(Path.Combine(server.ModelsDirectory, "..", "outside.gguf"), [0x47, 0x47, 0x55, 0x46]);
        Directory.CreateDirectory(Path.Combine(server.ModelsDirectory, "sub"));
        await File.WriteAllBytesAsync(Path.Combine(server.ModelsDirectory, "listed.gguf"), [0x47, 0x47, 0x55, 0x46]);
        await File.WriteAllBytesAsync(Path.Combine(server.ModelsDirectory, "sub", "nested.gguf"), [0x47, 0x47, 0x55, 0x46]);
        await File.WriteAllTextAsync(Path.Combine(server.ModelsDirectory, "notes.txt"), "not a model");
        using var admin = server.CreateAdminClient();
        var before = await admin.GetStringAsync("/api/v1/settings/ai");

        var models = await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/models");
        Assert.Equal(["listed.gguf", "sub/nested.gguf"], models!.Select(m => m.GetProperty("name").GetString()));

        string[] tricks = ["../outside.gguf", "sub/../../outside.gguf", "..\\outside.gguf", Path.GetFullPath(Path.Combine(server.ModelsDirectory, "..", "outside.gguf")), "missing.gguf", "notes.txt", ""];
        foreach (var name in tricks)
        {
            var put = await admin.PutAsJsonAsync("/api/v1/settings/ai", new { chat = new { provider = "llama.cpp", model = name }, embeddings = new { provider = "minilm" } });
            var test = await admin.PostAsJsonAsync("/api/v1/settings/ai/test", new { embeddings = new { provider = "llama.cpp", model = name } });

            Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
            Assert.Equal("application/problem+json", put.Content.Headers.ContentType?.MediaType);
            Assert.True((await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("chat.model", out _), name);
            Assert.Equal(HttpStatusCode.BadRequest, test.StatusCode);
            Assert.True((await test.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("embeddings.model", out _), name);
        }

        string[] urls = ["ftp://127.0.0.1/v1", "not a url", "/v1", "http://user:password@127.0.0.1/v1", ""];
        foreach (var url in urls)
        {
            var put = await admin.PutAsJsonAsync("/api/v1/settings/ai", new { chat = new { provider = "openai", endpoint = url, model = "m" }, embeddings = new { provider = "minilm" } });

            Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
            Assert.True((await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("chat.endpoint", out _), url);
        }

        var unknown = await admin.PutAsJsonAsync("/api/v1/settings/ai", new { chat = new { provider = "gpt" }, embeddings = new { provider = "heuristic" } });
        var missing = await admin.PutAsJsonAsync("/api/v1/settings/ai", new { chat = new { provider = "heuristic" } });
        var errors = (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("chat.provider", out _));
        Assert.True(errors.TryGetProperty("embeddings.provider", out _));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal(before, await admin.GetStringAsync("/api/v1/settings/ai"));
    }

    [Fact]
    public async Task Only_admins_reach_the_ai_settings_and_the_models_list()
    {
        using var ingest = server.CreateIngestClient();
        using var anonymous = server.CreateClientWith(null);

        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.GetAsync("/api/v1/settings/ai")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.PostAsJsonAsync("/api/v1/settings/ai/test", Defaults)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PutAsJsonAsync("/api/v1/settings/ai", Defaults)).StatusCode);
    }

    private static byte[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private async Task<string?> ReadSettingAsync(string key)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(server.DataDirectory, "skillloop.db")};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM settings WHERE key = $key";
        command.Parameters.AddWithValue("$key", key);
        return (string?)await command.ExecuteScalarAsync();
    }

    /// <summary>A loopback port nothing listens on (taken, then released).</summary>
    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
