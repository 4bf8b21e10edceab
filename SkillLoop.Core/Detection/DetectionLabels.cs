using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using SkillLoop.Core.Data;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Detection;

namespace SkillLoop.Core.Detection;

/// <summary>
/// A triage decision about one human turn, kept to retrain the detector. <c>Next</c> is the opening of the agent's
/// answer as the client sent it with the signal (null when unknown: no signal, or an older client).
/// </summary>
public sealed record DetectionLabel(
    long Id,
    string Platform,
    string SessionId,
    string TurnId,
    string Label,
    string Text,
    string Previous,
    long? SignalId,
    string DecidedBy,
    DateTimeOffset CreatedAt,
    string? Next = null)
{
    public const string Noise = "noise";
    public const string Correction = "correction";
}

/// <summary>
/// Learning from triage: an admin's "not a correction" on a signal and "missed correction" on a session's turn are
/// stored as labels (the latest decision about a turn wins) and exported in the corrections corpus format, so
/// <c>train-detector CORPUS_DIR EXPORT_DIR</c> produces new weights from the corpus plus what admins taught it.
/// </summary>
public sealed class DetectionLabels(SqliteDb db, TimeProvider time)
{
    /// <summary>Labels the signal's turn as not a correction and records the admin's verdict on the signal; false when there is no such signal.</summary>
    public async Task<bool> MarkNoiseAsync(long signalId, string decidedBy, CancellationToken cancellationToken)
    {
        using var writeTurn = await db.EnterWriteAsync(cancellationToken);
        var connection = writeTurn.Connection;
        var signal = await connection.QuerySingleOrDefaultAsync<SignalRow>(new CommandDefinition(
            """
            SELECT platform AS Platform, session_id AS SessionId, turn_id AS TurnId, text AS Text, context_json AS ContextJson, reply AS Reply
            FROM signals WHERE id = @signalId
            """, new { signalId }, cancellationToken: cancellationToken));
        if (signal is null)
        {
            return false;
        }

        var now = time.GetUtcNow();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await UpsertAsync(connection, transaction, signal.Platform, signal.SessionId, signal.TurnId, DetectionLabel.Noise, signal.Text,
            PreviousAssistant(signal.ContextJson), signal.Reply, signalId, decidedBy, now, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE signals SET verdict = 'rejected', verdict_by = @decidedBy, verdict_at = @now WHERE id = @signalId",
            new { signalId, decidedBy, now }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Labels a stored human turn as a correction the detector missed; false when the session has no such turn.</summary>
    public async Task<bool> MarkMissedAsync(string platform, string sessionId, string turnId, string decidedBy, CancellationToken cancellationToken)
    {
        using var writeTurn = await db.EnterWriteAsync(cancellationToken);
        var connection = writeTurn.Connection;
        var text = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT text FROM turns WHERE platform = @platform AND session_id = @sessionId AND turn_id = @turnId",
            new { platform, sessionId, turnId }, cancellationToken: cancellationToken));
        if (text is null)
        {
            return false;
        }

        var signal = await connection.QuerySingleOrDefaultAsync<(long Id, string? Reply)?>(new CommandDefinition(
            "SELECT id, reply FROM signals WHERE platform = @platform AND session_id = @sessionId AND turn_id = @turnId",
            new { platform, sessionId, turnId }, cancellationToken: cancellationToken));
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Only corrections keep the agent's words (the signal's context and answer); for other turns the client sent none.
        await UpsertAsync(connection, transaction, platform, sessionId, turnId, DetectionLabel.Correction, text, "", signal?.Reply, signal?.Id,
            decidedBy, time.GetUtcNow(), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<IReadOnlyList<DetectionLabel>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<LabelRow>(new CommandDefinition(
            """
            SELECT id AS Id, platform AS Platform, session_id AS SessionId, turn_id AS TurnId, label AS Label, text AS Text,
                   previous AS Previous, signal_id AS SignalId, decided_by AS DecidedBy, created_at AS CreatedAt, next AS Next
            FROM detection_labels ORDER BY id
            """, cancellationToken: cancellationToken));
        return rows.Select(r => new DetectionLabel(r.Id, r.Platform, r.SessionId, r.TurnId, r.Label, r.Text, r.Previous, r.SignalId,
            r.DecidedBy, r.CreatedAt, r.Next)).ToList();
    }

