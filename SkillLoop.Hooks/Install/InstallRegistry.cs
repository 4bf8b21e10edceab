using System.Text.Json;
using SkillLoop.Hooks.Cli;

namespace SkillLoop.Hooks.Install;

/// <summary>One hook install: enough to find it again from any directory.</summary>
public sealed record InstalledHook(string Platform, string Scope, string Path, string? ProjectDirectory);

/// <summary>
/// <c>~/.skillloop/installs.json</c>: every place install wrote a hook. <c>status</c> lists project installs made from
/// other directories, and when the last hook is uninstalled the client config (server URL and token) goes too, so
/// uninstall leaves nothing of SkillLoop behind.
/// </summary>
public static class InstallRegistry
{
    public static string PathIn(string home) => System.IO.Path.Combine(home, ".skillloop", "installs.json");

    public static List<InstalledHook> Load(string home)
    {
        try
        {
            var path = PathIn(home);
            return File.Exists(path)
                ? JsonSerializer.Deserialize(File.ReadAllText(path), ClientJsonContext.Default.ListInstalledHook) ?? []
                : [];
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return [];
        }
    }

    public static void Add(string home, InstalledHook hook)
    {
        var all = Load(home);
        if (all.Contains(hook))
            return;
        all.Add(hook);
        Save(home, all);
    }

    /// <summary>Forgets an install; after the last one, removes the client config and the registry itself.</summary>
    public static void Remove(string home, InstalledHook hook)
    {
        var all = Load(home);
        all.RemoveAll(h => h.Platform == hook.Platform && h.Path == hook.Path);
        if (all.Count > 0)
        {
            Save(home, all);
            return;
        }
        foreach (var file in new[] { PathIn(home), Hook.ClientConfigFile.PathIn(home) })
            if (File.Exists(file))
                File.Delete(file);
        var dir = System.IO.Path.GetDirectoryName(PathIn(home))!;
        if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
            Directory.Delete(dir);
    }

    private static void Save(string home, List<InstalledHook> all)
    {
        var path = PathIn(home);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        JsonConfigFile.WriteAtomically(path, JsonSerializer.SerializeToUtf8Bytes(all, ClientJsonContext.Indented.ListInstalledHook));
    }
}
