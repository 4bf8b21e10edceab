using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Registry;

namespace SkillLoop.Core.Proposals;

/// <summary>
/// Carries proposals through their life. Every step's work list is a query over the database, so a crash loses
/// nothing and repeats nothing: a cluster that reached its evidence threshold gets exactly one proposal (the
/// <c>proposals.cluster_id</c> key); drafting fetches the skill at the branch head and writes the change; new evidence
/// updates the same proposal and its open PR; an approved proposal is pushed (its commit is recorded before the PR is
/// opened, and a PR is looked up by branch before one is created, so a retry pushes and opens nothing twice); a
/// cluster marked noise closes its PR. Failures are recorded on the proposal and retried with backoff.
/// </summary>
public sealed partial class ProposalRunner(
    SqliteDb db,
    DatabaseState state,
    ClusteringSettings clustering,
    RegistryStore registries,
    RegistryScans scans,
    RegistrySettings registrySettings,
    GitMirror git,
    ProposalWriter writer,
    ForgeProviders forges,
    ProposalStore store,
    TimeProvider time,
    ILogger<ProposalRunner> logger,
    Telemetry.SkillLoopMetrics? metrics = null) : BackgroundService
{
    public const string Actor = "skillloop";
    public const string AutoMergeActor = "auto-merge";
    public const string Label = "skillloop";

    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan UnmatchedWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(10);
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Runs every step once over what is due now; returns how many proposals were worked on.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var worked = await CreateDueAsync(cancellationToken);
            worked += await ReopenRejectedAsync(cancellationToken);
            worked += await ForEachDueAsync("SELECT id FROM proposals WHERE state = 'drafting' AND (not_before IS NULL OR not_before <= @now) ORDER BY id LIMIT 20", id => DraftAsync(id, refresh: false, cancellationToken), cancellationToken);
            worked += await ForEachDueAsync(
                """
                SELECT p.id FROM proposals p JOIN clusters c ON c.id = p.cluster_id
                WHERE p.state IN ('review', 'approved', 'open') AND c.state = 'open'
                  AND (p.evidence_signals <> c.signal_count OR p.evidence_users <> c.user_count)
                  AND (p.not_before IS NULL OR p.not_before <= @now)
                  AND p.updated_at <= @settled
                ORDER BY p.id LIMIT 20
                """, id => RefreshAsync(id, cancellationToken), cancellationToken);
            worked += await ForEachDueAsync("SELECT id FROM proposals WHERE state = 'approved' AND (not_before IS NULL OR not_before <= @now) ORDER BY id LIMIT 20", id => PushAsync(id, cancellationToken), cancellationToken, metrics is null ? null : metrics.PushFailed);
            worked += await ForEachDueAsync(
                """
                SELECT id FROM proposals WHERE state = 'open' AND pr_synced_signals <> evidence_signals
                  AND (not_before IS NULL OR not_before <= @now) ORDER BY id LIMIT 20
                """, id => SyncAsync(id, cancellationToken), cancellationToken);
            worked += await ForEachDueAsync(
                """
                SELECT p.id FROM proposals p JOIN clusters c ON c.id = p.cluster_id
                WHERE c.state IN ('noise', 'merged') AND p.state IN ('drafting', 'review', 'approved', 'open')
                  AND (p.not_before IS NULL OR p.not_before <= @now)
                ORDER BY p.id LIMIT 20
                """, id => CloseAsync(id, cancellationToken), cancellationToken);
            return worked;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Drafting proposals waiting for their skill to be registered are tried again now (after a scan or a mapping).</summary>
    public async Task WakeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE proposals SET not_before = NULL WHERE state = 'drafting'", cancellationToken: cancellationToken));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await state.WhenReadyAsync(stoppingToken);

        // A finished scan may bring the skill a waiting proposal needs.
        var scanned = 0;
        void OnScan(ScanProgress progress)
        {
            if (progress.Phase == "done")
            {
                Interlocked.Exchange(ref scanned, 1);
            }
        }

        scans.Changed += OnScan;
        using var unsubscribe = stoppingToken.Register(() => scans.Changed -= OnScan);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (Interlocked.Exchange(ref scanned, 0) == 1)
                {
                    await WakeAsync(stoppingToken);
                }

                if (await RunOnceAsync(stoppingToken) == 0)
                {
                    await Task.Delay(Idle, time, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogLoopFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(5), time, stoppingToken);
            }
        }
    }

    /// <summary>One proposal for each open cluster with enough distinct users (the registry's threshold, else the global one).</summary>
    private async Task<int> CreateDueAsync(CancellationToken cancellationToken)
    {
        var global = (await clustering.GetAsync(cancellationToken)).DistinctUsers;
        await using var connection = await db.OpenAsync(cancellationToken);
        var lowest = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT min(distinct_users) FROM registries", cancellationToken: cancellationToken));
        var candidates = (await connection.QueryAsync<(long Id, string Skill, long Users, long Signals, string Title, string? Path)>(new CommandDefinition(
            """
            SELECT c.id, c.skill, c.user_count, c.signal_count, c.title, (SELECT max(skill_path) FROM signals s WHERE s.cluster_id = c.id)
            FROM clusters c
            WHERE c.state = 'open' AND c.signal_count > 0 AND c.user_count >= @minimum
              AND NOT EXISTS (SELECT 1 FROM proposals p WHERE p.cluster_id = c.id)
            ORDER BY c.id LIMIT 100
            """, new { minimum = Math.Min(global, lowest ?? global) }, cancellationToken: cancellationToken))).ToList();
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
                VALUES (@clusterId, @skill, @registryId, @path, @title, 'drafting', @signals, @users, @now, @now)
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
                store.RaiseChanged(id.Value);
            }
        }

        return created;
    }

    /// <summary>
    /// A rejected proposal stays silent until enough users who had not reported the problem before the rejection
    /// report it again (the setting, default 3); it is then redrafted on the new evidence and returns to review, with
    /// the rejection (comment, who, when) kept and shown.
    /// </summary>
    private async Task<int> ReopenRejectedAsync(CancellationToken cancellationToken)
    {
        var needed = (await clustering.GetAsync(cancellationToken)).NewUsersAfterRejection ?? ClusteringSettings.DefaultNewUsersAfterRejection;
        await using var connection = await db.OpenAsync(cancellationToken);
        var due = (await connection.QueryAsync<(long Id, long NewUsers, long? RegistryId, string? By, string? Comment, DateTimeOffset? At)>(new CommandDefinition(
            """
            SELECT p.id, n.users, p.registry_id, p.rejected_by, p.rejected_comment, p.rejected_at
            FROM proposals p JOIN clusters c ON c.id = p.cluster_id
            JOIN (SELECT p2.id AS proposal_id, count(DISTINCT s.user_hash) AS users
                  FROM proposals p2 JOIN signals s ON s.cluster_id = p2.cluster_id
                  WHERE p2.state = 'rejected'
                    AND NOT EXISTS (SELECT 1 FROM proposal_rejected_users r WHERE r.proposal_id = p2.id AND r.user_hash = s.user_hash)
                  GROUP BY p2.id) n ON n.proposal_id = p.id
            WHERE p.state = 'rejected' AND c.state = 'open' AND n.users >= @needed
            ORDER BY p.id LIMIT 20
            """, new { needed }, cancellationToken: cancellationToken))).ToList();
        foreach (var proposal in due)
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            var now = time.GetUtcNow();
            var changed = await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE proposals SET state = 'drafting', edited = 0, review_comment = NULL, reviewed_by = NULL, reviewed_at = NULL,
                    attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now
                WHERE id = @id AND state = 'rejected'
                """, new { id = proposal.Id, now }, transaction, cancellationToken: cancellationToken));
            if (changed == 1)
            {
                await ProposalStore.WriteAuditAsync(connection, transaction, Actor, "reopened", proposal.Id, proposal.RegistryId,
                    string.Create(CultureInfo.InvariantCulture,
                        $"{proposal.NewUsers} users not counted before the rejection reported the problem again (threshold {needed}). Rejected by {proposal.By} at {proposal.At:yyyy-MM-dd HH:mm} UTC{(proposal.Comment is { } c ? ": " + c : ".")}"),
                    now, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            store.RaiseChanged(proposal.Id);
        }

        return due.Count;
    }

    /// <summary>Fetches the skill at the branch head and writes the change (also on new evidence while nobody edited it).</summary>
    private async Task DraftAsync(long id, bool refresh, CancellationToken cancellationToken)
    {
        var proposal = await LoadAsync(id, cancellationToken);
        ProposalEvidence evidence;
        ResolvedSkill resolved;
        await using (var connection = await db.OpenAsync(cancellationToken))
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
        var body = ProposalWriter.Body(evidence, change, auto ? AutoMergeActor : null, warnings: findings.Warnings);
        var now = time.GetUtcNow();

        await using var write = await db.OpenAsync(cancellationToken);
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
                id, auto, autoActor = AutoMergeActor, now, registryId = registry.Id, path = resolved.Path, head, original, text = change.Text,
                generatedBy = change.GeneratedBy, summary = change.Summary, body, confidence = change.Confidence, title = evidence.Title,
                signals = evidence.Signals, users = evidence.DistinctUsers, branch = BranchName(proposal.Skill, resolved.Name, proposal.ClusterId),
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
                await ProposalStore.WriteAuditAsync(write, transaction, AutoMergeActor, "approved", id, registry.Id,
                    string.Create(CultureInfo.InvariantCulture, $"Confidence {change.Confidence:0.00} ≥ {registry.AutoMergeMinConfidence:0.00} and {evidence.VerifiedUsers} ≥ {registry.AutoMergeMinUsers} distinct users of personal tokens."),
                    now, cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
        store.RaiseChanged(id);
    }

    /// <summary>New evidence: the same proposal, redrafted while in review and unedited, else its evidence and PR body updated.</summary>
    private async Task RefreshAsync(long id, CancellationToken cancellationToken)
    {
        var proposal = await LoadAsync(id, cancellationToken);
        if (proposal.State == "review" && !proposal.Edited)
        {
            await DraftAsync(id, refresh: true, cancellationToken);
            return;
        }

        await using var connection = await db.OpenAsync(cancellationToken);
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
                body = ProposalWriter.Body(evidence, Change(proposal), proposal.ReviewedBy, proposal.Edited, findings.Warnings), now,
            },
            transaction, cancellationToken: cancellationToken));
        await ProposalStore.WriteAuditAsync(connection, transaction, Actor, "evidence-updated", id, proposal.RegistryId,
            $"{evidence.Signals} signals from {evidence.DistinctUsers} distinct users.", now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        store.RaiseChanged(id);
    }

    /// <summary>Approved: push the branch (once), open the PR (once), and merge it when auto-merge approved it.</summary>
    private async Task PushAsync(long id, CancellationToken cancellationToken)
    {
        var proposal = await LoadAsync(id, cancellationToken);
        var registry = await registries.RequireAsync(proposal.RegistryId ?? throw new ProposalWorkException("The proposal has no registry."), cancellationToken);
        var token = await registries.TokenAsync(registry.Id, cancellationToken);
        var branch = proposal.Branch!;
        var commit = proposal.PushedSha;
        if (commit is null || commit != proposal.CommitSha)
        {
            var bot = (await registrySettings.GetAsync(cancellationToken)).Bot;
            var message = Message(proposal);
            commit = await git.PushBranchAsync(registry, token, proposal.BaseCommit!, proposal.SkillPath!, proposal.ProposedText!, branch, message, bot,
                proposal.CommitSha, proposal.ReviewedAt ?? time.GetUtcNow(), cancellationToken);
            await UpdateAsync(id, "UPDATE proposals SET commit_sha = @commit, pushed_sha = @commit, updated_at = @now WHERE id = @id", new { commit },
                "pushed", registry.Id, $"Branch {branch} at {commit[..12]}.", cancellationToken);
        }

        var forge = forges.For(registry);
        var number = proposal.PrNumber;
        if (number is null && registry.Provider != "git")
        {
            // The body names the approver and says whether the text was edited in review.
            string body;
            await using (var connection = await db.OpenAsync(cancellationToken))
            {
                var evidence = (await ProposalStore.EvidenceAsync(connection, null, proposal.ClusterId, cancellationToken))!;
                body = ProposalWriter.Body(evidence, Change(proposal), proposal.ReviewedBy, proposal.Edited,
                    ProposalFindings.Review(proposal.OriginalText, proposal.ProposedText, evidence).Warnings);
                await connection.ExecuteAsync(new CommandDefinition("UPDATE proposals SET body = @body WHERE id = @id", new { id, body }, cancellationToken: cancellationToken));
            }

            var spec = new PullRequestSpec(branch, proposal.Title, body, Draft: !proposal.AutoMerge, [Label]);
            var pull = (await forge.OpenAsync(registry, token, spec, cancellationToken))!;
            number = pull.Number;
            await UpdateAsync(id, "UPDATE proposals SET pr_number = @number, pr_url = @url, pr_synced_signals = evidence_signals, updated_at = @now WHERE id = @id",
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

            await UpdateAsync(id, "UPDATE proposals SET state = 'merged', attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now WHERE id = @id", null,
                "merged", registry.Id, $"{branch} merged into {registry.Branch}.", cancellationToken, AutoMergeActor);
            return;
        }

        await UpdateAsync(id, "UPDATE proposals SET state = 'open', pr_synced_signals = evidence_signals, attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now WHERE id = @id", null,
            "opened", registry.Id, registry.Provider == "git" ? $"Branch {branch} pushed for review." : $"Draft pull request #{number} open.", cancellationToken);
    }

    /// <summary>
    /// New evidence on an open proposal: the branch follows the registry's branch when it moved on (the approved text
    /// re-committed on the new head, as long as the skill file itself is unchanged there: a changed file needs a
    /// person, and the audit log says so), and the PR body shows the new evidence.
    /// </summary>
    private async Task SyncAsync(long id, CancellationToken cancellationToken)
    {
        var proposal = await LoadAsync(id, cancellationToken);
        var registry = await registries.RequireAsync(proposal.RegistryId!.Value, cancellationToken);
        var token = await registries.TokenAsync(registry.Id, cancellationToken);
        var head = await git.FetchAsync(registry, token, null, cancellationToken);
        if (head != proposal.BaseCommit && proposal.SkillPath is { } path && proposal.ProposedText is { } text)
        {
            var upstream = await git.ReadFileAsync(registry, head, path, cancellationToken);
            if (upstream == proposal.OriginalText)
            {
                var bot = (await registrySettings.GetAsync(cancellationToken)).Bot;
                var message = Message(proposal);
                // The review time as the commit time: a retry after a crash makes the very same commit.
                var commit = await git.PushBranchAsync(registry, token, head, path, text, proposal.Branch!, message, bot, null, proposal.ReviewedAt ?? time.GetUtcNow(), cancellationToken);
                await UpdateAsync(id, "UPDATE proposals SET base_commit = @head, commit_sha = @commit, pushed_sha = @commit, updated_at = @now WHERE id = @id",
                    new { head, commit }, "branch-updated", registry.Id, $"{proposal.Branch} now builds on {registry.Branch} at {head[..12]}.", cancellationToken);
            }
            else if (proposal.StaleBase != head)
            {
                await UpdateAsync(id, "UPDATE proposals SET stale_base = @head, updated_at = @now WHERE id = @id", new { head },
                    "branch-stale", registry.Id, $"{path} changed on {registry.Branch} since the review; the branch was left as approved.", cancellationToken);
            }
        }

        if (proposal.PrNumber is { } number)
        {
            await forges.For(registry).UpdateAsync(registry, token, number, proposal.Title, proposal.Body ?? "", cancellationToken);
        }

        await UpdateAsync(id, "UPDATE proposals SET pr_synced_signals = @signals, attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now WHERE id = @id",
            new { signals = proposal.EvidenceSignals }, proposal.PrNumber is null ? null : "pr-updated", registry.Id,
            $"#{proposal.PrNumber}: {proposal.EvidenceSignals} signals from {proposal.EvidenceUsers} users.", cancellationToken);
    }

    /// <summary>A cluster marked noise (or merged away): its proposal closes, and so does its PR.</summary>
    private async Task CloseAsync(long id, CancellationToken cancellationToken)
    {
        var proposal = await LoadAsync(id, cancellationToken);
        if (proposal.PrNumber is { } number && proposal.RegistryId is { } registryId)
        {
            var registry = await registries.RequireAsync(registryId, cancellationToken);
            await forges.For(registry).CloseAsync(registry, await registries.TokenAsync(registryId, cancellationToken), number, cancellationToken);
        }

        await UpdateAsync(id, "UPDATE proposals SET state = 'closed', attempts = 0, last_error = NULL, not_before = NULL, updated_at = @now WHERE id = @id", null,
            "closed", proposal.RegistryId, proposal.ClusterState == "noise" ? "The cluster was marked as noise." : "The cluster was merged into another.", cancellationToken);
    }

    private async Task<int> ForEachDueAsync(string sql, Func<long, Task> work, CancellationToken cancellationToken, Action? failed = null)
    {
        List<long> ids;
        await using (var connection = await db.OpenAsync(cancellationToken))
        {
            var now = time.GetUtcNow();
            // A busy cluster gains evidence every moment: its proposal is redrafted at most every few seconds, not per signal.
            ids = (await connection.QueryAsync<long>(new CommandDefinition(sql, new { now, settled = now - RefreshEvery }, cancellationToken: cancellationToken))).ToList();
        }

        foreach (var id in ids)
        {
            try
            {
                await work(id);
            }
            catch (Exception ex) when (ex is ProposalWorkException or GitOperationException or ForgeException or RegistryException or LibGit2Sharp.LibGit2SharpException
                || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                failed?.Invoke();
                await FailAsync(id, ex, cancellationToken);
            }
        }

        return ids.Count;
    }

    private async Task FailAsync(long id, Exception error, CancellationToken cancellationToken)
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

    /// <summary>Runs one update of a proposal and, unless <paramref name="action"/> is null, its audit entry, in one transaction.</summary>
    private async Task UpdateAsync(long id, string sql, object? values, string? action, long? registryId, string detail, CancellationToken cancellationToken, string actor = Actor)
    {
        var now = time.GetUtcNow();
        var parameters = new DynamicParameters(values);
        parameters.Add("id", id);
        parameters.Add("now", now);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken));
        if (action is not null)
        {
            await ProposalStore.WriteAuditAsync(connection, transaction, actor, action, id, registryId, detail, now, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        store.RaiseChanged(id);
    }

    private async Task<WorkRow> LoadAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.QuerySingleAsync<WorkRow>(new CommandDefinition(
            """
            SELECT p.id AS Id, p.cluster_id AS ClusterId, p.skill AS Skill, p.state AS State, p.registry_id AS RegistryId, p.skill_path AS SkillPath,
                   p.base_commit AS BaseCommit, p.proposed_text AS ProposedText, p.edited AS Edited, p.generated_by AS GeneratedBy,
                   p.title AS Title, p.summary AS Summary, p.body AS Body, p.confidence AS Confidence, p.evidence_signals AS EvidenceSignals,
                   p.evidence_users AS EvidenceUsers, p.auto_merge AS AutoMerge, p.branch AS Branch, p.commit_sha AS CommitSha,
                   p.pushed_sha AS PushedSha, p.pr_number AS PrNumber, p.original_text AS OriginalText, p.stale_base AS StaleBase, p.reviewed_by AS ReviewedBy, p.reviewed_at AS ReviewedAt,
                   p.commit_message AS CommitMessage, c.state AS ClusterState
            FROM proposals p JOIN clusters c ON c.id = p.cluster_id WHERE p.id = @id
            """, new { id }, cancellationToken: cancellationToken));
    }

    /// <summary><c>skillloop/&lt;skill&gt;-&lt;cluster&gt;</c>, the skill's name made safe for a ref.</summary>
    public static string BranchName(string reportedSkill, string registeredName, long clusterId)
    {
        var source = registeredName.Length > 0 ? registeredName : reportedSkill;
        var slug = new string(source.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
        while (slug.Contains("--", StringComparison.Ordinal))
        {
            slug = slug.Replace("--", "-", StringComparison.Ordinal);
        }

        slug = slug.Length == 0 ? "skill" : slug.Length > 60 ? slug[..60].TrimEnd('-') : slug;
        return $"skillloop/{slug}-{clusterId}";
    }

    private static ProposedChange Change(WorkRow proposal) =>
        new(proposal.ProposedText ?? "", proposal.Summary ?? "", proposal.GeneratedBy ?? ProposalWriter.Pitfalls, proposal.Confidence);

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    /// <summary>The message the reviewer confirmed, or (approved through the API without one) the default, which
    /// describes the text being pushed.</summary>
    private static string Message(WorkRow proposal) =>
        proposal.CommitMessage ?? CommitMessage.Default(proposal.Title, proposal.SkillPath ?? "SKILL.md", proposal.OriginalText ?? "",
            proposal.ProposedText ?? "", proposal.Edited, proposal.ClusterId, proposal.EvidenceSignals, proposal.EvidenceUsers, proposal.ReviewedBy);

    private sealed class WorkRow
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
        public string? ReviewedBy { get; init; }
        public DateTimeOffset? ReviewedAt { get; init; }
        public string? CommitMessage { get; init; }
        public string ClusterState { get; init; } = "";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Proposal {ProposalId} created for cluster {ClusterId}")]
    private static partial void LogCreated(ILogger logger, long proposalId, long clusterId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Proposal {ProposalId}: {Error}; retrying in {Wait}")]
    private static partial void LogFailed(ILogger logger, long proposalId, TimeSpan wait, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "The proposal loop failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}

/// <summary>A proposal step that cannot go on yet; <see cref="RetryAfter"/> when it should wait a fixed time rather than back off.</summary>
public sealed class ProposalWorkException(string message, TimeSpan? retryAfter = null) : Exception(message)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
