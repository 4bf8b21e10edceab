using System.Text.Json;
using SkillLoop.Hooks.Cli;

namespace SkillLoop.Hooks.Hook;

/// <summary>
/// Where the hook finds its server: <c>$HOME/.skillloop/client.json</c>, written by <c>install</c> with mode 0600
/// because it holds the ingest token. Keeping the token out of the agents' settings files means those files can be
/// shared or committed (project scope) without leaking it.
/// </summary>
public sealed record ClientConfigFile(string Url, string Token)
{
    public static string PathIn(string home) => Path.Combine(home, ".skillloop", "client.json");

    public static ClientConfigFile? Load(string home)
    {
        try
        {
            var path = PathIn(home);
            if (!File.Exists(path))
                return null;
            return JsonSerializer.Deserialize(File.ReadAllText(path), ClientJsonContext.Default.ClientConfigFile);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Save(string home)
    {
        var path = PathIn(home);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var json = JsonSerializer.Serialize(this, ClientJsonContext.Indented.ClientConfigFile) + "\n";
        var temp = path + ".tmp";
        if (OperatingSystem.IsWindows())
        {
            File.WriteAllText(temp, json);
        }
        else
        {
            // Create with 0600 from the start: the token is never readable by others, not even briefly.
            using var stream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            using var writer = new StreamWriter(stream);
            writer.Write(json);
        }
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temp, path, overwrite: true);
    }
}
