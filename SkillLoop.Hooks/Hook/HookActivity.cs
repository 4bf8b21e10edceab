using System.Globalization;
using System.Text.Json;
using SkillLoop.Hooks.Cli;

namespace SkillLoop.Hooks.Hook;

/// <summary>
/// <c>~/.skillloop/hooks-fired.json</c>: when each agent's hook last ran (<c>{"codex":"2026-12-01T12:00:00Z"}</c>),
/// so <c>status</c> can tell a hook that is installed from one the agent really runs. Times only, never session data.
/// </summary>
public static class HookActivity
{
    public static string PathIn(string home) => Path.Combine(home, ".skillloop", "hooks-fired.json");

    public static void Record(string home, string platform, DateTimeOffset when)
    {
        try
        {
            var all = Load(home);
            all[platform] = when.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            var path = PathIn(home);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            Install.JsonConfigFile.WriteAtomically(path, JsonSerializer.SerializeToUtf8Bytes(all, ClientJsonContext.Default.DictionaryStringString));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only a status hint: never worth failing the hook for.
        }
    }

    public static DateTimeOffset? LastFired(string home, string platform) =>
        Load(home).TryGetValue(platform, out var text)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when)
            ? when
            : null;

    private static Dictionary<string, string> Load(string home)
    {
        try
        {
            var path = PathIn(home);
            return File.Exists(path)
                ? JsonSerializer.Deserialize(File.ReadAllText(path), ClientJsonContext.Default.DictionaryStringString) ?? []
                : [];
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
