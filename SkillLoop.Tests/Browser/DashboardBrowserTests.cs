using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Browser;

/// <summary>The admin's and reviewer's workplace in a real chromium against the real server; a screenshot of every page.</summary>
[Collection(ServerCollection.Name)]
public sealed class DashboardBrowserTests(SkillLoopServer server, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private async Task<IPage> SignInAsync(IBrowserContext context, string user, string password, string path = "/")
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync(path);
        await page.GetByLabel("User name").FillAsync(user);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync("**" + path);
        return page;
    }

    private Task<IBrowserContext> NewContextAsync(int width = 1366, int height = 900) =>
        browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });

    private static Task ShotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, name + ".png"), FullPage = true });

    /// <summary>The input or text area of a MudBlazor field, wherever MudBlazor puts the test id.</summary>
    private static ILocator Field(IPage page, string testId) => page.Locator(FieldSelector(testId)).First;

    /// <summary>The same, inside one part of the page (one of two forms with the same fields).</summary>
    private static ILocator Field(ILocator scope, string testId) => scope.Locator(FieldSelector(testId)).First;

    private static string FieldSelector(string testId) =>
        $"[data-testid={testId}] input, [data-testid={testId}] textarea, input[data-testid={testId}], textarea[data-testid={testId}]";

    /// <summary>Waits until the page's circuit is interactive (MudBlazor inputs react only then).</summary>
    private static Task InteractiveAsync(IPage page) =>
        page.Locator("#circuit-ready").WaitForAsync(new() { State = WaitForSelectorState.Attached });

    [Fact]
    public async Task An_admin_adds_a_pattern_sees_it_match_typed_text_and_past_turns_and_clients_receive_it()
    {
        var marker = $"zebra{Guid.NewGuid():N}"[..14];
        using (var ingest = server.CreateIngestClient())
        {
            (await ingest.PostAsJsonAsync("/api/v1/signals", Capture.SignalIngestorTests.Batch($"browser-pattern-{marker}", 0, 10,
                corrections: [$"please stop using {marker} everywhere", "unrelated message"]))).EnsureSuccessStatusCode();
        }

        await using var context = await NewContextAsync();
        var page = await SignInAsync(context, "admin", SkillLoopServer.AdminPassword, "/patterns");
        await page.GetByRole(AriaRole.Heading, new() { Name = "Correction patterns" }).WaitForAsync();
        await InteractiveAsync(page);
        await page.GetByTestId("new-pattern").ClickAsync();
        var id = $"en.custom.{marker}";
        await Field(page, "pattern-id").FillAsync(id);
        await Field(page, "pattern-regex").FillAsync($@"\b{marker}\b");
        await Field(page, "pattern-sample").FillAsync($"No, don't use {marker} here");

        var sample = page.GetByTestId("pattern-sample-result");
        await Assertions.Expect(sample).ToContainTextAsync($"Matches “{marker}”", new() { Timeout = 15_000 });
        await page.GetByTestId("pattern-history").ClickAsync();
        await Assertions.Expect(page.GetByTestId("pattern-history-result")).ToContainTextAsync("Would match 1 of", new() { Timeout = 15_000 });
        await page.GetByTestId("pattern-save").ClickAsync();
        await ShotAsync(page, "patterns-saved");
        await page.GetByText($"Pattern {id} saved").WaitForAsync();
        await ShotAsync(page, "patterns");

        using var client = server.CreateIngestClient();
        var config = await client.GetFromJsonAsync<ClientConfig>("/api/v1/client/config");
        Assert.Contains(config!.Patterns, p => p.Id == id && p.Enabled);
    }

    [Fact]
    public async Task Every_page_renders_for_an_admin_and_a_cluster_can_be_marked_as_noise()
    {
        var skill = $"browser-skill-{Guid.NewGuid():N}"[..24];
        using (var ingest = server.CreateIngestClient())
        {
            for (var i = 0; i < 3; i++)
            {
                var batch = Capture.SignalIngestorTests.Batch($"browser-pages-{skill}-{i}", 0, 10, user: $"u{i}@example.com",
                    corrections: "No, the totals row has to be the last row of the table.");
                batch = batch with { Corrections = batch.Corrections.Select(c => c with { Skill = skill }).ToList() };
                (await ingest.PostAsJsonAsync("/api/v1/signals", batch)).EnsureSuccessStatusCode();
            }
        }

        using var admin = server.CreateAdminClient();
        var clusterId = await WaitForClusterAsync(admin, skill);

        await using var context = await NewContextAsync();
        var page = await SignInAsync(context, "admin", SkillLoopServer.AdminPassword);
        foreach (var (path, heading, name) in new[]
                 {
                     ("/", "Overview", "overview"),
                     ("/signals", "Live signals", "signals"),
                     ("/clusters", "Clusters", "clusters"),
                     ("/proposals", "Proposals", "proposals"),
                     ("/skills", "Skills & registries", "skills"),
                     ("/patterns", "Correction patterns", "patterns-list"),
                     ("/settings", "Settings", "settings"),
                     ("/users", "Users", "users"),
                 })
        {
            await page.GotoAsync(path);
            await page.GetByRole(AriaRole.Heading, new() { Name = heading, Exact = true }).WaitForAsync();
            await InteractiveAsync(page);
            await ShotAsync(page, name);
        }

        await page.GotoAsync($"/clusters/{clusterId}");
        await InteractiveAsync(page);
        await Assertions.Expect(page.GetByTestId("cluster-evidence")).ToContainTextAsync("3 signal(s) from 3 of");
        await ShotAsync(page, "cluster-detail");
        await page.GetByTestId("mark-noise").ClickAsync();
        await page.GetByTestId("not-noise").WaitForAsync();
        var detail = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/clusters/{clusterId}");
        Assert.Equal("noise", detail.GetProperty("cluster").GetProperty("state").GetString());
        await page.GetByTestId("not-noise").ClickAsync();
        await page.GetByTestId("mark-noise").WaitForAsync();

        // Dark mode and a phone-sized screen.
        await page.GotoAsync("/");
        await InteractiveAsync(page);
        await page.GetByRole(AriaRole.Button, new() { Name = "Toggle dark mode" }).ClickAsync();
        await ShotAsync(page, "overview-dark");
        await page.SetViewportSizeAsync(390, 844);
        await ShotAsync(page, "overview-phone");
    }

    [Fact]
    public async Task An_ingest_token_made_on_the_settings_page_comes_with_the_install_command()
    {
        await using var context = await NewContextAsync();
        var page = await SignInAsync(context, "admin", SkillLoopServer.AdminPassword, "/settings");
        await InteractiveAsync(page);
        await Field(page, "key-name-ingest").FillAsync("browser team");
        await page.GetByTestId("key-create-ingest").ClickAsync();

        var command = await page.GetByTestId("install-command").InnerTextAsync();
        await ShotAsync(page, "settings-token");

        Assert.Matches(@"^curl -fsSL http://127\.0\.0\.1:\d+/install\.sh \| sh -s -- --token sli_\S+$", command.Trim());
        using var client = server.CreateClientWith(command.Trim().Split(' ')[^1]);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("/api/v1/client/config")).StatusCode);
    }

    [Fact]
    public async Task A_reviewer_reads_the_diff_edits_the_text_and_approves_a_proposal_which_is_then_pushed()
    {
        var skill = $"review-skill-{Guid.NewGuid():N}"[..24];
        var path = $"skills/{skill}/SKILL.md";
        using var remote = new BareGitRemote(new Dictionary<string, string> { [path] = $"---\nname: {skill}\ndescription: Reports.\n---\n# Reports\n\nRender the table.\n" });
        var reviewer = $"rev{Guid.NewGuid():N}"[..12];
        long id;
        using (var admin = server.CreateAdminClient())
        using (var ingest = server.CreateIngestClient())
        {
            (await admin.PostAsJsonAsync("/api/v1/users", new { name = reviewer, password = "reviewer-password-1", role = "reviewer" })).EnsureSuccessStatusCode();
            (await admin.PostAsJsonAsync("/api/v1/registries", new { name = $"reg-{skill}", provider = "git", url = remote.Path, branch = "main" })).EnsureSuccessStatusCode();
            for (var i = 0; i < 3; i++)
            {
                await Web.PipelineTests.PostAsync(ingest, skill, $"r{i}@example.com", "No, the totals row has to be the last row of the table, not the first.");
            }

            id = await WaitForProposalAsync(admin, skill);
        }

        await using var context = await NewContextAsync();
        var page = await SignInAsync(context, reviewer, "reviewer-password-1", "/proposals");
        await InteractiveAsync(page);
        await page.GetByTestId("proposal-link").Filter(new() { HasText = "totals row" }).First.WaitForAsync();
        await ShotAsync(page, "proposals-list");
        await page.GotoAsync($"/proposals/{id}");
        await InteractiveAsync(page);
        await Assertions.Expect(page.GetByTestId("proposal-state")).ToHaveTextAsync("review");
        await Assertions.Expect(page.GetByTestId("side-by-side").Locator("td.add", new() { HasText = "Known pitfalls" })).ToHaveCountAsync(1);
        await ShotAsync(page, "proposal-review");

        await page.GetByRole(AriaRole.Tab, new() { Name = "Preview" }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("markdown-preview").Locator("h2")).ToHaveTextAsync("Known pitfalls");
        await page.GetByRole(AriaRole.Tab, new() { Name = "Edit" }).ClickAsync();
        var editor = Field(page, "proposal-editor");
        var text = await editor.InputValueAsync();
        await editor.FillAsync(text.Replace("Render the table.", "Render the table, then the totals row last.", StringComparison.Ordinal));
        await editor.BlurAsync();
        await page.GetByRole(AriaRole.Tab, new() { Name = "Changes" }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("side-by-side").Locator("td.add", new() { HasText = "then the totals row last" })).ToHaveCountAsync(1);
        await Field(page, "review-comment").FillAsync("Clearer with the order spelled out.");
        await page.GetByTestId("approve").ClickAsync();

        // Nothing is pushed before the reviewer confirms the commit message, which describes the edited text.
        var message = Field(page, "confirm-text");
        await Assertions.Expect(message).ToHaveValueAsync(new System.Text.RegularExpressions.Regex($@"Reviewed-by: {reviewer}\s*$"));
        Assert.Contains("Render the table, then the totals row last.", await message.InputValueAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(remote.BranchNames(), b => b.StartsWith("skillloop/", StringComparison.Ordinal));
        await ShotAsync(page, "proposal-confirm-push");
        await message.FillAsync((await message.InputValueAsync()).Replace("skillloop: ", "skillloop(reports): ", StringComparison.Ordinal));
        await page.GetByTestId("confirm-ok").ClickAsync();

        await Assertions.Expect(page.GetByTestId("proposal-state")).ToHaveTextAsync("branch pushed", new() { Timeout = 30_000 });
        await ShotAsync(page, "proposal-approved");
        var branch = remote.BranchNames().Single(b => b.StartsWith("skillloop/", StringComparison.Ordinal));
        var tip = remote.Tip(branch)!.Value;
        Assert.StartsWith("skillloop(reports): ", tip.Message, StringComparison.Ordinal);
        Assert.Contains($"Reviewed-by: {reviewer}", tip.Message, StringComparison.Ordinal);
        Assert.Contains("Render the table, then the totals row last.", remote.Read(branch, path), StringComparison.Ordinal);
        Assert.Contains("## Known pitfalls", remote.Read(branch, path), StringComparison.Ordinal);
        Assert.DoesNotContain("totals row last", remote.Read("main", path), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_admin_adds_a_registry_in_the_browser_sees_its_skills_after_the_scan_and_edits_its_filters_which_rescans_it()
    {
        var skill = $"ui-skill-{Guid.NewGuid():N}"[..20];
        using var remote = new BareGitRemote(new Dictionary<string, string> { [$".github/prompts/{skill}.prompt.md"] = "---\ndescription: Writes release notes.\n---\nWrite them.\n" });

        await using var context = await NewContextAsync();
        var page = await SignInAsync(context, "admin", SkillLoopServer.AdminPassword, "/skills");
        await InteractiveAsync(page);
        await page.GetByTestId("toggle-add-registry").ClickAsync();
        await Field(page, "registry-name").FillAsync($"ui-{skill}");
        await Field(page, "registry-url").FillAsync(remote.Path);
        await page.GetByTestId("add-registry").ClickAsync();

        await Assertions.Expect(page.GetByTestId("registries-table")).ToContainTextAsync($"ui-{skill}", new() { Timeout = 30_000 });
        try
        {
            await Assertions.Expect(page.GetByTestId("skills-table")).ToContainTextAsync(skill, new() { Timeout = 60_000 });
        }
        catch (PlaywrightException)
        {
            // Say where the scan stood, from the API, rather than only that the text never came.
            using var admin = server.CreateAdminClient();
            await ShotAsync(page, "skills-registered-failed");
            Assert.Fail($"The skill did not appear. Registries: {await admin.GetStringAsync("/api/v1/registries")}");
        }

        await ShotAsync(page, "skills-registered");

        // Edit: pre-filled; a filter that leaves the prompt out rescans the registry and the skill goes.
        await page.GetByRole(AriaRole.Button, new() { Name = $"Edit ui-{skill}", Exact = true }).ClickAsync();
        var edit = page.GetByTestId("edit-registry");
        await Assertions.Expect(Field(edit, "registry-url")).ToHaveValueAsync(remote.Path);
        await Field(edit, "registry-path-filters").FillAsync("skills/**");
        await ShotAsync(page, "skills-edit-registry");
        await edit.GetByTestId("save-registry").ClickAsync();

        await Assertions.Expect(edit).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByTestId("skills-table")).Not.ToContainTextAsync(skill, new() { Timeout = 60_000 });
        using (var admin = server.CreateAdminClient())
        {
            var registries = await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/registries");
            var registry = registries!.Single(r => r.GetProperty("registry").GetProperty("name").GetString() == $"ui-{skill}").GetProperty("registry");
            Assert.Equal(["skills/**"], registry.GetProperty("pathFilters").EnumerateArray().Select(f => f.GetString()));
        }
    }

    private static async Task<long> WaitForProposalAsync(HttpClient admin, string skill) =>
        (await Web.PipelineTests.ProposalInReviewAsync(admin, skill)).GetProperty("id").GetInt64();

    [Fact]
    public async Task Corrections_carrying_markup_render_inert_in_the_review_and_no_page_breaks_the_content_security_policy()
    {
        var skill = $"xss-skill-{Guid.NewGuid():N}"[..22];
        var path = $"skills/{skill}/SKILL.md";
        using var remote = new BareGitRemote(new Dictionary<string, string> { [path] = $"---\nname: {skill}\ndescription: Reports.\n---\n# Reports\n\nRender the table.\n" });
        long id;
        using (var admin = server.CreateAdminClient())
        using (var ingest = server.CreateIngestClient())
        {
            (await admin.PostAsJsonAsync("/api/v1/registries", new { name = $"reg-{skill}", provider = "git", url = remote.Path, branch = "main" })).EnsureSuccessStatusCode();
            string[] payloads =
            [
                "No, the totals row goes last ![x](x){onerror=alert(document.cookie)} see [docs](javascript:alert(2)).",
                "No, the totals row goes last <img src=x onerror=alert(3)> <!-- hidden --> [docs](JAVASCRIPT:alert(4)).",
                "No, the totals row goes last <svg onload=alert(5)></svg> <script>alert(6)</script>.",
            ];
            for (var i = 0; i < payloads.Length; i++)
            {
                await Web.PipelineTests.PostAsync(ingest, skill, $"x{i}@example.com", payloads[i]);
            }

            id = await WaitForProposalAsync(admin, skill);
        }

        await using var context = await NewContextAsync();
        var dialogs = new List<string>();
        var violations = new List<string>();
        context.Page += (_, p) =>
        {
            p.Dialog += async (_, dialog) =>
            {
                dialogs.Add(dialog.Message);
                await dialog.DismissAsync();
            };
            p.Console += (_, message) =>
            {
                if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
                {
                    violations.Add($"{p.Url}: {message.Text}");
                }
            };
        };
        var page = await SignInAsync(context, "admin", SkillLoopServer.AdminPassword, $"/proposals/{id}");
        await InteractiveAsync(page);
        var policy = (await page.EvaluateAsync<string>("async () => (await fetch(location.href)).headers.get('content-security-policy')"));
        Assert.Contains("script-src 'self';", policy, StringComparison.Ordinal);

        await page.GetByRole(AriaRole.Tab, new() { Name = "Preview" }).ClickAsync();
        await page.GetByTestId("markdown-preview").WaitForAsync();
        await page.GetByRole(AriaRole.Tab, new() { Name = "Pull request body" }).ClickAsync();
        var body = page.GetByTestId("pr-body");
        await Assertions.Expect(body).ToContainTextAsync("totals row");
        await ShotAsync(page, "proposal-hostile-markup");
        foreach (var testId in new[] { "pr-body" })
        {
            var scope = page.GetByTestId(testId);
            Assert.Equal(0, await scope.Locator("script, svg, iframe, [onerror], [onload], [onclick], a[href^='javascript' i]").CountAsync());
            Assert.DoesNotContain("hidden", await scope.InnerTextAsync(), StringComparison.Ordinal);
        }

        foreach (var other in new[] { "/", "/signals", "/clusters", "/proposals", "/skills", "/patterns", "/settings", "/users" })
        {
            await page.GotoAsync(other);
            await InteractiveAsync(page);
        }

        await page.WaitForTimeoutAsync(500); // a late handler would have fired by now
        Assert.Empty(dialogs);
        Assert.Empty(violations);
    }

    [Fact]
    public async Task A_reviewer_cannot_open_admin_pages_or_edit_settings()
    {
        var name = $"rev{Guid.NewGuid():N}"[..12];
        using (var admin = server.CreateAdminClient())
        {
            (await admin.PostAsJsonAsync("/api/v1/users", new { name, password = "reviewer-password-1", role = "reviewer" })).EnsureSuccessStatusCode();
        }

        await using var context = await NewContextAsync();
        var page = await SignInAsync(context, name, "reviewer-password-1", "/settings");
        await InteractiveAsync(page);
        Assert.Equal(0, await page.GetByTestId("save-thresholds").CountAsync());
        Assert.Equal(0, await page.GetByTestId("keys-ingest").CountAsync());
        Assert.Equal(0, await page.GetByRole(AriaRole.Link, new() { Name = "Users" }).CountAsync());

        await page.GotoAsync("/users");
        await page.GetByTestId("access-denied").WaitForAsync();
        await ShotAsync(page, "reviewer-denied");
        using var cookieClient = new HttpClient { BaseAddress = server.BaseAddress };
        var cookies = await context.CookiesAsync();
        cookieClient.DefaultRequestHeaders.Add("Cookie", string.Join("; ", cookies.Select(c => $"{c.Name}={c.Value}")));
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await cookieClient.GetAsync("/api/v1/users")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await cookieClient.GetAsync("/api/v1/clusters")).StatusCode);
    }

    /// <summary>The skill's one cluster once it has its 3 users.</summary>
    private static async Task<long> WaitForClusterAsync(HttpClient admin, string skill) =>
        (await Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/clusters?skill={skill}"),
            clusters => clusters is [var cluster] && cluster.GetProperty("distinctUsers").GetInt64() == 3, TimeSpan.FromSeconds(60)))![0]
            .GetProperty("id").GetInt64();
}
