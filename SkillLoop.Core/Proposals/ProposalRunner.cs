using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Data;
using SkillLoop.Core.Registry;

namespace SkillLoop.Core.Proposals;

/// <summary>
/// Carries proposals through their life, one step after the other: drafting (<see cref="ProposalDrafter"/>), pushing and
/// keeping the PR current (<see cref="ProposalPusher"/>), and following the PR after the push (<see cref="ForgeSync"/>).
/// Every step's work list is a query over the database, so a crash loses nothing and repeats nothing; failures are
/// recorded on the proposal and retried with backoff.
/// </summary>
public sealed partial class ProposalRunner(
    DatabaseState state,
    RegistryScans scans,
    ProposalWork work,
    ProposalDrafter drafter,
    ProposalPusher pusher,
    ForgeSync forgeSync,
    ILogger<ProposalRunner> logger,
    Telemetry.SkillLoopMetrics? metrics = null) : BackgroundService
{
    public const string Actor = ProposalWork.Actor;
    public const string AutoMergeActor = "auto-merge";
    public const string Label = "skillloop";

    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(10);
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Runs every step once over what is due now; returns how many proposals were worked on.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var worked = await drafter.CreateDueAsync(cancellationToken);
            worked += await drafter.ReopenSilencedAsync(cancellationToken);
            worked += await forgeSync.ReopenUnheldAsync(cancellationToken);
            worked += await work.ForEachDueAsync("SELECT id FROM proposals WHERE state = 'drafting' AND (not_before IS NULL OR not_before <= @now) ORDER BY id LIMIT 20", id => drafter.DraftAsync(id, refresh: false, cancellationToken), cancellationToken);
            worked += await work.ForEachDueAsync(
                """
                SELECT p.id FROM proposals p JOIN clusters c ON c.id = p.cluster_id
                WHERE p.state IN ('review', 'approved', 'open') AND c.state = 'open'
                  AND (p.evidence_signals <> c.signal_count OR p.evidence_users <> c.user_count)
                  AND (p.not_before IS NULL OR p.not_before <= @now)
                  AND p.updated_at <= @settled
                ORDER BY p.id LIMIT 20
                """, id => drafter.RefreshAsync(id, cancellationToken), cancellationToken, settle: RefreshEvery);
            worked += await work.ForEachDueAsync(ProposalPusher.DueToPush, id => pusher.PushAsync(id, cancellationToken), cancellationToken, metrics is null ? null : metrics.PushFailed);
            await pusher.QueueAsync(cancellationToken);
            worked += await work.ForEachDueAsync(
                """
                SELECT id FROM proposals WHERE state = 'open' AND pr_synced_signals <> evidence_signals
                  AND (not_before IS NULL OR not_before <= @now) ORDER BY id LIMIT 20
                """, id => pusher.SyncAsync(id, cancellationToken), cancellationToken);
            worked += await work.ForEachDueAsync(
                "SELECT id FROM proposals WHERE state = 'open' AND rebase_requested = 1 AND (not_before IS NULL OR not_before <= @now) ORDER BY id LIMIT 20",
                id => pusher.RebaseAsync(id, cancellationToken), cancellationToken);
            worked += await work.ForEachDueAsync(
                """
                SELECT p.id FROM proposals p JOIN clusters c ON c.id = p.cluster_id
                WHERE c.state IN ('noise', 'merged') AND p.state IN ('drafting', 'review', 'approved', 'open')
                  AND (p.not_before IS NULL OR p.not_before <= @now)
                ORDER BY p.id LIMIT 20
                """, id => pusher.CloseAsync(id, cancellationToken), cancellationToken);
            worked += await forgeSync.PollAsync(cancellationToken);
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
        await using var connection = await work.Db.OpenAsync(cancellationToken);
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
                    await Task.Delay(Idle, work.Time, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogLoopFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(5), work.Time, stoppingToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The proposal loop failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}
