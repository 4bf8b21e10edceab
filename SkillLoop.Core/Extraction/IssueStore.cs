using System.Text.Json;
using Dapper;
using SkillLoop.Core.Data;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Core.Extraction;

/// <summary>A claimed extraction job with what the extractor needs from its signal.</summary>
/// <param name="LastError">The error of the previous attempt, if any.</param>
public sealed record ExtractionJob(long SignalId, int Attempts, ExtractionRequest Request, string? LastError = null);

/// <summary>How many extraction jobs are in each state (for status and the dashboard).</summary>
public sealed record ExtractionCounts(long Pending, long Running, long Done, long Failed);

public enum ClientIssueOutcome
{
    Stored,
    AlreadyExtracted,
    UnknownSignal,
}

/// <summary>
/// Signals the chat model could not extract (the heuristic extractor made their issues instead), with the latest
/// model error.
/// </summary>
public sealed record ModelFailures(long Count, string? LastError, DateTimeOffset? LastAt);

/// <summary>A job that failed for good, with the error.</summary>
public sealed record ExtractionFailure(long SignalId, int Attempts, string Error, DateTimeOffset UpdatedAt);

/// <summary>
/// The <c>issues</c> and <c>extraction_jobs</c> tables. Claiming is one atomic UPDATE … RETURNING and storing an
/// issue and finishing its job is one transaction, so an issue is written exactly once even across crashes.
/// </summary>
public sealed class IssueStore(SqliteDb db, TimeProvider time)
{
    // Signals up to this id have been looked at: later passes read only newer rows (by primary key), so the work
    // stays constant as the table grows. Ingest creates each job with its signal; this catches any other writer.
    private long _enqueuedThrough;

    /// <summary>Creates pending jobs for signals that have neither a job nor an issue; returns how many.</summary>
    public async Task<int> EnqueueNewAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var after = Interlocked.Read(ref _enqueuedThrough);
        var upTo = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT max(id) FROM signals", cancellationToken: cancellationToken)) ?? 0;
        if (upTo <= after)
        {
            return 0;
        }

