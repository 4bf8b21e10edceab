namespace SkillLoop.Core.Ai.MiniLm;

/// <summary>
/// When the embedding model's freed native memory goes back to the OS (<see cref="LinuxMemory.Trim"/>): once the model
/// has been idle for <see cref="IdleDelay"/>, and at most every <see cref="BusyInterval"/> while batches keep coming.
/// Trimming after every batch kept the resident set at its floor but cost half the pipeline's CPU while a backlog was
/// worked off: glibc's <c>malloc_trim</c> drops every free page of every arena (<c>madvise</c>, a TLB flush on each
/// core), and the next batch faults the same pages back in (one signal per batch: 45–62 signals/s at 1.2 cores,
/// against 99–111 at 1.0 without it). A trim never runs during a batch: it takes the model's gate, or waits for the
/// next quiet moment.
/// </summary>
internal sealed class TrimSchedule : IDisposable
{
    public static readonly TimeSpan IdleDelay = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan BusyInterval = TimeSpan.FromSeconds(30);

    private readonly Action _trim;
    private readonly SemaphoreSlim _gate;
    private readonly TimeProvider _time;
    private readonly ITimer _idle;
    private readonly Lock _lock = new();
    private DateTimeOffset _lastTrim;
    private bool _disposed;

    /// <param name="trim">Gives the memory back.</param>
    /// <param name="gate">Held by a batch while it runs; a trim takes it too.</param>
    public TrimSchedule(Action trim, SemaphoreSlim gate, TimeProvider time)
    {
        _trim = trim;
        _gate = gate;
        _time = time;
        _lastTrim = time.GetUtcNow();
        _idle = time.CreateTimer(_ => TrimIfQuiet(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>How many times memory was given back (tests and benchmarks).</summary>
    public int Trims { get; private set; }

    /// <summary>Called by a batch as it ends, with the gate still held.</summary>
    public void BatchEnded()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            if (_time.GetUtcNow() - _lastTrim >= BusyInterval)
            {
                TrimNow(); // a long backlog: the resident set must not keep the peak of its largest batch for minutes
            }

            _idle.Change(IdleDelay, Timeout.InfiniteTimeSpan); // each batch pushes the idle trim back
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _idle.Dispose();
        }
    }

    private void TrimIfQuiet()
    {
        // A batch under way (or starting) holds the gate; its end schedules the trim again.
        try
        {
            if (_disposed || !_gate.Wait(0))
            {
                return;
            }
        }
        catch (ObjectDisposedException)
        {
            return; // the generator was disposed while this callback was on its way
        }

        try
        {
            lock (_lock)
            {
                if (!_disposed)
                {
                    TrimNow();
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private void TrimNow()
    {
        _trim();
        _lastTrim = _time.GetUtcNow();
        Trims++;
    }
}
