using System.Text.Json.Nodes;
using SkillLoop.Hooks.Hook;

namespace SkillLoop.Tests.Hooks;

public sealed class ClaudeInstallerTests : IDisposable
{
    private const string OurCommand = ClientRunner.Executable + " hook claude";
    private readonly TempDir _dir = new();
    private readonly ClientRunner _client;

    public ClaudeInstallerTests() => _client = new ClientRunner(_dir);

    public void Dispose() => _dir.Dispose();

    private string UserSettings => Path.Combine(_client.Home, ".claude", "settings.json");

    private const string ExistingSettings = """
        {
          "model": "opus",
          "permissions": { "allow": ["Bash(ls:*)"] },
          "hooks": {
            "Stop": [ { "matcher": "", "hooks": [ { "type": "command", "command": "notify-send done" } ] } ],
            "PreToolUse": [ { "matcher": "Bash", "hooks": [ { "type": "command", "command": "guard.sh" } ] } ]
          }
        }
        """;

    private static JsonNode Read(string path) => JsonNode.Parse(File.ReadAllText(path))!;

    private static List<string?> StopCommands(JsonNode settings) =>
        settings["hooks"]!["Stop"]!.AsArray()
            .SelectMany(g => g!["hooks"]!.AsArray())
            .Select(h => h!["command"]!.GetValue<string>())
            .ToList<string?>();

    [Fact]
    public async Task Install_adds_a_stop_hook_to_a_fresh_home_and_writes_the_client_config()
    {
        var (code, _, err) = await _client.InstallAsync("claude");

        Assert.Equal(0, code);
        Assert.Equal("", err);
        var settings = Read(UserSettings);
        var group = settings["hooks"]!["Stop"]![0]!;
        Assert.Equal("", group["matcher"]!.GetValue<string>());
        Assert.Equal("command", group["hooks"]![0]!["type"]!.GetValue<string>());
        Assert.Equal(OurCommand, group["hooks"]![0]!["command"]!.GetValue<string>());
        var config = ClientConfigFile.Load(_client.Home);
        Assert.Equal(new ClientConfigFile("http://127.0.0.1:5000", "tok-123"), config);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ClientConfigFile.PathIn(_client.Home)));
        Assert.False(File.Exists(UserSettings + ".skillloop-backup")); // nothing existed to back up
    }

    [Fact]
    public async Task Install_keeps_every_other_setting_and_hook_and_backs_up_once()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(UserSettings)!);
        File.WriteAllText(UserSettings, ExistingSettings);

        await _client.InstallAsync("claude");
        await _client.RunAsync("uninstall", "claude");
        await _client.InstallAsync("claude");

        var settings = Read(UserSettings);
        Assert.Equal("opus", settings["model"]!.GetValue<string>());
        Assert.Equal("Bash(ls:*)", settings["permissions"]!["allow"]![0]!.GetValue<string>());
        Assert.Equal("guard.sh", settings["hooks"]!["PreToolUse"]![0]!["hooks"]![0]!["command"]!.GetValue<string>());
        Assert.Equal(["notify-send done", OurCommand], StopCommands(settings));
        Assert.Equal(ExistingSettings, File.ReadAllText(UserSettings + ".skillloop-backup"));
    }

    [Fact]
    public async Task Install_is_idempotent()
    {
        await _client.InstallAsync("claude");
        var first = File.ReadAllText(UserSettings);
        var firstWrite = File.GetLastWriteTimeUtc(UserSettings);

        var (code, output, _) = await _client.InstallAsync("claude");

        Assert.Equal(0, code);
        Assert.Contains("already installed", output);
        Assert.Equal(first, File.ReadAllText(UserSettings));
        Assert.Equal(firstWrite, File.GetLastWriteTimeUtc(UserSettings));
        Assert.Single(StopCommands(Read(UserSettings)));
    }

    [Fact]
    public async Task Uninstall_removes_only_what_install_added()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(UserSettings)!);
        File.WriteAllText(UserSettings, ExistingSettings);
        var before = Read(UserSettings).ToJsonString();

        await _client.InstallAsync("claude");
        var (code, _, _) = await _client.RunAsync("uninstall", "claude");

        Assert.Equal(0, code);
        Assert.Equal(before, Read(UserSettings).ToJsonString());
    }

    [Fact]
    public async Task Uninstall_of_a_fresh_install_leaves_no_empty_hook_containers()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(UserSettings)!);
        File.WriteAllText(UserSettings, """{"model":"opus"}""");

        await _client.InstallAsync("claude");
        await _client.RunAsync("uninstall", "claude");

        Assert.Equal("""{"model":"opus"}""", Read(UserSettings).ToJsonString());
    }

    [Theory]
    [InlineData("{ \"model\": \"opus\", ")]
    [InlineData("// comment\n{}")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"hooks\": []}")]
    [InlineData("{\"hooks\": {\"Stop\": {}}}")]
    public async Task A_settings_file_that_cannot_be_parsed_is_never_overwritten(string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(UserSettings)!);
        File.WriteAllText(UserSettings, content);

        var (code, _, err) = await _client.InstallAsync("claude");

        Assert.NotEqual(0, code);
        Assert.Contains(UserSettings, err);
        Assert.Contains("cannot parse", err);
        Assert.Equal(content, File.ReadAllText(UserSettings));
        Assert.False(File.Exists(UserSettings + ".skillloop-backup"));
        Assert.Null(ClientConfigFile.Load(_client.Home)); // nothing at all was written
    }

    [Fact]
    public async Task Project_scope_writes_the_project_settings_file()
    {
        var (code, _, _) = await _client.InstallAsync("claude", "--scope", "project", "--dir", _client.Project);

        Assert.Equal(0, code);
        var projectSettings = Path.Combine(_client.Project, ".claude", "settings.json");
        Assert.Equal([OurCommand], StopCommands(Read(projectSettings)));
        Assert.False(File.Exists(UserSettings));
    }

    [Fact]
    public async Task Project_scope_defaults_to_the_current_directory()
    {
        await _client.InstallAsync("claude", "--scope", "project");

        Assert.True(File.Exists(Path.Combine(_client.Project, ".claude", "settings.json")));
    }

    [Fact]
    public async Task Status_lists_what_is_installed_where()
    {
        await _client.InstallAsync("claude");
        await _client.InstallAsync("claude", "--scope", "project");

        var (code, output, _) = await _client.RunAsync("status", "--offline");

        Assert.Equal(0, code);
        Assert.Contains($"claude\tuser\t{UserSettings}", output);
        Assert.Contains($"claude\tproject\t{Path.Combine(_client.Project, ".claude", "settings.json")}", output);
        Assert.Contains("http://127.0.0.1:5000", output);
        Assert.DoesNotContain("tok-123", output);
    }

    [Fact]
    public async Task Install_without_a_server_fails_and_writes_nothing()
    {
        var (code, _, err) = await _client.RunAsync("install", "claude");

        Assert.NotEqual(0, code);
        Assert.Contains("--url", err);
        Assert.False(File.Exists(UserSettings));
    }

    [Fact]
    public async Task A_moved_executable_updates_the_hook_instead_of_adding_a_second()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(UserSettings)!);
        File.WriteAllText(UserSettings,
            """{"hooks":{"Stop":[{"matcher":"","hooks":[{"type":"command","command":"/old/place/skillloop-client hook claude"}]}]}}""");

        await _client.InstallAsync("claude");

        Assert.Equal([OurCommand], StopCommands(Read(UserSettings)));
    }
}

