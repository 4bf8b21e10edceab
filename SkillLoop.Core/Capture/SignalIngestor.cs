using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
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
/// waits for it: a small post then waits for a few rows, not for a whole part. Small batches, the usual post, are
/// written together with the other small batches waiting at that moment, in one transaction (one commit for all).
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

    /// <summary>Rows of a batch written in a group with other small batches (<see cref="WriteGroupedAsync"/>).</summary>
    internal const int MaxRowsGrouped = MinRowsPerWriteTurn;

    private const string GroupSavepoint = "batch";

    private readonly KeyedGates _sessionGates = new();

    // Small batches waiting for the write turn; whoever gets it writes those still queued with its own.
    private readonly ConcurrentQueue<BatchWrite> _grouped = new();
    private long _groups;
    private long _groupedBatches;

    /// <summary>Transactions that wrote small batches, and the batches they wrote (the benchmark prints the ratio).</summary>
    internal (long Groups, long Batches) GroupsWritten => (Interlocked.Read(ref _groups), Interlocked.Read(ref _groupedBatches));

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
        var user = await hasher.UserAsync(batch.User, credential, cancellationToken);
        // A client that extracts locally gets a head start; the job is queued now, so the server still extracts
        // the signal itself if the client's issue never comes.
        var now = time.GetUtcNow();
        DateTimeOffset? awaitClientUntil = null;
        if (batch.LocalExtractor is not null && await extraction.GetAsync(cancellationToken) is { AllowLocal: true } local)
        {
            awaitClientUntil = now.AddSeconds(local.LocalGraceSeconds);
        }

        var write = new BatchWrite(batch, user, credential.KeyId ?? 0, awaitClientUntil, now);
        // Marked on arrival, not once the write turn is ours: a batch queued behind a long background write is a client
        // posting all the same, and the background stages must see it before they start their next step.
        activity.MarkIngest();
        // The write turns run at normal priority even for a large batch parsed and redacted at lowered priority
        // (LargeBatchThreads): a thread of nice 10 holding the write lock while other processes take the cores would keep
        // every other writer waiting (priority inversion); parsing and redaction hold nothing, so they stay lowered.
        if (TaskScheduler.Current is LargeBatchThreads)
        {
            return await Task.Run(() => WriteInTurnsAsync(write, cancellationToken), CancellationToken.None);
        }

        return write.Rows <= MaxRowsGrouped
            ? await WriteGroupedAsync(write, cancellationToken)
            : await WriteInTurnsAsync(write, cancellationToken);
    }

    /// <summary>
    /// A batch of more rows than a group takes: written alone, in write turns that give way to other writers, its cursor
    /// moved in the last.
    /// </summary>
    private async Task<IngestResult> WriteInTurnsAsync(BatchWrite write, CancellationToken cancellationToken)
    {
        // One batch of a session at a time, from its cursor check to its cursor update: a large batch is written in
        // several write turns, and a racing batch of the same session must see the cursor it leaves.
        using var sessionTurn = await _sessionGates.EnterAsync(write.SessionKey, cancellationToken);
        for (var first = true; ; first = false)
        {
            // Once the first part is committed the batch is finished even if its client hangs up: the rest is short,
            // and a half-stored batch would only be completed by the client's resend.
            var token = first ? cancellationToken : CancellationToken.None;
            using var writeTurn = await db.EnterWriteAsync(token);
            var connection = writeTurn.Connection;
            // Not deferred: BEGIN IMMEDIATE takes the write lock up front.
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(token);
            if (await WritePartAsync(connection, transaction, write, first, TurnIsOver, token) is { } conflict)
            {
                return conflict;
            }

            await transaction.CommitAsync(token);
            if (write.IsComplete)
            {
                break;
            }
        }

        return Stored(write);
    }

    /// <summary>
    /// A small batch (what a client sends after each agent turn) is written in one transaction with the other small
    /// batches waiting for the write turn at that moment, each inside its own savepoint: a commit, and with it the
    /// WAL frames of every page a signal touches (its table, indexes, full-text index), is paid once per group instead
    /// of once per batch. One post's failure or cursor conflict rolls back its savepoint only.
    /// </summary>
    private async Task<IngestResult> WriteGroupedAsync(BatchWrite write, CancellationToken cancellationToken)
    {
        // A session's next batch is queued only once its previous one is committed: it must see the cursor that one left.
        using var sessionTurn = await _sessionGates.EnterAsync(write.SessionKey, cancellationToken);
        _grouped.Enqueue(write);
        SqliteDb.WriteTurn? writeTurn = null;
        try
        {
            writeTurn = await db.EnterWriteAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (write.TryAbandon())
        {
            throw; // not taken by a group yet, and now never will be
        }
        catch (OperationCanceledException)
        {
            // Taken by another post's group meanwhile: its outcome is this post's.
        }

        List<BatchWrite>? group = null;
        using (writeTurn)
        {
            if (writeTurn is not null && write.TryTake())
            {
                group = [write];
                for (var rows = write.Rows; rows < RowsPerWriteTurn && _grouped.TryDequeue(out var other);)
                {
                    if (other.TryTake())
                    {
                        group.Add(other);
                        rows += other.Rows;
                    }
                }

                await WriteGroupAsync(writeTurn.Connection, group);
                Interlocked.Increment(ref _groups);
                Interlocked.Add(ref _groupedBatches, group.Count);
            }
        }

        // The pipeline is told and the posts answered once the write turn is released.
        foreach (var written in group ?? [])
        {
            if (written.Failure is { } failure)
            {
                written.Done.TrySetException(failure);
            }
            else
            {
                written.Done.TrySetResult(written.Conflict ?? Stored(written));
            }
        }

        return await write.Done.Task;
    }

    /// <summary>
    /// Writes <paramref name="group"/> in one transaction; each batch's <see cref="BatchWrite.Conflict"/> or
    /// <see cref="BatchWrite.Failure"/> says how it went. Not cancelled by any one of their requests: the others are
    /// waiting for it.
    /// </summary>
    private async Task WriteGroupAsync(SqliteConnection connection, List<BatchWrite> group)
    {
        try
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(CancellationToken.None);
            foreach (var write in group)
            {
                await transaction.SaveAsync(GroupSavepoint, CancellationToken.None);
                try
                {
                    write.Conflict = await WritePartAsync(connection, transaction, write, first: true, _ => false, CancellationToken.None);
                }
                catch (Exception ex)
                {
                    await transaction.RollbackAsync(GroupSavepoint, CancellationToken.None);
                    write.Failure = ex;
                }

                await transaction.ReleaseAsync(GroupSavepoint, CancellationToken.None);
            }

            await transaction.CommitAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            // Nothing of the group is stored (the transaction rolled back): every post in it fails, as it would alone.
            foreach (var write in group)
            {
                write.Failure = ex;
            }
        }
    }

    /// <summary>
    /// Writes the next rows of <paramref name="write"/> until <paramref name="turnIsOver"/> says so, the cursor with its
    /// last; the first part checks the cursor first and returns the conflict without writing anything.
    /// </summary>
    private async Task<IngestResult?> WritePartAsync(
        SqliteConnection connection, SqliteTransaction transaction, BatchWrite write, bool first, Func<int, bool> turnIsOver,
        CancellationToken token)
    {
        var batch = write.Batch;
        if (first)
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
        for (; write.CorrectionsWritten < batch.Corrections.Count && !turnIsOver(rows); write.CorrectionsWritten++, rows++)
        {
            var signal = await InsertCorrectionAsync(connection, transaction, batch, batch.Corrections[write.CorrectionsWritten], write.User,
                write.CredentialId, write.AwaitClientUntil, write.Now, token);
            if (signal is null)
            {
                write.Duplicates++;
            }
            else
            {
                write.Stored.Add(signal);
            }
        }

        while (write.TurnsWritten < batch.Turns.Count && !turnIsOver(rows))
        {
            // A few turns per statement execution: the statement is prepared once for them, not once a row (that
            // was most of the CPU time of writing an old client's thousands of turns).
            var count = Math.Min(Math.Min(MinRowsPerWriteTurn, RowsPerWriteTurn - rows), batch.Turns.Count - write.TurnsWritten);
            await InsertTurnsAsync(connection, transaction, batch, batch.Turns.Skip(write.TurnsWritten).Take(count), write.User.Hash, write.Now, token);
            write.TurnsWritten += count;
            rows += count;
        }

        if (write.IsComplete)
        {
            await UpdateCursorAsync(connection, transaction, batch, write.User.Hash, write.Now, token);
        }

        return null;
    }

    /// <summary>After the commit: tells the pipeline and answers the client.</summary>
    private IngestResult Stored(BatchWrite write)
    {
        var batch = write.Batch;
        LogStored(logger, write.Stored.Count, write.Duplicates, batch.Platform, batch.SessionId);
        feed.Publish(write.Stored);
        var cursor = batch.Cursor with { Platform = batch.Platform, SessionId = batch.SessionId };
        return new(IngestOutcome.Stored, new SignalBatchResult(write.Stored.Count, write.Duplicates, cursor));
    }

    /// <summary>Whether a write turn that wrote <paramref name="rows"/> rows ends here (the batch continues in the next).</summary>
    private bool TurnIsOver(int rows) => rows >= RowsPerWriteTurn || (rows >= MinRowsPerWriteTurn && db.WritersWaiting > 0);

    /// <summary>One batch on its way to the database: what it has written so far, and, for a grouped one, its outcome.</summary>
    private sealed class BatchWrite(SignalBatch batch, CountedUser user, long credentialId, DateTimeOffset? awaitClientUntil, DateTimeOffset now)
    {
        private int _state; // Queued, Taken (by the writer of a group) or Abandoned (by its cancelled request)

        public SignalBatch Batch => batch;
        public CountedUser User => user;
        public long CredentialId => credentialId;
        public DateTimeOffset? AwaitClientUntil => awaitClientUntil;
        public DateTimeOffset Now => now;
        public string SessionKey => batch.Platform + "/" + batch.SessionId;
        public int Rows => batch.Corrections.Count + batch.Turns.Count;
        public List<SignalView> Stored { get; } = [];
        public int Duplicates { get; set; }
        public int CorrectionsWritten { get; set; }
        public int TurnsWritten { get; set; }
        public bool IsComplete => CorrectionsWritten == batch.Corrections.Count && TurnsWritten == batch.Turns.Count;

        /// <summary>The stored cursor, when it was not the batch's (nothing written).</summary>
        public IngestResult? Conflict { get; set; }

        /// <summary>Why a grouped batch was not stored (its savepoint, or the whole group, rolled back).</summary>
        public Exception? Failure { get; set; }

        /// <summary>Completed by whichever post's write turn wrote the group this batch was in.</summary>
        public TaskCompletionSource<IngestResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool TryTake() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;

        public bool TryAbandon() => Interlocked.CompareExchange(ref _state, 2, 0) == 0;
    }

    /// <summary>Dapper runs one command for every row of <paramref name="turns"/>, so SQLite prepares the statement once.</summary>
    private static Task InsertTurnsAsync(
        SqliteConnection connection, System.Data.Common.DbTransaction transaction, SignalBatch batch, IEnumerable<UserTurn> turns,
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
        SqliteConnection connection, System.Data.Common.DbTransaction transaction, SignalBatch batch, DetectedCorrection correction,
        CountedUser user, long credentialId, DateTimeOffset? awaitClientUntil, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var userHash = user.Hash;
        var id = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            """
            INSERT INTO signals (platform, session_id, turn_id, text, pattern, skill, skill_path, confidence,
                                 user_hash, context_json, occurred_at, created_at, credential_id, self_declared, score, detector_version, reply)
            VALUES (@platform, @sessionId, @TurnId, @Text, @Pattern, @Skill, @SkillPath, @Confidence,
                    @userHash, @contextJson, @Timestamp, @now, @credentialId, @selfDeclared, @Score, @DetectorVersion, @Reply)
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
                correction.Reply,
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
            correction.Score, correction.DetectorVersion, Reply: correction.Reply);
    }

    private static Task UpdateCursorAsync(
        SqliteConnection connection, System.Data.Common.DbTransaction transaction, SignalBatch batch,
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
            Reply = InvisibleCharacters.Strip(c.Reply),
            Context = c.Context.Select(t => t with { Text = InvisibleCharacters.Strip(t.Text, out _) }).ToList(),
        }).ToList(),
        Cursor = batch.Cursor with
        {
            ActiveSkill = InvisibleCharacters.Strip(batch.Cursor.ActiveSkill),
            ActiveSkillPath = InvisibleCharacters.Strip(batch.Cursor.ActiveSkillPath),
        },
    };

    private static async Task<SessionCursor> ReadCursorAsync(
        SqliteConnection connection,
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
