using System.Runtime.InteropServices;
using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Extraction;

namespace SkillLoop.Hooks.Hook;

/// <summary>
/// The hidden <c>__worker &lt;platform&gt;</c> subcommand: the detached background process started by the hook.
/// It leaves the hook's session (so the agent killing the hook's process group does not kill it), reads the
/// payload from its private stdin pipe and gives up quietly after <see cref="Budget"/>.
/// </summary>
public static class WorkerCommand
{
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);

    /// <summary>Extra time when an agent CLI extracts issues locally (the server's grace period is longer).</summary>
    public static readonly TimeSpan LocalExtractionBudget = TimeSpan.FromMinutes(3);

    public static Task<int> RunAsync(Arguments args, TextReader stdin, ClientEnvironment env) => RunAsync(args, stdin, env, detach: true);

    /// <param name="detach">False only in tests that run the worker inside the test host.</param>
    internal static async Task<int> RunAsync(Arguments args, TextReader stdin, ClientEnvironment env, bool detach)
    {
        try
        {
            if (detach)
                Detach();
            if (env.Variable(HookCommand.InternalVariable) == "1")
                return 0;
            var platform = args.At(1) ?? "claude";
            var local = AgentCli.Find(env, platform) is { } cli ? new LocalIssueExtractor(cli, LocalIssueExtractor.DefaultTimeout) : null;
            // The retries happen only while the server is unavailable; a worker with nothing to do ends at once.
            using var budget = new CancellationTokenSource(Budget + RetryPolicy.Default.Window + (local is null ? TimeSpan.Zero : LocalExtractionBudget));
            var payload = await stdin.ReadToEndAsync(budget.Token);
            HookActivity.Record(env.Home, platform, DateTimeOffset.UtcNow);
            var hookEvent = HookEvent.Parse(payload, platform, AgentHomes.Of(env));
            if (hookEvent is null)
                return 0;
            var stored = ClientConfigFile.Load(env.Home);
            var url = args.Option("url") ?? env.Variable("SKILLLOOP_URL") ?? stored?.Url;
            var token = env.Variable("SKILLLOOP_TOKEN") ?? stored?.Token;
            if (string.IsNullOrEmpty(url) || string.IsNullOrEmpty(token))
                return 0;
            using var http = SignalWorker.CreateHttpClient(url, token, Budget);
            await new SignalWorker(http, Identity.Resolve(env), localExtractor: local, detector: DetectorChoice.For(env)).RunWithRetriesAsync(hookEvent, RetryPolicy.Default, budget.Token);
        }
        catch
        {
            // Nobody is listening: what was not sent is sent by the next Stop event (the cursor did not move).
        }
        return 0;
    }

    private static void Detach()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            return;
        try
        {
            _ = setsid();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    // Blittable, so a plain DllImport needs no marshalling stub (and no unsafe code) under Native AOT.
    [DllImport("libc", EntryPoint = "setsid")]
    private static extern int setsid();
}
