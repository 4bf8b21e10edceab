namespace SkillLoop.Core.Capture;

/// <summary>
/// Capture comes first. While clients are posting, the background stages (extraction, clustering) give way between
/// their steps, so ingest has the cores and the write lock; they catch up in the gaps, and a steady flood still lets
/// one step through every second.
/// </summary>
public sealed class IngestActivity(TimeProvider time)
{
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(1);

    private long _lastIngest = long.MinValue;

    public void MarkIngest() => Volatile.Write(ref _lastIngest, time.GetTimestamp());

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
            var last = Volatile.Read(ref _lastIngest);
            return last != long.MinValue && time.GetElapsedTime(last) < Quiet;
        }
    }
}
