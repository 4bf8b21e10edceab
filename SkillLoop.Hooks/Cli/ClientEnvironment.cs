namespace SkillLoop.Hooks.Cli;

/// <summary>
/// Everything the client takes from its surroundings, so tests can run it in-process against a temporary home
/// without touching the real one or the process-wide environment.
/// </summary>
public sealed record ClientEnvironment(
    string Home,
    string CurrentDirectory,
    string ExecutablePath,
    IReadOnlyDictionary<string, string> Variables)
{
    public const string ExecutableName = "skillloop-client";

    public string? Variable(string name) => Variables.TryGetValue(name, out var value) ? value : null;

    public static ClientEnvironment FromProcess()
    {
        var variables = new Dictionary<string, string>(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
            if (entry.Key is string key && entry.Value is string value)
                variables[key] = value;
        var home = (OperatingSystem.IsWindows() ? variables.GetValueOrDefault("USERPROFILE") : null)
            ?? variables.GetValueOrDefault("HOME")
            ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return new ClientEnvironment(home, Environment.CurrentDirectory, ResolveExecutablePath(), variables);
    }

    /// <summary>The native executable (AOT) or, when run as <c>dotnet skillloop-client.dll</c>, its apphost beside it.</summary>
    private static string ResolveExecutablePath()
    {
        var process = Environment.ProcessPath ?? ExecutableName;
        var name = Path.GetFileNameWithoutExtension(process);
        if (!string.Equals(name, "dotnet", StringComparison.OrdinalIgnoreCase))
            return process;
        var apphost = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? ExecutableName + ".exe" : ExecutableName);
        return File.Exists(apphost) ? apphost : process;
    }
}
