namespace SkillLoop.Hooks.Install;

public enum InstallScope { User, Project }

/// <summary>Where to install: the home directory for user scope, a project directory for project scope.</summary>
public sealed record InstallContext(string Home, string ProjectDirectory, InstallScope Scope, string ExecutablePath, Cli.AgentHomes? Agents = null)
{
    /// <summary>The agents' own homes (<c>CLAUDE_CONFIG_DIR</c>, <c>CODEX_HOME</c>, <c>COPILOT_HOME</c>, else under Home).</summary>
    public Cli.AgentHomes Homes => Agents ?? Cli.AgentHomes.Default(Home);
}

public enum ChangeResult { Changed, Unchanged }

/// <summary>Adds, removes and finds SkillLoop's hook in one agent's configuration.</summary>
public interface IPlatformInstaller
{
    string Platform { get; }

    /// <summary>The file (or script) install writes for this context.</summary>
    string TargetPath(InstallContext context);

    ChangeResult Install(InstallContext context);

    ChangeResult Uninstall(InstallContext context);

    bool IsInstalled(InstallContext context);

    /// <summary>What else decides whether the agent really runs the hook (e.g. Codex's trust), for <c>status</c>.</summary>
    string Describe(InstallContext context) => "";
}

/// <summary>What SkillLoop's hook looks like in any agent's configuration.</summary>
public static class HookCommandLine
{
    public static string For(string executablePath, string platform) => $"{Quote(executablePath)} hook {platform}";

    /// <summary>Ours whatever path the executable had when it was installed.</summary>
    public static bool IsOurs(string? command) =>
        command is not null
        && command.Contains("skillloop-client", StringComparison.OrdinalIgnoreCase)
        && command.Contains(" hook ", StringComparison.Ordinal);

    /// <summary>
    /// The path as one word for the shell that runs hook commands (<c>sh -c</c>): single quotes, in which nothing is
    /// expanded, so a folder named <c>$(…)</c> or <c>`…`</c> is never executed. Windows shells get double quotes.
    /// </summary>
    public static string Quote(string path) =>
        path.Length > 0 && path.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or ':' or '+'
                || (c == '\\' && OperatingSystem.IsWindows()))
            ? path
            : OperatingSystem.IsWindows()
                ? "\"" + path.Replace("\"", "\\\"") + "\""
                : "'" + path.Replace("'", "'\\''") + "'";
}
