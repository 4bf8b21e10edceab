using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using SkillLoop.Core.Data;
using SkillLoop.Tests.Extraction;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Data;

public sealed class WalCheckpointerTests
{
    [Fact]
    public async Task Pages_written_in_write_turns_reach_the_database_file_at_the_checkpointers_pass_not_in_the_write_turn()
    {
        await using var database = await TestDatabase.CreateAsync();
        var checkpointer = new WalCheckpointer(database.Db, new DatabaseState(), TimeProvider.System, NullLogger<WalCheckpointer>.Instance);
        await checkpointer.CheckpointAsync(CancellationToken.None); // the migrations' pages
        var before = new FileInfo(database.Db.Path).Length;

        // ~12 MB in 24 write turns: SQLite's own checkpoint (every 1,000 pages) would have run in a dozen of them.
        var row = new string('x', 500_000);
        for (var i = 0; i < 24; i++)
        {
            using var turn = await database.Db.EnterWriteAsync(CancellationToken.None);
            await turn.Connection.ExecuteAsync("INSERT INTO settings (key, value) VALUES (@key, @row)", new { key = $"bulk{i}", row });
        }

        Assert.True(new FileInfo(database.Db.Path).Length - before < 1 << 20, "the write turns copied pages into the database file");
        var result = await checkpointer.CheckpointAsync(CancellationToken.None);

        Assert.NotNull(result);
        Assert.Equal(0, result.Value.Busy);
        Assert.True(result.Value.Log > 2_500, $"WAL pages {result.Value.Log}");
        Assert.Equal(result.Value.Log, result.Value.Checkpointed);
        Assert.True(new FileInfo(database.Db.Path).Length - before > 10 << 20, "the checkpoint copied the pages");
        Assert.Null(await checkpointer.CheckpointAsync(CancellationToken.None)); // nothing written since: no pass
        Assert.Equal(24, await database.ScalarAsync<long>("SELECT count(*) FROM settings WHERE key LIKE 'bulk%'"));
    }

    [Fact]
    public async Task Pages_a_reader_kept_from_the_checkpoint_are_copied_at_the_next_pass_even_with_nothing_new_written()
    {
        await using var database = await TestDatabase.CreateAsync();
        var checkpointer = new WalCheckpointer(database.Db, new DatabaseState(), TimeProvider.System, NullLogger<WalCheckpointer>.Instance);
        await checkpointer.CheckpointAsync(CancellationToken.None); // the migrations' pages

        // A reader whose snapshot predates the writes: a passive checkpoint may not copy past it.
        await using (var reader = await database.Db.OpenAsync(CancellationToken.None))
        {
            using var snapshot = reader.BeginTransaction(deferred: true);
            await reader.ExecuteScalarAsync<long>("SELECT count(*) FROM settings", transaction: snapshot);
            using (var turn = await database.Db.EnterWriteAsync(CancellationToken.None))
            {
                await turn.Connection.ExecuteAsync("INSERT INTO settings (key, value) VALUES ('kept', @row)", new { row = new string('x', 100_000) });
            }

            var blocked = await checkpointer.CheckpointAsync(CancellationToken.None);
            Assert.NotNull(blocked);
            Assert.True(blocked.Value.Checkpointed < blocked.Value.Log, $"{blocked.Value.Checkpointed} of {blocked.Value.Log} pages copied past the reader");
        }

        var rest = await checkpointer.CheckpointAsync(CancellationToken.None);
        Assert.NotNull(rest);
        Assert.Equal(rest.Value.Log, rest.Value.Checkpointed);
        Assert.Null(await checkpointer.CheckpointAsync(CancellationToken.None)); // now complete: no pass until a write
    }

    [Fact]
    public async Task The_background_pass_runs_an_interval_after_write_turns_and_not_while_nothing_is_written()
    {
        await using var database = await TestDatabase.CreateAsync();
        var state = new DatabaseState();
        state.MarkReady(Migrations.Latest);
        var clock = new SteppedTimeProvider(new DateTimeOffset(2026, 12, 2, 7, 0, 0, TimeSpan.Zero));
        using var checkpointer = new WalCheckpointer(database.Db, state, clock, NullLogger<WalCheckpointer>.Instance);
        await checkpointer.CheckpointAsync(CancellationToken.None);
        await checkpointer.StartAsync(CancellationToken.None);
        try
        {
            await AdvanceUntilWaitingAsync(clock);
            clock.Advance(WalCheckpointer.Interval);
            await AdvanceUntilWaitingAsync(clock);
            Assert.Equal(1, checkpointer.Passes); // nothing written: the timer fired, no checkpoint

            using (var turn = await database.Db.EnterWriteAsync(CancellationToken.None))
            {
                await turn.Connection.ExecuteAsync("INSERT INTO settings (key, value) VALUES ('k', 'v')");
            }

            clock.Advance(WalCheckpointer.Interval);
            await Poll.UntilAsync(() => checkpointer.Passes == 2, TimeSpan.FromSeconds(10));
        }
        finally
        {
            await checkpointer.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Until the loop has set its next timer (the stepped clock fires timers only when moved).</summary>
    private static Task AdvanceUntilWaitingAsync(SteppedTimeProvider clock) => Poll.UntilAsync(() => clock.PendingTimers > 0, TimeSpan.FromSeconds(10));
}
