using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Hook;
using SkillLoop.Hooks.Install;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Tests.Hooks;

public sealed class CodexTests : IDisposable
{
    private const string Rollout = "rollout-2025-12-28T12-18-30-019b64e5-57fa-7463-b644-fba7e456f905.jsonl";
    private readonly TempDir _dir = new();
    private readonly ClientRunner _client;

    public CodexTests() => _client = new ClientRunner(_dir);

    public void Dispose() => _dir.Dispose();

    private static TranscriptRead ReadFixture() => new CodexRolloutReader().Read(HooksFixtures.Path("codex", Rollout), 0);

    [Fact]
    public void The_users_text_recorded_twice_is_counted_once_and_injected_context_is_not_a_turn()
    {
        var read = ReadFixture();

        Assert.Equal("019b64e5-57fa-7463-b644-fba7e456f905", read.SessionId);
        Assert.Equal(
        [
            "plan the database migration using the migrate skill",
            "No, that's wrong: we can't drop the old column until the app is deployed",
            "你忘了回滚脚本",
            "looks good, thanks",
            "why does it throw an error?",
        ], read.Turns.Where(t => t.IsHuman).Select(t => t.Text));
        Assert.Equal(1, read.SkippedLines);
    }

    [Fact]
    public void Reading_a_skill_file_makes_the_skill_active_and_corrections_are_attributed_to_it()
    {
        var read = ReadFixture();

        var analysis = new SessionAnalyzer(new CorrectionDetector(DefaultPatterns.All)).Analyze(read.Turns, ActiveSkill.None);

        Assert.Equal(
        [
            ("No, that's wrong: we can't drop the old column until the app is deployed", "migrate"),
            ("你忘了回滚脚本", "migrate"),
        ], analysis.Corrections.Select(c => (c.Text, c.Skill)));
        Assert.Equal("/home/dev/.codex/skills/migrate", analysis.SkillAtEnd.Path);
        Assert.Single(read.Turns, t => t.IsInterruption);
    }

    [Fact]
    public void Turn_ids_are_stable_across_reads_from_different_offsets()
    {
        var whole = ReadFixture();
        var later = whole.Turns.First(t => t.Text.StartsWith("你忘了", StringComparison.Ordinal));
        var offset = long.Parse(later.Id["codex-".Length..]);

        var partial = new CodexRolloutReader().Read(HooksFixtures.Path("codex", Rollout), offset);

        Assert.Equal(later.Id, partial.Turns.First(t => t.IsHuman).Id);
    }

    [Fact]
    public async Task Install_with_notify_keeps_the_users_notify_program_and_chains_to_it()
    {
        var config = Path.Combine(_client.Home, ".codex", "config.toml");
        Directory.CreateDirectory(Path.GetDirectoryName(config)!);
        const string original = "model = \"gpt-5\"\nnotify = [\"python3\", \"/home/me/notify.py\"]\n\n[features]\nweb_search = true\n";
        File.WriteAllText(config, original);

        var (code, _, _) = await _client.InstallAsync("codex", "--notify");
        var installed = File.ReadAllText(config);
        var (again, output, _) = await _client.InstallAsync("codex", "--notify");

        Assert.Equal(0, code);
        Assert.Equal(0, again);
        Assert.Contains("already installed", output);
        Assert.Equal(["python3", "/home/me/notify.py"], CodexInstaller.LoadPreviousNotify(_client.Home));
        Assert.Equal(CodexInstaller.OurNotify(ClientRunner.Executable), TomlNotify.Read(config)!.Value);
        Assert.Contains("model = \"gpt-5\"", installed);
        Assert.Contains("[features]\nweb_search = true", installed);
        Assert.Equal(original, File.ReadAllText(config + ".skillloop-backup"));
        Assert.Contains("codex\tuser", (await _client.RunAsync("status")).Out);

        await _client.RunAsync("uninstall", "codex");

        Assert.Equal(["python3", "/home/me/notify.py"], TomlNotify.Read(config)!.Value);
        Assert.Null(CodexInstaller.LoadPreviousNotify(_client.Home));
    }

    [Fact]
    public async Task Hooks_turned_off_in_config_toml_select_notify_and_a_missing_notify_is_simply_added_and_removed()
    {
        var config = Path.Combine(_client.Home, ".codex", "config.toml");
        Directory.CreateDirectory(Path.GetDirectoryName(config)!);
        File.WriteAllText(config, "[features]\nhooks = false\n");

        await _client.InstallAsync("codex");

        Assert.False(File.Exists(Path.Combine(_client.Home, ".codex", "hooks.json")));
        Assert.StartsWith("notify = [", File.ReadAllText(config));
        await _client.RunAsync("uninstall", "codex");
        Assert.Equal("[features]\nhooks = false\n", File.ReadAllText(config));
    }

    [Fact]
    public async Task A_notify_setting_it_cannot_read_is_never_overwritten()
    {
        var config = Path.Combine(_client.Home, ".codex", "config.toml");
        Directory.CreateDirectory(Path.GetDirectoryName(config)!);
        File.WriteAllText(config, "notify = \"not-an-array\"\n");

        var (code, _, err) = await _client.InstallAsync("codex", "--notify");

        Assert.NotEqual(0, code);
        Assert.Contains("cannot parse", err);
        Assert.Equal("notify = \"not-an-array\"\n", File.ReadAllText(config));
    }

    [Fact]
    public void A_notify_payload_finds_the_threads_rollout()
    {
        var sessions = Directory.CreateDirectory(Path.Combine(_client.Home, ".codex", "sessions", "2025", "12", "28")).FullName;
        File.Copy(HooksFixtures.Path("codex", Rollout), Path.Combine(sessions, Rollout));
        var payload = """{"type":"agent-turn-complete","thread-id":"019b64e5-57fa-7463-b644-fba7e456f905","turn-id":"7","cwd":"/work/app","input-messages":["x"],"last-assistant-message":"ok"}""";

        var hookEvent = HookEvent.Parse(payload, "codex", _client.Home);

        Assert.NotNull(hookEvent);
        Assert.Equal("codex", hookEvent.Platform);
        Assert.Equal(Path.Combine(sessions, Rollout), hookEvent.TranscriptPath);
    }

    [Theory]
    [InlineData("notify = [\"a\", 'b']", new[] { "a", "b" })]
    [InlineData("notify = [\n  \"a\", # comment\n  \"c\\\\d\",\n]", new[] { "a", "c\\d" })]
    [InlineData("notify = []", new string[0])]
    public void Notify_arrays_are_read_in_their_toml_forms(string toml, string[] expected)
    {
        var path = _dir.Write("config.toml", toml + "\n[tui]\nx = 1\n");

        Assert.Equal(expected, TomlNotify.Read(path)!.Value);
    }
}
