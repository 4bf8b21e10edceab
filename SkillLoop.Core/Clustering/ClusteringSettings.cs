using System.Text.Json.Serialization;
using System.Globalization;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Clustering;

// Every original field is required in a PUT body: a missing one must not silently become false or 0.
// NewUsersAfterRejection came later: a body without it keeps the stored value (older scripts keep working).
/// <param name="NewUsersAfterRejection">
/// Distinct users not counted before a rejection who must report the problem again before the rejected proposal
/// returns to review.
/// </param>
public sealed record ClusteringThresholds([property: JsonRequired] float Similarity, [property: JsonRequired] int DistinctUsers, int? NewUsersAfterRejection = null);

/// <summary>Clustering thresholds, tunable in the dashboard (kept in the settings table).</summary>
public sealed class ClusteringSettings(SettingsStore settings)
{
    public const string SimilarityKey = "clustering.similarity";
    public const string DistinctUsersKey = "clustering.distinct_users";
    public const string NewUsersAfterRejectionKey = "proposals.new_users_after_rejection";

    /// <summary>Default: new distinct users after a rejection before the proposal returns to review.</summary>
    public const int DefaultNewUsersAfterRejection = 3;

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
        var again = await settings.GetAsync(NewUsersAfterRejectionKey, cancellationToken);
        return new ClusteringThresholds(
            float.TryParse(similarity, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? s : DefaultSimilarity,
            int.TryParse(users, NumberStyles.Integer, CultureInfo.InvariantCulture, out var u) ? u : DefaultDistinctUsers,
            int.TryParse(again, NumberStyles.Integer, CultureInfo.InvariantCulture, out var a) ? a : DefaultNewUsersAfterRejection);
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

        if (thresholds.NewUsersAfterRejection is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(thresholds), "At least one new user is needed to bring a rejected proposal back.");
        }

        await settings.SetAsync(SimilarityKey, thresholds.Similarity.ToString(CultureInfo.InvariantCulture), cancellationToken);
        await settings.SetAsync(DistinctUsersKey, thresholds.DistinctUsers.ToString(CultureInfo.InvariantCulture), cancellationToken);
        if (thresholds.NewUsersAfterRejection is { } again)
        {
            await settings.SetAsync(NewUsersAfterRejectionKey, again.ToString(CultureInfo.InvariantCulture), cancellationToken);
        }
    }
}
