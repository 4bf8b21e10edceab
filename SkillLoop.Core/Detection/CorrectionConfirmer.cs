using System.Text.Json;
using Dapper;
using Microsoft.Extensions.AI;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Extraction;

namespace SkillLoop.Core.Detection;

/// <summary>A second opinion on one detected correction, and who gave it ("model:&lt;name&gt;", "admin:&lt;name&gt;").</summary>
public sealed record CorrectionVerdict(bool IsCorrection, string Reason, string DecidedBy)
{
    public const string Confirmed = "confirmed";
    public const string Rejected = "rejected";

    public string Value => IsCorrection ? Confirmed : Rejected;
}

/// <summary>An extractor that can also judge whether a borderline signal is a correction at all (the chat-model ones).</summary>
public interface ICorrectionConfirmer
{
    /// <summary>The verdict, or null when the model gave no usable answer (the signal is then kept: nothing is lost).</summary>
    Task<CorrectionVerdict?> ConfirmAsync(ExtractionRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// Asks a chat model whether a borderline signal corrects the agent, with a JSON-schema constrained answer (the same
/// mechanism and request text as issue extraction; redacted first). One attempt: a borderline signal without a verdict
/// simply goes on to extraction.
/// </summary>
public sealed class ChatCorrectionConfirmer(IChatClient client, string modelName) : ICorrectionConfirmer
{
    public const string SchemaJson = """
        {
          "type": "object",
          "properties": {
            "isCorrection": { "type": "boolean", "description": "True when the user's message says the agent's previous work was wrong, incomplete, unwanted or must be redone." },
            "reason": { "type": "string", "minLength": 1, "maxLength": 200, "description": "One short reason." }
          },
          "required": ["isCorrection", "reason"],
          "additionalProperties": false
        }
        """;

    public const string SystemPrompt = """
        You decide whether a user's message to an AI coding agent corrects the agent. It is a correction when the user
        says the agent's previous output or action was wrong, incomplete, unwanted or in the wrong place, demands it be
        undone or redone, reports that it still fails after the agent's fix, checks for an omission after the agent
        claimed to be done ("did you run the tests?"), or complains about the result. It is NOT a correction when it is
        a new request or specification, an answer to the agent's own question, approval or thanks, "continue", a
        question for information, or pasted logs and errors with only a neutral request. The opening of the agent's
        answer, when given, shows how the agent took the message ("You're right, I…" or starting a new task): a clue,
        not proof. Answer with one JSON object only.
        """;

    private static readonly JsonElement Schema = JsonDocument.Parse(SchemaJson).RootElement.Clone();

    public string DecidedBy { get; } = $"model:{modelName}";

    public async Task<CorrectionVerdict?> ConfirmAsync(ExtractionRequest request, CancellationToken cancellationToken)
    {
        var redacted = request.Redacted();
        List<ChatMessage> messages =
        [
            new(ChatRole.System, SystemPrompt),
            new(ChatRole.User, IssuePrompt.Format(redacted.Correction, redacted.Skill, redacted.SkillPath, redacted.Context, redacted.Reply)),
        ];
        var options = new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "correction_verdict", "Whether the user's message corrects the agent."),
            Temperature = 0,
            MaxOutputTokens = 200,
        };
        var response = await client.GetResponseAsync(messages, options, cancellationToken);
        return TryParse(response.Text, DecidedBy);
    }

    internal static CorrectionVerdict? TryParse(string? answer, string decidedBy)
    {
        if (string.IsNullOrWhiteSpace(answer))
            return null;
        var text = answer.Trim();
        // Tolerate a Markdown fence around the object, as the issue extractor does.
        var start = text.IndexOf('{');
        var end = text.LastIndexOf('}');
        if (start < 0 || end <= start)
            return null;
        try
        {
            using var doc = JsonDocument.Parse(text[start..(end + 1)]);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("isCorrection", out var flag) || flag.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                return null;
            var reason = root.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() ?? "" : "";
            reason = SecretRedactor.Redact(reason).Trim();
            return new CorrectionVerdict(flag.GetBoolean(), reason.Length <= 200 ? reason : reason[..199] + "…", decidedBy);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>
/// Verdicts on signals: which are borderline (a score in the detector's band just above its threshold), and the
/// recorded second opinion with who decided.
/// </summary>
public sealed class DetectionVerdicts(SqliteDb db, DetectorModel model, TimeProvider time)
{
    /// <summary>A signal whose score lies in [threshold, band top) of its language, with no verdict yet.</summary>
    public async Task<bool> IsBorderlineAsync(long signalId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<(string Text, double? Score, string? Verdict)>(new CommandDefinition(
            "SELECT text, score, verdict FROM signals WHERE id = @signalId", new { signalId }, cancellationToken: cancellationToken));
        return row.Text is not null && row.Verdict is null && row.Score is { } score && IsBorderline(row.Text, score);
    }

    public bool IsBorderline(string text, double score)
    {
        if (model.IsRegexOnly)
            return false;
        var limits = model.For(DetectorFeatures.CjkShare(text) > 0.2 ? "zh" : "en");
        return score >= limits.Threshold - 1e-9 && score < limits.BandTop;
    }

    public async Task RecordAsync(long signalId, CorrectionVerdict verdict, CancellationToken cancellationToken)
    {
        using var writeTurn = await db.EnterWriteAsync(cancellationToken);
        await writeTurn.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE signals SET verdict = @value, verdict_by = @DecidedBy, verdict_at = @now WHERE id = @signalId",
            new { signalId, value = verdict.Value, verdict.DecidedBy, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }
}
