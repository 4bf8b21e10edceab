using System.Text.RegularExpressions;

namespace SkillLoop.Core.Extraction;

/// <summary>
/// The extractor used when no chat model is configured: deterministic keyword rules fill the same record from the
/// correction text alone (what kind of mistake, how severe, what the user asked for instead). Issues say
/// <c>extractedBy: "heuristic"</c> and carry a low confidence so a later model pass can be told apart.
/// </summary>
public sealed partial class HeuristicIssueExtractor : IIssueExtractor
{
    public const string Name = "heuristic";
    private const int QuoteLength = 160;
    private const int ExpectationLength = 160;

    private static readonly Category[] Categories =
    [
        new(RepeatedInstruction(),
            "The agent ignored an instruction the user had already given.",
            "The instruction is not stated (or not prominent enough) in the skill, so the agent does not keep it across turns.",
            0.5),
        new(Prohibited(),
            "The agent took an action the user did not want.",
            "The skill does not tell the agent to avoid this action or to ask before taking it.",
            0.45),
        new(WrongChoice(),
            "The agent chose the wrong tool, command or approach for the task.",
            "The skill does not name the preferred tool or approach for this project.",
            0.45),
        new(MissingStep(),
            "The agent skipped a step the task required.",
            "The skill's procedure leaves out this step or does not mark it as required.",
            0.4),
        new(Scope(),
            "The agent did more than was asked or changed things outside the requested scope.",
            "The skill does not limit the agent to the requested change.",
            0.4),
        new(Incorrect(),
            "The agent produced incorrect or broken output.",
            "The skill's guidance for this case is missing, wrong or ambiguous.",
            0.4),
    ];

    private static readonly Category Fallback = new(
        Never(),
        "The agent's result did not match what the user expected.",
        "The skill does not describe the expected result precisely enough.",
        0.3);

    public string ExtractedBy => Name;

    /// <summary>Whether an issue's <see cref="SignalIssue.ExtractedBy"/> names this extractor (alone or as a fallback).</summary>
    public static bool IsHeuristic(string? extractedBy) =>
        extractedBy is not null && (extractedBy == Name || extractedBy.StartsWith(Name + " (", StringComparison.Ordinal));

    /// <summary>SQL: the issue aliased <c>i</c> was made by this extractor (alone or as a fallback).</summary>
    public const string IsHeuristicSql = "(i.extracted_by = 'heuristic' OR i.extracted_by LIKE 'heuristic (%')";

    /// <summary><c>heuristic (server:qwen failed: The prompt needs …)</c>: what made the issue, and why not the model.</summary>
    public static string FallbackName(string failedExtractor, string error)
    {
        var reason = Whitespace().Replace(error, " ").Trim();
        return $"{Name} ({failedExtractor} failed: {Cut(reason, 200)})";
    }

