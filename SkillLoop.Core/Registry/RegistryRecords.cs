namespace SkillLoop.Core.Registry;

/// <summary>A registry as stored; the token itself never leaves <see cref="RegistryStore"/> except for git and forge calls.</summary>
public sealed record RegistryRecord(
    long Id,
    string Name,
    string Provider,
    string Url,
    string Branch,
    string? ApiUrl,
    string? Repository,
    IReadOnlyList<string> PathFilters,
    int? DistinctUsers,
    bool AutoMerge,
    double AutoMergeMinConfidence,
    int AutoMergeMinUsers,
    bool HasToken,
    DateTimeOffset? LastScanAt,
    string? LastScanCommit,
    string? LastScanError,
    long SkillCount,
    DateTimeOffset CreatedAt,
    int MaxOpen = RegistryStore.DefaultMaxOpen,
    bool HasWebhookSecret = false);

/// <summary>
/// What an admin sends to add or change a registry. A null token (or webhook secret) keeps the stored one; "" removes it.
/// <see cref="MaxOpen"/>: open SkillLoop pull requests at once (default 5); approved ones beyond it wait in a queue.
/// </summary>
public sealed record RegistryInput(
    string? Name,
    string? Provider,
    string? Url,
    string? Branch,
    string? Token = null,
    string? ApiUrl = null,
    string? Repository = null,
    IReadOnlyList<string>? PathFilters = null,
    int? DistinctUsers = null,
    bool AutoMerge = false,
    double? AutoMergeMinConfidence = null,
    int? AutoMergeMinUsers = null,
    int? MaxOpen = null,
    string? WebhookSecret = null);

/// <summary>A registered skill with its health: corrections, sessions that used it, and the trend of the last two weeks.</summary>
public sealed record SkillSummary(
    long Id,
    long RegistryId,
    string Registry,
    string Kind,
    string Name,
    string? QualifiedName,
    string? Description,
    string Path,
    string? Plugin,
    long Corrections,
    long Sessions,
    double? CorrectionsPerUse,
    long CorrectionsLast7Days,
    long CorrectionsPrevious7Days);

/// <summary>A skill name seen in signals that no registered skill matches.</summary>
public sealed record UnmatchedSkill(string Skill, string? ExamplePath, long Signals, DateTimeOffset LastSeen);

/// <summary>The registered skill a signal's skill name resolves to.</summary>
public sealed record ResolvedSkill(long SkillId, long RegistryId, string Path, string Name);

/// <summary>Invalid registry input (<see cref="Field"/> names it), or a registry/skill that does not exist.</summary>
public sealed class RegistryException(string field, string message, bool notFound = false) : Exception(message)
{
    public string Field { get; } = field;
    public bool NotFound { get; } = notFound;
}
