using SkillLoop.Core.Capture;

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
    }

    private static async Task<T> RunAsync<T>(LargeBatchThreads threads, Func<Task<T>> work)
    {
        var result = default(T)!;
        await threads.RunAsync(async () => result = await work());
        return result;
    }
}
