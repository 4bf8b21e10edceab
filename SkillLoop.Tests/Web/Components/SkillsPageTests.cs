using Bunit;
using MudBlazor;
using MudBlazor.Extensions;
using SkillLoop.Core.Access;
using SkillLoop.Core.Registry;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Components.Pages.Skills;

namespace SkillLoop.Tests.Web.Components;

/// <summary>An admin editing registries on the Skills page, over the real core (SQLite file) and a bare git remote on disk.</summary>
public sealed class SkillsPageTests : IAsyncLifetime
{
    private const string Token = "ghp_bunitStoredToken0123456789";

    private DashboardContext _dashboard = null!;
    private BareGitRemote _remote = null!;

    public async Task InitializeAsync()
    {
        _remote = new BareGitRemote(new Dictionary<string, string> { ["skills/pdf-report/SKILL.md"] = "---\nname: pdf-report\n---\n# PDF\n" });
        _dashboard = await DashboardContext.StartAsync("admin", Roles.Admin);
    }

    public async Task DisposeAsync()
    {
        await _dashboard.DisposeAsync();
        _remote.Dispose();
    }

    private RegistryStore Store => _dashboard.Get<RegistryStore>();

    private Task<RegistryRecord> CreateAsync(string? token = Token) =>
        Store.CreateAsync(new RegistryInput("team", "git", _remote.Path, "main", token, PathFilters: ["skills/**"], DistinctUsers: 2), CancellationToken.None);

    /// <summary>The page with the edit form of <paramref name="registry"/> open.</summary>
    private (IRenderedComponent<Skills> Page, IRenderedComponent<RegistryEditor> Form) OpenEdit(RegistryRecord registry)
    {
        var page = _dashboard.Render<Skills>();
        page.WaitForAssertion(() => Assert.Contains(registry.Name, page.Find("[data-testid=registries-table]").TextContent));
        page.Find($"[data-testid=edit][aria-label='Edit {registry.Name}']").Click();
        return (page, page.FindComponents<RegistryEditor>().Single(f => f.Instance.Form.Id == registry.Id));
    }

    private static MudTextField<string> Text(IRenderedComponent<RegistryEditor> form, string label) =>
        form.FindComponents<MudTextField<string>>().Single(f => f.Instance.Label == label).Instance;

    private static Task TypeAsync(IRenderedComponent<RegistryEditor> form, string label, string value) =>
        form.InvokeAsync(() => Text(form, label).ValueChanged.InvokeAsync(value));

    [Fact]
    public async Task An_admin_edits_the_branch_filters_and_threshold_of_a_registry_and_an_empty_token_field_keeps_the_stored_token()
    {
        var registry = await CreateAsync();
        var (page, form) = OpenEdit(registry);

        // Pre-filled with what is stored, except the token, which is never shown.
        Assert.Equal(("team", _remote.Path, "main", "skills/**"), (Text(form, "Name").GetState(x => x.Value), Text(form, "Clone URL or path on the server").GetState(x => x.Value), Text(form, "Branch").GetState(x => x.Value), Text(form, "Path filters").GetState(x => x.Value)));
        Assert.Null(Text(form, "New access token").GetState(x => x.Value));
        Assert.Equal(2, form.FindComponents<MudNumericField<int?>>().Single().Instance.GetState(x => x.Value));
        Assert.DoesNotContain(Token, page.Markup, StringComparison.Ordinal);

        await TypeAsync(form, "Branch", "release");
        await TypeAsync(form, "Path filters", "skills/**, .github/prompts/*");
        await form.InvokeAsync(() => form.FindComponents<MudNumericField<int?>>().Single().Instance.ValueChanged.InvokeAsync(4));
        page.Find("[data-testid=edit-registry] [data-testid=save-registry]").Click();

        page.WaitForAssertion(() => Assert.Empty(page.FindAll("[data-testid=edit-registry]")));
        var saved = await Store.GetAsync(registry.Id, CancellationToken.None);
        Assert.Equal(("team", "release", 4, true), (saved!.Name, saved.Branch, saved.DistinctUsers, saved.HasToken));
        Assert.Equal(["skills/**", ".github/prompts/*"], saved.PathFilters);
        Assert.Equal(Token, await Store.TokenAsync(registry.Id, CancellationToken.None));
        Assert.Equal("queued", _dashboard.Get<RegistryScans>().Progress(registry.Id)?.Phase); // a new branch is rescanned
        page.WaitForAssertion(() => Assert.Contains("@ release", page.Find("[data-testid=registries-table]").TextContent));
    }

