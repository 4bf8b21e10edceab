using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Core.Capture;

public enum IngestOutcome
{
    Stored,
    CursorConflict,
}

public sealed record IngestResult(IngestOutcome Outcome, SignalBatchResult Result);

/// <summary>
/// Stores what a client read from one session. The batch is applied only when its <c>FromOffset</c> equals the
/// stored cursor, one batch of a session at a time, so racing Stop events and resends never store anything twice.
/// A large batch (an old client's first read of a long session: thousands of rows) is written in several write turns
/// of <see cref="RowsPerWriteTurn"/> rows, so another client's post waits for one part, not for the whole batch; its
/// cursor moves in the last one. A batch stopped half-way (the server stopped) left rows but not the cursor: the
/// client's resend from the same offset stores the rest, and every row once (turn ids are unique per session).
/// A write turn of a large batch also ends early, after <see cref="MinRowsPerWriteTurn"/> rows, once another writer
/// waits for it: a small post then waits for a few rows, not for a whole part.
/// </summary>
public sealed partial class SignalIngestor(
    SqliteDb db,
    UserIdentityHasher hasher,
    SignalFeed feed,
    IngestActivity activity,
    ExtractionSettings extraction,
    TimeProvider time,
    ILogger<SignalIngestor> logger)
{
    /// <summary>Rows (turns and corrections) written in one write turn: a few milliseconds of holding it.</summary>
    internal const int RowsPerWriteTurn = 256;

    /// <summary>
    /// Rows a write turn writes before it gives way to a writer waiting for it (about a millisecond): fewer would
    /// commit too often; 256 made another client's post wait 20-60 ms behind a flood's write turn (issue 16, item 13).
    /// </summary>
    internal const int MinRowsPerWriteTurn = 16;

    private readonly KeyedGates _sessionGates = new();

    public async Task<SessionCursor> GetCursorAsync(string platform, string sessionId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await ReadCursorAsync(connection, null, platform, sessionId, cancellationToken);
    }

    /// <summary>Applies a validated batch whose user is only what the client reported (self-declared).</summary>
    public Task<IngestResult> IngestAsync(SignalBatch batch, CancellationToken cancellationToken) =>
        IngestAsync(batch, IngestCredential.SelfDeclared, cancellationToken);

    /// <summary>
    /// Applies a validated batch (see <see cref="SignalBatchValidator"/>) sent with <paramref name="credential"/>: its
    /// token decides whose evidence it is, and later stages share their work fairly between tokens.
    /// </summary>
    public async Task<IngestResult> IngestAsync(SignalBatch batch, IngestCredential credential, CancellationToken cancellationToken)
    {
        // Secrets a user pasted into the chat never reach the database, whatever the client did (an old or modified
        // client may not redact): the same redactor the client runs, over every free-text field; nor do characters
        // nobody can see.
        batch = WithoutInvisibleCharacters(BatchRedaction.Redact(batch));
        var credentialId = credential.KeyId ?? 0;
        var user = await hasher.UserAsync(batch.User, credential, cancellationToken);
        var userHash = user.Hash;
        var now = time.GetUtcNow();
        var stored = new List<SignalView>();
        // A client that extracts locally gets a head start; the job is queued now, so the server still extracts
        // the signal itself if the client's issue never comes.
        DateTimeOffset? awaitClientUntil = null;
        if (batch.LocalExtractor is not null && await extraction.GetAsync(cancellationToken) is { AllowLocal: true } local)
        {
            awaitClientUntil = now.AddSeconds(local.LocalGraceSeconds);
        }

        // Marked on arrival, not once the write turn is ours: a batch queued behind a long background write is a client
        // posting all the same, and the background stages must see it before they start their next step.
        activity.MarkIngest();
        // The write turns run at normal priority even for a large batch parsed and redacted at lowered priority
        // (LargeBatchThreads): a thread of nice 10 holding the write lock while other processes take the cores would keep
        // every other writer waiting (priority inversion); parsing and redaction hold nothing, so they stay lowered.
        return TaskScheduler.Current is LargeBatchThreads
            ? await Task.Run(WriteAsync, CancellationToken.None)
            : await WriteAsync();

        async Task<IngestResult> WriteAsync()
        {
            // One batch of a session at a time, from its cursor check to its cursor update: a large batch is written in
            // several write turns, and a racing batch of the same session must see the cursor it leaves.
            using var sessionTurn = await _sessionGates.EnterAsync(batch.Platform + "/" + batch.SessionId, cancellationToken);
            var duplicates = 0;
            var turnsWritten = 0;
            var correctionsWritten = 0;
            for (var chunk = 0; ; chunk++)
            {
                // Once the first part is committed the batch is finished even if its client hangs up: the rest is short,
                // and a half-stored batch would only be completed by the client's resend.
                var token = chunk == 0 ? cancellationToken : CancellationToken.None;
                using var writeTurn = await db.EnterWriteAsync(token);
                var connection = writeTurn.Connection;
                // Not deferred: BEGIN IMMEDIATE takes the write lock up front.
                await using var transaction = (Microsoft.Data.Sqlite.SqliteTransaction)await connection.BeginTransactionAsync(token);
                if (chunk == 0)
                {
                    var current = await ReadCursorAsync(connection, transaction, batch.Platform, batch.SessionId, token);
                    if (current.Offset != batch.FromOffset)
                    {
                        LogCursorConflict(logger, batch.Platform, batch.SessionId, batch.FromOffset, current.Offset);
                        return new(IngestOutcome.CursorConflict, new SignalBatchResult(0, 0, current));
                    }
                }

                var rows = 0;
                // Corrections first: they are what the pipeline works on; plain turns come from old clients only.
                for (; correctionsWritten < batch.Corrections.Count && !TurnIsOver(rows); correctionsWritten++, rows++)
                {
                    var signal = await InsertCorrectionAsync(connection, transaction, batch, batch.Corrections[correctionsWritten], user, credentialId, awaitClientUntil, now, token);
                    if (signal is null)
                    {
                        duplicates++;
                    }
                    else
                    {
                        stored.Add(signal);
                    }
                }

                while (turnsWritten < batch.Turns.Count && !TurnIsOver(rows))
                {
                    // A few turns per statement execution: the statement is prepared once for them, not once a row (that
                    // was most of the CPU time of writing an old client's thousands of turns).
                    var count = Math.Min(Math.Min(MinRowsPerWriteTurn, RowsPerWriteTurn - rows), batch.Turns.Count - turnsWritten);
                    await InsertTurnsAsync(connection, transaction, batch, batch.Turns.Skip(turnsWritten).Take(count), userHash, now, token);
                    turnsWritten += count;
                    rows += count;
                }

                var last = turnsWritten == batch.Turns.Count && correctionsWritten == batch.Corrections.Count;
                if (last)
                {
                    await UpdateCursorAsync(connection, transaction, batch, userHash, now, token);
                }

                await transaction.CommitAsync(token);
                if (last)
                {
                    break;
                }
            }

            LogStored(logger, stored.Count, duplicates, batch.Platform, batch.SessionId);
            feed.Publish(stored);
            var cursor = batch.Cursor with { Platform = batch.Platform, SessionId = batch.SessionId };
            return new(IngestOutcome.Stored, new SignalBatchResult(stored.Count, duplicates, cursor));
        }
    }

    /// <summary>Whether a write turn that wrote <paramref name="rows"/> rows ends here (the batch continues in the next).</summary>
    private bool TurnIsOver(int rows) => rows >= RowsPerWriteTurn || (rows >= MinRowsPerWriteTurn && db.WritersWaiting > 0);

    /// <summary>Dapper runs one command for every row of <paramref name="turns"/>, so SQLite prepares the statement once.</summary>
    private static Task InsertTurnsAsync(
        Microsoft.Data.Sqlite.SqliteConnection connection, System.Data.Common.DbTransaction transaction, SignalBatch batch, IEnumerable<UserTurn> turns,
        string userHash, DateTimeOffset now, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO turns (platform, session_id, turn_id, text, user_hash, occurred_at, created_at)
            VALUES (@platform, @sessionId, @TurnId, @Text, @userHash, @Timestamp, @now)
            ON CONFLICT (platform, session_id, turn_id) DO NOTHING
            """,
            turns.Select(turn => new { platform = batch.Platform, sessionId = batch.SessionId, turn.TurnId, turn.Text, userHash, turn.Timestamp, now }).ToList(),
            transaction, cancellationToken: cancellationToken));

    /// <summary>The correction's signal and its extraction job; null when the turn was stored before (a resend).</summary>
    private static async Task<SignalView?> InsertCorrectionAsync(
        Microsoft.Data.Sqlite.SqliteConnection connection, System.Data.Common.DbTransaction transaction, SignalBatch batch, DetectedCorrection correction,
        CountedUser user, long credentialId, DateTimeOffset? awaitClientUntil, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var userHash = user.Hash;
        var id = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            """
            INSERT INTO signals (platform, session_id, turn_id, text, pattern, skill, skill_path, confidence,
                                 user_hash, context_json, occurred_at, created_at, credential_id, self_declared, score, detector_version)
            VALUES (@platform, @sessionId, @TurnId, @Text, @Pattern, @Skill, @SkillPath, @Confidence,
                    @userHash, @contextJson, @Timestamp, @now, @credentialId, @selfDeclared, @Score, @DetectorVersion)
            ON CONFLICT (platform, session_id, turn_id) DO NOTHING
            RETURNING id
            """,
            new
            {
                platform = batch.Platform,
                sessionId = batch.SessionId,
                correction.TurnId,
                correction.Text,
                correction.Pattern,
                correction.Skill,
                correction.SkillPath,
                correction.Confidence,
                userHash,
                contextJson = JsonSerializer.Serialize(correction.Context, CoreJsonContext.Default.IReadOnlyListContextTurn),
                correction.Timestamp,
                now,
                credentialId,
                selfDeclared = user.SelfDeclared,
                correction.Score,
                correction.DetectorVersion,
            },
            transaction, cancellationToken: cancellationToken));
        if (id is null)
        {
            return null;
        }

        // The extraction job is born with its signal: nothing has to look for signals without one later.
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO extraction_jobs (signal_id, state, attempts, extractor, not_before, created_at, updated_at, credential_id)
            VALUES (@id, 'pending', 0, @extractor, @awaitClientUntil, @now, @now, @credentialId)
            """,
            new { id, extractor = awaitClientUntil is null ? null : "client:" + batch.LocalExtractor, awaitClientUntil, now, credentialId },
            transaction, cancellationToken: cancellationToken));

        return new SignalView(id.Value, batch.Platform, batch.SessionId, correction.TurnId, correction.Text, correction.Pattern,
            correction.Skill, correction.SkillPath, correction.Confidence, userHash, now, null, null,
            correction.Score, correction.DetectorVersion);
    }

    private static Task UpdateCursorAsync(
        Microsoft.Data.Sqlite.SqliteConnection connection, System.Data.Common.DbTransaction transaction, SignalBatch batch,
        string userHash, DateTimeOffset now, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO sessions (platform, session_id, cursor_offset, active_skill, active_skill_path, user_hash, product, created_at, updated_at)
            VALUES (@platform, @sessionId, @offset, @skill, @skillPath, @userHash, @product, @now, @now)
            ON CONFLICT (platform, session_id) DO UPDATE SET
                cursor_offset = excluded.cursor_offset,
                active_skill = excluded.active_skill,
                active_skill_path = excluded.active_skill_path,
                user_hash = excluded.user_hash,
                product = coalesce(excluded.product, sessions.product),
                updated_at = excluded.updated_at
            """,
            new
            {
                platform = batch.Platform,
                sessionId = batch.SessionId,
                offset = batch.Cursor.Offset,
                skill = batch.Cursor.ActiveSkill,
                skillPath = batch.Cursor.ActiveSkillPath,
                userHash,
                product = batch.Product,
                now,
            },
            transaction, cancellationToken: cancellationToken));

    private static SignalBatch WithoutInvisibleCharacters(SignalBatch batch) => batch with
    {
        Turns = batch.Turns.Select(t => t with { Text = InvisibleCharacters.Strip(t.Text, out _) }).ToList(),
        Corrections = batch.Corrections.Select(c => c with
        {
            Text = InvisibleCharacters.Strip(c.Text, out _),
            Skill = InvisibleCharacters.Strip(c.Skill),
            SkillPath = InvisibleCharacters.Strip(c.SkillPath),
            Context = c.Context.Select(t => t with { Text = InvisibleCharacters.Strip(t.Text, out _) }).ToList(),
        }).ToList(),
        Cursor = batch.Cursor with
        {
            ActiveSkill = InvisibleCharacters.Strip(batch.Cursor.ActiveSkill),
            ActiveSkillPath = InvisibleCharacters.Strip(batch.Cursor.ActiveSkillPath),
        },
    };

    private static async Task<SessionCursor> ReadCursorAsync(
        Microsoft.Data.Sqlite.SqliteConnection connection,
        System.Data.Common.DbTransaction? transaction,
        string platform,
        string sessionId,
        CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<CursorRow>(new CommandDefinition(
            """
            SELECT cursor_offset AS Offset, active_skill AS Skill, active_skill_path AS SkillPath
            FROM sessions WHERE platform = @platform AND session_id = @sessionId
            """, new { platform, sessionId }, transaction, cancellationToken: cancellationToken));
        return row is { } r
            ? new SessionCursor(platform, sessionId, r.Offset, r.Skill, r.SkillPath)
            : new SessionCursor(platform, sessionId, 0, null, null);
    }

    private sealed class CursorRow
    {
        public long Offset { get; init; }
        public string? Skill { get; init; }
        public string? SkillPath { get; init; }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Stored {Count} signal(s) ({Duplicates} duplicate) from {Platform} session {SessionId}")]
    private static partial void LogStored(ILogger logger, int count, int duplicates, string platform, string sessionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cursor conflict for {Platform} session {SessionId}: batch from {FromOffset}, stored {StoredOffset}")]
    private static partial void LogCursorConflict(ILogger logger, string platform, string sessionId, long fromOffset, long storedOffset);
}
