using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Tests.Hooks;

public sealed class SessionAnalyzerTests
{
    private readonly SessionAnalyzer _analyzer = new(new CorrectionDetector(DefaultPatterns.All), contextTurns: 2);

    private SessionAnalysis AnalyzeFixture(ActiveSkill? start = null) =>
        _analyzer.Analyze(new ClaudeTranscriptReader().Read(HooksFixtures.Path("claude", "session.jsonl"), 0).Turns,
            start ?? ActiveSkill.None);

    [Fact]
    public void Corrections_are_attributed_to_the_nearest_preceding_skill()
    {
        var analysis = AnalyzeFixture();

        Assert.Equal(
        [
            ("No, that's wrong: the page size should be A4, not Letter.", "pdf", "/home/dev/.claude/skills/pdf"),
            ("不对，应该用 pypdf 而不是 PyPDF2", "pdf", "/home/dev/.claude/skills/pdf"),
            ("you forgot to check the tests folder", "review-pr", "/repo/.claude/skills/review-pr"),
            ("Stop, undo that change", "review-pr", "/repo/.claude/skills/review-pr"),
        ], analysis.Corrections.Select(c => (c.Text, c.Skill, c.SkillPath)));
        Assert.Equal(new ActiveSkill("review-pr", "/repo/.claude/skills/review-pr"), analysis.SkillAtEnd);
    }

    [Fact]
    public void Every_human_turn_is_reported_once()
    {
        var analysis = AnalyzeFixture();

        Assert.Equal(7, analysis.Turns.Count);
        Assert.Equal(analysis.Turns.Count, analysis.Turns.Select(t => t.TurnId).Distinct().Count());
    }

    [Fact]
    public void Corrections_carry_truncated_context_turns_before_them()
    {
        var first = AnalyzeFixture().Corrections[0];

        Assert.Equal(
        [
            new SkillLoop.Hooks.Contracts.ContextTurn("assistant", "I'll use the pdf skill for this."),
            new SkillLoop.Hooks.Contracts.ContextTurn("assistant", "Done: report.pdf is rendered in Letter size."),
        ], first.Context);
    }

    [Fact]
    public void A_correction_after_an_interruption_is_more_confident()
    {
        var corrections = AnalyzeFixture().Corrections;
        var plain = new CorrectionDetector(DefaultPatterns.All).Match(corrections[1].Text)!;

        Assert.Equal(Math.Round(Math.Min(0.99, plain.Confidence + 0.1), 2), corrections[1].Confidence);
        Assert.True(corrections[1].Confidence > plain.Confidence);
    }

    [Fact]
    public void The_skill_carried_in_from_the_cursor_applies_until_a_new_skill_is_used()
    {
        var turns = new[]
        {
            new ConversationTurn("u1", TurnRole.User, "you forgot the changelog", null),
        };

        var analysis = _analyzer.Analyze(turns, new ActiveSkill("release", "/skills/release"), conversationStarted: true);

        var correction = Assert.Single(analysis.Corrections);
        Assert.Equal("release", correction.Skill);
        Assert.Equal("/skills/release", correction.SkillPath);
    }

    [Fact]
    public void A_base_directory_without_a_preceding_name_names_the_skill_after_its_folder()
    {
        var turns = new[]
        {
            new ConversationTurn("m", TurnRole.User, "Base directory for this skill: /s/deploy", null)
                { IsMeta = true, Skills = [new SkillUse(null, "/s/deploy")] },
            new ConversationTurn("a", TurnRole.Assistant, "部署完成。", null),
            new ConversationTurn("u", TurnRole.User, "不对", null),
        };

        var correction = Assert.Single(_analyzer.Analyze(turns, ActiveSkill.None).Corrections);

        Assert.Equal(("deploy", "/s/deploy"), (correction.Skill, correction.SkillPath));
    }

    // A claim to be done and a mild correction of it: the agent's answer moves its score.
    private const string TotalsDone = "Done: the report now puts the totals row first.";
    private const string TotalsText = "the totals row goes at the bottom";

    private static TwoStageDetector Learned => new(new CorrectionDetector(DefaultPatterns.All), DetectorModel.Shipped);

