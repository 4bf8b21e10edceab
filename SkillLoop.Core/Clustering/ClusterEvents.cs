namespace SkillLoop.Core.Clustering;

/// <summary>
/// Raised whenever clusters change (signals assigned, consolidation, an admin's merge, noise or move-out), so the
/// dashboard's Clusters page and menu badges redraw without polling.
/// </summary>
public sealed class ClusterEvents
{
    public event Action? Changed;

    /// <summary>Tells every listener; one that throws (a closed page) never stops clustering or the other listeners.</summary>
    public void Raise()
    {
        foreach (var handler in Changed?.GetInvocationList().Cast<Action>() ?? [])
        {
            try
            {
                handler();
            }
            catch (Exception)
            {
                // a listener's own failure: the dashboard redraws on the next change
            }
        }
    }
}
