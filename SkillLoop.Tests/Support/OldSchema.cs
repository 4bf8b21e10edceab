using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Data;

namespace SkillLoop.Tests.Support;

/// <summary>A database file as an older server left it: the migrations up to a version, for upgrade tests.</summary>
public static class OldSchema
{
    /// <summary>Opens a new database in <paramref name="directory"/> migrated up to and including <paramref name="version"/>.</summary>
    public static async Task<SqliteConnection> OpenAtAsync(TempDirectory directory, int version)
    {
        var connection = new SqliteConnection($"Data Source={directory.Combine("db.sqlite")};Pooling=False");
        await connection.OpenAsync();
        foreach (var (applied, _, sql) in Migrations.All.Where(m => m.Version <= version))
        {
            await connection.ExecuteAsync(sql);
            await connection.ExecuteAsync($"PRAGMA user_version = {applied}");
        }

        return connection;
    }
}
