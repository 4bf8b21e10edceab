using AngleSharp.Dom;
using Bunit;
using Dapper;
using MudBlazor;
using SkillLoop.Core.Access;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Registry;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Components.Pages.Clusters;
using SkillLoop.Web.Components.Pages.Settings;
using SkillLoop.Web.Components.Pages.Skills;
using SkillLoop.Web.Components.Pages.Users;

namespace SkillLoop.Tests.Web.Components;

/// <summary>
/// Issue #20 item 5: every destructive action asks first, says what it destroys, does nothing when cancelled and its
/// work when confirmed (the real core on a SQLite file, MudBlazor's dialog provider rendered).
/// </summary>
public sealed class ConfirmationDialogTests : IAsyncLifetime
{
    private DashboardContext _dashboard = null!;

    public async Task InitializeAsync() => _dashboard = await DashboardContext.StartAsync("rita", Roles.Admin);

    public async Task DisposeAsync() => await _dashboard.DisposeAsync();

    /// <summary>Waits for the dialog, returns its message and presses Cancel; the dialog closes.</summary>
    private string Cancel()
    {
        var dialogs = _dashboard.Dialogs;
        dialogs.WaitForAssertion(() => Assert.NotNull(dialogs.Find("[data-testid=confirm-cancel]")));
        var message = dialogs.Find("[data-testid=confirm-message]").TextContent;
        dialogs.Find("[data-testid=confirm-cancel]").Click();
        dialogs.WaitForAssertion(() => Assert.Empty(dialogs.FindAll("[data-testid=confirm-ok]")));
        return message;
    }

    private async Task<long> ClusterAsync(string title, int signals, string skill = "pdf-report")
    {
        await using var connection = await _dashboard.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>(
            """
            INSERT INTO clusters (skill, title, centroid_sum, signal_count, user_count, first_seen, last_seen, created_at, updated_at)
            VALUES (@skill, @title, x'', @signals, 1, '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z')
            RETURNING id
            """, new { skill, title, signals });
    }

    private async Task<string> StateAsync(long cluster) =>
        (await _dashboard.Get<ClusterStore>().GetAsync(cluster, CancellationToken.None))!.Cluster.State;

    [Fact]
    public async Task Removing_a_registry_says_its_mirror_is_deleted_and_removes_registry_and_mirror_only_when_confirmed()
    {
        using var remote = new BareGitRemote(new Dictionary<string, string> { ["skills/pdf-report/SKILL.md"] = "---\nname: pdf-report\n---\n# PDF\n" });
        var store = _dashboard.Get<RegistryStore>();
        var registry = await store.CreateAsync(new RegistryInput("team", "git", remote.Path, "main", null, PathFilters: ["skills/**"]), CancellationToken.None);
        var mirror = _dashboard.Get<GitMirror>().PathOf(registry.Id);
        Directory.CreateDirectory(mirror);
        await File.WriteAllTextAsync(Path.Combine(mirror, "HEAD"), "ref: refs/heads/main\n");
        var page = _dashboard.Render<Skills>();
        page.WaitForAssertion(() => Assert.Contains("team", page.Find("[data-testid=registries-table]").TextContent));

        page.Find("[data-testid=remove-registry]").Click();
        var message = Cancel();

        Assert.Contains("deletes its local git mirror", message);
        Assert.NotNull(await store.GetAsync(registry.Id, CancellationToken.None));
        Assert.True(Directory.Exists(mirror));

        page.Find("[data-testid=remove-registry]").Click();
        _dashboard.Confirm();

        page.WaitForAssertion(() => Assert.Empty(page.FindAll("[data-testid=remove-registry]")));
        Assert.Null(await store.GetAsync(registry.Id, CancellationToken.None));
        Assert.False(Directory.Exists(mirror));
    }

    [Fact]
    public async Task Revoking_a_token_says_its_clients_are_refused_and_revokes_only_when_confirmed()
    {
        var admin = _dashboard.Get<AccessAdmin>();
        var key = await admin.CreateKeyAsync(ApiKeyKinds.Ingest, "alice", CancellationToken.None);
        var page = _dashboard.Render<ApiKeys>(p => p.Add(x => x.Kind, ApiKeyKinds.Ingest));
        IElement Revoke() => page.Find("button[aria-label='Revoke alice']");
        page.WaitForAssertion(() => Assert.NotNull(Revoke()));

        Revoke().Click();
        Assert.Contains("Clients using alice are refused", Cancel());
        Assert.Null((await admin.ListKeysAsync(CancellationToken.None)).Single(k => k.Id == key.Key.Id).RevokedAt);

        Revoke().Click();
        _dashboard.Confirm();

        page.WaitForAssertion(() => Assert.Empty(page.FindAll("button[aria-label='Revoke alice']")));
        Assert.NotNull((await admin.ListKeysAsync(CancellationToken.None)).Single(k => k.Id == key.Key.Id).RevokedAt);
    }

