using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Core.Registry;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Registry;

public sealed class RegistryScanTests
{
    internal static readonly Dictionary<string, string> SkillRepository = new()
    {
        ["skills/pdf-report/SKILL.md"] = "---\nname: pdf-report\ndescription: Builds PDF reports from tables.\n---\n\n# PDF reports\n\nPut the table first.\n",
        ["skills/deploy/SKILL.md"] = "---\nname: deploy\ndescription: >\n  Deploys the service\n  to staging.\n---\nRun the script.\n",
        [".codex/skills/lint/SKILL.md"] = "---\nname: lint\ndescription: Lints.\n---\n",
        ["plugins/reports/.claude-plugin/plugin.json"] = """{"name":"reports","description":"Report tools","commands":"./extra-commands","agents":["./agents"]}""",
        ["plugins/reports/skills/chart/SKILL.md"] = "---\nname: chart\ndescription: Draws charts.\n---\n",
        ["plugins/reports/agents/reviewer.md"] = "---\nname: report-reviewer\ndescription: Reviews reports.\n---\n",
        ["plugins/reports/extra-commands/publish.md"] = "Publish the report.\n",
        [".claude/agents/planner.md"] = "---\nname: planner\ndescription: Plans work.\n---\n",
        [".claude/commands/ship.md"] = "# Ship it\n",
        [".github/agents/triage.agent.md"] = "---\ndescription: Triages issues.\n---\n",
        [".github/prompts/release-notes.prompt.md"] = "---\ndescription: Writes release notes.\n---\n",
        [".github/instructions/csharp.instructions.md"] = "---\napplyTo: '**/*.cs'\n---\nUse file-scoped namespaces.\n",
        [".github/copilot-instructions.md"] = "# Team conventions\n",
        ["AGENTS.md"] = "# Agents\nHow agents work here.\n",
        ["docs/readme.md"] = "Not a skill.\n",
    };

    [Fact]
    public async Task A_scan_finds_every_kind_of_skill_file_with_its_front_matter()
    {
        using var remote = new BareGitRemote(SkillRepository);
        await using var core = await TestCore.StartAsync();
        var registry = await core.Get<RegistryStore>().CreateAsync(new RegistryInput("team", "git", remote.Path, "main"), CancellationToken.None);

        var progress = await core.Get<RegistryScans>().ScanAsync(registry.Id, CancellationToken.None);

        Assert.Equal(("done", 100), (progress.Phase, progress.Percent));
        var skills = await core.Get<SkillCatalog>().ListSkillsAsync(registry.Id, CancellationToken.None);
        var found = skills.Select(s => (s.Kind, s.Name, s.QualifiedName, s.Path)).ToHashSet();
        Assert.Contains(("skill", "pdf-report", null, "skills/pdf-report/SKILL.md"), found);
        Assert.Contains(("codex-skill", "lint", null, ".codex/skills/lint/SKILL.md"), found);
        Assert.Contains(("plugin", "reports", "reports", "plugins/reports/.claude-plugin/plugin.json"), found);
        Assert.Contains(("skill", "chart", "reports:chart", "plugins/reports/skills/chart/SKILL.md"), found);
        Assert.Contains(("agent", "report-reviewer", "reports:report-reviewer", "plugins/reports/agents/reviewer.md"), found);
        Assert.Contains(("command", "publish", "reports:publish", "plugins/reports/extra-commands/publish.md"), found);
        Assert.Contains(("agent", "planner", null, ".claude/agents/planner.md"), found);
        Assert.Contains(("command", "ship", null, ".claude/commands/ship.md"), found);
        Assert.Contains(("agent", "triage", null, ".github/agents/triage.agent.md"), found);
        Assert.Contains(("prompt", "release-notes", null, ".github/prompts/release-notes.prompt.md"), found);
        Assert.Contains(("instructions", "csharp", null, ".github/instructions/csharp.instructions.md"), found);
        Assert.Contains(("instructions", "copilot-instructions", null, ".github/copilot-instructions.md"), found);
        Assert.Contains(("agents-md", "AGENTS.md", null, "AGENTS.md"), found);
        Assert.DoesNotContain(skills, s => s.Path == "docs/readme.md");
        Assert.Equal("Deploys the service to staging.", skills.Single(s => s.Name == "deploy").Description);
        Assert.Equal(remote.Tip("main")!.Value.Sha, (await core.Get<RegistryStore>().GetAsync(registry.Id, CancellationToken.None))!.LastScanCommit);
    }

