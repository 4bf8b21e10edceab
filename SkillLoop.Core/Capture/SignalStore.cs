using System.Text.Json;
using Dapper;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Capture;

/// <summary>Reads stored signals, newest first.</summary>
public sealed class SignalStore(SqliteDb db)
{
    public const int MaxLimit = 500;

    public async Task<IReadOnlyList<SignalView>> QueryAsync(SignalQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<SignalRow>(new CommandDefinition(Sql(query), Parameters(query), cancellationToken: cancellationToken));
        return rows.Select(r => r.ToView()).ToList();
    }

    /// <summary>
    /// The query's SQL (internal: the tests read its plan). Only the filters given go into it: a "@x IS NULL OR …" term
    /// would keep SQLite from choosing the index that serves the filter, and a year of signals is too large to scan.
    /// </summary>
    internal static string Sql(SignalQuery query) =>
        $"""
        SELECT id AS Id, platform AS Platform, session_id AS SessionId, turn_id AS TurnId, text AS Text,
               pattern AS Pattern, skill AS Skill, skill_path AS SkillPath, confidence AS Confidence,
               user_hash AS UserHash, created_at AS CreatedAt, cluster_id AS ClusterId,
               score AS Score, detector_version AS DetectorVersion, verdict AS Verdict, verdict_by AS VerdictBy, reply AS Reply
        FROM signals
        WHERE {Filters(query)}
        ORDER BY id DESC
        LIMIT @limit
        """;

    private static string Filters(SignalQuery query)
    {
        (bool Given, string Term)[] terms =
        [
            (query.Platform is not null, "platform = @Platform"),
            (query.SessionId is not null, "session_id = @SessionId"),
            (query.Skill is not null, "skill = @Skill"),
            (query.BeforeId is not null, "id < @BeforeId"),
            (query.ClusterId is not null, "cluster_id = @ClusterId"),
            (query.PatternContains is not null, @"pattern LIKE '%' || @PatternLike || '%' ESCAPE '\'"),
            // A prefix as a range, so the index on user_hash serves it (LIKE would not: it ignores case, the index does not).
            (query.UserPrefix is not null, "user_hash >= @UserPrefix AND user_hash < @UserPrefix || char(1114111)"),
            // 3+ characters: the trigram index finds the candidates (case folded as Unicode, a superset of what LIKE
            // matches), with the signals not indexed yet (SignalSearchIndexer), and LIKE keeps exactly the rows it
            // matched before. Shorter searches have no trigram to look up.
            (Indexed(query.TextContains),
                "(id IN (SELECT rowid FROM signals_fts WHERE signals_fts MATCH @TextMatch) OR id IN (SELECT id FROM signals_fts_pending))"),
            (query.TextContains is not null, @"text LIKE '%' || @TextLike || '%' ESCAPE '\'"),
        ];
        var given = terms.Where(t => t.Given).Select(t => t.Term).ToList();
        return given.Count == 0 ? "1" : string.Join(" AND ", given);
    }

    internal static object Parameters(SignalQuery query) => new
    {
        query.Platform, query.SessionId, query.Skill, query.BeforeId, query.ClusterId, query.UserPrefix,
        PatternLike = Like(query.PatternContains),
        TextLike = Like(query.TextContains),
        TextMatch = Indexed(query.TextContains) ? Phrase(query.TextContains!) : null,
        limit = Math.Clamp(query.Limit, 1, MaxLimit),
    };

    /// <summary>Whether a text search is long enough for the trigram index (3 characters, counted as Unicode scalars).</summary>
    private static bool Indexed(string? text) => text is not null && text.EnumerateRunes().Take(3).Count() == 3;

    /// <summary>An FTS5 phrase of the search as typed: quoted, so operators, wildcards and punctuation are literal.</summary>
    private static string Phrase(string text) => "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A LIKE pattern's literal part: its wildcards and the escape character escaped.</summary>
    private static string? Like(string? text) => text?.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_");

    /// <summary>The (redacted) turns the client sent around a signal, for the signal's detail view.</summary>
    public async Task<IReadOnlyList<ContextTurn>> ContextAsync(long signalId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var json = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT context_json FROM signals WHERE id = @signalId", new { signalId }, cancellationToken: cancellationToken));
        try
        {
            return string.IsNullOrWhiteSpace(json) ? [] : JsonSerializer.Deserialize(json, CoreJsonContext.Default.IReadOnlyListContextTurn) ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    /// <summary>The human turns a client sent for one session, in the order they arrived (for "missed correction" triage).</summary>
    public async Task<IReadOnlyList<SessionTurn>> SessionTurnsAsync(string platform, string sessionId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<SessionTurn>(new CommandDefinition(
            """
            SELECT t.turn_id AS TurnId, t.text AS Text, s.id AS SignalId, l.label AS Label
            FROM turns t
            LEFT JOIN signals s ON s.platform = t.platform AND s.session_id = t.session_id AND s.turn_id = t.turn_id
            LEFT JOIN detection_labels l ON l.platform = t.platform AND l.session_id = t.session_id AND l.turn_id = t.turn_id
            WHERE t.platform = @platform AND t.session_id = @sessionId
            ORDER BY t.id
            LIMIT 500
            """, new { platform, sessionId }, cancellationToken: cancellationToken));
        return rows.ToList();
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT count(*) FROM signals", cancellationToken: cancellationToken));
    }

    /// <summary>A stored human turn of a session, with its signal and triage label when it has them.</summary>
    public sealed class SessionTurn
    {
        public string TurnId { get; init; } = "";
        public string Text { get; init; } = "";
        public long? SignalId { get; init; }
        public string? Label { get; init; }
    }

    private sealed class SignalRow
    {
        public long Id { get; init; }
        public string Platform { get; init; } = "";
        public string SessionId { get; init; } = "";
        public string TurnId { get; init; } = "";
        public string Text { get; init; } = "";
        public string Pattern { get; init; } = "";
        public string? Skill { get; init; }
        public string? SkillPath { get; init; }
        public double Confidence { get; init; }
        public string UserHash { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
        public long? ClusterId { get; init; }
        public double? Score { get; init; }
        public string? DetectorVersion { get; init; }
        public string? Verdict { get; init; }
        public string? VerdictBy { get; init; }
        public string? Reply { get; init; }

        public SignalView ToView() =>
            new(Id, Platform, SessionId, TurnId, Text, Pattern, Skill, SkillPath, Confidence, UserHash, CreatedAt, ClusterId, null,
                Score, DetectorVersion, Verdict, VerdictBy, Reply);
    }
}
