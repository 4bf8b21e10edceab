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

public sealed class TrustMigrationTests
{
    [Fact]
    public async Task Existing_ingest_tokens_become_shared_their_signals_self_declared_and_rejections_stay_silent()
    {
        using var directory = new TempDirectory();
        await using var connection = await OldSchema.OpenAtAsync(directory, 6);

        await connection.ExecuteAsync(
            """
            INSERT INTO api_keys (kind, name, secret_hash, prefix, created_at) VALUES ('ingest', 'team', 'h1', 'sli_', '2026-01-01'), ('admin', 'ci', 'h2', 'sla_', '2026-01-01');
            INSERT INTO clusters (id, skill, title, centroid_sum, signal_count, user_count, first_seen, last_seen, created_at, updated_at)
            VALUES (1, 's', 't', x'', 2, 2, '2026-01-01', '2026-01-01', '2026-01-01', '2026-01-01');
            INSERT INTO signals (platform, session_id, turn_id, text, pattern, confidence, user_hash, created_at, cluster_id)
            VALUES ('claude', 'a', 't1', 'no', 'p', 0.9, 'u1', '2026-01-01', 1), ('claude', 'b', 't1', 'no', 'p', 0.9, 'u2', '2026-01-01', 1);
            INSERT INTO proposals (cluster_id, title, state, review_comment, reviewed_by, reviewed_at, created_at, updated_at)
            VALUES (1, 't', 'rejected', 'No.', 'rita', '2026-01-02', '2026-01-01', '2026-01-02');
            """);

        Assert.Equal(Migrations.All.Count(m => m.Version > 6), await Migrations.ApplyAsync(connection, CancellationToken.None));

        Assert.Equal([("ci", 0L), ("team", 1L)], (await connection.QueryAsync<(string, long)>("SELECT name, shared FROM api_keys ORDER BY name")).ToList());
        Assert.Equal(2, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM signals WHERE self_declared = 1 AND credential_id = 0"));
        Assert.Equal(["u1", "u2"], (await connection.QueryAsync<string>("SELECT user_hash FROM proposal_rejected_users ORDER BY user_hash")).ToList());
        Assert.Equal(("No.", "rita"), await connection.QuerySingleAsync<(string, string)>("SELECT rejected_comment, rejected_by FROM proposals"));

        // The version follows every change a reviewer would read.
        var before = await connection.ExecuteScalarAsync<int>("SELECT version FROM proposals");
        await connection.ExecuteAsync("UPDATE proposals SET proposed_text = 'x'");
        await connection.ExecuteAsync("UPDATE proposals SET attempts = 3");
        Assert.Equal(before + 1, await connection.ExecuteScalarAsync<int>("SELECT version FROM proposals"));
    }
}
