using Bunit;
using Dapper;
using SkillLoop.Core.Data;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Components.Pages.Clusters;
using SkillLoop.Web.Components.Pages.Signals;

namespace SkillLoop.Tests.Web.Components;

/// <summary>
/// Issue #20: the list pages render one page of rows, however many the database holds, and move through the rest
/// page by page (the same data code serves the prerender and the live circuit).
/// </summary>
public sealed class ListPagingTests : IAsyncLifetime
{
    private DashboardContext _dashboard = null!;

    public async Task InitializeAsync()
    {
        _dashboard = await DashboardContext.StartAsync("rita", "reviewer");
        _dashboard.Context.Renderer.SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Server", isInteractive: true));
        await using var connection = await _dashboard.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        await using var transaction = connection.BeginTransaction();
        for (var c = 1; c <= 120; c++)
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO clusters (id, skill, title, centroid_sum, signal_count, user_count, first_seen, last_seen, created_at, updated_at)
                VALUES (@c, 'pdf-report', @title, x'', 1, @c, '2026-01-01', '2026-01-01', '2026-01-01', '2026-01-01')
                """, new { c, title = $"problem number {c}" }, transaction);
            await connection.ExecuteAsync(
                """
                INSERT INTO signals (id, platform, session_id, turn_id, text, pattern, skill, confidence, user_hash, created_at, cluster_id)
                VALUES (@c, 'claude', 's', @turn, @text, 'en-reject-wrong', 'pdf-report', 0.9, @user, '2026-03-01T00:00:00Z', 1)
                """, new { c, turn = $"t{c}", text = $"correction number {c}", user = $"u{c:D3}" }, transaction);
            await connection.ExecuteAsync(
                """
                INSERT INTO proposals (id, cluster_id, title, state, created_at, updated_at)
                VALUES (@c, @c, @title, 'review', '2026-01-01', @updated)
                """, new { c, title = $"proposal number {c}", updated = $"2026-01-01T00:{c / 60:D2}:{c % 60:D2}Z" }, transaction);
        }

        await transaction.CommitAsync();
    }

    public async Task DisposeAsync() => await _dashboard.DisposeAsync();

    [Fact]
    public void The_clusters_page_renders_one_page_of_rows_and_the_pager_moves_to_the_next()
    {
        var page = _dashboard.Render<Clusters>();

        page.WaitForAssertion(() => Assert.Equal(50, page.FindAll("[data-testid=cluster-link]").Count));
        Assert.Equal("problem number 120", page.FindAll("[data-testid=cluster-link]")[0].TextContent);
        Assert.Equal("1–50 of 120", page.Find("[data-testid=list-pager-range]").TextContent);

        page.FindAll("[data-testid=list-pager] button").Single(b => b.TextContent.Trim() == "2").Click();

        page.WaitForAssertion(() => Assert.Equal("problem number 70", page.FindAll("[data-testid=cluster-link]")[0].TextContent));
        Assert.Equal(50, page.FindAll("[data-testid=cluster-link]").Count);
    }

    [Fact]
    public void The_signals_page_renders_one_page_and_older_ones_on_request()
    {
        var page = _dashboard.Render<Signals>();

        page.WaitForAssertion(() => Assert.Equal(50, page.FindAll(".signal-text").Count));
        Assert.Equal("correction number 120", page.FindAll(".signal-text")[0].TextContent);

        page.Find("[data-testid=page-older]").Click();

        page.WaitForAssertion(() => Assert.Equal("correction number 70", page.FindAll(".signal-text")[0].TextContent));
        Assert.Equal(50, page.FindAll(".signal-text").Count);
    }

    [Fact]
    public void The_cluster_detail_renders_one_page_of_its_signals()
    {
        var page = _dashboard.Render<ClusterDetailPage>(p => p.Add(c => c.Id, 1L));

        page.WaitForAssertion(() => Assert.Equal(50, page.FindAll(".signal-text").Count));
        Assert.NotNull(page.Find("[data-testid=page-older]"));
    }

    [Fact]
    public void The_proposals_page_renders_one_page_of_proposals()
    {
        var page = _dashboard.Render<SkillLoop.Web.Components.Pages.Proposals.Proposals>();

        page.WaitForAssertion(() => Assert.Equal(50, page.FindAll("[data-testid=proposal-link]").Count));
        Assert.Equal("proposal number 120", page.FindAll("[data-testid=proposal-link]")[0].TextContent);
        Assert.Equal("1–50 of 120", page.Find("[data-testid=list-pager-range]").TextContent);
    }
}
