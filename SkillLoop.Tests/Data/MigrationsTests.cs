using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Data;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Data;

public sealed class MigrationsTests
{
    [Fact]
    public async Task Migrations_apply_once_and_leave_the_file_in_wal_mode()
    {
        using var directory = new TempDirectory();
        await using var connection = new SqliteConnection($"Data Source={directory.Combine("db.sqlite")};Pooling=False");
        await connection.OpenAsync();

        Assert.Equal(Migrations.All.Count, await Migrations.ApplyAsync(connection, CancellationToken.None));
        Assert.Equal(0, await Migrations.ApplyAsync(connection, CancellationToken.None));

        Assert.Equal("wal", await connection.ExecuteScalarAsync<string>("PRAGMA journal_mode"));
        Assert.Equal(Migrations.Latest, await connection.ExecuteScalarAsync<int>("PRAGMA user_version"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM signals"));
    }

    [Fact]
    public async Task A_database_from_a_newer_server_is_refused_and_left_untouched()
    {
        using var directory = new TempDirectory();
        await using var connection = new SqliteConnection($"Data Source={directory.Combine("db.sqlite")};Pooling=False");
        await connection.OpenAsync();
        await connection.ExecuteAsync($"PRAGMA user_version = {Migrations.Latest + 1}");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Migrations.ApplyAsync(connection, CancellationToken.None));

        Assert.Contains("newer", error.Message);
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM sqlite_master WHERE name = 'signals'"));
    }
}
