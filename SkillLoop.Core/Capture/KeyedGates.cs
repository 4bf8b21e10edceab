namespace SkillLoop.Core.Capture;

/// <summary>
/// One holder per key at a time (an async lock per key), with nothing kept for keys nobody holds or waits for: ingest
/// takes one per session, so a batch written in several write turns is never interleaved with another of its session.
/// </summary>
internal sealed class KeyedGates
{
    private readonly Dictionary<string, Gate> _gates = new(StringComparer.Ordinal);

    public async Task<IDisposable> EnterAsync(string key, CancellationToken cancellationToken)
    {
        Gate gate;
        lock (_gates)
        {
            if (!_gates.TryGetValue(key, out gate!))
            {
                _gates[key] = gate = new Gate(this, key);
            }

            gate.Users++;
        }

        try
        {
            await gate.Semaphore.WaitAsync(cancellationToken);
        }
        catch
        {
            Leave(gate);
            throw;
        }

        return new Held(gate);
    }

    /// <summary>Keys held or waited for (for tests: nothing is left behind).</summary>
    public int Count
    {
        get
        {
            lock (_gates)
            {
                return _gates.Count;
            }
        }
    }

    private void Leave(Gate gate)
    {
        lock (_gates)
        {
            if (--gate.Users == 0)
            {
                _gates.Remove(gate.Key);
            }
        }
    }

    private sealed class Gate(KeyedGates owner, string key)
    {
        public KeyedGates Owner { get; } = owner;
        public string Key { get; } = key;
        public SemaphoreSlim Semaphore { get; } = new(1, 1);
        public int Users { get; set; }
    }

    private sealed class Held(Gate gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Semaphore.Release();
                gate.Owner.Leave(gate);
            }
        }
    }
}
