using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Capture;

/// <summary>
/// Keeps Live signals' trigram index (<c>signals_fts</c>) in step with the signals stored, in bulk and after ingest
/// (migration 18): ingest only queues a new signal's id in <c>signals_fts_pending</c>, which a search reads as it is, and
/// this moves the queue into the index a few thousand rows per write turn once clients pause, so the index gains one
/// segment per pass instead of one per stored batch.
/// </summary>
public sealed partial class SignalSearchIndexer(
    SqliteDb db,
    DatabaseState database,
    SignalFeed feed,
    IngestActivity ingest,
    TimeProvider time,
    ILogger<SignalSearchIndexer> logger) : BackgroundService
{
    /// <summary>Rows indexed in one write turn at most: tens of milliseconds of holding it.</summary>
    internal const int RowsPerTurn = 2_000;

    /// <summary>
    /// Characters indexed in one write turn at most (at least one row): signals are up to 20,000 characters, and
    /// 2,000 of those would hold the write turn, and every client's post with it, for seconds. A turn of 200,000
    /// characters held it ~23 ms (<c>-- flood --profile</c>); 50,000 keep a post that waits behind one to a few ms.
    /// </summary>
    internal const long CharactersPerTurn = 50_000;

    private long _turns;

    /// <summary>Write turns taken to index so far.</summary>
    internal long Turns => Interlocked.Read(ref _turns);

    /// <summary>How long new signals gather before a pass, so a pass indexes many.</summary>
    internal static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(500);

    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Indexes every queued signal; returns how many. Between its write turns it gives way to clients that are posting
    /// (<see cref="IngestActivity"/>), as the other background stages do: a flood of large batches queues thousands of
    /// signals a second, and indexing them turn after turn kept every other client's post waiting behind the index.
    /// </summary>
    public async Task<int> IndexPendingAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            if (total > 0)
            {
                await ingest.GiveWayAsync(cancellationToken);
            }

            using var writeTurn = await db.EnterWriteAsync(cancellationToken);
            var connection = writeTurn.Connection;
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            var queued = (await connection.QueryAsync<(long Id, long Length)>(new CommandDefinition(
                """
                SELECT p.id, coalesce(length(s.text), 0)
                FROM signals_fts_pending p LEFT JOIN signals s ON s.id = p.id
                ORDER BY p.id LIMIT @limit
                """, new { limit = RowsPerTurn }, transaction, cancellationToken: cancellationToken))).ToList();
            if (queued.Count == 0)
            {
                return total;
            }

            var (count, characters) = (0, 0L);
            while (count < queued.Count && (count == 0 || characters + queued[count].Length <= CharactersPerTurn))
            {
                characters += queued[count++].Length;
            }

            var upTo = queued[count - 1].Id;

            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO signals_fts (rowid, text)
                SELECT s.id, s.text FROM signals_fts_pending p JOIN signals s ON s.id = p.id WHERE p.id <= @upTo;
                DELETE FROM signals_fts_pending WHERE id <= @upTo;
                """, new { upTo }, transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            Interlocked.Increment(ref _turns);
            total += count;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        await database.WhenReadyAsync(stoppingToken);
        using var subscription = feed.Subscribe(_ => { _wake.TrySetResult(); return Task.CompletedTask; });
        while (!stoppingToken.IsCancellationRequested)
        {
            Interlocked.Exchange(ref _wake, new(TaskCreationOptions.RunContinuationsAsynchronously));
            try
            {
                await ingest.GiveWayAsync(stoppingToken);
                var indexed = await IndexPendingAsync(stoppingToken);
                if (indexed > 0)
                {
                    LogIndexed(logger, indexed);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Searches still find the queued rows; the next pass tries again.
                LogFailed(logger, ex);
            }

            await Task.WhenAny(_wake.Task, Task.Delay(TimeSpan.FromMinutes(1), time, stoppingToken));
            await Task.Delay(Gather, time, stoppingToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Search index: {Count} signal(s) indexed")]
    private static partial void LogIndexed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Search index: a pass failed; queued signals stay searchable and are indexed later")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
