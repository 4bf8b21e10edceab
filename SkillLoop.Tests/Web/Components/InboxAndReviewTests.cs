using Bunit;
using Dapper;
using MudBlazor;
using MudBlazor.Extensions;
using SkillLoop.Core.Access;
using SkillLoop.Core.Data;
using SkillLoop.Core.Proposals;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Components.Pages.Clusters;
using SkillLoop.Web.Components.Pages.Overview;
using SkillLoop.Web.Components.Pages.Proposals;
using SkillLoop.Web.Components.Shared;

namespace SkillLoop.Tests.Web.Components;

/// <summary>The triage inbox, the cluster page's extracted issues and the pull-request-like review, over the real core.</summary>
public sealed class InboxAndReviewTests : IAsyncLifetime
{
    private const string Original = "---\nname: pdf-report\n---\n# PDF\n\nRender the table.\n";
    private const string Proposed = "---\nname: pdf-report\n---\n# PDF\n\nRender the table, totals last.\n";

    private DashboardContext _dashboard = null!;

    public async Task InitializeAsync() => _dashboard = await DashboardContext.StartAsync("rita", Roles.Admin);

    public async Task DisposeAsync() => await _dashboard.DisposeAsync();

    private async Task<long> ClusterAsync(string title, bool atThreshold, string skill = "pdf-report")
    {
        await using var connection = await _dashboard.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>(
            """
            INSERT INTO clusters (skill, title, centroid_sum, signal_count, user_count, first_seen, last_seen, created_at, updated_at, threshold_reached_at)
            VALUES (@skill, @title, x'', 3, 3, '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', @reached)
            RETURNING id
            """, new { skill, title, reached = atThreshold ? "2026-11-02T00:00:00Z" : null });
    }

    private async Task<long> ProposalAsync(long cluster, string state, string title = "Totals row at the top")
    {
        await using var connection = await _dashboard.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>(
            """
            INSERT INTO proposals (cluster_id, skill, skill_path, base_commit, original_text, proposed_text, generated_by, title, summary, body,
                confidence, evidence_signals, evidence_users, state, branch, created_at, updated_at)
            VALUES (@cluster, 'pdf-report', 'skills/pdf-report/SKILL.md', 'abc', @Original, @Proposed, 'pitfalls', @title,
                'Says where totals go.', '## Problem pattern', 0.5, 3, 3, @state, 'skillloop/pdf-report-1', '2026-11-02T00:00:00Z', '2026-11-02T00:00:00Z')
            RETURNING id
            """, new { cluster, Original, Proposed, state, title });
    }

    [Fact]
    public async Task The_inbox_lists_proposals_in_review_and_clusters_waiting_at_the_threshold_and_open_clusters_leave_out_pushed_fixes()
    {
        var waiting = await ClusterAsync("Totals row missing", atThreshold: true);
        var reviewed = await ClusterAsync("Header repeated", atThreshold: true);
        var review = await ProposalAsync(reviewed, "review", "Repeat the header once");
        var pushed = await ClusterAsync("Wrong font", atThreshold: true);
        await ProposalAsync(pushed, "open", "Use the house font");
        await ClusterAsync("Colours off", atThreshold: false);

        var inbox = await _dashboard.Get<Inbox>().ReadAsync(CancellationToken.None);

        Assert.Equal([review], inbox.InReview.Select(p => p.Id));
        Assert.Equal([waiting], inbox.AtThreshold.Select(c => c.Id)); // the one in review and the pushed one have their proposal
        Assert.Equal(3, inbox.OpenClusters); // "Wrong font" has its fix pushed: not open work any more
        Assert.Equal(2, inbox.Total);

        var page = _dashboard.Render<Overview>();
        page.WaitForAssertion(() => Assert.Equal("1", page.Find("[data-testid=inbox-review-count]").TextContent.Trim()));
        Assert.Equal($"/proposals/{review}", page.Find("[data-testid=inbox-review-link]").GetAttribute("href"));
        Assert.Contains("Totals row missing", page.Find("[data-testid=inbox-threshold]").TextContent);
        Assert.Contains("2 pending", page.Find("[data-testid=inbox-total]").TextContent);
    }

    [Fact]
    public async Task Refused_client_posts_appear_in_the_inbox_once_per_client_with_what_the_refusal_means()
    {
        var refused = _dashboard.Get<Core.Capture.RefusedPosts>();
        refused.Record("token “alice”", "rate-limited", 429);
        refused.Record("token “alice”", "rate-limited", 429);
        refused.Record("unknown token from 10.0.0.7", "unauthorized", 401);

        var page = _dashboard.Render<Overview>();

        page.WaitForAssertion(() => Assert.Equal("2", page.Find("[data-testid=inbox-refused-count]").TextContent.Trim()));
        var text = page.Find("[data-testid=inbox-refused]").TextContent;
        Assert.Contains("token unknown or revoked (401)", text);
        Assert.Contains("rate-limited (429) · 2×", text);
    }

