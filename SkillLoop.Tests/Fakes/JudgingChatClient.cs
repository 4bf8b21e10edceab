using Microsoft.Extensions.AI;
using SkillLoop.Core.Detection;

namespace SkillLoop.Tests.Fakes;

/// <summary>
/// A chat model stand-in for borderline confirmation: answers the confirmation prompt with <see cref="IsCorrection"/>
/// (or <see cref="ConfirmationAnswer"/> verbatim) and the issue prompt with a valid issue; records every call.
/// </summary>
public sealed class JudgingChatClient : IChatClient
{
    public const string Issue = """
        {"problemPattern":"The agent used npm where the project requires pnpm.","rootCause":"The skill never names the package manager.",
         "expectedBehavior":"Use pnpm for every install and script.","evidenceQuote":"use pnpm instead of npm","severity":"medium","confidence":0.82}
        """;

    public bool IsCorrection { get; set; }

    public string? ConfirmationAnswer { get; set; }

    public List<(List<ChatMessage> Messages, ChatOptions? Options)> Calls { get; } = [];

    public int Confirmations => Calls.Count(c => IsConfirmation(c.Messages));

    private static bool IsConfirmation(List<ChatMessage> messages) => messages[0].Text == ChatCorrectionConfirmer.SystemPrompt;

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages.ToList();
        Calls.Add((list, options));
        var answer = IsConfirmation(list)
            ? ConfirmationAnswer ?? $$"""{"isCorrection":{{(IsCorrection ? "true" : "false")}},"reason":"judged by the fake"}"""
            : Issue;
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer)));
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
