using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Hooks.Detection;

// PLACEHOLDER on the server branch only: replaced by the client branch's real pattern set at merge.
public static class DefaultPatterns
{
    public static IReadOnlyList<CorrectionPattern> All { get; } =
    [
        new("en-reject-wrong", "en", "rejection", @"(?i)\b(no|nope),?\s+(that'?s|this is|it'?s)\s+(wrong|not right|incorrect)"),
        new("zh-reject-budui", "zh", "rejection", "不对"),
    ];
}
