using System.Collections.Concurrent;

namespace SkillLoop.Core.Capture;

/// <summary>One client whose posts the server refuses: who (token name, or the address of an unknown token), why, how often.</summary>
public sealed record RefusedClient(string Client, string Reason, int Status, long Count, DateTimeOffset LastAt);

/// <summary>
/// Clients whose posts were refused since the server started (a revoked token, an old client, a rate limit), so the
/// dashboard's inbox shows that someone's corrections are being lost. Kept in memory: the metric
/// <c>skillloop_posts_refused</c> is the durable record; this list only says who, and a restart clears it.
/// </summary>
public sealed class RefusedPosts(TimeProvider time)
{
    /// <summary>A client not refused for this long drops off the list (it was fixed or gave up).</summary>
    public static readonly TimeSpan Window = TimeSpan.FromDays(1);

    private const int MaxClients = 200;

    private readonly ConcurrentDictionary<string, RefusedClient> _clients = new(StringComparer.Ordinal);

    public event Action? Changed;

    public void Record(string client, string reason, int status)
    {
        var now = time.GetUtcNow();
        var isNew = !_clients.ContainsKey(client);
        _clients.AddOrUpdate(client, _ => new RefusedClient(client, reason, status, 1, now),
            (_, old) => old with { Reason = reason, Status = status, Count = old.Count + 1, LastAt = now });
        if (_clients.Count > MaxClients)
        {
            // A scan of random tokens must not grow this without bound: the oldest go first.
            foreach (var stale in _clients.Values.OrderBy(c => c.LastAt).Take(_clients.Count - MaxClients))
            {
                _clients.TryRemove(stale.Client, out _);
            }
        }

        if (isNew)
        {
            Changed?.Invoke();
        }
    }

    /// <summary>Refused within <see cref="Window"/>, most recent first.</summary>
    public IReadOnlyList<RefusedClient> Recent()
    {
        var since = time.GetUtcNow() - Window;
        return _clients.Values.Where(c => c.LastAt >= since).OrderByDescending(c => c.LastAt).ToList();
    }
}
