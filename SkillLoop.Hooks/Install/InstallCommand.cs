using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Hook;

namespace SkillLoop.Hooks.Install;

/// <summary><c>install</c>, <c>uninstall</c> and <c>status</c>.</summary>
public static class InstallCommand
{
    /// <summary>Exit code of <c>install</c> when the server or the token is wrong.</summary>
    public const int SetupProblem = 2;

    public static async Task<int> RunAsync(Arguments args, TextWriter stdout, TextWriter stderr, ClientEnvironment env)
    {
        var verb = args.At(0)!;
        try
        {
            if (verb == "status")
                return await StatusAsync(args, stdout, stderr, env);
            if (verb == "install" && (args.Flag("all") || args.Option("agents") is not null))
                return await InstallAll.RunAsync(args, stdout, stderr, env);

            var platform = args.At(1);
            var installer = platform is null ? null : Installers.For(platform, args.Flag("notify"));
            if (installer is null)
            {
                stderr.WriteLine($"skillloop-client: {verb} needs a platform: {string.Join(", ", Installers.All.Select(i => i.Platform))}");
                return 64;
            }
            if (!TryContext(args, env, out var context, stderr))
                return 64;

            if (verb == "uninstall")
            {
                var target = installer.TargetPath(context);
                var removed = installer.Uninstall(context);
                if (!installer.IsInstalled(context))
                    InstallRegistry.Remove(env.Home, Record(installer, context, target));
                stdout.WriteLine(removed == ChangeResult.Changed
                    ? $"removed the SkillLoop hook from {target}"
                    : $"no SkillLoop hook in {target}");
                return 0;
            }

            var url = args.Option("url");
            var token = args.Option("token");
            var stored = ClientConfigFile.Load(env.Home);
            if ((url is null || token is null) && stored is null)
            {
                stderr.WriteLine("skillloop-client: install needs --url <server> and --token <ingest token>");
                return 64;
            }
            var config = new ClientConfigFile(url ?? stored!.Url, token ?? stored!.Token);
            if (ServerCheck.UrlProblem(config.Url) is { } urlProblem)
            {
                stderr.WriteLine($"skillloop-client: {urlProblem}");
                return SetupProblem;
            }
            if (ServerCheck.Warning(config.Url) is { } warning)
                stderr.WriteLine($"skillloop-client: {warning}");
            if (!args.Flag("offline") && await ServerCheck.ProblemAsync(config.Url, config.Token, CancellationToken.None) is { } problem)
            {
                stderr.WriteLine($"skillloop-client: {problem}");
                stderr.WriteLine("skillloop-client: nothing was installed (give --offline to install without checking the server)");
                return SetupProblem;
            }

            // The agent's file first: if it cannot be read, nothing at all is written.
            var result = installer.Install(context);
            if (config != stored)
                config.Save(env.Home);
            var path = installer.TargetPath(context);
            InstallRegistry.Add(env.Home, Record(installer, context, path));
            var detail = installer.Describe(context);
            stdout.WriteLine((result == ChangeResult.Changed
                ? $"installed the SkillLoop hook in {path}"
                : $"the SkillLoop hook was already installed in {path}") + (detail.Length > 0 ? $" ({detail})" : ""));
            return 0;
        }
        catch (ConfigParseException e)
        {
            stderr.WriteLine($"skillloop-client: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"skillloop-client: {e.Message}");
            return 1;
        }
    }

    private static InstalledHook Record(IPlatformInstaller installer, InstallContext context, string path) =>
        new(installer.Platform, context.Scope.ToString().ToLowerInvariant(), path,
            context.Scope == InstallScope.Project ? context.ProjectDirectory : null);

    private static bool TryContext(Arguments args, ClientEnvironment env, out InstallContext context, TextWriter stderr)
    {
        var dir = args.Option("dir");
        var scopeText = args.Option("scope") ?? (dir is null ? "user" : "project");
        InstallScope scope;
        switch (scopeText)
        {
            case "user":
                scope = InstallScope.User;
                break;
            case "project":
                scope = InstallScope.Project;
                break;
            default:
                stderr.WriteLine($"skillloop-client: --scope must be user or project, not '{scopeText}'");
                context = null!;
                return false;
        }
        var project = Path.GetFullPath(dir ?? env.CurrentDirectory, env.CurrentDirectory);
        context = new InstallContext(env.Home, project, scope, env.ExecutablePath, AgentHomes.Of(env));
        return true;
    }

    /// <summary>
    /// What is installed, per agent and scope, whether the agent really runs it (Codex: trusted) and when it last did;
    /// then whether the server takes the token. Exit 1 when it does not.
    /// </summary>
    private static async Task<int> StatusAsync(Arguments args, TextWriter stdout, TextWriter stderr, ClientEnvironment env)
    {
        var project = Path.GetFullPath(args.Option("dir") ?? env.CurrentDirectory, env.CurrentDirectory);
        var homes = AgentHomes.Of(env);
        var stored = ClientConfigFile.Load(env.Home);
        stdout.WriteLine(stored is null
            ? $"server: not configured ({ClientConfigFile.PathIn(env.Home)} missing)"
            : $"server: {stored.Url} (from {ClientConfigFile.PathIn(env.Home)})");
        // What the registry remembers (project installs made elsewhere too) and what is in the files here, checked
        // against the files themselves so a hook removed by hand is not reported.
        var candidates = InstallRegistry.Load(env.Home)
            .Select(h => (Platform: h.Platform, Scope: h.Scope == "project" ? InstallScope.Project : InstallScope.User, Dir: h.ProjectDirectory ?? project))
            .Concat(Installers.All.SelectMany(i => new[] { (i.Platform, InstallScope.User, project), (i.Platform, InstallScope.Project, project) }));
        var shown = new HashSet<string>();
        foreach (var (platform, scope, dir) in candidates)
        {
            if (Installers.For(platform) is not { } installer)
                continue;
            var context = new InstallContext(env.Home, dir, scope, env.ExecutablePath, homes);
            var line = $"{installer.Platform}\t{scope.ToString().ToLowerInvariant()}\t{installer.TargetPath(context)}";
            if (shown.Contains(line) || !installer.IsInstalled(context))
                continue;
            shown.Add(line);
            var detail = installer.Describe(context);
            var fired = HookActivity.LastFired(env.Home, installer.Platform) is { } when
                ? $"last fired {when:yyyy-MM-dd HH:mm:ss}Z"
                : "never fired yet";
            stdout.WriteLine($"{line}\tinstalled{(detail.Length > 0 ? ", " + detail : "")}, {fired}");
        }
        if (shown.Count == 0)
            stdout.WriteLine("no SkillLoop hooks installed");

        ClientStatus.Write(stdout, env, stored);

        if (stored is null)
            return shown.Count == 0 ? 0 : Fail(stderr, $"hooks are installed but the server is not configured: run `skillloop-client install <platform> --url <server> --token <ingest token>`");
        if (ServerCheck.UrlProblem(stored.Url) is { } urlProblem)
            return Fail(stderr, urlProblem);
        if (args.Flag("offline"))
            return 0;
        if (await ServerCheck.ProblemAsync(stored.Url, stored.Token, CancellationToken.None) is { } problem)
            return Fail(stderr, problem);
        stdout.WriteLine("server check: the server accepts the token");
        return 0;
    }

    private static int Fail(TextWriter stderr, string reason)
    {
        stderr.WriteLine($"skillloop-client: {reason}");
        return 1;
    }
}
