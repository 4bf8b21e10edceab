using System.Text.Json.Serialization;
using System.Globalization;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Clustering;

// Every field is required in a PUT body: a missing one must not silently become false or 0.
public sealed record ClusteringThresholds([property: JsonRequired] float Similarity, [property: JsonRequired] int DistinctUsers);

/// <summary>Clustering thresholds, tunable in the dashboard (kept in the settings table).</summary>
public sealed class ClusteringSettings(SettingsStore settings)
{
    public const string SimilarityKey = "clustering.similarity";
    public const string DistinctUsersKey = "clustering.distinct_users";

    /// <summary>
    /// Default join threshold: cosine similarity of a new issue to a cluster's centroid. Chosen on the labelled set
    /// with the bundled all-MiniLM-L6-v2 (English): see the clustering benchmark.
    /// </summary>
    public const float DefaultSimilarity = 0.42f;

    /// <summary>Default evidence threshold: distinct users before a proposal is made.</summary>
    public const int DefaultDistinctUsers = 3;

    public async Task<ClusteringThresholds> GetAsync(CancellationToken cancellationToken)
    {
        var similarity = await settings.GetAsync(SimilarityKey, cancellationToken);
        var users = await settings.GetAsync(DistinctUsersKey, cancellationToken);
        return new ClusteringThresholds(
            float.TryParse(similarity, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? s : DefaultSimilarity,
            int.TryParse(users, NumberStyles.Integer, CultureInfo.InvariantCulture, out var u) ? u : DefaultDistinctUsers);
    }

    public async Task SetAsync(ClusteringThresholds thresholds, CancellationToken cancellationToken)
    {
        if (thresholds.Similarity is <= 0 or >= 1 || float.IsNaN(thresholds.Similarity))
        {
            throw new ArgumentOutOfRangeException(nameof(thresholds), "The similarity threshold must be between 0 and 1.");
        }

        if (thresholds.DistinctUsers < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(thresholds), "At least one distinct user is needed.");
        }

        await settings.SetAsync(SimilarityKey, thresholds.Similarity.ToString(CultureInfo.InvariantCulture), cancellationToken);
        await settings.SetAsync(DistinctUsersKey, thresholds.DistinctUsers.ToString(CultureInfo.InvariantCulture), cancellationToken);
    }
}
