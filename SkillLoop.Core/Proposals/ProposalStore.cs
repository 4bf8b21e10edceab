using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;

namespace SkillLoop.Core.Proposals;

/// <summary>
/// A proposal in lists: what it fixes, where it stands, and the evidence behind it. <see cref="Queued"/>: approved but
/// waiting, because its registry has as many open SkillLoop pull requests as it allows. <see cref="MergedCommit"/>: the
/// registry commit that carries the merged fix (the skill's new version). <see cref="Round"/> grows each time a merged
/// fix did not hold.
/// </summary>
public sealed record ProposalSummary(
    long Id,
    long ClusterId,
    string? Skill,
    string Title,
    string State,
    double Confidence,
    long EvidenceSignals,
    long EvidenceUsers,
    string? GeneratedBy,
    string? SkillPath,
    long? RegistryId,
    string? Branch,
    string? PrUrl,
    bool AutoMerge,
    string? LastError,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int Round = 1,
    bool Queued = false,
    DateTimeOffset? MergedAt = null,
    string? MergedCommit = null);

/// <summary>A page of proposals and how many match in all.</summary>
public sealed record ProposalPage(IReadOnlyList<ProposalSummary> Items, long Total);

/// <summary>One entry of the audit log.</summary>
public sealed record AuditEntry(long Id, DateTimeOffset At, string Actor, string Action, long? ProposalId, long? RegistryId, string Detail);

/// <summary>A proposal with its diff, texts, PR body, evidence, review and history.</summary>
public sealed record ProposalDetail(
    ProposalSummary Proposal,
    string? Summary,
    string Diff,
    string? OriginalText,
    string? ProposedText,
    bool Edited,
    string? Body,
    ProposalEvidence? Evidence,
    string? BaseCommit,
    string? CommitSha,
    long? PrNumber,
    string? ReviewComment,
    string? ReviewedBy,
    DateTimeOffset? ReviewedAt,
    int Attempts,
    IReadOnlyList<AuditEntry> Audit,
    int Version,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<LineProvenance> Provenance,
    ProposalRejection? PreviousRejection,
    IReadOnlyList<ProposalRound>? History = null)
{
    /// <summary>Replay before review of the current texts (null while drafting); its flag is also in <see cref="Warnings"/>.</summary>
    public Replay.ProposalReplay? Replay { get; init; }
}

/// <summary>The last rejection of a proposal that came back to review because new users reported the problem again.</summary>
public sealed record ProposalRejection(string? Comment, string By, DateTimeOffset At);

/// <summary>A review action that cannot be carried out now (wrong state, invalid text); <see cref="NotFound"/> when the proposal does not exist.</summary>
public sealed class ProposalActionException(string message, bool notFound = false, int? currentVersion = null) : Exception(message)
{
    public bool NotFound { get; } = notFound;

    /// <summary>Set when the request named no version or an old one: the version the proposal is at now.</summary>
    public int? CurrentVersion { get; } = currentVersion;
}

/// <summary>Reads proposals and records the reviewer's edits and decisions. Pushing is the runner's job, after approval only.</summary>
public sealed class ProposalStore(SqliteDb db, TimeProvider time)
{
    public const int MaxTextLength = 512 * 1024;

    internal const string SummaryColumns = """
        p.id AS Id, p.cluster_id AS ClusterId, nullif(p.skill, '') AS Skill, p.title AS Title, p.state AS State,
        p.confidence AS Confidence, p.evidence_signals AS EvidenceSignals, p.evidence_users AS EvidenceUsers,
        p.generated_by AS GeneratedBy, p.skill_path AS SkillPath, p.registry_id AS RegistryId, p.branch AS Branch,
        p.pr_url AS PrUrl, p.auto_merge AS AutoMerge, p.last_error AS LastError, p.created_at AS CreatedAt, p.updated_at AS UpdatedAt,
        p.round AS Round, (p.state = 'approved' AND p.queued_at IS NOT NULL) AS Queued, p.merged_at AS MergedAt, p.merged_commit AS MergedCommit
        """;

