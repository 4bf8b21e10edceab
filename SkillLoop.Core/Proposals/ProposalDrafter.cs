using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Registry;

namespace SkillLoop.Core.Proposals;

/// <summary>
/// Writes proposals: one per cluster that reached its evidence threshold (the <c>proposals.cluster_id</c> key), drafted
/// from the skill at the registry branch's head, redrafted on new evidence while nobody edited it, and brought back
/// from silence (a rejection, a pull request closed without merge) when enough new users report the problem again.
/// </summary>
public sealed partial class ProposalDrafter(
    ProposalWork work,
    ClusteringSettings clustering,
    ClusterConsolidator consolidator,
    RegistryStore registries,
    GitMirror git,
    ProposalWriter writer,
    TimeProvider time,
    ILogger<ProposalDrafter> logger)
{
    private const string Actor = ProposalWork.Actor;
    private static readonly TimeSpan UnmatchedWait = TimeSpan.FromSeconds(30);

    // An open cluster with enough distinct users (@minimum) and no proposal yet: one condition for the check that
    // consolidates first and for the candidates, so the two never disagree about which clusters are due.
    private const string DueCluster = """
        c.state = 'open' AND c.signal_count > 0 AND c.user_count >= @minimum
        AND NOT EXISTS (SELECT 1 FROM proposals p WHERE p.cluster_id = c.id)
        """;

    /// <summary>
    /// One proposal for each open cluster with enough distinct users (the registry's threshold, else the global one),
    /// counted once consolidation has settled the cluster. Signals join a cluster as they arrive, by similarity to its
    /// centroid, so a cluster can reach the threshold with members that consolidation would move to a cluster of
    /// their own; a proposal would then anchor them there for good. So a cluster with enough users that joined since
    /// the last consolidation pass has its skill consolidated first, and only settled clusters are counted.
    /// </summary>
    public async Task<int> CreateDueAsync(CancellationToken cancellationToken)
    {
        var global = (await clustering.GetAsync(cancellationToken)).DistinctUsers;
        await using var connection = await work.Db.OpenAsync(cancellationToken);
        var lowest = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT min(distinct_users) FROM registries", cancellationToken: cancellationToken));
        var minimum = Math.Min(global, lowest ?? global);
        var unsettled = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            $"SELECT EXISTS (SELECT 1 FROM clusters c WHERE {DueCluster} AND c.consolidated = 0)",
            new { minimum }, cancellationToken: cancellationToken));
        if (unsettled)
        {
            await consolidator.RunAsync(cancellationToken);
        }

        // A signal that joins after the pass unsettles its cluster again: it waits for the next pass.
        var candidates = (await connection.QueryAsync<(long Id, string Skill, long Users, long Signals, string Title, string? Path)>(new CommandDefinition(
            $"""
            SELECT c.id, c.skill, c.user_count, c.signal_count, c.title, (SELECT max(skill_path) FROM signals s WHERE s.cluster_id = c.id)
            FROM clusters c
            WHERE {DueCluster} AND c.consolidated = 1
            ORDER BY c.id LIMIT 100
            """, new { minimum }, cancellationToken: cancellationToken))).ToList();
        if (candidates.Count == 0)
        {
            return 0;
        }

        var resolver = await SkillResolver.LoadAsync(connection, null, cancellationToken);
        var thresholds = (await registries.ListAsync(cancellationToken)).ToDictionary(r => r.Id, r => r.DistinctUsers);
        var created = 0;
        foreach (var cluster in candidates)
        {
            var resolved = resolver.Resolve(NullIfEmpty(cluster.Skill), cluster.Path);
            var threshold = resolved is not null && thresholds.GetValueOrDefault(resolved.RegistryId) is { } own ? own : global;
            if (cluster.Users < threshold)
            {
                continue;
            }

            var now = time.GetUtcNow();
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            var id = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
                """
                INSERT INTO proposals (cluster_id, skill, registry_id, skill_path, title, state, evidence_signals, evidence_users, created_at, updated_at)
                SELECT @clusterId, @skill, @registryId, @path, @title, 'drafting', @signals, @users, @now, @now
                WHERE EXISTS (SELECT 1 FROM clusters WHERE id = @clusterId AND consolidated = 1 AND user_count = @users)
                ON CONFLICT (cluster_id) DO NOTHING
                RETURNING id
                """,
                new { clusterId = cluster.Id, skill = cluster.Skill, registryId = resolved?.RegistryId, path = resolved?.Path, title = cluster.Title, signals = cluster.Signals, users = cluster.Users, now },
                transaction, cancellationToken: cancellationToken));
            if (id is { } proposalId)
            {
                await ProposalStore.WriteAuditAsync(connection, transaction, Actor, "created", proposalId, resolved?.RegistryId,
                    $"Cluster #{cluster.Id} reached {cluster.Users} distinct users (threshold {threshold}).", now, cancellationToken);
                created++;
            }

            await transaction.CommitAsync(cancellationToken);
            if (id is not null)
            {
                LogCreated(logger, id.Value, cluster.Id);
                work.RaiseChanged(id.Value);
            }
        }

        return created;
    }

    /// <summary>
    /// A rejected proposal (or one whose pull request was closed without merge) stays silent until enough users who had not reported the problem before the rejection
    /// report it again (the setting, default 3); it is then redrafted on the new evidence and returns to review, with
    /// the rejection (comment, who, when) kept and shown.
    /// </summary>
    public async Task<int> ReopenSilencedAsync(CancellationToken cancellationToken)
    {
        var needed = (await clustering.GetAsync(cancellationToken)).NewUsersAfterRejection ?? ClusteringSettings.DefaultNewUsersAfterRejection;
        await using var connection = await work.Db.OpenAsync(cancellationToken);
        var due = (await connection.QueryAsync<(long Id, long NewUsers, long? RegistryId, string? By, string? Comment, DateTimeOffset? At, string State)>(new CommandDefinition(
            """
            SELECT p.id, n.users, p.registry_id, p.rejected_by, p.rejected_comment, p.rejected_at, p.state
            FROM proposals p JOIN clusters c ON c.id = p.cluster_id
            JOIN (SELECT p2.id AS proposal_id, count(DISTINCT s.user_hash) AS users
                  FROM proposals p2 JOIN signals s ON s.cluster_id = p2.cluster_id
                  WHERE (p2.state = 'rejected' OR (p2.state = 'closed' AND p2.silenced = 1))
                    AND NOT EXISTS (SELECT 1 FROM proposal_rejected_users r WHERE r.proposal_id = p2.id AND r.user_hash = s.user_hash)
                  GROUP BY p2.id) n ON n.proposal_id = p.id
            WHERE (p.state = 'rejected' OR (p.state = 'closed' AND p.silenced = 1)) AND c.state = 'open' AND n.users >= @needed
            ORDER BY p.id LIMIT 20
            """, new { needed }, cancellationToken: cancellationToken))).ToList();
        foreach (var proposal in due)
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            var now = time.GetUtcNow();
            var changed = await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE proposals SET state = 'drafting', edited = 0, review_comment = NULL, reviewed_by = NULL, reviewed_at = NULL,
                    silenced = 0, pr_number = NULL, pr_url = NULL, commit_sha = NULL, pushed_sha = NULL, pr_synced_signals = 0,
                    pr_poll_at = NULL, pr_poll_idle = 0, stale_base = NULL, queued_at = NULL, rebase_requested = 0,
                    attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now
                WHERE id = @id AND state = @State
                """, new { id = proposal.Id, now, proposal.State }, transaction, cancellationToken: cancellationToken));
            if (changed == 1)
            {
                await ProposalStore.WriteAuditAsync(connection, transaction, Actor, "reopened", proposal.Id, proposal.RegistryId,
                    string.Create(CultureInfo.InvariantCulture,
                        $"{proposal.NewUsers} users not counted before the {(proposal.State == "closed" ? "pull request was closed" : "rejection")} reported the problem again (threshold {needed}). {(proposal.State == "closed" ? "Closed" : "Rejected")} by {proposal.By} at {proposal.At:yyyy-MM-dd HH:mm} UTC{(proposal.Comment is { } c ? ": " + c : ".")}"),
                    now, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            work.RaiseChanged(proposal.Id);
        }

        return due.Count;
    }

    /// <summary>Fetches the skill at the branch head and writes the change (also on new evidence while nobody edited it).</summary>
    public async Task DraftAsync(long id, bool refresh, CancellationToken cancellationToken)
    {
        var proposal = await work.LoadAsync(id, cancellationToken);
        ProposalEvidence evidence;
        ResolvedSkill resolved;
        await using (var connection = await work.Db.OpenAsync(cancellationToken))
        {
            evidence = await ProposalStore.EvidenceAsync(connection, null, proposal.ClusterId, cancellationToken)
                ?? throw new ProposalWorkException($"Cluster {proposal.ClusterId} no longer exists.");
            var path = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT max(skill_path) FROM signals WHERE cluster_id = @clusterId", new { clusterId = proposal.ClusterId }, cancellationToken: cancellationToken));
            resolved = (await SkillResolver.LoadAsync(connection, null, cancellationToken)).Resolve(NullIfEmpty(proposal.Skill), path)
                ?? throw new ProposalWorkException(
                    $"Skill '{(proposal.Skill.Length == 0 ? "(none)" : proposal.Skill)}' is in no registry: add the repository that holds it, or map it on the Skills page.",
                    UnmatchedWait);
        }

        var registry = await registries.RequireAsync(resolved.RegistryId, cancellationToken);
        var token = await registries.TokenAsync(registry.Id, cancellationToken);
        var head = await git.FetchAsync(registry, token, null, cancellationToken);
        var original = await git.ReadFileAsync(registry, head, resolved.Path, cancellationToken)
            ?? throw new ProposalWorkException($"{resolved.Path} is not a file on branch '{registry.Branch}' any more; rescan the registry.");
        var change = await writer.WriteAsync(original, resolved.Path, evidence, cancellationToken);
        var findings = ProposalFindings.Review(original, change.Text, evidence);
        var (warningsJson, provenanceJson, evidenceJson) = ProposalStore.FindingsColumns(original, change.Text, evidence);
        // Auto-merge counts only users of personal tokens (self-declared identities are free to invent), and leaves
        // anything a reviewer must look at twice (links, commands, client-supplied text) to a person.
        var auto = registry.AutoMerge && change.Confidence >= registry.AutoMergeMinConfidence && evidence.VerifiedUsers >= registry.AutoMergeMinUsers
            && !findings.NeedsPerson;
        var body = ProposalWork.Body(evidence, change, auto ? ProposalRunner.AutoMergeActor : null, false, findings.Warnings, ProposalWork.History(proposal.HistoryJson));
        var now = time.GetUtcNow();

        await using var write = await work.Db.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await write.BeginTransactionAsync(cancellationToken);
        var updated = await write.ExecuteAsync(new CommandDefinition(
            """
            UPDATE proposals SET
                state = CASE WHEN @auto THEN 'approved' ELSE 'review' END, auto_merge = @auto,
                reviewed_by = CASE WHEN @auto THEN @autoActor ELSE reviewed_by END, reviewed_at = CASE WHEN @auto THEN @now ELSE reviewed_at END,
                registry_id = @registryId, skill_path = @path, base_commit = @head, original_text = @original, proposed_text = @text,
                generated_by = @generatedBy, summary = @summary, body = @body, confidence = @confidence, title = @title,
                evidence_signals = @signals, evidence_users = @users, branch = @branch,
                verified_users = @verified, warnings_json = @warningsJson, provenance_json = @provenanceJson, evidence_json = @evidenceJson,
                attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now
            WHERE id = @id AND state = @expected AND (@expected = 'drafting' OR edited = 0)
            """,
            new
            {
                id, auto, autoActor = ProposalRunner.AutoMergeActor, now, registryId = registry.Id, path = resolved.Path, head, original, text = change.Text,
                generatedBy = change.GeneratedBy, summary = change.Summary, body, confidence = change.Confidence, title = evidence.Title,
                signals = evidence.Signals, users = evidence.DistinctUsers, branch = ProposalWork.BranchName(proposal.Skill, resolved.Name, proposal.ClusterId, proposal.Round),
                expected = refresh ? "review" : "drafting",
                verified = evidence.VerifiedUsers, warningsJson, provenanceJson, evidenceJson,
            }, transaction, cancellationToken: cancellationToken));
        if (updated == 1)
        {
            await ProposalStore.WriteAuditAsync(write, transaction, Actor, refresh ? "redrafted" : "drafted", id, registry.Id,
                $"{(change.GeneratedBy == ProposalWriter.Pitfalls ? "Known pitfalls entry" : change.GeneratedBy)} for {resolved.Path} at {head[..Math.Min(12, head.Length)]}; {evidence.Signals} signals from {evidence.DistinctUsers} users.",
                now, cancellationToken);
            if (auto)
            {
                await ProposalStore.WriteAuditAsync(write, transaction, ProposalRunner.AutoMergeActor, "approved", id, registry.Id,
                    string.Create(CultureInfo.InvariantCulture, $"Confidence {change.Confidence:0.00} ≥ {registry.AutoMergeMinConfidence:0.00} and {evidence.VerifiedUsers} ≥ {registry.AutoMergeMinUsers} distinct users of personal tokens."),
                    now, cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
        work.RaiseChanged(id);
    }

    /// <summary>New evidence: the same proposal, redrafted while in review and unedited, else its evidence and PR body updated.</summary>
    public async Task RefreshAsync(long id, CancellationToken cancellationToken)
    {
        var proposal = await work.LoadAsync(id, cancellationToken);
        if (proposal.State == "review" && !proposal.Edited)
        {
            await DraftAsync(id, refresh: true, cancellationToken);
            return;
        }

        await using var connection = await work.Db.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var evidence = (await ProposalStore.EvidenceAsync(connection, transaction, proposal.ClusterId, cancellationToken))!;
        var now = time.GetUtcNow();
        var findings = ProposalFindings.Review(proposal.OriginalText, proposal.ProposedText, evidence);
        var (warningsJson, provenanceJson, evidenceJson) = ProposalStore.FindingsColumns(proposal.OriginalText, proposal.ProposedText, evidence);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE proposals SET evidence_signals = @signals, evidence_users = @users, body = @body, verified_users = @verified,
                warnings_json = @warningsJson, provenance_json = @provenanceJson, evidence_json = @evidenceJson, updated_at = @now
            WHERE id = @id
            """, new
            {
                id, signals = evidence.Signals, users = evidence.DistinctUsers, verified = evidence.VerifiedUsers, warningsJson, provenanceJson, evidenceJson,
                body = ProposalWork.Body(evidence, ProposalWork.Change(proposal), proposal.ReviewedBy, proposal.Edited, findings.Warnings, ProposalWork.History(proposal.HistoryJson),
                    await Replay.ReplayStore.ReadAsync(connection, id, proposal.OriginalText, proposal.ProposedText, cancellationToken, transaction)), now,
            },
            transaction, cancellationToken: cancellationToken));
        await ProposalStore.WriteAuditAsync(connection, transaction, Actor, "evidence-updated", id, proposal.RegistryId,
            $"{evidence.Signals} signals from {evidence.DistinctUsers} distinct users.", now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        work.RaiseChanged(id);
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    [LoggerMessage(Level = LogLevel.Information, Message = "Proposal {ProposalId} created for cluster {ClusterId}")]
    private static partial void LogCreated(ILogger logger, long proposalId, long clusterId);
}
