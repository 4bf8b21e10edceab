using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Browser;

/// <summary>The Overview's inbox, live Clusters and every page on a phone, in a real chromium against the real server.</summary>
[Collection(ServerCollection.Name)]
public sealed class TriageBrowserTests(SkillLoopServer server, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static readonly (string Path, string Heading, string Name)[] Pages =
    [
        ("/", "Overview", "overview"),
        ("/signals", "Live signals", "signals"),
        ("/clusters", "Clusters", "clusters"),
        ("/proposals", "Proposals", "proposals"),
        ("/skills", "Skills & registries", "skills"),
        ("/patterns", "Correction patterns", "patterns"),
        ("/settings", "Settings", "settings"),
        ("/users", "Users", "users"),
    ];

    private async Task<IPage> SignInAsync(IBrowserContext context, string path = "/")
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync(path);
        await page.GetByLabel("User name").FillAsync("admin");
        await page.GetByLabel("Password").FillAsync(SkillLoopServer.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync("**" + path.Split('?')[0] + "*");
        await InteractiveAsync(page);
        return page;
    }

    private Task<IBrowserContext> NewContextAsync(int width, int height) =>
        browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });

    private static Task InteractiveAsync(IPage page) =>
        page.Locator("#circuit-ready").WaitForAsync(new() { State = WaitForSelectorState.Attached });

    private static Task ShotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, name + ".png"), FullPage = true });

    /// <summary>How far the page scrolls sideways (0 when it fits the window).</summary>
    private static Task<int> OverflowAsync(IPage page) =>
        page.EvaluateAsync<int>("() => document.scrollingElement.scrollWidth - window.innerWidth");

    /// <summary>A proposal in review for a new skill, made by the real pipeline from three users' corrections.</summary>
    private async Task<(long Proposal, long Cluster, BareGitRemote Remote)> ProposalAsync(string skill)
    {
        var path = $"skills/{skill}/SKILL.md";
        var remote = new BareGitRemote(new Dictionary<string, string> { [path] = $"---\nname: {skill}\ndescription: Reports.\n---\n# Reports\n\nRender the table.\n" + string.Concat(Enumerable.Range(1, 12).Select(i => $"\nStep {i}: keep the layout.\n")) });
        using var admin = server.CreateAdminClient();
        using var ingest = server.CreateIngestClient();
        (await admin.PostAsJsonAsync("/api/v1/registries", new { name = $"reg-{skill}", provider = "git", url = remote.Path, branch = "main" })).EnsureSuccessStatusCode();
        for (var i = 0; i < 3; i++)
        {
            await Web.PipelineTests.PostAsync(ingest, skill, $"t{i}@example.com", "No, the totals row has to be the last row of the table, not the first.");
        }

        try
        {
            var proposal = await Web.PipelineTests.ProposalInReviewAsync(admin, skill);
            return (proposal.GetProperty("id").GetInt64(), proposal.GetProperty("clusterId").GetInt64(), remote);
        }
        catch
        {
            remote.Dispose();
            throw;
        }
    }

    [Fact]
    public async Task The_overview_inbox_lists_a_proposal_in_review_with_a_menu_badge_and_links_to_the_proposal_and_its_cluster()
    {
        var skill = $"inbox-skill-{Guid.NewGuid():N}"[..24];
        var (proposal, cluster, remote) = await ProposalAsync(skill);
        using var _ = remote;

        await using var context = await NewContextAsync(1440, 900);
        var page = await SignInAsync(context);
        var review = page.GetByTestId("inbox-review");
        await Assertions.Expect(review.GetByTestId("inbox-review-link").Filter(new() { HasText = "totals row" }).First).ToBeVisibleAsync(new() { Timeout = 15_000 });
        var count = int.Parse(await page.GetByTestId("inbox-review-count").InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(count >= 1);
        await Assertions.Expect(page.GetByTestId("badge-proposals")).ToHaveTextAsync(count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await ShotAsync(page, "overview-inbox");

        await review.Locator($"a[href='/proposals/{proposal}']").ClickAsync();
        await page.WaitForURLAsync($"**/proposals/{proposal}");
        await InteractiveAsync(page);
        // The unchanged middle of the file is collapsed behind one button, which expands it.
        var expand = page.GetByTestId("side-by-side").GetByTestId("diff-expand");
        await Assertions.Expect(expand).ToHaveCountAsync(1);
        await expand.ClickAsync();
        await Assertions.Expect(page.GetByTestId("side-by-side").GetByTestId("diff-expand")).ToHaveCountAsync(0);
        await page.GetByTestId("proposal-cluster-link").ClickAsync();
        await page.WaitForURLAsync($"**/clusters/{cluster}");
        await InteractiveAsync(page);
        await Assertions.Expect(page.GetByTestId("cluster-proposal")).ToHaveAttributeAsync("href", $"/proposals/{proposal}");
        await Assertions.Expect(page.GetByTestId("signal-issue")).ToHaveCountAsync(3);
    }

    [Fact]
    public async Task The_clusters_page_shows_a_new_cluster_without_a_reload()
    {
        var skill = $"live-skill-{Guid.NewGuid():N}"[..22];
        await using var context = await NewContextAsync(1440, 900);
        var page = await SignInAsync(context, $"/clusters?skill={skill}");
        await page.GetByRole(AriaRole.Heading, new() { Name = "Clusters", Exact = true }).WaitForAsync();
        await Assertions.Expect(page.GetByTestId("cluster-link")).ToHaveCountAsync(0);

        using (var ingest = server.CreateIngestClient())
        {
            await Web.PipelineTests.PostAsync(ingest, skill, "live@example.com", "No, the invoice date goes in the header, not the footer.");
        }

        await Assertions.Expect(page.GetByTestId("cluster-link")).ToHaveCountAsync(1, new() { Timeout = 60_000 });
        await ShotAsync(page, "clusters-live");
    }

    [Fact]
    public async Task No_page_scrolls_sideways_on_a_phone_and_every_page_is_photographed_at_both_widths()
    {
        var skill = $"phone-skill-{Guid.NewGuid():N}"[..23];
        var (proposal, cluster, remote) = await ProposalAsync(skill);
        using var _ = remote;
        using (var admin = server.CreateAdminClient())
        {
            // A token with a long name, as the Settings page's table had to fit.
            (await admin.PostAsJsonAsync("/api/v1/keys", new { kind = "ingest", name = "a-developer-with-a-rather-long-name@example.com" })).EnsureSuccessStatusCode();
        }

        var all = Pages.Concat([($"/clusters/{cluster}", "", "cluster-detail"), ($"/proposals/{proposal}", "", "proposal-detail")]).ToList();
        var overflowing = new List<string>();
        foreach (var (width, height, suffix) in new[] { (1440, 900, "desktop"), (390, 844, "phone") })
        {
            await using var context = await NewContextAsync(width, height);
            var page = await SignInAsync(context);
            foreach (var (path, heading, name) in all)
            {
                await page.GotoAsync(path);
                if (heading.Length > 0)
                {
                    await page.GetByRole(AriaRole.Heading, new() { Name = heading, Exact = true }).WaitForAsync();
                }

                await InteractiveAsync(page);
                await page.Locator("h1").First.WaitForAsync();
                await ShotAsync(page, $"{name}-{suffix}");
                if (width == 390 && await OverflowAsync(page) is var overflow and > 0)
                {
                    overflowing.Add($"{path} by {overflow}px");
                }
            }

            if (width == 390)
            {
                // The side-by-side diff is stacked on a phone; Live signals' filters fold into a panel.
                await page.GotoAsync($"/proposals/{proposal}");
                await InteractiveAsync(page);
                await Assertions.Expect(page.GetByTestId("stacked-diff")).ToBeVisibleAsync();
                await Assertions.Expect(page.GetByTestId("side-by-side")).ToBeHiddenAsync();
                await page.GotoAsync("/signals");
                await InteractiveAsync(page);
                await Assertions.Expect(page.Locator(".filter-fields")).ToBeHiddenAsync();
                await page.GetByTestId("filters-toggle").ClickAsync();
                await Assertions.Expect(page.Locator(".filter-fields")).ToBeVisibleAsync();
                await ShotAsync(page, "signals-filters-phone");
            }
        }

        Assert.Empty(overflowing);
    }

    [Fact]
    public async Task Dark_mode_is_kept_across_a_reload_and_the_favicon_is_served()
    {
        await using var context = await NewContextAsync(1440, 900);
        var page = await SignInAsync(context);
        var toggle = page.GetByRole(AriaRole.Button, new() { Name = "Toggle dark mode" });
        await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-pressed", "false");
        await toggle.ClickAsync();
        await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-pressed", "true");
        await page.ReloadAsync();
        await InteractiveAsync(page);
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Toggle dark mode" })).ToHaveAttributeAsync("aria-pressed", "true");
        // The theme itself: MudBlazor's dark palette has a dark page background.
        var background = await page.EvaluateAsync<string>("() => getComputedStyle(document.body).backgroundColor");
        Assert.Matches(@"^rgb\((\d{1,2}), (\d{1,2}), (\d{1,2})\)$", background);
        await ShotAsync(page, "overview-dark-reloaded");

        using var anonymous = new HttpClient { BaseAddress = server.BaseAddress };
        Assert.Equal(System.Net.HttpStatusCode.OK, (await anonymous.GetAsync("/favicon.ico")).StatusCode);
    }
}
