using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Hook;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Hooks;

public sealed class InternalRunTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeSkillLoopServer _server = new();

    public void Dispose()
    {
        _server.Dispose();
        _dir.Dispose();
    }

    private ClientEnvironment Env(bool internalRun) => new(_dir.Root, _dir.Root, "/x/skillloop-client",
        internalRun ? new Dictionary<string, string> { ["SKILLLOOP_INTERNAL"] = "1", ["SKILLLOOP_TOKEN"] = _server.Token }
                    : new Dictionary<string, string> { ["SKILLLOOP_TOKEN"] = _server.Token });

    private string Payload()
    {
        var transcript = _dir.Write("t.jsonl", """{"type":"user","uuid":"u1","message":{"role":"user","content":"you forgot the tests"}}""" + "\n");
        return $$"""{"session_id":"s1","transcript_path":"{{transcript}}"}""";
    }

    [Fact]
    public void The_hook_starts_no_worker_for_events_from_SkillLoops_own_runs()
    {
        var started = 0;

        var code = HookCommand.Run(new Arguments(["hook", "claude"]), new StringReader(Payload()), Env(internalRun: true),
            (_, _, _, _, _) => started++);

        Assert.Equal(0, code);
        Assert.Equal(0, started);
    }

    [Fact]
    public void The_hook_hands_the_payload_to_one_worker_otherwise()
    {
        var payloads = new List<string>();

        HookCommand.Run(new Arguments(["hook", "claude"]), new StringReader(Payload()), Env(internalRun: false),
            (_, platform, payload, _, _) => payloads.Add(platform + ":" + payload));

        Assert.Equal("claude:" + Payload(), Assert.Single(payloads));
    }

    [Fact]
    public void The_hook_swallows_a_failing_worker_start()
    {
        var code = HookCommand.Run(new Arguments(["hook", "claude"]), new StringReader(Payload()), Env(internalRun: false),
            (_, _, _, _, _) => throw new InvalidOperationException("boom"));

        Assert.Equal(0, code);
    }

    [Fact]
    public async Task The_worker_drops_events_from_SkillLoops_own_runs()
    {
        var code = await WorkerCommand.RunAsync(new Arguments(["__worker", "claude", "--url", _server.Url]),
            new StringReader(Payload()), Env(internalRun: true), detach: false);

        Assert.Equal(0, code);
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task The_worker_subcommand_posts_the_session()
    {
        var code = await WorkerCommand.RunAsync(new Arguments(["__worker", "claude", "--url", _server.Url]),
            new StringReader(Payload()), Env(internalRun: false), detach: false);

        Assert.Equal(0, code);
        Assert.Equal("s1", Assert.Single(_server.Batches).SessionId);
    }
}

public sealed class HookStdinTests
{
    [Fact]
    public void A_payload_on_a_pipe_that_is_never_closed_is_handed_over_without_waiting_for_the_end()
    {
        const string payload = """{"session_id":"s","transcript_path":"/t.jsonl"}""";
        using var stdin = new SkillLoop.Tests.Fakes.NeverEndingReader(payload);
        var env = new ClientEnvironment("/nonexistent-home", "/", "/x/skillloop-client", new Dictionary<string, string>());
        var handed = new List<string>();
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var code = HookCommand.Run(new Arguments(["hook", "claude"]), stdin, env, (_, _, p, _, _) => handed.Add(p));

        Assert.Equal(0, code);
        Assert.Equal([payload], handed);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.5), $"took {clock.Elapsed}"); // well inside the 2 s stdin bound
    }

    [Fact]
    public void Windows_line_endings_are_read_like_unix_ones()
    {
        using var dir = new TempDir();
        var path = dir.Write("crlf.jsonl",
            "{\"type\":\"assistant\",\"uuid\":\"a\",\"message\":{\"id\":\"m\",\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}}\r\n" +
            "{\"type\":\"user\",\"uuid\":\"u\",\"message\":{\"role\":\"user\",\"content\":\"you forgot the tests\"}}\r\n");

        var read = new SkillLoop.Hooks.Transcripts.ClaudeTranscriptReader().Read(path, 0);

        Assert.Equal(["ok", "you forgot the tests"], read.Turns.Select(t => t.Text));
        Assert.Equal(0, read.SkippedLines);
        Assert.Equal(new FileInfo(path).Length, read.EndOffset);
    }
}
