using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Data;
using SkillLoop.Core.Proposals;

namespace SkillLoop.Core.Clustering;

public sealed record ClusterSummary(
    long Id,
    string? Skill,
    string Title,
    string State,
    long SignalCount,
    long DistinctUsers,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    DateTimeOffset? ThresholdReachedAt,
    long? MergedInto,
    long? ProposalId = null,
    string? ProposalState = null);

/// <summary>
/// One page of the cluster list, ranked by distinct users then latest signal. <c>Skill</c> matches exactly ('' for
/// clusters without a skill), <c>SkillContains</c> and <c>Search</c> are case-insensitive parts of the skill and title (a
/// scan of the clusters table, which stays small: one row per problem, not per signal).
/// </summary>
public sealed record ClusterQuery(string? Skill = null, string? State = null, string? Search = null, int Offset = 0, int Limit = 50, string? SkillContains = null);

/// <summary>A page of clusters and how many match the query in all.</summary>
public sealed record ClusterPage(IReadOnlyList<ClusterSummary> Items, long Total);

/// <summary>A cluster (<c>cluster</c>) with its members (<c>signals</c>, each with its <c>text</c>).</summary>
public sealed record ClusterDetail(ClusterSummary Cluster, IReadOnlyList<SignalView> Signals);

/// <summary>Two open clusters of one skill, in different languages, whose centroids are close: perhaps one problem.</summary>
public sealed record MergeSuggestion(ClusterSummary Cluster, ClusterSummary Other, float Similarity);

/// <summary>A triage action that cannot be carried out; <see cref="NotFound"/> when what it names does not exist.</summary>
public sealed class ClusterActionException(string message, bool notFound = false) : Exception(message)
{
    public bool NotFound { get; } = notFound;
}

/// <summary>Reads clusters and carries out an admin's triage: merge, move a signal out, mark as noise.</summary>
public sealed class ClusterStore(SqliteDb db, Clusterer clusterer, ClusteringSettings settings, SignalStore signals, TimeProvider time, ClusterEvents events)
{
    /// <summary>Proposal states that mean the cluster's fix is already on its way (approved, pushed or merged): such a
    /// cluster no longer needs anyone, so "open clusters" and the inbox leave it out.</summary>
    public const string FixUnderway = "('approved', 'open', 'merged')";

    /// <summary>'reopened' is not a stored state (the column allows open, noise and merged): it is an open cluster whose
    /// merged fix did not hold, i.e. reopened_at is set. Both the State column and the state filter derive it from this.</summary>
    private const string IsReopened = "state = 'open' AND reopened_at IS NOT NULL";

    private const string SummaryColumns = $$"""
        id AS Id, nullif(skill, '') AS Skill, title AS Title, (CASE WHEN {{IsReopened}} THEN 'reopened' ELSE state END) AS State, signal_count AS SignalCount,
        user_count AS DistinctUsers, first_seen AS FirstSeen, last_seen AS LastSeen,
        threshold_reached_at AS ThresholdReachedAt, merged_into AS MergedInto,
        (SELECT p.id FROM proposals p WHERE p.cluster_id = clusters.id) AS ProposalId,
        (SELECT p.state FROM proposals p WHERE p.cluster_id = clusters.id) AS ProposalState
        """;

    public const int MaxLimit = 500;

    public async Task<IReadOnlyList<ClusterSummary>> ListAsync(string? skill, string? state, CancellationToken cancellationToken) =>
        (await QueryAsync(new ClusterQuery(skill, state, Limit: MaxLimit), cancellationToken, withTotal: false)).Items;

    /// <summary>
    /// One page in rank order. Only the filters given go into the SQL, so SQLite picks the index that serves them
    /// (state and rank: ix_clusters_rank; skill: ix_clusters_skill); the total is counted from the same indexes.
    /// </summary>
    public async Task<ClusterPage> QueryAsync(ClusterQuery query, CancellationToken cancellationToken, bool withTotal = true)
    {
        var (where, parameters) = (Filters(query), Parameters(query));
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<SummaryRow>(new CommandDefinition(PageSql(query), parameters, cancellationToken: cancellationToken));
        var items = rows.Select(r => r.ToSummary()).ToList();
        var total = !withTotal ? items.Count : await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM clusters WHERE {where}", parameters, cancellationToken: cancellationToken));
        return new ClusterPage(items, total);
    }

