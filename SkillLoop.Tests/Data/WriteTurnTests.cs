using Dapper;
using SkillLoop.Tests.Extraction;

namespace SkillLoop.Tests.Data;

public sealed class WriteTurnTests
{
    [Fact]
    public async Task Writers_share_one_connection_and_take_turns()
    {
        await using var database = await TestDatabase.CreateAsync();

        Microsoft.Data.Sqlite.SqliteConnection first;
        using (var turn = await database.Db.EnterWriteAsync(CancellationToken.None))
        {
            first = turn.Connection;
            var second = database.Db.EnterWriteAsync(CancellationToken.None);
            await Task.Delay(50);
            Assert.False(second.IsCompleted); // the turn is exclusive
            turn.Dispose();
            using var next = await second;
            Assert.Same(first, next.Connection); // its page cache carries over to the next writer
        }
    }

    [Fact]
    public async Task A_writer_that_leaves_a_transaction_open_does_not_hand_it_to_the_next()
    {
        await using var database = await TestDatabase.CreateAsync();
        Microsoft.Data.Sqlite.SqliteConnection abandoned;
        using (var turn = await database.Db.EnterWriteAsync(CancellationToken.None))
        {
            abandoned = turn.Connection;
            // BEGIN without COMMIT and without disposing a transaction object: a holder that failed half-way.
            await turn.Connection.ExecuteAsync("BEGIN IMMEDIATE; INSERT INTO settings (key, value) VALUES ('half', 'way');");
        }

        using (var turn = await database.Db.EnterWriteAsync(CancellationToken.None))
        {
            Assert.NotSame(abandoned, turn.Connection);
            await turn.Connection.ExecuteAsync("INSERT INTO settings (key, value) VALUES ('next', 'writer')");
        }

        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM settings WHERE key = 'half'"));
        Assert.Equal(1, await database.ScalarAsync<long>("SELECT count(*) FROM settings WHERE key = 'next'"));
    }

    [Fact]
    public async Task The_writers_connection_keeps_savepoint_journals_in_memory_and_never_checkpoints_and_other_connections_keep_the_defaults()
    {
        await using var database = await TestDatabase.CreateAsync();
        using (var turn = await database.Db.EnterWriteAsync(CancellationToken.None))
        {
            // 2 = MEMORY: group commit's per-post savepoints would otherwise spill their journal to a temporary file.
            Assert.Equal(2, await turn.Connection.ExecuteScalarAsync<long>("PRAGMA temp_store"));
            // 0: the WalCheckpointer checkpoints, not a commit inside the write turn.
            Assert.Equal(0, await turn.Connection.ExecuteScalarAsync<long>("PRAGMA wal_autocheckpoint"));
        }

        await using var other = await database.Db.OpenAsync(CancellationToken.None);
        Assert.Equal(0, await other.ExecuteScalarAsync<long>("PRAGMA temp_store"));
        Assert.Equal(1000, await other.ExecuteScalarAsync<long>("PRAGMA wal_autocheckpoint"));
    }
}
