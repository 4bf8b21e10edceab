using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;

namespace SkillLoop.Core.Proposals;

/// <summary>A proposal in lists: what it fixes, where it stands, and the evidence behind it.</summary>
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
    DateTimeOffset UpdatedAt);

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
    IReadOnlyList<AuditEntry> Audit);

/// <summary>A review action that cannot be carried out now (wrong state, invalid text); <see cref="NotFound"/> when the proposal does not exist.</summary>
public sealed class ProposalActionException(string message, bool notFound = false) : Exception(message)
{
    public bool NotFound { get; } = notFound;
}

/// <summary>Reads proposals and records the reviewer's edits and decisions. Pushing is the runner's job, after approval only.</summary>
public sealed class ProposalStore(SqliteDb db, TimeProvider time)
{
    public const int MaxTextLength = 512 * 1024;

    internal const string SummaryColumns = """
        p.id AS Id, p.cluster_id AS ClusterId, nullif(p.skill, '') AS Skill, p.title AS Title, p.state AS State,
        p.confidence AS Confidence, p.evidence_signals AS EvidenceSignals, p.evidence_users AS EvidenceUsers,
        p.generated_by AS GeneratedBy, p.skill_path AS SkillPath, p.registry_id AS RegistryId, p.branch AS Branch,
        p.pr_url AS PrUrl, p.auto_merge AS AutoMerge, p.last_error AS LastError, p.created_at AS CreatedAt, p.updated_at AS UpdatedAt
        """;

    /// <summary>Raised after any change to a proposal (the dashboard redraws).</summary>
    public event Action<long>? Changed;

