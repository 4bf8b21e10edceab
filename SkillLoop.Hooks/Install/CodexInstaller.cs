using System.Text;
using System.Text.Json;
using SkillLoop.Hooks.Cli;

namespace SkillLoop.Hooks.Install;

/// <summary>
/// Codex CLI: a Stop hook in <c>$CODEX_HOME/hooks.json</c> (or <c>&lt;dir&gt;/.codex/hooks.json</c>), trusted in
/// <c>$CODEX_HOME/config.toml</c> the way Codex records trust (<see cref="CodexHookTrust"/>), since Codex skips an
/// untrusted hook without a word. Where hooks are unavailable (<c>--notify</c>, <c>[features] hooks = false</c>, or a
/// config.toml whose hook state cannot take our trust) the <c>notify</c> program in <c>config.toml</c> is used
/// instead; a notify program the user already has is remembered and chained to, never clobbered.
/// </summary>
public sealed class CodexInstaller : IPlatformInstaller
{
    private const string EventName = "Stop";
    private const int TimeoutSeconds = 10;

    public string Platform => "codex";

    /// <summary>Set by <c>install codex --notify</c>.</summary>
    public bool PreferNotify { get; init; }

    public static string HooksJsonPath(InstallContext context) => context.Scope == InstallScope.User
        ? Path.Combine(context.Homes.Codex, "hooks.json")
        : Path.Combine(context.ProjectDirectory, ".codex", "hooks.json");

    /// <summary>The file install writes: hooks.json, or config.toml where the notify program is (to be) used.</summary>
    public string TargetPath(InstallContext context)
    {
        if (context.Scope != InstallScope.User)
            return HooksJsonPath(context);
        if (PreferNotify || HooksDisabled(context.Homes.Codex))
            return ConfigTomlPath(context.Homes.Codex);
        if (!NestedHooks.IsInstalled(HooksJsonPath(context), EventName) && NotifyIsOurs(context.Homes.Codex))
            return ConfigTomlPath(context.Homes.Codex);
        return HooksJsonPath(context);
    }

    /// <param name="codexHome"><c>CODEX_HOME</c>, by default <c>~/.codex</c>.</param>
    public static string ConfigTomlPath(string codexHome) => Path.Combine(codexHome, "config.toml");

    /// <summary>The user's own notify program, kept so ours can hand every notification on to it.</summary>
    public static string PreviousNotifyPath(string home) => Path.Combine(home, ".skillloop", "codex-notify-previous.json");

    public ChangeResult Install(InstallContext context)
    {
        var config = ConfigTomlPath(context.Homes.Codex);
        if (context.Scope == InstallScope.User && (PreferNotify || HooksDisabled(context.Homes.Codex)))
            return InstallNotify(context);
        if (CodexHookTrust.CannotRecord(config) is { } reason)
        {
            if (context.Scope != InstallScope.User)
                throw new ConfigParseException(config, $"{reason}, so the hook's trust cannot be recorded");
            // Codex would skip an untrusted hook: notify always runs.
            NestedHooks.Uninstall(HooksJsonPath(context), EventName);
            return InstallNotify(context);
        }
        var hooks = NestedHooks.Install(HooksJsonPath(context), EventName, HookCommandLine.For(context.ExecutablePath, Platform),
            timeoutSeconds: TimeoutSeconds, withMatcher: false);
        // A notify program left from an earlier install would deliver every turn twice.
        var notify = context.Scope == InstallScope.User ? UninstallNotify(context.Home, context.Homes.Codex) : ChangeResult.Unchanged;
        var trusted = CodexHookTrust.Locate(HooksJsonPath(context), EventName) is { } ours
            && CodexHookTrust.Write(config, ours.Key, ours.Hash);
        return hooks == ChangeResult.Changed || notify == ChangeResult.Changed || trusted ? ChangeResult.Changed : ChangeResult.Unchanged;
    }

