using System.Diagnostics;
using SkillLoop.Hooks.Cli;

namespace SkillLoop.Hooks.Hook;

/// <summary>
/// <c>skillloop-client hook &lt;platform&gt;</c>: what the agent runs. It must never slow down or confuse the agent, so it
/// only hands the payload to a detached worker process and exits 0 at once, printing nothing, whatever happens.
/// </summary>
public static class HookCommand
{
    /// <summary>The hidden subcommand the hook re-executes itself with.</summary>
    public const string WorkerSubcommand = "__worker";

    public const string InternalVariable = "SKILLLOOP_INTERNAL";

    private const int MaxPayloadChars = 4 << 20;
    private static readonly TimeSpan StdinTimeout = TimeSpan.FromSeconds(2);

    public static int Run(Arguments args, TextReader stdin, ClientEnvironment env) => Run(args, stdin, env, StartWorker);

    /// <summary>The hook with the worker start replaceable, so tests can see whether a worker would start.</summary>
    internal static int Run(Arguments args, TextReader stdin, ClientEnvironment env, Action<ClientEnvironment, string, string, string?, string?> startWorker)
    {
        try
        {
            // Agent runs SkillLoop starts itself (e.g. server-side analysis) must not feed back into it.
            if (env.Variable(InternalVariable) == "1")
                return 0;
            var platform = args.At(1) ?? "claude";
            var payload = ReadPayload(stdin);
            if (payload.Length == 0)
                return 0;
            startWorker(env, platform, payload, args.Option("url"), args.Option("token"));
        }
        catch
        {
            // Whatever went wrong, the agent must not see it.
        }
        return 0;
    }

    private static string ReadPayload(TextReader stdin)
    {
        // Agents close stdin after writing the payload; never hang if one does not.
        var read = Task.Run(() =>
        {
            var buffer = new char[8192];
            var text = new System.Text.StringBuilder();
            int n;
            while ((n = stdin.Read(buffer, 0, buffer.Length)) > 0 && text.Length < MaxPayloadChars)
                text.Append(buffer, 0, n);
            return text.ToString();
        });
        return read.Wait(StdinTimeout) ? read.Result : "";
    }

    private static void StartWorker(ClientEnvironment env, string platform, string payload, string? url, string? token)
    {
        var exe = env.ExecutablePath;
        var start = new ProcessStartInfo(exe)
        {
            UseShellExecute = false,
            CreateNoWindow = true,
            // The agent's pipes stay with the hook: the agent waits for them to close, and the worker outlives us.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (string.Equals(Path.GetFileNameWithoutExtension(exe), "dotnet", StringComparison.OrdinalIgnoreCase))
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, ClientEnvironment.ExecutableName + ".dll"));
        start.ArgumentList.Add(WorkerSubcommand);
        start.ArgumentList.Add(platform);
        if (url is not null)
        {
            start.ArgumentList.Add("--url");
            start.ArgumentList.Add(url);
        }
        if (token is not null)
        {
            // Passed on stdin-free channel only for tests; install keeps the token in client.json instead.
            start.Environment["SKILLLOOP_TOKEN"] = token;
        }
        using var worker = Process.Start(start);
        if (worker is null)
            return;
        worker.StandardInput.Write(payload);
        worker.StandardInput.Close();
    }
}
