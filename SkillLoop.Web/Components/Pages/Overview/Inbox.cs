using SkillLoop.Core.Access;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Proposals;
using SkillLoop.Core.Registry;

namespace SkillLoop.Web.Components.Pages.Overview;

/// <summary>What needs someone now: the Overview's inbox and the menu's badges.</summary>
public sealed record InboxItems(
    IReadOnlyList<ProposalSummary> InReview,
    IReadOnlyList<ClusterSummary> AtThreshold,
    IReadOnlyList<MergeSuggestion> SuggestedMerges,
    IReadOnlyList<RefusedClient> RefusedClients,
    long OpenClusters)
{
    public static readonly InboxItems Empty = new([], [], [], [], 0);

    public int Total => InReview.Count + AtThreshold.Count + SuggestedMerges.Count + RefusedClients.Count;
}

/// <summary>The four first-run steps (Renovate-style checklist on an empty Overview).</summary>
public sealed record GettingStarted(bool Registry, bool Token, bool ClientInstalled, bool FirstSignal)
{
    public bool Done => Registry && Token && ClientInstalled && FirstSignal;
}

/// <summary>
/// Reads the inbox for the Overview and the menu badges, and says when it may have changed (a proposal, a cluster, a
/// refused client): subscribers redraw, reading at most once per <see cref="MinInterval"/> (a flood of signals raises
/// cluster changes many times a second, and merge suggestions compare centroids).
/// </summary>
public sealed class Inbox : IDisposable
{
    public const int ListLimit = 50;
    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(2);

    private readonly ProposalStore _proposals;
    private readonly ClusterStore _clusters;
    private readonly ClusterEvents _clusterEvents;
    private readonly RefusedPosts _refused;
    private readonly RegistryStore _registries;
    private readonly AccessAdmin _access;
    private readonly SignalStore _signals;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private InboxItems? _cached;
    private DateTimeOffset _cachedAt;

    public Inbox(ProposalStore proposals, ClusterStore clusters, ClusterEvents clusterEvents, RefusedPosts refused,
        RegistryStore registries, AccessAdmin access, SignalStore signals, TimeProvider time)
    {
        (_proposals, _clusters, _clusterEvents, _refused, _registries, _access, _signals, _time) =
            (proposals, clusters, clusterEvents, refused, registries, access, signals, time);
        _proposals.Changed += OnProposalChanged;
        _clusterEvents.Changed += OnChanged;
        _refused.Changed += OnChanged;
    }

    /// <summary>Raised when the inbox may have changed; handlers re-read with <see cref="ReadAsync"/>.</summary>
    public event Action? Changed;

    public async Task<InboxItems> ReadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_cached is { } cached && _time.GetUtcNow() - _cachedAt < MinInterval)
            {
                return cached;
            }

            var inReview = (await _proposals.QueryAsync("review", 0, ListLimit, cancellationToken)).Items;
            var atThreshold = await _clusters.AtThresholdAsync(ListLimit, cancellationToken);
            var merges = await _clusters.SuggestMergesAsync(ListLimit, cancellationToken);
            var open = await _clusters.CountOpenWithoutFixAsync(cancellationToken);
            _cached = new InboxItems(inReview, atThreshold, merges, _refused.Recent().Take(ListLimit).ToList(), open);
            _cachedAt = _time.GetUtcNow();
            return _cached;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<GettingStarted> GettingStartedAsync(CancellationToken cancellationToken)
    {
        var registries = await _registries.ListAsync(cancellationToken);
        var keys = (await _access.ListKeysAsync(cancellationToken)).Where(k => k.Kind == ApiKeyKinds.Ingest).ToList();
        return new GettingStarted(
            registries.Count > 0,
            keys.Any(k => k.RevokedAt is null),
            // A client's install checks its token against the server, so a used ingest token means an installed client.
            keys.Any(k => k.LastUsedAt is not null),
            await _signals.CountAsync(cancellationToken) > 0);
    }

    private void OnProposalChanged(long _) => OnChanged();

    private void OnChanged()
    {
        _cached = null;
        Changed?.Invoke();
    }

    public void Dispose()
    {
        _proposals.Changed -= OnProposalChanged;
        _clusterEvents.Changed -= OnChanged;
        _refused.Changed -= OnChanged;
        _gate.Dispose();
    }
}
