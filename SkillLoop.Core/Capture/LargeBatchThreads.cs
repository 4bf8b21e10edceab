namespace SkillLoop.Core.Capture;

/// <summary>
/// Where a large signal batch (an old client's first read of a long session: megabytes of turns) is parsed and
/// redacted: threads of lowered OS priority (nice <see cref="PipelineScheduler.LoweredNice"/> on Linux), never the
/// thread pool that serves the other requests (issue 16, item 13). Such a batch costs a few hundred milliseconds of
/// CPU; on the pool it held a core that another client's small post then waited for. At lowered priority the small
/// post gets the core at once and the large batch continues in the gaps: the client sending it may slow down, the
/// others do not. With nothing else to run the threads take whole cores, so a large batch on an idle server is not
/// slower. Continuations of the work (after an await) come back here too, unless they opt out: the write turns do
/// (<see cref="SignalIngestor"/>), since a thread of nice 10 must not hold the write lock others wait for.
/// </summary>
public sealed class LargeBatchThreads : TaskScheduler, IDisposable
{
    public const string ThreadName = "Ingest (low)"; // Linux keeps 15 characters of a thread name

    private readonly System.Collections.Concurrent.BlockingCollection<Task> _queue = [];

    [ThreadStatic]
    private static LargeBatchThreads? _current;

    public LargeBatchThreads()
    {
        // One per core: several tokens' large batches (each token sends one at a time) use the cores nobody else wants.
        for (var i = 0; i < MaximumConcurrencyLevel; i++)
        {
            new Thread(Work) { IsBackground = true, Name = ThreadName }.Start();
        }
    }

    public override int MaximumConcurrencyLevel => Math.Max(1, Environment.ProcessorCount);

    private long _handedOver;

    /// <summary>How many pieces of work <see cref="RunAsync"/> was given (the dashboard's tests see large posts come here).</summary>
    public long HandedOver => Interlocked.Read(ref _handedOver);

    /// <summary>
    /// Runs <paramref name="work"/>, and every continuation of it that does not opt out, on these threads. The caller
    /// resumes on the thread pool, never inline on one of these threads (the request pipeline after the handler, or the
    /// next request of the connection, would otherwise run at lowered priority).
    /// </summary>
    public async Task RunAsync(Func<Task> work)
    {
        Interlocked.Increment(ref _handedOver);
        await Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this).Unwrap()
            .ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
    }

    public void Dispose() => _queue.CompleteAdding();

    protected override void QueueTask(Task task) => _queue.Add(task);

    // A request thread never runs this work inline (it would run at the request thread's priority).
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        _current == this && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray();

    private void Work()
    {
        _current = this;
        PipelineScheduler.LowerPriority();
        foreach (var task in _queue.GetConsumingEnumerable())
        {
            TryExecuteTask(task);
        }
    }
}
