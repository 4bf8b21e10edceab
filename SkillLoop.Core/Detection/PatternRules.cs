using System.Text.RegularExpressions;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Detection;

namespace SkillLoop.Core.Detection;

/// <summary>What a correction pattern must be before it is stored and sent to every client.</summary>
public static partial class PatternRules
{
    public static IReadOnlyList<string> Languages { get; } = ["en", "zh"];

    public static IReadOnlyList<string> Categories { get; } =
        [DefaultPatterns.Rejection, DefaultPatterns.Redirection, DefaultPatterns.Omission, DefaultPatterns.Repeat, DefaultPatterns.Stop, DefaultPatterns.Guard];

    public const int MaxRegexLength = 1000;

    /// <summary>Throws <see cref="PatternException"/> naming the first problem.</summary>
    public static void Check(CorrectionPattern pattern)
    {
        if (pattern.Id is null || !IdPattern().IsMatch(pattern.Id))
        {
            throw new PatternException("id", "2–80 characters: lower-case letters, digits, '.' and '-', starting with a letter or digit.");
        }

        if (!Languages.Contains(pattern.Language))
        {
            throw new PatternException("language", $"One of {string.Join(", ", Languages)}.");
        }

        if (!Categories.Contains(pattern.Category))
        {
            throw new PatternException("category", $"One of {string.Join(", ", Categories)}.");
        }

        if (pattern.Force is not (null or CorrectionPattern.ForceInclude or CorrectionPattern.ForceExclude))
        {
            throw new PatternException("force", $"Empty, '{CorrectionPattern.ForceInclude}' or '{CorrectionPattern.ForceExclude}'.");
        }

        if (pattern.Force is not null && pattern.Category == DefaultPatterns.Guard)
        {
            throw new PatternException("force", "A guard only blanks out look-alikes; it cannot force a decision.");
        }

        if (TryCompile(pattern.Regex, out _) is { } error)
        {
            throw new PatternException("regex", error);
        }
    }

    /// <summary>Compiles a regex the way the detector does; returns why it cannot be used, or null.</summary>
    public static string? TryCompile(string? regex, out Regex? compiled)
    {
        compiled = null;
        if (string.IsNullOrWhiteSpace(regex))
        {
            return "A regular expression is required.";
        }

        if (regex.Length > MaxRegexLength)
        {
            return $"At most {MaxRegexLength} characters.";
        }

        try
        {
            compiled = new Regex(regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Multiline, TimeSpan.FromMilliseconds(100));
        }
        catch (ArgumentException ex)
        {
            return "Not a valid .NET regular expression: " + ex.Message;
        }

        // Matching nothing but the empty string would flag every message.
        return compiled.IsMatch("") ? "The expression matches empty text, so it would match every message." : null;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{0,78}[a-z0-9]$")]
    private static partial Regex IdPattern();
}