    public async Task<IReadOnlyList<ProposalSummary>> ListAsync(string? state, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<SummaryRow>(new CommandDefinition(
            $"""
            SELECT {SummaryColumns} FROM proposals p
            WHERE @state IS NULL OR p.state = @state
            ORDER BY CASE p.state WHEN 'review' THEN 0 WHEN 'approved' THEN 1 WHEN 'drafting' THEN 2 WHEN 'open' THEN 3 ELSE 4 END, p.updated_at DESC
            LIMIT 1000
            """, new { state }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToSummary()).ToList();
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
                   reviewed_by AS ReviewedBy, reviewed_at AS ReviewedAt, attempts AS Attempts
            FROM proposals WHERE id = @id
            """, new { id }, cancellationToken: cancellationToken));
        var evidence = await EvidenceAsync(connection, null, summary.ClusterId, cancellationToken);
        var diff = row.OriginalText is null || row.ProposedText is null ? "" : LineDiff.Unified(row.OriginalText, row.ProposedText, summary.SkillPath ?? "SKILL.md");
        return new ProposalDetail(summary, row.Summary, diff, row.OriginalText, row.ProposedText, row.Edited, row.Body, evidence,
            row.BaseCommit, row.CommitSha, row.PrNumber, row.ReviewComment, row.ReviewedBy, row.ReviewedAt, row.Attempts,
            await AuditAsync(connection, id, cancellationToken));
    }

    /// <summary>The audit log, newest first: of one proposal, or everything.</summary>
    public async Task<IReadOnlyList<AuditEntry>> AuditAsync(long? proposalId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await AuditAsync(connection, proposalId, cancellationToken);
    }

    private static async Task<IReadOnlyList<AuditEntry>> AuditAsync(SqliteConnection connection, long? proposalId, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<AuditRow>(new CommandDefinition(
            """
            SELECT id AS Id, at AS At, actor AS Actor, action AS Action, proposal_id AS ProposalId, registry_id AS RegistryId, detail AS Detail
            FROM audit_log WHERE @proposalId IS NULL OR proposal_id = @proposalId ORDER BY id DESC LIMIT 500
            """, new { proposalId }, cancellationToken: cancellationToken))).Select(r => new AuditEntry(r.Id, r.At, r.Actor, r.Action, r.ProposalId, r.RegistryId, r.Detail)).ToList();

    /// <summary>The reviewer's own version of the proposed text (while the proposal is in review).</summary>
    public async Task<ProposalDetail> EditAsync(long id, string? proposedText, string actor, CancellationToken cancellationToken)
    {
        var text = CheckText(proposedText);
        await InReviewAsync(id, actor, ["review"], async (connection, transaction, original) =>
        {
            if (original is not null && ProposalWriter.CheckFrontMatter(original, text) is { } problem)
            {
                throw new ProposalActionException($"The edited text cannot be used: {problem}.");
            }

            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE proposals SET proposed_text = @text, edited = 1, updated_at = @now WHERE id = @id",
                new { id, text, now = time.GetUtcNow() }, transaction, cancellationToken: cancellationToken));
            return ("edited", "");
        }, cancellationToken);
        return (await GetAsync(id, cancellationToken))!;
    }

    /// <summary>Approves the proposal (optionally with a last edit); the runner then pushes its branch and opens the PR.</summary>
    public async Task<ProposalDetail> ApproveAsync(long id, string? comment, string? proposedText, string actor, CancellationToken cancellationToken)
    {
        var text = proposedText is null ? null : CheckText(proposedText);
        await InReviewAsync(id, actor, ["review"], async (connection, transaction, original) =>
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

            await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE proposals SET state = 'approved', proposed_text = @current, edited = edited OR @edited,
                    commit_sha = NULL, review_comment = @comment, reviewed_by = @actor, reviewed_at = @now,
                    attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now
                WHERE id = @id
                """, new { id, current, edited = text is not null, comment = Clean(comment), actor, now = time.GetUtcNow() }, transaction, cancellationToken: cancellationToken));
            return ("approved", Clean(comment) ?? "");
        }, cancellationToken);
        return (await GetAsync(id, cancellationToken))!;
    }

    /// <summary>Rejects the proposal; nothing is pushed. The cluster keeps collecting evidence but gets no second proposal.</summary>
    public async Task<ProposalDetail> RejectAsync(long id, string? comment, string actor, CancellationToken cancellationToken)
    {
        await InReviewAsync(id, actor, ["drafting", "review", "approved"], async (connection, transaction, _) =>
        {
            var pushed = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT pushed_sha FROM proposals WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
            if (pushed is not null)
            {
                throw new ProposalActionException("The proposal's branch is pushed already; close its pull request instead.");
            }

            await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE proposals SET state = 'rejected', review_comment = @comment, reviewed_by = @actor, reviewed_at = @now, updated_at = @now
                WHERE id = @id
                """, new { id, comment = Clean(comment), actor, now = time.GetUtcNow() }, transaction, cancellationToken: cancellationToken));
            return ("rejected", Clean(comment) ?? "");
        }, cancellationToken);
        return (await GetAsync(id, cancellationToken))!;
    }

    private async Task InReviewAsync(
        long id, string actor, string[] states,
        Func<SqliteConnection, SqliteTransaction, string?, Task<(string Action, string Detail)>> act, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<(string State, string? OriginalText, long? RegistryId)>(new CommandDefinition(
            "SELECT state, original_text, registry_id FROM proposals WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        if (row.State is null)
        {
            throw new ProposalActionException($"Proposal {id} does not exist.", notFound: true);
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
            SELECT i.problem_pattern AS ProblemPattern, i.root_cause AS RootCause, i.expected_behavior AS ExpectedBehavior,
                   i.evidence_quote AS Quote, i.confidence AS Confidence, {HeuristicIssueExtractor.IsHeuristicSql} AS Heuristic, s.text AS Correction
            FROM signals s LEFT JOIN issues i ON i.signal_id = s.id
            WHERE s.cluster_id = @clusterId ORDER BY s.id
            """, new { clusterId }, transaction, cancellationToken: cancellationToken))).ToList();
        // A model's wording names the problem better than the heuristic's templates: prefer it when there is one.
        var withIssue = issues.Where(i => i.ProblemPattern is not null).ToList();
        var best = withIssue.Where(i => !i.Heuristic).DefaultIfEmpty().Concat(withIssue).FirstOrDefault(i => i is not null);
        string Prevailing(Func<IssueRow, string?> field, string fallback) =>
            withIssue.Where(i => !i.Heuristic || best?.Heuristic == true).Select(field).Where(v => !string.IsNullOrWhiteSpace(v))
                .GroupBy(v => v!.Trim(), StringComparer.OrdinalIgnoreCase).OrderByDescending(g => g.Count()).Select(g => g.Key).FirstOrDefault() ?? fallback;

        var quotes = issues.Select(i => SecretRedactor.Redact(string.IsNullOrWhiteSpace(i.Quote) ? i.Correction : i.Quote)!.Trim())
            .Where(q => q.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).Take(3)
            .Select(q => q.Length <= 240 ? q : q[..239] + "…").ToList();
        return new ProposalEvidence(
            cluster.Id, cluster.Skill, cluster.Title, (int)cluster.Signals, (int)cluster.Users, cluster.FirstSeen, cluster.LastSeen,
            Prevailing(i => i.ProblemPattern, cluster.Title),
            Prevailing(i => i.RootCause, "Not determined."),
            Prevailing(i => i.ExpectedBehavior, "Follow the users' corrections quoted below."),
            quotes,
            withIssue.Count == 0 ? 0.5 : Math.Round(withIssue.Average(i => i.Confidence), 2));
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

        return text.Replace("\r\n", "\n", StringComparison.Ordinal);
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

        public ProposalSummary ToSummary() => new(
            Id, ClusterId, Skill, Title, State, Confidence, EvidenceSignals, EvidenceUsers, GeneratedBy, SkillPath, RegistryId, Branch, PrUrl, AutoMerge, LastError, CreatedAt, UpdatedAt);
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
        public string? ProblemPattern { get; init; }
        public string? RootCause { get; init; }
        public string? ExpectedBehavior { get; init; }
        public string? Quote { get; init; }
        public double Confidence { get; init; }
        public bool Heuristic { get; init; }
        public string Correction { get; init; } = "";
    }
}
