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
