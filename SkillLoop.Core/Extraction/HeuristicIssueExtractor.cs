using System.Text.RegularExpressions;

namespace SkillLoop.Core.Extraction;

/// <summary>
/// The extractor used when no chat model is configured (or the model failed): deterministic keyword rules fill the
/// same record from the correction text alone: the kind of mistake followed by the problem in the user's own words
/// (lead-ins such as "no, that's wrong —" dropped), how severe, and what the user asked for instead. Issues say
/// <c>extractedBy: "heuristic"</c> and carry a low confidence so a later model pass can be told apart.
/// </summary>
public sealed partial class HeuristicIssueExtractor : IIssueExtractor
{
    public const string Name = "heuristic";
    private const int QuoteLength = 160;
    private const int ExpectationLength = 160;
    private const int ProblemLength = 200;

    private static readonly Category[] Categories =
    [
        new(RepeatedInstruction(), "Ignored an earlier instruction",
            "The instruction is not stated (or not prominent enough) in the skill, so the agent does not keep it across turns.",
            0.5),
        new(Prohibited(), "Unwanted action",
            "The skill does not tell the agent to avoid this action or to ask before taking it.",
            0.45),
        new(WrongChoice(), "Wrong tool or approach",
            "The skill does not name the preferred tool or approach for this project.",
            0.45),
        new(MissingStep(), "Skipped a step",
            "The skill's procedure leaves out this step or does not mark it as required.",
            0.4),
        new(Scope(), "Beyond the request",
            "The skill does not limit the agent to the requested change.",
            0.4),
        new(Incorrect(), "Incorrect result",
            "The skill's guidance for this case is missing, wrong or ambiguous.",
            0.4),
    ];

    private static readonly Category Fallback = new(
        Never(), "Unexpected result",
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
        // The problem in the person's own terms, under the kind of mistake: "Wrong tool or approach: use pnpm instead of npm."
        var ownWords = CorrectionText.OwnWords(text, ProblemLength);
        var problem = $"{category.Label}: {ownWords}";
        var expected = Expectation(CorrectionText.StripLeadIn(text)) is { } wanted
            ? $"The agent should {wanted}"
            : $"The agent should follow the user's correction: \"{Cut(ownWords, ExpectationLength)}\"";

        return new SignalIssue(problem, category.RootCause, expected, Severity(text), category.Confidence, Name)
        {
            Skill = skill,
            EvidenceQuote = Cut(CorrectionText.FirstSentence(text), QuoteLength),
        };
    }

    private static string Severity(string text) =>
        HighSeverity().IsMatch(text) ? IssueSeverity.High
        : LowSeverity().IsMatch(text) ? IssueSeverity.Low
        : IssueSeverity.Medium;

    /// <summary>"use pnpm instead", "you should run the tests first" → "use pnpm instead." (the user's own words, one whole sentence).</summary>
    private static string? Expectation(string text)
    {
        foreach (var sentence in CorrectionText.Sentences(text))
        {
            var match = ExpectationClause().Match(sentence);
            if (!match.Success)
            {
                continue;
            }

            var clause = match.Groups["what"].Value.Trim().TrimEnd('.', '!', '?', ',', ';', ':', '。', '！', '？');
            clause = Negation().Replace(clause, "not ");
            if (clause.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length < 2)
            {
                continue;
            }

            return Cut(clause, ExpectationLength).TrimEnd('.') + ".";
        }

        return null;
    }

    private static string Normalize(string text) => Whitespace().Replace(text, " ").Trim();

    private static string Cut(string text, int length) =>
        text.Length <= length ? text : text[..(length - 1)].TrimEnd() + "…";

    /// <param name="Label">The kind of mistake, heading the problem stated in the user's words.</param>
    private sealed record Category(Regex Pattern, string Label, string RootCause, double Confidence);

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
    [GeneratedRegex(@"(?i)\b(?:you should|should|please|make sure (?:to|you)?|always|need to|needs to|must|you have to)\s+(?<what>[^\n]{3,200})|\b(?<what>(?:use|run|call|keep|add|ask|check|write|put|read|test|commit|install|quote|wrap|set|leave|stop|don'?t|do not|never)\s+[^\n]{3,200})")]
    private static partial Regex ExpectationClause();

    [GeneratedRegex(@"^(?i:don'?t|do not|never)\s+")]
    private static partial Regex Negation();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
