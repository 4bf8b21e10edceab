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

    /// <summary>The file's root object, or an empty one when the file does not exist or is empty.</summary>
    /// <exception cref="ConfigParseException">The file exists but is not a JSON object.</exception>
    public static JsonObject Load(string path)
    {
        if (!File.Exists(path))
            return [];
        var text = File.ReadAllText(path);
        if (string.IsNullOrWhiteSpace(text))
            return [];
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            throw new ConfigParseException(path, e.Message);
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
        var backup = path + BackupSuffix;
        if (File.Exists(path) && !File.Exists(backup))
            File.Copy(path, backup);
    }

    /// <summary>Write beside, then rename: a crash never leaves a half-written settings file.</summary>
    public static void WriteAtomically(string path, byte[] content)
    {
        var temp = path + ".skillloop-tmp";
        File.WriteAllBytes(temp, content);
        if (!OperatingSystem.IsWindows() && File.Exists(path))
            File.SetUnixFileMode(temp, File.GetUnixFileMode(path));
        File.Move(temp, path, overwrite: true);
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