    /// <summary>The page query of <see cref="QueryAsync"/> (internal: the tests read its plan).</summary>
    internal static string PageSql(string? state) =>
        $"""
        SELECT {SummaryColumns} FROM proposals p
        WHERE p.id IN (SELECT id FROM proposals {Filter(state)} ORDER BY {ListOrder} LIMIT @limit OFFSET @offset)
        ORDER BY {ListOrder}
        """;

    private static string Filter(string? state) => state is null ? "" : "WHERE state = @state";

    /// <summary>Raised after any change to a proposal (the dashboard redraws).</summary>
    public event Action<long>? Changed;

    public const int MaxLimit = 500;

    private const string ListOrder =
        "CASE state WHEN 'review' THEN 0 WHEN 'approved' THEN 1 WHEN 'drafting' THEN 2 WHEN 'open' THEN 3 ELSE 4 END, updated_at DESC, id DESC";

    public async Task<IReadOnlyList<ProposalSummary>> ListAsync(string? state, CancellationToken cancellationToken) =>
        (await QueryAsync(state, 0, MaxLimit, cancellationToken)).Items;

    /// <summary>
    /// One page of proposals, those waiting for a reviewer first, and how many there are in all. The page's ids are
    /// chosen from ix_proposals_list alone: the rows carry whole skill files, so only the page's rows are read.
    /// </summary>
    public async Task<ProposalPage> QueryAsync(string? state, int offset, int limit, CancellationToken cancellationToken)
    {
        var parameters = new { state, offset = Math.Max(0, offset), limit = Math.Clamp(limit, 1, MaxLimit) };
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<SummaryRow>(new CommandDefinition(PageSql(state), parameters, cancellationToken: cancellationToken));
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM proposals {Filter(state)}", parameters, cancellationToken: cancellationToken));
        return new ProposalPage(rows.Select(r => r.ToSummary()).ToList(), total);
    }

    public async Task<ProposalDetail?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var summary = (await connection.QuerySingleOrDefaultAsync<SummaryRow>(new CommandDefinition(
            $"SELECT {SummaryColumns} FROM proposals p WHERE p.id = @id", new { id }, cancellationToken: cancellationToken)))?.ToSummary();
        if (summary is null)
        {
            return null;
        }

