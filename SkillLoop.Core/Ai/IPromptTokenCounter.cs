using Microsoft.Extensions.AI;

namespace SkillLoop.Core.Ai;

/// <summary>
/// Offered (through <see cref="IChatClient.GetService"/>) by chat clients whose context size and tokenizer are known
/// here, so a caller can fit a prompt to the context before sending it instead of failing on it.
/// </summary>
public interface IPromptTokenCounter
{
    /// <summary>Tokens the context holds: the prompt plus the answer.</summary>
    int ContextLength { get; }

    /// <summary>Tokens of these messages once formatted as the model sees them (chat template included).</summary>
    int CountPromptTokens(IEnumerable<ChatMessage> messages);

    /// <summary>Tokens of a plain text.</summary>
    int CountTokens(string text);
}