    public ChangeResult Uninstall(InstallContext context)
    {
        var config = ConfigTomlPath(context.Homes.Codex);
        var trust = false;
        if (CodexHookTrust.Locate(HooksJsonPath(context), EventName) is { } ours && CodexHookTrust.CannotRecord(config) is null)
            trust = CodexHookTrust.Write(config, ours.Key, null);
        var hooks = NestedHooks.Uninstall(HooksJsonPath(context), EventName);
        var notify = context.Scope == InstallScope.User ? UninstallNotify(context.Home, context.Homes.Codex) : ChangeResult.Unchanged;
        return hooks == ChangeResult.Changed || notify == ChangeResult.Changed || trust ? ChangeResult.Changed : ChangeResult.Unchanged;
    }

    public bool IsInstalled(InstallContext context) =>
        NestedHooks.IsInstalled(HooksJsonPath(context), EventName)
        || (context.Scope == InstallScope.User && NotifyIsOurs(context.Homes.Codex));

    /// <summary>Whether Codex will really run what is installed: trust of the hook, or the notify program.</summary>
    public string Describe(InstallContext context)
    {
        var config = ConfigTomlPath(context.Homes.Codex);
        if (CodexHookTrust.Locate(HooksJsonPath(context), EventName) is { } ours)
        {
            return CodexHookTrust.Status(config, ours.Key, ours.Hash) switch
            {
                CodexTrust.Trusted => $"trusted in {config}",
                CodexTrust.Modified => $"NOT TRUSTED (changed since it was trusted in {config}): Codex skips it; run `skillloop-client install codex` again or trust it in codex /hooks",
                _ => $"NOT TRUSTED in {config}: Codex skips it; run `skillloop-client install codex` again or trust it in codex /hooks",
            };
        }
        return context.Scope == InstallScope.User && NotifyIsOurs(context.Homes.Codex)
            ? $"as the notify program in {config} (runs without trust)"
            : "";
    }

    public static IReadOnlyList<string> OurNotify(string executablePath) => [executablePath, "hook", "codex", "--notify"];

    private static bool NotifyIsOurs(string codexHome)
    {
        try
        {
            return TomlNotify.Read(ConfigTomlPath(codexHome)) is { } notify && IsOurs(notify.Value);
        }
        catch (ConfigParseException)
        {
            return false;
        }
    }

    private static bool IsOurs(IReadOnlyList<string> notify) => notify.Count >= 3
        && notify[0].Contains("skillloop-client", StringComparison.OrdinalIgnoreCase) && notify[1] == "hook";

    private static ChangeResult InstallNotify(InstallContext context)
    {
        var path = ConfigTomlPath(context.Homes.Codex);
        var existing = TomlNotify.Read(path);
        var ours = OurNotify(context.ExecutablePath);
        if (existing is { } current && IsOurs(current.Value))
        {
            if (current.Value.SequenceEqual(ours))
                return ChangeResult.Unchanged;
        }
        else if (existing is { } theirs)
        {
            // Chain: remember the user's program; the hook passes each notification on to it.
            var previous = PreviousNotifyPath(context.Home);
            Directory.CreateDirectory(Path.GetDirectoryName(previous)!);
            JsonConfigFile.WriteAtomically(previous, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(theirs.Value.ToList(), ClientJsonContext.Default.ListString)));
        }
        TomlNotify.Write(path, ours);
        return ChangeResult.Changed;
    }

    private static ChangeResult UninstallNotify(string home, string codexHome)
    {
        var path = ConfigTomlPath(codexHome);
        if (!File.Exists(path) || TomlNotify.Read(path) is not { } current || !IsOurs(current.Value))
            return ChangeResult.Unchanged;
        var previous = LoadPreviousNotify(home);
        TomlNotify.Write(path, previous);
        if (File.Exists(PreviousNotifyPath(home)))
            File.Delete(PreviousNotifyPath(home));
        return ChangeResult.Changed;
    }

    public static IReadOnlyList<string>? LoadPreviousNotify(string home)
    {
        try
        {
            var path = PreviousNotifyPath(home);
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllText(path), ClientJsonContext.Default.ListString) : null;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    /// <summary><c>[features] hooks = false</c> (or the older <c>codex_hooks = false</c>) turns Codex hooks off.</summary>
    private static bool HooksDisabled(string codexHome)
    {
        var path = ConfigTomlPath(codexHome);
        if (!File.Exists(path))
            return false;
        var inFeatures = false;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            if (line.StartsWith('['))
                inFeatures = line.StartsWith("[features]", StringComparison.Ordinal);
            else if (inFeatures && System.Text.RegularExpressions.Regex.IsMatch(line, @"^(codex_)?hooks\s*=\s*false\b"))
                return true;
        }
        return false;
    }
}

