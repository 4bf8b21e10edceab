using SkillLoop.Core.Capture;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Capture;

/// <summary>
/// Issue 16, item 13: a large signal batch is parsed and stored at lowered priority, off the thread pool that serves
/// the other requests. Thread names and nice values are read, not timed.
/// </summary>
public sealed class LargeBatchThreadsTests
{
    [Fact]
    public async Task Work_and_its_continuations_run_on_threads_of_lowered_priority_off_the_thread_pool()
    {
        using var threads = new LargeBatchThreads();

        var seen = await RunAsync(threads, async () =>
        {
            var before = PipelineSchedulerTests.CurrentThread();
            await Task.Delay(1); // resumes from a timer: the continuation comes back to these threads
            var after = PipelineSchedulerTests.CurrentThread();
            return (before, after, Thread.CurrentThread.IsThreadPoolThread);
        });

        foreach (var (name, nice) in new[] { seen.before, seen.after })
        {
            Assert.Equal(LargeBatchThreads.ThreadName, name);
            Assert.True(nice >= PipelineScheduler.LoweredNice, $"nice {nice}");
        }

        Assert.False(seen.Item3);
        Assert.Equal(1, threads.HandedOver);
        // And the caller is back at its own priority.
        Assert.NotEqual(LargeBatchThreads.ThreadName, Thread.CurrentThread.Name);
    }

    [Fact]
    public async Task A_batch_parsed_at_lowered_priority_is_written_at_normal_priority_so_no_writer_waits_for_a_starved_thread()
    {
        await using var core = await TestCore.StartAsync();
        var threads = core.Get<LargeBatchThreads>();
        var ingestor = core.Get<SignalIngestor>();
        var ownNice = PipelineSchedulerTests.CurrentThread().Nice;
        (string? Name, int Nice) writer = default;
        // Told of the stored signals right after the last write turn, on the thread that wrote it.
        using var subscription = core.Get<SignalFeed>().Subscribe(_ =>
        {
            writer = PipelineSchedulerTests.CurrentThread();
            return Task.CompletedTask;
        });

        var result = await RunAsync(threads, () => ingestor.IngestAsync(SignalIngestorTests.Batch("lowered", 0, 10, corrections: "no, that's wrong"), CancellationToken.None));

        Assert.Equal((IngestOutcome.Stored, 1), (result.Outcome, result.Result.Accepted));
        Assert.NotEqual(LargeBatchThreads.ThreadName, writer.Name);
        Assert.Equal(ownNice, writer.Nice);
    }

    private static async Task<T> RunAsync<T>(LargeBatchThreads threads, Func<Task<T>> work)
    {
        var result = default(T)!;
        await threads.RunAsync(async () => result = await work());
        return result;
    }
}
