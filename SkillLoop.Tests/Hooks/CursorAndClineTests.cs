using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Tests.Hooks;

public sealed class CursorAndClineTests : IDisposable
{
    private const string CursorFile = "2f6c1a9e-1111-4222-8333-944455556666.jsonl";
    private readonly TempDir _dir = new();
    private readonly ClientRunner _client;

    public CursorAndClineTests() => _client = new ClientRunner(_dir);

    public void Dispose() => _dir.Dispose();

    private static IReadOnlyList<SkillLoop.Hooks.Contracts.DetectedCorrection> Corrections(TranscriptRead read) =>
        new SessionAnalyzer(new CorrectionDetector(DefaultPatterns.All)).Analyze(read.Turns, ActiveSkill.None).Corrections;

    [Fact]
    public void Cursor_user_queries_are_the_human_turns_and_injected_continuations_are_not()
    {
        var read = new CursorTranscriptReader().Read(HooksFixtures.Path("cursor", CursorFile), 0);

        Assert.Equal("2f6c1a9e-1111-4222-8333-944455556666", read.SessionId);
        Assert.Equal(
        [
            "Write release notes for v2.3",
            "No, that's wrong — the version is 2.4, not 2.3",
            "又忘了更新日期",
            "不错，就这样",
        ], read.Turns.Where(t => t.IsHuman).Select(t => t.Text));
        Assert.Equal(1, read.SkippedLines);
    }

    [Theory]
    [InlineData("Thursday, Aug 6, 2026, 1:48 PM (UTC-5)", "2026-08-06T13:48:00-05:00")]
    [InlineData("Friday, May 8, 2026, 6:05 AM (UTC+5:30)", "2026-05-08T06:05:00+05:30")]
    [InlineData("Sunday, Sep 20, 2026, 12:31 AM (UTC)", "2026-09-20T00:31:00+00:00")]
    public void Cursor_prompt_timestamps_are_read_with_their_offset(string text, string expected)
    {
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), CursorTranscriptReader.ParseTimestamp(text));
    }

    [Fact]
    public void Cursor_human_turns_carry_the_prompt_time()
    {
        var read = new CursorTranscriptReader().Read(HooksFixtures.Path("cursor", CursorFile), 0);

        Assert.All(read.Turns.Where(t => t.IsHuman), t => Assert.Equal(new DateTimeOffset(2026, 8, 6, 13, 48, 0, TimeSpan.FromHours(-5)), t.Timestamp));
    }

    [Fact]
    public void Cursor_corrections_are_attributed_to_the_skill_file_it_read()
    {
        var corrections = Corrections(new CursorTranscriptReader().Read(HooksFixtures.Path("cursor", CursorFile), 0));

        Assert.Equal([("release-notes", "/home/dev/.cursor/skills/release-notes")], corrections.Select(c => (c.Skill!, c.SkillPath!)).Distinct());
        Assert.Equal(2, corrections.Count);
    }

    [Fact]
    public void Cline_human_text_comes_from_task_feedback_answer_and_user_message_tags()
    {
        var read = new ClineHistoryReader().Read(HooksFixtures.Path("cline", "api_conversation_history.json"), 0);

        Assert.Equal(
        [
            "Add input validation to the signup form",
            "No, that's wrong: we use yup, not zod",
            "不对，应该用 yup 自带的 email 校验",
            "thanks, looks good",
        ], read.Turns.Where(t => t.IsHuman).Select(t => t.Text));
        Assert.Single(read.Turns, t => t.IsInterruption);
        Assert.Equal(9, read.EndOffset); // messages, not bytes: Cline rewrites the whole file
    }

    [Fact]
    public void Cline_reads_resume_after_the_messages_already_sent()
    {
        var path = HooksFixtures.Path("cline", "api_conversation_history.json");

        var read = new ClineHistoryReader().Read(path, 6);

        Assert.Equal(["不对，应该用 yup 自带的 email 校验", "thanks, looks good"], read.Turns.Where(t => t.IsHuman).Select(t => t.Text));
        Assert.Equal("cline-6", read.Turns.First(t => t.IsHuman).Id);
    }

    [Fact]
    public void Cline_corrections_are_attributed_to_the_skill_it_read()
    {
        var corrections = Corrections(new ClineHistoryReader().Read(HooksFixtures.Path("cline", "api_conversation_history.json"), 0));

        Assert.Equal(["cline-4", "cline-6"], corrections.Select(c => c.TurnId));
        Assert.All(corrections, c => Assert.Equal("form-validation", c.Skill));
    }

    [Fact]
    public void A_cline_history_caught_mid_rewrite_yields_nothing_new()
    {
        var path = _dir.Write("tasks/1/api_conversation_history.json", """[{"role":"user","content":[{"type":"text","text":"<task>x""");

        var read = new ClineHistoryReader().Read(path, 3);

        Assert.Empty(read.Turns);
        Assert.Equal(3, read.EndOffset);
    }

    [Fact]
    public async Task Cline_install_writes_an_executable_task_complete_script_and_uninstall_removes_it()
    {
        var script = Path.Combine(_client.Home, "Documents", "Cline", "Hooks", "TaskComplete");

        var (code, _, _) = await _client.InstallAsync("cline");
        var (again, output, _) = await _client.InstallAsync("cline");

        Assert.Equal(0, code);
        Assert.Equal(0, again);
        Assert.Contains("already installed", output);
        Assert.Contains($"'{ClientRunner.Executable}' hook cline", File.ReadAllText(script));
        if (!OperatingSystem.IsWindows())
            Assert.True(File.GetUnixFileMode(script).HasFlag(UnixFileMode.UserExecute));
        Assert.Contains("cline\tuser", (await _client.RunAsync("status")).Out);

        await _client.RunAsync("uninstall", "cline");

        Assert.False(File.Exists(script));
    }

    [Fact]
    public async Task Cline_keeps_an_existing_task_complete_hook_chained_and_restores_it()
    {
        var script = Path.Combine(_client.Project, ".clinerules", "hooks", "TaskComplete");
        Directory.CreateDirectory(Path.GetDirectoryName(script)!);
        File.WriteAllText(script, "#!/bin/sh\necho '{\"cancel\":false}'\n");

        await _client.InstallAsync("cline", "--scope", "project", "--dir", _client.Project);
        var installed = File.ReadAllText(script);
        await _client.RunAsync("uninstall", "cline", "--scope", "project", "--dir", _client.Project);

        Assert.Contains("TaskComplete.skillloop-chained", installed);
        Assert.Equal("#!/bin/sh\necho '{\"cancel\":false}'\n", File.ReadAllText(script));
        Assert.False(File.Exists(script + ".skillloop-chained"));
    }

    [Theory]
    [InlineData("cursor", CursorFile)]
    [InlineData("cline", "api_conversation_history.json")]
    [InlineData("codex", "rollout-2025-12-28T12-18-30-019b64e5-57fa-7463-b644-fba7e456f905.jsonl")]
    [InlineData("copilot", "events.jsonl")]
    [InlineData("claude", "session.jsonl")]
    public void Detect_auto_recognises_each_format(string platform, string file)
    {
        Assert.Equal(platform, TranscriptReaders.Sniff(HooksFixtures.Path(platform, file)));
    }
}