    [Fact]
    public async Task A_validation_error_from_the_core_is_shown_on_the_edit_form_which_keeps_what_the_admin_typed()
    {
        var registry = await CreateAsync();
        var (page, form) = OpenEdit(registry);

        await TypeAsync(form, "Name", "renamed");
        await TypeAsync(form, "Branch", "feature..x");
        await TypeAsync(form, "New access token", "ghp_typedButNotSaved");
        page.Find("[data-testid=edit-registry] [data-testid=save-registry]").Click();

        page.WaitForAssertion(() => Assert.Contains("'feature..x' is not a valid branch name", page.Find("[data-testid=edit-registry] [data-testid=registry-error]").TextContent));
        form = page.FindComponents<RegistryEditor>().Single(f => f.Instance.Form.Id == registry.Id);
        var branch = Text(form, "Branch");
        Assert.True(branch.GetState(x => x.Error));
        Assert.Equal("'feature..x' is not a valid branch name.", branch.GetState(x => x.ErrorText));
        Assert.Equal(("renamed", "feature..x", "ghp_typedButNotSaved"), (Text(form, "Name").GetState(x => x.Value), branch.GetState(x => x.Value), Text(form, "New access token").GetState(x => x.Value)));
        Assert.False(Text(form, "Name").GetState(x => x.Error));

        var stored = await Store.GetAsync(registry.Id, CancellationToken.None);
        Assert.Equal(("team", "main"), (stored!.Name, stored.Branch));
        Assert.Equal(Token, await Store.TokenAsync(registry.Id, CancellationToken.None));
        Assert.Null(_dashboard.Get<RegistryScans>().Progress(registry.Id));
    }

    [Fact]
    public async Task An_admin_removes_the_stored_token_with_the_remove_switch_and_a_registry_without_one_offers_no_removal()
    {
        var registry = await CreateAsync();
        var (page, form) = OpenEdit(registry);

        var remove = form.FindComponents<MudCheckBox<bool>>().Single(c => c.Instance.Label == "Remove the stored token");
        await form.InvokeAsync(() => remove.Instance.ValueChanged.InvokeAsync(true));
        Assert.True(Text(form, "New access token").Disabled);
        page.Find("[data-testid=edit-registry] [data-testid=save-registry]").Click();

        page.WaitForAssertion(() => Assert.Empty(page.FindAll("[data-testid=edit-registry]")));
        Assert.False((await Store.GetAsync(registry.Id, CancellationToken.None))!.HasToken);
        Assert.Null(await Store.TokenAsync(registry.Id, CancellationToken.None));
        Assert.Null(_dashboard.Get<RegistryScans>().Progress(registry.Id)); // nothing a scan reads changed

        page.Find("[data-testid=edit]").Click();
        Assert.Empty(page.FindAll("[data-testid=edit-registry] [data-testid=registry-remove-token]"));
    }

    [Fact]
    public async Task A_registry_changed_elsewhere_is_redrawn_on_an_open_page()
    {
        var registry = await CreateAsync(token: null);
        var page = _dashboard.Render<Skills>();
        page.WaitForAssertion(() => Assert.Contains("team", page.Find("[data-testid=registries-table]").TextContent));

        await _dashboard.Get<RegistryScans>().UpdateAsync(registry.Id, new RegistryInput("platform", "git", _remote.Path, "main", PathFilters: ["skills/**"]), CancellationToken.None);

        page.WaitForAssertion(() => Assert.Contains("platform", page.Find("[data-testid=registries-table]").TextContent));
    }
}
