using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Core.Extraction;

/// <summary>
/// One correction to turn into an issue: the user's words, the turns before them, the skill in use and the opening of
/// the agent's answer (null when the client did not send it).
/// </summary>
public sealed record ExtractionRequest(
    string Correction,
    string? Skill,
    string? SkillPath,
    IReadOnlyList<ContextTurn> Context,
    string? Reply = null)
{
    /// <summary>The same request with every text redacted (what may reach a model).</summary>
    public ExtractionRequest Redacted() => this with
    {
        Correction = SecretRedactor.Redact(Correction),
        SkillPath = SecretRedactor.Redact(SkillPath),
        Context = Context.Select(t => t with { Text = SecretRedactor.Redact(t.Text) }).ToList(),
        Reply = SecretRedactor.Redact(Reply),
    };

    /// <summary>The skill's name: the given one, else the folder or file name of its path.</summary>
    public string? SkillName => IssuePrompt.SkillName(Skill, SkillPath);
}

/// <summary>Turns a correction into a <see cref="SignalIssue"/>.</summary>
public interface IIssueExtractor
{
    /// <summary>What issues from this extractor record in <see cref="SignalIssue.ExtractedBy"/>.</summary>
    string ExtractedBy { get; }

    /// <summary>Extracts an issue; throws <see cref="IssueExtractionException"/> when no valid issue could be made.</summary>
    Task<SignalIssue> ExtractAsync(ExtractionRequest request, CancellationToken cancellationToken);
}

/// <summary>The extractor could not produce a valid issue (e.g. the model answered invalid JSON twice). Not retried.</summary>
public sealed class IssueExtractionException(string message, Exception? innerException = null) : Exception(message, innerException);
