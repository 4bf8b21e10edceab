using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Registry;

namespace SkillLoop.Core.Proposals;

/// <summary>
/// Follows a pushed proposal after the push. Forge pull requests are polled (the wait doubles with every poll that
/// sees nothing new, up to <see cref="MaxPoll"/>; a webhook delivery makes them due at once); merged means
/// <c>merged</c> with the skill's new version recorded, closed without merge means <c>closed</c> and silent until new
/// users report the problem (the rejection rule). For every registry, a scan marks a proposal merged once its commit
/// is reachable from the registry branch (or its text is what the branch holds: a squash or rebase merge). After a
/// merge, enough users new to the problem reporting it again within the window reopen the cluster: the merged fix did
/// not hold, and the next round of the proposal goes to review with the first one's history.
/// </summary>
public sealed partial class ForgeSync(
    ProposalWork work,
    RegistryStore registries,
    GitMirror git,
    ForgeProviders forges,
    ClusteringSettings clustering,
    ILogger<ForgeSync> logger) : IRegistryScanObserver
{
    public static readonly TimeSpan FirstPoll = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MaxPoll = TimeSpan.FromMinutes(15);

    private const string Actor = ProposalWork.Actor;

    /// <summary>How long after <paramref name="idle"/> quiet polls (or failures) in a row the next poll waits.</summary>
    public static TimeSpan PollWait(int idle) => TimeSpan.FromSeconds(Math.Min(MaxPoll.TotalSeconds, FirstPoll.TotalSeconds * Math.Pow(2, Math.Min(idle, 12))));

    /// <summary>Polls every open pull request that is due; returns how many were polled.</summary>
    public async Task<int> PollAsync(CancellationToken cancellationToken)
    {
        List<(long Id, long RegistryId, long Number, int Idle, string? LastError)> due;
        await using (var connection = await work.Db.OpenAsync(cancellationToken))
        {
            due = (await connection.QueryAsync<(long, long, long, int, string?)>(new CommandDefinition(
                """
                SELECT p.id, p.registry_id, p.pr_number, p.pr_poll_idle, p.last_error
                FROM proposals p JOIN registries r ON r.id = p.registry_id
                WHERE p.state = 'open' AND p.pr_number IS NOT NULL AND r.provider <> 'git' AND (p.pr_poll_at IS NULL OR p.pr_poll_at <= @now)
                ORDER BY p.pr_poll_at, p.id LIMIT 20
                """, new { now = work.Time.GetUtcNow() }, cancellationToken: cancellationToken))).ToList();
        }

        foreach (var proposal in due)
        {
            try
            {
                var registry = await registries.RequireAsync(proposal.RegistryId, cancellationToken);
                var token = await registries.TokenAsync(registry.Id, cancellationToken);
                var state = await forges.For(registry).GetStateAsync(registry, token, proposal.Number, cancellationToken);
                switch (state?.State)
                {
                    case "merged":
                        var version = state.MergeCommit is { Length: 40 } sha && !sha.All(c => c == '0') ? sha : await git.FetchAsync(registry, token, null, cancellationToken);
                        await MarkMergedAsync(proposal.Id, registry, version, $"Pull request #{proposal.Number} merged on {registry.Provider}", cancellationToken);
                        break;
                    case "closed":
                        await ClosedOnForgeAsync(proposal.Id, registry, proposal.Number, cancellationToken);
                        break;
                    default:
                        await work.UpdateAsync(proposal.Id,
                            "UPDATE proposals SET pr_poll_idle = pr_poll_idle + 1, pr_poll_at = @next, last_error = CASE WHEN @hadError THEN NULL ELSE last_error END WHERE id = @id AND state = 'open'",
                            new { next = work.Time.GetUtcNow() + PollWait(proposal.Idle + 1), hadError = proposal.LastError is not null }, null, registry.Id, "", cancellationToken);
                        break;
                }
            }
            catch (Exception ex) when (ProposalWork.IsWorkFailure(ex, cancellationToken))
            {
                // Polling backs off on failures too; the PR itself is untouched, so nothing else waits on this.
                var next = work.Time.GetUtcNow() + PollWait(proposal.Idle + 1);
                await work.UpdateAsync(proposal.Id, "UPDATE proposals SET pr_poll_idle = pr_poll_idle + 1, pr_poll_at = @next, last_error = @error WHERE id = @id",
                    new { next, error = ex.Message }, proposal.LastError == ex.Message ? null : "sync-failed", proposal.RegistryId,
                    $"{ex.Message} Polling again at {next:HH:mm:ss} UTC.", cancellationToken);
                LogPollFailed(logger, proposal.Id, ex.Message);
            }
        }

        return due.Count;
    }

    /// <summary>A webhook delivery (or a manual refresh): the registry's open pull requests are polled on the next pass.</summary>
    public async Task WakeAsync(long registryId, CancellationToken cancellationToken)
    {
        await using var connection = await work.Db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE proposals SET pr_poll_at = NULL, pr_poll_idle = 0 WHERE registry_id = @registryId AND state = 'open'",
            new { registryId }, cancellationToken: cancellationToken));
    }

    /// <summary>After every scan: open proposals of the registry whose commit (or text) is on the scanned head are merged.</summary>
    public async Task ScannedAsync(RegistryRecord registry, string head, CancellationToken cancellationToken)
    {
        List<(long Id, string Commit, string Path, string Text)> open;
        await using (var connection = await work.Db.OpenAsync(cancellationToken))
        {
            open = (await connection.QueryAsync<(long, string, string, string)>(new CommandDefinition(
                """
                SELECT id, pushed_sha, skill_path, proposed_text FROM proposals
                WHERE registry_id = @registryId AND state = 'open' AND pushed_sha IS NOT NULL AND skill_path IS NOT NULL AND proposed_text IS NOT NULL
                """, new { registryId = registry.Id }, cancellationToken: cancellationToken))).ToList();
        }

        foreach (var proposal in open)
        {
            var how = await git.MergedHowAsync(registry, head, proposal.Commit, proposal.Path, proposal.Text, cancellationToken);
            if (how is not null)
            {
                await MarkMergedAsync(proposal.Id, registry, head,
                    how == "reachable" ? $"Commit {proposal.Commit[..12]} is on {registry.Branch}" : $"{proposal.Path} on {registry.Branch} holds the approved text (a squash or rebase merge)",
                    cancellationToken);
            }
        }
    }

    private async Task MarkMergedAsync(long id, RegistryRecord registry, string version, string how, CancellationToken cancellationToken)
    {
        var changed = await work.UpdateAsync(id,
            """
            UPDATE proposals SET state = 'merged', merged_at = @now, merged_commit = @version, pr_poll_at = NULL, queued_at = NULL,
                attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now
            WHERE id = @id AND state = 'open';
            UPDATE clusters SET reopened_at = NULL WHERE id = (SELECT cluster_id FROM proposals WHERE id = @id AND state = 'merged' AND merged_at = @now);
            """, new { version }, "merged", registry.Id,
            $"{how}; the skill's new version is {version[..Math.Min(12, version.Length)]}. Corrections from now on count against it.", cancellationToken);
        if (changed > 0)
        {
            LogMerged(logger, id, version);
        }
    }

    /// <summary>Closed without merge: like a rejection, the cluster stays silent until enough new users report the problem.</summary>
    private async Task ClosedOnForgeAsync(long id, RegistryRecord registry, long number, CancellationToken cancellationToken)
    {
        var needed = (await clustering.GetAsync(cancellationToken)).NewUsersAfterRejection ?? ClusteringSettings.DefaultNewUsersAfterRejection;
        await work.UpdateAsync(id,
            """
            UPDATE proposals SET state = 'closed', silenced = 1, pr_poll_at = NULL,
                rejected_comment = @comment, rejected_by = @by, rejected_at = @now, attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now
            WHERE id = @id AND state = 'open';
            INSERT OR IGNORE INTO proposal_rejected_users (proposal_id, user_hash)
            SELECT @id, s.user_hash FROM signals s WHERE s.cluster_id = (SELECT cluster_id FROM proposals WHERE id = @id AND state = 'closed');
            """, new { comment = $"Pull request #{number} was closed without merge.", by = registry.Provider }, "pr-closed", registry.Id,
            $"Pull request #{number} was closed on {registry.Provider} without merge. The cluster stays silent until {needed} users not counted before report the problem again.",
            cancellationToken);
    }

    /// <summary>
    /// Did the fix hold? A merged proposal whose problem was reported again, within the window and after the merge, by
    /// enough users who had not reported it before the merge: the cluster is reopened and the proposal's next round is
    /// drafted, carrying the merged round in its history.
    /// </summary>
    public async Task<int> ReopenUnheldAsync(CancellationToken cancellationToken)
    {
        var settings = await clustering.GetAsync(cancellationToken);
        var needed = settings.NewUsersAfterMerge ?? ClusteringSettings.DefaultNewUsersAfterMerge;
        var days = settings.ReopenWindowDays ?? ClusteringSettings.DefaultReopenWindowDays;
        var now = work.Time.GetUtcNow();
        await using var connection = await work.Db.OpenAsync(cancellationToken);
        var due = (await connection.QueryAsync<(long Id, long Users, long Signals)>(new CommandDefinition(
            """
            SELECT p.id, count(DISTINCT s.user_hash), count(*)
            FROM proposals p JOIN clusters c ON c.id = p.cluster_id JOIN signals s ON s.cluster_id = p.cluster_id
            WHERE p.state = 'merged' AND p.merged_at IS NOT NULL AND c.state = 'open'
              AND s.created_at > p.merged_at AND s.created_at >= @since
              AND NOT EXISTS (SELECT 1 FROM signals b WHERE b.cluster_id = p.cluster_id AND b.user_hash = s.user_hash AND b.created_at <= p.merged_at)
            GROUP BY p.id HAVING count(DISTINCT s.user_hash) >= @needed
            ORDER BY p.id LIMIT 20
            """, new { since = now.AddDays(-days), needed }, cancellationToken: cancellationToken))).ToList();
        foreach (var (id, users, signals) in due)
        {
            var proposal = await work.LoadAsync(id, cancellationToken);
            var outcome = string.Create(CultureInfo.InvariantCulture,
                $"The merged fix did not hold: {users} users who had not reported the problem before the merge reported it again ({signals} corrections) within {days} days (threshold {needed}).");
            var history = ProposalWork.History(proposal.HistoryJson).Append(new ProposalRound(
                proposal.Round, proposal.Title, proposal.Summary, proposal.ProposedText, proposal.Branch, proposal.CommitSha, proposal.PrNumber, proposal.PrUrl,
                proposal.ReviewedBy, proposal.ReviewedAt, proposal.MergedAt, proposal.MergedCommit, proposal.EvidenceSignals, proposal.EvidenceUsers, outcome)).ToList();
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            var changed = await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE proposals SET state = 'drafting', round = round + 1, history_json = @history, edited = 0, auto_merge = 0,
                    review_comment = NULL, reviewed_by = NULL, reviewed_at = NULL, branch = NULL, commit_sha = NULL, pushed_sha = NULL,
                    pr_number = NULL, pr_url = NULL, pr_synced_signals = 0, pr_poll_at = NULL, pr_poll_idle = 0, stale_base = NULL,
                    queued_at = NULL, rebase_requested = 0, merged_at = NULL, merged_commit = NULL,
                    attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now
                WHERE id = @id AND state = 'merged';
                UPDATE clusters SET reopened_at = @now, updated_at = @now WHERE id = @clusterId;
                """, new { id, history = ProposalWork.HistoryJson(history), now, clusterId = proposal.ClusterId }, transaction, cancellationToken: cancellationToken));
            if (changed > 0)
            {
                await ProposalStore.WriteAuditAsync(connection, transaction, Actor, "reopened", id, proposal.RegistryId,
                    $"{outcome} Round {proposal.Round} (merged {proposal.MergedAt:yyyy-MM-dd HH:mm} UTC as {proposal.MergedCommit?[..Math.Min(12, proposal.MergedCommit.Length)]}) is kept in the history; round {proposal.Round + 1} is being drafted.",
                    now, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            work.RaiseChanged(id);
            LogReopened(logger, id, users);
        }

        return due.Count;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Proposal {ProposalId} merged; the skill's new version is {Version}")]
    private static partial void LogMerged(ILogger logger, long proposalId, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Proposal {ProposalId}: the merged fix did not hold ({Users} new users); next round drafted")]
    private static partial void LogReopened(ILogger logger, long proposalId, long users);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Proposal {ProposalId}: pull request state could not be read: {Error}")]
    private static partial void LogPollFailed(ILogger logger, long proposalId, string error);
}
