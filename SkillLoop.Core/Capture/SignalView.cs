using SkillLoop.Core.Extraction;

namespace SkillLoop.Core.Capture;

/// <summary>A stored correction as the admin API and the dashboard show it.</summary>
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
    SignalIssue? Issue);

public sealed record SignalQuery(
    string? Platform = null,
    string? SessionId = null,
    string? Skill = null,
    int Limit = 100,
    long? BeforeId = null,
    long? ClusterId = null);
