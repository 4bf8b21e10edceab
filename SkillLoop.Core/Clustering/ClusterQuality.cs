namespace SkillLoop.Core.Clustering;

public sealed record PairwiseScores(double Precision, double Recall, double F1, int Items, int Clusters);

/// <summary>
/// Pairwise clustering quality against labels: a pair of items counts as a true positive when both the clustering
/// and the labels put them together. Used by the benchmark to tune the similarity threshold.
/// </summary>
public static class ClusterQuality
{
    public static PairwiseScores Pairwise<TLabel>(IReadOnlyList<(long Cluster, TLabel Label)> items)
        where TLabel : notnull
    {
        long truePositives = 0, predictedPairs = 0, actualPairs = 0;
        for (var i = 0; i < items.Count; i++)
        {
            for (var j = i + 1; j < items.Count; j++)
            {
                var together = items[i].Cluster == items[j].Cluster;
                var same = EqualityComparer<TLabel>.Default.Equals(items[i].Label, items[j].Label);
                predictedPairs += together ? 1 : 0;
                actualPairs += same ? 1 : 0;
                truePositives += together && same ? 1 : 0;
            }
        }

        var precision = predictedPairs == 0 ? 1 : (double)truePositives / predictedPairs;
        var recall = actualPairs == 0 ? 1 : (double)truePositives / actualPairs;
        var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new PairwiseScores(precision, recall, f1, items.Count, items.Select(i => i.Cluster).Distinct().Count());
    }
}
