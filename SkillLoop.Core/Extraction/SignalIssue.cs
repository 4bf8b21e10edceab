namespace SkillLoop.Core.Extraction;

/// <summary>The structured issue extracted from one correction (null on a signal until extraction has run).</summary>
public sealed record SignalIssue(
    string ProblemPattern,
    string RootCause,
    string ExpectedBehavior,
    string Severity,
    double Confidence,
    string ExtractedBy);