    public Task<SignalIssue> ExtractAsync(ExtractionRequest request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Extract(request));
    }

    /// <summary>The same as <see cref="ExtractAsync"/>, synchronously: it is pure string work.</summary>
    public static SignalIssue Extract(ExtractionRequest request)
    {
        var text = Normalize(SecretRedactor.Redact(request.Correction));
        var category = Categories.FirstOrDefault(c => c.Pattern.IsMatch(text)) ?? Fallback;
        var skill = request.SkillName;
        var problem = skill is null ? category.Problem : $"{category.Problem.TrimEnd('.')} while using the {skill} skill.";
        var expected = Expectation(text) is { } wanted
            ? $"The agent should {wanted}"
            : $"The agent should follow the user's correction: \"{Cut(FirstSentence(text), ExpectationLength)}\"";

        return new SignalIssue(problem, category.RootCause, expected, Severity(text), category.Confidence, Name)
        {
            Skill = skill,
            EvidenceQuote = Cut(FirstSentence(text), QuoteLength),
        };
    }

    private static string Severity(string text) =>
        HighSeverity().IsMatch(text) ? IssueSeverity.High
        : LowSeverity().IsMatch(text) ? IssueSeverity.Low
        : IssueSeverity.Medium;

    /// <summary>"use pnpm instead", "you should run the tests first" → "use pnpm instead." (the user's own words).</summary>
    private static string? Expectation(string text)
    {
        var match = ExpectationClause().Match(text);
        if (!match.Success)
        {
            return null;
        }

        var clause = match.Groups["what"].Value.Trim().TrimEnd('.', '!', ',', ';', ':');
        clause = Negation().Replace(clause, "not ");
        if (clause.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length < 2)
        {
            return null;
        }

        return Cut(clause, ExpectationLength).TrimEnd('.') + ".";
    }

    private static string FirstSentence(string text)
    {
        var match = SentenceEnd().Match(text);
        var sentence = match.Success && match.Index >= 12 ? text[..(match.Index + 1)] : text;
        return sentence.Trim();
    }

    private static string Normalize(string text) => Whitespace().Replace(text, " ").Trim();

    private static string Cut(string text, int length) =>
        text.Length <= length ? text : text[..(length - 1)].TrimEnd() + "…";

    private sealed record Category(Regex Pattern, string Problem, string RootCause, double Confidence);

    [GeneratedRegex(@"(?i)\b(i (already )?(said|told you|asked)|as i (said|asked)|again\b|how many times|i just said|remember (that|to)|keep forgetting)|我(说过|已经说)|又")]
    private static partial Regex RepeatedInstruction();

    [GeneratedRegex(@"(?i)\b(don'?t|do not|never|stop|shouldn'?t|should not|must not|why did you|who told you to|undo|revert|you (deleted|removed|overwrote|dropped|reset))\b|不要|别|停")]
    private static partial Regex Prohibited();

    [GeneratedRegex(@"(?i)\b(instead( of)?|rather than|not \w+,? (but|use)|use \S+ not|wrong (tool|command|library|package|approach|file|branch|version)|we use|prefer)\b|而不是|应该用")]
    private static partial Regex WrongChoice();

    [GeneratedRegex(@"(?i)\b(forgot|forget|missed|missing|you didn'?t|did not|also need|need to also|skipped|left out|first run|before (you|committing|pushing))\b|忘了|漏了")]
    private static partial Regex MissingStep();

    [GeneratedRegex(@"(?i)\b(only (asked|wanted|change|touch)|just (the|fix|change)|too much|unnecessary|didn'?t ask|did not ask|out of scope|leave .{1,30} alone|don'?t touch)\b|只要|多余")]
    private static partial Regex Scope();

    [GeneratedRegex(@"(?i)\b(wrong|incorrect|broken|broke|doesn'?t (work|compile|build)|does not (work|compile|build)|fails?|failing|error|bug|not right|no,)|不对|错")]
    private static partial Regex Incorrect();

    [GeneratedRegex(@"(?!)")]
    private static partial Regex Never();

    [GeneratedRegex(@"(?i)\b(production|prod\b|data loss|deleted|delete[sd]? (the|all|my)|drop(ped)? (the )?table|force[- ]push|secret|credential|security|leak|never ever|critical|broke (the )?(build|main|prod))|!!")]
    private static partial Regex HighSeverity();

    [GeneratedRegex(@"(?i)\b(nit|minor|typo|small thing|cosmetic|style|formatting|wording|prefer|slightly)\b")]
    private static partial Regex LowSeverity();

    // Modal lead-ins are dropped ("you should run X" → "run X"); an imperative verb is kept ("use X instead").
    [GeneratedRegex(@"(?i)\b(?:you should|should|please|make sure (?:to|you)?|always|need to|needs to|must|you have to)\s+(?<what>[^.!?\n]{3,200})|\b(?<what>(?:use|run|call|keep|add|ask|check|write|put|read|test|commit|install)\s+[^.!?\n]{3,200})")]
    private static partial Regex ExpectationClause();

    [GeneratedRegex(@"^(?i:don'?t|do not|never)\s+")]
    private static partial Regex Negation();

    [GeneratedRegex(@"[.!?。！？](\s|$)")]
    private static partial Regex SentenceEnd();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