/// <summary>
/// Reads and rewrites only the top-level <c>notify = [ … ]</c> key of Codex's config.toml, leaving every other byte
/// as it was. Anything it cannot read with certainty is a parse error: the file is then not touched.
/// </summary>
public static class TomlNotify
{
    public sealed record Found(IReadOnlyList<string> Value, int StartLine, int EndLine);

    public static Found? Read(string path)
    {
        if (!File.Exists(path))
            return null;
        if (!TomlText.TryRead(path, out var lines, out var reason))
            throw new ConfigParseException(path, reason!);
        for (var i = 0; i < lines.Length; i++)
        {
            var trimmed = lines[i].TrimStart();
            if (trimmed.StartsWith('['))
                return null; // tables begin: notify is a top-level key, so it is not there
            if (!System.Text.RegularExpressions.Regex.IsMatch(trimmed, @"^notify\s*="))
                continue;
            var text = new StringBuilder(trimmed[(trimmed.IndexOf('=') + 1)..]);
            var end = i;
            while (!TryParseArray(text.ToString(), out _, out var complete) && !complete && end + 1 < lines.Length)
                text.Append('\n').Append(lines[++end]);
            if (!TryParseArray(text.ToString(), out var values, out _))
                throw new ConfigParseException(path, "the notify setting is not an array of strings");
            return new Found(values, i, end);
        }
        return null;
    }

    /// <summary>Sets (or with null, removes) the top-level notify key.</summary>
    public static void Write(string path, IReadOnlyList<string>? value)
    {
        var existing = Read(path);
        List<string> lines = [];
        if (File.Exists(path))
        {
            if (!TomlText.TryRead(path, out var read, out var reason))
                throw new ConfigParseException(path, reason!);
            lines = [.. read];
        }
        var newLine = value is null ? null : "notify = [" + string.Join(", ", value.Select(Quote)) + "]";
        if (existing is not null)
        {
            lines.RemoveRange(existing.StartLine, existing.EndLine - existing.StartLine + 1);
            if (newLine is not null)
                lines.Insert(existing.StartLine, newLine);
        }
        else if (newLine is not null)
        {
            lines.Insert(0, newLine); // top-level keys must come before the first table
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        JsonConfigFile.BackupOnce(path);
        JsonConfigFile.WriteAtomically(path, Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"));
    }

    private static string Quote(string s) =>
        "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>Parses <c>["a", 'b', …]</c> with an optional trailing comment.</summary>
    internal static bool TryParseArray(string text, out List<string> values, out bool complete)
    {
        values = [];
        complete = false;
        var i = 0;
        void SkipSpace()
        {
            while (i < text.Length)
            {
                if (char.IsWhiteSpace(text[i]))
                    i++;
                else if (text[i] == '#')
                    while (i < text.Length && text[i] != '\n')
                        i++;
                else
                    break;
            }
        }
        SkipSpace();
        if (i >= text.Length || text[i] != '[')
        {
            complete = true; // not an array at all: a definite error
            return false;
        }
        i++;
        while (true)
        {
            SkipSpace();
            if (i >= text.Length)
                return false; // continues on the next line
            if (text[i] == ']')
            {
                i++;
                SkipSpace();
                complete = true;
                return i >= text.Length;
            }
            var quote = text[i];
            if (quote is not ('"' or '\''))
            {
                complete = true;
                return false;
            }
            i++;
            var value = new StringBuilder();
            while (i < text.Length && text[i] != quote)
            {
                if (quote == '"' && text[i] == '\\' && i + 1 < text.Length)
                {
                    var next = text[i + 1];
                    value.Append(next switch { 'n' => '\n', 't' => '\t', _ => next });
                    i += 2;
                    continue;
                }
                value.Append(text[i++]);
            }
            if (i >= text.Length)
            {
                complete = true;
                return false;
            }
            i++;
            values.Add(value.ToString());
            SkipSpace();
            if (i < text.Length && text[i] == ',')
                i++;
        }
    }
}
