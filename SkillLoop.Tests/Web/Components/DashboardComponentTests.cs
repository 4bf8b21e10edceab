using System.Security.Claims;
using Bunit;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Extensions;
using SkillLoop.Core.Access;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Data;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Components.Pages.Patterns;
using SkillLoop.Web.Components.Pages.Settings;

namespace SkillLoop.Tests.Web.Components;

/// <summary>Dashboard components over the real core (SQLite file), rendered with bUnit and MudBlazor's providers.</summary>
public sealed class DashboardComponentTests : IAsyncLifetime
{
    private DashboardContext _dashboard = null!;

    public async Task InitializeAsync()
    {
        _dashboard = await DashboardContext.StartAsync("admin", Roles.Admin);
    }

    [Fact]
    public async Task The_patterns_page_lists_built_ins_and_its_tester_reports_matches_in_past_turns()
    {
        await _dashboard.Get<SignalIngestor>().IngestAsync(
            SignalIngestorTests.Batch("bunit-patterns", 0, 10, corrections: ["no, use the quokka format", "thanks"]), CancellationToken.None);
        var page = _dashboard.Render<Patterns>();
        page.WaitForAssertion(() => Assert.Contains("en.guard.dont-worry", page.Markup)); // first page of the table

        page.Find("[data-testid=new-pattern]").Click();
        var regex = page.FindComponents<MudTextField<string>>().Single(f => f.Instance.Label == "Regular expression");
        await page.InvokeAsync(() => regex.Instance.ValueChanged.InvokeAsync(@"\bquokka\b"));
        page.Find("[data-testid=pattern-history]").Click();

        page.WaitForAssertion(() => Assert.Contains("Would match 1 of 2 past turns, 0 of them marked noise", page.Find("[data-testid=pattern-history-result]").TextContent));
    }

    [Fact]
    public async Task A_new_ingest_token_is_shown_once_with_the_command_to_install_the_client()
    {
        var keys = _dashboard.Render<ApiKeys>(); // default kind: ingest

        var name = keys.FindComponents<MudTextField<string>>().Single();
        await keys.InvokeAsync(() => name.Instance.ValueChanged.InvokeAsync("bunit team"));
        keys.Find("[data-testid=key-create-ingest]").Click();

        keys.WaitForAssertion(() => Assert.Matches(@"^curl -fsSL http://localhost/install\.sh \| sh -s -- --token sli_\S+$", keys.Find("[data-testid=install-command]").TextContent));
        Assert.Matches(@"^& \(\[scriptblock\]::Create\(\(irm http://localhost/install\.ps1\)\)\) -Token sli_\S+$", keys.Find("[data-testid=install-command-windows]").TextContent);
        Assert.Matches(@"^skillloop-client install --all --url http://localhost --token sli_\S+$", keys.Find("[data-testid=install-command-client]").TextContent);
        Assert.Contains("bunit team", keys.Markup);
        // Personal by default: one developer, one user.
        var created = (await _dashboard.Get<AccessAdmin>().ListKeysAsync(CancellationToken.None)).Single(k => k.Name == "bunit team");
        Assert.False(created.Shared);
        Assert.Contains("bunit team runs, on their own machine", keys.Markup);
        Assert.Contains(keys.FindAll("[data-testid=key-type]"), td => td.TextContent == "personal");
    }

    [Fact]
    public async Task A_shared_team_token_is_made_only_when_asked_and_listed_as_such()
    {
        var keys = _dashboard.Render<ApiKeys>();

        var name = keys.FindComponents<MudTextField<string>>().Single();
        await keys.InvokeAsync(() => name.Instance.ValueChanged.InvokeAsync("bunit shared"));
        var shared = keys.FindComponents<MudCheckBox<bool>>().Single();
        await keys.InvokeAsync(() => shared.Instance.ValueChanged.InvokeAsync(true));
        keys.Find("[data-testid=key-create-ingest]").Click();

        keys.WaitForAssertion(() => Assert.Contains("Each developer on the team runs", keys.Markup));
        Assert.True((await _dashboard.Get<AccessAdmin>().ListKeysAsync(CancellationToken.None)).Single(k => k.Name == "bunit shared").Shared);
        Assert.Contains(keys.FindAll("[data-testid=key-type]"), td => td.TextContent.StartsWith("shared team token", StringComparison.Ordinal));
    }

    [Fact]
    public void Back_up_now_saves_a_copy_of_the_database_and_links_to_its_download()
    {
        var backup = _dashboard.Render<BackupNow>();
        Assert.Empty(backup.FindAll("[data-testid=backup-link]"));

        backup.Find("[data-testid=backup-now]").Click();

        backup.WaitForAssertion(() => Assert.Single(backup.FindAll("[data-testid=backup-link]")));
        var link = backup.Find("[data-testid=backup-link]");
        var name = link.TextContent;
        Assert.Equal($"/api/v1/backup/{name}", link.GetAttribute("href"));
        Assert.True(File.Exists(Path.Combine(_dashboard.DataDirectory, "backups", name)));
    }

    [Fact]
    public async Task The_number_of_backups_kept_is_shown_and_saved_beside_back_up_now_and_applies_to_the_next_backup()
    {
        var folder = Path.Combine(_dashboard.DataDirectory, "backups");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "skillloop-20200101T000000Z.db"), "an old backup");
        var backup = _dashboard.Render<BackupNow>();
        var keep = backup.FindComponents<MudNumericField<int>>().Single(f => f.Instance.Label == "Keep the newest (0 = all)");
        Assert.Equal(BackupSettings.DefaultKeepNewest, keep.Instance.GetState(x => x.Value));

        await backup.InvokeAsync(() => keep.Instance.ValueChanged.InvokeAsync(1));
        backup.Find("[data-testid=save-backup-keep]").Click();

        backup.WaitForAssertion(() => Assert.Equal(new BackupRetention(1), _dashboard.Get<BackupSettings>().GetAsync(CancellationToken.None).GetAwaiter().GetResult()));
        backup.Find("[data-testid=backup-now]").Click();
        backup.WaitForAssertion(() => Assert.DoesNotContain("skillloop-20200101T000000Z.db", backup.Markup));
        Assert.Single(backup.FindAll("[data-testid=backup-link]"));
        Assert.False(File.Exists(Path.Combine(folder, "skillloop-20200101T000000Z.db")));
    }

    public async Task DisposeAsync()
    {
        await _dashboard.DisposeAsync();
    }
}
