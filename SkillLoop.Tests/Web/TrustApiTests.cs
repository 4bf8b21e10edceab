using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Core.Access;
using SkillLoop.Core.Data;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary>Issue #16 over HTTP: personal and shared ingest tokens, and the same rights for reviewers in the API as in the dashboard.</summary>
[Collection(ServerCollection.Name)]
public sealed partial class TrustApiTests(SkillLoopServer server)
{
    [Fact]
    public async Task A_new_ingest_token_is_personal_and_counts_as_one_user_whatever_identity_its_client_reports()
    {
        using var admin = server.CreateAdminClient();
        var created = await (await admin.PostAsJsonAsync("/api/v1/keys", new { kind = "ingest", name = "alice" })).Content.ReadFromJsonAsync<CreatedApiKey>();
        Assert.False(created!.Key.Shared);
        using var alice = server.CreateClientWith(created.Secret);
        var skill = $"personal-{Guid.NewGuid():N}";

        foreach (var claimed in new[] { "alice@example.com", "bob@example.com", "carol@example.com" })
        {
            await PostAsync(alice, skill, claimed);
        }

        Assert.Single(await UsersOfAsync(admin, skill));
        Assert.Equal(0, await ScalarAsync($"SELECT count(*) FROM signals WHERE skill = '{skill}' AND (self_declared = 1 OR credential_id <> {created.Key.Id})"));
    }

    [Fact]
    public async Task A_shared_token_trusts_reported_identities_only_after_normalising_them_and_marks_them_self_declared()
    {
        using var admin = server.CreateAdminClient();
        var team = await (await admin.PostAsJsonAsync("/api/v1/keys", new { kind = "ingest", name = "team", shared = true })).Content.ReadFromJsonAsync<CreatedApiKey>();
        Assert.True(team!.Key.Shared);
        using var shared = server.CreateClientWith(team.Secret);
        using var environment = server.CreateIngestClient(); // SKILLLOOP_INGEST_TOKEN: a shared team token as well
        var skill = $"shared-{Guid.NewGuid():N}";

        foreach (var claimed in new[] { "Alice@Example.com", "alice+ci@example.com", "ａｌｉｃｅ@example.com", "ali\u200Bce@example.com" })
        {
            await PostAsync(shared, skill, claimed);
        }

        await PostAsync(environment, skill, "alice@EXAMPLE.com");
        await PostAsync(environment, skill, "bob@example.com");

        Assert.Equal(2, (await UsersOfAsync(admin, skill)).Count);
        Assert.Equal(0, await ScalarAsync($"SELECT count(*) FROM signals WHERE skill = '{skill}' AND self_declared = 0"));
        var keys = await admin.GetFromJsonAsync<ApiKeySummary[]>("/api/v1/keys");
        Assert.Contains(keys!, k => k is { Name: "SKILLLOOP_INGEST_TOKEN", Shared: true });
    }

    [Fact]
    public async Task A_reviewer_has_the_same_rights_in_the_api_as_in_the_dashboard_and_the_audit_names_them()
    {
        using var admin = server.CreateAdminClient();
        var name = $"rev-{Guid.NewGuid():N}"[..20];
        (await admin.PostAsJsonAsync("/api/v1/users", new { name, password = "long-enough-password", role = "reviewer" })).EnsureSuccessStatusCode();
        using var reviewer = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = server.BaseAddress };
        await SignInAsync(reviewer, name, "long-enough-password");
        // As the dashboard does: cookie-authenticated API posts carry the custom header (a cross-site form cannot).
        reviewer.DefaultRequestHeaders.Add(SkillLoop.Web.Protection.CookieRequestGuard.HeaderName, "1");
        var proposal = await SeedProposalAsync();

        // Cluster curation and admin settings are the admins' in the dashboard: the API refuses them too.
        Assert.Equal(HttpStatusCode.Forbidden, (await reviewer.PostAsJsonAsync($"/api/v1/clusters/{proposal.ClusterId}/noise", new { noise = true })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reviewer.PostAsJsonAsync($"/api/v1/clusters/{proposal.ClusterId}/merge", new { into = proposal.ClusterId })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reviewer.PostAsync("/api/v1/signals/1/move-out", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reviewer.GetAsync("/api/v1/settings/backup")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reviewer.GetAsync("/api/v1/settings/registry")).StatusCode);
        Assert.Equal("open", await ScalarTextAsync($"SELECT state FROM clusters WHERE id = {proposal.ClusterId}"));

        // Reviewing is theirs in both, and the audit log names the signed-in reviewer.
        var detail = await reviewer.GetFromJsonAsync<JsonElement>($"/api/v1/proposals/{proposal.Id}");
        var rejected = await reviewer.PostAsJsonAsync($"/api/v1/proposals/{proposal.Id}/reject",
            new { comment = "Not ours.", version = detail.GetProperty("version").GetInt32() });
        Assert.Equal(HttpStatusCode.OK, rejected.StatusCode);
        var audit = await admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/audit?proposalId={proposal.Id}");
        Assert.Contains(audit!, a => a.GetProperty("action").GetString() == "rejected" && a.GetProperty("actor").GetString() == name);
    }

    private async Task<(long Id, long ClusterId)> SeedProposalAsync()
    {
        await using var connection = await server.Services.GetRequiredService<SqliteDb>().OpenAsync(CancellationToken.None);
        var cluster = await connection.ExecuteScalarAsync<long>(
            """
            INSERT INTO clusters (skill, title, centroid_sum, signal_count, user_count, first_seen, last_seen, created_at, updated_at)
            VALUES ('trust-api', 'Totals row at the top', x'', 3, 3, '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z')
            RETURNING id
            """);
        var id = await connection.ExecuteScalarAsync<long>(
            """
            INSERT INTO proposals (cluster_id, skill, title, original_text, proposed_text, state, created_at, updated_at)
            VALUES (@cluster, 'trust-api', 'Totals row at the top', 'a\n', 'b\n', 'review', '2026-11-02T00:00:00Z', '2026-11-02T00:00:00Z')
            RETURNING id
            """, new { cluster });
        return (id, cluster);
    }

    private static async Task PostAsync(HttpClient client, string skill, string user)
    {
        var session = Guid.NewGuid().ToString("N");
        var batch = new SignalBatch("claude", session, user, 0, new SessionCursor("claude", session, 10, skill, null),
            [], [new DetectedCorrection("t1", "no, the totals go at the bottom", "en-reject-wrong", skill, null, 0.9, null, [])]);
        (await client.PostAsJsonAsync("/api/v1/signals", batch)).EnsureSuccessStatusCode();
    }

    private static async Task<List<string>> UsersOfAsync(HttpClient admin, string skill) =>
        (await admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/signals?skill={skill}"))!.Select(s => s.GetProperty("user").GetString()!).Distinct().ToList();

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = await server.Services.GetRequiredService<SqliteDb>().OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>(sql);
    }

    private async Task<string?> ScalarTextAsync(string sql)
    {
        await using var connection = await server.Services.GetRequiredService<SqliteDb>().OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<string?>(sql);
    }

    private static async Task SignInAsync(HttpClient client, string user, string password)
    {
        var page = await client.GetStringAsync("/account/login");
        var token = AntiforgeryToken().Match(page).Groups[1].Value;
        var response = await client.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token,
            ["userName"] = user,
            ["password"] = password,
            ["returnUrl"] = "/",
        }));
        Assert.NotEqual("/account/login", response.RequestMessage!.RequestUri!.AbsolutePath);
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
