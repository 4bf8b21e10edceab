using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Data;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Data;

public sealed class DatabaseBackupTests
{
    private const int Step = 10; // each batch moves its session's cursor by this much and stores one signal and one turn

    [Fact]
    public async Task Backups_taken_while_signals_are_written_are_valid_databases_holding_only_whole_batches()
    {
        await using var core = await TestCore.StartAsync();
        var backup = core.Get<DatabaseBackup>();
        var ingestor = core.Get<SignalIngestor>();
        using var stop = new CancellationTokenSource();
        var written = new int[2];
        var writers = Enumerable.Range(0, written.Length).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var batch = SignalIngestorTests.Batch($"backup-{w}", i * Step, (i + 1) * Step, corrections: $"no, that's wrong ({w}/{i})");
                Assert.Equal(IngestOutcome.Stored, (await ingestor.IngestAsync(batch, CancellationToken.None)).Outcome);
                Interlocked.Increment(ref written[w]);
            }
        })).ToList();

        await UntilAsync(() => written.Sum() >= 50, writers);
        var during = new List<BackupFile>();
        for (var i = 0; i < 3; i++)
        {
            during.Add(await backup.CreateAsync(CancellationToken.None));
        }

        var afterBackups = written.Sum();
        await UntilAsync(() => written.Sum() >= afterBackups + 50, writers); // writes carried on after the last backup
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        var final = await backup.CreateAsync(CancellationToken.None);

        var live = await CountRowsAsync(core.Get<SqliteDb>().Path);
        Assert.Equal(live, await CountRowsAsync(Path.Combine(backup.Folder, final.Name)));
        Assert.Equal(written.Sum(), live["signals"]);
        foreach (var file in during)
        {
            var path = Path.Combine(backup.Folder, file.Name);
            Assert.Equal(new FileInfo(path).Length, file.Bytes);
            await AssertWholeBatchesAsync(path);
            var counts = await CountRowsAsync(path);
            Assert.InRange(counts["signals"], 50, live["signals"] - 50);
        }

        Assert.Equal(4, backup.List().Count);
        Assert.Empty(Directory.GetFiles(backup.Folder, "*.partial"));
    }

    [Fact]
    public async Task Two_backups_in_the_same_second_get_names_of_their_own()
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 11, 29, 4, 53, 1, TimeSpan.Zero));
        await using var core = await TestCore.StartAsync(configure: s => s.AddSingleton<TimeProvider>(clock));
        var backup = core.Get<DatabaseBackup>();

        var first = await backup.CreateAsync(CancellationToken.None);
        var second = await backup.CreateAsync(CancellationToken.None);

        Assert.Equal("skillloop-20261129T045301Z.db", first.Name);
        Assert.Equal("skillloop-20261129T045301Z-2.db", second.Name);
        Assert.Equal([second, first], backup.List()); // newest first
    }

    [Theory]
    [InlineData("../skillloop.db")]
    [InlineData("skillloop.db")]
    [InlineData("skillloop-20261129T045301Z.db/../../skillloop.db")]
    [InlineData("..\\skillloop-20261129T045301Z.db")]
    [InlineData("/etc/passwd")]
    [InlineData("skillloop-20261129T045301Z.db\0")]
    [InlineData("skillloop-20261129T045301Z.db.partial")]
    [InlineData("skillloop-20261129T045301Z.db\n")]
    [InlineData("")]
    public async Task Only_backup_file_names_are_found(string name)
    {
        await using var core = await TestCore.StartAsync();
        var backup = core.Get<DatabaseBackup>();
        await backup.CreateAsync(CancellationToken.None);

        Assert.False(DatabaseBackup.IsBackupName(name));
        Assert.Null(backup.Find(name));
    }

    /// <summary>Every session's cursor matches the signals and turns stored with it: no batch is in the copy by halves.</summary>
    private static async Task AssertWholeBatchesAsync(string path)
    {
        await using var connection = Open(path);
        Assert.Equal("ok", await connection.ExecuteScalarAsync<string>("PRAGMA integrity_check"));
        var sessions = (await connection.QueryAsync<(string Session, long Cursor, long Signals, long Turns)>(
            """
            SELECT s.session_id, s.cursor_offset,
                   (SELECT count(*) FROM signals g WHERE g.platform = s.platform AND g.session_id = s.session_id),
                   (SELECT count(*) FROM turns t WHERE t.platform = s.platform AND t.session_id = s.session_id)
            FROM sessions s
            """)).ToList();
        Assert.NotEmpty(sessions);
        foreach (var (session, cursor, signals, turns) in sessions)
        {
            Assert.Equal((cursor, cursor), (signals * Step, turns * Step));
        }
    }

    /// <summary>Rows in every ordinary table (virtual tables need their module; their shadow tables are counted).</summary>
    private static async Task<IReadOnlyDictionary<string, long>> CountRowsAsync(string path)
    {
        await using var connection = Open(path);
        var tables = await connection.QueryAsync<string>(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name");
        var counts = new Dictionary<string, long>();
        foreach (var table in tables)
        {
            counts[table] = await connection.ExecuteScalarAsync<long>($"SELECT count(*) FROM \"{table}\"");
        }

        return counts;
    }

    private static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>Waits for the writers to get that far; a writer that stopped early fails the test with its exception.</summary>
    private static async Task UntilAsync(Func<bool> condition, IReadOnlyList<Task> writers)
    {
        while (!condition())
        {
            if (writers.Any(w => w.IsCompleted))
            {
                await Task.WhenAll(writers);
                Assert.Fail("a writer stopped");
            }

            await Task.Delay(10);
        }
    }
}
