namespace SkillLoop.Core.Capture;

/// <summary>
/// Capture comes first. While clients are posting (a signal post in flight, or one that arrived or ended within
/// <see cref="Quiet"/>), the background stages (extraction, clustering) give way between their steps, so ingest has the
/// cores and the write lock, and their work runs at lowered priority (<see cref="PipelineScheduler"/>); they catch up
/// in the gaps, and a steady flood still lets one step through every second.
/// </summary>
public sealed class IngestActivity(TimeProvider time)
{
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(1);

    private long _lastIngest = long.MinValue;
    private int _inFlight;

    public void MarkIngest() => Volatile.Write(ref _lastIngest, time.GetTimestamp());

    /// <summary>
    /// A signal post from its first byte to its answer: an 8 MB batch spends a few hundred milliseconds in parsing and
    /// redaction before <see cref="MarkIngest"/> and in its write turns after it, all of it a client waiting.
    /// </summary>
    public IDisposable BeginPost()
    {
        Interlocked.Increment(ref _inFlight);
        MarkIngest();
        return new Post(this);
    }

    /// <summary>Waits until no batch has arrived for <see cref="Quiet"/>, or <see cref="MaxWait"/> at most.</summary>
    public async Task GiveWayAsync(CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (IsBusy && time.GetElapsedTime(started) < MaxWait)
        {
            await Task.Delay(Quiet, time, cancellationToken);
        }
    }

    /// <summary>Whether a batch arrived within the last <see cref="Quiet"/>.</summary>
    public bool IsBusy
    {
        get
        {
            if (Volatile.Read(ref _inFlight) > 0)
            {
                return true;
            }

            var last = Volatile.Read(ref _lastIngest);
            return last != long.MinValue && time.GetElapsedTime(last) < Quiet;
        }
    }

    private sealed class Post(IngestActivity activity) : IDisposable
    {
        private int _ended;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                activity.MarkIngest(); // the quiet period starts when the answer leaves, not when the post arrived
                Interlocked.Decrement(ref activity._inFlight);
            }
        }
    }
}