    /// <summary>
    /// Every label as one JSON line in the corrections corpus format (benchmarks/data/corrections): a "missed
    /// correction" is <c>clear</c>, "not a correction" is <c>none</c>, and the split follows the corpus rule by session.
    /// </summary>
    public async Task<string> ExportJsonlAsync(CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        foreach (var label in await ListAsync(cancellationToken))
        {
            var session = $"skillloop:{label.Platform}/{label.SessionId}";
            var row = new Dictionary<string, object>
            {
                ["id"] = $"{session}#{label.TurnId}",
                ["source"] = "skillloop-triage",
                ["commit"] = "",
                ["path"] = "",
                ["licence"] = "internal",
                ["session"] = session,
                // Not the session's opening message (a triaged turn followed an agent answer); its index is not stored.
                ["turn"] = 1,
                ["lang"] = DetectorFeatures.CjkShare(label.Text) > 0.2 ? "zh" : "en",
                ["previous"] = label.Previous,
                ["text"] = label.Text,
                ["label"] = label.Label == DetectionLabel.Correction ? "clear" : "none",
                ["why"] = $"{(label.Label == DetectionLabel.Correction ? "missed correction" : "not a correction")}, triaged by {label.DecidedBy}",
                ["split"] = SplitOf(session),
            };
            // Absent, not "", when unknown: "" says the agent answered without prose, which the detector reads differently.
            if (label.Next is not null)
                row["next"] = label.Next;
            text.Append(JsonSerializer.Serialize(row, ExportJson)).Append('\n');
        }

        return text.ToString();
    }

    private static readonly JsonSerializerOptions ExportJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The corpus's fixed split by session: first byte of SHA-256 mod 10: 0–5 train, 6–7 dev, 8–9 test.</summary>
    public static string SplitOf(string session) => (SHA256.HashData(Encoding.UTF8.GetBytes(session))[0] % 10) switch
    {
        <= 5 => "train",
        <= 7 => "dev",
        _ => "test",
    };

    private static async Task UpsertAsync(Microsoft.Data.Sqlite.SqliteConnection connection, System.Data.Common.DbTransaction transaction,
        string platform, string sessionId, string turnId, string label, string text, string previous, string? next, long? signalId,
        string decidedBy, DateTimeOffset now, CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO detection_labels (platform, session_id, turn_id, label, text, previous, next, signal_id, decided_by, created_at)
            VALUES (@platform, @sessionId, @turnId, @label, @text, @previous, @next, @signalId, @decidedBy, @now)
            ON CONFLICT (platform, session_id, turn_id) DO UPDATE SET
                label = excluded.label, text = excluded.text, previous = excluded.previous,
                next = coalesce(excluded.next, detection_labels.next),
                signal_id = coalesce(excluded.signal_id, detection_labels.signal_id),
                decided_by = excluded.decided_by, created_at = excluded.created_at
            """, new { platform, sessionId, turnId, label, text, previous, next, signalId, decidedBy, now }, transaction,
            cancellationToken: cancellationToken));

    // The agent's words just before the correction, as the client sent them in the signal's context.
    private static string PreviousAssistant(string? contextJson)
    {
        try
        {
            var context = string.IsNullOrWhiteSpace(contextJson) ? null : JsonSerializer.Deserialize(contextJson, CoreJsonContext.Default.IReadOnlyListContextTurn);
            return context?.LastOrDefault(t => t.Role == "assistant")?.Text ?? "";
        }
        catch (JsonException)
        {
            return "";
        }
    }

    private sealed class SignalRow
    {
        public string Platform { get; init; } = "";
        public string SessionId { get; init; } = "";
        public string TurnId { get; init; } = "";
        public string Text { get; init; } = "";
        public string? ContextJson { get; init; }
        public string? Reply { get; init; }
    }

    private sealed class LabelRow
    {
        public long Id { get; init; }
        public string Platform { get; init; } = "";
        public string SessionId { get; init; } = "";
        public string TurnId { get; init; } = "";
        public string Label { get; init; } = "";
        public string Text { get; init; } = "";
        public string Previous { get; init; } = "";
        public long? SignalId { get; init; }
        public string DecidedBy { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
        public string? Next { get; init; }
    }
}
