using System.Text;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Hook;
using SkillLoop.Hooks.Transcripts;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Hooks;

/// <summary>Nothing lost (context, a server briefly down, a backlog), nothing unbounded (huge lines and files).</summary>
public sealed class DeliveryTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeSkillLoopServer _server = new() { Config = new ClientConfig(DefaultPatterns.All, new ClientSettings(AllowLocalExtraction: false)) };

    public void Dispose()
    {
        _server.Dispose();
        _dir.Dispose();
    }

    private async Task<WorkerOutcome> RunAsync(HookEvent hookEvent, RetryPolicy? retry = null)
    {
        using var http = SignalWorker.CreateHttpClient(_server.Url, _server.Token, TimeSpan.FromSeconds(30));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var worker = new SignalWorker(http, "dev@example.com");
        return retry is null
            ? await worker.RunAsync(hookEvent, cts.Token)
            : await worker.RunWithRetriesAsync(hookEvent, retry, cts.Token);
    }

    [Fact]
    public async Task A_correction_read_after_an_earlier_stop_carries_the_answer_it_corrects_as_context()
    {
        // Claude Code 2.1.197: the first Stop read the prompt and the answer; the correction comes in the next read.
        var transcript = _dir.File("claude.jsonl");
        File.Copy(HooksFixtures.Path("real-cli", "claude-2.1.197-noskill-session.jsonl"), transcript);
        _server.SetCursor(new SessionCursor("claude", "s1", 8997, null, null));

        await RunAsync(new HookEvent("claude", "s1", transcript));

        var correction = Assert.Single(Assert.Single(_server.Batches).Corrections);
        Assert.Equal("no, that's wrong — use pnpm, not npm", correction.Text);
        Assert.Equal(
        [
            ("user", "How do I install the dependencies?"),
            ("assistant", "Run `npm install` to install the dependencies, then `npm test`."),
        ], correction.Context.Select(c => (c.Role, c.Text)));
    }

    [Fact]
    public async Task A_cline_3_correction_in_a_resumed_session_carries_the_earlier_answer_as_context()
    {
        var sessionDir = Directory.CreateDirectory(_dir.File("sessions/s")).FullName;
        var messages = Path.Combine(sessionDir, "s.messages.json");
        File.Copy(HooksFixtures.Path("real-cli", "cline-3.0.65-session.messages.json"), messages);
        _server.SetCursor(new SessionCursor("cline", "s", 4, "pnpm-helper", null));

        await RunAsync(new HookEvent("cline", "s", messages));

        var first = Assert.Single(_server.Batches).Corrections[0];
        Assert.Equal("pnpm-helper", first.Skill);
        Assert.Contains(first.Context, c => c.Role == "assistant" && c.Text.StartsWith("The pnpm-helper skill says", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_server_briefly_down_gets_the_correction_when_it_is_back()
    {
        var transcript = _dir.File("claude.jsonl");
        File.Copy(HooksFixtures.Path("real-cli", "claude-2.1.197-noskill-session.jsonl"), transcript);
        _server.UnavailableRequests = 5;

        var outcome = await RunAsync(new HookEvent("claude", "s2", transcript),
            new RetryPolicy(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(40), TimeSpan.FromSeconds(60)));

        Assert.Equal(WorkerOutcome.Posted, outcome);
        Assert.Equal(["no, that's wrong — use pnpm, not npm"], _server.Batches.SelectMany(b => b.Corrections).Select(c => c.Text));
        Assert.Equal(TimeSpan.FromMinutes(10), RetryPolicy.Default.Window);
    }

    [Fact]
    public async Task A_server_down_for_longer_than_the_window_is_given_up_on()
    {
        var transcript = _dir.File("claude.jsonl");
        File.Copy(HooksFixtures.Path("real-cli", "claude-2.1.197-noskill-session.jsonl"), transcript);
        _server.UnavailableRequests = int.MaxValue;

        var outcome = await RunAsync(new HookEvent("claude", "s3", transcript),
            new RetryPolicy(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(200)));

        Assert.Equal(WorkerOutcome.ServerUnavailable, outcome);
        Assert.Empty(_server.Batches);
    }

    [Fact]
    public async Task Seventy_five_thousand_corrections_all_arrive_and_the_cursor_never_passes_an_unsent_one()
    {
        var transcript = _dir.File("backlog.jsonl");
        await using (var writer = new StreamWriter(transcript, false, new UTF8Encoding(false)))
        {
            await writer.WriteLineAsync("""{"type":"assistant","uuid":"a0","message":{"id":"m0","role":"assistant","content":"Done."}}""");
            for (var i = 0; i < 75_000; i++)
                await writer.WriteLineAsync($$$"""{"type":"user","uuid":"u{{{i}}}","sessionId":"big","message":{"role":"user","content":"no, that's wrong: use pnpm ({{{i}}})"}}""");
        }

        var outcome = await RunAsync(new HookEvent("claude", "big", transcript));

        Assert.Equal(WorkerOutcome.Posted, outcome);
        var batches = _server.Batches.ToList();
        Assert.All(batches, b => Assert.InRange(b.Corrections.Count, 0, SignalBatchLimits.MaxCorrections));
        var ids = batches.SelectMany(b => b.Corrections).Select(c => c.TurnId).ToList();
        Assert.Equal(75_000, ids.Count);
        Assert.Equal(75_000, ids.Distinct().Count());
        Assert.Equal(new FileInfo(transcript).Length, _server.CursorOf("claude", "big")!.Offset);
    }

    [Fact]
    public void A_line_of_hundreds_of_megabytes_without_a_newline_is_scanned_in_bounded_memory()
    {
        var path = _dir.File("huge.jsonl");
        const int size = 150 << 20;
        using (var stream = File.Create(path))
        {
            var chunk = new byte[1 << 20];
            chunk.AsSpan().Fill((byte)'x');
            for (var written = 0; written < size; written += chunk.Length)
                stream.Write(chunk);
        }
        var lines = new List<long>();

        var before = GC.GetAllocatedBytesForCurrentThread();
        var unfinished = JsonlScanner.Scan(path, 0, (_, offset) => lines.Add(offset));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        File.AppendAllText(path, "\n{\"type\":\"user\"}\n");
        var finished = JsonlScanner.Scan(path, 0, (_, offset) => lines.Add(offset));

        Assert.Equal(0, unfinished); // a line still being written leaves the cursor before it
        Assert.InRange(allocated, 0, 40L << 20);
        Assert.Equal([(long)size + 1], lines); // the over-long line is stepped over, the next one is read
        Assert.Equal(new FileInfo(path).Length, finished);
    }

    [Fact]
    public void A_read_window_stops_at_the_first_line_starting_past_it()
    {
        var path = _dir.Write("w.jsonl", "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
        var offsets = new List<long>();

        var end = JsonlScanner.Scan(path, 0, (_, offset) => offsets.Add(offset), untilOffset: 9);

        Assert.Equal([0L, 8L], offsets);
        Assert.Equal(16, end);
    }
}
