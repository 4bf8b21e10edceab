using System.Diagnostics;
using System.Text;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Hook;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Hooks;

public sealed class SignalWorkerTests : IDisposable
{
    private const string Session = "7f3c2a10-5b1e-4c2d-9a8e-1f2e3d4c5b6a";
    private readonly TempDir _dir = new();
    private readonly FakeSkillLoopServer _server = new();
    private readonly string _transcript;

    public SignalWorkerTests()
    {
        _transcript = _dir.File("session.jsonl");
        File.Copy(HooksFixtures.Path("claude", "session.jsonl"), _transcript);
    }

    public void Dispose()
    {
        _server.Dispose();
        _dir.Dispose();
    }

    private async Task<WorkerOutcome> RunAsync(string? url = null, string? token = null, TimeSpan? budget = null)
    {
        using var http = SignalWorker.CreateHttpClient(url ?? _server.Url, token ?? _server.Token, TimeSpan.FromSeconds(30));
        using var cts = new CancellationTokenSource(budget ?? TimeSpan.FromSeconds(20));
        return await new SignalWorker(http, "dev@example.com").RunAsync(new HookEvent("claude", Session, _transcript), cts.Token);
    }

    private long CompleteLinesLength()
    {
        var bytes = File.ReadAllBytes(_transcript);
        return Array.LastIndexOf(bytes, (byte)'\n') + 1;
    }

    [Fact]
    public async Task The_first_run_posts_the_corrections_only_up_to_the_last_complete_line()
    {
        var outcome = await RunAsync();

        Assert.Equal(WorkerOutcome.Posted, outcome);
        var batch = Assert.Single(_server.Batches);
        Assert.Equal(0, batch.FromOffset);
        Assert.Equal(CompleteLinesLength(), batch.Cursor.Offset);
        Assert.Equal(("review-pr", "/repo/.claude/skills/review-pr"), (batch.Cursor.ActiveSkill, batch.Cursor.ActiveSkillPath));
        Assert.Empty(batch.Turns); // the session's other human turns stay on the laptop
        Assert.Equal(["pdf", "pdf", "review-pr", "review-pr"], batch.Corrections.Select(c => c.Skill));
        Assert.Equal("dev@example.com", batch.User);
        Assert.Equal("claude", batch.Platform);
    }

    [Fact]
    public async Task Nothing_is_resent_when_the_transcript_has_not_grown()
    {
        await RunAsync();

        var second = await RunAsync();

        Assert.Equal(WorkerOutcome.NothingNew, second);
        Assert.Single(_server.Batches);
    }

    [Fact]
    public async Task Only_what_follows_the_cursor_is_sent_and_the_skill_carries_over()
    {
        await RunAsync();
        var firstEnd = _server.CursorOf("claude", Session)!.Offset;
        // Finish the partly written last line, then append one more turn.
        var partial = File.ReadAllBytes(_transcript).Length - firstEnd;
        File.WriteAllBytes(_transcript, File.ReadAllBytes(_transcript)[..(int)firstEnd]);
        File.AppendAllText(_transcript,
            """{"type":"user","uuid":"late-1","sessionId":"7f3c2a10-5b1e-4c2d-9a8e-1f2e3d4c5b6a","message":{"role":"user","content":"you forgot this partial line"}}""" + "\n" +
            """{"type":"user","uuid":"late-2","sessionId":"7f3c2a10-5b1e-4c2d-9a8e-1f2e3d4c5b6a","message":{"role":"user","content":"thanks"}}""" + "\n");

        var outcome = await RunAsync();

        Assert.True(partial > 0);
        Assert.Equal(WorkerOutcome.Posted, outcome);
        var second = _server.Batches.Last();
        Assert.Equal(firstEnd, second.FromOffset);
        Assert.Empty(second.Turns);
        var correction = Assert.Single(second.Corrections);
        Assert.Equal(("late-1", "review-pr"), (correction.TurnId, correction.Skill));
        Assert.Equal(new FileInfo(_transcript).Length, second.Cursor.Offset);
    }

    [Fact]
    public async Task A_partly_written_last_line_is_not_sent()
    {
        await RunAsync();

        var batch = Assert.Single(_server.Batches);
        Assert.DoesNotContain(batch.Corrections, c => c.Text.Contains("partial", StringComparison.Ordinal));
        Assert.True(new FileInfo(_transcript).Length > batch.Cursor.Offset);
    }

    [Fact]
    public async Task A_conflict_means_another_event_won_and_the_worker_stops()
    {
        _server.ConflictOnPost = true;

        var outcome = await RunAsync();

        Assert.Equal(WorkerOutcome.Conflict, outcome);
        Assert.Empty(_server.Batches);
        Assert.Null(_server.CursorOf("claude", Session));
        Assert.Single(_server.Requests, r => r == "POST /api/v1/signals"); // no retry
    }

    [Fact]
    public async Task A_bad_token_is_reported_as_unauthorized()
    {
        Assert.Equal(WorkerOutcome.Unauthorized, await RunAsync(token: "wrong"));
        Assert.Empty(_server.Batches);
    }

