using SkillLoop.Hooks.Hook;
using SkillLoop.Hooks.Install;

namespace SkillLoop.Hooks.Cli;

/// <summary>The command line of <c>skillloop-client</c>.</summary>
public static class ClientApp
{
    public const string Usage = """
        usage:
          skillloop-client install <platform> --url <server> --token <ingest token> [--scope user|project] [--dir DIR] [--offline]
          skillloop-client install codex --notify ...   (Codex: the notify program in config.toml instead of a hook)
          skillloop-client install --all | --agents claude,copilot,... --url <server> --token <ingest token> [--offline]
          skillloop-client uninstall <platform> [--scope user|project] [--dir DIR]
          skillloop-client status [--dir DIR] [--offline]
          skillloop-client hook <platform>
          skillloop-client detect <transcript> [--platform auto|claude|copilot|vscode|codex|cursor|cline] [--json] [--regex]
        platforms: claude, copilot, vscode, codex, cursor, cline
        """;

    public static async Task<int> RunAsync(string[] argv, TextReader stdin, TextWriter stdout, TextWriter stderr, ClientEnvironment env)
    {
        // "--version" alone parses as an option, not a command: answer it before the command switch.
        if (argv is ["--version"] or ["version"])
        {
            stdout.WriteLine(SignalWorker.Version);
            return 0;
        }
        var args = new Arguments(argv);
        switch (args.At(0))
        {
            case "hook":
                return HookCommand.Run(args, stdin, env);
            case HookCommand.WorkerSubcommand:
                return await WorkerCommand.RunAsync(args, stdin, env);
            case "detect":
                return DetectCommand.Run(args, stdout, stderr, env);
            case "install":
            case "uninstall":
            case "status":
                return await InstallCommand.RunAsync(args, stdout, stderr, env);
            default:
                stderr.WriteLine(Usage);
                return args.At(0) is null or "help" or "--help" ? 0 : 64;
        }
    }
}
