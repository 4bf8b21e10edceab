using System.Text;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Hook;
using SkillLoop.Hooks.Transcripts;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Hooks;

/// <summary>
/// A turn's verdict does not depend on where a read starts (#17, nothing lost): the learned detector judges a turn by
/// the agent's previous words, the turn's place in the session and an interruption just before it, which lie before
/// the cursor when the hook fires every turn or a backlog goes in batches.
/// </summary>
public sealed class ReadWindowTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // Replies and agent answers of one session: neutral requests, mild corrections near the threshold (their score
    // moves with the turn's place and the agent's words), clear ones, Chinese ones, one after an interruption.
    private static readonly string[] Replies =
    [
        "use pnpm instead",
        "now add a logout button",
        "wrong file",
        "actually, make it blue",
        "did you run the tests?",
        "不对，用 pnpm",
        "please also update the README",
        "still broken",
        "it doesn't compile",
        "No, use the other one",
        "actually, make it blue and bold",
        "did you push it?",
        "还是不行",
        "use pnpm instead of npm here too",
    ];

    private static readonly string[] Answers =
    [
        "Done: the login page is in place.",
        "Shall I add tests?",
        "I've added the logout button.",
        "Updated.",
        "Which option do you prefer?",
        "已完成",
    ];

    [Fact]
    public async Task A_session_read_at_every_hook_firing_gets_the_same_corrections_as_one_read_of_the_whole()
    {
        var lines = new List<string> { User("u0", "Add a login page to the app"), Agent("a0", Answers[0]) };
        var firings = new List<int> { lines.Count };
        for (var i = 0; i < Replies.Length; i++)
        {
            if (i == 7)
            {
                // The person stops the agent; the hook fired before they typed again.
                lines.Add(Agent($"t{i}", "Let me refactor the whole module first"));
                lines.Add(Interruption($"x{i}"));
                firings.Add(lines.Count);
            }
            lines.Add(User($"u{i + 1}", Replies[i]));
            lines.Add(Agent($"a{i + 1}", Answers[(i + 1) % Answers.Length]));
            firings.Add(lines.Count);
        }

        var once = await CorrectionsAsync(_dir.File("whole.jsonl"), [lines.Count], lines);

        var incremental = _dir.File("incremental.jsonl");
        var byFiring = await CorrectionsAsync(incremental, firings, lines);

        Assert.NotEmpty(once);
        Assert.Equal(Describe(once), Describe(byFiring));
    }

    [Fact]
    public async Task A_backlog_sent_in_several_batches_gets_the_same_corrections_as_one_read_of_the_whole()
    {
        // The agent's last words lie far behind most batches (~115 bytes a turn: the later batches start more than
        // the 256 KB once read back before the cursor).
        var lines = new List<string> { User("u", "Set up the project"), Agent("a", "Done.") };
        for (var i = 0; i < 4_000; i++)
            lines.Add(User($"u{i}", $"no, that's wrong: use pnpm ({i})"));
        var path = _dir.File("backlog.jsonl");
        File.WriteAllText(path, string.Concat(lines.Select(l => l + "\n")));
        var oneRead = new SessionAnalyzer(new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), DetectorModel.Shipped))
            .Analyze(new ClaudeTranscriptReader().Read(path, 0).Turns, ActiveSkill.None).Corrections;

        using var server = new FakeSkillLoopServer();
        using var http = SignalWorker.CreateHttpClient(server.Url, server.Token, TimeSpan.FromSeconds(60));
        var outcome = await new SignalWorker(http, "dev@example.com", detector: DetectorModel.Shipped)
            .RunAsync(new HookEvent("claude", "backlog", path), CancellationToken.None);

        Assert.Equal(WorkerOutcome.Posted, outcome);
        Assert.True(server.Batches.Count >= 4, $"{server.Batches.Count} batch(es)");
        Assert.Equal(new FileInfo(path).Length, server.CursorOf("claude", "backlog")!.Offset);
        var sent = server.Batches.SelectMany(b => b.Corrections).ToList();
        Assert.Equal(oneRead.Count, sent.Count);
        Assert.Equal(oneRead.Select(c => (c.TurnId, c.Score)), sent.Select(c => (c.TurnId, c.Score)));
    }

    [Fact]
    public async Task A_backlog_batch_that_ends_between_a_turn_and_its_answer_judges_the_turn_with_the_answer_read_ahead()
    {
        // Long human lines (a padded field the reader ignores) and short answers, so batch windows end right after a
        // human turn; every answer admits a mistake, which moves the turn's score.
        var lines = new List<string> { User("u", "Set up the project"), Agent("a", "Done.") };
        var humanEnds = new HashSet<long>();
        long offset = Encoding.UTF8.GetByteCount(lines[0]) + Encoding.UTF8.GetByteCount(lines[1]) + 2;
        for (var i = 0; i < 3_000; i++)
        {
            var human = User($"u{i}", $"no, that's wrong: use pnpm ({i})", new string('p', 600));
            lines.Add(human);
            offset += Encoding.UTF8.GetByteCount(human) + 1;
            humanEnds.Add(offset);
            var answer = Agent($"a{i}", "You're absolutely right, I apologize. Switching to pnpm now.");
            lines.Add(answer);
            offset += Encoding.UTF8.GetByteCount(answer) + 1;
        }
        var path = _dir.File("answers.jsonl");
        File.WriteAllText(path, string.Concat(lines.Select(l => l + "\n")));
        var detector = new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), DetectorModel.Shipped);
        var oneRead = new SessionAnalyzer(detector).Analyze(new ClaudeTranscriptReader().Read(path, 0).Turns, ActiveSkill.None).Corrections;

        using var server = new FakeSkillLoopServer();
        using var http = SignalWorker.CreateHttpClient(server.Url, server.Token, TimeSpan.FromSeconds(60));
        var outcome = await new SignalWorker(http, "dev@example.com", detector: DetectorModel.Shipped)
            .RunAsync(new HookEvent("claude", "answers", path), CancellationToken.None);

        Assert.Equal(WorkerOutcome.Posted, outcome);
        var splits = server.Batches.Count(b => humanEnds.Contains(b.Cursor.Offset));
        Assert.True(splits > 0, $"no batch of {server.Batches.Count} ended between a turn and its answer");
        var unanswered = detector.Detect("no, that's wrong: use pnpm (0)", new TurnContext("Done.", 1, Reply: "")).Score;
        Assert.NotEqual(unanswered, oneRead[0].Score);
        var sent = server.Batches.SelectMany(b => b.Corrections).ToList();
        Assert.Equal(oneRead.Select(c => (c.TurnId, c.Score)), sent.Select(c => (c.TurnId, c.Score)));
        Assert.All(sent, c => Assert.Equal("You're absolutely right, I apologize. Switching to pnpm now.", c.Reply));
    }

    [Fact]
    public void The_position_read_back_before_the_cursor_is_the_one_a_read_from_the_start_reaches()
    {
        var lines = new List<string> { User("u0", "Add a login page"), Agent("a0", "Done: the login page is in place.") };
        for (var i = 1; i <= 15; i++)
        {
            lines.Add(User($"u{i}", $"next step {i}"));
            lines.Add(i % 3 == 0 ? Interruption($"x{i}") : Agent($"a{i}", $"Answer {i}."));
        }
        var path = _dir.File("position.jsonl");
        File.WriteAllText(path, string.Concat(lines.Select(l => l + "\n")));
        var reader = new ClaudeTranscriptReader();
        var analyzer = new SessionAnalyzer(new CorrectionDetector(DefaultPatterns.All));

        var offset = 0L;
        foreach (var line in lines)
        {
            var expected = analyzer.Analyze(reader.Read(path, 0, offset).Turns, ActiveSkill.None).PositionAtEnd;
            Assert.Equal(expected, PrecedingContext.PositionAt(reader, path, offset));
            offset += Encoding.UTF8.GetByteCount(line) + 1;
        }
    }

    /// <summary>Writes the transcript up to each firing and runs the worker then, as the Stop hook does.</summary>
    private static async Task<List<DetectedCorrection>> CorrectionsAsync(string path, IReadOnlyList<int> firings, IReadOnlyList<string> lines)
    {
        using var server = new FakeSkillLoopServer();
        using var http = SignalWorker.CreateHttpClient(server.Url, server.Token, TimeSpan.FromSeconds(30));
        var worker = new SignalWorker(http, "dev@example.com", detector: DetectorModel.Shipped);
        var written = 0;
        foreach (var firing in firings)
        {
            if (written < firing)
            {
                File.AppendAllText(path, string.Concat(lines.Skip(written).Take(firing - written).Select(l => l + "\n")));
                written = firing;
            }
            var outcome = await worker.RunAsync(new HookEvent("claude", "s", path), CancellationToken.None);
            Assert.Contains(outcome, new[] { WorkerOutcome.Posted, WorkerOutcome.NothingNew });
        }
        Assert.Equal(new FileInfo(path).Length, server.CursorOf("claude", "s")!.Offset);
        return server.Batches.SelectMany(b => b.Corrections).ToList();
    }

    private static List<string> Describe(IEnumerable<DetectedCorrection> corrections) =>
        corrections.Select(c => $"{c.TurnId} {c.Text} score {c.Score} {c.Pattern}").ToList();

    private static string User(string id, string text, string cwd = "/work") =>
        $$$"""{"type":"user","uuid":"{{{id}}}","sessionId":"s","cwd":"{{{cwd}}}","message":{"role":"user","content":{{{JsonSerializer.Serialize(text)}}}}}""";

    private static string Agent(string id, string text) =>
        $$$"""{"type":"assistant","uuid":"{{{id}}}","sessionId":"s","message":{"role":"assistant","content":[{"type":"text","text":{{{JsonSerializer.Serialize(text)}}}}]}}""";

    private static string Interruption(string id) =>
        $$$"""{"type":"user","uuid":"{{{id}}}","sessionId":"s","message":{"role":"user","content":[{"type":"text","text":"[Request interrupted by user]"}]}}""";
}
