using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Core.Extraction;

/// <summary>The structured issue extracted from one correction (null on a signal until extraction has run).</summary>
/// <param name="ProblemPattern">One generic sentence naming what the agent did wrong, without personal data.</param>
/// <param name="Severity"><c>low</c>, <c>medium</c> or <c>high</c>.</param>
/// <param name="Confidence">0–1: how sure the extractor is that this is a real, correctly described issue.</param>
/// <param name="ExtractedBy"><c>heuristic</c>, <c>server:&lt;model&gt;</c>, later <c>client:claude</c> / <c>client:copilot</c>.</param>
public sealed record SignalIssue(
    string ProblemPattern,
    string RootCause,
    string ExpectedBehavior,
    string Severity,
    double Confidence,
    string ExtractedBy)
{
    /// <summary>The skill the correction is about (from the signal), when known.</summary>
    public string? Skill { get; init; }

    /// <summary>A short, redacted quote of the correction that shows the problem.</summary>
    public string EvidenceQuote { get; init; } = "";

    /// <summary>A checked wire issue (see <see cref="IssuePrompt.TryParseAnswer"/>) as stored.</summary>
    public static SignalIssue From(ExtractedIssue issue, string extractedBy, string? skill) =>
        new(issue.ProblemPattern, issue.RootCause, issue.ExpectedBehavior, issue.Severity, issue.Confidence, extractedBy)
        {
            Skill = skill,
            EvidenceQuote = issue.EvidenceQuote,
        };
}

/// <summary>The values <see cref="SignalIssue.Severity"/> takes.</summary>
public static class IssueSeverity
{
    public const string Low = "low";
    public const string Medium = "medium";
    public const string High = "high";

    public static IReadOnlyList<string> All => IssuePrompt.Severities;
}
