using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Tests.Hooks;

public sealed class CopilotEventsReaderTests
{
    [Theory]
    [InlineData("copilot", "events.jsonl", "3c1d2e4f-0000-4000-8000-000000000001")]
    [InlineData("vscode", "transcript.jsonl", "9a8b7c6d-0000-4000-8000-000000000002")]
    public void Human_turns_are_the_users_own_words_not_the_transformed_prompt(string platform, string file, string session)
    {
        var read = new CopilotEventsReader(platform).Read(HooksFixtures.Path(platform, file), 0);

        Assert.Equal(session, read.SessionId);
        Assert.Equal(
        [
            "Add a health endpoint",
            "No, that's wrong: it should be /health, not /healthz",
            "不对，应该返回 JSON 而不是纯文本",
            "没问题，谢谢",
            "you forgot the README",
        ], read.Turns.Where(t => t.IsHuman).Select(t => t.Text));
        Assert.Equal(1, read.SkippedLines); // the broken line; the half-written last line is left for later
    }

    [Fact]
    public void Skill_invocations_aborts_and_sub_agents_are_recognised()
    {
        var read = new CopilotEventsReader().Read(HooksFixtures.Path("copilot", "events.jsonl"), 0);

        var skill = Assert.Single(read.Turns.SelectMany(t => t.Skills));
        Assert.Equal(new SkillUse("aspnet-endpoints", "/home/dev/.copilot/skills/aspnet-endpoints"), skill);
        Assert.Single(read.Turns, t => t.IsInterruption);
        Assert.Equal(2, read.Turns.Count(t => t.IsSidechain));
        Assert.Equal(["edit"], read.Turns.SelectMany(t => t.ToolCalls).Select(c => c.Name));
    }

    [Fact]
    public void Corrections_are_attributed_to_the_invoked_skill()
    {
        var read = new CopilotEventsReader().Read(HooksFixtures.Path("copilot", "events.jsonl"), 0);

        var corrections = new SessionAnalyzer(new CorrectionDetector(DefaultPatterns.All)).Analyze(read.Turns, ActiveSkill.None).Corrections;

        Assert.Equal(3, corrections.Count);
        Assert.All(corrections, c => Assert.Equal("aspnet-endpoints", c.Skill));
        Assert.Equal("e0018-0000-4000-8000-000000000000", corrections[^1].TurnId);
    }

    [Fact]
    public void The_last_complete_line_bounds_the_read()
    {
        var path = HooksFixtures.Path("copilot", "events.jsonl");
        var bytes = File.ReadAllBytes(path);

        var read = new CopilotEventsReader().Read(path, 0);

        Assert.Equal(Array.LastIndexOf(bytes, (byte)'\n') + 1, read.EndOffset);
    }
}
