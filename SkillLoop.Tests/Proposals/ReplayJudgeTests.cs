using SkillLoop.Core.Proposals.Replay;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Proposals;

public sealed class ReplayJudgeTests
{
    private static readonly ReplayCase Case = new(7, "No, the totals row goes last.",
        [new("user", "Build the report. " + new string('a', 300)), new("assistant", "Done: totals first. " + new string('b', 300))]);

    [Fact]
    public void The_oldest_turns_go_first_so_both_texts_fit_a_small_context_with_the_same_turns()
    {
        var skill = "# PDF\n\n" + new string('x', 600);
        var judge = new ReplayJudge(new CountingChatClient(2100));

        var fitted = judge.Fit(Case, "SKILL.md", skill, skill + "\nPut the totals row last.\n");

        Assert.Equal(["assistant"], fitted.Context.Select(t => t.Role));
        Assert.Equal(Case.Correction, fitted.Correction);
    }

    [Fact]
    public void A_skill_text_too_long_for_the_context_or_the_character_cap_fails_with_the_sizes()
    {
        var skill = new string('x', 5000);

        var tooLong = Assert.Throws<ReplayException>(() => new ReplayJudge(new CountingChatClient(1024)).Fit(Case, "SKILL.md", skill, skill + "y"));
        var overCap = Assert.Throws<ReplayException>(() => new ReplayJudge(new FakeEndpointChat(), maxSkillChars: 4000).Fit(Case, "SKILL.md", skill, skill));

        Assert.Contains("the model's context holds 1024", tooLong.Message, StringComparison.Ordinal);
        Assert.Contains("5000 characters, more than the 4000 replayed", overCap.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancelled_replay_stops_and_is_not_recorded_as_an_answer()
    {
        var chat = new CountingChatClient(100_000, """{"prevented":true,"confidence":0.9,"reason":"ok"}""");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new ReplayJudge(chat).JudgeAsync(Case, "SKILL.md", "# PDF", cancelled.Token));
        Assert.Empty(chat.Calls);
    }

    /// <summary>An endpoint: no token counter, so the character cap applies.</summary>
    private sealed class FakeEndpointChat : Microsoft.Extensions.AI.IChatClient
    {
        public Task<Microsoft.Extensions.AI.ChatResponse> GetResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, Microsoft.Extensions.AI.ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public IAsyncEnumerable<Microsoft.Extensions.AI.ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, Microsoft.Extensions.AI.ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