    [Fact]
    public async Task Symlinks_and_manifest_paths_that_climb_out_of_the_repository_are_refused()
    {
        var files = new Dictionary<string, string>
        {
            ["skills/good/SKILL.md"] = "---\nname: good\n---\n",
            ["plugins/evil/.claude-plugin/plugin.json"] = """{"name":"evil","commands":["../../../../etc","/etc","../../skills"],"agents":"C:\\Windows"}""",
        };
        var links = new Dictionary<string, string>
        {
            ["skills/leak/SKILL.md"] = "/etc/passwd",
            ["skills/escape"] = "../../..",
            ["plugins/evil/skills"] = "/home",
        };
        using var remote = new BareGitRemote(files, links);
        await using var core = await TestCore.StartAsync();
        var registry = await core.Get<RegistryStore>().CreateAsync(new RegistryInput("evil", "git", remote.Path, "main"), CancellationToken.None);

        var progress = await core.Get<RegistryScans>().ScanAsync(registry.Id, CancellationToken.None);

        Assert.Equal("done", progress.Phase);
        var paths = (await core.Get<SkillCatalog>().ListSkillsAsync(registry.Id, CancellationToken.None)).Select(s => s.Path).ToList();
        Assert.Equal(["plugins/evil/.claude-plugin/plugin.json", "skills/good/SKILL.md"], paths.Order(StringComparer.Ordinal));
        Assert.Contains(progress.Skipped, s => s.StartsWith("skills/leak/SKILL.md: a symbolic link", StringComparison.Ordinal));
        Assert.Contains(progress.Skipped, s => s.Contains("'../../../../etc' leaves the repository", StringComparison.Ordinal));
        Assert.Contains(progress.Skipped, s => s.Contains("'/etc' leaves the repository", StringComparison.Ordinal));
        Assert.Contains(progress.Skipped, s => s.Contains("plugins/evil/skills: a symbolic link", StringComparison.Ordinal));
        // Nothing was ever checked out: the mirror is bare, so no link can point anywhere on the server's disk.
        Assert.False(Directory.Exists(Path.Combine(core.Get<GitMirror>().PathOf(registry.Id), "skills")));
    }

    [Fact]
    public async Task Path_filters_limit_a_scan_to_the_matching_folders()
    {
        using var remote = new BareGitRemote(SkillRepository);
        await using var core = await TestCore.StartAsync();
        var registry = await core.Get<RegistryStore>().CreateAsync(
            new RegistryInput("filtered", "git", remote.Path, "main", PathFilters: ["skills/**", ".github/prompts/*.prompt.md"]), CancellationToken.None);

        await core.Get<RegistryScans>().ScanAsync(registry.Id, CancellationToken.None);

        var paths = (await core.Get<SkillCatalog>().ListSkillsAsync(registry.Id, CancellationToken.None)).Select(s => s.Path).Order(StringComparer.Ordinal).ToList();
        Assert.Equal([".github/prompts/release-notes.prompt.md", "skills/deploy/SKILL.md", "skills/pdf-report/SKILL.md"], paths);
    }

    [Fact]
    public async Task A_rescan_follows_the_branch_and_keeps_the_ids_of_skills_that_stayed()
    {
        using var remote = new BareGitRemote(SkillRepository);
        await using var core = await TestCore.StartAsync();
        var store = core.Get<RegistryStore>();
        var registry = await store.CreateAsync(new RegistryInput("team", "git", remote.Path, "main"), CancellationToken.None);
        await core.Get<RegistryScans>().ScanAsync(registry.Id, CancellationToken.None);
        var before = (await core.Get<SkillCatalog>().ListSkillsAsync(registry.Id, CancellationToken.None)).Single(s => s.Name == "pdf-report").Id;

        remote.Commit("Add a skill", new Dictionary<string, string> { ["skills/xlsx/SKILL.md"] = "---\nname: xlsx-export\n---\n" });
        await core.Get<RegistryScans>().ScanAsync(registry.Id, CancellationToken.None);

        var skills = await core.Get<SkillCatalog>().ListSkillsAsync(registry.Id, CancellationToken.None);
        Assert.Contains(skills, s => s.Name == "xlsx-export");
        Assert.Equal(before, skills.Single(s => s.Name == "pdf-report").Id);
    }

