namespace SkillLoop.Core.Data;

/// <summary>
/// The data directory holds the database (hashed credentials, protected registry tokens, users' corrections) and the
/// data protection keys: on Unix it is 0700 and the database, its WAL and shared-memory files and backups are 0600,
/// whatever the process's umask. (Windows: the directory's inherited ACL applies.)
/// </summary>
public static class PrivateFiles
{
    public const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates the directory as 0700, or narrows an existing one to 0700.</summary>
    public static void EnsureDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        if (!Directory.Exists(path))
        {
            Directory.CreateDirectory(path, OwnerOnlyDirectory);
        }

        Narrow(path, OwnerOnlyDirectory);
    }

    /// <summary>
    /// Creates an empty file as 0600 when there is none (SQLite takes an empty file for a new database, and gives its WAL
    /// and shared-memory files the database file's mode), and narrows existing ones to 0600.
    /// </summary>
    public static void EnsureFile(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        if (!File.Exists(path))
        {
            using var _ = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = OwnerOnlyFile,
            });
            return;
        }

        Narrow(path, OwnerOnlyFile);
    }

    /// <summary>Narrows the file to 0600 if it exists.</summary>
    public static void Restrict(string path)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(path))
        {
            Narrow(path, OwnerOnlyFile);
        }
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void Narrow(string path, UnixFileMode mode)
    {
        if ((File.GetUnixFileMode(path) & ~mode) != 0)
        {
            File.SetUnixFileMode(path, mode);
        }
    }
}