    [Fact]
    public async Task Deleting_a_user_says_they_can_no_longer_sign_in_and_deletes_only_when_confirmed()
    {
        var admin = _dashboard.Get<AccessAdmin>();
        await admin.CreateUserAsync("bob", "a-long-enough-password", Roles.Reviewer, CancellationToken.None);
        var page = _dashboard.Render<Users>();
        IElement Delete() => page.Find("button[aria-label='Delete bob']");
        page.WaitForAssertion(() => Assert.NotNull(Delete()));

        Delete().Click();
        Assert.Contains("bob can no longer sign in", Cancel());
        Assert.Contains("bob", (await admin.ListUsersAsync(CancellationToken.None)).Select(u => u.Name));

        Delete().Click();
        _dashboard.Confirm();

        page.WaitForAssertion(() => Assert.Empty(page.FindAll("button[aria-label='Delete bob']")));
        Assert.DoesNotContain("bob", (await admin.ListUsersAsync(CancellationToken.None)).Select(u => u.Name));
    }

    private IRenderedComponent<Clusters> ClustersWithSelected(params string[] titles)
    {
        var page = _dashboard.Render<Clusters>();
        page.WaitForAssertion(() => Assert.Equal(3, page.FindAll("[data-testid=cluster-link]").Count));
        foreach (var title in titles)
        {
            page.FindAll("tbody tr").Single(r => r.TextContent.Contains(title, StringComparison.Ordinal)).QuerySelector("input[type=checkbox]")!.Change(true);
        }

        page.WaitForAssertion(() => Assert.Equal($"{titles.Length} selected", page.Find("[data-testid=bulk-count]").TextContent.Trim()));
        return page;
    }

    [Fact]
    public async Task Bulk_merge_on_the_clusters_page_names_the_target_and_merges_only_when_confirmed()
    {
        var largest = await ClusterAsync("Totals row missing", signals: 5);
        var smaller = await ClusterAsync("Totals row absent", signals: 2);
        var other = await ClusterAsync("Wrong font", signals: 1);
        var page = ClustersWithSelected("Totals row missing", "Totals row absent");

        page.Find("[data-testid=bulk-merge]").Click();
        Assert.Contains($"into “Totals row missing” (#{largest})", Cancel());
        Assert.Equal("open", await StateAsync(smaller));

        page.Find("[data-testid=bulk-merge]").Click();
        _dashboard.Confirm();

        page.WaitForAssertion(() => Assert.Empty(page.FindAll("[data-testid=bulk-actions]")));
        Assert.Equal(("merged", "open", "open"), (await StateAsync(smaller), await StateAsync(largest), await StateAsync(other)));
    }

    [Fact]
    public async Task Bulk_mark_as_noise_on_the_clusters_page_counts_the_clusters_and_marks_only_when_confirmed()
    {
        var first = await ClusterAsync("Totals row missing", signals: 5);
        var second = await ClusterAsync("Header repeated", signals: 2);
        var other = await ClusterAsync("Wrong font", signals: 1);
        var page = ClustersWithSelected("Totals row missing", "Header repeated");

        page.Find("[data-testid=bulk-noise]").Click();
        Assert.Contains("Mark 2 cluster(s) as noise?", Cancel());
        Assert.Equal(("open", "open"), (await StateAsync(first), await StateAsync(second)));

        page.Find("[data-testid=bulk-noise]").Click();
        _dashboard.Confirm();

        page.WaitForAssertion(() => Assert.Empty(page.FindAll("[data-testid=bulk-actions]")));
        Assert.Equal(("noise", "noise", "open"), (await StateAsync(first), await StateAsync(second), await StateAsync(other)));
    }

    [Fact]
    public async Task Merging_from_the_cluster_page_names_the_target_and_merges_only_when_confirmed()
    {
        var source = await ClusterAsync("Totals row absent", signals: 2);
        var target = await ClusterAsync("Totals row missing", signals: 5);
        var page = _dashboard.Render<ClusterDetailPage>(p => p.Add(x => x.Id, source));
        page.WaitForAssertion(() => Assert.NotNull(page.Find("[data-testid=merge]")));
        var picker = page.FindComponents<MudSelect<long?>>().Single(s => s.Instance.Label == "Merge into another cluster of this skill");
        await page.InvokeAsync(() => picker.Instance.ValueChanged.InvokeAsync(target));

        page.Find("[data-testid=merge]").Click();
        Assert.Contains($"into “Totals row missing” (#{target})", Cancel());
        Assert.Equal("open", await StateAsync(source));

        page.Find("[data-testid=merge]").Click();
        _dashboard.Confirm();

        await WaitAsync(async () => await StateAsync(source) == "merged");
        Assert.Equal("open", await StateAsync(target));
    }

    /// <summary>The merge navigates away, so its outcome is read from the database.</summary>
    private static async Task WaitAsync(Func<Task<bool>> done)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < until, "the action never completed");
            await Task.Delay(20);
        }
    }
}
