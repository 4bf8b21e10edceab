using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Hook;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Tests.Hooks;

/// <summary>The files the current CLIs really write (Fixtures/Hooks/real-cli, captured offline from each CLI).</summary>
public sealed class RealCliFormatTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Fixture(string name) => HooksFixtures.Path("real-cli", name);

    private static IReadOnlyList<SkillLoop.Hooks.Contracts.DetectedCorrection> Corrections(TranscriptRead read) =>
        new SessionAnalyzer(new CorrectionDetector(DefaultPatterns.All)).Analyze(read.Turns, ActiveSkill.None).Corrections;

    [Fact]
    public void Codex_0_171_rollouts_without_user_message_events_yield_each_human_turn_once()
    {
        var read = new CodexRolloutReader().Read(Fixture("codex-0.171.0-rollout.jsonl"), 0);

        Assert.Equal("01a23155-e2b2-7d01-9f37-838f4217b5bb", read.SessionId);
        Assert.Equal(
        [
            "Please set up the project dependencies",
            "no, that's wrong — use pnpm, not npm",
            "不对，应该用 pnpm 而不是 npm",
        ], read.Turns.Where(t => t.IsHuman).Select(t => t.Text));
    }

    [Fact]
    public void Codex_0_171_corrections_are_attributed_to_the_skill_file_read_before_them()
    {
        var corrections = Corrections(new CodexRolloutReader().Read(Fixture("codex-0.171.0-rollout.jsonl"), 0));

        Assert.Equal(
        [
            ("no, that's wrong — use pnpm, not npm", "pnpm-helper"),
            ("不对，应该用 pnpm 而不是 npm", "pnpm-helper"),
        ], corrections.Select(c => (c.Text, c.Skill)));
    }

    [Theory]
    [InlineData("codex-0.148.0-rollout.jsonl")]
    [InlineData("codex-0.145.0-rollout.jsonl")]
    public void Codex_rollouts_old_and_new_give_the_same_turns(string file)
    {
        var read = new CodexRolloutReader().Read(Fixture(file), 0);

        Assert.Equal(["How do I install the dependencies?", "no, that's wrong — use pnpm, not npm"],
            read.Turns.Where(t => t.IsHuman).Select(t => t.Text));
        Assert.Equal(["no, that's wrong — use pnpm, not npm"], Corrections(read).Select(c => c.Text));
    }

    [Fact]
    public void Codex_the_same_words_typed_again_after_the_agent_answered_are_a_new_turn()
    {
        const string line1 = """{"timestamp":"2026-12-01T11:20:44.544Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"no, use pnpm"}],"internal_chat_message_metadata_passthrough":{"turn_id":"t1"}}}""";
        const string line2 = """{"timestamp":"2026-12-01T11:20:44.546Z","type":"event_msg","payload":{"type":"item_completed","turn_id":"t1","item":{"type":"UserMessage","content":[{"type":"text","text":"no, use pnpm"}]}}}""";
        const string answer = """{"timestamp":"2026-12-01T11:20:45.000Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"ok"}]}}""";
        const string again = """{"timestamp":"2026-12-01T11:20:46.544Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"no, use pnpm"}],"internal_chat_message_metadata_passthrough":{"turn_id":"t2"}}}""";
        var path = _dir.Write("rollout.jsonl", string.Join("\n", line1, line2, answer, again, line2.Replace("\"t1\"", "\"t2\"")) + "\n");

        var read = new CodexRolloutReader().Read(path, 0);

        Assert.Equal(["no, use pnpm", "no, use pnpm"], read.Turns.Where(t => t.IsHuman).Select(t => t.Text));
    }

    [Fact]
    public void Cline_3_session_messages_give_the_persons_words_and_the_skills_tool_attributes_them()
    {
        var read = new ClineHistoryReader().Read(Fixture("cline-3.0.65-session.messages.json"), 0);

        Assert.Equal("1796129513025_ljm2j", read.SessionId);
        Assert.Equal(
        [
            "Please set up the project dependencies",
            "no, that's wrong — use pnpm, not npm",
            "不对，应该用 pnpm 而不是 npm",
        ], read.Turns.Where(t => t.IsHuman).Select(t => t.Text));
        Assert.Equal(
        [
            ("no, that's wrong — use pnpm, not npm", "pnpm-helper"),
            ("不对，应该用 pnpm 而不是 npm", "pnpm-helper"),
        ], Corrections(read).Select(c => (c.Text, c.Skill)));
    }

    [Fact]
    public void Cline_3_session_messages_are_read_on_from_the_message_index()
    {
        var path = Fixture("cline-3.0.65-session.messages.json");
        var first = new ClineHistoryReader().Read(path, 0);

        var again = new ClineHistoryReader().Read(path, first.EndOffset - 2);

        Assert.Equal(8, first.EndOffset);
        Assert.Equal(["不对，应该用 pnpm 而不是 npm"], again.Turns.Where(t => t.IsHuman).Select(t => t.Text));
    }

    [Fact]
    public void Detect_recognises_a_cline_3_messages_file()
    {
        var copy = _dir.File("copy.json");
        File.Copy(Fixture("cline-3.0.65-session.messages.json"), copy);

        Assert.Equal("cline", TranscriptReaders.Sniff(copy));
    }

    [Theory]
    [InlineData("cline-3.0.65-TaskComplete-payload.json")]
    [InlineData("cline-3.0.65-TaskComplete-resumed-payload.json")]
    public void Cline_3_hook_payloads_of_every_start_land_on_one_session(string payloadFile)
    {
        var home = _dir.File("home");
        var sessionDir = Path.Combine(home, ".cline", "data", "sessions", "1796129513025_ljm2j");
        Directory.CreateDirectory(sessionDir);
        File.Copy(Fixture("cline-3.0.65-session.messages.json"), Path.Combine(sessionDir, "1796129513025_ljm2j.messages.json"));

        var hookEvent = HookEvent.Parse(File.ReadAllText(Fixture(payloadFile)), "cline", home);

        Assert.NotNull(hookEvent);
        Assert.Equal("cline", hookEvent.Platform);
        Assert.Equal("1796129513025_ljm2j", hookEvent.SessionId);
        Assert.Equal(Path.Combine(sessionDir, "1796129513025_ljm2j.messages.json"), hookEvent.TranscriptPath);
    }

    [Fact]
    public void The_extensions_task_history_is_still_found_by_task_id()
    {
        var home = _dir.File("home");
        var task = Path.Combine(home, ".cline", "data", "tasks", "1700000000000");
        Directory.CreateDirectory(task);
        File.Copy(HooksFixtures.Path("cline", "api_conversation_history.json"), Path.Combine(task, "api_conversation_history.json"));

        var hookEvent = HookEvent.Parse("""{"clineVersion":"3.20.0","hookName":"TaskComplete","taskId":"1700000000000"}""", "cline", home);

        Assert.Equal(("cline", "1700000000000"), (hookEvent!.Platform, hookEvent.SessionId));
    }
}
