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

    [Fact]
    public async Task With_two_kept_only_the_two_newest_of_four_backups_remain()
    {
        var (core, clock) = await StartWithClockAsync();
        await using var _ = core;
        await core.Get<BackupSettings>().SetAsync(new BackupRetention(2), CancellationToken.None);
        var backup = core.Get<DatabaseBackup>();

        var taken = new List<BackupFile>();
        for (var i = 0; i < 4; i++)
        {
            taken.Add(await backup.CreateAsync(CancellationToken.None));
            clock.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal([taken[3].Name, taken[2].Name], backup.List().Select(b => b.Name));
        Assert.Equal([taken[2].Name, taken[3].Name], Directory.GetFiles(backup.Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Keeping_0_keeps_every_backup()
    {
        var (core, clock) = await StartWithClockAsync();
        await using var _ = core;
        await core.Get<BackupSettings>().SetAsync(new BackupRetention(0), CancellationToken.None);
        var backup = core.Get<DatabaseBackup>();

        for (var i = 0; i < 4; i++)
        {
            await backup.CreateAsync(CancellationToken.None);
            clock.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal(4, backup.List().Count);
    }

    [Fact]
    public async Task Ten_backups_are_kept_unless_set_otherwise()
    {
        await using var core = await TestCore.StartAsync();

        Assert.Equal(new BackupRetention(10), await core.Get<BackupSettings>().GetAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Pruning_deletes_only_backups_never_partial_files_or_anything_else_in_the_folder()
    {
        var (core, _) = await StartWithClockAsync();
        await using var __ = core;
        await core.Get<BackupSettings>().SetAsync(new BackupRetention(1), CancellationToken.None);
        var backup = core.Get<DatabaseBackup>();
        Directory.CreateDirectory(backup.Folder);
        string[] foreign =
        [
            "notes.txt",
            "skillloop-20200101T000000Z.db.partial", // a backup being written right now
            "skillloop-20200101T000000Z.db-journal",
            "skillloop.db",
            "skillloop-manual.db",
            "Skillloop-20200101T000000Z.db",
        ];
        foreach (var name in foreign)
        {
            await File.WriteAllTextAsync(Path.Combine(backup.Folder, name), "not a backup");
        }

        Directory.CreateDirectory(Path.Combine(backup.Folder, "skillloop-20200102T000000Z.db")); // a folder named like one
        await File.WriteAllTextAsync(Path.Combine(backup.Folder, "skillloop-20200103T000000Z.db"), "an old backup");

        var created = await backup.CreateAsync(CancellationToken.None);

        Assert.Equal([created.Name], backup.List().Select(b => b.Name));
        Assert.False(File.Exists(Path.Combine(backup.Folder, "skillloop-20200103T000000Z.db")));
        Assert.All(foreign, name => Assert.True(File.Exists(Path.Combine(backup.Folder, name)), name));
        Assert.True(Directory.Exists(Path.Combine(backup.Folder, "skillloop-20200102T000000Z.db")));
    }

    [Fact]
    public async Task The_backup_just_taken_is_kept_even_when_others_are_named_as_newer()
    {
        var (core, _) = await StartWithClockAsync();
        await using var __ = core;
        await core.Get<BackupSettings>().SetAsync(new BackupRetention(2), CancellationToken.None);
        var backup = core.Get<DatabaseBackup>();
        Directory.CreateDirectory(backup.Folder);
        foreach (var name in new[] { "skillloop-20990101T000000Z.db", "skillloop-20990102T000000Z.db" })
        {
            await File.WriteAllTextAsync(Path.Combine(backup.Folder, name), "a backup from a clock that ran ahead");
        }

        var created = await backup.CreateAsync(CancellationToken.None);

        Assert.Equal(["skillloop-20990102T000000Z.db", created.Name], backup.List().Select(b => b.Name));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(10_001)]
    public async Task A_number_kept_out_of_range_is_refused_and_changes_nothing(int keep)
    {
        await using var core = await TestCore.StartAsync();
        var settings = core.Get<BackupSettings>();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => settings.SetAsync(new BackupRetention(keep), CancellationToken.None));

        Assert.Equal(BackupSettings.DefaultKeepNewest, (await settings.GetAsync(CancellationToken.None)).KeepNewest);
    }

    private static async Task<(TestCore Core, ManualTimeProvider Clock)> StartWithClockAsync()
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 11, 29, 4, 53, 1, TimeSpan.Zero));
        return (await TestCore.StartAsync(configure: s => s.AddSingleton<TimeProvider>(clock)), clock);
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
