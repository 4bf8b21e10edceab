using System.Globalization;
using System.Text;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Data;
using SkillLoop.Core.Registry;

namespace SkillLoop.Core.Proposals;

/// <summary>
/// What every proposal step shares: loading a proposal, writing a change with its audit entry in one transaction,
/// recording a failure with backoff, and composing the PR body. The steps themselves live in
/// <see cref="ProposalDrafter"/>, <see cref="ProposalPusher"/> and <see cref="ForgeSync"/>.
/// </summary>
public sealed partial class ProposalWork(SqliteDb db, ProposalStore store, TimeProvider time, ILogger<ProposalWork> logger)
{
    public const string Actor = "skillloop";

    public SqliteDb Db => db;

    public TimeProvider Time => time;

    public void RaiseChanged(long id) => store.RaiseChanged(id);

    /// <summary>Runs <paramref name="work"/> for each id <paramref name="sql"/> selects (with <c>@now</c> and <c>@settled</c>); a failure is recorded on its proposal.</summary>
    public async Task<int> ForEachDueAsync(string sql, Func<long, Task> work, CancellationToken cancellationToken, Action? failed = null, TimeSpan? settle = null)
    {
        List<long> ids;
        await using (var connection = await db.OpenAsync(cancellationToken))
        {
            var now = time.GetUtcNow();
            // A busy cluster gains evidence every moment: its proposal is redrafted at most every few seconds, not per signal.
            ids = (await connection.QueryAsync<long>(new CommandDefinition(sql, new { now, settled = now - (settle ?? TimeSpan.Zero) }, cancellationToken: cancellationToken))).ToList();
        }

        foreach (var id in ids)
        {
            try
            {
                await work(id);
            }
            catch (Exception ex) when (IsWorkFailure(ex, cancellationToken))
            {
                failed?.Invoke();
                await FailAsync(id, ex, cancellationToken);
            }
        }

        return ids.Count;
    }

    /// <summary>A failure that belongs to one proposal (retried later), not to the loop.</summary>
    public static bool IsWorkFailure(Exception ex, CancellationToken cancellationToken) =>
        ex is ProposalWorkException or GitOperationException or ForgeException or RegistryException or LibGit2Sharp.LibGit2SharpException
        || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    public async Task FailAsync(long id, Exception error, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await db.OpenAsync(cancellationToken);
        var (attempts, previous, registryId) = await connection.QuerySingleAsync<(long, string?, long?)>(new CommandDefinition(
            "SELECT attempts, last_error, registry_id FROM proposals WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        var wait = error is ProposalWorkException { RetryAfter: { } fixedWait }
            ? fixedWait
            : TimeSpan.FromSeconds(Math.Min(600, 5 * Math.Pow(2, Math.Min(attempts, 10))));
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE proposals SET attempts = attempts + 1, last_error = @error, not_before = @notBefore, updated_at = @now WHERE id = @id",
            new { id, error = error.Message, notBefore = now + wait, now }, cancellationToken: cancellationToken));
        if (previous != error.Message)
        {
            await ProposalStore.WriteAuditAsync(connection, null, Actor, "failed", id, registryId, $"{error.Message} Retrying in {wait.TotalSeconds:0} s.", now, cancellationToken);
        }

        LogFailed(logger, id, wait, error.Message);
        store.RaiseChanged(id);
    }

