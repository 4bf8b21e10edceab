using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Hook;
using SkillLoop.Hooks.Install;

namespace SkillLoop.Tests.Hooks;

/// <summary><c>install --all</c> and <c>install --agents</c>: what the one-line installer runs.</summary>
public sealed class InstallAllTests : IDisposable
{
    private readonly TempDir _home = new();

    public void Dispose() => _home.Dispose();

    private async Task<(int Code, string Out, string Err)> RunAsync(Dictionary<string, string>? variables, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var env = new ClientEnvironment(_home.Root, _home.Root, "/opt/bin/skillloop-client", variables ?? []);
        var code = await ClientApp.RunAsync(args, TextReader.Null, stdout, stderr, env);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task All_hooks_only_the_agents_whose_folders_exist_including_a_claude_config_dir_elsewhere()
    {
        var claudeHome = _home.File("claude-elsewhere");
        Directory.CreateDirectory(claudeHome);
        Directory.CreateDirectory(_home.File(".cursor"));

        var env = new ClientEnvironment(_home.Root, _home.Root, "/opt/bin/skillloop-client", new Dictionary<string, string> { ["CLAUDE_CONFIG_DIR"] = claudeHome });

        Assert.Equal(["claude", "cursor"], AgentDetection.Found(env));
        Assert.DoesNotContain("claude", AgentDetection.Found(env with { Variables = new Dictionary<string, string>() }));
        var (code, stdout, _) = await RunAsync(null, "install", "--all", "--url", "http://127.0.0.1:9", "--token", "t", "--offline");
        Assert.Equal(0, code);
        Assert.Contains("found: cursor", stdout);
        Assert.True(File.Exists(_home.File(Path.Combine(".cursor", "hooks.json"))));
        Assert.False(File.Exists(_home.File(Path.Combine(".claude", "settings.json"))));
    }

    [Fact]
    public async Task With_no_agent_found_all_says_what_it_looked_for_and_still_remembers_the_server()
    {
        var (code, stdout, _) = await RunAsync(null, "install", "--all", "--url", "http://127.0.0.1:9", "--token", "t", "--offline");

        Assert.Equal(0, code);
        Assert.Contains($"no agent found under {_home.Root}", stdout);
        Assert.Contains(Path.Combine(_home.Root, ".claude"), stdout);
        Assert.Equal(new ClientConfigFile("http://127.0.0.1:9", "t"), ClientConfigFile.Load(_home.Root));
    }

    [Fact]
    public async Task Named_agents_are_checked_before_anything_is_written()
    {
        var unknown = await RunAsync(null, "install", "--agents", "claude,emacs", "--url", "http://127.0.0.1:9", "--token", "t", "--offline");
        var empty = await RunAsync(null, "install", "--agents", "--url", "http://127.0.0.1:9", "--token", "t");
        var named = await RunAsync(null, "install", "--agents", " Copilot ,claude", "--url", "http://127.0.0.1:9", "--token", "t", "--offline");

        Assert.Equal(64, unknown.Code);
        Assert.Contains("unknown: emacs", unknown.Err);
        Assert.Equal(64, empty.Code);
        Assert.Equal(0, named.Code);
        Assert.True(File.Exists(_home.File(Path.Combine(".copilot", "hooks", "skillloop.json"))));
        Assert.True(File.Exists(_home.File(Path.Combine(".claude", "settings.json"))));
        Assert.Contains("/opt/bin/skillloop-client hook claude", File.ReadAllText(_home.File(Path.Combine(".claude", "settings.json"))));
    }

    [Fact]
    public async Task Version_prints_the_client_version_the_manifest_is_built_with()
    {
        var (code, stdout, _) = await RunAsync(null, "--version");
        Assert.Equal((0, SignalWorker.Version), (code, stdout.Trim()));
        Assert.Equal(SignalWorker.Version, (await RunAsync(null, "version")).Out.Trim());
    }

    [Fact]
    public void Versions_compare_as_numbers()
    {
        Assert.True(ClientStatus.IsNewer("0.10.0", "0.9.1"));
        Assert.True(ClientStatus.IsNewer("1", "0.9"));
        Assert.False(ClientStatus.IsNewer("0.1.0", "0.1.0"));
        Assert.False(ClientStatus.IsNewer("0.1.0-beta", "0.1.0"));
        Assert.False(ClientStatus.IsNewer("garbage", "0.1.0"));
    }
}
