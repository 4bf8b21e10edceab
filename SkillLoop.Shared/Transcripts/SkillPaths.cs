using System.Text.RegularExpressions;

namespace SkillLoop.Hooks.Transcripts;

/// <summary>Agents without a skill event use a skill by reading its <c>…/skills/&lt;name&gt;/SKILL.md</c>.</summary>
public static partial class SkillPaths
{
    [GeneratedRegex(@"(?<dir>[^\s""'`<>]*/skills/(?:\.system/)?(?<name>[^/\s""'`<>]+))/SKILL\.md")]
    private static partial Regex SkillFile();

    /// <summary>The first skill file mentioned in <paramref name="text"/> (a tool call's input), if any.</summary>
    public static SkillUse? Find(string? text)
    {
        if (string.IsNullOrEmpty(text) || !text.Contains("SKILL.md", StringComparison.Ordinal))
            return null;
        var match = SkillFile().Match(text);
        return match.Success ? new SkillUse(match.Groups["name"].Value, match.Groups["dir"].Value) : null;
    }
}
