using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Clustering;

public sealed record ClusteringQueue(long Pending, string? LastError);

/// <summary>
/// Clusters every signal whose issue has been extracted. The work list is the data itself (an issue whose signal has
/// no cluster yet), so nothing is lost or done twice when the server is killed in the middle: assignment commits
/// the signal's cluster in the same transaction as the cluster's evidence.
/// </summary>
public sealed partial class ClusteringJobRunner(
    SqliteDb db,
    DatabaseState state,
    Clusterer clusterer,
    ClusterConsolidator consolidator,
    Capture.IngestActivity ingest,
    ClusterEvents events,
    TimeProvider time,
    ILogger<ClusteringJobRunner> logger,
    Capture.PipelineScheduler? pipeline = null) : BackgroundService
{
    private const int BatchSize = 32;
    private static readonly TimeSpan Idle = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>Under steady ingest (never idle), consolidation still runs this often.</summary>
    private static readonly TimeSpan ConsolidateAtLeastEvery = TimeSpan.FromMinutes(1);

    private volatile string? _lastError;

    public async Task<ClusteringQueue> QueueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var pending = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM issues i JOIN signals s ON s.id = i.signal_id WHERE s.cluster_id IS NULL", cancellationToken: cancellationToken));
        return new ClusteringQueue(pending, _lastError);
    }

    /// <summary>Clusters one batch of what is pending now; returns how many signals were assigned.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var pending = await ReadPendingAsync([], cancellationToken);
        if (pending.Count > 0)
        {
            await clusterer.AssignManyAsync(pending, cancellationToken);
        }

        return pending.Count;
    }

    /// <summary>
    /// Clusters batch after batch until nothing is pending; returns how many signals were assigned. When no client is
    /// posting, the next batch is embedded while the current one is written: the model and the database work side by
    /// side instead of in turn.
    /// </summary>
    public async Task<int> DrainAsync(CancellationToken cancellationToken)
    {
        var assigned = 0;
        var pending = await ReadPendingAsync([], cancellationToken);
        var next = pending.Count == 0 ? null : clusterer.PrepareAsync(pending, cancellationToken);
        try
        {
            while (next is not null)
            {
                var current = await next;
                next = null;
                pending = await ReadPendingAsync(current.Items.Select(i => i.SignalId), cancellationToken);
                // Side by side only while no client is posting: the overlap takes the other core, and ingest comes first.
                if (pending.Count > 0 && !ingest.IsBusy)
                {
                    next = clusterer.PrepareAsync(pending, cancellationToken);
                }

                await clusterer.AssignPreparedAsync(current, cancellationToken);
                assigned += current.Items.Count;
                await ingest.GiveWayAsync(cancellationToken);
                if (pending.Count > 0)
                {
                    next ??= clusterer.PrepareAsync(pending, cancellationToken);
                }
            }
        }
        catch when (next is not null)
        {
            // Never leave the next batch's embedding running unobserved behind a failure.
            await next.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            throw;
        }

        return assigned;
    }

    // The credentials with unclustered signals, one index seek each (a skip scan of ix_signals_unclustered), then
    // each credential's oldest extracted ones from the same index: no pass over the whole backlog (migration 19).
    // INDEXED BY: without statistics the planner picks ix_signals_cluster_id and reads every unclustered row.
    internal const string PendingSql = $"""
        WITH RECURSIVE credentials (id) AS (
            SELECT (SELECT credential_id FROM signals INDEXED BY ix_signals_unclustered
                    WHERE cluster_id IS NULL ORDER BY credential_id LIMIT 1)
            UNION ALL
            SELECT (SELECT credential_id FROM signals INDEXED BY ix_signals_unclustered
                    WHERE cluster_id IS NULL AND credential_id > credentials.id ORDER BY credential_id LIMIT 1)
            FROM credentials WHERE credentials.id IS NOT NULL)
        SELECT SignalId, ProblemPattern FROM (
            SELECT s.id AS SignalId, {Clusterer.ProblemText} AS ProblemPattern, s.credential_id AS CredentialId,
                   row_number() OVER (PARTITION BY s.credential_id ORDER BY s.id) AS Turn
            FROM credentials c
            JOIN signals s ON s.id IN (
                SELECT u.id FROM signals u INDEXED BY ix_signals_unclustered JOIN issues ui ON ui.signal_id = u.id
                WHERE u.cluster_id IS NULL AND u.credential_id = c.id AND u.id NOT IN (SELECT value FROM json_each(@exclude))
                ORDER BY u.id LIMIT @BatchSize)
            JOIN issues i ON i.signal_id = s.id)
        ORDER BY Turn, CredentialId
        LIMIT @BatchSize
        """;

    /// <summary>
    /// Signals with an issue and no cluster, except <paramref name="exclude"/> (the batch being assigned meanwhile).
    /// Credentials take turns within a batch: the oldest of each credential's, then the second oldest of each, and so
    /// on, so a flood from one token shares every batch with the others instead of filling the next thousand.
    /// </summary>
    internal async Task<List<(long SignalId, string? ProblemPattern)>> ReadPendingAsync(IEnumerable<long> exclude, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<PendingRow>(new CommandDefinition(
            PendingSql, new { exclude = "[" + string.Join(',', exclude.Select(id => id.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]", BatchSize },
            cancellationToken: cancellationToken));
        return [.. rows.Select(r => (r.SignalId, r.ProblemPattern))];
    }

    // On the pipeline's threads when there are any (the embedding model runs its parts there too): request handling
    // keeps the thread pool and comes first for the CPU.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        pipeline is null ? LoopAsync(stoppingToken) : pipeline.RunAsync(() => LoopAsync(stoppingToken), stoppingToken);

    private async Task LoopAsync(CancellationToken stoppingToken)
    {
        await state.WhenReadyAsync(stoppingToken);

        var backoff = TimeSpan.Zero;
        // New assignments since the last consolidation; true at start so clusters made before an upgrade are consolidated once.
        var unconsolidated = true;
        var lastConsolidated = time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ingest.GiveWayAsync(stoppingToken);
                var assigned = await DrainAsync(stoppingToken);
                unconsolidated |= assigned > 0;
                if (assigned > 0)
                {
                    events.Raise();
                }

                // Once the queue is empty (or at least every minute under steady ingest), clusters are consolidated so
                // they do not depend on the order signals arrived in.
                if (unconsolidated && (assigned == 0 || time.GetUtcNow() - lastConsolidated >= ConsolidateAtLeastEvery))
                {
                    await consolidator.RunAsync(stoppingToken);
                    events.Raise();
                    unconsolidated = false;
                    lastConsolidated = time.GetUtcNow();
                }

                _lastError = null;
                backoff = TimeSpan.Zero;
                if (assigned == 0)
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
                // An embedding model that is down: wait and try again, longer each time.
                _lastError = ex.Message;
                backoff = backoff == TimeSpan.Zero ? TimeSpan.FromSeconds(1) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                LogFailed(logger, backoff, ex);
                await Task.Delay(backoff, time, stoppingToken);
            }
        }
    }

    private sealed class PendingRow
    {
        public long SignalId { get; init; }
        public string? ProblemPattern { get; init; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Clustering failed; retrying in {Backoff}")]
    private static partial void LogFailed(ILogger logger, TimeSpan backoff, Exception exception);
}
