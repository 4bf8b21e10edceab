using System.Globalization;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Tests.Clustering;
using SkillLoop.Tests.Extraction;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Capture;

/// <summary>
/// Issue 16, item 13: the background pipeline never takes the thread pool that serves requests, and while clients post
/// its work runs at lowered priority, so a waiting request gets a core first. Thread names and nice values are read,
/// not timed.
/// </summary>
public sealed class PipelineSchedulerTests
{
    private readonly StoppedClock _time = new();

    [Fact]
    public async Task While_a_client_posts_pipeline_work_runs_on_a_thread_of_lowered_priority()
    {
        var activity = new IngestActivity(_time);
        activity.MarkIngest(); // the clock stands still: a client is posting for the whole test
        using var pipeline = new PipelineScheduler(activity);

        var (name, nice) = await pipeline.RunAsync(() => Task.FromResult(CurrentThread()), CancellationToken.None);

        Assert.Equal(PipelineScheduler.LoweredThreadName, name);
        Assert.True(nice >= PipelineScheduler.LoweredNice, $"nice {nice}");
    }

    [Fact]
    public async Task With_no_client_posting_pipeline_work_runs_at_normal_priority_on_its_own_threads()
    {
        using var pipeline = new PipelineScheduler(new IngestActivity(_time));
        var ownNice = CurrentThread().Nice;

        var (name, nice) = await pipeline.RunAsync(() => Task.FromResult(CurrentThread()), CancellationToken.None);

        Assert.Equal(PipelineScheduler.NormalThreadName, name);
        Assert.Equal(ownNice, nice);
    }

    [Fact]
    public async Task Work_resumed_after_an_await_and_parallel_parts_stay_on_the_pipeline_threads()
    {
        var activity = new IngestActivity(_time);
        activity.MarkIngest();
        using var pipeline = new PipelineScheduler(activity);

        var names = await pipeline.RunAsync(async () =>
        {
            var seen = new System.Collections.Concurrent.ConcurrentBag<string?>();
            await Task.Delay(1);
            seen.Add(Thread.CurrentThread.Name);
            await Task.Yield();
            seen.Add(Thread.CurrentThread.Name);
            // As the embedding model runs its parts: on the caller's scheduler.
            Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 4, TaskScheduler = TaskScheduler.Current }, _ => seen.Add(Thread.CurrentThread.Name));
            return seen.ToList();
        }, CancellationToken.None);

        Assert.Equal(66, names.Count);
        Assert.All(names, n => Assert.Equal(PipelineScheduler.LoweredThreadName, n));
    }

    [Fact]
    public async Task The_extraction_service_extracts_on_the_pipeline_threads()
    {
        await using var database = await TestDatabase.CreateAsync();
        var state = new DatabaseState();
        state.MarkReady(Migrations.Latest);
        var feed = new SignalFeed();
        var store = new IssueStore(database.Db, TimeProvider.System);
        var activity = new IngestActivity(TimeProvider.System);
        using var pipeline = new PipelineScheduler(activity);
        var extractor = new RecordingExtractor();
        var runner = new ExtractionJobRunner(store, extractor, state, feed, activity, TimeProvider.System,
            Options.Create(new ExtractionOptions { PollInterval = TimeSpan.FromMilliseconds(50) }), NullLogger<ExtractionJobRunner>.Instance,
            pipeline: pipeline);
        var id = await database.AddSignalAsync("Use pnpm instead of npm.");

        await runner.StartAsync(CancellationToken.None);
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await store.GetAsync(id, patience.Token) is null)
        {
            await Task.Delay(20, patience.Token);
        }

        await runner.StopAsync(CancellationToken.None);
        Assert.StartsWith(PipelineScheduler.NormalThreadName, extractor.ThreadName); // either priority: a pipeline thread
    }

    [Fact]
    public async Task The_clustering_service_embeds_on_the_pipeline_threads_and_hands_its_scheduler_to_the_model()
    {
        var embedder = new RecordingEmbedder();
        await using var core = await ClustererTests.StartAsync(sqliteVec: true, embedder);
        await ClustererTests.StoreAsync(core, "ann", "pdf-report", "the totals row must stay at the bottom");
        while (await core.Get<ExtractionJobRunner>().RunOnceAsync(CancellationToken.None) > 0)
        {
        }

        var runner = core.Get<ClusteringJobRunner>();
        await runner.StartAsync(CancellationToken.None);
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while ((await runner.QueueAsync(patience.Token)).Pending > 0)
        {
            await Task.Delay(20, patience.Token);
        }

        await runner.StopAsync(CancellationToken.None);
        // Either priority (ingest was busy a moment ago): a pipeline thread, not the request threads' pool.
        Assert.StartsWith(PipelineScheduler.NormalThreadName, embedder.ThreadName);
        Assert.Same(core.Get<PipelineScheduler>(), embedder.Scheduler);
    }

    /// <summary>The calling thread's name and nice value (Linux: /proc/thread-self/stat, field 19).</summary>
    internal static (string? Name, int Nice) CurrentThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return (Thread.CurrentThread.Name, Thread.CurrentThread.Priority < ThreadPriority.Normal ? PipelineScheduler.LoweredNice : 0);
        }

        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (Thread.CurrentThread.Name, int.Parse(fields[16], CultureInfo.InvariantCulture));
    }

    /// <summary>A monotonic clock that never moves: a client that posted once is posting for the whole test.</summary>
    private sealed class StoppedClock : TimeProvider
    {
        public override long GetTimestamp() => 1;
    }

    private sealed class RecordingExtractor : IIssueExtractorSource, IIssueExtractor
    {
        public volatile string? ThreadName;

        public string ExtractedBy => "recording";

        public IIssueExtractor GetExtractor() => this;

        public Task<SignalIssue> ExtractAsync(ExtractionRequest request, CancellationToken cancellationToken)
        {
            ThreadName = Thread.CurrentThread.Name;
            return Task.FromResult(HeuristicIssueExtractor.Extract(request));
        }
    }

    private sealed class RecordingEmbedder : IEmbeddingGenerator<string, Embedding<float>>
    {
        private readonly BagOfWordsEmbeddingGenerator _inner = new();

        public volatile string? ThreadName;
        public volatile TaskScheduler? Scheduler;

        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            ThreadName = Thread.CurrentThread.Name;
            Scheduler = TaskScheduler.Current;
            return _inner.GenerateAsync(values, options, cancellationToken);
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => _inner.GetService(serviceType, serviceKey);

        public void Dispose() => _inner.Dispose();
    }
}
