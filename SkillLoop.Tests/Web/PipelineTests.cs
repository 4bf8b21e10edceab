using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary>
/// The server's own pipeline with its real parts: stored corrections are extracted (heuristic: no chat model here),
/// embedded with the bundled MiniLM, and clustered in the background until a cluster reaches its evidence threshold.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class PipelineTests(SkillLoopServer server)
{
    private static readonly string Pattern = SkillLoop.Hooks.Detection.DefaultPatterns.All.First(p => p is { Language: "en", Category: "rejection" }).Id;

    [Fact]
    public async Task One_problem_corrected_by_three_users_becomes_one_cluster_that_reaches_its_threshold()
    {
        var skill = $"pdf-report-{Guid.NewGuid():N}";
        using var ingest = server.CreateIngestClient();
        using var admin = server.CreateAdminClient();
        string[] totals =
        [
            "No, the totals row has to be the last row of the table, not the first.",
            "The total row should appear at the end of the table.",
            "I said the totals row belongs at the bottom of the table, not the top.",
        ];
        for (var i = 0; i < totals.Length; i++)
        {
            await PostAsync(ingest, skill, $"user{i}@example.com", totals[i]);
        }

        await PostAsync(ingest, skill, "user9@example.com", "Dates must be in ISO format like 2024-03-01, not 3/1/24.");

        var clusters = await Poll.UntilAsync(async () => (await admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/clusters?skill={skill}"))!,
            c => c.Length == 2 && c.Sum(x => x.GetProperty("signalCount").GetInt64()) == 4);
        var problem = Assert.Single(clusters, c => c.GetProperty("distinctUsers").GetInt64() == 3);
        Assert.NotEqual(JsonValueKind.Null, problem.GetProperty("thresholdReachedAt").ValueKind);
        var dates = Assert.Single(clusters, c => c.GetProperty("distinctUsers").GetInt64() == 1);
        Assert.Equal(JsonValueKind.Null, dates.GetProperty("thresholdReachedAt").ValueKind);

        var detail = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/clusters/{problem.GetProperty("id").GetInt64()}");
        var members = detail.GetProperty("signals").EnumerateArray().ToList();
        Assert.Equal(totals.Order(), members.Select(m => m.GetProperty("text").GetString()).Order());
        Assert.All(members, m => Assert.Equal("heuristic", m.GetProperty("issue").GetProperty("extractedBy").GetString()));

        var noise = await admin.PostAsJsonAsync($"/api/v1/clusters/{dates.GetProperty("id").GetInt64()}/noise", new { noise = true });
        Assert.Equal("noise", (await noise.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());
        var patterns = await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/patterns");
        var used = Assert.Single(patterns!, p => p.GetProperty("id").GetString() == Pattern);
        Assert.True(used.GetProperty("noise").GetInt64() >= 1);
        Assert.True(used.GetProperty("precision").GetDouble() < 1);
        var missing = await admin.GetAsync("/api/v1/clusters/999999");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Clustering_thresholds_are_read_and_validated_through_the_api()
    {
        using var admin = server.CreateAdminClient();

        var current = await admin.GetFromJsonAsync<JsonElement>("/api/v1/settings/clustering");
        var invalid = await admin.PutAsJsonAsync("/api/v1/settings/clustering", new { similarity = 1.5, distinctUsers = 0 });

        Assert.True(current.GetProperty("similarity").GetSingle() is > 0 and < 1);
        Assert.Equal(3, current.GetProperty("distinctUsers").GetInt32());
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var errors = (await invalid.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("similarity", out _));
        Assert.True(errors.TryGetProperty("distinctUsers", out _));
    }

    [Theory]
    [InlineData("clustering")]
    [InlineData("extraction")]
    [InlineData("retention")]
    [InlineData("backup")]
    [InlineData("registry")]
    public async Task A_settings_body_missing_a_field_is_refused_and_changes_nothing(string area)
    {
        using var admin = server.CreateAdminClient();
        var before = await admin.GetStringAsync($"/api/v1/settings/{area}");

        var response = await admin.PutAsync($"/api/v1/settings/{area}", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(before, await admin.GetStringAsync($"/api/v1/settings/{area}"));
    }

    internal static async Task PostAsync(HttpClient ingest, string skill, string user, string text)
    {
        var session = Guid.NewGuid().ToString("N");
        var batch = new SignalBatch("claude", session, user, 0, new SessionCursor("claude", session, 100, skill, null),
            [new UserTurn("t1", text, null)], [new DetectedCorrection("t1", text, Pattern, skill, null, 0.9, null, [])]);
        (await ingest.PostAsJsonAsync("/api/v1/signals", batch)).EnsureSuccessStatusCode();
    }

    /// <summary>The issue of the session's one signal, once extraction has stored it (a signal is listed before its issue).</summary>
    internal static async Task<JsonElement> IssueOfAsync(HttpClient admin, string session, TimeSpan within)
    {
        var signals = await Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/signals?sessionId={session}"),
            s => s is [var one] && one.TryGetProperty("issue", out var issue) && issue.ValueKind == JsonValueKind.Object, within);
        return signals![0].GetProperty("issue");
    }

    /// <summary>The skill's proposal once the pipeline has put one in review (up to 90 s).</summary>
    internal static async Task<JsonElement> ProposalInReviewAsync(HttpClient admin, string skill)
    {
        static JsonElement? Of(JsonElement[]? proposals, string skill) =>
            proposals?.FirstOrDefault(p => p.GetProperty("skill").GetString() == skill) is { ValueKind: JsonValueKind.Object } proposal ? proposal : null;

        var proposals = await Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement[]>("/api/v1/proposals?state=review"), p => Of(p, skill) is not null);
        return Of(proposals, skill)!.Value;
    }
}
