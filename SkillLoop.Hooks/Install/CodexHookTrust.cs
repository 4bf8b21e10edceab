using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SkillLoop.Hooks.Install;

public enum CodexTrust { Trusted, Untrusted, Modified }

/// <summary>
/// Codex (0.150 and later) runs a hook from a hooks.json only once the user trusted it: <c>codex</c> asks in its
/// <c>/hooks</c> screen, and records the answer in the user's <c>$CODEX_HOME/config.toml</c> as
/// <c>[hooks.state."&lt;hooks.json path&gt;:&lt;event&gt;:&lt;group&gt;:&lt;handler&gt;"]</c> with
/// <c>trusted_hash = "sha256:…"</c>, the SHA-256 of the handler's normalized definition (codex-rs
/// <c>hooks/src/engine/discovery.rs</c>, <c>command_hook_hash</c>: the TOML value
/// <c>{event_name, matcher?, hooks:[{type, command, timeout, async, statusMessage?}]}</c> as JSON with sorted keys,
/// compact). An untrusted hook is listed but silently skipped by <c>codex exec</c>. Install records the same trust for
/// the one handler it wrote, exactly as Codex would; uninstall removes it again.
/// </summary>
public static class CodexHookTrust
{
    /// <summary>Codex's key of a handler: <c>&lt;source path&gt;:&lt;event label&gt;:&lt;group index&gt;:&lt;handler index&gt;</c>.</summary>
    public static string Key(string hooksJsonPath, string eventLabel, int group, int handler) =>
        $"{hooksJsonPath}:{eventLabel}:{group}:{handler}";

