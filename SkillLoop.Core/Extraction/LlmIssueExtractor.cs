using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SkillLoop.Core.Extraction;

/// <summary>
/// Extracts an issue with a chat model. The answer is constrained to <see cref="Schema"/> (a GBNF grammar locally,
/// <c>response_format: json_schema</c> at an endpoint), then parsed and checked; an invalid answer is retried once
/// with the reason, and a second invalid answer fails with <see cref="IssueExtractionException"/>: a half-parsed
/// issue is never returned. Everything sent is redacted first, and so is everything returned.
/// </summary>
public sealed partial class LlmIssueExtractor(IChatClient client, string modelName, ILogger<LlmIssueExtractor>? logger = null, int maxOutputTokens = 700) : IIssueExtractor
{
    private const int MaxCorrectionChars = 2000;
    private const int MaxTurnChars = 800;
    private const int MaxContextTurns = 6;

    /// <summary>The JSON schema of the model's answer (the skill comes from the signal, not the model).</summary>
    public static JsonElement Schema { get; } = JsonDocument.Parse("""
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
        """).RootElement.Clone();

    private const string SystemPrompt = """
        You analyse corrections that users gave an AI coding agent while it was following a skill (a reusable
        instruction file). From the correction and the turns before it, describe the underlying issue so similar
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

    public string ExtractedBy { get; } = $"server:{modelName}";

    public async Task<SignalIssue> ExtractAsync(ExtractionRequest request, CancellationToken cancellationToken)
    {
        var redacted = request.Redacted();
        List<ChatMessage> messages = [new(ChatRole.System, SystemPrompt), new(ChatRole.User, FormatRequest(redacted))];
        var options = new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "signal_issue", "The issue behind one user correction."),
            Temperature = 0,
            MaxOutputTokens = maxOutputTokens,
        };

        string? reason = null;
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            ChatResponse response;
            try
            {
                response = await client.GetResponseAsync(messages, options, cancellationToken);
            }
            catch (Llama.AiEndpointException ex) when (ex.StatusCode == 400 && options.ResponseFormat is ChatResponseFormatJson { Schema: not null })
            {
                // Some OpenAI-compatible servers know only {"type":"json_object"}: ask for plain JSON, keep the schema in the prompt.
                LogSchemaUnsupported(logger ?? NullLogger<LlmIssueExtractor>.Instance, ExtractedBy);
                options.ResponseFormat = ChatResponseFormat.Json;
                messages[0] = new(ChatRole.System, SystemPrompt + "\nJSON schema of the answer:\n" + Schema.GetRawText());
                response = await client.GetResponseAsync(messages, options, cancellationToken);
            }

            var answer = response.Text;
            if (TryParse(answer, redacted, out var issue, out reason))
            {
                return issue;
            }

            LogInvalidAnswer(logger ?? NullLogger<LlmIssueExtractor>.Instance, ExtractedBy, attempt, reason);
            // The rejected answer is shown cut short: a runaway answer must not push the retry out of the context.
            messages.Add(new(ChatRole.Assistant, Cut(answer, 600)));
            messages.Add(new(ChatRole.User, $"That answer was not valid ({reason}). Reply again with only the JSON object, following the schema exactly."));
        }

        throw new IssueExtractionException($"{ExtractedBy} answered with an invalid issue twice: {reason}");
    }

    internal static string FormatRequest(ExtractionRequest request)
    {
        var text = new StringBuilder();
        text.Append("Skill: ").Append(request.SkillName ?? "(unknown)");
        if (!string.IsNullOrWhiteSpace(request.SkillPath))
        {
            text.Append(" (").Append(request.SkillPath).Append(')');
        }

        text.Append("\n\nTurns before the correction:\n");
        var turns = request.Context.TakeLast(MaxContextTurns).ToList();
        if (turns.Count == 0)
        {
            text.Append("(none)\n");
        }

        foreach (var turn in turns)
        {
            text.Append('[').Append(turn.Role).Append("] ").Append(Cut(turn.Text, MaxTurnChars)).Append('\n');
        }

        text.Append("\nThe user's correction:\n").Append(Cut(request.Correction, MaxCorrectionChars));
        return text.ToString();
    }

    /// <summary>Parses and checks an answer; on success every field is complete, redacted and within bounds.</summary>
    internal bool TryParse(string answer, ExtractionRequest request, out SignalIssue issue, out string reason)
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
            : severity is null || !IssueSeverity.All.Contains(severity) ? "severity must be low, medium or high"
            : confidence is not (>= 0 and <= 1) ? "confidence must be a number from 0 to 1"
            : "";
        if (reason.Length > 0)
        {
            return false;
        }

        issue = new SignalIssue(problem!, rootCause!, expected!, severity!, Math.Round(confidence!.Value, 3), ExtractedBy)
        {
            Skill = request.SkillName,
            EvidenceQuote = quote!,
        };
        return true;
    }

    private static string? Text(JsonElement root, string name, int maxLength)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        // U+FFFD: bytes that were not valid UTF-8. Redacted again: a model may echo what it was shown.
        var text = Whitespace().Replace(SecretRedactor.Redact(value.GetString()!).Replace("\uFFFD", "", StringComparison.Ordinal), " ").Trim();
        return text.Length == 0 ? null : Cut(text, maxLength);
    }

    /// <summary>Endpoints without schema support sometimes wrap JSON in a Markdown fence.</summary>
    private static string StripFence(string answer)
    {
        var trimmed = answer.Trim();
        var match = Fence().Match(trimmed);
        return match.Success ? match.Groups["json"].Value : trimmed;
    }

    private static string Cut(string text, int length) => text.Length <= length ? text : text[..(length - 1)].TrimEnd() + "…";

    [GeneratedRegex(@"^```(?:json)?\s*(?<json>[\s\S]*?)\s*```$")]
    private static partial Regex Fence();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [LoggerMessage(Level = LogLevel.Information, Message = "{ExtractedBy} rejected response_format json_schema; asking for plain JSON with the schema in the prompt")]
    private static partial void LogSchemaUnsupported(ILogger logger, string extractedBy);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{ExtractedBy} gave an invalid issue (attempt {Attempt}): {Reason}")]
    private static partial void LogInvalidAnswer(ILogger logger, string extractedBy, int attempt, string reason);
}