    /// <summary>The rank order and page window of <see cref="QueryAsync"/> (internal: the tests read the query's plan).</summary>
    internal const string PageOrder = "ORDER BY user_count DESC, last_seen DESC LIMIT @Limit OFFSET @Offset";

    internal static string PageSql(ClusterQuery query) => $"SELECT {SummaryColumns} FROM clusters WHERE {Filters(query)} {PageOrder}";

    internal static string Filters(ClusterQuery query)
    {
        (bool Given, string Term)[] terms =
        [
            (query.Skill is not null, "skill = @Skill"),
            // 'open' leaves reopened clusters out, as the State column shows them.
            (query.State is not null, query.State switch
            {
                "reopened" => IsReopened,
                "open" => "state = 'open' AND reopened_at IS NULL",
                _ => "state = @State",
            }),
            (!string.IsNullOrEmpty(query.SkillContains), @"skill LIKE '%' || @SkillContains || '%' ESCAPE '\'"),
            (!string.IsNullOrEmpty(query.Search), @"title LIKE '%' || @Search || '%' ESCAPE '\'"),
        ];
        return string.Join(" AND ", terms.Where(t => t.Given).Select(t => t.Term).Append("signal_count > 0"));
    }

    internal static object Parameters(ClusterQuery query) => new
    {
        query.Skill,
        query.State,
        SkillContains = Like(query.SkillContains),
        Search = Like(query.Search),
        Offset = Math.Max(0, query.Offset),
        Limit = Math.Clamp(query.Limit, 1, MaxLimit),
    };

    /// <summary>A LIKE pattern's literal part: its wildcards and the escape character escaped.</summary>
    private static string? Like(string? text) => text?.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_");

    /// <summary>Open clusters that have not reached the evidence threshold yet, closest first (the Overview's list).</summary>
    public async Task<IReadOnlyList<ClusterSummary>> NearThresholdAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<SummaryRow>(new CommandDefinition(
            $"""
            SELECT {SummaryColumns} FROM clusters
            WHERE state = 'open' AND signal_count > 0 AND threshold_reached_at IS NULL
            ORDER BY user_count DESC, last_seen DESC
            LIMIT @limit
            """, new { limit = Math.Clamp(limit, 1, MaxLimit) }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToSummary()).ToList();
    }

    /// <summary>How many clusters with signals are in <paramref name="state"/> (counted from ix_clusters_rank alone).</summary>
    public async Task<long> CountAsync(string state, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM clusters WHERE state = @state AND signal_count > 0", new { state }, cancellationToken: cancellationToken));
    }