    [Fact]
    public async Task The_getting_started_checklist_ticks_each_step_as_the_server_sees_it_done()
    {
        var page = _dashboard.Render<Overview>();
        page.WaitForAssertion(() => Assert.Equal("false", page.Find("[data-testid=step-token]").GetAttribute("data-done")));
        Assert.Equal("false", page.Find("[data-testid=step-registry]").GetAttribute("data-done"));

        var key = await _dashboard.Get<AccessAdmin>().CreateKeyAsync(ApiKeyKinds.Ingest, "alice", CancellationToken.None);
        var started = await _dashboard.Get<Inbox>().GettingStartedAsync(CancellationToken.None);
        Assert.Equal((false, true, false, false), (started.Registry, started.Token, started.ClientInstalled, started.FirstSignal));

        // A client's install checks its token against the config endpoint, which marks the token used.
        await _dashboard.Get<AccessStore>().MarkKeyUsedAsync(key.Key.Id, CancellationToken.None);
        started = await _dashboard.Get<Inbox>().GettingStartedAsync(CancellationToken.None);
        Assert.True(started.ClientInstalled);
        Assert.False(started.Done);
    }

    [Fact]
    public async Task The_cluster_page_shows_each_signals_extracted_issue_and_where_extraction_stands_and_links_its_proposal()
    {
        var cluster = await ClusterAsync("Totals row at the top", atThreshold: true);
        var proposal = await ProposalAsync(cluster, "review");
        await using (var connection = await _dashboard.Get<SqliteDb>().OpenAsync(CancellationToken.None))
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO signals (id, platform, session_id, turn_id, text, pattern, skill, confidence, user_hash, created_at, cluster_id)
                VALUES (901, 'claude', 's1', 't1', 'No, totals go last.', 'en.no', 'pdf-report', 0.9, 'u1', '2026-11-01T00:00:00Z', @cluster),
                       (902, 'claude', 's2', 't1', 'Totals at the bottom please.', 'en.please', 'pdf-report', 0.9, 'u2', '2026-11-01T00:00:00Z', @cluster);
                INSERT INTO issues (signal_id, skill, problem_pattern, root_cause, expected_behavior, evidence_quote, severity, confidence, extracted_by, created_at)
                VALUES (901, 'pdf-report', 'Totals row placed first', 'Skill says nothing', 'Totals row last', 'totals go last', 'medium', 0.8, 'model:qwen', '2026-11-01T00:00:00Z');
                INSERT INTO extraction_jobs (signal_id, state, attempts, created_at, updated_at)
                VALUES (901, 'done', 1, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z'),
                       (902, 'pending', 0, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z');
                """, new { cluster });
        }

        var page = _dashboard.Render<ClusterDetailPage>(p => p.Add(x => x.Id, cluster));

        page.WaitForAssertion(() => Assert.Equal(["Totals row placed first"], page.FindAll("[data-testid=signal-issue]").Select(e => e.TextContent)));
        Assert.Equal(["waiting", "done (model:qwen)"], page.FindAll("[data-testid=signal-extraction]").Select(e => e.TextContent));
        Assert.Equal($"/proposals/{proposal}", page.Find("[data-testid=cluster-proposal]").GetAttribute("href"));
        Assert.Equal("/signals?signal=902", page.FindAll("[data-testid=cluster-signal-link]")[0].GetAttribute("href"));
    }

    [Fact]
    public void Long_unchanged_runs_collapse_to_one_gap_with_three_lines_of_context_around_each_change_and_expand_on_request()
    {
        var original = string.Join('\n', Enumerable.Range(1, 20).Select(i => $"line {i}")) + "\n";
        var proposed = original.Replace("line 10\n", "line ten\n", StringComparison.Ordinal);
        var rows = LineDiff.SideBySide(original, proposed);

        var parts = DiffView.Layout(rows, new HashSet<int>());

        Assert.Equal([new DiffView.DiffGap(0, 6), new DiffView.DiffGap(13, 7)], parts.Where(p => p.Gap is not null).Select(p => p.Gap!));
        Assert.Equal(["line 7", "line 8", "line 9", "line 10", "line 11", "line 12", "line 13"], parts.Where(p => p.Row is not null).Select(p => p.Row!.Left!));
        Assert.Equal(14, DiffView.Layout(rows, new HashSet<int> { 13 }).Count(p => p.Row is not null));
        Assert.Single(DiffView.Layout(rows, new HashSet<int> { 13 }), p => p.Gap is not null);
    }

    [Fact]
    public async Task Approving_shows_the_commit_message_about_the_edited_text_with_a_reviewed_by_trailer_and_stores_the_reviewers_version()
    {
        var cluster = await ClusterAsync("Totals row at the top", atThreshold: true);
        var id = await ProposalAsync(cluster, "review");
        var page = _dashboard.Render<ProposalDetailPage>(p => p.Add(x => x.Id, id));
        page.WaitForAssertion(() => Assert.Equal("review", page.Find("[data-testid=proposal-state]").TextContent.Trim()));
        // The review panel comes after the diff, as on a pull request.
        Assert.True(page.Markup.IndexOf("side-by-side", StringComparison.Ordinal) < page.Markup.IndexOf("review-changes", StringComparison.Ordinal));

        page.FindAll(".mud-tab").Single(t => t.TextContent.Trim() == "Edit").Click();
        var editor = page.FindComponents<MudTextField<string>>().Single(f => f.Instance.Label == "Proposed file");
        await page.InvokeAsync(() => editor.Instance.ValueChanged.InvokeAsync(Proposed.Replace("totals last", "totals row last, bold", StringComparison.Ordinal)));
        page.Find("[data-testid=approve]").Click();

        var dialogs = _dashboard.Dialogs;
        dialogs.WaitForAssertion(() => Assert.NotNull(dialogs.Find("[data-testid=confirm-ok]")));
        var message = dialogs.FindComponents<MudTextField<string>>().Single(f => f.Instance.Label == "Commit message");
        var text = message.Instance.GetState(x => x.Value)!;
        Assert.StartsWith("skillloop: Totals row at the top\n", text, StringComparison.Ordinal);
        Assert.Contains("Render the table, totals row last, bold.", text, StringComparison.Ordinal); // the edited text, not the generated one
        Assert.Contains("Edited by rita before approval.", text, StringComparison.Ordinal);
        Assert.EndsWith("Reviewed-by: rita\n", text, StringComparison.Ordinal);
        Assert.Contains("plain git: no pull request", dialogs.Find("[data-testid=confirm-message]").TextContent);
        Assert.Equal("review", (await _dashboard.Get<ProposalStore>().GetAsync(id, CancellationToken.None))!.Proposal.State); // nothing before the confirmation

        await dialogs.InvokeAsync(() => message.Instance.ValueChanged.InvokeAsync("skillloop: totals last\n\nMy own words.\n\nReviewed-by: rita"));
        _dashboard.Confirm();

        page.WaitForAssertion(() => Assert.Equal("approved, pushing", page.Find("[data-testid=proposal-state]").TextContent.Trim()));
        await using var connection = await _dashboard.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        var stored = await connection.QuerySingleAsync<(string Message, string Text)>("SELECT commit_message, proposed_text FROM proposals WHERE id = @id", new { id });
        Assert.Equal("skillloop: totals last\n\nMy own words.\n\nReviewed-by: rita\n", stored.Message);
        Assert.Contains("totals row last, bold", stored.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_the_approval_dialog_pushes_nothing()
    {
        var cluster = await ClusterAsync("Totals row at the top", atThreshold: true);
        var id = await ProposalAsync(cluster, "review");
        var page = _dashboard.Render<ProposalDetailPage>(p => p.Add(x => x.Id, id));
        page.WaitForAssertion(() => Assert.NotNull(page.Find("[data-testid=approve]")));

        page.Find("[data-testid=approve]").Click();
        _dashboard.Dialogs.WaitForAssertion(() => Assert.NotNull(_dashboard.Dialogs.Find("[data-testid=confirm-cancel]")));
        _dashboard.Dialogs.Find("[data-testid=confirm-cancel]").Click();

        _dashboard.Dialogs.WaitForAssertion(() => Assert.Empty(_dashboard.Dialogs.FindAll("[data-testid=confirm-ok]")));
        Assert.Equal("review", (await _dashboard.Get<ProposalStore>().GetAsync(id, CancellationToken.None))!.Proposal.State);
    }

    [Fact]
    public void The_default_commit_message_counts_and_quotes_the_changed_lines_and_a_reviewers_message_is_kept_as_written()
    {
        var message = CommitMessage.Default("Totals last", "skills/pdf/SKILL.md", Original, Proposed, edited: false, 7, 4, 3, "rita");

        Assert.Equal(
            "skillloop: Totals last\n\nChanges skills/pdf/SKILL.md: 1 line added, 1 line removed.\n\nAdds:\n  Render the table, totals last.\n\n"
            + "Removes:\n  Render the table.\n\nCluster #7: 4 corrections from 3 distinct users.\n\nReviewed-by: rita\n",
            message);
        Assert.Equal("a\n\nb\n", CommitMessage.Check("a\r\n\r\nb\0  \n"));
        Assert.Throws<ProposalActionException>(() => CommitMessage.Check(" \n "));
    }
}
