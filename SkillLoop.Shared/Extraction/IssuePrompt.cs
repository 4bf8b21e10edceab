using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Hooks.Extraction;

/// <summary>
/// The one extraction prompt, answer schema and answer check. The server's model and the client's local agent CLI
/// (<c>claude -p</c>, <c>copilot -p</c>) both use these, so the two paths produce the same issue.
/// </summary>
public static partial class IssuePrompt
{
    public const int MaxCorrectionChars = 2000;
    public const int MaxTurnChars = 800;
    /// <summary>How many turns before the correction the prompt shows (the latest ones).</summary>
    public const int MaxContextTurns = 6;

    /// <summary>The JSON schema of the answer (the skill comes from the signal, not the model).</summary>
    public const string SchemaJson = """
        {
          "type": "object",
          "properties": {
            "problemPattern": { "type": "string", "minLength": 8, "maxLength": 240, "description": "One generic sentence: what the agent did wrong, no names, paths or personal data." },
            "rootCause": { "type": "string", "minLength": 8, "maxLength": 240, "description": "Why the skill let this happen (missing, wrong or ambiguous instruction)." },
            "expectedBehavior": { "type": "string", "minLength": 8, "maxLength": 240, "description": "What the agent should do instead." },
            "evidenceQuote": { "type": "string", "minLength": 1, "maxLength": 160, "description": "A short verbatim quote of the user's correction." },
            "severity": { "type": "string", "enum": ["low", "medium", "high"] },
            "confidence": { "type": "number", "minimum": 0, "maximum": 1 }
          },
          "required": ["problemPattern", "rootCause", "expectedBehavior", "evidenceQuote", "severity", "confidence"],
          "additionalProperties": false
        }
        """;

    public const string SystemPrompt = """
        You analyse corrections that users gave an AI coding agent while it was following a skill (a reusable
        instruction file). From the correction, the turns before it and, when given, the opening of the agent's answer
        to it (an agent that was wrong often says what it got wrong), describe the underlying issue so similar
        corrections from other users can be grouped and the skill can be fixed.
        Answer with one JSON object only:
        - problemPattern: one generic sentence about what the agent did wrong, reusable across users; no names,
          e-mail addresses, file paths, hostnames or secrets.
        - rootCause: why the skill allowed it (missing, wrong or ambiguous instruction).
        - expectedBehavior: what the agent should do instead.
        - evidenceQuote: a short quote (at most 160 characters) from the user's correction.
        - severity: "high" for data loss, security or broken builds; "medium" for wrong results or wasted work;
          "low" for style and preferences.
        - confidence: 0 to 1, how sure you are that this is a real issue of the skill.
        """;

    public static IReadOnlyList<string> Severities { get; } = ["low", "medium", "high"];

    /// <summary>
    /// The whole prompt as one text, for agent CLIs that take a single prompt: instructions, the schema, then the
    /// correction. Everything in it is redacted.
    /// </summary>
    public static string ForAgentCli(string correction, string? skill, string? skillPath, IReadOnlyList<ContextTurn> context, string? reply = null) =>
        SystemPrompt + "\nJSON schema of the answer:\n" + SchemaJson
        + "\nDo not use any tools and do not read or change files. Reply with the JSON object only, no Markdown.\n\n"
        + Format(correction, skill, skillPath, context, reply);

    /// <summary>
    /// The user message: skill, the turns before the correction, the correction and the opening of the agent's answer
    /// to it (when known and not empty), all redacted and cut short.
    /// </summary>
    public static string Format(string correction, string? skill, string? skillPath, IReadOnlyList<ContextTurn> context, string? reply = null)
    {
        var text = new StringBuilder();
        text.Append("Skill: ").Append(SecretRedactor.Redact(SkillName(skill, skillPath)) ?? "(unknown)");
        if (!string.IsNullOrWhiteSpace(skillPath))
            text.Append(" (").Append(SecretRedactor.Redact(skillPath)).Append(')');

        text.Append("\n\nTurns before the correction:\n");
        var turns = context.Skip(Math.Max(0, context.Count - MaxContextTurns)).ToList();
        if (turns.Count == 0)
            text.Append("(none)\n");
        foreach (var turn in turns)
            text.Append('[').Append(turn.Role).Append("] ").Append(Cut(SecretRedactor.Redact(turn.Text), MaxTurnChars)).Append('\n');

        text.Append("\nThe user's correction:\n").Append(Cut(SecretRedactor.Redact(correction), MaxCorrectionChars));
        if (!string.IsNullOrWhiteSpace(reply))
            text.Append("\n\nThe opening of the agent's answer to it:\n").Append(Cut(SecretRedactor.Redact(reply), MaxTurnChars));
        return text.ToString();
    }