    /// <param name="signalLimit">How many of its signals, newest first (a page of the cluster's detail).</param>
    /// <param name="beforeSignalId">The cursor of the next page: signals older than this one.</param>
    public async Task<ClusterDetail?> GetAsync(long id, CancellationToken cancellationToken, int signalLimit = SignalStore.MaxLimit, long? beforeSignalId = null)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<SummaryRow>(new CommandDefinition(
            $"SELECT {SummaryColumns} FROM clusters WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        if (row is null)
        {
            return null;
        }

        var members = await signals.QueryAsync(new SignalQuery(ClusterId: id, Limit: signalLimit, BeforeId: beforeSignalId), cancellationToken);
        return new ClusterDetail(row.ToSummary(), members);
    }

    /// <summary>How far below the assignment threshold two clusters in different languages are still suggested for a merge.</summary>
    public const float SuggestionMargin = 0.15f;

    /// <summary>
    /// Pairs of open clusters of the same skill, one titled in Chinese and one not, whose centroids are within
    /// <see cref="SuggestionMargin"/> of the assignment threshold: a problem reported in two languages can stay split
    /// when the embedding model is weaker across languages, so an admin is asked. Most similar first; pairs an admin
    /// separated are left out.
    /// </summary>
    public async Task<IReadOnlyList<MergeSuggestion>> SuggestMergesAsync(int limit, CancellationToken cancellationToken)
    {
        var thresholds = await settings.GetAsync(cancellationToken);
        await using var connection = await db.OpenAsync(cancellationToken);
        // Comparing every pair costs a year of clusters about a second of CPU: the result is kept until the open
        // clusters or the separations change. The stamp is read from indexes alone (ix_clusters_rank).
        var stamp = await connection.QuerySingleAsync<SuggestionStamp>(new CommandDefinition(
            """
            SELECT count(*) AS Clusters, coalesce(max(id), 0) AS MaxId, total(signal_count * id) AS Signals, total(user_count * id) AS Users,
                   (SELECT count(*) FROM cluster_separations) AS Separations
            FROM clusters WHERE state = 'open'
            """, cancellationToken: cancellationToken)) with { Similarity = thresholds.Similarity };
        if (_suggestions is { } cached && cached.Stamp == stamp)
        {
            return cached.Suggestions.Take(Math.Clamp(limit, 1, 100)).ToList();
        }

        var rows = (await connection.QueryAsync<CentroidRow>(new CommandDefinition(
            $"SELECT {SummaryColumns}, centroid_sum AS CentroidSum FROM clusters WHERE state = 'open' AND signal_count > 0",
            cancellationToken: cancellationToken))).ToList();
        var separated = (await connection.QueryAsync<(long, long)>(new CommandDefinition(
            "SELECT cluster_id, other_id FROM cluster_separations", cancellationToken: cancellationToken))).ToHashSet();
        var suggestions = new List<MergeSuggestion>();
        foreach (var skill in rows.GroupBy(r => r.Skill ?? ""))
        {
            // Only a Chinese-titled cluster and another one make a pair: compare those two groups, not every pair.
            var clusters = skill.Select(r => (Row: r, Chinese: Ai.MiniLm.ChineseGloss.ContainsHan(r.Title), Centroid: Vectors.Normalize(Vectors.FromBlob(r.CentroidSum)))).ToList();
            var chinese = clusters.Where(c => c.Chinese).ToList();
            var others = clusters.Where(c => !c.Chinese).ToList();
            foreach (var a in chinese)
            {
                foreach (var b in others)
                {
                    if (a.Centroid.Length != b.Centroid.Length || separated.Contains((a.Row.Id, b.Row.Id)))
                    {
                        continue;
                    }

                    var similarity = System.Numerics.Tensors.TensorPrimitives.Dot(a.Centroid, b.Centroid);
                    if (similarity >= thresholds.Similarity - SuggestionMargin)
                    {
                        // The larger cluster first: the merge takes the other into it.
                        var (first, second) = b.Row.SignalCount > a.Row.SignalCount ? (b.Row, a.Row) : (a.Row, b.Row);
                        suggestions.Add(new MergeSuggestion(first.ToSummary(), second.ToSummary(), similarity));
                    }
                }
            }
        }

        var ranked = suggestions.OrderByDescending(s => s.Similarity).Take(100).ToList();
        _suggestions = new SuggestionCache(stamp, ranked);
        return ranked.Take(Math.Clamp(limit, 1, 100)).ToList();
    }

    private SuggestionCache? _suggestions;

    private sealed record SuggestionCache(SuggestionStamp Stamp, IReadOnlyList<MergeSuggestion> Suggestions);

    /// <summary>
    /// What the merge suggestions depend on: any assignment, merge, noise decision, move or separation changes it (the
    /// sums are weighted by id, so members traded between two clusters change them too).
    /// </summary>
    private sealed record SuggestionStamp
    {
        public long Clusters { get; init; }
        public long MaxId { get; init; }
        public double Signals { get; init; }
        public double Users { get; init; }
        public long Separations { get; init; }
        public float Similarity { get; init; }
    }

    /// <summary>Moves every signal of <paramref name="sourceId"/> into <paramref name="targetId"/> (same skill); audited.</summary>
    public async Task<ClusterSummary> MergeAsync(long sourceId, long targetId, CancellationToken cancellationToken, string actor = "admin")
    {
        if (sourceId == targetId)
        {
            throw new ClusterActionException("A cluster cannot be merged into itself.");
        }

        return await InTransactionAsync(async (connection, transaction, thresholds, now) =>
        {
            var source = await RequireAsync(connection, transaction, sourceId, cancellationToken);
            var target = await RequireAsync(connection, transaction, targetId, cancellationToken);
            if (source.State == "merged" || target.State == "merged")
            {
                throw new ClusterActionException("A merged cluster can take no part in another merge.");
            }

            if (source.Skill != target.Skill)
            {
                throw new ClusterActionException("Only clusters of the same skill can be merged.");
            }

            // Every member is pinned: consolidation re-clusters by similarity and would otherwise split apart what an
            // admin put together (a pinned member never moves; new signals may still join).
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE signals SET cluster_id = @targetId, cluster_pinned = 1 WHERE cluster_id IN (@sourceId, @targetId)", new { sourceId, targetId }, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE clusters SET state = 'merged', merged_into = @targetId, updated_at = @now WHERE id = @sourceId",
                new { sourceId, targetId, now }, transaction, cancellationToken: cancellationToken));
            await CarrySeparationsAsync(connection, transaction, sourceId, targetId, cancellationToken);
            await clusterer.RefreshAsync(connection, transaction, sourceId, thresholds, now, cancellationToken);
            await clusterer.RefreshAsync(connection, transaction, targetId, thresholds, now, cancellationToken);
            await ProposalStore.WriteAuditAsync(connection, transaction, actor, "cluster.merge", null, null,
                $"Merged cluster #{sourceId} into #{targetId}.", now, cancellationToken);
            return targetId;
        }, cancellationToken);
    }

    /// <summary>
    /// Takes one signal out of its cluster into a new cluster of its own; audited. The signal is pinned there and the
    /// two clusters are kept apart, so consolidation never undoes the split.
    /// </summary>
    public async Task<ClusterSummary> MoveOutAsync(long signalId, CancellationToken cancellationToken, string actor = "admin")
    {
        return await InTransactionAsync(async (connection, transaction, thresholds, now) =>
        {
            var signal = await connection.QuerySingleOrDefaultAsync<MovedSignalRow>(new CommandDefinition(
                "SELECT cluster_id AS ClusterId, text AS Text, coalesce(skill, '') AS Skill FROM signals WHERE id = @signalId",
                new { signalId }, transaction, cancellationToken: cancellationToken))
                ?? throw new ClusterActionException($"Signal {signalId} does not exist.", notFound: true);
            if (signal.ClusterId is not { } from)
            {
                throw new ClusterActionException($"Signal {signalId} is not in a cluster yet.");
            }

            var count = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT count(*) FROM signals WHERE cluster_id = @from", new { from }, transaction, cancellationToken: cancellationToken));
            if (count == 1)
            {
                throw new ClusterActionException("The signal is the cluster's only member.");
            }

            var vector = await connection.QuerySingleAsync<byte[]>(new CommandDefinition(
                "SELECT vector FROM vectors WHERE kind = 'signals' AND id = @signalId", new { signalId }, transaction, cancellationToken: cancellationToken));
            var newId = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                """
                INSERT INTO clusters (skill, title, centroid_sum, first_seen, last_seen, created_at, updated_at)
                VALUES (@skill, @title, @vector, @now, @now, @now, @now) RETURNING id
                """, new { skill = signal.Skill, title = Clusterer.Title(signal.Text, null), vector, now }, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE signals SET cluster_id = @newId, cluster_pinned = 1 WHERE id = @signalId", new { newId, signalId }, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT OR IGNORE INTO cluster_separations (cluster_id, other_id) VALUES (@from, @newId), (@newId, @from)",
                new { from, newId }, transaction, cancellationToken: cancellationToken));
            await clusterer.RefreshAsync(connection, transaction, from, thresholds, now, cancellationToken);
            await clusterer.RefreshAsync(connection, transaction, newId, thresholds, now, cancellationToken);
            await ProposalStore.WriteAuditAsync(connection, transaction, actor, "cluster.move-out", null, null,
                $"Moved signal #{signalId} out of cluster #{from} into new cluster #{newId}.", now, cancellationToken);
            return newId;
        }, cancellationToken);
    }

    /// <summary>Marks a cluster as noise (or open again). Noise never reaches a proposal; its signals count against their patterns' precision.</summary>
    public async Task<ClusterSummary> SetNoiseAsync(long clusterId, bool noise, CancellationToken cancellationToken, string actor = "admin")
    {
        return await InTransactionAsync(async (connection, transaction, _, now) =>
        {
            var cluster = await RequireAsync(connection, transaction, clusterId, cancellationToken);
            if (cluster.State == "merged")
            {
                throw new ClusterActionException($"Cluster {clusterId} was merged into {cluster.MergedInto}.");
            }

            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE clusters SET state = @state, updated_at = @now WHERE id = @clusterId",
                new { clusterId, state = noise ? "noise" : "open", now }, transaction, cancellationToken: cancellationToken));
            await ProposalStore.WriteAuditAsync(connection, transaction, actor, "cluster.noise", null, null,
                noise ? $"Marked cluster #{clusterId} as noise." : $"Opened cluster #{clusterId} again (not noise).", now, cancellationToken);
            return clusterId;
        }, cancellationToken);
    }

    /// <summary>After <paramref name="sourceId"/> is merged into <paramref name="targetId"/>, the clusters kept apart from it are kept apart from the target.</summary>
    internal static Task CarrySeparationsAsync(SqliteConnection connection, SqliteTransaction transaction, long sourceId, long targetId, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT OR IGNORE INTO cluster_separations (cluster_id, other_id)
            SELECT @targetId, other_id FROM cluster_separations WHERE cluster_id = @sourceId AND other_id <> @targetId
            UNION ALL
            SELECT cluster_id, @targetId FROM cluster_separations WHERE other_id = @sourceId AND cluster_id <> @targetId
            """, new { sourceId, targetId }, transaction, cancellationToken: cancellationToken));

    private async Task<ClusterSummary> InTransactionAsync(
        Func<SqliteConnection, SqliteTransaction, ClusteringThresholds, DateTimeOffset, Task<long>> action, CancellationToken cancellationToken)
    {
        var thresholds = await settings.GetAsync(cancellationToken);
        await using var connection = await db.OpenWithVectorsAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var id = await action(connection, transaction, thresholds, time.GetUtcNow());
        var row = await connection.QuerySingleAsync<SummaryRow>(new CommandDefinition(
            $"SELECT {SummaryColumns} FROM clusters WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        events.Raise();
        return row.ToSummary();
    }

    /// <summary>
    /// Open clusters that still need someone: no fix approved, pushed or merged for them. Reopened clusters are among
    /// them: they are stored as 'open' with reopened_at set (the column allows only open, noise and merged).
    /// </summary>
    public async Task<long> CountOpenWithoutFixAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"""
            SELECT count(*) FROM clusters c
            WHERE c.state = 'open' AND c.signal_count > 0
              AND NOT EXISTS (SELECT 1 FROM proposals p WHERE p.cluster_id = c.id AND p.state IN {FixUnderway})
            """, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Clusters at their evidence threshold that wait for a proposal (none yet, or one still being drafted), most
    /// users first: the inbox lists them so a stuck proposal is noticed.
    /// </summary>
    public async Task<IReadOnlyList<ClusterSummary>> AtThresholdAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<SummaryRow>(new CommandDefinition(
            $"""
            SELECT {SummaryColumns} FROM clusters
            WHERE state = 'open' AND signal_count > 0 AND threshold_reached_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM proposals p WHERE p.cluster_id = clusters.id AND p.state <> 'drafting')
            ORDER BY user_count DESC, last_seen DESC
            LIMIT @limit
            """, new { limit = Math.Clamp(limit, 1, 100) }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToSummary()).ToList();
    }

    private static async Task<SummaryRow> RequireAsync(SqliteConnection connection, SqliteTransaction transaction, long id, CancellationToken cancellationToken) =>
        await connection.QuerySingleOrDefaultAsync<SummaryRow>(new CommandDefinition(
            $"SELECT {SummaryColumns} FROM clusters WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken))
        ?? throw new ClusterActionException($"Cluster {id} does not exist.", notFound: true);

    private sealed class MovedSignalRow
    {
        public long? ClusterId { get; init; }
        public string Text { get; init; } = "";
        public string Skill { get; init; } = "";
    }

    private sealed class CentroidRow : SummaryRow
    {
        public byte[] CentroidSum { get; init; } = [];
    }

    private class SummaryRow
    {
        public long Id { get; init; }
        public string? Skill { get; init; }
        public string Title { get; init; } = "";
        public string State { get; init; } = "";
        public long SignalCount { get; init; }
        public long DistinctUsers { get; init; }
        public DateTimeOffset FirstSeen { get; init; }
        public DateTimeOffset LastSeen { get; init; }
        public DateTimeOffset? ThresholdReachedAt { get; init; }
        public long? MergedInto { get; init; }
        public long? ProposalId { get; init; }
        public string? ProposalState { get; init; }

        public ClusterSummary ToSummary() =>
            new(Id, Skill, Title, State, SignalCount, DistinctUsers, FirstSeen, LastSeen, ThresholdReachedAt, MergedInto, ProposalId, ProposalState);
    }
}
