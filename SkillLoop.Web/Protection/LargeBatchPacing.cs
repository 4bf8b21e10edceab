using System.Collections.Concurrent;

namespace SkillLoop.Web.Protection;

/// <summary>
/// A credential's large signal batches take at most a fair share of the server's time (issue 16, item 13): after one
/// is processed, the credential's next starts only once <see cref="PauseFactor"/> times as long has passed. Lowered
/// priority alone did not protect the other clients: a flood of 8 MB batches still took ~0.4 cores of parsing and
/// redaction, the requests' receiving, and GC pauses of 4-40 ms that stop every thread, so the others' p95 went to
/// ~4x. Whatever made one batch slow (its size, a busy machine, the write lock) lengthens the pause with it. An old
/// client's first read of a long session, or a team posting through one token, still gets several megabytes a second
/// through; the wait happens before the body is read, so a waiting batch holds no memory and no core.
/// </summary>
public sealed class LargeBatchPacing(TimeProvider time)
{
    /// <summary>The pause after a large batch, in multiples of its processing time: a fifth of the time at most.</summary>
    public const int PauseFactor = 4;

    // Credential → the timestamp (of `time`) before which its next large batch does not start.
    private readonly ConcurrentDictionary<string, long> _notBefore = new();

    /// <summary>Credentials with a pause set (the tests see the map stay small).</summary>
    internal int Remembered => _notBefore.Count;

    /// <summary>How long <paramref name="credential"/>'s next large batch still has to wait (zero: none).</summary>
    public TimeSpan WaitFor(string credential) =>
        _notBefore.TryGetValue(credential, out var notBefore) && notBefore - time.GetTimestamp() is > 0 and var ticks
            ? TimeSpan.FromSeconds((double)ticks / time.TimestampFrequency)
            : TimeSpan.Zero;

    /// <summary>Waits until <paramref name="credential"/> may start its next large batch.</summary>
    public async Task WaitTurnAsync(string credential, CancellationToken cancellationToken)
    {
        if (WaitFor(credential) is { Ticks: > 0 } wait)
        {
            await Task.Delay(wait, time, cancellationToken);
        }
    }

    /// <summary>
    /// Runs <paramref name="process"/> (one large batch of <paramref name="credential"/>, its body already received)
    /// and sets the pause its time asks for, whether it succeeded or not: a refused batch cost the time as well.
    /// </summary>
    public async Task ProcessAsync(string credential, Func<Task> process)
    {
        var started = time.GetTimestamp();
        try
        {
            await process();
        }
        finally
        {
            var now = time.GetTimestamp();
            _notBefore[credential] = now + (now - started) * PauseFactor;
            Forget(now);
        }
    }

    /// <summary>Credentials whose pause is over are dropped now and then, so the map holds only recent ones.</summary>
    private void Forget(long now)
    {
        if (_notBefore.Count < 64)
        {
            return;
        }

        foreach (var (credential, notBefore) in _notBefore)
        {
            if (notBefore <= now)
            {
                _notBefore.TryRemove(new KeyValuePair<string, long>(credential, notBefore));
            }
        }
    }
}
