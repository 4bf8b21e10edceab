using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Hook;

namespace SkillLoop.Hooks.Install;

/// <summary><c>install</c>, <c>uninstall</c> and <c>status</c>.</summary>
public static class InstallCommand
{
    public static int Run(Arguments args, TextWriter stdout, TextWriter stderr, ClientEnvironment env)
    {
        var verb = args.At(0)!;
        try
        {
            if (verb == "status")
                return Status(args, stdout, env);
            if (verb == "install" && (args.Flag("all") || args.Option("agents") is not null))
                return InstallAll.Run(args, stdout, stderr, env);

            var platform = args.At(1);
            var installer = platform is null ? null : Installers.For(platform, args.Flag("notify"));
            if (installer is null)
            {
                stderr.WriteLine($"skillloop-client: {verb} needs a platform: {string.Join(", ", Installers.All.Select(i => i.Platform))}");
                return 64;
            }
            if (!TryContext(args, env, out var context, stderr))
                return 64;

            var record = new InstalledHook(installer.Platform, context.Scope.ToString().ToLowerInvariant(),
                installer.TargetPath(context), context.Scope == InstallScope.Project ? context.ProjectDirectory : null);
            if (verb == "uninstall")
            {
                var removed = installer.Uninstall(context);
                if (!installer.IsInstalled(context))
                    InstallRegistry.Remove(env.Home, record);
                stdout.WriteLine(removed == ChangeResult.Changed
                    ? $"removed the SkillLoop hook from {installer.TargetPath(context)}"
                    : $"no SkillLoop hook in {installer.TargetPath(context)}");
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
            if (url is not null && !Uri.TryCreate(url, UriKind.Absolute, out _))
            {
                stderr.WriteLine($"skillloop-client: --url is not an absolute URL: {url}");
                return 64;
            }

            // The agent's file first: if it cannot be read, nothing at all is written.
            var result = installer.Install(context);
            var config = new ClientConfigFile(url ?? stored!.Url, token ?? stored!.Token);
            if (config != stored)
                config.Save(env.Home);
            InstallRegistry.Add(env.Home, record);
            stdout.WriteLine(result == ChangeResult.Changed
                ? $"installed the SkillLoop hook in {installer.TargetPath(context)}"
                : $"the SkillLoop hook was already installed in {installer.TargetPath(context)}");
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
        context = new InstallContext(env.Home, project, scope, env.ExecutablePath);
        return true;
    }

    private static int Status(Arguments args, TextWriter stdout, ClientEnvironment env)
    {
        var project = Path.GetFullPath(args.Option("dir") ?? env.CurrentDirectory, env.CurrentDirectory);
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
            var context = new InstallContext(env.Home, dir, scope, env.ExecutablePath);
            var line = $"{installer.Platform}\t{scope.ToString().ToLowerInvariant()}\t{installer.TargetPath(context)}";
            if (!shown.Contains(line) && installer.IsInstalled(context))
            {
                shown.Add(line);
                stdout.WriteLine(line);
            }
        }
        if (shown.Count == 0)
            stdout.WriteLine("no SkillLoop hooks installed");
        ClientStatus.Write(stdout, env, stored);
        return 0;
    }
}
