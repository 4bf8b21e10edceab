using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Telemetry;

/// <summary>GET /metrics: Prometheus text for an admin key, and each figure moves when the work it counts happens.</summary>
[Collection(ServerCollection.Name)]
public sealed class MetricsEndpointTests(SkillLoopServer server)
{
    [Fact]
    public async Task Metrics_are_for_admins_only_and_answer_strangers_with_a_status_not_a_sign_in_page()
    {
        using var anonymous = server.CreateClientWith(null);
        using var ingest = server.CreateIngestClient();
        using var noRedirect = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.BaseAddress };

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await noRedirect.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task Ingested_signals_refused_posts_backlog_proposals_and_embeddings_are_exported_with_skillloop_names()
    {
        using var admin = server.CreateAdminClient();
        using var ingest = server.CreateIngestClient();
        using var stranger = server.CreateClientWith("not-a-token");
        var before = await ScrapeAsync(admin);

        var skill = $"metrics-{Guid.NewGuid():N}"[..20];
        await Web.PipelineTests.PostAsync(ingest, skill, "m1@example.com", "No, the report must list the newest entry first.");
        await Web.PipelineTests.PostAsync(ingest, skill, "m2@example.com", "No, the report must list the newest entry first, not the oldest.");
        Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.PostAsJsonAsync("/api/v1/signals", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await ingest.PostAsync("/api/v1/signals", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"))).StatusCode);
        await WaitForClusterAsync(admin, skill);

        var after = await ScrapeAsync(admin);
        Assert.True(Value(after, "skillloop_signals_ingested_total") >= Value(before, "skillloop_signals_ingested_total") + 2);
        Assert.True(Value(after, "skillloop_posts_refused_total", "reason=\"unauthorized\"") >= Value(before, "skillloop_posts_refused_total", "reason=\"unauthorized\"") + 1);
        Assert.True(Value(after, "skillloop_posts_refused_total", "reason=\"invalid\"") >= Value(before, "skillloop_posts_refused_total", "reason=\"invalid\"") + 1);
        Assert.True(Value(after, "skillloop_embeddings_total") >= Value(before, "skillloop_embeddings_total") + 2);
        foreach (var stage in new[] { "extraction", "clustering", "push" })
        {
            Assert.Contains(after.Keys, k => k.StartsWith("skillloop_backlog", StringComparison.Ordinal) && k.Contains($"stage=\"{stage}\"", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task The_proposal_gauge_counts_every_proposal_in_the_database_at_each_scrape()
    {
        using var admin = server.CreateAdminClient();
        // The shared server's pipeline may still be proposing for other tests' signals, and proposals are never
        // deleted, so the scrape must read a figure between the counts taken just before and just after it.
        var countedBefore = await CountProposalsAsync(admin);
        var scrape = await ScrapeAsync(admin);
        var countedAfter = await CountProposalsAsync(admin);

        var states = scrape.Where(p => p.Key.StartsWith("skillloop_proposals{", StringComparison.Ordinal)).Sum(p => p.Value);
        Assert.InRange(states, countedBefore, countedAfter);
    }

    /// <summary>Every proposal in the database: the list's total, not one page of it.</summary>
    private static async Task<double> CountProposalsAsync(HttpClient admin)
    {
        using var response = await admin.GetAsync("/api/v1/proposals?limit=1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return double.Parse(response.Headers.GetValues("X-Total-Count").Single(), CultureInfo.InvariantCulture);
    }

    /// <summary>Until both signals of <paramref name="skill"/> are clustered.</summary>
    private static Task WaitForClusterAsync(HttpClient admin, string skill) =>
        Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/clusters?skill={skill}"),
            clusters => clusters is { Length: > 0 } && clusters.Sum(c => c.GetProperty("signalCount").GetInt64()) >= 2);

    /// <summary>Series (name with labels) to value, from the Prometheus text format.</summary>
    private static async Task<Dictionary<string, double>> ScrapeAsync(HttpClient admin)
    {
        using var response = await admin.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);
        var series = new Dictionary<string, double>();
        foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var parts = line.Split(' ');
            // Each series once: a second host's meter in this process (another test server) must not be exported here.
            Assert.True(series.TryAdd(parts[0], double.Parse(parts[1], CultureInfo.InvariantCulture)), $"series {parts[0]} repeated");
        }

        return series;
    }

    private static double Value(Dictionary<string, double> series, string name, string? label = null) =>
        series.Where(s => (s.Key == name || s.Key.StartsWith(name + "{", StringComparison.Ordinal)) && (label is null || s.Key.Contains(label, StringComparison.Ordinal)))
            .Sum(s => s.Value);
}
