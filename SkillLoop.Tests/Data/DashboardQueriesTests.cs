using Dapper;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Proposals;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Data;

/// <summary>
/// The dashboard's list queries on a real SQLite file (issue #20, a year of data): they return the right page, in the
/// right order, with the filters applied, and SQLite serves each main filter and sort from an index of migration 14.
/// </summary>
public sealed class DashboardQueriesTests : IAsyncLifetime
{
    private TestCore _core = null!;

    public async Task InitializeAsync()
    {
        _core = await TestCore.StartAsync();
        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        await using var transaction = connection.BeginTransaction();
        // 60 clusters: user counts 1..60 (cluster i has i users), every third noise; skills alternate.
        for (var c = 1; c <= 60; c++)
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO clusters (id, skill, title, state, centroid_sum, signal_count, user_count, first_seen, last_seen, created_at, updated_at)
                VALUES (@c, @skill, @title, @state, x'', @c, @c, '2026-01-01', @last, '2026-01-01', '2026-01-01')
                """,
                new { c, skill = c % 2 == 0 ? "pdf-report" : "xlsx-export", title = c == 7 ? "100% of the totals_row" : $"problem {c}", state = c % 3 == 0 ? "noise" : "open", last = $"2026-02-{c % 28 + 1:D2}" },
                transaction);
        }

        // 250 signals: platform by turn, users u000..u049, one with a LIKE wildcard in its text.
        for (var i = 1; i <= 250; i++)
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO signals (id, platform, session_id, turn_id, text, pattern, skill, confidence, user_hash, created_at, cluster_id)
                VALUES (@i, @platform, 's', @turn, @text, @pattern, @skill, 0.9, @user, '2026-03-01', @cluster)
                """,
                new
                {
                    i,
                    platform = i % 2 == 0 ? "claude" : "codex",
                    turn = $"t{i}",
                    text = i == 42 ? "use 100% width" : $"correction {i}",
                    pattern = i % 5 == 0 ? "zh-reject" : "en-reject-wrong",
                    skill = i % 2 == 0 ? "pdf-report" : "xlsx-export",
                    user = $"u{i % 50:D3}",
                    cluster = i % 60 + 1,
                },
                transaction);
        }

        for (var p = 1; p <= 30; p++)
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO proposals (id, cluster_id, title, state, original_text, proposed_text, created_at, updated_at)
                VALUES (@p, @p, @title, @state, 'a long skill file', 'a longer skill file', '2026-01-01', @updated)
                """,
                new { p, title = $"proposal {p}", state = p % 3 == 0 ? "review" : "merged", updated = $"2026-01-{p:D2}" },
                transaction);
        }

        await transaction.CommitAsync();
    }

    public async Task DisposeAsync() => await _core.DisposeAsync();

    [Fact]
    public async Task Signal_pages_follow_the_cursor_newest_first_without_gaps_or_repeats()
    {
        var store = _core.Get<SignalStore>();
        var seen = new List<long>();
        long? before = null;
        for (var page = 0; page < 6; page++)
        {
            var rows = await store.QueryAsync(new SignalQuery(Limit: 50, BeforeId: before), CancellationToken.None);
            Assert.True(rows.Count <= 50);
            seen.AddRange(rows.Select(r => r.Id));
            before = rows.Count == 0 ? before : rows[^1].Id;
        }

        Assert.Equal(Enumerable.Range(1, 250).Reverse().Select(i => (long)i), seen);
    }

    [Fact]
    public async Task Signal_filters_are_applied_in_sql_and_wildcards_in_a_search_are_literal()
    {
        var store = _core.Get<SignalStore>();

        var claude = await store.QueryAsync(new SignalQuery(Platform: "claude", Skill: "pdf-report", Limit: 500), CancellationToken.None);
        Assert.Equal(125, claude.Count);
        Assert.All(claude, s => Assert.Equal(("claude", "pdf-report"), (s.Platform, s.Skill)));

        var user = await store.QueryAsync(new SignalQuery(UserPrefix: "u04", Limit: 500), CancellationToken.None);
        Assert.Equal(50, user.Count); // u040..u049, five signals each
        Assert.All(user, s => Assert.StartsWith("u04", s.User, StringComparison.Ordinal));

        var zh = await store.QueryAsync(new SignalQuery(PatternContains: "ZH-", Limit: 500), CancellationToken.None);
        Assert.Equal(50, zh.Count);

        var percent = await store.QueryAsync(new SignalQuery(TextContains: "100%", Limit: 500), CancellationToken.None);
        Assert.Equal([42L], percent.Select(s => s.Id));
        Assert.Empty(await store.QueryAsync(new SignalQuery(TextContains: "correction_1", Limit: 500), CancellationToken.None));
    }

    [Fact]
    public async Task Cluster_pages_are_ranked_by_distinct_users_and_counted_with_their_filters()
    {
        var store = _core.Get<ClusterStore>();

        var first = await store.QueryAsync(new ClusterQuery(State: "open", Limit: 10), CancellationToken.None);
        var second = await store.QueryAsync(new ClusterQuery(State: "open", Offset: 10, Limit: 10), CancellationToken.None);

        var open = Enumerable.Range(1, 60).Where(c => c % 3 != 0).Reverse().Select(c => (long)c).ToList();
        Assert.Equal(open.Count, first.Total);
        Assert.Equal(open.Take(10), first.Items.Select(c => c.Id));
        Assert.Equal(open.Skip(10).Take(10), second.Items.Select(c => c.Id));

        var pdf = await store.QueryAsync(new ClusterQuery(SkillContains: "PDF", State: "noise", Limit: 50), CancellationToken.None);
        Assert.Equal(Enumerable.Range(1, 60).Where(c => c % 6 == 0).Reverse().Select(c => (long)c), pdf.Items.Select(c => c.Id));
        Assert.Equal(10, pdf.Total);

        var search = await store.QueryAsync(new ClusterQuery(Search: "100%", Limit: 50), CancellationToken.None);
        Assert.Equal([7L], search.Items.Select(c => c.Id));
        Assert.Equal(0, (await store.QueryAsync(new ClusterQuery(Search: "totals%row"), CancellationToken.None)).Total);

        Assert.Equal(open.Count, await store.CountAsync("open", CancellationToken.None));
        Assert.Equal(open.Take(6), (await store.NearThresholdAsync(6, CancellationToken.None)).Select(c => c.Id));
    }

    [Fact]
    public async Task Cluster_members_are_paged_newest_first()
    {
        var store = _core.Get<ClusterStore>();

        var first = (await store.GetAsync(2, CancellationToken.None, signalLimit: 2))!;
        var next = (await store.GetAsync(2, CancellationToken.None, signalLimit: 2, beforeSignalId: first.Signals[^1].Id))!;

        // Cluster 2 holds signals 1, 61, 121, 181 and 241.
        Assert.Equal([241L, 181L], first.Signals.Select(s => s.Id));
        Assert.Equal([121L, 61L], next.Signals.Select(s => s.Id));
    }

    [Fact]
    public async Task Proposal_pages_put_those_in_review_first_then_the_latest_and_count_them()
    {
        var store = _core.Get<ProposalStore>();

        var first = await store.QueryAsync(null, 0, 8, CancellationToken.None);
        var second = await store.QueryAsync(null, 8, 8, CancellationToken.None);
        var review = await store.QueryAsync("review", 0, 50, CancellationToken.None);

        var expected = Enumerable.Range(1, 30).Where(p => p % 3 == 0).Reverse()
            .Concat(Enumerable.Range(1, 30).Where(p => p % 3 != 0).Reverse()).Select(p => (long)p).ToList();
        Assert.Equal(30, first.Total);
        Assert.Equal(expected.Take(8), first.Items.Select(p => p.Id));
        Assert.Equal(expected.Skip(8).Take(8), second.Items.Select(p => p.Id));
        Assert.Equal(10, review.Total);
        Assert.All(review.Items, p => Assert.Equal("review", p.State));
    }

    [Fact]
    public async Task The_audit_log_is_paged_by_cursor()
    {
        await using (var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None))
        {
            for (var i = 0; i < 7; i++)
            {
                await connection.ExecuteAsync("INSERT INTO audit_log (at, actor, action, proposal_id) VALUES ('2026-01-01', 'rita', 'edited', 3)");
            }
        }

        var store = _core.Get<ProposalStore>();
        var first = await store.AuditAsync(null, CancellationToken.None, limit: 4);
        var next = await store.AuditAsync(null, CancellationToken.None, limit: 4, beforeId: first[^1].Id);

        Assert.Equal(4, first.Count);
        Assert.Equal(3, next.Count);
        Assert.Empty(first.Select(a => a.Id).Intersect(next.Select(a => a.Id)));
    }

    public static TheoryData<string, string> Plans => new()
    {
        { "signals newest", "signals" },
        { "signals by skill", "ix_signals_skill" },
        { "signals by user", "ix_signals_user" },
        { "signals of a cluster", "ix_signals_cluster_id" },
        { "open clusters ranked", "ix_clusters_rank" },
        { "all clusters ranked", "ix_clusters_rank_all" },
        { "proposals page", "ix_proposals_list" },
        { "overview top skills", "ix_signals_created_at" },
        { "pattern precision", "ix_signals_pattern" },
        { "skill figures", "ix_signals_skill_stats" },
        { "skill uses", "ix_sessions_active_skill" },
        { "model failures", "ix_extraction_jobs_extractor" },
    };

    [Theory]
    [MemberData(nameof(Plans))]
    public async Task Each_main_filter_and_sort_is_served_by_an_index(string query, string index)
    {
        var (sql, parameters) = query switch
        {
            "signals newest" => (SignalStore.Sql(new SignalQuery(Limit: 50)), SignalStore.Parameters(new SignalQuery(Limit: 50))),
            "signals by skill" => (SignalStore.Sql(new SignalQuery(Skill: "pdf-report")), SignalStore.Parameters(new SignalQuery(Skill: "pdf-report"))),
            "signals by user" => (SignalStore.Sql(new SignalQuery(UserPrefix: "u04")), SignalStore.Parameters(new SignalQuery(UserPrefix: "u04"))),
            "signals of a cluster" => (SignalStore.Sql(new SignalQuery(ClusterId: 2)), SignalStore.Parameters(new SignalQuery(ClusterId: 2))),
            "open clusters ranked" => (ClusterStore.PageSql(new ClusterQuery(State: "open")), ClusterStore.Parameters(new ClusterQuery(State: "open"))),
            "all clusters ranked" => (ClusterStore.PageSql(new ClusterQuery()), ClusterStore.Parameters(new ClusterQuery())),
            "proposals page" => (ProposalStore.PageSql(null), (object)new { state = (string?)null, offset = 0, limit = 50 }),
            // ActivityStats.TopSkillsAsync's query.
            "overview top skills" => ("SELECT coalesce(nullif(skill, ''), '(no skill)') AS Skill, count(*) AS Signals, count(DISTINCT user_hash) AS Users FROM signals WHERE created_at >= @from GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 8", new { from = "2026-01-01" }),
            "pattern precision" => ("SELECT pattern, count(*), sum(cluster_id IN (SELECT id FROM clusters WHERE state = 'noise')) FROM signals GROUP BY pattern", new { }),
            "skill figures" => ("SELECT skill, count(*), sum(created_at >= @week), max(skill_path) FROM signals WHERE skill IS NOT NULL GROUP BY skill", new { week = "2026-01-01" }),
            "skill uses" => ("SELECT active_skill, count(*) FROM sessions WHERE active_skill IS NOT NULL GROUP BY active_skill", new { }),
            _ => ("SELECT count(*) FROM extraction_jobs WHERE state = 'done' AND extractor >= 'heuristic (' AND extractor < 'heuristic )'", new { }),
        };
        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);

        var plan = string.Join("\n", (await connection.QueryAsync("EXPLAIN QUERY PLAN " + sql, parameters)).Select(row => (string)row.detail));

        if (index == "signals")
        {
            // Newest first is the rowid itself, read backwards: no index and no sort.
            Assert.Contains("SCAN signals", plan);
            Assert.DoesNotContain("TEMP B-TREE", plan);
        }
        else
        {
            Assert.Matches($"USING (COVERING )?INDEX {index}\\b", plan);
        }
    }
}
