using SkillLoop.Hooks.Hook;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Hooks;

/// <summary>The hook identifies the calling product from the payload, whichever hook file it was run from.</summary>
public sealed class PayloadShapesTests : IDisposable
{
    private readonly TempDir _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void A_claude_stop_payload_names_its_transcript()
    {
        var e = HookEvent.Parse("""{"session_id":"s1","transcript_path":"/home/u/.claude/projects/p/s1.jsonl","cwd":"/w","hook_event_name":"Stop","stop_hook_active":false}""", "claude", _home.Root);

        Assert.Equal(new HookEvent("claude", "s1", "/home/u/.claude/projects/p/s1.jsonl", null, "/w"), e);
    }

    [Fact]
    public void A_vscode_payload_is_vscode_even_through_claudes_settings_file()
    {
        const string payload = """{"timestamp":"2026-02-09T10:30:00.000Z","cwd":"/w","sessionId":"v1","hookEventName":"Stop","transcript_path":"/home/u/.config/Code/User/workspaceStorage/h/GitHub.copilot-chat/transcripts/v1.jsonl","stop_hook_active":false}""";

        var viaClaude = HookEvent.Parse(payload, "claude", _home.Root);
        var viaVsCode = HookEvent.Parse(payload, "vscode", _home.Root);

        Assert.Equal(viaVsCode, viaClaude);
        Assert.Equal(("vscode", "v1", "vscode"), (viaClaude!.Platform, viaClaude.SessionId, viaClaude.Product));
    }

    [Fact]
    public void A_copilot_agent_stop_payload_falls_back_to_the_session_state_folder()
    {
        var e = HookEvent.Parse("""{"timestamp":1704614400000,"cwd":"/w","sessionId":"c1"}""", "copilot", _home.Root);

        Assert.Equal(Path.Combine(_home.Root, ".copilot", "session-state", "c1", "events.jsonl"), e!.TranscriptPath);
        Assert.Equal("copilot", e.Platform);
    }

    [Fact]
    public void Copilot_sub_agent_stops_are_ignored()
    {
        Assert.Null(HookEvent.Parse("""{"sessionId":"toolu_bdrk_01K","transcriptPath":"/x/events.jsonl"}""", "copilot", _home.Root));
    }

    [Fact]
    public void A_codex_stop_payload_is_codex()
    {
        var e = HookEvent.Parse("""{"session_id":"019b","transcript_path":"/home/u/.codex/sessions/2025/12/28/rollout-x-019b.jsonl","cwd":"/w","hook_event_name":"Stop","model":"gpt-5","turn_id":"3","stop_hook_active":false,"last_assistant_message":null,"permission_mode":"default"}""", "codex", _home.Root);

        Assert.Equal("codex", e!.Platform);
    }

    [Fact]
    public void A_codex_stop_payload_without_a_transcript_path_finds_the_rollout()
    {
        var rollout = _home.Write(".codex/sessions/2025/12/28/rollout-2025-12-28T12-18-30-019b.jsonl", "");

        var e = HookEvent.Parse("""{"session_id":"019b","transcript_path":null,"cwd":"/w","hook_event_name":"Stop","model":"gpt-5","turn_id":"3"}""", "codex", _home.Root);

        Assert.Equal(new HookEvent("codex", "019b", rollout, null, "/w"), e);
    }

    [Fact]
    public void A_vscode_payload_without_a_transcript_path_finds_the_chat_transcript()
    {
        var transcript = _home.Write(".config/Code/User/workspaceStorage/ab12/GitHub.copilot-chat/transcripts/v7.jsonl", "");

        var e = HookEvent.Parse("""{"timestamp":"2026-02-09T10:30:00.000Z","cwd":"/w","sessionId":"v7","hookEventName":"Stop"}""", "vscode", _home.Root);

        Assert.Equal(new HookEvent("vscode", "v7", transcript, "vscode", "/w"), e);
    }

    [Fact]
    public void A_cursor_stop_payload_finds_the_agent_transcript()
    {
        var transcript = _home.Write(".cursor/projects/home-u-w/agent-transcripts/k1/k1.jsonl", "");

        var e = HookEvent.Parse("""{"conversation_id":"k1","generation_id":"g","status":"completed","hook_event_name":"stop","workspace_roots":["/w"]}""", "cursor", _home.Root);

        Assert.Equal(new HookEvent("cursor", "k1", transcript, null, "/w"), e);
    }

    [Fact]
    public void A_cline_task_complete_payload_finds_the_task_history()
    {
        var history = _home.Write(".cline/data/tasks/1769053680585/api_conversation_history.json", "[]");

        var e = HookEvent.Parse("""{"clineVersion":"3.40.0","hookName":"TaskComplete","timestamp":"1769053680585","taskId":"1769053680585","workspaceRoots":["/w"],"userId":"u","taskComplete":{}}""", "cline", _home.Root);

        Assert.Equal(new HookEvent("cline", "1769053680585", history, null, "/w"), e);
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("not json")]
    [InlineData("""{"taskId":"../../etc","hookName":"TaskComplete"}""")]
    [InlineData("""{"session_id":"s"}""")]
    public void Unusable_payloads_are_dropped(string payload) => Assert.Null(HookEvent.Parse(payload, "claude", _home.Root));
}

/// <summary>VS Code runs both its own hook file and Claude's settings: the event must be captured once.</summary>
public sealed class SameEventFromTwoProductsTests : IDisposable
{
    private readonly TempDir _home = new();
    private readonly FakeSkillLoopServer _server = new();

    public void Dispose()
    {
        _server.Dispose();
        _home.Dispose();
    }

    private string Payload()
    {
        var transcript = _home.Write(".config/Code/User/workspaceStorage/h/GitHub.copilot-chat/transcripts/v1.jsonl",
            File.ReadAllText(HooksFixtures.Path("vscode", "transcript.jsonl")));
        return $$"""{"timestamp":"2026-02-09T10:30:00.000Z","cwd":"/w","sessionId":"v1","hookEventName":"Stop","transcript_path":"{{transcript}}","stop_hook_active":false}""";
    }

    private async Task<WorkerOutcome> DeliverAsync(string payload, string hookPlatform)
    {
        using var http = SignalWorker.CreateHttpClient(_server.Url, _server.Token, TimeSpan.FromSeconds(20));
        var hookEvent = HookEvent.Parse(payload, hookPlatform, _home.Root)!;
        return await new SignalWorker(http, "dev@example.com").RunAsync(hookEvent, CancellationToken.None);
    }

    [Fact]
    public async Task One_after_the_other_the_second_delivery_finds_nothing_new()
    {
        var payload = Payload();

        var first = await DeliverAsync(payload, "vscode");
        var second = await DeliverAsync(payload, "claude");

        Assert.Equal((WorkerOutcome.Posted, WorkerOutcome.NothingNew), (first, second));
        var batch = Assert.Single(_server.Batches);
        Assert.Equal(("vscode", "v1", "vscode"), (batch.Platform, batch.SessionId, batch.Product));
    }

    [Fact]
    public async Task Racing_deliveries_store_the_corrections_once()
    {
        var payload = Payload();

        var outcomes = await Task.WhenAll(DeliverAsync(payload, "vscode"), DeliverAsync(payload, "claude"));

        Assert.Single(outcomes, o => o == WorkerOutcome.Posted);
        Assert.Single(outcomes, o => o is WorkerOutcome.Conflict or WorkerOutcome.NothingNew);
        Assert.Equal(3, Assert.Single(_server.Batches).Corrections.Count);
    }
}
