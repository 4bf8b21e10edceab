using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SkillLoop.Core;
using SkillLoop.Core.Data;

namespace SkillLoop.Tests.Extraction;

/// <summary>A migrated SQLite file in a temp directory, deleted afterwards.</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private TestDatabase(string directory, SqliteDb db)
    {
        Directory = directory;
        Db = db;
    }

    public string Directory { get; }

    public SqliteDb Db { get; }

    public static async Task<TestDatabase> CreateAsync()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("skillloop-db-").FullName;
        var options = Options.Create(new SkillLoopOptions { DataDirectory = directory });
        var db = new SqliteDb(options, new SqliteVec(options, NullLogger<SqliteVec>.Instance));
        await using var connection = await db.OpenAsync(CancellationToken.None);
        await Migrations.ApplyAsync(connection, CancellationToken.None);
        return new TestDatabase(directory, db);
    }

    /// <summary>Stores a signal the way ingest does (only the columns extraction reads matter).</summary>
    public async Task<long> AddSignalAsync(string text, string? skill = "deploy", string contextJson = "[]")
    {
        await using var connection = await Db.OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>(
            """
            INSERT INTO signals (platform, session_id, turn_id, text, pattern, skill, skill_path, confidence, user_hash, context_json, created_at)
            VALUES ('claude', 's1', @turnId, @text, 'en-reject-wrong', @skill, NULL, 0.9, 'u', @contextJson, '2026-01-01T00:00:00Z')
            RETURNING id
            """, new { turnId = Guid.NewGuid().ToString("N"), text, skill, contextJson });
    }

    public async Task<T> ScalarAsync<T>(string sql, object? args = null)
    {
        await using var connection = await Db.OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<T>(sql, args) ?? throw new InvalidOperationException("no value");
    }

    public async ValueTask DisposeAsync()
    {
        Db.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }

        await Task.CompletedTask;
    }
}
