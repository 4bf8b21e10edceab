using SkillLoop.Core.Data;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Data;

/// <summary>Issue 16, item 12: on Unix the data directory is 0700, the database, its WAL and SHM and backups 0600.</summary>
public sealed class PrivateFilesTests
{
    private const UnixFileMode Directory0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode File0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task The_data_directory_database_wal_shm_and_backups_are_for_the_owner_only()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // ACLs there; the modes below are Unix's
        }

        using var parent = new TempDirectory("skillloop-modes");
        var data = Path.Combine(parent.Path, "fresh", "data");
        {
            await using var core = await TestCore.StartAsync(new Dictionary<string, string?> { ["data"] = data });
            var db = core.Get<SqliteDb>();
            await using (var connection = await db.OpenAsync(CancellationToken.None))
            {
                await Dapper.SqlMapper.ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS mode_probe (x); INSERT INTO mode_probe VALUES (1);");
                var backup = await core.Get<DatabaseBackup>().CreateAsync(CancellationToken.None);

                Assert.Equal(Directory0700, File.GetUnixFileMode(data));
                Assert.Equal(File0600, File.GetUnixFileMode(db.Path));
                Assert.Equal(File0600, File.GetUnixFileMode(db.Path + "-wal"));
                Assert.Equal(File0600, File.GetUnixFileMode(db.Path + "-shm"));
                Assert.Equal(Directory0700, File.GetUnixFileMode(core.Get<DatabaseBackup>().Folder));
                Assert.Equal(File0600, File.GetUnixFileMode(Path.Combine(core.Get<DatabaseBackup>().Folder, backup.Name)));
            }
        }
    }

    [Fact]
    public async Task An_existing_data_directory_and_database_are_narrowed_at_start()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var data = new TempDirectory("skillloop-modes");
        File.SetUnixFileMode(data.Path, Directory0700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var dbPath = Path.Combine(data.Path, "skillloop.db");
        File.WriteAllBytes(dbPath, []);
        File.SetUnixFileMode(dbPath, File0600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        await using var core = await TestCore.StartAsync(new Dictionary<string, string?> { ["data"] = data.Path });

        Assert.Equal(Directory0700, File.GetUnixFileMode(data.Path));
        Assert.Equal(File0600, File.GetUnixFileMode(dbPath));
    }
}
