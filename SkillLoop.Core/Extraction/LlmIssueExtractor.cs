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
        List<ChatMessage> messages = [new(ChatRole.System, IssuePrompt.SystemPrompt), new(ChatRole.User, FormatRequest(redacted))];
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
                messages[0] = new(ChatRole.System, IssuePrompt.SystemPrompt + "\nJSON schema of the answer:\n" + IssuePrompt.SchemaJson);
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

    internal static string FormatRequest(ExtractionRequest request) =>
        IssuePrompt.Format(request.Correction, request.Skill, request.SkillPath, request.Context);

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "{ExtractedBy} gave an invalid issue (attempt {Attempt}): {Reason}")]
    private static partial void LogInvalidAnswer(ILogger logger, string extractedBy, int attempt, string reason);
}
