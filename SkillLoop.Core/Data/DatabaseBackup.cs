using System.Globalization;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SkillLoop.Core.Data;

/// <param name="Name">The file's name in the backups folder, e.g. <c>skillloop-20261129T045301Z.db</c>.</param>
/// <param name="CreatedAt">When it was taken (UTC, to the second, as in its name).</param>
public sealed record BackupFile(string Name, long Bytes, DateTimeOffset CreatedAt);

/// <summary>
/// Online backups of the database: <c>VACUUM INTO</c> writes a consistent snapshot (one read transaction; in WAL mode
/// writers carry on meanwhile) to <c>&lt;data&gt;/backups/skillloop-&lt;UTC time&gt;.db</c>. One backup runs at a
/// time, and a file shows up under its name only once it is complete. After each backup, the older ones beyond the
/// number <see cref="BackupSettings"/> keeps are deleted.
/// </summary>
public sealed partial class DatabaseBackup(
    SqliteDb db, BackupSettings settings, IOptions<SkillLoopOptions> options, TimeProvider time, ILogger<DatabaseBackup> logger)
{
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public string Folder { get; } = Path.Combine(Path.GetFullPath(options.Value.DataDirectory), "backups");

    /// <summary>Whether <paramref name="name"/> is the name of a backup file (and so of nothing outside the folder).</summary>
    public static bool IsBackupName(string? name) => name is not null && BackupName().IsMatch(name);

    public async Task<BackupFile> CreateAsync(CancellationToken cancellationToken)
    {
        await _oneAtATime.WaitAsync(cancellationToken);
        string? partial = null;
        try
        {
            // Read first: a database that cannot answer fails the backup before anything is written.
            var retention = await settings.GetAsync(cancellationToken);
            PrivateFiles.EnsureDirectory(Folder);
            var now = time.GetUtcNow().ToUniversalTime();
            var createdAt = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond)); // to the second, as in the name
            var name = FreeName(createdAt);
            var path = Path.Combine(Folder, name);
            partial = path + ".partial";
            File.Delete(partial);
            PrivateFiles.EnsureFile(partial); // empty and 0600: VACUUM INTO fills it, keeping the mode
            await using (var connection = await db.OpenAsync(cancellationToken))
            {
                await connection.ExecuteAsync(new CommandDefinition("VACUUM INTO @partial", new { partial }, cancellationToken: cancellationToken));
            }

            PrivateFiles.Restrict(partial);
            File.Move(partial, path);
            partial = null;
            var backup = new BackupFile(name, new FileInfo(path).Length, createdAt);
            LogCreated(logger, backup.Name, backup.Bytes);
            Prune(backup, retention.KeepNewest);
            return backup;
        }
        finally
        {
            if (partial is not null)
            {
                File.Delete(partial);
            }

            _oneAtATime.Release();
        }
    }

    /// <summary>
    /// Deletes the backups beyond the newest <paramref name="keep"/> (0 keeps all). Only files named as backups are
    /// listed, so a backup still being written (<c>.partial</c>) and anything else in the folder are never touched; the
    /// backup just taken always counts as one of those kept, even if a clock set back makes others look newer.
    /// </summary>
    private void Prune(BackupFile created, int keep)
    {
        if (keep <= 0)
        {
            return;
        }

        foreach (var old in List().Where(b => b.Name != created.Name).Skip(keep - 1))
        {
            try
            {
                File.Delete(Path.Combine(Folder, old.Name));
                LogPruned(logger, old.Name, keep);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The backup itself succeeded; a file that cannot be deleted now is tried again after the next one.
                LogPruneFailed(logger, old.Name, ex);
            }
        }
    }

    /// <summary>The backups in the folder, newest first.</summary>
    public IReadOnlyList<BackupFile> List()
    {
        if (!Directory.Exists(Folder))
        {
            return [];
        }

        return new DirectoryInfo(Folder).EnumerateFiles("skillloop-*.db")
            .Select(f => (File: f, Name: BackupName().Match(f.Name)))
            .Where(x => x.Name.Success)
            .Select(x => (Backup: new BackupFile(x.File.Name, x.File.Length, ParseTime(x.Name.Groups["time"].Value)),
                Number: x.Name.Groups["n"].Success ? int.Parse(x.Name.Groups["n"].Value, CultureInfo.InvariantCulture) : 1))
            .OrderByDescending(x => x.Backup.CreatedAt)
            .ThenByDescending(x => x.Number)
            .Select(x => x.Backup)
            .ToList();
    }

    /// <summary>The full path of the backup named <paramref name="name"/>; null for any other name or a missing file.</summary>
    public string? Find(string? name)
    {
        if (!IsBackupName(name))
        {
            return null;
        }

        var path = Path.Combine(Folder, name!);
        return File.Exists(path) ? path : null;
    }

    private const string TimeFormat = "yyyyMMdd'T'HHmmss'Z'";

    private static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.ParseExact(text, TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private string FreeName(DateTimeOffset createdAt)
    {
        var stem = $"skillloop-{createdAt.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture)}";
        var name = $"{stem}.db";
        for (var n = 2; File.Exists(Path.Combine(Folder, name)); n++)
        {
            name = $"{stem}-{n.ToString(CultureInfo.InvariantCulture)}.db";
        }

        return name;
    }

    [GeneratedRegex(@"^skillloop-(?<time>[0-9]{8}T[0-9]{6}Z)(-(?<n>[0-9]{1,6}))?\.db\z", RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture)]
    private static partial Regex BackupName();

    [LoggerMessage(Level = LogLevel.Information, Message = "Database backed up to {Name} ({Bytes} bytes)")]
    private static partial void LogCreated(ILogger logger, string name, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted old backup {Name} (keeping the newest {Keep})")]
    private static partial void LogPruned(ILogger logger, string name, int keep);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete old backup {Name}; trying again after the next backup")]
    private static partial void LogPruneFailed(ILogger logger, string name, Exception exception);
}
