using System.Text.Json.Nodes;

namespace SkillLoop.Tests.Hooks;

/// <summary>Install/uninstall round trips for the platforms whose hooks live in JSON files.</summary>
public sealed class PlatformInstallerTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ClientRunner _client;

    public PlatformInstallerTests() => _client = new ClientRunner(_dir);

    public void Dispose() => _dir.Dispose();

    // User-scope file (under HOME), project-scope file (under --dir), JSON path of our command.
    private static readonly Dictionary<string, (string UserFile, string ProjectFile, string CommandPath)> Specs = new()
    {
        ["claude"] = (".claude/settings.json", ".claude/settings.json", "hooks.Stop[].hooks[].command"),
        ["copilot"] = (".copilot/hooks/skillloop.json", ".github/hooks/skillloop.json", "hooks.agentStop[].bash"),
        ["vscode"] = (".copilot/hooks/skillloop-vscode.json", ".github/hooks/skillloop-vscode.json", "hooks.Stop[].command"),
        ["cursor"] = (".cursor/hooks.json", ".cursor/hooks.json", "hooks.stop[].command"),
        ["codex"] = (".codex/hooks.json", ".codex/hooks.json", "hooks.Stop[].hooks[].command"),
    };

    public static TheoryData<string> Platforms => new(Specs.Keys);

    /// <summary>Every string at a simple path like <c>hooks.Stop[].hooks[].command</c>.</summary>
    private static List<string> At(JsonNode? node, string path)
    {
        IEnumerable<JsonNode?> current = [node];
        foreach (var part in path.Split('.'))
        {
            var name = part.TrimEnd('[', ']');
            current = current.Select(n => (n as JsonObject)?[name]);
            if (part.EndsWith("[]", StringComparison.Ordinal))
                current = current.SelectMany(n => n as JsonArray ?? []);
        }
        return current.OfType<JsonValue>().Select(v => v.GetValue<string>()).ToList();
    }

    private string UserFile(string relative) => Path.Combine(_client.Home, relative);

    [Theory]
    [MemberData(nameof(Platforms))]
    public async Task Install_writes_the_hook_and_is_idempotent(string platform)
    {
        var (userFile, _, commandPath) = Specs[platform];
        var (code, _, err) = await _client.InstallAsync(platform);
        var first = File.ReadAllText(UserFile(userFile));
        var (again, output, _) = await _client.InstallAsync(platform);

        Assert.Equal(0, code);
        Assert.Equal("", err);
        Assert.Equal(0, again);
        Assert.Contains("already installed", output);
        Assert.Equal(first, File.ReadAllText(UserFile(userFile)));
        Assert.Equal([$"{ClientRunner.Executable} hook {platform}"], At(JsonNode.Parse(first), commandPath));
    }

    [Theory]
    [MemberData(nameof(Platforms))]
    public async Task Uninstall_restores_a_file_that_held_other_hooks_and_settings(string platform)
    {
        var (userFile, _, commandPath) = Specs[platform];
        var path = UserFile(userFile);
        var foreignCommandPath = commandPath;
        var existing = new JsonObject { ["keepMe"] = new JsonObject { ["nested"] = true } };
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, existing.ToJsonString());
        await _client.InstallAsync(platform);
        var installed = JsonNode.Parse(File.ReadAllText(path))!;

        await _client.RunAsync("uninstall", platform);

        Assert.True(installed["keepMe"]!["nested"]!.GetValue<bool>());
        var after = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.True(after["keepMe"]!["nested"]!.GetValue<bool>());
        Assert.Empty(At(after, foreignCommandPath));
        Assert.Equal(existing.ToJsonString(), File.ReadAllText(path + ".skillloop-backup"));
    }

    [Theory]
    [MemberData(nameof(Platforms))]
    public async Task A_file_install_created_is_removed_again_by_uninstall(string platform)
    {
        var userFile = Specs[platform].UserFile;
        await _client.InstallAsync(platform);

        var (code, _, _) = await _client.RunAsync("uninstall", platform);

        Assert.Equal(0, code);
        Assert.False(File.Exists(UserFile(userFile)));
    }

    [Theory]
    [MemberData(nameof(Platforms))]
    public async Task A_malformed_config_is_reported_and_left_untouched(string platform)
    {
        var userFile = Specs[platform].UserFile;
        var path = UserFile(userFile);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "{ \"hooks\": { oops");

        var (code, _, err) = await _client.InstallAsync(platform);
        var (uninstallCode, _, _) = await _client.RunAsync("uninstall", platform);

        Assert.NotEqual(0, code);
        Assert.NotEqual(0, uninstallCode);
        Assert.Contains(path, err);
        Assert.Equal("{ \"hooks\": { oops", File.ReadAllText(path));
    }

    [Theory]
    [MemberData(nameof(Platforms))]
    public async Task Project_scope_writes_under_the_given_directory(string platform)
    {
        var (userFile, projectFile, commandPath) = Specs[platform];
        var (code, _, _) = await _client.InstallAsync(platform, "--scope", "project", "--dir", _client.Project);

        Assert.Equal(0, code);
        Assert.False(File.Exists(UserFile(userFile)));
        var written = JsonNode.Parse(File.ReadAllText(Path.Combine(_client.Project, projectFile)));
        Assert.Single(At(written, commandPath));
        var (_, status, _) = await _client.RunAsync("status");
        Assert.Contains($"{platform}\tproject\t{Path.Combine(_client.Project, projectFile)}", status);
    }

    [Fact]
    public async Task Other_hooks_for_the_same_event_are_kept_beside_ours()
    {
        var path = UserFile(".cursor/hooks.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, """{"version":1,"hooks":{"stop":[{"command":"./notify.sh"}],"afterFileEdit":[{"command":"./fmt.sh"}]}}""");

        await _client.InstallAsync("cursor");
        var installed = JsonNode.Parse(File.ReadAllText(path));
        await _client.RunAsync("uninstall", "cursor");

        Assert.Equal(["./notify.sh", $"{ClientRunner.Executable} hook cursor"], At(installed, "hooks.stop[].command"));
        Assert.Equal(
            JsonNode.Parse("""{"version":1,"hooks":{"stop":[{"command":"./notify.sh"}],"afterFileEdit":[{"command":"./fmt.sh"}]}}""")!.ToJsonString(),
            JsonNode.Parse(File.ReadAllText(path))!.ToJsonString());
    }

    [Fact]
    public async Task Copilot_hooks_carry_bash_powershell_and_a_timeout()
    {
        await _client.InstallAsync("copilot");

        var entry = JsonNode.Parse(File.ReadAllText(UserFile(".copilot/hooks/skillloop.json")))!["hooks"]!["agentStop"]![0]!;
        Assert.Equal(1, JsonNode.Parse(File.ReadAllText(UserFile(".copilot/hooks/skillloop.json")))!["version"]!.GetValue<int>());
        Assert.Equal("command", entry["type"]!.GetValue<string>());
        Assert.Contains("hook copilot", entry["powershell"]!.GetValue<string>());
        Assert.True(entry["timeoutSec"]!.GetValue<int>() > 0);
    }
}
