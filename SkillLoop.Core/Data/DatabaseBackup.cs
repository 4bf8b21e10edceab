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
/// time, and a file shows up under its name only once it is complete.
/// </summary>
public sealed partial class DatabaseBackup(SqliteDb db, IOptions<SkillLoopOptions> options, TimeProvider time, ILogger<DatabaseBackup> logger)
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
            Directory.CreateDirectory(Folder);
            var now = time.GetUtcNow().ToUniversalTime();
            var createdAt = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond)); // to the second, as in the name
            var name = FreeName(createdAt);
            var path = Path.Combine(Folder, name);
            partial = path + ".partial";
            File.Delete(partial);
            await using (var connection = await db.OpenAsync(cancellationToken))
            {
                await connection.ExecuteAsync(new CommandDefinition("VACUUM INTO @partial", new { partial }, cancellationToken: cancellationToken));
            }

            File.Move(partial, path);
            partial = null;
            var backup = new BackupFile(name, new FileInfo(path).Length, createdAt);
            LogCreated(logger, backup.Name, backup.Bytes);
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
}
