using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

[Collection(ServerCollection.Name)]
public sealed class ApiTests(SkillLoopServer server)
{
    [Fact]
    public async Task Healthz_answers_ok_once_the_database_is_migrated()
    {
        using var client = server.CreateClientWith(null);

        var health = await client.GetFromJsonAsync<JsonElement>("/healthz");

        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "skillloop.db")));
    }

    [Fact]
    public async Task Admin_api_without_a_credential_answers_401_problem_details()
    {
        using var client = server.CreateClientWith(null);

        var response = await client.GetAsync("/api/v1/status");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(401, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task An_ingest_token_cannot_read_the_admin_api_and_a_wrong_token_is_refused()
    {
        using var ingest = server.CreateIngestClient();
        using var wrong = server.CreateClientWith("not-a-registered-token");

        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.GetAsync("/api/v1/signals")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/api/v1/client/config")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.PostAsJsonAsync("/api/v1/signals", SignalIngestorTests.Batch("api-wrong", 0, 1))).StatusCode);
    }

    [Fact]
    public async Task Status_reports_versions_counts_models_and_the_vector_index()
    {
        using var admin = server.CreateAdminClient();

        var status = await admin.GetFromJsonAsync<JsonElement>("/api/v1/status");

        Assert.Equal("sqlite-vec v0.1.9", status.GetProperty("vectorIndex").GetString());
        Assert.False(string.IsNullOrEmpty(status.GetProperty("chat").GetProperty("provider").GetString()));
        Assert.False(string.IsNullOrEmpty(status.GetProperty("embeddings").GetProperty("provider").GetString()));
        Assert.True(status.GetProperty("counts").GetProperty("signals").GetInt64() >= 0);
        Assert.False(string.IsNullOrEmpty(status.GetProperty("version").GetString()));
    }

    [Fact]
    public async Task Client_config_serves_the_correction_patterns_in_both_languages()
    {
        using var ingest = server.CreateIngestClient();

        var config = await ingest.GetFromJsonAsync<ClientConfig>("/api/v1/client/config");

        Assert.NotNull(config);
        Assert.Contains(config.Patterns, p => p.Language == "en");
        Assert.Contains(config.Patterns, p => p.Language == "zh");
    }

    [Fact]
    public async Task Posted_signals_are_listed_newest_first_with_their_fields()
    {
        using var ingest = server.CreateIngestClient();
        using var admin = server.CreateAdminClient();

        Assert.Equal(0, (await ingest.GetFromJsonAsync<SessionCursor>("/api/v1/sessions/claude/api-list/cursor"))!.Offset);
        var post = await ingest.PostAsJsonAsync("/api/v1/signals", SignalIngestorTests.Batch("api-list", 0, 300, corrections: ["no, that's wrong", "不对，应该用表格"]));
        post.EnsureSuccessStatusCode();

        var signals = await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/signals?sessionId=api-list");
        Assert.NotNull(signals);
        Assert.Equal(["不对，应该用表格", "no, that's wrong"], signals.Select(s => s.GetProperty("text").GetString()));
        var newest = signals[0];
        foreach (var field in new[] { "id", "platform", "sessionId", "turnId", "text", "pattern", "skill", "createdAt", "clusterId", "issue" })
        {
            Assert.True(newest.TryGetProperty(field, out _), $"missing {field}");
        }

        Assert.Equal("pdf-report", newest.GetProperty("skill").GetString());
        Assert.Equal(300, (await ingest.GetFromJsonAsync<SessionCursor>("/api/v1/sessions/claude/api-list/cursor"))!.Offset);
    }

    [Fact]
    public async Task A_batch_from_a_stale_cursor_gets_409_with_the_servers_cursor()
    {
        using var ingest = server.CreateIngestClient();
        (await ingest.PostAsJsonAsync("/api/v1/signals", SignalIngestorTests.Batch("api-409", 0, 50, corrections: "wrong"))).EnsureSuccessStatusCode();

        var response = await ingest.PostAsJsonAsync("/api/v1/signals", SignalIngestorTests.Batch("api-409", 0, 80, corrections: "again wrong"));

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(50, problem.GetProperty("cursor").GetProperty("offset").GetInt64());
    }

    [Fact]
    public async Task An_invalid_batch_is_rejected_with_every_problem_and_stores_nothing()
    {
        using var ingest = server.CreateIngestClient();
        using var admin = server.CreateAdminClient();
        var batch = SignalIngestorTests.Batch("api-bad", 0, 10, corrections: "wrong") with { Platform = "emacs" };

        var response = await ingest.PostAsJsonAsync("/api/v1/signals", batch with { SessionId = "../../etc/passwd" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("platform", out _));
        Assert.True(errors.TryGetProperty("sessionId", out _));
        Assert.Empty((await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/signals?sessionId=api-bad"))!);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("{\"platform\": 42}")]
    [InlineData("[]")]
    public async Task Malformed_json_gets_a_400_problem_details(string body)
    {
        using var ingest = server.CreateIngestClient();

        var response = await ingest.PostAsync("/api/v1/signals", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_client_api()
    {
        using var client = server.CreateClientWith(null);

        var document = await client.GetStringAsync("/openapi/v1.json");

        Assert.Contains("/api/v1/signals", document);
        Assert.Contains("/api/v1/sessions/{platform}/{sessionId}/cursor", document);
    }
}
