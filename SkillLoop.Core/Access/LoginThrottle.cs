namespace SkillLoop.Core.Access;

/// <summary>
/// Failed sign-ins counted per client address: per (address, user name) up to <see cref="MaxFailures"/>, and per address
/// across all names up to <see cref="MaxFailuresPerAddress"/> (so spraying many names is slowed too). Over either, that
/// address waits <see cref="Lockout"/>; everybody else, the account's owner included, signs in as usual, so a stranger
/// cannot lock an account for everyone. Attempts are reserved before the password is checked, under one lock, so
/// parallel attempts can never check more passwords than the limit allows. Unknown and existing names are treated the
/// same, so the answers tell nothing about which names exist.
/// </summary>
public sealed class LoginThrottle(TimeProvider time)
{
    public const int MaxFailures = 5;
    public const int MaxFailuresPerAddress = 20;
    public static readonly TimeSpan Lockout = TimeSpan.FromMinutes(15);

    // Past this many tracked keys, expired ones are dropped (names are chosen by strangers: the map must stay bounded).
    private const int PruneAbove = 10_000;

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Reserves an attempt; false when this address must wait. Every true must be followed by <see cref="Complete"/>.</summary>
    public bool TryBegin(string address, string name)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_entries.Count > PruneAbove)
            {
                Prune(now);
            }

            var pair = Get(PairKey(address, name), now);
            var whole = Get(AddressKey(address), now);
            if (!pair.Admits(MaxFailures, now) || !whole.Admits(MaxFailuresPerAddress, now))
            {
                return false;
            }

            pair.InFlight++;
            whole.InFlight++;
            return true;
        }
    }

    /// <summary>Ends an attempt begun with <see cref="TryBegin"/>: a success clears the name's failures from this address.</summary>
    public void Complete(string address, string name, bool succeeded)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            var pair = Get(PairKey(address, name), now);
            var whole = Get(AddressKey(address), now);
            pair.InFlight = Math.Max(0, pair.InFlight - 1);
            whole.InFlight = Math.Max(0, whole.InFlight - 1);
            if (succeeded)
            {
                // The address's total stays: signing in to one's own account must not reset a spray across other names.
                pair.Failures = 0;
                pair.LockedUntil = null;
                return;
            }

            pair.Fail(MaxFailures, now);
            whole.Fail(MaxFailuresPerAddress, now);
        }
    }

    /// <summary>Forgets a name's failures from every address (an admin set a new password).</summary>
    public void Forget(string name)
    {
        var suffix = "\n" + Normalize(name);
        lock (_lock)
        {
            foreach (var key in _entries.Keys.Where(k => k.EndsWith(suffix, StringComparison.Ordinal)).ToList())
            {
                _entries.Remove(key);
            }
        }
    }

    /// <summary>Until when the name is locked out from some address (the latest), or null: the Users page shows it.</summary>
    public DateTimeOffset? LockedUntil(string name)
    {
        var suffix = "\n" + Normalize(name);
        var now = time.GetUtcNow();
        lock (_lock)
        {
            return _entries.Where(e => e.Key.EndsWith(suffix, StringComparison.Ordinal) && e.Value.LockedUntil > now)
                .Select(e => e.Value.LockedUntil).Max();
        }
    }

    private Entry Get(string key, DateTimeOffset now)
    {
        if (!_entries.TryGetValue(key, out var entry))
        {
            _entries[key] = entry = new Entry();
        }

        entry.Expire(now);
        return entry;
    }

    private void Prune(DateTimeOffset now)
    {
        foreach (var (key, entry) in _entries.ToList())
        {
            entry.Expire(now);
            if (entry is { Failures: 0, InFlight: 0, LockedUntil: null })
            {
                _entries.Remove(key);
            }
        }
    }

    private static string PairKey(string address, string name) => address + "\n" + Normalize(name);

    private static string AddressKey(string address) => address;

    private static string Normalize(string name) => name.Trim().ToLowerInvariant();

    private sealed class Entry
    {
        public int Failures { get; set; }

        public int InFlight { get; set; }

        public DateTimeOffset LastFailure { get; set; }

        public DateTimeOffset? LockedUntil { get; set; }

        /// <summary>Counts failures and attempts under way: 40 parallel attempts check at most the limit's worth of passwords.</summary>
        public bool Admits(int max, DateTimeOffset now) => (LockedUntil is null || LockedUntil <= now) && Failures + InFlight < max;

        public void Fail(int max, DateTimeOffset now)
        {
            Failures++;
            LastFailure = now;
            if (Failures >= max)
            {
                LockedUntil = now + Lockout;
            }
        }

        /// <summary>A lockout that has ended, or failures older than the lockout period, start the count afresh.</summary>
        public void Expire(DateTimeOffset now)
        {
            if (LockedUntil is { } until && until <= now)
            {
                LockedUntil = null;
                Failures = 0;
            }

            if (Failures > 0 && LockedUntil is null && now - LastFailure >= Lockout)
            {
                Failures = 0;
            }
        }
    }
}