    /// <summary>Codex's <c>current_hash</c> of a command handler without matcher and status message.</summary>
    public static string Hash(string eventLabel, string command, int timeoutSeconds, bool isAsync = false)
    {
        // serde_json's compact form of the canonical (key-sorted) value.
        var json = new StringBuilder()
            .Append("{\"event_name\":").Append(JsonString(eventLabel))
            .Append(",\"hooks\":[{\"async\":").Append(isAsync ? "true" : "false")
            .Append(",\"command\":").Append(JsonString(command))
            .Append(",\"timeout\":").Append(Math.Max(1, timeoutSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Append(",\"type\":\"command\"}]}")
            .ToString();
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)));
    }

    /// <summary>serde_json's string escaping: quote, backslash and control characters only.</summary>
    internal static string JsonString(string value)
    {
        var text = new StringBuilder("\"");
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                default:
                    if (c < 0x20)
                        text.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    else
                        text.Append(c);
                    break;
            }
        }
        return text.Append('"').ToString();
    }

    /// <summary>Where our handler sits in a hooks.json and its hash; null when it is not there.</summary>
    public static (string Key, string Hash)? Locate(string hooksJsonPath, string eventName)
    {
        if (!File.Exists(hooksJsonPath))
            return null;
        JsonObject root;
        try
        {
            root = JsonConfigFile.Load(hooksJsonPath);
        }
        catch (ConfigParseException)
        {
            return null;
        }
        if (root["hooks"] is not JsonObject hooks || hooks[eventName] is not JsonArray groups)
            return null;
        var label = EventLabel(eventName);
        for (var g = 0; g < groups.Count; g++)
        {
            if (groups[g] is not JsonObject group || group["hooks"] is not JsonArray handlers)
                continue;
            for (var h = 0; h < handlers.Count; h++)
            {
                var command = JsonConfigFile.StringOf(handlers[h], "command");
                if (!HookCommandLine.IsOurs(command))
                    continue;
                var timeout = handlers[h]!["timeout"] is JsonValue t && t.TryGetValue<int>(out var seconds) ? seconds : 600;
                var isAsync = handlers[h]!["async"] is JsonValue a && a.TryGetValue<bool>(out var asyncValue) && asyncValue;
                return (Key(Path.GetFullPath(hooksJsonPath), label, g, h), Hash(label, command!, timeout, isAsync));
            }
        }
        return null;
    }

    /// <summary>Codex's snake_case label of a hook event (<c>Stop</c> → <c>stop</c>).</summary>
    public static string EventLabel(string eventName) =>
        Regex.Replace(eventName, "(?<=[a-z0-9])([A-Z])", "_$1").ToLowerInvariant();

    public static CodexTrust Status(string configToml, string key, string hash) =>
        ReadTrustedHash(configToml, key) switch
        {
            null => CodexTrust.Untrusted,
            var trusted when trusted == hash => CodexTrust.Trusted,
            _ => CodexTrust.Modified,
        };

    /// <summary>
    /// Whether trust can be written into this config.toml by adding a table: not when <c>hooks.state</c> (or
    /// <c>hooks</c> itself) is written inline or as dotted keys, which a new <c>[hooks.state."…"]</c> table would clash
    /// with. Null when it can; else the reason.
    /// </summary>
    public static string? CannotRecord(string configToml)
    {
        if (!File.Exists(configToml))
            return null;
        if (!TomlText.TryRead(configToml, out var lines, out var reason))
            return reason;
        string? table = null;
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.StartsWith('['))
            {
                table = line;
                continue;
            }
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            if (table is null && Regex.IsMatch(line, @"^(hooks|""hooks"")\s*[.=]"))
                return "config.toml sets hooks inline";
            if (table is "[hooks]" && Regex.IsMatch(line, @"^(state|""state"")\s*[.=]"))
                return "config.toml sets hooks.state inline";
        }
        return null;
    }

    public static string? ReadTrustedHash(string configToml, string key)
    {
        if (!File.Exists(configToml) || !TomlText.TryRead(configToml, out var lines, out _))
            return null;
        var (start, end) = Section(lines, key);
        if (start < 0)
            return null;
        for (var i = start + 1; i < end; i++)
        {
            var match = Regex.Match(lines[i], @"^\s*trusted_hash\s*=\s*""([^""\\]*)""");
            if (match.Success)
                return match.Groups[1].Value;
        }
        return null;
    }

    /// <summary>Records (or with null removes) the trust of one handler, leaving every other line as it was.</summary>
    public static bool Write(string configToml, string key, string? hash)
    {
        List<string> lines;
        if (File.Exists(configToml))
        {
            if (!TomlText.TryRead(configToml, out var read, out var reason))
                throw new ConfigParseException(configToml, reason!);
            lines = [.. read];
        }
        else
        {
            if (hash is null)
                return false;
            lines = [];
        }
        var (start, end) = Section(lines, key);
        if (hash is null)
        {
            if (start < 0)
                return false;
            // Drop the table and the blank line before it that install added.
            if (start > 0 && lines[start - 1].Trim().Length == 0)
                start--;
            lines.RemoveRange(start, end - start);
        }
        else if (start >= 0)
        {
            var replaced = false;
            for (var i = start + 1; i < end; i++)
            {
                if (!Regex.IsMatch(lines[i], @"^\s*trusted_hash\s*="))
                    continue;
                if (lines[i] == $"trusted_hash = \"{hash}\"")
                    return false;
                lines[i] = $"trusted_hash = \"{hash}\"";
                replaced = true;
                break;
            }
            if (!replaced)
                lines.Insert(start + 1, $"trusted_hash = \"{hash}\"");
        }
        else
        {
            while (lines.Count > 0 && lines[^1].Trim().Length == 0)
                lines.RemoveAt(lines.Count - 1);
            if (lines.Count > 0)
                lines.Add("");
            lines.Add(Header(key));
            lines.Add($"trusted_hash = \"{hash}\"");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(configToml)!);
        JsonConfigFile.BackupOnce(configToml);
        JsonConfigFile.WriteAtomically(configToml, Encoding.UTF8.GetBytes(lines.Count == 0 ? "" : string.Join("\n", lines) + "\n"));
        return true;
    }

    internal static string Header(string key) =>
        "[hooks.state.\"" + key.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"]";

    /// <summary>The lines [start, end) of the <c>[hooks.state."key"]</c> table; start is -1 when absent.</summary>
    private static (int Start, int End) Section(IReadOnlyList<string> lines, string key)
    {
        var header = Header(key);
        for (var i = 0; i < lines.Count; i++)
        {
            if (!string.Equals(Regex.Replace(lines[i].Trim(), @"^\[\s*hooks\s*\.\s*state\s*\.\s*", "[hooks.state."), header, StringComparison.Ordinal))
                continue;
            var end = i + 1;
            while (end < lines.Count && !lines[end].TrimStart().StartsWith('['))
                end++;
            return (i, end);
        }
        return (-1, -1);
    }
}

/// <summary>Reads a TOML file's lines as strict UTF-8: a file that is not is refused, never rewritten.</summary>
internal static class TomlText
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static bool TryRead(string path, out string[] lines, out string? reason)
    {
        try
        {
            var text = Strict.GetString(File.ReadAllBytes(path));
            lines = text.Length == 0 ? [] : text.TrimEnd('\n').Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
            reason = null;
            return true;
        }
        catch (DecoderFallbackException)
        {
            lines = [];
            reason = "the file is not valid UTF-8";
            return false;
        }
    }
}
