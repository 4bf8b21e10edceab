using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace SkillLoop.Core.Capture;

/// <summary>
/// Where the background pipeline (extraction, clustering, the embedding model) runs its CPU work: its own threads, never
/// the thread pool that serves requests. Capture comes first (issue 16, item 13): while clients are posting
/// (<see cref="IngestActivity.IsBusy"/>) the work is taken by threads of lowered OS priority (nice
/// <see cref="LoweredNice"/> on Linux), so a waiting request gets a core at once instead of after the model's time
/// slice; with no client posting it is taken by threads of normal priority, so the backlog is worked off at full speed
/// even on a machine shared with other processes. (A thread can lower its own priority but not raise it back without
/// privileges, hence two sets of threads.) <see cref="IngestActivity.GiveWayAsync"/> still decides how often the
/// pipeline takes a step while clients post; this decides who gets the CPU during the step.
/// </summary>
public sealed partial class PipelineScheduler : TaskScheduler, IDisposable
{
    /// <summary>The nice value of the threads that work while clients post (CFS weight 110 against 1024 for requests).</summary>
    public const int LoweredNice = 10;

    public const string NormalThreadName = "Pipeline"; // Linux keeps 15 characters of a thread name
    public const string LoweredThreadName = "Pipeline (low)";

    private readonly IngestActivity _activity;
    private readonly BlockingCollection<Task> _queue = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Thread> _threads = [];

    [ThreadStatic]
    private static PipelineScheduler? _current;

    [ThreadStatic]
    private static bool _lowered;

    public PipelineScheduler(IngestActivity activity)
    {
        _activity = activity;
        // As many threads as the model runs side by side (one per core), of each priority.
        foreach (var lowered in new[] { false, true })
        {
            for (var i = 0; i < Math.Max(1, Environment.ProcessorCount); i++)
            {
                var thread = new Thread(() => Work(lowered)) { IsBackground = true, Name = lowered ? LoweredThreadName : NormalThreadName };
                thread.Start();
                _threads.Add(thread);
            }
        }
    }

    public override int MaximumConcurrencyLevel => Math.Max(1, Environment.ProcessorCount);

    /// <summary>Whether the calling thread is one of this scheduler's lowered-priority threads.</summary>
    public static bool OnLoweredThread => _current is not null && _lowered;

    /// <summary>Runs <paramref name="work"/> (and every continuation of it that does not opt out) on the pipeline's threads.</summary>
    public Task RunAsync(Func<Task> work, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    /// <inheritdoc cref="RunAsync(Func{Task}, CancellationToken)"/>
    public Task<T> RunAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    public void Dispose()
    {
        _queue.CompleteAdding();
        _stop.Cancel();
    }

    protected override void QueueTask(Task task) => _queue.Add(task);

    // A request thread never runs pipeline work inline; a pipeline thread may (Parallel.For runs a part on its caller and
    // waits for the rest: running a queued part itself means it never waits for a thread). A task runs once: the thread
    // that takes it from the queue later finds it done.
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        _current == this && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray();

    private void Work(bool lowered)
    {
        _current = this;
        _lowered = lowered;
        if (lowered)
        {
            LowerPriority();
        }

        try
        {
            while (!_queue.IsCompleted)
            {
                // Each set takes work only in its own situation; a task left in the queue when the situation changes is
                // taken by the other set within one poll.
                if (_activity.IsBusy != lowered)
                {
                    _stop.Token.WaitHandle.WaitOne(IngestActivity.Quiet);
                    continue;
                }

                if (_queue.TryTake(out var task, (int)IngestActivity.Quiet.TotalMilliseconds, _stop.Token))
                {
                    TryExecuteTask(task);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed: the server is stopping.
        }
    }

    /// <summary>Lowers the calling thread's priority to nice <see cref="LoweredNice"/> (BelowNormal off Linux); for good: it cannot be raised back.</summary>
    internal static void LowerPriority()
    {
        try
        {
            if (OperatingSystem.IsLinux())
            {
                // PRIO_PROCESS with a thread id sets that thread's nice value on Linux.
                _ = SetPriority(0, GetThreadId(), LoweredNice);
            }
            else
            {
                Thread.CurrentThread.Priority = ThreadPriority.BelowNormal;
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or PlatformNotSupportedException)
        {
            // Not glibc (musl, say): the threads keep normal priority and only the turn-taking applies.
        }
    }

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetThreadId();
}
