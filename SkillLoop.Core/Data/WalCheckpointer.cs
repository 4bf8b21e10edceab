using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace SkillLoop.Core.Data;

/// <summary>
/// Copies the WAL's committed pages into the database file, off the write turn: the writers' connection does not
/// checkpoint (see <see cref="SqliteDb"/>), so this does, once a <see cref="Interval"/> after write turns. A passive
/// checkpoint takes no write lock: writers keep appending to the WAL while it copies and syncs, and it copies only what
/// no reader still needs (the next pass takes the rest, written to or not).
/// </summary>
public sealed partial class WalCheckpointer(SqliteDb db, DatabaseState database, TimeProvider time, ILogger<WalCheckpointer> logger)
    : BackgroundService
{
    /// <summary>How often the WAL is checkpointed while there are writes (SQLite's own: every 1,000 pages, ~4 MB).</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private long _checkpointedAfter = -1;
    private long _passes;

    /// <summary>Checkpoints run so far.</summary>
    internal long Passes => Interlocked.Read(ref _passes);

    /// <summary>
    /// Checkpoints the WAL when write turns ended since the last complete pass; returns SQLite's (busy, WAL pages,
    /// pages checkpointed), or null when there was nothing left to copy.
    /// </summary>
    public async Task<(long Busy, long Log, long Checkpointed)?> CheckpointAsync(CancellationToken cancellationToken)
    {
        var ended = db.WriteTurnsEnded;
        if (ended == Interlocked.Read(ref _checkpointedAfter))
        {
            return null;
        }

        await using var connection = await db.OpenAsync(cancellationToken);
        var result = await connection.QuerySingleAsync<(long Busy, long Log, long Checkpointed)>(
            new CommandDefinition("PRAGMA wal_checkpoint(PASSIVE)", cancellationToken: cancellationToken));
        // A reader's snapshot older than some pages keeps them out of a passive checkpoint: only a complete pass
        // settles these write turns, so the next pass tries again even when nothing new is written.
        if (result.Busy == 0 && result.Checkpointed == result.Log)
        {
            Interlocked.Exchange(ref _checkpointedAfter, ended);
        }

        Interlocked.Increment(ref _passes);
        return result;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        await database.WhenReadyAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Interval, time, stoppingToken);
                if (await CheckpointAsync(stoppingToken) is { } result)
                {
                    LogCheckpointed(logger, result.Checkpointed, result.Log);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // The WAL keeps the pages (nothing is lost); the next pass tries again.
                LogFailed(logger, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "WAL checkpoint: {Checkpointed} of {Log} page(s) copied")]
    private static partial void LogCheckpointed(ILogger logger, long checkpointed, long log);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WAL checkpoint failed; the next pass tries again")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
