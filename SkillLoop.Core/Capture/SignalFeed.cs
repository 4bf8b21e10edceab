using System.Collections.Immutable;

namespace SkillLoop.Core.Capture;

/// <summary>
/// In-process broadcast of newly stored signals to live views (dashboard circuits).
/// Subscribe, and dispose the returned handle when the view goes away.
/// </summary>
public sealed class SignalFeed
{
    private ImmutableArray<Func<IReadOnlyList<SignalView>, Task>> _subscribers = [];

    public IDisposable Subscribe(Func<IReadOnlyList<SignalView>, Task> onSignals)
    {
        ImmutableInterlocked.Update(ref _subscribers, list => list.Add(onSignals));
        return new Subscription(this, onSignals);
    }

    public int SubscriberCount => _subscribers.Length;

    /// <summary>Notifies every subscriber; a failing subscriber never affects ingest or the others.</summary>
    public void Publish(IReadOnlyList<SignalView> signals)
    {
        if (signals.Count == 0)
        {
            return;
        }

        foreach (var subscriber in _subscribers)
        {
            _ = NotifyAsync(subscriber, signals);
        }
    }

    private static async Task NotifyAsync(Func<IReadOnlyList<SignalView>, Task> subscriber, IReadOnlyList<SignalView> signals)
    {
        try
        {
            await subscriber(signals);
        }
        catch (Exception)
        {
            // A view that has gone away (closed circuit) must not break ingest; it unsubscribes on dispose.
        }
    }

    private sealed class Subscription(SignalFeed feed, Func<IReadOnlyList<SignalView>, Task> onSignals) : IDisposable
    {
        public void Dispose() => ImmutableInterlocked.Update(ref feed._subscribers, list => list.Remove(onSignals));
    }
}
