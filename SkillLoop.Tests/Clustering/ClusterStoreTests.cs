using SkillLoop.Core.Clustering;
using SkillLoop.Core.Detection;
using static SkillLoop.Tests.Clustering.ClustererTests;

namespace SkillLoop.Tests.Clustering;

public sealed class ClusterStoreTests
{
    [Fact]
    public async Task Merging_moves_every_signal_and_can_bring_the_target_to_its_threshold()
    {
        await using var core = await StartAsync(sqliteVec: true);
        var clusterer = core.Get<Clusterer>();
        var store = core.Get<ClusterStore>();
        var a = await clusterer.AssignAsync(await StoreAsync(core, "alice", "pdf-report", "the totals row must stay at the bottom"), null, CancellationToken.None);
        await clusterer.AssignAsync(await StoreAsync(core, "bob", "pdf-report", "totals row belongs at the bottom of the table"), null, CancellationToken.None);
        var b = await clusterer.AssignAsync(await StoreAsync(core, "carol", "pdf-report", "put the sum line last, under everything"), null, CancellationToken.None);
        Assert.NotEqual(a.ClusterId, b.ClusterId);

        var merged = await store.MergeAsync(b.ClusterId, a.ClusterId, CancellationToken.None);

        Assert.Equal((3L, 3L), (merged.SignalCount, merged.DistinctUsers));
        Assert.NotNull(merged.ThresholdReachedAt);
        var source = (await store.GetAsync(b.ClusterId, CancellationToken.None))!;
        Assert.Equal(("merged", a.ClusterId), (source.Cluster.State, source.Cluster.MergedInto));
        Assert.Empty(source.Signals);
        Assert.Equal(3, (await store.GetAsync(a.ClusterId, CancellationToken.None))!.Signals.Count);
        Assert.DoesNotContain(await store.ListAsync(null, null, CancellationToken.None), c => c.Id == b.ClusterId);
    }

    [Fact]
    public async Task Merging_across_skills_or_into_itself_is_refused_and_changes_nothing()
    {
        await using var core = await StartAsync(sqliteVec: true);
        var clusterer = core.Get<Clusterer>();
        var store = core.Get<ClusterStore>();
        var pdf = await clusterer.AssignAsync(await StoreAsync(core, "alice", "pdf-report", "totals row at the bottom"), null, CancellationToken.None);
        var xlsx = await clusterer.AssignAsync(await StoreAsync(core, "bob", "xlsx-export", "totals row at the bottom"), null, CancellationToken.None);

        await Assert.ThrowsAsync<ClusterActionException>(() => store.MergeAsync(pdf.ClusterId, xlsx.ClusterId, CancellationToken.None));
        await Assert.ThrowsAsync<ClusterActionException>(() => store.MergeAsync(pdf.ClusterId, pdf.ClusterId, CancellationToken.None));
        var missing = await Assert.ThrowsAsync<ClusterActionException>(() => store.MergeAsync(pdf.ClusterId, 9999, CancellationToken.None));

        Assert.True(missing.NotFound);
        Assert.Equal("open", (await store.GetAsync(pdf.ClusterId, CancellationToken.None))!.Cluster.State);
        Assert.Single((await store.GetAsync(xlsx.ClusterId, CancellationToken.None))!.Signals);
    }

    [Fact]
    public async Task Moving_a_signal_out_gives_it_a_cluster_of_its_own_and_recounts_the_old_one()
    {
        await using var core = await StartAsync(sqliteVec: true);
        var clusterer = core.Get<Clusterer>();
        var store = core.Get<ClusterStore>();
        var keep = await StoreAsync(core, "alice", "pdf-report", "the totals row must stay at the bottom");
        var stray = await StoreAsync(core, "bob", "pdf-report", "the totals row must stay bold at the bottom");
        var first = await clusterer.AssignAsync(keep, null, CancellationToken.None);
        Assert.Equal(first.ClusterId, (await clusterer.AssignAsync(stray, null, CancellationToken.None)).ClusterId);

        var own = await store.MoveOutAsync(stray, CancellationToken.None);

        Assert.NotEqual(first.ClusterId, own.Id);
        Assert.Equal((1L, 1L), (own.SignalCount, own.DistinctUsers));
        var old = (await store.GetAsync(first.ClusterId, CancellationToken.None))!;
        Assert.Equal(keep, Assert.Single(old.Signals).Id);
        Assert.Equal(1, old.Cluster.DistinctUsers);
        await Assert.ThrowsAsync<ClusterActionException>(() => store.MoveOutAsync(keep, CancellationToken.None));
    }

    [Fact]
    public async Task Marking_a_cluster_as_noise_lowers_the_precision_of_the_pattern_that_produced_it()
    {
        await using var core = await StartAsync(sqliteVec: false);
        var clusterer = core.Get<Clusterer>();
        var store = core.Get<ClusterStore>();
        var real = await clusterer.AssignAsync(await StoreAsync(core, "alice", "pdf-report", "the totals row must stay at the bottom", "en-repeat-again"), null, CancellationToken.None);
        var noise = await clusterer.AssignAsync(await StoreAsync(core, "bob", "pdf-report", "again, thanks so much, lovely work", "en-repeat-again"), null, CancellationToken.None);
        Assert.NotEqual(real.ClusterId, noise.ClusterId);

        var marked = await store.SetNoiseAsync(noise.ClusterId, noise: true, CancellationToken.None);

        Assert.Equal("noise", marked.State);
        var precision = Assert.Single(await core.Get<PatternStore>().PrecisionAsync(CancellationToken.None), p => p.PatternId == "en-repeat-again");
        Assert.Equal((2L, 1L, 0.5), (precision.Signals, precision.Noise, precision.Precision));

        await store.SetNoiseAsync(noise.ClusterId, noise: false, CancellationToken.None);
        Assert.Equal(1.0, Assert.Single(await core.Get<PatternStore>().PrecisionAsync(CancellationToken.None), p => p.PatternId == "en-repeat-again").Precision);
    }
}