    /// <summary>Runs one update of a proposal and, unless <paramref name="action"/> is null, its audit entry, in one transaction; returns the rows changed.</summary>
    public async Task<int> UpdateAsync(long id, string sql, object? values, string? action, long? registryId, string detail, CancellationToken cancellationToken, string actor = Actor)
    {
        var now = time.GetUtcNow();
        var parameters = new DynamicParameters(values);
        parameters.Add("id", id);
        parameters.Add("now", now);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var changed = await connection.ExecuteAsync(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken));
        // A guarded update that found the proposal moved on (another step, a reviewer) writes no audit entry.
        if (action is not null && changed > 0)
        {
            await ProposalStore.WriteAuditAsync(connection, transaction, actor, action, id, registryId, detail, now, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        store.RaiseChanged(id);
        return changed;
    }

    public async Task<WorkRow> LoadAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.QuerySingleAsync<WorkRow>(new CommandDefinition(
            """
            SELECT p.id AS Id, p.cluster_id AS ClusterId, p.skill AS Skill, p.state AS State, p.registry_id AS RegistryId, p.skill_path AS SkillPath,
                   p.base_commit AS BaseCommit, p.proposed_text AS ProposedText, p.edited AS Edited, p.generated_by AS GeneratedBy,
                   p.title AS Title, p.summary AS Summary, p.body AS Body, p.confidence AS Confidence, p.evidence_signals AS EvidenceSignals,
                   p.evidence_users AS EvidenceUsers, p.auto_merge AS AutoMerge, p.branch AS Branch, p.commit_sha AS CommitSha,
                   p.pushed_sha AS PushedSha, p.pr_number AS PrNumber, p.pr_url AS PrUrl, p.original_text AS OriginalText, p.stale_base AS StaleBase,
                   p.reviewed_by AS ReviewedBy, p.reviewed_at AS ReviewedAt, p.commit_message AS CommitMessage, c.state AS ClusterState, p.round AS Round, p.history_json AS HistoryJson,
                   p.merged_at AS MergedAt, p.merged_commit AS MergedCommit
            FROM proposals p JOIN clusters c ON c.id = p.cluster_id WHERE p.id = @id
            """, new { id }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// The PR body. The one place where sections beyond the writer's own are added (earlier rounds, then the replay
    /// of the current texts when there is one), so the review page and every forge get the same text.
    /// </summary>
    public static string Body(
        ProposalEvidence evidence, ProposedChange change, string? reviewedBy, bool edited, IReadOnlyList<string> warnings, IReadOnlyList<ProposalRound> history,
        Replay.ProposalReplay? replay = null) =>
        ProposalWriter.Body(evidence, change, reviewedBy, edited, warnings, Sections(history, replay));

    private static IReadOnlyList<(string Heading, string Text)> Sections(IReadOnlyList<ProposalRound> history, Replay.ProposalReplay? replay)
    {
        var sections = new List<(string, string)>();
        if (history.Count > 0)
        {
            var text = new StringBuilder();
            foreach (var round in history)
            {
                text.Append(CultureInfo.InvariantCulture, $"- Round {round.Round}: {round.Summary ?? round.Title}");
                text.Append(round.MergedAt is { } at ? string.Create(CultureInfo.InvariantCulture, $" Merged {at:yyyy-MM-dd HH:mm} UTC") : "");
                text.Append(round.MergedCommit is { Length: >= 12 } commit ? $" as {commit[..12]}" : "");
                text.Append(round.PrUrl is { Length: > 0 } url ? $" ({url})" : "").Append(". ");
                text.Append(round.Outcome).Append('\n');
            }

            sections.Add(("Earlier rounds", text.ToString()));
        }

        if (replay is not null)
        {
            sections.Add(replay.BodySection());
        }

        return sections;
    }

    public static IReadOnlyList<ProposalRound> History(string? json)
    {
        try
        {
            return string.IsNullOrWhiteSpace(json) ? [] : JsonSerializer.Deserialize(json, CoreJsonContext.Default.IReadOnlyListProposalRound) ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    public static string HistoryJson(IReadOnlyList<ProposalRound> history) => JsonSerializer.Serialize(history, CoreJsonContext.Default.IReadOnlyListProposalRound);

    public static ProposedChange Change(WorkRow proposal) =>
        new(proposal.ProposedText ?? "", proposal.Summary ?? "", proposal.GeneratedBy ?? ProposalWriter.Pitfalls, proposal.Confidence);

    /// <summary>The message the reviewer confirmed, or (approved through the API without one) the default, which
    /// describes the text being pushed.</summary>
    public static string Message(WorkRow proposal) =>
        proposal.CommitMessage ?? Proposals.CommitMessage.Default(proposal.Title, proposal.SkillPath ?? "SKILL.md", proposal.OriginalText ?? "",
            proposal.ProposedText ?? "", proposal.Edited, proposal.ClusterId, proposal.EvidenceSignals, proposal.EvidenceUsers, proposal.ReviewedBy);

    /// <summary><c>skillloop/&lt;skill&gt;-&lt;cluster&gt;</c>, the skill's name made safe for a ref; later rounds add <c>-r&lt;n&gt;</c> (the first round's branch is merged).</summary>
    public static string BranchName(string reportedSkill, string registeredName, long clusterId, int round = 1)
    {
        var source = registeredName.Length > 0 ? registeredName : reportedSkill;
        var slug = new string(source.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
        while (slug.Contains("--", StringComparison.Ordinal))
        {
            slug = slug.Replace("--", "-", StringComparison.Ordinal);
        }

        slug = slug.Length == 0 ? "skill" : slug.Length > 60 ? slug[..60].TrimEnd('-') : slug;
        return round > 1 ? $"skillloop/{slug}-{clusterId}-r{round}" : $"skillloop/{slug}-{clusterId}";
    }

    public sealed class WorkRow
    {
        public long Id { get; init; }
        public long ClusterId { get; init; }
        public string Skill { get; init; } = "";
        public string State { get; init; } = "";
        public long? RegistryId { get; init; }
        public string? SkillPath { get; init; }
        public string? BaseCommit { get; init; }
        public string? ProposedText { get; init; }
        public bool Edited { get; init; }
        public string? GeneratedBy { get; init; }
        public string Title { get; init; } = "";
        public string? Summary { get; init; }
        public string? Body { get; init; }
        public double Confidence { get; init; }
        public long EvidenceSignals { get; init; }
        public long EvidenceUsers { get; init; }
        public bool AutoMerge { get; init; }
        public string? Branch { get; init; }
        public string? CommitSha { get; init; }
        public string? PushedSha { get; init; }
        public string? OriginalText { get; init; }
        public string? StaleBase { get; init; }
        public long? PrNumber { get; init; }
        public string? PrUrl { get; init; }
        public string? ReviewedBy { get; init; }
        public DateTimeOffset? ReviewedAt { get; init; }
        public string? CommitMessage { get; init; }
        public string ClusterState { get; init; } = "";
        public int Round { get; init; } = 1;
        public string? HistoryJson { get; init; }
        public DateTimeOffset? MergedAt { get; init; }
        public string? MergedCommit { get; init; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Proposal {ProposalId}: {Error}; retrying in {Wait}")]
    private static partial void LogFailed(ILogger logger, long proposalId, TimeSpan wait, string error);
}

/// <summary>An earlier round of a proposal, kept when a merged fix did not hold and the next round began.</summary>
public sealed record ProposalRound(
    int Round,
    string Title,
    string? Summary,
    string? ProposedText,
    string? Branch,
    string? CommitSha,
    long? PrNumber,
    string? PrUrl,
    string? ReviewedBy,
    DateTimeOffset? ReviewedAt,
    DateTimeOffset? MergedAt,
    string? MergedCommit,
    long EvidenceSignals,
    long EvidenceUsers,
    string Outcome);

/// <summary>A proposal step that cannot go on yet; <see cref="RetryAfter"/> when it should wait a fixed time rather than back off.</summary>
public sealed class ProposalWorkException(string message, TimeSpan? retryAfter = null) : Exception(message)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