        var created = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO extraction_jobs (signal_id, state, attempts, created_at, updated_at, credential_id)
            SELECT s.id, 'pending', 0, @now, @now, s.credential_id
            FROM signals s
            WHERE s.id > @after AND s.id <= @upTo
              AND NOT EXISTS (SELECT 1 FROM extraction_jobs j WHERE j.signal_id = s.id)
              AND NOT EXISTS (SELECT 1 FROM issues i WHERE i.signal_id = s.id)
            """, new { after, upTo, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
        InterlockedMax(ref _enqueuedThrough, upTo);
        return created;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>
    /// Jobs left <c>running</c> by a process that died go back to <c>pending</c> (their attempt stays counted);
    /// those that have used up <paramref name="maxAttempts"/> are noted as interrupted, and the runner gives them to
    /// the heuristic extractor instead of the model, so a job that crashes the process cannot crash it forever and
    /// its signal is not stranded.
    /// </summary>
    public async Task<int> RecoverInterruptedAsync(int maxAttempts, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE extraction_jobs
            SET state = 'pending',
                last_error = CASE WHEN attempts >= @maxAttempts
                                  THEN 'interrupted ' || attempts || ' time(s) (the server stopped during extraction)'
                                  ELSE last_error END,
                updated_at = @now
            WHERE state = 'running'
            """, new { maxAttempts, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    // The credential whose job was claimed last: the next claim starts after it (round-robin across credentials).
    private long _lastCredential = -1;

    /// <summary>
    /// Claims a due pending job (counting the attempt), or null when there is none. Credentials take turns: the oldest
    /// job of the next credential after the one served last, so a token that queued ten thousand jobs gets one in turn
    /// with every other token's, not ten thousand before theirs. Within a credential, oldest first.
    /// </summary>
    public async Task<ExtractionJob?> ClaimNextAsync(CancellationToken cancellationToken)
    {
        using var writeTurn = await db.EnterWriteAsync(cancellationToken);
        var connection = writeTurn.Connection;
        var now = time.GetUtcNow();
        var claimed = await connection.QuerySingleOrDefaultAsync<ClaimRow>(new CommandDefinition(
            """
            UPDATE extraction_jobs
            SET state = 'running', attempts = attempts + 1, updated_at = @now
            WHERE signal_id = coalesce(
                (SELECT signal_id FROM extraction_jobs
                 WHERE state = 'pending' AND (not_before IS NULL OR not_before <= @now) AND credential_id > @last
                 ORDER BY credential_id, signal_id
                 LIMIT 1),
                (SELECT signal_id FROM extraction_jobs
                 WHERE state = 'pending' AND (not_before IS NULL OR not_before <= @now)
                 ORDER BY credential_id, signal_id
                 LIMIT 1))
            RETURNING signal_id AS SignalId, attempts AS Attempts, credential_id AS CredentialId, last_error AS LastError
            """, new { now, last = Interlocked.Read(ref _lastCredential) }, cancellationToken: cancellationToken));
        if (claimed is null)
        {
            return null;
        }

        Interlocked.Exchange(ref _lastCredential, claimed.CredentialId);

        var signal = await connection.QuerySingleOrDefaultAsync<SignalRow>(new CommandDefinition(
            """
            SELECT text AS Text, skill AS Skill, skill_path AS SkillPath, context_json AS ContextJson, reply AS Reply
            FROM signals WHERE id = @SignalId
            """, new { claimed.SignalId }, cancellationToken: cancellationToken));
        if (signal is null)
        {
            return null; // deleted meanwhile; the cascade removes the job
        }

        return new ExtractionJob(claimed.SignalId, claimed.Attempts,
            new ExtractionRequest(signal.Text, signal.Skill, signal.SkillPath, ReadContext(signal.ContextJson), signal.Reply), claimed.LastError);
    }

    /// <summary>
    /// Stores the issue and marks the job done, together. False when the signal already had an issue — unless that
    /// one came from a client and this one from the server, which replaces it.
    /// </summary>
    /// <param name="modelError">Kept on the job when the heuristic extractor stood in for a failed model.</param>
    public async Task<bool> CompleteAsync(long signalId, SignalIssue issue, CancellationToken cancellationToken, string? modelError = null)
    {
        var now = time.GetUtcNow();
        using var writeTurn = await db.EnterWriteAsync(cancellationToken);
        var connection = writeTurn.Connection;
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var inserted = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO issues (signal_id, skill, problem_pattern, root_cause, expected_behavior, evidence_quote,
                                severity, confidence, extracted_by, created_at)
            VALUES (@signalId, @Skill, @ProblemPattern, @RootCause, @ExpectedBehavior, @EvidenceQuote,
                    @Severity, @Confidence, @ExtractedBy, @now)
            ON CONFLICT (signal_id) DO UPDATE SET
                skill = excluded.skill, problem_pattern = excluded.problem_pattern, root_cause = excluded.root_cause,
                expected_behavior = excluded.expected_behavior, evidence_quote = excluded.evidence_quote, severity = excluded.severity,
                confidence = excluded.confidence, extracted_by = excluded.extracted_by, created_at = excluded.created_at
            -- A client's issue never outranks the server's: the server's own extraction replaces it, never the reverse.
            WHERE issues.extracted_by LIKE 'client:%' AND excluded.extracted_by NOT LIKE 'client:%'
            """,
            new
            {
                signalId,
                issue.Skill,
                issue.ProblemPattern,
                issue.RootCause,
                issue.ExpectedBehavior,
                issue.EvidenceQuote,
                issue.Severity,
                issue.Confidence,
                issue.ExtractedBy,
                now,
            }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE extraction_jobs
            SET state = 'done', extractor = @ExtractedBy, last_error = @modelError, not_before = NULL, updated_at = @now
            WHERE signal_id = @signalId
            """, new { signalId, issue.ExtractedBy, modelError, now }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return inserted == 1;
    }

    /// <summary>
    /// Stores an issue a client's local agent CLI extracted from one of its signals (already checked and redacted).
    /// The first issue of a signal wins, whichever path made it.
    /// </summary>
    public async Task<ClientIssueOutcome> CompleteFromClientAsync(ClientIssue body, ExtractedIssue issue, CancellationToken cancellationToken)
    {
        SignalKeyRow? signal;
        await using (var connection = await db.OpenAsync(cancellationToken))
        {
            signal = await connection.QuerySingleOrDefaultAsync<SignalKeyRow>(new CommandDefinition(
                """
                SELECT id AS Id, skill AS Skill, skill_path AS SkillPath FROM signals
                WHERE platform = @Platform AND session_id = @SessionId AND turn_id = @TurnId
                """, new { body.Platform, body.SessionId, body.TurnId }, cancellationToken: cancellationToken));
        }

        if (signal is null)
        {
            return ClientIssueOutcome.UnknownSignal;
        }

        // Nothing invisible reaches a proposal, whoever extracted the issue.
        issue = issue with
        {
            ProblemPattern = Capture.InvisibleCharacters.Strip(issue.ProblemPattern, out _),
            RootCause = Capture.InvisibleCharacters.Strip(issue.RootCause, out _),
            ExpectedBehavior = Capture.InvisibleCharacters.Strip(issue.ExpectedBehavior, out _),
            EvidenceQuote = Capture.InvisibleCharacters.Strip(issue.EvidenceQuote, out _),
        };
        var stored = await CompleteAsync(signal.Id, SignalIssue.From(issue, body.ExtractedBy, IssuePrompt.SkillName(signal.Skill, signal.SkillPath)), cancellationToken);
        return stored ? ClientIssueOutcome.Stored : ClientIssueOutcome.AlreadyExtracted;
    }

    /// <summary>
    /// A client that announced local extraction could not do it: its corrections' jobs, still waiting out the grace
    /// period for it, become due now (the reason kept as the job's last error). Jobs already done or running are
    /// untouched. Returns how many were released.
    /// </summary>
    public async Task<int> ReleaseClientWaitAsync(string platform, string sessionId, IReadOnlyList<string> turnIds, string reason, CancellationToken cancellationToken)
    {
        using var writeTurn = await db.EnterWriteAsync(cancellationToken);
        return await writeTurn.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE extraction_jobs
            SET not_before = NULL, last_error = @reason, updated_at = @now
            WHERE state = 'pending' AND extractor LIKE 'client:%' AND not_before IS NOT NULL
              AND signal_id IN (SELECT id FROM signals WHERE platform = @platform AND session_id = @sessionId AND turn_id IN @turnIds)
            """, new { platform, sessionId, turnIds, reason, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    /// <summary>Records a failed attempt: back to pending from <paramref name="retryAt"/>, or failed for good when null.</summary>
    public async Task FailAsync(long signalId, string error, DateTimeOffset? retryAt, CancellationToken cancellationToken)
    {
        using var writeTurn = await db.EnterWriteAsync(cancellationToken);
        var connection = writeTurn.Connection;
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE extraction_jobs
            SET state = CASE WHEN @retryAt IS NULL THEN 'failed' ELSE 'pending' END,
                last_error = @error, not_before = @retryAt, updated_at = @now
            WHERE signal_id = @signalId
            """, new { signalId, error, retryAt, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Ends a job without an issue: the signal was judged not to be a correction, so it is never clustered. The job is
    /// done (not failed): nothing went wrong.
    /// </summary>
    public async Task SkipAsync(long signalId, string reason, CancellationToken cancellationToken)
    {
        using var writeTurn = await db.EnterWriteAsync(cancellationToken);
        await writeTurn.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE extraction_jobs SET state = 'done', last_error = @reason, not_before = NULL, updated_at = @now
            WHERE signal_id = @signalId
            """, new { signalId, reason, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    /// <summary>Gives a claimed job back untouched (the server is stopping): the attempt does not count.</summary>
    public async Task ReleaseAsync(long signalId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE extraction_jobs SET state = 'pending', attempts = max(attempts - 1, 0), updated_at = @now
            WHERE signal_id = @signalId AND state = 'running'
            """, new { signalId, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    /// <summary>Puts every failed job back in the queue with fresh attempts (after fixing the model setup).</summary>
    public async Task<int> RetryFailedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE extraction_jobs SET state = 'pending', attempts = 0, not_before = NULL, updated_at = @now
            WHERE state = 'failed'
            """, new { now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    public async Task<SignalIssue?> GetAsync(long signalId, CancellationToken cancellationToken) =>
        (await GetManyAsync([signalId], cancellationToken)).GetValueOrDefault(signalId);

    /// <summary>The issues of the given signals (for joining into signal lists).</summary>
    public async Task<IReadOnlyDictionary<long, SignalIssue>> GetManyAsync(IReadOnlyCollection<long> signalIds, CancellationToken cancellationToken)
    {
        if (signalIds.Count == 0)
        {
            return new Dictionary<long, SignalIssue>();
        }

        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<IssueRow>(new CommandDefinition(
            """
            SELECT signal_id AS SignalId, skill AS Skill, problem_pattern AS ProblemPattern, root_cause AS RootCause,
                   expected_behavior AS ExpectedBehavior, evidence_quote AS EvidenceQuote, severity AS Severity,
                   confidence AS Confidence, extracted_by AS ExtractedBy
            FROM issues WHERE signal_id IN @signalIds
            """, new { signalIds }, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.SignalId, r => r.ToIssue());
    }

    /// <summary>Where each signal's extraction stands (<c>pending</c>, <c>running</c>, <c>done</c>, <c>failed</c>); a signal
    /// with no job is left out (its extraction was skipped, or it predates the queue).</summary>
    public async Task<IReadOnlyDictionary<long, string>> ExtractionStatesAsync(IReadOnlyCollection<long> signalIds, CancellationToken cancellationToken)
    {
        if (signalIds.Count == 0)
        {
            return new Dictionary<long, string>();
        }

        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(long SignalId, string State)>(new CommandDefinition(
            "SELECT signal_id, state FROM extraction_jobs WHERE signal_id IN @signalIds", new { signalIds }, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.SignalId, r => r.State);
    }

    public async Task<ExtractionCounts> CountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync<(string State, long Count)>(new CommandDefinition(
            "SELECT state, count(*) FROM extraction_jobs GROUP BY state", cancellationToken: cancellationToken)))
            .ToDictionary(r => r.State, r => r.Count);
        return new(rows.GetValueOrDefault("pending"), rows.GetValueOrDefault("running"), rows.GetValueOrDefault("done"), rows.GetValueOrDefault("failed"));
    }

    /// <summary>
    /// How many signals the heuristic extracted because the model failed on them, and the latest error. The extractor
    /// name starts "heuristic (" then: a range on it, which ix_extraction_jobs_extractor serves (LIKE would scan every job).
    /// </summary>
    public async Task<ModelFailures> ModelFailuresAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleAsync<ModelFailureRow>(new CommandDefinition(
            """
            SELECT (SELECT count(*) FROM extraction_jobs WHERE state = 'done' AND extractor >= 'heuristic (' AND extractor < 'heuristic )') AS Count,
                   last_error AS LastError, updated_at AS LastAt
            FROM (SELECT 1) LEFT JOIN (
                SELECT last_error, updated_at FROM extraction_jobs
                WHERE state = 'done' AND extractor >= 'heuristic (' AND extractor < 'heuristic )'
                ORDER BY updated_at DESC LIMIT 1)
            """, cancellationToken: cancellationToken));
        return new ModelFailures(row.Count, row.LastError, row.LastAt);
    }

    public async Task<IReadOnlyList<ExtractionFailure>> FailuresAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<FailureRow>(new CommandDefinition(
            """
            SELECT signal_id AS SignalId, attempts AS Attempts, coalesce(last_error, '') AS Error, updated_at AS UpdatedAt
            FROM extraction_jobs WHERE state = 'failed' ORDER BY updated_at DESC LIMIT @limit
            """, new { limit = Math.Clamp(limit, 1, 500) }, cancellationToken: cancellationToken));
        return rows.Select(r => new ExtractionFailure(r.SignalId, r.Attempts, r.Error, r.UpdatedAt)).ToList();
    }

    private static IReadOnlyList<ContextTurn> ReadContext(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize(json, CoreJsonContext.Default.IReadOnlyListContextTurn) ?? [];
        }
        catch (JsonException)
        {
            return []; // context is a help, not a requirement
        }
    }

    private sealed class SignalKeyRow
    {
        public long Id { get; init; }
        public string? Skill { get; init; }
        public string? SkillPath { get; init; }
    }

    private sealed class ClaimRow
    {
        public long SignalId { get; init; }
        public long CredentialId { get; init; }
        public int Attempts { get; init; }
        public string? LastError { get; init; }
    }

    private sealed class ModelFailureRow
    {
        public long Count { get; init; }
        public string? LastError { get; init; }
        public DateTimeOffset? LastAt { get; init; }
    }

    private sealed class SignalRow
    {
        public string Text { get; init; } = "";
        public string? Skill { get; init; }
        public string? SkillPath { get; init; }
        public string? ContextJson { get; init; }
        public string? Reply { get; init; }
    }

    private sealed class FailureRow
    {
        public long SignalId { get; init; }
        public int Attempts { get; init; }
        public string Error { get; init; } = "";
        public DateTimeOffset UpdatedAt { get; init; }
    }

    private sealed class IssueRow
    {
        public long SignalId { get; init; }
        public string? Skill { get; init; }
        public string ProblemPattern { get; init; } = "";
        public string RootCause { get; init; } = "";
        public string ExpectedBehavior { get; init; } = "";
        public string EvidenceQuote { get; init; } = "";
        public string Severity { get; init; } = "";
        public double Confidence { get; init; }
        public string ExtractedBy { get; init; } = "";

        public SignalIssue ToIssue() => new(ProblemPattern, RootCause, ExpectedBehavior, Severity, Confidence, ExtractedBy)
        {
            Skill = Skill,
            EvidenceQuote = EvidenceQuote,
        };
    }
}