    [Fact]
    public async Task An_unreachable_remote_or_missing_branch_fails_the_scan_visibly_and_keeps_what_was_found()
    {
        using var remote = new BareGitRemote(SkillRepository);
        await using var core = await TestCore.StartAsync();
        var store = core.Get<RegistryStore>();
        var registry = await store.CreateAsync(new RegistryInput("team", "git", remote.Path, "main"), CancellationToken.None);
        await core.Get<RegistryScans>().ScanAsync(registry.Id, CancellationToken.None);
        var count = (await core.Get<SkillCatalog>().ListSkillsAsync(registry.Id, CancellationToken.None)).Count;

        await store.UpdateAsync(registry.Id, new RegistryInput("team", "git", remote.Path, "no-such-branch"), CancellationToken.None);
        var failed = await core.Get<RegistryScans>().ScanAsync(registry.Id, CancellationToken.None);

        Assert.Equal("failed", failed.Phase);
        Assert.Contains("no-such-branch", failed.Error, StringComparison.Ordinal);
        Assert.Contains("no-such-branch", (await store.GetAsync(registry.Id, CancellationToken.None))!.LastScanError, StringComparison.Ordinal);
        Assert.Equal(count, (await core.Get<SkillCatalog>().ListSkillsAsync(registry.Id, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task A_change_of_what_scans_read_or_a_new_token_queues_a_rescan_and_a_change_of_name_or_threshold_does_not()
    {
        using var remote = new BareGitRemote(SkillRepository);
        await using var core = await TestCore.StartAsync();
        var scans = core.Get<RegistryScans>();
        var registry = await core.Get<RegistryStore>().CreateAsync(new RegistryInput("team", "git", remote.Path, "main"), CancellationToken.None);
        await scans.ScanAsync(registry.Id, CancellationToken.None);

        var renamed = await scans.UpdateAsync(registry.Id, new RegistryInput("platform", "git", remote.Path, "main", DistinctUsers: 4), CancellationToken.None);
        Assert.Equal(("platform", 4), (renamed.Name, renamed.DistinctUsers));
        Assert.Equal("done", scans.Progress(registry.Id)!.Phase);

        foreach (var change in new[]
                 {
                     new RegistryInput("platform", "git", remote.Path, "main", PathFilters: ["skills/**"]),
                     new RegistryInput("platform", "git", remote.Path, "release", PathFilters: ["skills/**"]),
                     new RegistryInput("platform", "git", "file://" + remote.Path, "release", PathFilters: ["skills/**"]),
                     new RegistryInput("platform", "git", "file://" + remote.Path, "release", "a-new-token", PathFilters: ["skills/**"]),
                 })
        {
            await scans.UpdateAsync(registry.Id, change, CancellationToken.None);
            Assert.Equal("queued", scans.Progress(registry.Id)!.Phase);
            await scans.ScanAsync(registry.Id, CancellationToken.None); // ends the queued one's turn (done or failed)
        }
    }

    [Fact]
    public async Task The_scheduler_scans_registries_that_were_never_scanned_or_are_due_and_leaves_fresh_ones_alone()
    {
        using var remote = new BareGitRemote(SkillRepository);
        await using var core = await TestCore.StartAsync();
        var store = core.Get<RegistryStore>();
        var fresh = await store.CreateAsync(new RegistryInput("fresh", "git", remote.Path, "main"), CancellationToken.None);
        await core.Get<RegistryScans>().ScanAsync(fresh.Id, CancellationToken.None);
        var scannedAt = (await store.GetAsync(fresh.Id, CancellationToken.None))!.LastScanAt;
        var never = await store.CreateAsync(new RegistryInput("never", "git", remote.Path, "main"), CancellationToken.None);

        var scheduler = core.Get<RegistryScans>();
        await scheduler.StartAsync(CancellationToken.None);
        try
        {
            await Poll.UntilAsync(() => store.GetAsync(never.Id, CancellationToken.None), r => r!.LastScanAt is not null, TimeSpan.FromSeconds(30));
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
        }

        Assert.NotNull((await store.GetAsync(never.Id, CancellationToken.None))!.LastScanAt);
        Assert.Equal(scannedAt, (await store.GetAsync(fresh.Id, CancellationToken.None))!.LastScanAt);
    }

    [Fact]
    public async Task The_access_token_is_stored_encrypted_and_only_decrypted_for_git()
    {
        await using var core = await TestCore.StartAsync();
        var store = core.Get<RegistryStore>();
        const string token = "ghp_secretTokenValue0123456789abcdefABCD";

        var registry = await store.CreateAsync(new RegistryInput("gh", "github", "https://github.com/acme/skills.git", "main", token), CancellationToken.None);

        Assert.True(registry.HasToken);
        Assert.Equal("acme/skills", registry.Repository);
        Assert.Equal(token, await store.TokenAsync(registry.Id, CancellationToken.None));
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var bytes = string.Join("", Directory.GetFiles(core.DataDirectory, "skillloop.db*").Select(f => System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(f))));
        Assert.DoesNotContain(token, bytes, StringComparison.Ordinal);
        // Keeping the token on update unless a new one is sent; "" removes it.
        Assert.True((await store.UpdateAsync(registry.Id, new RegistryInput("gh", "github", "https://github.com/acme/skills.git", "main"), CancellationToken.None)).HasToken);
        Assert.False((await store.UpdateAsync(registry.Id, new RegistryInput("gh", "github", "https://github.com/acme/skills.git", "main", ""), CancellationToken.None)).HasToken);
        Assert.NotNull(core.Services.GetService<IDataProtectionProvider>());
    }

    [Theory]
    [InlineData("https://evil.example/acme/skills.git", null)]
    [InlineData("http://github.com/acme/skills.git", null)]
    [InlineData("https://github.com:8443/acme/skills.git", null)]
    [InlineData("git@evil.example:acme/skills.git", null)]
    [InlineData("https://github.com/acme/skills.git", "http://api.evil.example/")]
    public async Task The_stored_token_is_dropped_when_the_clone_or_api_host_changes(string url, string? apiUrl)
    {
        await using var core = await TestCore.StartAsync();
        var store = core.Get<RegistryStore>();
        var registry = await store.CreateAsync(new RegistryInput("gh", "github", "https://github.com/acme/skills.git", "main", "ghp_secretTokenValue0123456789abcdefABCD"), CancellationToken.None);

        var moved = await store.UpdateAsync(registry.Id, new RegistryInput("gh", "github", url, "main", ApiUrl: apiUrl, Repository: "acme/skills"), CancellationToken.None);

        Assert.False(moved.HasToken);
        Assert.Null(await store.TokenAsync(registry.Id, CancellationToken.None));
    }

    [Fact]
    public async Task The_token_stays_for_a_change_on_the_same_host_and_a_new_token_may_come_with_a_move()
    {
        await using var core = await TestCore.StartAsync();
        var store = core.Get<RegistryStore>();
        var registry = await store.CreateAsync(new RegistryInput("gh", "github", "https://github.com/acme/skills.git", "main", "ghp_secretTokenValue0123456789abcdefABCD"), CancellationToken.None);

        var renamed = await store.UpdateAsync(registry.Id, new RegistryInput("gh", "github", "https://GitHub.com/acme/skills-v2.git", "dev"), CancellationToken.None);
        var moved = await store.UpdateAsync(registry.Id, new RegistryInput("gh", "gitea", "https://git.example.org/acme/skills.git", "dev", "new-token-for-gitea"), CancellationToken.None);

        Assert.True(renamed.HasToken);
        Assert.True(moved.HasToken);
        Assert.Equal("new-token-for-gitea", await store.TokenAsync(registry.Id, CancellationToken.None));
    }

    [Theory]
    [InlineData("", "git", "/tmp/x.git", "main", "name")]
    [InlineData("x", "svn", "/tmp/x.git", "main", "provider")]
    [InlineData("x", "git", "not a url", "main", "url")]
    [InlineData("x", "git", "/tmp/x.git", "feature..x", "branch")]
    [InlineData("x", "git", "/tmp/x.git", "-rf", "branch")]
    [InlineData("x", "github", "/tmp/x.git", "main", "repository")]
    public async Task Invalid_registry_input_names_the_field_and_stores_nothing(string name, string provider, string url, string branch, string field)
    {
        await using var core = await TestCore.StartAsync();
        var store = core.Get<RegistryStore>();

        var error = await Assert.ThrowsAsync<RegistryException>(() => store.CreateAsync(new RegistryInput(name, provider, url, branch), CancellationToken.None));

        Assert.Equal(field, error.Field);
        Assert.Empty(await store.ListAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("skills/**", "skills/a/b/SKILL.md", true)]
    [InlineData("skills/*/SKILL.md", "skills/a/SKILL.md", true)]
    [InlineData("skills/*/SKILL.md", "skills/a/b/SKILL.md", false)]
    [InlineData("**/SKILL.md", "SKILL.md", true)]
    [InlineData(".github", ".github/prompts/x.prompt.md", true)]
    [InlineData("docs", "docsx/a.md", false)]
    public void Path_globs_match_folders_and_names(string glob, string path, bool matches) =>
        Assert.Equal(matches, PathGlob.IsMatch(glob, path));

    [Theory]
    [InlineData("plugins/a", "./skills", "plugins/a/skills")]
    [InlineData("plugins/a", "../shared", "plugins/shared")]
    [InlineData("plugins/a", "../../../x", null)]
    [InlineData("", "/etc", null)]
    [InlineData("", "C:\\Windows", null)]
    public void Paths_named_in_manifests_are_joined_without_leaving_the_repository(string directory, string relative, string? expected) =>
        Assert.Equal(expected, PathGlob.Combine(directory, relative));
}
