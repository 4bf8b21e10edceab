using SkillLoop.Core.Extraction;

namespace SkillLoop.Core.Capture;

/// <summary>
/// A stored correction as the admin API and the dashboard show it. <c>Score</c> and <c>DetectorVersion</c> say which
/// client detector produced it (null from older clients); <c>Verdict</c> (<c>confirmed</c>/<c>rejected</c>) and
/// <c>VerdictBy</c> record a second opinion: the server's chat model on borderline scores, or an admin's triage.
/// <c>Reply</c> is the opening of the agent's answer to the correction, as the client read it (null from older clients).
/// </summary>
public sealed record SignalView(
    long Id,
    string Platform,
    string SessionId,
    string TurnId,
    string Text,
    string Pattern,
    string? Skill,
    string? SkillPath,
    double Confidence,
    string User,
    DateTimeOffset CreatedAt,
    long? ClusterId,
    SignalIssue? Issue,
    double? Score = null,
    string? DetectorVersion = null,
    string? Verdict = null,
    string? VerdictBy = null,
    string? Reply = null);

/// <summary>
/// Which signals to read, newest first; <c>BeforeId</c> is the cursor of the next (older) page. <c>Skill</c> matches
/// exactly and <c>UserPrefix</c> is the start of a user hash (both served by an index); <c>PatternContains</c> and
/// <c>TextContains</c> are case-insensitive parts of the pattern id and the correction (no index serves a part: the scan
/// goes newest first and stops at a page's worth, quick for anything common).
/// </summary>
public sealed record SignalQuery(
    string? Platform = null,
    string? SessionId = null,
    string? Skill = null,
    int Limit = 100,
    long? BeforeId = null,
    long? ClusterId = null,
    string? PatternContains = null,
    string? UserPrefix = null,
    string? TextContains = null);
