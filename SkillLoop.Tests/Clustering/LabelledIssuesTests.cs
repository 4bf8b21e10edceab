using System.Text.Json;
using SkillLoop.Core.Clustering;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Clustering;

/// <summary>The labelled set the clustering benchmark scores models on (the benchmark prints real-model figures).</summary>
public sealed class LabelledIssuesTests
{
    public sealed record LabelledIssue(string Skill, string Problem, string Language, string Text);

    public static IReadOnlyList<LabelledIssue> Load() =>
        JsonSerializer.Deserialize<List<LabelledIssue>>(
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "Clustering", "labelled-issues.json")),
            new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

    [Fact]
    public void The_set_has_at_least_sixty_paraphrases_over_twelve_problems_in_each_language()
    {
        var issues = Load();

        foreach (var language in new[] { "en", "zh" })
        {
            var subset = issues.Where(i => i.Language == language).ToList();
            Assert.True(subset.Count >= 60, $"{language}: {subset.Count}");
            Assert.True(subset.Select(i => i.Problem).Distinct().Count() >= 12);
            Assert.All(subset.GroupBy(i => i.Problem), g => Assert.True(g.Count() >= 4));
        }

        Assert.Equal(issues.Count, issues.Select(i => i.Text).Distinct().Count());
    }

    [Fact]
    public void Scoring_the_set_with_a_word_overlap_embedder_beats_putting_everything_together()
    {
        // Guards the scoring path itself: a crude embedder must do better than the trivial one-cluster answer.
        var english = Load().Where(i => i.Language == "en").ToList();
        var vectors = english.Select(i => Vectors.Normalize(BagOfWordsEmbeddingGenerator.Embed(i.Text))).ToList();
        var clusters = GreedyClusters(vectors, 0.35f);

        var scores = ClusterQuality.Pairwise(english.Select((issue, n) => (clusters[n], issue.Problem)).ToList());
        var trivial = ClusterQuality.Pairwise(english.Select(issue => (0L, issue.Problem)).ToList());

        Assert.True(scores.F1 > trivial.F1, $"F1 {scores.F1:F3} vs one cluster {trivial.F1:F3}");
    }

    private static long[] GreedyClusters(IReadOnlyList<float[]> vectors, float threshold)
    {
        var centroids = new List<float[]>();
        var result = new long[vectors.Count];
        for (var i = 0; i < vectors.Count; i++)
        {
            var best = -1;
            var bestSimilarity = threshold;
            for (var c = 0; c < centroids.Count; c++)
            {
                var similarity = Vectors.CosineSimilarity(vectors[i], centroids[c]);
                if (similarity >= bestSimilarity)
                {
                    (best, bestSimilarity) = (c, similarity);
                }
            }

            if (best < 0)
            {
                centroids.Add(vectors[i]);
                best = centroids.Count - 1;
            }

            result[i] = best;
        }

        return result;
    }
}
