using SkillLoop.Core.Clustering;

namespace SkillLoop.Tests.Clustering;

public sealed class ClusterQualityTests
{
    [Fact]
    public void A_perfect_clustering_scores_one()
    {
        var scores = ClusterQuality.Pairwise<string>([(1, "a"), (1, "a"), (2, "b"), (2, "b")]);

        Assert.Equal((1.0, 1.0, 1.0, 2), (scores.Precision, scores.Recall, scores.F1, scores.Clusters));
    }

    [Fact]
    public void Over_merging_costs_precision_and_over_splitting_costs_recall()
    {
        // Labels: a a b b. One big cluster: 6 predicted pairs, 2 true.
        var merged = ClusterQuality.Pairwise<string>([(1, "a"), (1, "a"), (1, "b"), (1, "b")]);
        // Every item alone: no predicted pairs, 2 actual pairs missed.
        var split = ClusterQuality.Pairwise<string>([(1, "a"), (2, "a"), (3, "b"), (4, "b")]);

        Assert.Equal(2.0 / 6, merged.Precision, 6);
        Assert.Equal(1.0, merged.Recall);
        Assert.Equal(0.5, merged.F1, 6);
        Assert.Equal((1.0, 0.0, 0.0), (split.Precision, split.Recall, split.F1));
    }
}
