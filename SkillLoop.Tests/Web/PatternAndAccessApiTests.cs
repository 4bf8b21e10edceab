using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SkillLoop.Core.Access;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

[Collection(ServerCollection.Name)]
public sealed class PatternAndAccessApiTests(SkillLoopServer server)
{
    [Fact]
    public async Task An_admin_adds_a_pattern_that_clients_receive_and_the_tester_counts_past_turns()
    {
        using var ingest = server.CreateIngestClient();
        (await ingest.PostAsJsonAsync("/api/v1/signals", SignalIngestorTests.Batch("pattern-api", 0, 10, corrections: ["please use pnpm-zebra here", "ok pnpm-zebra again"]))).EnsureSuccessStatusCode();
        using var admin = server.CreateAdminClient();
        var pattern = new CorrectionPattern("en.custom.pnpm-zebra", "en", "redirection", @"\bpnpm-zebra\b");

        var created = await admin.PostAsJsonAsync("/api/v1/patterns", pattern);
        var duplicate = await admin.PostAsJsonAsync("/api/v1/patterns", pattern);
        var test = await admin.PostAsJsonAsync("/api/v1/patterns/test", new { pattern, text = "No, use pnpm-zebra instead", history = true });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        var config = await ingest.GetFromJsonAsync<ClientConfig>("/api/v1/client/config");
        Assert.Contains(config!.Patterns, p => p.Id == pattern.Id && p.Regex == pattern.Regex);
        var result = await test.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(result.GetProperty("text").GetProperty("matches").GetBoolean());
        Assert.Equal("pnpm-zebra", result.GetProperty("text").GetProperty("matchedText").GetString());
        Assert.Equal(2, result.GetProperty("history").GetProperty("matched").GetInt32());
        Assert.Equal(0, result.GetProperty("history").GetProperty("noise").GetInt32());

        var disabled = await admin.PutAsJsonAsync($"/api/v1/patterns/{pattern.Id}", pattern with { Enabled = false });
        Assert.Equal(HttpStatusCode.OK, disabled.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/patterns/{pattern.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/api/v1/patterns/{pattern.Id}")).StatusCode);
    }

    [Fact]
    public async Task The_tester_api_scores_a_message_with_the_agents_words_and_answer_and_refuses_oversized_ones()
    {
        using var admin = server.CreateAdminClient();
        var pattern = new CorrectionPattern("en.custom.tester-context", "en", "rejection", @"\bquokka\b");
        const string text = "the totals row goes at the bottom";

        async Task<double> ScoreAsync(object body)
        {
            var response = await admin.PostAsJsonAsync("/api/v1/patterns/test", body);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("text").GetProperty("classifier").GetProperty("score").GetDouble();
        }

        var alone = await ScoreAsync(new { pattern, text, history = false });
        var inContext = await ScoreAsync(new
        {
            pattern, text, history = false,
            previous = "Done: the report now puts the totals row first.",
            reply = "You're absolutely right, I apologize. Moving it.",
        });
        var tooLong = await admin.PostAsJsonAsync("/api/v1/patterns/test", new { pattern, text, history = false, reply = new string('x', 20_001) });

        Assert.True(inContext > alone, $"{inContext} <= {alone}");
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Contains("reply", (await tooLong.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task Invalid_patterns_and_built_in_deletes_are_refused_with_the_field_named()
    {
        using var admin = server.CreateAdminClient();

        var badRegex = await admin.PostAsJsonAsync("/api/v1/patterns", new CorrectionPattern("en.custom.bad", "en", "rejection", "(unclosed"));
        var matchesAll = await admin.PostAsJsonAsync("/api/v1/patterns", new CorrectionPattern("en.custom.all", "en", "rejection", ".*"));
        var badId = await admin.PostAsJsonAsync("/api/v1/patterns", new CorrectionPattern("../x", "en", "rejection", "x"));
        var badLanguage = await admin.PostAsJsonAsync("/api/v1/patterns", new CorrectionPattern("fr.x", "fr", "rejection", "non"));
        var builtin = await admin.DeleteAsync("/api/v1/patterns/en.reject.thats-wrong");

        Assert.Equal("regex", await ErrorFieldAsync(badRegex));
        Assert.Equal("regex", await ErrorFieldAsync(matchesAll));
        Assert.Equal("id", await ErrorFieldAsync(badId));
        Assert.Equal("language", await ErrorFieldAsync(badLanguage));
        Assert.Equal("id", await ErrorFieldAsync(builtin));
        using var reader = server.CreateIngestClient();
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsJsonAsync("/api/v1/patterns", new CorrectionPattern("en.x.y", "en", "rejection", "y"))).StatusCode);
    }

    [Fact]
    public async Task An_ingest_token_made_in_the_dashboard_works_at_once_and_stops_working_when_revoked()
    {
        using var admin = server.CreateAdminClient();
        var response = await admin.PostAsJsonAsync("/api/v1/keys", new { kind = "ingest", name = "team laptop" });
        var created = (await response.Content.ReadFromJsonAsync<CreatedApiKey>())!;
        using var client = server.CreateClientWith(created.Secret);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.StartsWith("sli_", created.Secret);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/client/config")).StatusCode);
        var listed = await admin.GetStringAsync("/api/v1/keys");
        Assert.DoesNotContain(created.Secret, listed);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/keys/{created.Key.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/client/config")).StatusCode);
        Assert.Equal("kind", await ErrorFieldAsync(await admin.PostAsJsonAsync("/api/v1/keys", new { kind = "root", name = "x" })));
    }

    [Fact]
    public async Task Users_get_roles_and_the_last_admin_cannot_be_demoted_or_deleted()
    {
        using var admin = server.CreateAdminClient();
        var reviewer = (await (await admin.PostAsJsonAsync("/api/v1/users", new { name = "rita-reviewer", password = "long-enough-password", role = "reviewer" }))
            .Content.ReadFromJsonAsync<UserSummary>())!;
        var users = (await admin.GetFromJsonAsync<UserSummary[]>("/api/v1/users"))!;
        var theAdmin = users.Single(u => u.Name == "admin");

        var shortPassword = await admin.PostAsJsonAsync("/api/v1/users", new { name = "x", password = "short", role = "reviewer" });
        var demoteLast = await admin.PutAsJsonAsync($"/api/v1/users/{theAdmin.Id}/role", new { role = "reviewer" });
        var deleteLast = await admin.DeleteAsync($"/api/v1/users/{theAdmin.Id}");

        Assert.Equal("reviewer", reviewer.Role);
        Assert.Equal("password", await ErrorFieldAsync(shortPassword));
        Assert.Equal("role", await ErrorFieldAsync(demoteLast));
        Assert.Equal("id", await ErrorFieldAsync(deleteLast));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/api/v1/users/999999")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/users/{reviewer.Id}")).StatusCode);
    }

    private static async Task<string?> ErrorFieldAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        return problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).Single();
    }
}