    /// <summary>The skill's name: the given one, else the folder or file name of its path.</summary>
    public static string? SkillName(string? skill, string? skillPath)
    {
        if (!string.IsNullOrWhiteSpace(skill))
            return skill.Trim();
        if (string.IsNullOrWhiteSpace(skillPath))
            return null;
        var trimmed = skillPath.TrimEnd('/', '\\');
        var name = Path.GetFileName(trimmed);
        return name.Length > 0 && !name.Equals("SKILL.md", StringComparison.OrdinalIgnoreCase)
            ? Path.GetFileNameWithoutExtension(name)
            : Path.GetFileName(Path.GetDirectoryName(trimmed));
    }

    /// <summary>
    /// Parses and checks an answer. On success every field is present, redacted (a model may echo what it was
    /// shown) and within bounds; otherwise <paramref name="reason"/> says what is wrong, for a retry.
    /// </summary>
    public static bool TryParseAnswer(string answer, out ExtractedIssue issue, out string reason)
    {
        issue = null!;
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(StripFence(answer));
            root = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            reason = $"not JSON: {ex.Message}";
            return false;
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            reason = "not a JSON object";
            return false;
        }

        var problem = Text(root, "problemPattern", 240);
        var rootCause = Text(root, "rootCause", 240);
        var expected = Text(root, "expectedBehavior", 240);
        var quote = Text(root, "evidenceQuote", 160);
        var severity = Text(root, "severity", 10)?.ToLowerInvariant();
        double? confidence = root.TryGetProperty("confidence", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetDouble() : null;

        reason = problem is null ? "problemPattern missing or empty"
            : rootCause is null ? "rootCause missing or empty"
            : expected is null ? "expectedBehavior missing or empty"
            : quote is null ? "evidenceQuote missing or empty"
            : severity is null || !Severities.Contains(severity) ? "severity must be low, medium or high"
            : confidence is not (>= 0 and <= 1) ? "confidence must be a number from 0 to 1"
            : "";
        if (reason.Length > 0)
            return false;

        issue = new ExtractedIssue(problem!, rootCause!, expected!, quote!, severity!, Math.Round(confidence!.Value, 3));
        return true;
    }

    /// <summary>Checks an issue that arrived already parsed (from a client): the same rules as an answer.</summary>
    public static bool TryValidate(ExtractedIssue? issue, out ExtractedIssue valid, out string reason)
    {
        if (issue is null)
        {
            valid = null!;
            reason = "issue missing";
            return false;
        }

        var json = JsonSerializer.Serialize(issue, HooksJsonContext.Default.ExtractedIssue);
        return TryParseAnswer(json, out valid, out reason);
    }

    private static string? Text(JsonElement root, string name, int maxLength)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
            return null;

        // U+FFFD: bytes that were not valid UTF-8.
        var text = Whitespace().Replace(SecretRedactor.Redact(value.GetString()!).Replace("\uFFFD", "", StringComparison.Ordinal), " ").Trim();
        return text.Length == 0 ? null : Cut(text, maxLength);
    }

    /// <summary>Models without schema support, and agent CLIs, sometimes wrap JSON in a Markdown fence or a sentence.</summary>
    private static string StripFence(string answer)
    {
        var trimmed = answer.Trim();
        var match = Fence().Match(trimmed);
        if (match.Success)
            return match.Groups["json"].Value;
        if (trimmed.StartsWith('{'))
            return trimmed;
        // "Here is the JSON: {...}": take the outermost object.
        var start = trimmed.IndexOf('{');
        var end = trimmed.LastIndexOf('}');
        return start >= 0 && end > start ? trimmed[start..(end + 1)] : trimmed;
    }

    public static string Cut(string text, int length) => text.Length <= length ? text : text[..(length - 1)].TrimEnd() + "…";

    [GeneratedRegex(@"^```(?:json)?\s*(?<json>[\s\S]*?)\s*```$")]
    private static partial Regex Fence();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
