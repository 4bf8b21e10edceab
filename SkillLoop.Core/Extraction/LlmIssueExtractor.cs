using System.Text.Json;
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
public sealed partial class LlmIssueExtractor(IChatClient client, string modelName, ILogger<LlmIssueExtractor>? logger = null, int maxOutputTokens = 700)
    : IIssueExtractor, Detection.ICorrectionConfirmer
{
    private readonly Detection.ChatCorrectionConfirmer _confirmer = new(client, modelName);

    /// <summary>The same model confirms borderline detections (recorded as "model:&lt;name&gt;").</summary>
    public Task<Detection.CorrectionVerdict?> ConfirmAsync(ExtractionRequest request, CancellationToken cancellationToken) =>
        _confirmer.ConfirmAsync(request, cancellationToken);

    /// <summary>The JSON schema of the model's answer, shared with the client's agent-CLI path.</summary>
    public static JsonElement Schema { get; } = JsonDocument.Parse(IssuePrompt.SchemaJson).RootElement.Clone();

    public string ExtractedBy { get; } = $"server:{modelName}";

    public async Task<SignalIssue> ExtractAsync(ExtractionRequest request, CancellationToken cancellationToken)
    {
        var redacted = request.Redacted();
        var system = IssuePrompt.SystemPrompt;
        List<ChatMessage> retries = [];
        var options = new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "signal_issue", "The issue behind one user correction."),
            Temperature = 0,
            MaxOutputTokens = maxOutputTokens,
        };

        string? reason = null;
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var messages = Fit(redacted, system, retries, options);
            ChatResponse response;
            try
            {
                response = await client.GetResponseAsync(messages, options, cancellationToken);
            }
            catch (Ai.OpenAi.AiEndpointException ex) when (ex.StatusCode == 400 && options.ResponseFormat is ChatResponseFormatJson { Schema: not null })
            {
                // Some OpenAI-compatible servers know only {"type":"json_object"}: ask for plain JSON, keep the schema in the prompt.
                LogSchemaUnsupported(logger ?? NullLogger<LlmIssueExtractor>.Instance, ExtractedBy);
                options.ResponseFormat = ChatResponseFormat.Json;
                system = IssuePrompt.SystemPrompt + "\nJSON schema of the answer:\n" + IssuePrompt.SchemaJson;
                messages = Fit(redacted, system, retries, options);
                response = await client.GetResponseAsync(messages, options, cancellationToken);
            }

            var answer = response.Text;
            if (TryParse(answer, redacted, out var issue, out reason))
            {
                return issue;
            }

            LogInvalidAnswer(logger ?? NullLogger<LlmIssueExtractor>.Instance, ExtractedBy, attempt, reason);
            // The rejected answer is shown cut short: a runaway answer must not push the retry out of the context.
            retries.Add(new(ChatRole.Assistant, Cut(answer, 600)));
            retries.Add(new(ChatRole.User, $"That answer was not valid ({reason}). Reply again with only the JSON object, following the schema exactly."));
        }

        throw new IssueExtractionException($"{ExtractedBy} answered with an invalid issue twice: {reason}");
    }

    /// <summary>
    /// The messages of one attempt, fitted to the model's context when the client knows it (a local model): the
    /// turns before the correction are shortened first, oldest first (they are a help, the correction is the
    /// subject), then the correction itself; room for the answer is kept. A prompt that cannot fit even then fails
    /// at once with the sizes, instead of failing the same way on every retry.
    /// </summary>
    private List<ChatMessage> Fit(ExtractionRequest request, string system, List<ChatMessage> retries, ChatOptions options)
    {
        List<ChatMessage> Build(ExtractionRequest r) => [new(ChatRole.System, system), new(ChatRole.User, FormatRequest(r)), .. retries];

        if (client.GetService(typeof(Ai.IPromptTokenCounter)) is not Ai.IPromptTokenCounter counter)
        {
            return Build(request);
        }

        var context = counter.ContextLength;
        // The answer needs room; on a small context a third of it is kept for the answer, which is still enough for the JSON.
        var reserve = Math.Min(maxOutputTokens, Math.Max(64, context / 3));
        var budget = context - reserve;
        // Cut as the prompt will cut them, so the token counts below are those of what is sent.
        var fitted = request with
        {
            Correction = IssuePrompt.Cut(request.Correction, IssuePrompt.MaxCorrectionChars),
            Context = request.Context.Skip(Math.Max(0, request.Context.Count - IssuePrompt.MaxContextTurns))
                .Select(t => t with { Text = IssuePrompt.Cut(t.Text, IssuePrompt.MaxTurnChars) }).ToList(),
        };
        var messages = Build(fitted);
        var tokens = counter.CountPromptTokens(messages);
        var trimmed = false;
        while (tokens > budget)
        {
            var over = tokens - budget;
            if (fitted.Context.Count > 0)
            {
                var oldest = fitted.Context[0];
                var shorter = Shorten(oldest.Text, over, counter, keepEnd: true);
                fitted = fitted with
                {
                    Context = shorter is null ? fitted.Context.Skip(1).ToList() : [oldest with { Text = shorter }, .. fitted.Context.Skip(1)],
                };
            }
            else if (!string.IsNullOrEmpty(fitted.Reply))
            {
                fitted = fitted with { Reply = null }; // the agent's answer is a clue; the correction is the evidence
            }
            else if (Shorten(fitted.Correction, over, counter, keepEnd: false) is { } correction)
            {
                fitted = fitted with { Correction = correction };
            }
            else
            {
                throw new IssueExtractionException(
                    $"The prompt needs {tokens} tokens even without the turns before the correction; the context of {ExtractedBy} holds {context} ({reserve} kept for the answer).");
            }

            trimmed = true;
            messages = Build(fitted);
            tokens = counter.CountPromptTokens(messages);
        }

        if (trimmed)
        {
            LogTrimmed(logger ?? NullLogger<LlmIssueExtractor>.Instance, ExtractedBy, tokens, context, fitted.Context.Count, request.Context.Count);
        }

        options.MaxOutputTokens = Math.Min(maxOutputTokens, context - tokens);
        return messages;
    }

    /// <summary>
    /// The text cut by about <paramref name="over"/> tokens (plus a margin for the cut mark), keeping its end (a turn:
    /// the part nearest the correction) or its start (the correction); null when too little would be left.
    /// </summary>
    private static string? Shorten(string text, int over, Ai.IPromptTokenCounter counter, bool keepEnd)
    {
        const int MinimumChars = 80;
        var tokens = counter.CountTokens(text);
        var keepTokens = tokens - over - 8;
        if (tokens == 0 || keepTokens <= 0)
        {
            return null;
        }

        // At least 16 characters go each time, so the fitting loop always ends.
        var keep = Math.Min(text.Length - 16, (int)((long)text.Length * keepTokens / tokens));
        if (keep < MinimumChars)
        {
            return null;
        }

        return keepEnd ? "…" + text[^keep..].TrimStart() : text[..keep].TrimEnd() + "…";
    }

    internal static string FormatRequest(ExtractionRequest request) =>
        IssuePrompt.Format(request.Correction, request.Skill, request.SkillPath, request.Context, request.Reply);

    /// <summary>Parses and checks an answer; on success every field is complete, redacted and within bounds.</summary>
    internal bool TryParse(string answer, ExtractionRequest request, out SignalIssue issue, out string reason)
    {
        issue = null!;
        if (!IssuePrompt.TryParseAnswer(answer, out var parsed, out reason))
        {
            return false;
        }

        issue = SignalIssue.From(parsed, ExtractedBy, request.SkillName);
        return true;
    }

    private static string Cut(string text, int length) => IssuePrompt.Cut(text, length);

    [LoggerMessage(Level = LogLevel.Information, Message = "{ExtractedBy} rejected response_format json_schema; asking for plain JSON with the schema in the prompt")]
    private static partial void LogSchemaUnsupported(ILogger logger, string extractedBy);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{ExtractedBy}: prompt shortened to {Tokens} tokens for a context of {Context} ({Kept} of {Turns} earlier turns kept)")]
    private static partial void LogTrimmed(ILogger logger, string extractedBy, int tokens, int context, int kept, int turns);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{ExtractedBy} gave an invalid issue (attempt {Attempt}): {Reason}")]
    private static partial void LogInvalidAnswer(ILogger logger, string extractedBy, int attempt, string reason);
}
