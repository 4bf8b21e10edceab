namespace SkillLoop.Tests.Fakes;

/// <summary>Records, in order, which of its <see cref="Item"/>s were disposed.</summary>
public sealed class DisposalLog
{
    private readonly List<string> _disposed = [];

    public IReadOnlyList<string> Disposed
    {
        get
        {
            lock (_disposed)
            {
                return [.. _disposed];
            }
        }
    }

    public IDisposable Item(string name) => new Tracked(this, name);

    private sealed class Tracked(DisposalLog log, string name) : IDisposable
    {
        public void Dispose()
        {
            lock (log._disposed)
            {
                log._disposed.Add(name);
            }
        }
    }
}