    [Fact]
    public void Each_turn_is_judged_with_the_opening_of_the_agents_answer_and_keeps_the_skill_and_context_it_was_typed_in()
    {
        var detector = Learned;
        var analyzer = new SessionAnalyzer(detector, contextTurns: 2);
        const string done = TotalsDone, text = TotalsText;
        var turns = new[]
        {
            new ConversationTurn("u1", TurnRole.User, "make a sales report", null),
            new ConversationTurn("a1", TurnRole.Assistant, done, null),
            new ConversationTurn("u2", TurnRole.User, text, null),
            // The answer: a tool call first (no prose), a skill used while answering, then two prose turns.
            new ConversationTurn("a2", TurnRole.Assistant, "", null) { ToolCalls = [new ToolCall("t1", "Read")] },
            new ConversationTurn("a3", TurnRole.Assistant, "You're absolutely right, I apologize.", null) { Skills = [new SkillUse("other-skill", null)] },
            new ConversationTurn("a4", TurnRole.Assistant, "Moved it.", null),
            new ConversationTurn("u3", TurnRole.User, text, null), // the end of the read: the agent has not answered this one
        };

        var analysis = analyzer.Analyze(turns, new ActiveSkill("sales-report", null));

        var answered = detector.Detect(text, new TurnContext(done, 1, Reply: "You're absolutely right, I apologize.\n\nMoved it."));
        var unanswered = detector.Detect(text, new TurnContext(SessionAnalyzer.PreviousOf("Moved it."), 2, Reply: ""));
        Assert.True(answered.Score > detector.Detect(text, new TurnContext(done, 1, Reply: "")).Score);
        var scores = analysis.Corrections.ToDictionary(c => c.TurnId, c => c.Score);
        Assert.Equal(answered.IsCorrection ? answered.Score : null, scores.GetValueOrDefault("u2"));
        Assert.Equal(unanswered.IsCorrection ? unanswered.Score : null, scores.GetValueOrDefault("u3"));
        Assert.True(answered.IsCorrection, $"score {answered.Score}");
        var u2 = analysis.Corrections.Single(c => c.TurnId == "u2");
        Assert.Equal("sales-report", u2.Skill); // the skill the agent used while answering came after the correction
        Assert.Equal([("user", "make a sales report"), ("assistant", done)], u2.Context.Select(c => (c.Role, c.Text)));
    }

    [Fact]
    public void The_turns_after_a_read_finish_the_last_turns_answer_only_up_to_the_next_human_turn_and_are_read_only_when_needed()
    {
        var detector = Learned;
        var analyzer = new SessionAnalyzer(detector);
        const string done = TotalsDone, text = TotalsText;
        var read = new[]
        {
            new ConversationTurn("u1", TurnRole.User, "make a sales report", null),
            new ConversationTurn("a1", TurnRole.Assistant, done, null),
            new ConversationTurn("u2", TurnRole.User, text, null),
        };
        var after = new[]
        {
            new ConversationTurn("a2", TurnRole.Assistant, "", null) { ToolCalls = [new ToolCall("t1", "Read")] },
            new ConversationTurn("s1", TurnRole.Assistant, "Sub-agent: I apologize.", null) { IsSidechain = true },
            new ConversationTurn("a3", TurnRole.Assistant, "You're absolutely right, I apologize.", null),
            new ConversationTurn("u3", TurnRole.User, "thanks", null),
            new ConversationTurn("a4", TurnRole.Assistant, "Anything else?", null),
        };
        var asked = 0;

        var analysis = analyzer.Analyze(read, ActiveSkill.None, after: () => { asked++; return after; });

        var expected = detector.Detect(text, new TurnContext(done, 1, Reply: "You're absolutely right, I apologize."));
        Assert.True(expected.IsCorrection, $"score {expected.Score}");
        Assert.Equal(expected.Score, analysis.Corrections.Single().Score);
        Assert.Equal(1, asked);
        Assert.Equal(["u1", "u2"], analysis.Turns.Select(t => t.TurnId)); // the turns after are not this read's
        // An answer begun in the read is finished from the turns after it, up to what a correction keeps of it.
        var begun = "I apologize. " + new string('x', 200);
        var finished = analyzer.Analyze([.. read, new ConversationTurn("a2", TurnRole.Assistant, begun, null)], ActiveSkill.None,
            after: () => { asked++; return after; });
        Assert.Equal(2, asked);
        Assert.Equal(SessionAnalyzer.Truncate(begun + "\n\nYou're absolutely right, I apologize.", SessionAnalyzer.MaxReplyChars),
            Assert.Single(finished.Corrections).Reply);
        var whole = new string('x', SessionAnalyzer.MaxReplyChars);
        analyzer.Analyze([.. read, new ConversationTurn("a2", TurnRole.Assistant, whole, null)], ActiveSkill.None,
            after: () => { asked++; return after; });
        Assert.Equal(2, asked); // an answer already as long as a correction keeps is not read on
    }

    [Fact]
    public void The_opening_request_before_any_answer_is_never_a_correction()
    {
        var turns = new[]
        {
            new ConversationTurn("u1", TurnRole.User, "Build a login page. It should be responsive and don't use jQuery.", null),
            new ConversationTurn("a1", TurnRole.Assistant, "Done.", null),
            new ConversationTurn("u2", TurnRole.User, "don't use jQuery, I said", null),
        };

        var analysis = _analyzer.Analyze(turns, ActiveSkill.None);

        Assert.Equal(["u2"], analysis.Corrections.Select(c => c.TurnId));
        Assert.Equal(2, analysis.Turns.Count);
    }

    [Fact]
    public void A_read_that_continues_a_session_can_start_with_a_correction()
    {
        var turns = new[] { new ConversationTurn("u9", TurnRole.User, "you forgot the tests", null) };

        Assert.Empty(_analyzer.Analyze(turns, ActiveSkill.None).Corrections);
        Assert.Single(_analyzer.Analyze(turns, ActiveSkill.None, conversationStarted: true).Corrections);
    }
}
