using Dapper;
using SkillLoop.Core.Registry;

namespace SkillLoop.Core.Proposals;

/// <summary>
/// Carries approved proposals to the registry: pushes the branch (its commit recorded before the PR is opened) and
/// opens the PR (looked up by branch first), so a retry pushes and opens nothing twice; at most the registry's cap of
/// SkillLoop PRs is open at once, the rest wait in line; new evidence updates the open PR in place; a stale branch is
/// rebuilt on request; a cluster marked noise closes its PR.
/// </summary>
public sealed class ProposalPusher(
    ProposalWork work,
    RegistryStore registries,
    RegistrySettings registrySettings,
    GitMirror git,
    ForgeProviders forges,
    TimeProvider time)
{
    /// <summary>Approved proposals whose registry has room for another open PR, oldest approval first (auto-merges never wait).</summary>
    public const string DueToPush = """
        SELECT due.id FROM (
            SELECT p.id, p.auto_merge,
                   row_number() OVER (PARTITION BY p.registry_id ORDER BY p.reviewed_at, p.id) AS place,
                   r.max_open - (SELECT count(*) FROM proposals o WHERE o.registry_id = p.registry_id AND o.state = 'open') AS room
            FROM proposals p LEFT JOIN registries r ON r.id = p.registry_id
            WHERE p.state = 'approved' AND p.auto_merge = 0
            UNION ALL
            SELECT p.id, 1, 0, 0 FROM proposals p WHERE p.state = 'approved' AND p.auto_merge = 1
        ) due
        JOIN proposals q ON q.id = due.id
        WHERE (due.auto_merge = 1 OR due.room IS NULL OR due.place <= due.room) AND (q.not_before IS NULL OR q.not_before <= @now)
        ORDER BY due.id LIMIT 20
        """;

    /// <summary>
    /// Approved proposals beyond their registry's cap that are not marked as waiting yet: they are, once (the audit log
    /// says where they stand in line), and the dashboard shows them as queued.
    /// </summary>
    public async Task<int> QueueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await work.Db.OpenAsync(cancellationToken);
        var waiting = (await connection.QueryAsync<(long Id, long RegistryId, long Place, long MaxOpen)>(new CommandDefinition(
            """
            SELECT id, registry_id, place, max_open FROM (
                SELECT p.id, p.registry_id, p.queued_at, r.max_open,
                       row_number() OVER (PARTITION BY p.registry_id ORDER BY p.reviewed_at, p.id) AS place,
                       r.max_open - (SELECT count(*) FROM proposals o WHERE o.registry_id = p.registry_id AND o.state = 'open') AS room
                FROM proposals p JOIN registries r ON r.id = p.registry_id
                WHERE p.state = 'approved' AND p.auto_merge = 0
            ) WHERE place > room AND queued_at IS NULL
            ORDER BY id LIMIT 100
            """, cancellationToken: cancellationToken))).ToList();
        foreach (var proposal in waiting)
        {
            await work.UpdateAsync(proposal.Id, "UPDATE proposals SET queued_at = @now WHERE id = @id AND state = 'approved' AND queued_at IS NULL", null,
                "queued", proposal.RegistryId,
                $"The registry has {proposal.MaxOpen} open SkillLoop pull requests, its cap; this one waits (place {proposal.Place} among the approved) and is pushed when one merges or closes.",
                cancellationToken);
        }

        return waiting.Count;
    }

    /// <summary>Approved: push the branch (once), open the PR (once), and merge it when auto-merge approved it.</summary>
    public async Task PushAsync(long id, CancellationToken cancellationToken)
    {
        var proposal = await work.LoadAsync(id, cancellationToken);
        var registry = await registries.RequireAsync(proposal.RegistryId ?? throw new ProposalWorkException("The proposal has no registry."), cancellationToken);
        var token = await registries.TokenAsync(registry.Id, cancellationToken);
        var branch = proposal.Branch!;
        var commit = proposal.PushedSha;
        if (commit is null || commit != proposal.CommitSha)
        {
            var bot = (await registrySettings.GetAsync(cancellationToken)).Bot;
            commit = await git.PushBranchAsync(registry, token, proposal.BaseCommit!, proposal.SkillPath!, proposal.ProposedText!, branch, ProposalWork.Message(proposal), bot,
                proposal.CommitSha, proposal.ReviewedAt ?? time.GetUtcNow(), cancellationToken);
            await work.UpdateAsync(id, "UPDATE proposals SET commit_sha = @commit, pushed_sha = @commit, updated_at = @now WHERE id = @id", new { commit },
                "pushed", registry.Id, $"Branch {branch} at {commit[..12]}.", cancellationToken);
        }

        var forge = forges.For(registry);
        var number = proposal.PrNumber;
        if (number is null && registry.Provider != "git")
        {
            // The body names the approver and says whether the text was edited in review.
            string body;
            await using (var connection = await work.Db.OpenAsync(cancellationToken))
            {
                var evidence = (await ProposalStore.EvidenceAsync(connection, null, proposal.ClusterId, cancellationToken))!;
                body = ProposalWork.Body(evidence, ProposalWork.Change(proposal), proposal.ReviewedBy, proposal.Edited,
                    ProposalFindings.Review(proposal.OriginalText, proposal.ProposedText, evidence).Warnings, ProposalWork.History(proposal.HistoryJson),
                    await Replay.ReplayStore.ReadAsync(connection, id, proposal.OriginalText, proposal.ProposedText, cancellationToken));
                await connection.ExecuteAsync(new CommandDefinition("UPDATE proposals SET body = @body WHERE id = @id", new { id, body }, cancellationToken: cancellationToken));
            }

            var spec = new PullRequestSpec(branch, proposal.Title, body, Draft: !proposal.AutoMerge, [ProposalRunner.Label]);
            var pull = (await forge.OpenAsync(registry, token, spec, cancellationToken))!;
            number = pull.Number;
            await work.UpdateAsync(id, "UPDATE proposals SET pr_number = @number, pr_url = @url, pr_synced_signals = evidence_signals, updated_at = @now WHERE id = @id",
                new { number = pull.Number, url = pull.Url }, "pr-opened", registry.Id, $"#{pull.Number} {pull.Url}", cancellationToken);
        }

        if (proposal.AutoMerge)
        {
            if (registry.Provider == "git")
            {
                await git.MergeIntoBranchAsync(registry, token, commit, cancellationToken);
            }
            else
            {
                await forge.MergeAsync(registry, token, number!.Value, cancellationToken);
            }

            // The skill's new version: the merged commit on a plain git branch (fast-forward), else the branch head after the forge's merge.
            var version = registry.Provider == "git" ? commit : await git.FetchAsync(registry, token, null, cancellationToken);
            await work.UpdateAsync(id,
                """
                UPDATE proposals SET state = 'merged', merged_at = @now, merged_commit = @version, queued_at = NULL,
                    attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now WHERE id = @id;
                UPDATE clusters SET reopened_at = NULL WHERE id = (SELECT cluster_id FROM proposals WHERE id = @id);
                """, new { version },
                "merged", registry.Id, $"{branch} merged into {registry.Branch}; the skill's new version is {version[..Math.Min(12, version.Length)]}.", cancellationToken, ProposalRunner.AutoMergeActor);
            return;
        }

        await work.UpdateAsync(id, "UPDATE proposals SET state = 'open', pr_synced_signals = evidence_signals, queued_at = NULL, pr_poll_at = NULL, pr_poll_idle = 0, attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now WHERE id = @id", null,
            "opened", registry.Id, registry.Provider == "git" ? $"Branch {branch} pushed for review." : $"Draft pull request #{number} open.", cancellationToken);
    }

    /// <summary>
    /// New evidence on an open proposal: the branch follows the registry's branch when it moved on (the approved text
    /// re-committed on the new head, as long as the skill file itself is unchanged there: a changed file needs a
    /// person, and the audit log says so), and the PR body shows the new evidence.
    /// </summary>
    public async Task SyncAsync(long id, CancellationToken cancellationToken)
    {
        var proposal = await work.LoadAsync(id, cancellationToken);
        var registry = await registries.RequireAsync(proposal.RegistryId!.Value, cancellationToken);
        var token = await registries.TokenAsync(registry.Id, cancellationToken);
        var head = await git.FetchAsync(registry, token, null, cancellationToken);
        if (head != proposal.BaseCommit && proposal.SkillPath is { } path && proposal.ProposedText is { } text)
        {
            var upstream = await git.ReadFileAsync(registry, head, path, cancellationToken);
            if (upstream == proposal.OriginalText)
            {
                var bot = (await registrySettings.GetAsync(cancellationToken)).Bot;
                // The review time as the commit time: a retry after a crash makes the very same commit.
                var commit = await git.PushBranchAsync(registry, token, head, path, text, proposal.Branch!, ProposalWork.Message(proposal), bot, null, proposal.ReviewedAt ?? time.GetUtcNow(), cancellationToken);
                await work.UpdateAsync(id, "UPDATE proposals SET base_commit = @head, commit_sha = @commit, pushed_sha = @commit, updated_at = @now WHERE id = @id",
                    new { head, commit }, "branch-updated", registry.Id, $"{proposal.Branch} now builds on {registry.Branch} at {head[..12]}.", cancellationToken);
            }
            else if (proposal.StaleBase != head)
            {
                await work.UpdateAsync(id, "UPDATE proposals SET stale_base = @head, updated_at = @now WHERE id = @id", new { head },
                    "branch-stale", registry.Id, $"{path} changed on {registry.Branch} since the review; the branch was left as approved.", cancellationToken);
            }
        }

        if (proposal.PrNumber is { } number)
        {
            await forges.For(registry).UpdateAsync(registry, token, number, proposal.Title, proposal.Body ?? "", cancellationToken);
        }

        await work.UpdateAsync(id, "UPDATE proposals SET pr_synced_signals = @signals, attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now WHERE id = @id",
            new { signals = proposal.EvidenceSignals }, proposal.PrNumber is null ? null : "pr-updated", registry.Id,
            $"#{proposal.PrNumber}: {proposal.EvidenceSignals} signals from {proposal.EvidenceUsers} users.", cancellationToken);
    }

    /// <summary>A cluster marked noise (or merged away): its proposal closes, and so does its PR.</summary>
    public async Task CloseAsync(long id, CancellationToken cancellationToken)
    {
        var proposal = await work.LoadAsync(id, cancellationToken);
        if (proposal.PrNumber is { } number && proposal.RegistryId is { } registryId)
        {
            var registry = await registries.RequireAsync(registryId, cancellationToken);
            await forges.For(registry).CloseAsync(registry, await registries.TokenAsync(registryId, cancellationToken), number, cancellationToken);
        }

        await work.UpdateAsync(id, "UPDATE proposals SET state = 'closed', attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now WHERE id = @id", null,
            "closed", proposal.RegistryId, proposal.ClusterState == "noise" ? "The cluster was marked as noise." : "The cluster was merged into another.", cancellationToken);
    }

    /// <summary>
    /// A reviewer asked to rebuild a stale branch on the registry branch's head: the approved text re-committed on the
    /// head when the skill file is unchanged there, else the change replayed on the new file (a three-way merge); when
    /// the same lines changed on both sides nothing is pushed and the audit log says so.
    /// </summary>
    public async Task RebaseAsync(long id, CancellationToken cancellationToken)
    {
        var proposal = await work.LoadAsync(id, cancellationToken);
        var registry = await registries.RequireAsync(proposal.RegistryId!.Value, cancellationToken);
        var token = await registries.TokenAsync(registry.Id, cancellationToken);
        var head = await git.FetchAsync(registry, token, null, cancellationToken);
        const string Done = "rebase_requested = 0, stale_base = NULL, attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now";
        if (head == proposal.BaseCommit)
        {
            await work.UpdateAsync(id, $"UPDATE proposals SET {Done} WHERE id = @id", null, "rebased", registry.Id,
                $"{proposal.Branch} already builds on {registry.Branch} at {head[..12]}; nothing to do.", cancellationToken);
            return;
        }

        var path = proposal.SkillPath!;
        var upstream = await git.ReadFileAsync(registry, head, path, cancellationToken)
            ?? throw new ProposalWorkException($"{path} is not a file on {registry.Branch} any more; close the proposal instead.");
        var bot = (await registrySettings.GetAsync(cancellationToken)).Bot;
        if (upstream == proposal.OriginalText)
        {
            var commit = await git.PushBranchAsync(registry, token, head, path, proposal.ProposedText!, proposal.Branch!, ProposalWork.Message(proposal), bot, null,
                time.GetUtcNow(), cancellationToken);
            await work.UpdateAsync(id, $"UPDATE proposals SET base_commit = @head, commit_sha = @commit, pushed_sha = @commit, {Done} WHERE id = @id",
                new { head, commit }, "rebased", registry.Id, $"{proposal.Branch} rebuilt on {registry.Branch} at {head[..12]} ({path} unchanged there).", cancellationToken);
            return;
        }

        var replayed = await git.ReplayOntoAsync(registry, token, proposal.PushedSha!, head, path, proposal.Branch!, bot, time.GetUtcNow(), cancellationToken);
        if (replayed is not { } result)
        {
            await work.UpdateAsync(id, "UPDATE proposals SET rebase_requested = 0, stale_base = @head, updated_at = @now WHERE id = @id", new { head }, "rebase-failed", registry.Id,
                $"{path} changed on {registry.Branch} in the lines this proposal changes; nothing was pushed. Close the pull request and let the cluster redraft, or edit the branch by hand.",
                cancellationToken);
            return;
        }

        await work.UpdateAsync(id,
            $"UPDATE proposals SET base_commit = @head, original_text = @upstream, proposed_text = @text, commit_sha = @commit, pushed_sha = @commit, {Done} WHERE id = @id",
            new { head, upstream, text = result.Text, commit = result.Commit }, "rebased", registry.Id,
            $"{proposal.Branch} rebuilt on {registry.Branch} at {head[..12]}: the change replayed on the new {path} (three-way merge, no conflicts).", cancellationToken);
    }
}
