using Bunit;
using System.Text.Json;
using Dapper;
using SkillLoop.Core.Access;
using SkillLoop.Core.Data;
using SkillLoop.Core.Proposals.Replay;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Components.Pages.Proposals;

namespace SkillLoop.Tests.Web.Components;

/// <summary>The replay section of the proposal page, over the real core and an OpenAI-compatible stand-in on 127.0.0.1.</summary>
public sealed class ReplayResultsTests
{
    private const string Original = "---\nname: pdf-report\n---\n# PDF\n\nRender the table.\n";
    private const string Proposed = "---\nname: pdf-report\n---\n# PDF\n\nRender the table, totals last.\n";

    private static async Task<long> SeedAsync(DashboardContext dashboard)
    {
        await using var connection = await dashboard.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        var cluster = await connection.ExecuteScalarAsync<long>(
            """
            INSERT INTO clusters (skill, title, centroid_sum, signal_count, user_count, first_seen, last_seen, created_at, updated_at)
            VALUES ('pdf-report', 'Totals row at the top', x'', 2, 2, '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z')
            RETURNING id
            """);
        await connection.ExecuteAsync(
            """
            INSERT INTO signals (platform, session_id, turn_id, text, pattern, skill, confidence, user_hash, context_json, created_at, cluster_id)
            VALUES ('claude', 's1', 't1', 'No, the totals go last.', 'en-reject-wrong', 'pdf-report', 0.9, 'u1', '[{"role":"assistant","text":"Totals first."}]', '2026-11-01T00:00:00Z', @cluster),
                   ('claude', 's2', 't1', 'Totals at the bottom, please.', 'en-reject-wrong', 'pdf-report', 0.9, 'u2', '[]', '2026-11-01T00:00:00Z', @cluster)
            """, new { cluster });
        return await connection.ExecuteScalarAsync<long>(
            """
            INSERT INTO proposals (cluster_id, skill, skill_path, base_commit, original_text, proposed_text, generated_by, title, summary, body,
                confidence, evidence_signals, evidence_users, state, branch, created_at, updated_at)
            VALUES (@cluster, 'pdf-report', 'skills/pdf-report/SKILL.md', 'abc', @Original, @Proposed, 'pitfalls', 'Totals row at the top',
                'Says where totals go.', '## Problem pattern', 0.5, 2, 2, 'review', 'skillloop/pdf-report-1', '2026-11-02T00:00:00Z', '2026-11-02T00:00:00Z')
            RETURNING id
            """, new { cluster, Original, Proposed });
    }

    private static string Verdict(bool prevented, double confidence, string reason) => JsonSerializer.Serialize(new { prevented, confidence, reason });

    [Fact]
    public async Task The_proposal_page_shows_each_corrections_scores_and_flags_a_proposal_that_does_not_improve()
    {
        await using var endpoint = await FakeOpenAiServer.StartAsync();
        await using var dashboard = await DashboardContext.StartAsync("rita", Roles.Reviewer, _ => new Dictionary<string, string?>
        {
            ["SKILLLOOP_LLM_ENDPOINT"] = endpoint.V1.ToString(),
            ["SKILLLOOP_LLM_MODEL"] = "fake-model",
            ["SKILLLOOP_LLM_RETRIES"] = "0",
        });
        var id = await SeedAsync(dashboard);
        // The oldest correction with context goes first: both texts prevent it; the second fails (the model is down).
        endpoint.EnqueueChat(Verdict(true, 0.9, "Any agent would put totals last."));
        endpoint.EnqueueChat(Verdict(true, 0.9, "It says totals last."));
        endpoint.Enqueue(500, """{"error":{"message":"down"}}""");

        var page = dashboard.Render<ProposalDetailPage>(p => p.Add(x => x.Id, id));
        page.WaitForAssertion(() => Assert.Contains("Replay of this text has not run yet.", page.Find("[data-testid=replay-message]").TextContent));
        await dashboard.Get<ReplayRunner>().RunOnceAsync(CancellationToken.None);

        // The page follows the replay live.
        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("[data-testid=replay-row]").Count));
        Assert.Equal("Replayed 1 of 2 corrections with fake-model: the proposed text would have prevented 1, the current text 1; 1 could not be replayed.",
            page.Find("[data-testid=replay-message]").TextContent.Trim());
        Assert.Contains("prevented · 0.90", page.Find("[data-testid=replay-proposed]").TextContent);
        Assert.Contains("It says totals last.", page.Find("[data-testid=replay-proposed]").TextContent);
        Assert.Contains("Not replayed:", page.Find("[data-testid=replay-error]").TextContent);
        Assert.Contains("does not improve", page.Find("[data-testid=replay-flag]").TextContent);
        Assert.Contains("Replay does not improve on the current text", page.Find("[data-testid=proposal-warnings]").TextContent);
    }

    [Fact]
    public async Task Without_a_chat_model_the_section_says_so_and_shows_no_score()
    {
        await using var dashboard = await DashboardContext.StartAsync("rita", Roles.Reviewer);
        var id = await SeedAsync(dashboard);
        await dashboard.Get<ReplayRunner>().RunOnceAsync(CancellationToken.None);

        var section = dashboard.Render<ReplayResults>(p => p.Add(x => x.ProposalId, id));

        section.WaitForAssertion(() => Assert.Equal("Replay needs a chat model; none is configured.", section.Find("[data-testid=replay-message]").TextContent.Trim()));
        Assert.Empty(section.FindAll("[data-testid=replay-results]"));
        Assert.Empty(section.FindAll("[data-testid=replay-flag]"));
    }
}
