using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Extraction;

public sealed class ExtractionJobRunnerTests
{
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));

    private ExtractionJobRunner Runner(TestDatabase database, IIssueExtractor extractor, IssueStore? store = null) => new(
        store ?? new IssueStore(database.Db, _time),
        new Source(extractor),
        new DatabaseState(),
        new SignalFeed(),
        new IngestActivity(_time),
        _time,
        Options.Create(new ExtractionOptions { MaxAttempts = 3, RetryDelay = TimeSpan.FromMinutes(1) }),
        NullLogger<ExtractionJobRunner>.Instance);

    [Fact]
    public async Task Migration_2_adds_the_issue_and_job_tables()
    {
        await using var database = await TestDatabase.CreateAsync();
        Assert.Equal(Migrations.Latest, await database.ScalarAsync<long>("PRAGMA user_version"));
        Assert.Equal(2, await database.ScalarAsync<long>("SELECT count(*) FROM sqlite_master WHERE name IN ('issues', 'extraction_jobs')"));
    }

    [Fact]
    public async Task Every_stored_signal_gets_exactly_one_issue_however_often_the_runner_passes()
    {
        await using var database = await TestDatabase.CreateAsync();
        var first = await database.AddSignalAsync("No, use pnpm instead of npm.");
        var second = await database.AddSignalAsync("You forgot to run the tests.", skill: null,
            contextJson: """[{"role":"assistant","text":"Done, committed."}]""");
        var store = new IssueStore(database.Db, _time);
        var runner = Runner(database, new HeuristicIssueExtractor(), store);

        Assert.Equal(2, await runner.RunOnceAsync(CancellationToken.None));
        Assert.Equal(0, await runner.RunOnceAsync(CancellationToken.None));
        var third = await database.AddSignalAsync("That's wrong.");
        Assert.Equal(1, await runner.RunOnceAsync(CancellationToken.None));

        Assert.Equal(3, await database.ScalarAsync<long>("SELECT count(*) FROM issues"));
        var issues = await store.GetManyAsync([first, second, third], CancellationToken.None);
        Assert.Equal("heuristic", issues[first].ExtractedBy);
        Assert.Equal("deploy", issues[first].Skill);
        Assert.Equal("Wrong tool or approach: use pnpm instead of npm.", issues[first].ProblemPattern);
        Assert.Equal("Skipped a step: You forgot to run the tests.", issues[second].ProblemPattern);
        Assert.Equal(new ExtractionCounts(0, 0, 3, 0), await store.CountsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_job_interrupted_by_a_crash_is_resumed_after_restart()
    {
        await using var database = await TestDatabase.CreateAsync();
        var id = await database.AddSignalAsync("Don't touch the lockfile.");
        var store = new IssueStore(database.Db, _time);
        await store.EnqueueNewAsync(CancellationToken.None);
        var claimed = await store.ClaimNextAsync(CancellationToken.None); // the process "dies" here
        Assert.Equal(id, claimed!.SignalId);
        Assert.Null(await store.ClaimNextAsync(CancellationToken.None));

        var restarted = Runner(database, new HeuristicIssueExtractor());
        Assert.Equal(1, await restarted.RecoverAsync(CancellationToken.None));
        Assert.Equal(1, await restarted.RunOnceAsync(CancellationToken.None));

        Assert.NotNull(await store.GetAsync(id, CancellationToken.None));
        Assert.Equal(2, await database.ScalarAsync<long>("SELECT attempts FROM extraction_jobs WHERE signal_id = @id", new { id }));
    }

    [Fact]
    public async Task A_job_that_keeps_crashing_the_server_is_extracted_by_the_heuristic_instead_of_looping()
    {
        await using var database = await TestDatabase.CreateAsync();
        var id = await database.AddSignalAsync("Don't touch the lockfile.");
        var store = new IssueStore(database.Db, _time);
        await store.EnqueueNewAsync(CancellationToken.None);
        for (var crash = 0; crash < 3; crash++)
        {
            await store.ClaimNextAsync(CancellationToken.None);
            await store.RecoverInterruptedAsync(3, CancellationToken.None);
        }

        var model = new ThrowingExtractor(new InvalidOperationException("must not be called again"));
        Assert.Equal(1, await Runner(database, model, store).RunOnceAsync(CancellationToken.None));

        var issue = (await store.GetAsync(id, CancellationToken.None))!;
        Assert.StartsWith("heuristic (server failed: interrupted 3 time(s)", issue.ExtractedBy);
        Assert.Equal(0, model.Calls);
        Assert.Empty(await store.FailuresAsync(10, CancellationToken.None));
    }

    [Fact]
    public async Task Invalid_model_output_is_not_retried_and_the_heuristic_makes_the_issue_saying_why()
    {
        await using var database = await TestDatabase.CreateAsync();
        var id = await database.AddSignalAsync("No, use pnpm instead of npm.");
        var store = new IssueStore(database.Db, _time);
        var model = new ThrowingExtractor(new IssueExtractionException("server:m answered with an invalid issue twice: not JSON"));
        var runner = Runner(database, model, store);

        Assert.Equal(1, await runner.RunOnceAsync(CancellationToken.None));

        var issue = (await store.GetAsync(id, CancellationToken.None))!;
        Assert.Equal("heuristic (server:m failed: server:m answered with an invalid issue twice: not JSON)", issue.ExtractedBy);
        Assert.True(HeuristicIssueExtractor.IsHeuristic(issue.ExtractedBy));
        Assert.Contains("use pnpm instead of npm", issue.ExpectedBehavior);
        Assert.Equal("deploy", issue.Skill);
        Assert.Equal(1, model.Calls);
        Assert.Empty(await store.FailuresAsync(10, CancellationToken.None));
        Assert.Equal(new ExtractionCounts(0, 0, 1, 0), await store.CountsAsync(CancellationToken.None));
        var failures = await store.ModelFailuresAsync(CancellationToken.None);
        Assert.Equal(1, failures.Count);
        Assert.Equal("server:m answered with an invalid issue twice: not JSON", failures.LastError);
        Assert.Equal(_time.GetUtcNow(), failures.LastAt);
        Assert.Equal(0, await runner.RunOnceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Endpoint_errors_are_retried_later_with_backoff_then_the_heuristic_makes_the_issue()
    {
        await using var database = await TestDatabase.CreateAsync();
        var id = await database.AddSignalAsync("No.");
        var store = new IssueStore(database.Db, _time);
        var runner = Runner(database, new ThrowingExtractor(new HttpRequestException("connection refused")), store);

        Assert.Equal(1, await runner.RunOnceAsync(CancellationToken.None));
        Assert.Equal(0, await runner.RunOnceAsync(CancellationToken.None)); // not due yet
        Assert.Null(await store.GetAsync(id, CancellationToken.None));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await runner.RunOnceAsync(CancellationToken.None));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, await runner.RunOnceAsync(CancellationToken.None)); // second retry waits twice as long
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await runner.RunOnceAsync(CancellationToken.None));

        Assert.Equal("heuristic (server:m failed: HttpRequestException: connection refused)", (await store.GetAsync(id, CancellationToken.None))!.ExtractedBy);
        Assert.Equal(3, await database.ScalarAsync<long>("SELECT attempts FROM extraction_jobs WHERE signal_id = @id", new { id }));
        Assert.Equal(1, (await store.ModelFailuresAsync(CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Whatever_an_extractor_returns_is_redacted_and_bounded_before_it_is_stored()
    {
        await using var database = await TestDatabase.CreateAsync();
        var id = await database.AddSignalAsync("No.");
        var leaky = new SignalIssue("Mail ops@corp.example " + new string('p', 1000), "r", "e", "urgent", 3, "server:m") { EvidenceQuote = "AKIA" + "ABCDEFGHIJKLMNOP" };
        var store = new IssueStore(database.Db, _time);

        await Runner(database, new FixedExtractor(leaky), store).RunOnceAsync(CancellationToken.None);

        var issue = (await store.GetAsync(id, CancellationToken.None))!;
        Assert.StartsWith("Mail [REDACTED:email]", issue.ProblemPattern);
        Assert.True(issue.ProblemPattern.Length <= 300);
        Assert.Equal("[REDACTED:aws-key]", issue.EvidenceQuote);
        Assert.Equal("medium", issue.Severity);
        Assert.Equal(1, issue.Confidence);
    }

    [Fact]
    public async Task A_signal_that_already_has_an_issue_is_not_queued_and_only_the_servers_issue_replaces_a_clients()
    {
        await using var database = await TestDatabase.CreateAsync();
        var id = await database.AddSignalAsync("No.");
        var store = new IssueStore(database.Db, _time);
        await store.CompleteAsync(id, new SignalIssue("p", "r", "e", "low", 0.9, "client:claude"), CancellationToken.None);

        Assert.Equal(0, await store.EnqueueNewAsync(CancellationToken.None));
        // A client's issue does not outrank the server's own extraction: the server's replaces it, never the reverse.
        Assert.True(await store.CompleteAsync(id, new SignalIssue("other", "r", "e", "low", 0.9, "heuristic"), CancellationToken.None));
        Assert.False(await store.CompleteAsync(id, new SignalIssue("third", "r", "e", "low", 0.9, "client:copilot"), CancellationToken.None));
        Assert.False(await store.CompleteAsync(id, new SignalIssue("fourth", "r", "e", "low", 0.9, "model:x"), CancellationToken.None));
        Assert.Equal(("heuristic", "other"), ((await store.GetAsync(id, CancellationToken.None))!.ExtractedBy, (await store.GetAsync(id, CancellationToken.None))!.ProblemPattern));
    }

    private sealed class Source(IIssueExtractor extractor) : IIssueExtractorSource
    {
        public IIssueExtractor GetExtractor() => extractor;
    }

    private sealed class ThrowingExtractor(Exception error) : IIssueExtractor
    {
        public int Calls { get; private set; }

        public string ExtractedBy => "server:m";

        public Task<SignalIssue> ExtractAsync(ExtractionRequest request, CancellationToken cancellationToken)
        {
            Calls++;
            return Task.FromException<SignalIssue>(error);
        }
    }

    private sealed class FixedExtractor(SignalIssue issue) : IIssueExtractor
    {
        public string ExtractedBy => issue.ExtractedBy;

        public Task<SignalIssue> ExtractAsync(ExtractionRequest request, CancellationToken cancellationToken) => Task.FromResult(issue);
    }
}

public sealed class ExtractionJobRunnerServiceTests
{
    [Fact]
    public async Task The_background_service_extracts_signals_announced_by_ingest_and_stops_cleanly()
    {
        await using var database = await TestDatabase.CreateAsync();
        var state = new DatabaseState();
        state.MarkReady(Migrations.Latest);
        var feed = new SignalFeed();
        var store = new IssueStore(database.Db, TimeProvider.System);
        // A long poll interval: only the ingest notification can wake the runner in time.
        var runner = new ExtractionJobRunner(store, new HeuristicSource(), state, feed, new IngestActivity(TimeProvider.System), TimeProvider.System,
            Options.Create(new ExtractionOptions { PollInterval = TimeSpan.FromHours(1) }), NullLogger<ExtractionJobRunner>.Instance);

        await runner.StartAsync(CancellationToken.None);
        var id = await database.AddSignalAsync("Use pnpm instead of npm.");
        while (feed.SubscriberCount == 0)
        {
            await Task.Delay(10);
        }

        feed.Publish([new SignalView(id, "claude", "s1", "t", "Use pnpm instead of npm.", "p", "deploy", null, 0.9, "u", DateTimeOffset.UtcNow, null, null)]);
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await store.GetAsync(id, patience.Token) is null)
        {
            await Task.Delay(20, patience.Token);
        }

        await runner.StopAsync(CancellationToken.None);
        Assert.Equal(new ExtractionCounts(0, 0, 1, 0), await store.CountsAsync(CancellationToken.None));
    }

    private sealed class HeuristicSource : IIssueExtractorSource
    {
        public IIssueExtractor GetExtractor() => new HeuristicIssueExtractor();
    }
}