public sealed class InstallRegistryTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ClientRunner _client;

    public InstallRegistryTests() => _client = new ClientRunner(_dir);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Uninstalling_the_last_hook_removes_the_client_config_too()
    {
        await _client.InstallAsync("claude");
        await _client.InstallAsync("cursor");

        await _client.RunAsync("uninstall", "claude");
        var afterFirst = ClientConfigFile.Load(_client.Home);
        await _client.RunAsync("uninstall", "cursor");

        Assert.NotNull(afterFirst); // the cursor hook still needs it
        Assert.Null(ClientConfigFile.Load(_client.Home));
        Assert.False(Directory.Exists(Path.Combine(_client.Home, ".skillloop")));
    }

    [Fact]
    public async Task Status_lists_project_installs_made_from_other_directories()
    {
        var elsewhere = Directory.CreateDirectory(Path.Combine(_dir.Root, "other-repo")).FullName;
        await _client.InstallAsync("vscode", "--dir", elsewhere);

        var (_, output, _) = await _client.RunAsync("status");

        Assert.Contains($"vscode\tproject\t{Path.Combine(elsewhere, ".github", "hooks", "skillloop-vscode.json")}", output);
    }

    [Fact]
    public async Task A_hook_removed_by_hand_is_not_reported()
    {
        await _client.InstallAsync("cursor");
        File.Delete(Path.Combine(_client.Home, ".cursor", "hooks.json"));

        var (_, output, _) = await _client.RunAsync("status");

        Assert.Contains("no SkillLoop hooks installed", output);
    }
}
