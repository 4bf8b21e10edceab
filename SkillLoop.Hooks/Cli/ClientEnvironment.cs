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

/// <summary>
/// Where each agent keeps its settings and sessions: <c>CLAUDE_CONFIG_DIR</c>, <c>CODEX_HOME</c> and
/// <c>COPILOT_HOME</c> when set, else the agent's folder in the home directory. Install, uninstall, status and the
/// hook all take them from here, so an agent run with its home elsewhere is configured and read where it looks.
/// </summary>
public sealed record AgentHomes(string Home, string Claude, string Codex, string Copilot)
{
    public static AgentHomes Default(string home) =>
        new(home, Path.Combine(home, ".claude"), Path.Combine(home, ".codex"), Path.Combine(home, ".copilot"));

    public static AgentHomes Of(ClientEnvironment env)
    {
        var defaults = Default(env.Home);
        return new AgentHomes(
            env.Home,
            Override(env, "CLAUDE_CONFIG_DIR") ?? defaults.Claude,
            Override(env, "CODEX_HOME") ?? defaults.Codex,
            Override(env, "COPILOT_HOME") ?? defaults.Copilot);
    }

    private static string? Override(ClientEnvironment env, string name) =>
        env.Variable(name) is { Length: > 0 } value ? Path.GetFullPath(ExpandTilde(value, env.Home), env.CurrentDirectory) : null;

    private static string ExpandTilde(string value, string home) =>
        value == "~" ? home : value.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(home, value[2..]) : value;

    /// <summary>True when <paramref name="path"/> lies inside <paramref name="dir"/>.</summary>
    public static bool Under(string path, string dir)
    {
        var full = dir.TrimEnd('/', '\\') + "/";
        return path.Replace('\\', '/').StartsWith(full.Replace('\\', '/'), OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
    }
}
