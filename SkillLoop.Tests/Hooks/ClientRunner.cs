using SkillLoop.Hooks.Cli;

namespace SkillLoop.Tests.Hooks;

/// <summary>Runs the client in-process against a temporary home and project directory.</summary>
internal sealed class ClientRunner(TempDir dir)
{
    public const string Executable = "/opt/skillloop/bin/skillloop-client";

    public string Home { get; } = Directory.CreateDirectory(Path.Combine(dir.Root, "home")).FullName;
    public string Project { get; } = Directory.CreateDirectory(Path.Combine(dir.Root, "project")).FullName;

    public async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var env = new ClientEnvironment(Home, Project, ExecutablePath, new Dictionary<string, string>(Variables) { ["HOME"] = Home });
        var code = await ClientApp.RunAsync(args, TextReader.Null, stdout, stderr, env);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Where the client says it is installed (hook commands point there).</summary>
    public string ExecutablePath { get; set; } = Executable;

    /// <summary>More environment variables (agent homes and the like).</summary>
    public Dictionary<string, string> Variables { get; } = [];

    /// <summary>Install without a server to check (<c>--offline</c>); tests of the check give a server.</summary>
    public Task<(int Code, string Out, string Err)> InstallAsync(string platform, params string[] more) =>
        RunAsync(["install", platform, "--url", "http://127.0.0.1:5000", "--token", "tok-123", "--offline", .. more]);
}
