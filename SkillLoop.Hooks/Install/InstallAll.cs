using SkillLoop.Hooks.Cli;

namespace SkillLoop.Hooks.Install;

/// <summary>
/// <c>install --all</c> (every agent found under the home directory) and <c>install --agents claude,copilot</c>:
/// what the one-line installer runs after putting the binary on the PATH. Each agent is installed exactly as
/// <c>install &lt;platform&gt;</c> would, with the same options; the first failure stops with its exit code.
/// </summary>
public static class InstallAll
{
    /// <summary>Options passed on to each <c>install &lt;platform&gt;</c>.</summary>
    private static readonly string[] PassedOn = ["url", "token", "scope", "dir", "offline", "notify"];

    public static async Task<int> RunAsync(Arguments args, TextWriter stdout, TextWriter stderr, ClientEnvironment env)
    {
        List<string> platforms;
        if (args.Option("agents") is { } named && named != "true")
        {
            platforms = named.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(p => p.ToLowerInvariant()).Distinct().ToList();
            var unknown = platforms.Where(p => Installers.For(p) is null).ToList();
            if (platforms.Count == 0 || unknown.Count > 0)
            {
                stderr.WriteLine($"skillloop-client: --agents takes a comma-separated list of {string.Join(", ", Installers.All.Select(i => i.Platform))}"
                    + (unknown.Count > 0 ? $"; unknown: {string.Join(", ", unknown)}" : ""));
                return 64;
            }
        }
        else if (args.Option("agents") == "true")
        {
            stderr.WriteLine("skillloop-client: --agents needs a list, e.g. --agents claude,copilot");
            return 64;
        }
        else
        {
            platforms = AgentDetection.Found(env).ToList();
            if (platforms.Count == 0)
            {
                stdout.WriteLine($"no agent found under {env.Home} (looked for {string.Join(", ", AgentDetection.Markers(env).Select(m => m.Path))}).");
                stdout.WriteLine("Install one, then run: skillloop-client install --all (or name them: --agents claude,copilot).");
                // Still remember the server, so a later install needs no token.
                return SaveServer(args, stdout, stderr, env);
            }

            stdout.WriteLine($"found: {string.Join(", ", platforms)}");
        }

        foreach (var platform in platforms)
        {
            var argv = new List<string> { "install", platform };
            foreach (var name in PassedOn)
            {
                if (args.Option(name) is { } value)
                    argv.Add($"--{name}={value}");
            }
            var code = await InstallCommand.RunAsync(new Arguments(argv), stdout, stderr, env);
            if (code != 0)
                return code;
        }
        return 0;
    }

    private static int SaveServer(Arguments args, TextWriter stdout, TextWriter stderr, ClientEnvironment env)
    {
        var url = args.Option("url");
        var token = args.Option("token");
        if (url is null || token is null)
            return Hook.ClientConfigFile.Load(env.Home) is null ? 1 : 0;
        if (!Uri.TryCreate(url, UriKind.Absolute, out _))
        {
            stderr.WriteLine($"skillloop-client: --url is not an absolute URL: {url}");
            return 64;
        }
        new Hook.ClientConfigFile(url, token).Save(env.Home);
        stdout.WriteLine($"saved the server {url} in {Hook.ClientConfigFile.PathIn(env.Home)}");
        return 0;
    }
}

/// <summary>Which agents are on this machine: each one's home folder under the user's home (or its override).</summary>
public static class AgentDetection
{
    public sealed record Marker(string Platform, string Path);

    public static IEnumerable<Marker> Markers(ClientEnvironment env)
    {
        var home = env.Home;
        var agents = AgentHomes.Of(env); // CLAUDE_CONFIG_DIR, COPILOT_HOME and CODEX_HOME, as install and the readers see them
        yield return new("claude", agents.Claude);
        yield return new("copilot", agents.Copilot);
        // VS Code's user folder on Linux, macOS and Windows, and its extensions folder.
        yield return new("vscode", Path.Combine(home, ".vscode"));
        yield return new("vscode", Path.Combine(home, ".config", "Code"));
        yield return new("vscode", Path.Combine(home, "Library", "Application Support", "Code"));
        yield return new("vscode", Path.Combine(home, "AppData", "Roaming", "Code"));
        yield return new("cursor", Path.Combine(home, ".cursor"));
        yield return new("codex", agents.Codex);
        yield return new("cline", Path.Combine(home, ".cline"));
        yield return new("cline", Path.Combine(home, "Documents", "Cline"));
    }

    /// <summary>The agents whose folder exists, in the installers' order, each once.</summary>
    public static IEnumerable<string> Found(ClientEnvironment env)
    {
        var found = Markers(env).Where(m => Directory.Exists(m.Path)).Select(m => m.Platform).ToHashSet();
        return Installers.All.Select(i => i.Platform).Where(found.Contains);
    }
}
