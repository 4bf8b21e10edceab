namespace SkillLoop.Core.Data;

/// <summary>Set once the database is open and migrated; /healthz answers 200 from then on.</summary>
public sealed class DatabaseState
{
    private volatile bool _ready;

    public bool IsReady => _ready;

    public int SchemaVersion { get; private set; }

    internal void MarkReady(int schemaVersion)
    {
        SchemaVersion = schemaVersion;
        _ready = true;
    }
}
