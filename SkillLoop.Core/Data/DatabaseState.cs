namespace SkillLoop.Core.Data;

/// <summary>Set once the database is open and migrated; /healthz answers 200 from then on.</summary>
public sealed class DatabaseState
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsReady => _ready.Task.IsCompleted;

    public int SchemaVersion { get; private set; }

    /// <summary>Completes when the database is migrated: background work starts on it, not before.</summary>
    public Task WhenReadyAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    internal void MarkReady(int schemaVersion)
    {
        SchemaVersion = schemaVersion;
        _ready.TrySetResult();
    }
}
