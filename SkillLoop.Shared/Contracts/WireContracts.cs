namespace SkillLoop.Hooks.Contracts;

// The client ↔ server wire contracts. The server references this project, so both sides share one definition.
// JSON is camelCase on the wire (see HooksJsonContext and the server's JSON options).

/// <summary>
/// A correction pattern as the server serves it. <c>Category</c> "guard" marks a look-alike that suppresses a match.
/// Every other pattern is a feature of the learned detector unless <c>Force</c> says otherwise: <c>include</c> makes a
/// matching turn a correction whatever its score, <c>exclude</c> makes it never one (exclude wins over include).
/// Older clients ignore <c>Force</c>; older servers do not send it (null: the classifier decides).
/// </summary>
public sealed record CorrectionPattern(
    string Id,
    string Language,
    string Category,
    string Regex,
    bool Enabled = true,
    string? Force = null)
{
    public const string ForceInclude = "include";
    public const string ForceExclude = "exclude";
}

/// <summary>Settings the client reads from <c>GET /api/v1/client/config</c>.</summary>
public sealed record ClientSettings(
    bool AllowLocalExtraction = true,
    int ContextTurns = 4);

/// <summary>Body of <c>GET /api/v1/client/config</c>.</summary>
public sealed record ClientConfig(
    IReadOnlyList<CorrectionPattern> Patterns,
    ClientSettings Settings);

/// <summary>
/// How far the server has read one session's transcript. <c>Offset</c> is the byte offset just past the last
/// complete line read; <c>ActiveSkill</c> carries skill attribution across reads, so the client never needs to
/// re-read what came before the cursor.
/// </summary>
public sealed record SessionCursor(
    string Platform,
    string SessionId,
    long Offset,
    string? ActiveSkill,
    string? ActiveSkillPath);

/// <summary>A human turn the client read (sent so patterns can later be tested against past turns).</summary>
public sealed record UserTurn(
    string TurnId,
    string Text,
    DateTimeOffset? Timestamp);

/// <summary>A turn of context shown around a correction (already truncated by the client).</summary>
public sealed record ContextTurn(
    string Role,
    string Text);

/// <summary>
/// One detected correction. <c>Pattern</c> is the first pattern that matched, or <c>classifier</c> when the learned
/// detector found it without any pattern. <c>Score</c> (0–1) and <c>DetectorVersion</c> say which detector decided
/// and how sure it was; both are null from clients older than the learned detector. <c>Reply</c> is the opening of
/// the agent's answer to the turn (at most 300 characters, "" when it gave no prose), which the detector read with it:
/// kept so triage labels train new weights with the same context; null from clients older than that.
/// </summary>
public sealed record DetectedCorrection(
    string TurnId,
    string Text,
    string Pattern,
    string? Skill,
    string? SkillPath,
    double Confidence,
    DateTimeOffset? Timestamp,
    IReadOnlyList<ContextTurn> Context,
    double? Score = null,
    string? DetectorVersion = null,
    string? Reply = null);

/// <summary>
/// Body of <c>POST /api/v1/signals</c>: what is new in one session since <c>FromOffset</c>.
/// The server accepts it only when <c>FromOffset</c> equals its stored cursor (else 409), so two Stop events racing
/// on one transcript can never store a correction twice. <c>LocalExtractor</c> (<c>claude</c> or <c>copilot</c>)
/// says the client will extract these corrections itself with that agent CLI and send the issues to
/// <c>POST /api/v1/issues</c>; the server then waits a grace period before extracting them itself, so nothing is
/// lost if the client never does.
/// </summary>
public sealed record SignalBatch(
    string Platform,
    string SessionId,
    string User,
    long FromOffset,
    SessionCursor Cursor,
    IReadOnlyList<UserTurn> Turns,
    IReadOnlyList<DetectedCorrection> Corrections,
    string? Product = null,
    string? ClientVersion = null,
    string? LocalExtractor = null);

/// <summary>Answer to <c>POST /api/v1/signals</c>.</summary>
public sealed record SignalBatchResult(
    int Accepted,
    int Duplicates,
    SessionCursor Cursor);

/// <summary>An issue as extracted from one correction (by the server's model or a client's agent CLI).</summary>
public sealed record ExtractedIssue(
    string ProblemPattern,
    string RootCause,
    string ExpectedBehavior,
    string EvidenceQuote,
    string Severity,
    double Confidence);

/// <summary>
/// Body of <c>POST /api/v1/issues</c>: the issue a client's local agent CLI extracted from one correction it
/// posted earlier. <c>ExtractedBy</c> is <c>client:claude</c> or <c>client:copilot</c>.
/// </summary>
public sealed record ClientIssue(
    string Platform,
    string SessionId,
    string TurnId,
    string ExtractedBy,
    ExtractedIssue Issue);

/// <summary>Answer to <c>POST /api/v1/issues</c>: false when the signal already had an issue (the server's own).</summary>
public sealed record ClientIssueResult(bool Stored);

/// <summary>What the server accepts in one <see cref="SignalBatch"/>; the client fits its batches to these.</summary>
public static class SignalBatchLimits
{
    /// <summary>The server's request body limit for <c>POST /api/v1/signals</c>.</summary>
    public const int MaxBodyBytes = 8 * 1024 * 1024;

    public const int MaxTextLength = 20_000;
    public const int MaxTurns = 5_000;
    public const int MaxCorrections = 1_000;
    public const int MaxContextTurns = 20;
}

/// <summary>
/// Body of <c>POST /api/v1/issues/declined</c>: the client announced local extraction of these corrections
/// (<see cref="SignalBatch.LocalExtractor"/>) but its agent CLI could not do it (not signed in, no answer, invalid
/// answers), so the server extracts them now instead of waiting out its grace period.
/// </summary>
public sealed record LocalExtractionDeclined(
    string Platform,
    string SessionId,
    IReadOnlyList<string> TurnIds,
    string Reason);

/// <summary>Answer to <c>POST /api/v1/issues/declined</c>: how many waiting extractions the server took back.</summary>
public sealed record LocalExtractionDeclinedResult(int Released);

/// <summary>
/// <c>GET /client/manifest.json</c>: the client binaries this server hands out (made by <c>build/clients.sh</c>).
/// <c>Version</c> is the client version they were built from; <c>status</c> compares it with its own.
/// </summary>
public sealed record ClientManifest(
    string Version,
    IReadOnlyList<ClientBinary> Files);

/// <summary>
/// One binary: <c>Platform</c> a .NET runtime id (<c>linux-x64</c>, <c>osx-arm64</c>, …), <c>File</c> its path
/// under the clients folder (<c>linux-x64/skillloop-client</c>), <c>Build</c> <c>native-aot</c> or <c>single-file</c>.
/// </summary>
public sealed record ClientBinary(
    string Platform,
    string File,
    string Build,
    long Size,
    string Sha256);