        var row = await connection.QuerySingleAsync<DetailRow>(new CommandDefinition(
            """
            SELECT summary AS Summary, original_text AS OriginalText, proposed_text AS ProposedText, edited AS Edited, body AS Body,
                   base_commit AS BaseCommit, commit_sha AS CommitSha, pr_number AS PrNumber, review_comment AS ReviewComment,
                   reviewed_by AS ReviewedBy, reviewed_at AS ReviewedAt, attempts AS Attempts, version AS Version,
                   warnings_json AS WarningsJson, provenance_json AS ProvenanceJson, evidence_json AS EvidenceJson,
                   rejected_comment AS RejectedComment, rejected_by AS RejectedBy, rejected_at AS RejectedAt, history_json AS HistoryJson
            FROM proposals WHERE id = @id
            """, new { id }, cancellationToken: cancellationToken));
        // The evidence as it was when the text was written (it is part of what the version covers); live while drafting.
        var evidence = ReadJson(row.EvidenceJson, CoreJsonContext.Default.ProposalEvidence)
            ?? await EvidenceAsync(connection, null, summary.ClusterId, cancellationToken);
        var diff = row.OriginalText is null || row.ProposedText is null ? "" : LineDiff.Unified(row.OriginalText, row.ProposedText, summary.SkillPath ?? "SKILL.md");
        var replay = await Replay.ReplayStore.ReadAsync(connection, id, row.OriginalText, row.ProposedText, cancellationToken);
        return new ProposalDetail(summary, row.Summary, diff, row.OriginalText, row.ProposedText, row.Edited, row.Body, evidence,
            row.BaseCommit, row.CommitSha, row.PrNumber, row.ReviewComment, row.ReviewedBy, row.ReviewedAt, row.Attempts,
            await AuditAsync(connection, id, cancellationToken),
            row.Version,
            [.. ReadJson(row.WarningsJson, CoreJsonContext.Default.IReadOnlyListString) ?? [], .. replay?.Warning is { } flag ? [flag] : Array.Empty<string>()],
            ReadJson(row.ProvenanceJson, CoreJsonContext.Default.IReadOnlyListLineProvenance) ?? [],
            row is { RejectedBy: { } by, RejectedAt: { } at } ? new ProposalRejection(row.RejectedComment, by, at) : null,
            ProposalWork.History(row.HistoryJson))
        {
            Replay = replay,
        };
    }

    private static T? ReadJson<T>(string? json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        try
        {
            return string.IsNullOrWhiteSpace(json) ? null : JsonSerializer.Deserialize(json, type);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The columns that hold what a reviewer reads besides the text: warnings, line provenance and the evidence snapshot.</summary>
    internal static (string Warnings, string Provenance, string Evidence) FindingsColumns(string? original, string? proposed, ProposalEvidence? evidence)
    {
        var findings = ProposalFindings.Review(original, proposed, evidence);
        return (JsonSerializer.Serialize(findings.Warnings, CoreJsonContext.Default.IReadOnlyListString),
            JsonSerializer.Serialize(findings.Provenance, CoreJsonContext.Default.IReadOnlyListLineProvenance),
            evidence is null ? "" : JsonSerializer.Serialize(evidence, CoreJsonContext.Default.ProposalEvidence));
    }

    /// <summary>The audit log, newest first: of one proposal, or everything.</summary>
    /// <param name="limit">How many entries, newest first (at most 500).</param>
    /// <param name="beforeId">The cursor of the next page: entries older than this one.</param>
    public async Task<IReadOnlyList<AuditEntry>> AuditAsync(long? proposalId, CancellationToken cancellationToken, int limit = 500, long? beforeId = null)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await AuditAsync(connection, proposalId, cancellationToken, limit, beforeId);
    }

    private static async Task<IReadOnlyList<AuditEntry>> AuditAsync(SqliteConnection connection, long? proposalId, CancellationToken cancellationToken, int limit = 500, long? beforeId = null) =>
        (await connection.QueryAsync<AuditRow>(new CommandDefinition(
            $"""
            SELECT id AS Id, at AS At, actor AS Actor, action AS Action, proposal_id AS ProposalId, registry_id AS RegistryId, detail AS Detail
            FROM audit_log WHERE {(proposalId is null ? "1" : "proposal_id = @proposalId")} AND (@beforeId IS NULL OR id < @beforeId)
            ORDER BY id DESC LIMIT @limit
            """, new { proposalId, beforeId, limit = Math.Clamp(limit, 1, 500) }, cancellationToken: cancellationToken)))
        .Select(r => new AuditEntry(r.Id, r.At, r.Actor, r.Action, r.ProposalId, r.RegistryId, r.Detail)).ToList();

    /// <summary>The reviewer's own version of the proposed text (while the proposal is in review).</summary>
    /// <param name="version">When given, the edit is refused (409) unless the proposal is still at this version.</param>
    public async Task<ProposalDetail> EditAsync(long id, string? proposedText, string actor, CancellationToken cancellationToken, int? version = null)
    {
        var text = CheckText(proposedText);
        await InReviewAsync(id, version, requireVersion: false, actor, ["review"], async (connection, transaction, original) =>
        {
            if (original is not null && ProposalWriter.CheckFrontMatter(original, text) is { } problem)
            {
                throw new ProposalActionException($"The edited text cannot be used: {problem}.");
            }

            await WriteTextAsync(connection, transaction, id, text, time.GetUtcNow(), cancellationToken);
            return ("edited", "");
        }, cancellationToken);
        return (await GetAsync(id, cancellationToken))!;
    }

    /// <summary>
    /// Approves the proposal at <paramref name="version"/> — the one the reviewer read — optionally with a last edit;
    /// the runner then pushes exactly that text and opens the PR. Any other (or no) version is refused and nothing changes.
    /// </summary>
    public async Task<ProposalDetail> ApproveAsync(long id, int? version, string? comment, string? proposedText, string actor, CancellationToken cancellationToken,
        string? commitMessage = null)
    {
        var text = proposedText is null ? null : CheckText(proposedText);
        // The reviewer's own commit message is pushed as written (checked only for what git cannot store);
        // without one the runner writes the default, which describes the pushed text.
        var message = commitMessage is null ? null : CommitMessage.Check(commitMessage);
        await InReviewAsync(id, version, requireVersion: true, actor, ["review"], async (connection, transaction, original) =>
        {
            if (text is not null && original is not null && ProposalWriter.CheckFrontMatter(original, text) is { } problem)
            {
                throw new ProposalActionException($"The edited text cannot be used: {problem}.");
            }

            var current = text ?? await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT proposed_text FROM proposals WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
            if (current is null || current == original)
            {
                throw new ProposalActionException("The proposal changes nothing; edit it or reject it.");
            }

            if (text is not null)
            {
                await WriteTextAsync(connection, transaction, id, text, time.GetUtcNow(), cancellationToken);
            }

            await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE proposals SET state = 'approved', proposed_text = @current, edited = edited OR @edited,
                    commit_sha = NULL, review_comment = @comment, reviewed_by = @actor, reviewed_at = @now, commit_message = @message,
                    attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now
                WHERE id = @id
                """, new { id, current, edited = text is not null, comment = Clean(comment), actor, message, now = time.GetUtcNow() }, transaction, cancellationToken: cancellationToken));
            return ("approved", Clean(comment) ?? "");
        }, cancellationToken);
        return (await GetAsync(id, cancellationToken))!;
    }

    /// <summary>
    /// Rejects the proposal at <paramref name="version"/>; nothing is pushed. The cluster keeps collecting evidence and
    /// stays silent until enough users not counted before this rejection report the problem again (a setting).
    /// </summary>
    public async Task<ProposalDetail> RejectAsync(long id, int? version, string? comment, string actor, CancellationToken cancellationToken)
    {
        await InReviewAsync(id, version, requireVersion: true, actor, ["drafting", "review", "approved"], async (connection, transaction, _) =>
        {
            var pushed = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT pushed_sha FROM proposals WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
            if (pushed is not null)
            {
                throw new ProposalActionException("The proposal's branch is pushed already; close its pull request instead.");
            }

            await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE proposals SET state = 'rejected', review_comment = @comment, reviewed_by = @actor, reviewed_at = @now, updated_at = @now,
                    rejected_comment = @comment, rejected_by = @actor, rejected_at = @now
                WHERE id = @id;
                -- Everyone who has reported the problem so far is counted: only users new after this may bring it back.
                INSERT OR IGNORE INTO proposal_rejected_users (proposal_id, user_hash)
                SELECT @id, s.user_hash FROM signals s WHERE s.cluster_id = (SELECT cluster_id FROM proposals WHERE id = @id);
                """, new { id, comment = Clean(comment), actor, now = time.GetUtcNow() }, transaction, cancellationToken: cancellationToken));
            return ("rejected", Clean(comment) ?? "");
        }, cancellationToken);
        return (await GetAsync(id, cancellationToken))!;
    }

    /// <summary>
    /// Asks the runner to rebuild an open proposal's branch on the registry branch's head (a stale branch, as update bots
    /// rebase theirs on request). The runner does the work; the audit log says what came of it.
    /// </summary>
    public async Task<ProposalDetail> RequestRebaseAsync(long id, string actor, CancellationToken cancellationToken)
    {
        await InReviewAsync(id, null, requireVersion: false, actor, ["open"], async (connection, transaction, _) =>
        {
            var pushed = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT pushed_sha FROM proposals WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
            if (pushed is null)
            {
                throw new ProposalActionException("The proposal's branch is not pushed yet; there is nothing to rebase.");
            }

            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE proposals SET rebase_requested = 1, not_before = NULL, updated_at = @now WHERE id = @id",
                new { id, now = time.GetUtcNow() }, transaction, cancellationToken: cancellationToken));
            return ("rebase-requested", "");
        }, cancellationToken);
        return (await GetAsync(id, cancellationToken))!;
    }

    /// <summary>Approved proposals waiting for room under their registry's cap of open pull requests.</summary>
    public async Task<long> QueuedCountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM proposals WHERE state = 'approved' AND queued_at IS NOT NULL", cancellationToken: cancellationToken));
    }

    private async Task InReviewAsync(
        long id, int? version, bool requireVersion, string actor, string[] states,
        Func<SqliteConnection, SqliteTransaction, string?, Task<(string Action, string Detail)>> act, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        // IMMEDIATE: the version check and the change are one step, so a redraft cannot slip in between them.
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<(string State, string? OriginalText, long? RegistryId, int Version)>(new CommandDefinition(
            "SELECT state, original_text, registry_id, version FROM proposals WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        if (row.State is null)
        {
            throw new ProposalActionException($"Proposal {id} does not exist.", notFound: true);
        }

        if (version is null && requireVersion)
        {
            throw new ProposalActionException(
                $"Say which version of proposal {id} you read: \"version\": {row.Version} is the current one.", currentVersion: row.Version);
        }

        if (version is { } read && read != row.Version)
        {
            throw new ProposalActionException(
                $"Proposal {id} changed since you read it (version {read}; it is at version {row.Version} now). Read it again; nothing was changed.",
                currentVersion: row.Version);
        }

        if (!states.Contains(row.State))
        {
            throw new ProposalActionException($"Proposal {id} is {row.State}; this needs it to be {string.Join(" or ", states)}.");
        }

        var (action, detail) = await act(connection, transaction, row.OriginalText);
        await WriteAuditAsync(connection, transaction, actor, action, id, row.RegistryId, detail, time.GetUtcNow(), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        Changed?.Invoke(id);
    }

    internal void RaiseChanged(long id) => Changed?.Invoke(id);

    /// <summary>A reviewer's text: stored as given (it is what will be pushed, byte for byte), with its warnings and provenance.</summary>
    private static async Task WriteTextAsync(SqliteConnection connection, SqliteTransaction transaction, long id, string text, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (clusterId, original) = await connection.QuerySingleAsync<(long, string?)>(new CommandDefinition(
            "SELECT cluster_id, original_text FROM proposals WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        var evidence = await EvidenceAsync(connection, transaction, clusterId, cancellationToken);
        var (warnings, provenance, snapshot) = FindingsColumns(original, text, evidence);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE proposals SET proposed_text = @text, edited = 1, warnings_json = @warnings, provenance_json = @provenance,
                evidence_json = nullif(@snapshot, ''), updated_at = @now
            WHERE id = @id
            """, new { id, text, warnings, provenance, snapshot, now }, transaction, cancellationToken: cancellationToken));
    }

    internal static Task WriteAuditAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string actor, string action, long? proposalId, long? registryId, string detail, DateTimeOffset now, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO audit_log (at, actor, action, proposal_id, registry_id, detail) VALUES (@now, @actor, @action, @proposalId, @registryId, @detail)",
            new { now, actor, action, proposalId, registryId, detail = detail.Length > 2000 ? detail[..2000] : detail }, transaction, cancellationToken: cancellationToken));

    /// <summary>What a cluster's signals and issues say: the prevailing problem, cause and expectation, quotes and counts.</summary>
    internal static async Task<ProposalEvidence?> EvidenceAsync(SqliteConnection connection, SqliteTransaction? transaction, long clusterId, CancellationToken cancellationToken)
    {
        var cluster = await connection.QuerySingleOrDefaultAsync<ClusterRow>(new CommandDefinition(
            """
            SELECT id AS Id, skill AS Skill, title AS Title, signal_count AS Signals, user_count AS Users, first_seen AS FirstSeen, last_seen AS LastSeen
            FROM clusters WHERE id = @clusterId
            """, new { clusterId }, transaction, cancellationToken: cancellationToken));
        if (cluster is null)
        {
            return null;
        }

        var issues = (await connection.QueryAsync<IssueRow>(new CommandDefinition(
            $"""
            SELECT s.id AS SignalId, s.user_hash AS UserHash, s.self_declared AS SelfDeclared, s.text AS Correction,
                   i.problem_pattern AS ProblemPattern, i.root_cause AS RootCause, i.expected_behavior AS ExpectedBehavior,
                   i.evidence_quote AS Quote, i.confidence AS Confidence, i.extracted_by AS ExtractedBy,
                   {HeuristicIssueExtractor.IsHeuristicSql} AS Heuristic
            FROM signals s LEFT JOIN issues i ON i.signal_id = s.id
            WHERE s.cluster_id = @clusterId ORDER BY s.id
            """, new { clusterId }, transaction, cancellationToken: cancellationToken))).ToList();
        // Nothing anyone cannot see reaches a proposal, whenever the row was stored.
        foreach (var issue in issues)
        {
            issue.Clean();
        }

        // A client's own extraction never outranks the server's: while any issue of the cluster is the server's,
        // client-supplied issues do not shape the problem, cause and expectation. And a model's wording names the
        // problem better than the heuristic's templates: prefer it when there is one.
        var withIssue = issues.Where(i => i.ProblemPattern is not null).ToList();
        var fromServer = withIssue.Where(i => !i.ClientSupplied).ToList();
        var pool = fromServer.Count > 0 ? fromServer : withIssue;
        var best = pool.Where(i => !i.Heuristic).DefaultIfEmpty().Concat(pool).FirstOrDefault(i => i is not null);
        string Prevailing(Func<IssueRow, string?> field, string fallback) =>
            pool.Where(i => !i.Heuristic || best?.Heuristic == true).Select(field).Where(v => !string.IsNullOrWhiteSpace(v))
                .GroupBy(v => v!.Trim(), StringComparer.OrdinalIgnoreCase).OrderByDescending(g => g.Count()).Select(g => g.Key).FirstOrDefault() ?? fallback;

        var quotes = issues.Select(i => SecretRedactor.Redact(string.IsNullOrWhiteSpace(i.Quote) ? i.Correction : i.Quote)!.Trim())
            .Where(q => q.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).Take(3)
            .Select(q => q.Length <= 240 ? q : q[..239] + "…").ToList();
        return new ProposalEvidence(
            cluster.Id, cluster.Skill, InvisibleCharacters.Strip(cluster.Title, out _), (int)cluster.Signals, (int)cluster.Users, cluster.FirstSeen, cluster.LastSeen,
            Prevailing(i => i.ProblemPattern, InvisibleCharacters.Strip(cluster.Title, out _)),
            Prevailing(i => i.RootCause, "Not determined."),
            Prevailing(i => i.ExpectedBehavior, "Follow the users' corrections quoted below."),
            quotes,
            pool.Count == 0 ? 0.5 : Math.Round(pool.Average(i => i.Confidence), 2))
        {
            VerifiedUsers = issues.Where(i => !i.SelfDeclared).Select(i => i.UserHash).Distinct(StringComparer.Ordinal).Count(),
            SelfDeclaredUsers = issues.Where(i => i.SelfDeclared).Select(i => i.UserHash).Distinct(StringComparer.Ordinal).Count(),
            ClientSupplied = fromServer.Count == 0 && withIssue.Count > 0,
            Sources = issues.Select(i => new EvidenceSource(i.SignalId, i.SelfDeclared, i.Correction, i.ExtractedBy, i.ProblemPattern, i.RootCause, i.ExpectedBehavior, i.Quote)).ToList(),
        };
    }

    private static string CheckText(string? text)
    {
        if (text is null || text.Trim().Length == 0)
        {
            throw new ProposalActionException("The proposed text is empty.");
        }

        if (text.Length > MaxTextLength)
        {
            throw new ProposalActionException($"The proposed text is longer than {MaxTextLength} characters.");
        }

        // Kept byte for byte: the pushed file is exactly the text the reviewer approved, line endings included.
        return text;
    }

    private static string? Clean(string? comment) =>
        string.IsNullOrWhiteSpace(comment) ? null : comment.Trim().Length > 2000 ? comment.Trim()[..2000] : comment.Trim();

    internal sealed class SummaryRow
    {
        public long Id { get; init; }
        public long ClusterId { get; init; }
        public string? Skill { get; init; }
        public string Title { get; init; } = "";
        public string State { get; init; } = "";
        public double Confidence { get; init; }
        public long EvidenceSignals { get; init; }
        public long EvidenceUsers { get; init; }
        public string? GeneratedBy { get; init; }
        public string? SkillPath { get; init; }
        public long? RegistryId { get; init; }
        public string? Branch { get; init; }
        public string? PrUrl { get; init; }
        public bool AutoMerge { get; init; }
        public string? LastError { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
        public int Round { get; init; } = 1;
        public bool Queued { get; init; }
        public DateTimeOffset? MergedAt { get; init; }
        public string? MergedCommit { get; init; }

        public ProposalSummary ToSummary() => new(
            Id, ClusterId, Skill, Title, State, Confidence, EvidenceSignals, EvidenceUsers, GeneratedBy, SkillPath, RegistryId, Branch, PrUrl, AutoMerge, LastError, CreatedAt, UpdatedAt,
            Round, Queued, MergedAt, MergedCommit);
    }

    private sealed class AuditRow
    {
        public long Id { get; init; }
        public DateTimeOffset At { get; init; }
        public string Actor { get; init; } = "";
        public string Action { get; init; } = "";
        public long? ProposalId { get; init; }
        public long? RegistryId { get; init; }
        public string Detail { get; init; } = "";
    }

    private sealed class DetailRow
    {
        public string? Summary { get; init; }
        public string? OriginalText { get; init; }
        public string? ProposedText { get; init; }
        public bool Edited { get; init; }
        public string? Body { get; init; }
        public string? BaseCommit { get; init; }
        public string? CommitSha { get; init; }
        public long? PrNumber { get; init; }
        public string? ReviewComment { get; init; }
        public string? ReviewedBy { get; init; }
        public DateTimeOffset? ReviewedAt { get; init; }
        public int Attempts { get; init; }
        public int Version { get; init; }
        public string? WarningsJson { get; init; }
        public string? ProvenanceJson { get; init; }
        public string? EvidenceJson { get; init; }
        public string? RejectedComment { get; init; }
        public string? RejectedBy { get; init; }
        public DateTimeOffset? RejectedAt { get; init; }
        public string? HistoryJson { get; init; }
    }

    private sealed class ClusterRow
    {
        public long Id { get; init; }
        public string Skill { get; init; } = "";
        public string Title { get; init; } = "";
        public long Signals { get; init; }
        public long Users { get; init; }
        public DateTimeOffset FirstSeen { get; init; }
        public DateTimeOffset LastSeen { get; init; }
    }

    private sealed class IssueRow
    {
        public long SignalId { get; init; }
        public string UserHash { get; init; } = "";
        public bool SelfDeclared { get; init; }
        public string? ProblemPattern { get; set; }
        public string? RootCause { get; set; }
        public string? ExpectedBehavior { get; set; }
        public string? Quote { get; set; }
        public double Confidence { get; init; }
        public string? ExtractedBy { get; init; }
        public string Correction { get; set; } = "";

        /// <summary>Made by the heuristic extractor, on its own or standing in for a failed model.</summary>
        public bool Heuristic { get; init; }

        public bool ClientSupplied => ExtractedBy?.StartsWith("client:", StringComparison.Ordinal) == true;

        public void Clean()
        {
            ProblemPattern = InvisibleCharacters.Strip(ProblemPattern);
            RootCause = InvisibleCharacters.Strip(RootCause);
            ExpectedBehavior = InvisibleCharacters.Strip(ExpectedBehavior);
            Quote = InvisibleCharacters.Strip(Quote);
            Correction = InvisibleCharacters.Strip(Correction, out _);
        }
    }
}
