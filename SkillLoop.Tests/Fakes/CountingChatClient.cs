using Microsoft.Extensions.AI;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Ai.OpenAi;

namespace SkillLoop.Tests.Fakes;

/// <summary>
/// A chat client whose context size is known (one token per character, as a local model offers it through
/// <see cref="IPromptTokenCounter"/>); answers from a script and records what it was sent.
/// </summary>
public sealed class CountingChatClient(int contextLength, params string[] answers) : IChatClient, IPromptTokenCounter
{
    private int _next;

    public int ContextLength { get; } = contextLength;

    public List<List<ChatMessage>> Calls { get; } = [];

    public int CountPromptTokens(IEnumerable<ChatMessage> messages) => messages.Sum(m => m.Text.Length + 10);

    public int CountTokens(string text) => text.Length;

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Calls.Add(messages.ToList());
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answers[Math.Min(_next++, answers.Length - 1)])));
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}
