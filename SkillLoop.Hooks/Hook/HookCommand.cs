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

    /// <summary>
    /// The hook as the agent runs it: the payload comes from this process's stdin, read without
    /// <see cref="Console"/> where the platform allows (Console's set-up starts a signal-handling thread and
    /// duplicates the standard handles, at every agent turn, for a hook that prints nothing).
    /// </summary>
    public static int RunFromProcess(Arguments args, ClientEnvironment env) => Run(args, stdin: null, env, StartWorker);

    /// <summary>The hook with the worker start replaceable, so tests can see whether a worker would start.</summary>
    internal static int Run(Arguments args, TextReader? stdin, ClientEnvironment env, Action<ClientEnvironment, string, string, string?, string?> startWorker)
    {
        try
        {
            // Codex's notify program gets its JSON as the last argument, and a notify program the user had before
            // install is handed every notification too, whatever happens to ours.
            var notifyPayload = NotifyPayload(args);
            if (notifyPayload is not null)
                ChainPreviousNotify(env, notifyPayload);
            // Agent runs SkillLoop starts itself (e.g. server-side analysis) must not feed back into it.
            if (env.Variable(InternalVariable) == "1")
                return 0;
            var platform = args.At(1) ?? "claude";
            var payload = notifyPayload ?? ReadPayload(stdin);
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

    private static string? NotifyPayload(Arguments args)
    {
        if (args.Option("notify") is not { } value)
            return null;
        if (value.TrimStart().StartsWith('{'))
            return value;
        return args.Positional.Skip(2).LastOrDefault(a => a.TrimStart().StartsWith('{'));
    }

    private static void ChainPreviousNotify(ClientEnvironment env, string payload)
    {
        try
        {
            if (Install.CodexInstaller.LoadPreviousNotify(env.Home) is not { Count: > 0 } previous)
                return;
            var start = new ProcessStartInfo(previous[0])
            {
                UseShellExecute = false,
                CreateNoWindow = true,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var arg in previous.Skip(1))
                start.ArgumentList.Add(arg);
            start.ArgumentList.Add(payload);
            using var chained = Process.Start(start);
            chained?.StandardInput.Close();
        }
        catch
        {
            // The user's program failing to start is not ours to report to the agent.
        }
    }

    private static string ReadPayload(TextReader? stdin)
    {
        // The process's stdin is read on this thread with poll(2) for the timeout: a Task would start the thread
        // pool, two threads and their spinning, for one small read.
        if (stdin is null && PayloadInput.TryRead(MaxPayloadChars, StdinTimeout, out var payload))
            return payload;
        stdin ??= Console.In;
        // Agents close stdin after writing the payload; never hang if one does not.
        var read = Task.Run(() =>
        {
            var buffer = new char[8192];
            var text = new System.Text.StringBuilder();
            int n;
            while ((n = stdin.Read(buffer, 0, buffer.Length)) > 0 && text.Length < MaxPayloadChars)
            {
                text.Append(buffer, 0, n);
                // Some agents never close stdin: stop at the end of the first complete JSON value.
                if (buffer[n - 1] is '}' or '\n' or '\r' && PayloadInput.IsCompleteJson(System.Text.Encoding.UTF8.GetBytes(text.ToString())))
                    break;
            }
            return text.ToString();
        });
        return read.Wait(StdinTimeout) ? read.Result : "";
    }

    private static void StartWorker(ClientEnvironment env, string platform, string payload, string? url, string? token)
    {
        var exe = env.ExecutablePath;
        List<string> arguments = [exe];
        if (string.Equals(Path.GetFileNameWithoutExtension(exe), "dotnet", StringComparison.OrdinalIgnoreCase))
            arguments.Add(Path.Combine(AppContext.BaseDirectory, ClientEnvironment.ExecutableName + ".dll"));
        arguments.Add(WorkerSubcommand);
        arguments.Add(platform);
        if (url is not null)
            arguments.AddRange(["--url", url]);
        // The environment as ClientEnvironment read it at start (not read a second time). The token is passed this way
        // only by tests; install keeps it in client.json instead.
        var environment = new Dictionary<string, string>(env.Variables, OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
        if (token is not null)
            environment["SKILLLOOP_TOKEN"] = token;
        if (WorkerSpawn.TryStart(arguments, environment, payload))
            return;

        var start = new ProcessStartInfo(exe)
        {
            UseShellExecute = false,
            CreateNoWindow = true,
            // The agent's pipes stay with the hook: the agent waits for them to close, and the worker outlives us.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments.Skip(1))
            start.ArgumentList.Add(argument);
        start.Environment.Clear();
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        using var worker = Process.Start(start);
        if (worker is null)
            return;
        worker.StandardInput.Write(payload);
        worker.StandardInput.Close();
    }
}
