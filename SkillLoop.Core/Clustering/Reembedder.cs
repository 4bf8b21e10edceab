using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Clustering;

public sealed record ReembedProgress(string Model, bool Running, long Done, long Total, string? Error);

/// <summary>
/// When the embedding model changes, every clustered signal is embedded again in the background (in batches) and
/// every cluster's centroid is recomputed. The new model is recorded only once all is done, so an interrupted run
/// simply starts again at the next start.
/// Cluster membership is kept: a model change must not silently regroup what admins have triaged.
/// Runs at start, and again on <see cref="RequestRun"/> (the embedding model was changed in the settings).
/// </summary>
public sealed partial class Reembedder(
    SqliteDb db,
    DatabaseState state,
    IEmbeddingGenerator<string, Embedding<float>> embedder,
    Clusterer clusterer,
    ClusteringSettings settings,
    SettingsStore store,
    TimeProvider time,
    ILogger<Reembedder> logger,
    Telemetry.SkillLoopMetrics? metrics = null) : BackgroundService
{
    public const string ModelKey = "embeddings.model";
    private const int BatchSize = 64;

    private volatile ReembedProgress _progress = new("", false, 0, 0, null);
    private readonly SemaphoreSlim _requested = new(0, 1);

    public ReembedProgress Progress => _progress;

    /// <summary>
    /// Identifies the embedding model and what is embedded (<see cref="Clusterer.EmbeddedText"/>), so that a change of
    /// either is noticed across restarts.
    /// </summary>
    public string ModelId
    {
        get
        {
            var metadata = embedder.GetService<EmbeddingGeneratorMetadata>();
            return $"{metadata?.ProviderName ?? embedder.GetType().Name}/{metadata?.DefaultModelId ?? "default"}{Clusterer.EmbeddedText}";
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await state.WhenReadyAsync(stoppingToken);

        try
        {
            while (true)
            {
                try
                {
                    await RunAsync(stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    _progress = _progress with { Running = false, Error = ex.Message };
                    LogFailed(logger, ex);
                }

                await _requested.WaitAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Asks the background loop to bring every vector to the current model again (after a settings change); a
    /// no-op run when the model did not change. Requests made during a run start one more run after it.
    /// </summary>
    public void RequestRun()
    {
        try
        {
            _requested.Release();
        }
        catch (SemaphoreFullException)
        {
            // A run is already requested.
        }
    }

    /// <summary>Brings every vector to the current model; a no-op when nothing changed.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var model = ModelId;
        var previous = await store.GetAsync(ModelKey, cancellationToken);
        await using var connection = await db.OpenWithVectorsAsync(cancellationToken);
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM signals WHERE cluster_id IS NOT NULL", cancellationToken: cancellationToken));
        if (previous == model || (previous is null && total == 0))
        {
            await store.SetAsync(ModelKey, model, cancellationToken);
            _progress = new ReembedProgress(model, false, total, total, null);
            return;
        }

        LogStarted(logger, previous ?? "(none)", model, total);
        var done = 0L;
        _progress = new ReembedProgress(model, true, done, total, null);
        var index = new VectorIndex(db, Clusterer.SignalsKind);
        long lastId = 0;
        while (true)
        {
            var batch = (await connection.QueryAsync<SignalText>(new CommandDefinition(
                $"""
                SELECT s.id AS Id, s.text AS Text, {Clusterer.ProblemText} AS ProblemPattern, coalesce(s.skill, '') AS Partition
                FROM signals s LEFT JOIN issues i ON i.signal_id = s.id
                WHERE s.cluster_id IS NOT NULL AND s.id > @lastId ORDER BY s.id LIMIT @BatchSize
                """, new { lastId, BatchSize }, cancellationToken: cancellationToken))).ToList();
            if (batch.Count == 0)
            {
                break;
            }

            // The same text the clusterer embedded: problem pattern and correction.
            var embeddings = await embedder.GenerateAsync(batch.Select(s => Clusterer.TextFor(s.Text, s.ProblemPattern)), cancellationToken: cancellationToken);
            metrics?.Embedded(embeddings.Count);
            await using (var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    await index.UpsertAsync(connection, transaction, batch[i].Id, batch[i].Partition, embeddings[i].Vector.ToArray(), cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
            }

            lastId = batch[^1].Id;
            done += batch.Count;
            _progress = _progress with { Done = done };
        }

        var thresholds = await settings.GetAsync(cancellationToken);
        var clusters = (await connection.QueryAsync<long>(new CommandDefinition(
            "SELECT id FROM clusters WHERE state <> 'merged'", cancellationToken: cancellationToken))).ToList();
        foreach (var clusterId in clusters)
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            await clusterer.RefreshAsync(connection, transaction, clusterId, thresholds, time.GetUtcNow(), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await store.SetAsync(ModelKey, model, cancellationToken);
        _progress = new ReembedProgress(model, false, done, total, null);
        LogFinished(logger, done, clusters.Count);
    }

    private sealed class SignalText
    {
        public long Id { get; init; }
        public string Text { get; init; } = "";
        public string? ProblemPattern { get; init; }
        public string Partition { get; init; } = "";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedding model changed from {Previous} to {Model}: re-embedding {Total} signal(s)")]
    private static partial void LogStarted(ILogger logger, string previous, string model, long total);

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-embedded {Done} signal(s) and recomputed {Clusters} cluster centroid(s)")]
    private static partial void LogFinished(ILogger logger, long done, int clusters);

    [LoggerMessage(Level = LogLevel.Error, Message = "Re-embedding failed; it resumes on the next start or change of model")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
