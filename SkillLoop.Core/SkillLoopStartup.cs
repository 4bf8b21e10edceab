using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Access;
using SkillLoop.Core.Data;
using SkillLoop.Core.Detection;

namespace SkillLoop.Core;

/// <summary>Opens and migrates the database and applies first-start settings before the server takes requests.</summary>
public sealed partial class SkillLoopStartup(
    SqliteDb db,
    DatabaseState state,
    AccessSeeder accessSeeder,
    PatternStore patterns,
    ILogger<SkillLoopStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Owner-only on Unix: the directory (0700) and the database with its WAL and shared memory (0600).
        PrivateFiles.EnsureDirectory(Path.GetDirectoryName(db.Path)!);
        PrivateFiles.EnsureFile(db.Path);
        PrivateFiles.Restrict(db.Path + "-wal");
        PrivateFiles.Restrict(db.Path + "-shm");
        await using (var connection = await db.OpenAsync(cancellationToken))
        {
            var applied = await Migrations.ApplyAsync(connection, cancellationToken);
            LogMigrated(logger, db.Path, Migrations.Latest, applied);
        }

        // Created by the first connection in WAL mode (with the database's mode; narrowed anyway for files from before).
        PrivateFiles.Restrict(db.Path + "-wal");
        PrivateFiles.Restrict(db.Path + "-shm");

        LogKeyRing(logger, KeyRing.Describe(Path.GetDirectoryName(db.Path)!));
        await accessSeeder.SeedAsync(cancellationToken);
        await patterns.SeedAsync(SkillLoop.Hooks.Detection.DefaultPatterns.All, cancellationToken);
        _ = db.Vec.IsAvailable; // probe (and log) the vector index once at start
        state.MarkReady(Migrations.Latest);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Database {Path} at schema version {Version} ({Applied} migration(s) applied)")]
    private static partial void LogMigrated(ILogger logger, string path, int version, int applied);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Description}")]
    private static partial void LogKeyRing(ILogger logger, string description);
}
