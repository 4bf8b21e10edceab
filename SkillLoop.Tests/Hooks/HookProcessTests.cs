using System.Diagnostics;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Hooks;

/// <summary>Runs the real <c>skillloop-client</c> executable the way an agent runs a hook.</summary>
public sealed class HookProcessTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Executable =>
        Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "skillloop-client.exe" : "skillloop-client");

    private Task<(int Code, string Out, string Err, TimeSpan Elapsed)> RunHookAsync(string stdin, params string[] args) =>
        RunHookAsync(stdin, closeStdin: true, args);

    private async Task<(int Code, string Out, string Err, TimeSpan Elapsed)> RunHookAsync(string stdin, bool closeStdin, params string[] args)
    {
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("hook");
        foreach (var a in args)
            start.ArgumentList.Add(a);
        start.Environment["HOME"] = _dir.Root;
        start.Environment.Remove("SKILLLOOP_INTERNAL");
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(stdin);
        await process.StandardInput.FlushAsync();
        if (closeStdin)
            process.StandardInput.Close();
        // Reading to the end also proves the worker does not hold the agent's pipes open.
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(timeout.Token);
        var result = (process.ExitCode, await output.WaitAsync(timeout.Token), await error.WaitAsync(timeout.Token), clock.Elapsed);
        if (!closeStdin)
            process.StandardInput.Close();
        return result;
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage \u0000 not json {{{")]
    [InlineData("{\"session_id\":42}")]
    public async Task The_hook_exits_zero_at_once_and_prints_nothing_whatever_stdin_holds(string stdin)
    {
        var (code, output, error, elapsed) = await RunHookAsync(stdin, "claude");

        Assert.Equal(0, code);
        Assert.Equal("", output);
        Assert.Equal("", error);
        Assert.InRange(elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task The_hook_exits_zero_and_prints_nothing_when_no_server_is_reachable()
    {
        var transcript = _dir.Write("t.jsonl", """{"type":"user","uuid":"u1","message":{"role":"user","content":"no, that's wrong"}}""" + "\n");
        var payload = $$"""{"session_id":"s1","transcript_path":"{{transcript}}","cwd":"/","hook_event_name":"Stop","stop_hook_active":false}""";

        var (code, output, error, _) = await RunHookAsync(payload, "claude", "--url", $"http://127.0.0.1:{FakeSkillLoopServer.FreePort()}/", "--token", "t");

        Assert.Equal(0, code);
        Assert.Equal("", output);
        Assert.Equal("", error);
    }

    [Fact]
    public async Task The_hooks_detached_worker_sends_the_session_to_the_server()
    {
        using var server = new FakeSkillLoopServer();
        // A session's opening message is a request, never a correction: the correction follows the agent's "Done.".
        // (This test is about the detached worker's delivery; what counts as a correction is the detector tests' job.)
        var transcript = CorrectedSession();
        var payload = $$"""{"session_id":"s1","transcript_path":"{{transcript}}","cwd":"/","hook_event_name":"Stop","stop_hook_active":false}""";

        var (code, output, _, _) = await RunHookAsync(payload, "claude", "--url", server.Url, "--token", server.Token);
        var batch = await server.FirstBatch.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(0, code);
        Assert.Equal("", output);
        Assert.Equal("s1", batch.SessionId);
        Assert.Equal("u1", Assert.Single(batch.Corrections).TurnId);
    }

    [Fact]
    public async Task The_hooks_output_closes_while_the_worker_is_still_waiting_for_the_server()
    {
        using var silent = new SilentServer();
        var transcript = _dir.Write("t.jsonl", """{"type":"user","uuid":"u1","message":{"role":"user","content":"hi"}}""" + "\n");
        var payload = $$"""{"session_id":"s1","transcript_path":"{{transcript}}"}""";

        var (code, _, _, elapsed) = await RunHookAsync(payload, "claude", "--url", silent.Url, "--token", "t");

        Assert.Equal(0, code);
        Assert.InRange(elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task An_agent_that_writes_the_payload_and_keeps_stdin_open_gets_the_hooks_answer_without_waiting_and_the_session_is_sent()
    {
        using var server = new FakeSkillLoopServer();
        var payload = $$"""{"session_id":"s1","transcript_path":"{{CorrectedSession()}}","cwd":"/","hook_event_name":"Stop","stop_hook_active":false}""";

        var (code, output, _, _) = await RunHookAsync(payload + "\n", closeStdin: false, "claude", "--url", server.Url, "--token", server.Token);
        // Had the hook waited for the end of stdin, its 2 s bound would have dropped the unfinished payload: a batch
        // arriving shows it stopped at the end of the JSON value.
        var batch = await server.FirstBatch.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(0, code);
        Assert.Equal("", output);
        Assert.Equal("u1", Assert.Single(batch.Corrections).TurnId);
    }

    [Fact]
    public async Task A_payload_many_times_larger_than_a_pipes_buffer_reaches_the_worker_whole()
    {
        using var server = new FakeSkillLoopServer();
        // Codex's notify and Copilot's payloads carry the agent's last message; 64 KiB is a pipe's whole buffer.
        var padding = new string('x', 300_000);
        var payload = $$"""{"session_id":"s1","transcript_path":"{{CorrectedSession()}}","cwd":"/","hook_event_name":"Stop","stop_hook_active":false,"last_assistant_message":"{{padding}}"}""";

        var (code, _, _, _) = await RunHookAsync(payload, "claude", "--url", server.Url, "--token", server.Token);
        var batch = await server.FirstBatch.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(0, code);
        Assert.Equal("s1", batch.SessionId);
        Assert.Equal("u1", Assert.Single(batch.Corrections).TurnId);
    }

    private string CorrectedSession() => _dir.Write(".claude/projects/p/s1.jsonl",
        """{"type":"user","uuid":"u0","sessionId":"s1","message":{"role":"user","content":"add a login page"}}""" + "\n" +
        """{"type":"assistant","uuid":"a0","sessionId":"s1","message":{"id":"m0","role":"assistant","content":[{"type":"text","text":"Done."}]}}""" + "\n" +
        """{"type":"user","uuid":"u1","sessionId":"s1","message":{"role":"user","content":"no, that's wrong, you forgot the tests"}}""" + "\n");
}
