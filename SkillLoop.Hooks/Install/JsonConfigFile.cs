using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SkillLoop.Hooks.Install;

/// <summary>A settings file the client will not overwrite because it cannot read it.</summary>
public sealed class ConfigParseException(string path, string reason)
    : Exception($"cannot parse {path}: {reason}; the file was left unchanged")
{
    public string Path { get; } = path;
}

/// <summary>
/// Reads and writes an agent's JSON settings file without losing anything it does not understand: every other
/// property round-trips through <see cref="JsonNode"/>. The first change makes a <c>.skillloop-backup</c> copy.
/// </summary>
public static class JsonConfigFile
{
    public const string BackupSuffix = ".skillloop-backup";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The file's root object, or an empty one when the file does not exist or is empty.</summary>
    /// <exception cref="ConfigParseException">
    /// The file exists but is not a JSON object, holds a property twice (which one would the agent use?) or is not
    /// valid UTF-8 (rewriting it would replace those bytes): such a file is refused and never rewritten.
    /// </exception>
    public static JsonObject Load(string path)
    {
        if (!File.Exists(path))
            return [];
        var bytes = File.ReadAllBytes(path);
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new ConfigParseException(path, "the file is not valid UTF-8");
        }
        if (text.Length > 0 && text[0] == '\uFEFF')
            text = text[1..];
        if (string.IsNullOrWhiteSpace(text))
            return [];
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false, AllowDuplicateProperties = false });
            // JsonObject builds its dictionary lazily: touch it now, so a duplicate can never surface later as a crash.
            if (node is JsonObject o)
                _ = o.Count;
        }
        catch (JsonException e)
        {
            throw new ConfigParseException(path, e.Message.Contains("uplicate", StringComparison.Ordinal)
                ? $"a property appears twice ({e.Message})"
                : e.Message);
        }
        catch (ArgumentException e)
        {
            throw new ConfigParseException(path, $"a property appears twice ({e.Message})");
        }
        return node as JsonObject ?? throw new ConfigParseException(path, "the top level is not a JSON object");
    }

    public static void Save(string path, JsonObject root)
    {
        var dir = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir))
            Directory.CreateDirectory(dir);
        BackupOnce(path);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            root.WriteTo(writer);
        buffer.WriteByte((byte)'\n');
        WriteAtomically(path, buffer.ToArray());
    }

    /// <summary>
    /// Saves after an uninstall, or deletes the file when SkillLoop created it (no backup was ever needed) and
    /// nothing but <paramref name="ignorable"/> properties is left in it.
    /// </summary>
    public static void SaveAfterRemoval(string path, JsonObject root, params string[] ignorable)
    {
        var createdByUs = !File.Exists(path + BackupSuffix);
        if (createdByUs && root.All(p => ignorable.Contains(p.Key)))
        {
            File.Delete(path);
            return;
        }
        Save(path, root);
    }

    /// <summary>Copies the file before SkillLoop first changes it; later changes keep that original copy.</summary>
    public static void BackupOnce(string path)
    {
        path = ResolveTarget(path);
        var backup = path + BackupSuffix;
        if (File.Exists(path) && !File.Exists(backup))
            File.Copy(path, backup);
    }

    /// <summary>
    /// The file a path really names: a symlinked settings file (dotfiles kept in a repository) is edited at its
    /// target, so the link stays a link.
    /// </summary>
    public static string ResolveTarget(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is null)
                return path;
            return info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
        }
        catch (IOException)
        {
            return path;
        }
    }

    /// <summary>
    /// Write beside, then rename: a crash never leaves a half-written settings file. The temporary file gets a fresh
    /// random name and is created exclusively (O_CREAT|O_EXCL, which never follows a symlink), so nothing planted
    /// beside the file can redirect the write. A read-only file is refused rather than silently replaced.
    /// </summary>
    public static void WriteAtomically(string path, byte[] content)
    {
        path = ResolveTarget(path);
        UnixFileMode? mode = null;
        if (File.Exists(path))
        {
            if (!OperatingSystem.IsWindows())
            {
                mode = File.GetUnixFileMode(path);
                if ((mode & UnixFileMode.UserWrite) == 0)
                    throw new UnauthorizedAccessException($"{path} is read-only; nothing was changed (make it writable, then run the command again)");
            }
            else if (File.GetAttributes(path).HasFlag(FileAttributes.ReadOnly))
            {
                throw new UnauthorizedAccessException($"{path} is read-only; nothing was changed (make it writable, then run the command again)");
            }
        }
        var temp = $"{path}.skillloop-tmp-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8))}";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = mode ?? (UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        try
        {
            using (var stream = new FileStream(temp, options))
                stream.Write(content);
            if (!OperatingSystem.IsWindows() && mode is { } m)
                File.SetUnixFileMode(temp, m); // the umask may have narrowed the create mode
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>The array under <paramref name="name"/>, created when absent; null when it exists but is not an array.</summary>
    public static JsonArray? ArrayProperty(JsonObject parent, string name, string path)
    {
        if (!parent.TryGetPropertyValue(name, out var node) || node is null)
        {
            var created = new JsonArray();
            parent[name] = created;
            return created;
        }
        return node as JsonArray ?? throw new ConfigParseException(path, $"\"{name}\" is not an array");
    }

    public static JsonObject ObjectProperty(JsonObject parent, string name, string path)
    {
        if (!parent.TryGetPropertyValue(name, out var node) || node is null)
        {
            var created = new JsonObject();
            parent[name] = created;
            return created;
        }
        return node as JsonObject ?? throw new ConfigParseException(path, $"\"{name}\" is not an object");
    }

    public static string? StringOf(JsonNode? node, string name) =>
        node is JsonObject o && o.TryGetPropertyValue(name, out var v) && v is JsonValue value
            && value.TryGetValue<string>(out var s)
            ? s
            : null;
}