    [Fact]
    public async Task Patterns_served_by_the_server_replace_the_built_in_ones()
    {
        _server.Config = new ClientConfig([new CorrectionPattern("srv.thanks", "en", "rejection", @"\bthanks\b")], new ClientSettings(ContextTurns: 1));

        await RunAsync();

        var correction = Assert.Single(Assert.Single(_server.Batches).Corrections);
        Assert.Equal("srv.thanks", correction.Pattern);
        Assert.Single(correction.Context);
    }

    [Fact]
    public async Task Built_in_patterns_are_used_when_the_config_endpoint_fails()
    {
        _server.Config = null;

        await RunAsync();

        Assert.Equal(4, Assert.Single(_server.Batches).Corrections.Count);
    }

    [Fact]
    public async Task Corrections_are_detected_and_sent_even_when_local_extraction_is_off()
    {
        _server.Config = new ClientConfig([new CorrectionPattern("x", "en", "rejection", "wrong")], new ClientSettings(AllowLocalExtraction: false));

        await RunAsync();

        var batch = Assert.Single(_server.Batches);
        Assert.NotEmpty(batch.Corrections);
        Assert.All(batch.Corrections, c => Assert.Equal("x", c.Pattern));
        Assert.Empty(batch.Turns);
    }

    [Fact]
    public async Task Secrets_and_the_home_directory_are_redacted_before_the_batch_leaves_the_machine()
    {
        var key = "sk-" + new string('k', 12) + "Q7wErTy9uIoP3aSdF";
        File.WriteAllText(_transcript,
            """{"type":"assistant","uuid":"a1","sessionId":"7f3c2a10-5b1e-4c2d-9a8e-1f2e3d4c5b6a","message":{"role":"assistant","content":[{"type":"text","text":"Logged in with PGPASSWORD=Zq8wqLsecret as you asked."}]}}""" + "\n" +
            """{"type":"user","uuid":"u1","sessionId":"7f3c2a10-5b1e-4c2d-9a8e-1f2e3d4c5b6a","message":{"role":"user","content":"Base directory for this skill: /home/alice/.claude/skills/deploy"}}""" + "\n" +
            """{"type":"user","uuid":"u2","sessionId":"7f3c2a10-5b1e-4c2d-9a8e-1f2e3d4c5b6a","message":{"role":"user","content":"no, that's wrong: use my key KEY and my password is Tulip-Garden-42"}}""".Replace("KEY", key) + "\n" +
            """{"type":"assistant","uuid":"a2","sessionId":"7f3c2a10-5b1e-4c2d-9a8e-1f2e3d4c5b6a","message":{"role":"assistant","content":[{"type":"text","text":"You're right. Retrying with PGPASSWORD=Rt5answerSecret now."}]}}""" + "\n");
        _server.Config = new ClientConfig([new CorrectionPattern("x", "en", "rejection", "wrong")], new ClientSettings(ContextTurns: 4));

        await RunAsync();

        var batch = Assert.Single(_server.Batches);
        var correction = Assert.Single(batch.Corrections);
        var sent = System.Text.Json.JsonSerializer.Serialize(batch, SkillLoop.Hooks.Contracts.HooksJsonContext.Default.SignalBatch);
        Assert.DoesNotContain(key, sent);
        Assert.DoesNotContain("Tulip-Garden-42", sent);
        Assert.DoesNotContain("Zq8wqLsecret", sent);
        Assert.DoesNotContain("Rt5answerSecret", sent);
        Assert.DoesNotContain("alice", sent);
        Assert.Contains("[REDACTED:", correction.Text);
        Assert.Contains(correction.Context, t => t.Text.Contains("PGPASSWORD=[REDACTED:secret]", StringComparison.Ordinal));
        Assert.Equal("You're right. Retrying with PGPASSWORD=[REDACTED:secret] now.", correction.Reply);
        Assert.Empty(batch.Turns);
    }

    [Fact]
    public async Task A_server_that_is_down_is_given_up_on_and_the_cursor_stays()
    {
        var closedPort = FakeSkillLoopServer.FreePort();

        var outcome = await RunAsync(url: $"http://127.0.0.1:{closedPort}/");

        Assert.Equal(WorkerOutcome.ServerUnavailable, outcome);
    }

    [Fact]
    public async Task A_server_that_never_answers_is_given_up_on_within_the_budget()
    {
        using var silent = new SilentServer();
        var clock = Stopwatch.StartNew();

        var outcome = await RunAsync(url: silent.Url, budget: TimeSpan.FromSeconds(1));

        Assert.Equal(WorkerOutcome.ServerUnavailable, outcome);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromSeconds(30), WorkerCommand.Budget);
    }

    [Fact]
    public async Task A_missing_transcript_sends_nothing()
    {
        File.Delete(_transcript);

        Assert.Equal(WorkerOutcome.NoTranscript, await RunAsync());
        Assert.Empty(_server.Requests);
    }
}
