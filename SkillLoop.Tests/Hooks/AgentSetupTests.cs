using System.Text.Json.Nodes;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Hook;
using SkillLoop.Hooks.Install;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Hooks;

/// <summary>Install that ends in a hook the agent really runs, in the agent's own home, against a server that answers.</summary>
public sealed class AgentSetupTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ClientRunner _client;

    public AgentSetupTests() => _client = new ClientRunner(_dir);

    public void Dispose() => _dir.Dispose();

    private string CodexHome => Path.Combine(_client.Home, ".codex");

    [Fact]
    public async Task The_codex_hook_is_recorded_as_trusted_exactly_the_way_codex_computes_trust()
    {
        await _client.InstallAsync("codex");

        var hooksJson = Path.Combine(CodexHome, "hooks.json");
        var command = JsonNode.Parse(File.ReadAllText(hooksJson))!["hooks"]!["Stop"]![0]!["hooks"]![0]!["command"]!.GetValue<string>();
        var config = File.ReadAllText(Path.Combine(CodexHome, "config.toml"));
        // What codex-rs hashes: the normalized identity as canonical compact JSON.
        var identity = "{\"event_name\":\"stop\",\"hooks\":[{\"async\":false,\"command\":" + System.Text.Json.JsonSerializer.Serialize(command)
            + ",\"timeout\":10,\"type\":\"command\"}]}";
        var expected = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(identity)));

        Assert.Contains($"[hooks.state.\"{hooksJson}:stop:0:0\"]\ntrusted_hash = \"{expected}\"\n", config);
    }

    [Fact]
    public async Task The_codex_hook_sits_after_the_users_own_stop_hooks_and_its_key_says_so()
    {
        Directory.CreateDirectory(CodexHome);
        File.WriteAllText(Path.Combine(CodexHome, "hooks.json"), """{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"say done"}]}]}}""");
        File.WriteAllText(Path.Combine(CodexHome, "config.toml"), "model = \"gpt-5\"\n\n[hooks.state.\"/elsewhere/hooks.json:stop:0:0\"]\ntrusted_hash = \"sha256:theirs\"\n");

        await _client.InstallAsync("codex");
        var config = File.ReadAllText(Path.Combine(CodexHome, "config.toml"));
        await _client.RunAsync("uninstall", "codex");

        Assert.Contains($"hooks.json:stop:1:0\"]", config);
        Assert.StartsWith("model = \"gpt-5\"\n\n[hooks.state.\"/elsewhere/hooks.json:stop:0:0\"]\ntrusted_hash = \"sha256:theirs\"\n", config);
        Assert.Equal("model = \"gpt-5\"\n\n[hooks.state.\"/elsewhere/hooks.json:stop:0:0\"]\ntrusted_hash = \"sha256:theirs\"\n",
            File.ReadAllText(Path.Combine(CodexHome, "config.toml")));
    }

    [Fact]
    public async Task Status_says_whether_codex_really_runs_the_hook_and_when_it_last_fired()
    {
        await _client.InstallAsync("codex");
        var trusted = (await _client.RunAsync("status", "--offline")).Out;
        // The user edits the hook by hand: Codex no longer trusts it.
        var hooksJson = Path.Combine(CodexHome, "hooks.json");
        File.WriteAllText(hooksJson, File.ReadAllText(hooksJson).Replace("\"timeout\": 10", "\"timeout\": 30"));
        HookActivity.Record(_client.Home, "codex", new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
        var modified = (await _client.RunAsync("status", "--offline")).Out;

        Assert.Contains("installed, trusted in", trusted);
        Assert.Contains("never fired yet", trusted);
        Assert.Contains("NOT TRUSTED", modified);
        Assert.Contains("last fired 2026-12-01 12:00:00Z", modified);
    }

    [Fact]
    public async Task A_config_toml_that_sets_hook_state_inline_gets_the_notify_program_instead_and_says_so()
    {
        Directory.CreateDirectory(CodexHome);
        var config = Path.Combine(CodexHome, "config.toml");
        File.WriteAllText(config, "[hooks]\nstate = { }\n");

        var (code, output, _) = await _client.InstallAsync("codex");

        Assert.Equal(0, code);
        Assert.False(File.Exists(Path.Combine(CodexHome, "hooks.json")));
        Assert.Equal(CodexInstaller.OurNotify(ClientRunner.Executable), TomlNotify.Read(config)!.Value);
        Assert.Contains($"installed the SkillLoop hook in {config}", output);
        Assert.Contains("notify program", output);
    }

    [Fact]
    public async Task Install_codex_notify_names_config_toml_not_hooks_json()
    {
        var (_, output, _) = await _client.InstallAsync("codex", "--notify");
        var status = (await _client.RunAsync("status", "--offline")).Out;
        var (_, removed, _) = await _client.RunAsync("uninstall", "codex");

        var config = Path.Combine(CodexHome, "config.toml");
        Assert.Contains($"in {config}", output);
        Assert.DoesNotContain("hooks.json", output);
        Assert.Contains($"codex\tuser\t{config}\tinstalled, as the notify program", status);
        Assert.Contains($"from {config}", removed);
    }

    [Fact]
    public async Task Agent_homes_from_the_environment_are_where_install_status_and_uninstall_work()
    {
        var claude = Path.Combine(_dir.Root, "claude-config");
        var codex = Path.Combine(_dir.Root, "codex-home");
        var copilot = Path.Combine(_dir.Root, "copilot-home");
        _client.Variables["CLAUDE_CONFIG_DIR"] = claude;
        _client.Variables["CODEX_HOME"] = codex;
        _client.Variables["COPILOT_HOME"] = copilot;

        foreach (var platform in new[] { "claude", "codex", "copilot" })
            Assert.Equal(0, (await _client.InstallAsync(platform)).Code);
        var status = (await _client.RunAsync("status", "--offline")).Out;

        Assert.True(File.Exists(Path.Combine(claude, "settings.json")));
        Assert.True(File.Exists(Path.Combine(codex, "hooks.json")));
        Assert.Contains(Path.Combine(codex, "hooks.json") + ":stop:0:0", File.ReadAllText(Path.Combine(codex, "config.toml")));
        Assert.True(File.Exists(Path.Combine(copilot, "hooks", "skillloop.json")));
        Assert.False(Directory.Exists(Path.Combine(_client.Home, ".claude")));
        Assert.False(Directory.Exists(Path.Combine(_client.Home, ".codex")));
        Assert.Contains($"claude\tuser\t{Path.Combine(claude, "settings.json")}", status);
        Assert.Contains($"codex\tuser\t{Path.Combine(codex, "hooks.json")}", status);

        foreach (var platform in new[] { "claude", "codex", "copilot" })
            await _client.RunAsync("uninstall", platform);
        Assert.False(File.Exists(Path.Combine(codex, "hooks.json")));
        Assert.DoesNotContain("hooks.state", File.Exists(Path.Combine(codex, "config.toml")) ? File.ReadAllText(Path.Combine(codex, "config.toml")) : "");
        Assert.False(File.Exists(Path.Combine(copilot, "hooks", "skillloop.json")));
    }

    [Fact]
    public void Hook_payloads_find_sessions_in_the_agent_homes()
    {
        var codex = Path.Combine(_dir.Root, "codex-home");
        var copilot = Path.Combine(_dir.Root, "copilot-home");
        var day = Directory.CreateDirectory(Path.Combine(codex, "sessions", "2026", "12", "01")).FullName;
        var rollout = Path.Combine(day, "rollout-2026-12-01T11-20-41-01a23155-e2b2-7d01-9f37-838f4217b5bb.jsonl");
        File.Copy(HooksFixtures.Path("real-cli", "codex-0.171.0-rollout.jsonl"), rollout);
        var homes = new SkillLoop.Hooks.Cli.AgentHomes(_client.Home, Path.Combine(_dir.Root, "claude"), codex, copilot);

        var notify = HookEvent.Parse(File.ReadAllText(HooksFixtures.Path("real-cli", "codex-0.171.0-notify-payload.json"))
            .Replace("01a23156-53e7-7fb3-b5e1-0d0f2bee1df7", "01a23155-e2b2-7d01-9f37-838f4217b5bb"), "codex", homes);
        var copilotEvent = HookEvent.Parse("""{"sessionId":"c1","stopReason":"end_turn"}""", "copilot", homes);

        Assert.Equal(rollout, notify?.TranscriptPath);
        Assert.Equal(Path.Combine(copilot, "session-state", "c1", "events.jsonl"), copilotEvent?.TranscriptPath);
    }

    [Fact]
    public async Task Install_checks_the_server_and_the_token_before_writing_anything()
    {
        using var server = new FakeSkillLoopServer("good-token") { Config = new ClientConfig(DefaultPatterns.All, new ClientSettings()) };

        var refused = await _client.RunAsync("install", "claude", "--url", server.Url, "--token", "wrong");
        var wroteAfterRefusal = File.Exists(Path.Combine(_client.Home, ".claude", "settings.json"));
        var accepted = await _client.RunAsync("install", "claude", "--url", server.Url, "--token", "good-token");

        Assert.Equal(2, refused.Code);
        Assert.Contains("refused the token", refused.Err);
        Assert.False(wroteAfterRefusal);
        Assert.Equal(0, accepted.Code);
        Assert.True(File.Exists(Path.Combine(_client.Home, ".claude", "settings.json")));
    }

    [Fact]
    public async Task An_unreachable_server_or_a_url_without_scheme_is_named_and_exits_2()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        var unreachable = await _client.RunAsync("install", "claude", "--url", $"http://127.0.0.1:{port}", "--token", "t");
        var noScheme = await _client.RunAsync("install", "claude", "--url", "skillloop.example.com:8080", "--token", "t");

        Assert.Equal(2, unreachable.Code);
        Assert.Contains("cannot reach the server", unreachable.Err);
        Assert.Equal(2, noScheme.Code);
        Assert.Contains("no scheme", noScheme.Err);
        Assert.False(File.Exists(Path.Combine(_client.Home, ".claude", "settings.json")));
    }

    [Fact]
    public async Task Plain_http_to_another_machine_is_warned_about()
    {
        var (code, _, err) = await _client.RunAsync("install", "claude", "--url", "http://skillloop.example.com:8080", "--token", "t", "--offline");

        Assert.Equal(0, code);
        Assert.Contains("unencrypted", err);
    }

    [Fact]
    public async Task Status_exits_1_with_the_reason_when_the_server_refuses_the_token()
    {
        using var server = new FakeSkillLoopServer("good-token") { Config = new ClientConfig(DefaultPatterns.All, new ClientSettings()) };
        await _client.RunAsync("install", "claude", "--url", server.Url, "--token", "good-token");
        var ok = await _client.RunAsync("status");
        new ClientConfigFile(server.Url, "revoked").Save(_client.Home);

        var refused = await _client.RunAsync("status");

        Assert.Equal(0, ok.Code);
        Assert.Equal(1, refused.Code);
        Assert.Contains("refused the token", refused.Err);
        Assert.Contains("claude\tuser", refused.Out);
    }
}
