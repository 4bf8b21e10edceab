namespace SkillLoop.Core.Ai;

/// <summary>The GGUF files of the models directory (<c>--models</c>), and the only way a stored name becomes a path.</summary>
public static class ModelFiles
{
    private static readonly EnumerationOptions Search = new()
    {
        RecurseSubdirectories = true,
        MaxRecursionDepth = 4,
        MatchCasing = MatchCasing.CaseInsensitive,
        IgnoreInaccessible = true,
    };

    public static IReadOnlyList<ModelFile> List(string modelsDirectory)
    {
        var root = Path.GetFullPath(modelsDirectory);
        if (!Directory.Exists(root))
        {
            return [];
        }

        return Directory.EnumerateFiles(root, "*.gguf", Search)
            .Select(path => new FileInfo(path))
            .Select(file => new ModelFile(Path.GetRelativePath(root, file.FullName).Replace('\\', '/'), file.Length))
            .OrderBy(file => file.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// The full path of a GGUF file named relative to the models directory. Refused: absolute paths, any <c>..</c>
    /// segment, names that end up outside the directory, other extensions, and files that do not exist.
    /// </summary>
    public static bool TryResolve(string modelsDirectory, string? name, out string path, out string error)
    {
        path = "";
        name = name?.Trim();
        if (string.IsNullOrEmpty(name))
        {
            error = "Choose a GGUF file from the models directory.";
            return false;
        }

        if (name.IndexOfAny(Path.GetInvalidPathChars()) >= 0 || name.Contains(':') || Path.IsPathRooted(name)
            || name.Split('/', '\\').Any(segment => segment is ".." or "."))
        {
            error = "A file name inside the models directory is expected (no absolute path, no '..').";
            return false;
        }

        if (!name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            error = "Only .gguf files can be used.";
            return false;
        }

        var root = Path.GetFullPath(modelsDirectory);
        var full = Path.GetFullPath(Path.Combine(root, name));
        if (!full.StartsWith(Path.TrimEndingDirectorySeparator(root) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            error = "A file name inside the models directory is expected (no absolute path, no '..').";
            return false;
        }

        if (!File.Exists(full))
        {
            error = $"{name} is not in the models directory.";
            return false;
        }

        path = full;
        error = "";
        return true;
    }

    /// <summary>The name relative to the models directory when the path lies inside it, else null.</summary>
    public static string? RelativeName(string modelsDirectory, string path)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelsDirectory)) + Path.DirectorySeparatorChar;
        var full = Path.GetFullPath(path, root);
        return full.StartsWith(root, StringComparison.Ordinal) ? full[root.Length..].Replace('\\', '/') : null;
    }
}
