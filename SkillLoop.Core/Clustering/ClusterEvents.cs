namespace SkillLoop.Core.Clustering;

/// <summary>
/// Raised whenever clusters change (signals assigned, consolidation, an admin's merge, noise or move-out), so the
/// dashboard's Clusters page and menu badges redraw without polling.
/// </summary>
public sealed class ClusterEvents
{
    public event Action? Changed;

    public void Raise() => Changed?.Invoke();
}
