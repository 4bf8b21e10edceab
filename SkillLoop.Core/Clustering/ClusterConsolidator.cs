using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Data;
using SkillLoop.Core.Proposals;

namespace SkillLoop.Core.Clustering;

/// <summary>What one consolidation pass changed.</summary>
public sealed record ConsolidationResult(int Merged, int Moved);

/// <summary>
/// Makes clusters independent of the order signals arrived in. Assignment is greedy (each signal joins the nearest
/// centroid of the moment), so one problem can end up split, or two problems joined, depending on who spoke first.
/// A pass re-clusters each skill from its signals alone: average-linkage agglomeration (most similar pair of groups
/// first, while the mean similarity between their members reaches the threshold), which gives the same groups in any
/// arrival order; then each group keeps the existing cluster that holds most of it, and the differences are written
/// as moves and merges (a group whose clusters are all taken gets a new one). Every change is written to the audit log
/// as an admin's would be. An admin's decisions stand: noise clusters and their signals are never touched, a signal
/// an admin moved out stays where it was put (and nothing from the cluster it left joins it), two clusters an admin
/// separated never share a group, and a cluster with a proposal keeps every member and is never merged away (others
/// may join it). Skills above <see cref="ReclusterLimit"/> members fall back to merging close clusters and re-homing
/// members to a nearer centroid.
/// </summary>
public sealed partial class ClusterConsolidator(SqliteDb db, Clusterer clusterer, ClusteringSettings settings, TimeProvider time, ILogger<ClusterConsolidator> logger)
{
    public const string Actor = "consolidation";
    private const int MaxRounds = 8;

    // Re-homing compares every member with every cluster of its skill: beyond this many members a skill is only merged.
    private const int RehomeLimit = 20_000;

    /// <summary>
    /// Re-clustering keeps a members × members similarity matrix (9 MB at this size) and is quadratic in time: above
    /// this many members in one skill, the pass merges and re-homes instead.
    /// </summary>
    public const int ReclusterLimit = 1_500;

    // A member moves only when clearly closer elsewhere, so two near-equal clusters do not trade it back and forth.
    private const float MoveMargin = 0.01f;

    private DateTimeOffset? _lastRun;
    private float _lastThreshold = float.NaN;

    public async Task<ConsolidationResult> RunAsync(CancellationToken cancellationToken)
    {
        var thresholds = await settings.GetAsync(cancellationToken);
        using var writeTurn = await db.EnterWriteAsync(cancellationToken);
        var connection = writeTurn.Connection;
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var now = time.GetUtcNow();
        if (thresholds.Similarity != _lastThreshold)
        {
            _lastRun = null; // a new threshold changes every skill's groups
        }

        var clusterRows = (await connection.QueryAsync<ClusterRow>(new CommandDefinition(
            """
            SELECT c.id AS Id, c.skill AS Skill, c.updated_at AS UpdatedAt, c.consolidated AS Consolidated,
                   EXISTS (SELECT 1 FROM proposals p WHERE p.cluster_id = c.id) AS HasProposal
            FROM clusters c WHERE c.state = 'open' AND c.signal_count > 0
            """, transaction: transaction, cancellationToken: cancellationToken))).ToList();
        var memberRows = (await connection.QueryAsync<MemberRow>(new CommandDefinition(
            """
            SELECT s.id AS Id, s.cluster_id AS ClusterId, s.cluster_pinned AS Pinned, v.vector AS Vector
            FROM signals s
            JOIN clusters c ON c.id = s.cluster_id AND c.state = 'open'
            JOIN vectors v ON v.kind = 'signals' AND v.id = s.id
            ORDER BY s.id
            """, transaction: transaction, cancellationToken: cancellationToken))).ToList();
        var separations = (await connection.QueryAsync<(long A, long B)>(new CommandDefinition(
            "SELECT cluster_id, other_id FROM cluster_separations", transaction: transaction, cancellationToken: cancellationToken)))
            .ToHashSet();

        var merges = new List<(long Source, long Target, float Similarity)>();
        var moves = new List<(long Signal, long From, long To, float Own, float Other)>();
        long newClusters = 0;
        var byId = clusterRows.ToDictionary(c => c.Id);
        // Only skills where something changed since the last pass (every assignment and admin action stamps its
        // cluster): a pass is a function of a skill's signals, so an unchanged skill would come out the same. A join
        // also clears its cluster's consolidated flag, which catches the join whose time was read before this pass
        // began but which had to wait for it to write.
        var since = _lastRun;
        var settled = new List<string>();
        foreach (var partition in clusterRows.GroupBy(c => c.Skill).Where(p => since is null || p.Any(c => c.UpdatedAt >= since || !c.Consolidated)))
        {
            settled.Add(partition.Key);
            var ids = partition.Select(c => c.Id).ToHashSet();
            var members = memberRows.Where(m => ids.Contains(m.ClusterId)).Select(m => new Member(m.Id, m.ClusterId, m.Pinned, Vectors.Normalize(MemoryMarshal.Cast<byte, float>(m.Vector)))).ToList();
            // Vectors of another model (a re-embedding in progress) are left for the next pass.
            var dimensions = members.GroupBy(m => m.Vector.Length).OrderByDescending(g => g.Count()).FirstOrDefault()?.Key ?? 0;
            members.RemoveAll(m => m.Vector.Length != dimensions);
            if (members.Count <= ReclusterLimit)
            {
                var sizes = memberRows.Where(m => ids.Contains(m.ClusterId)).GroupBy(m => m.ClusterId).ToDictionary(g => g.Key, g => g.Count());
                Recluster(members, dimensions, sizes, byId, separations, thresholds.Similarity, merges, moves, ref newClusters);
                continue;
            }

            var state = new PartitionState(members, dimensions);
            Merge(state, byId, separations, thresholds.Similarity, merges);
            if (members.Count <= RehomeLimit)
            {
                Rehome(state, byId, separations, thresholds.Similarity, merges, moves);
            }
        }

        // Groups that needed a cluster of their own (planned with negative ids) get one now.
        var created = new Dictionary<long, long>();
        foreach (var (signal, _, to, _, _) in moves.Where(m => m.To < 0).DistinctBy(m => m.To))
        {
            var vector = memberRows.First(m => m.Id == signal).Vector;
            created[to] = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                """
                INSERT INTO clusters (skill, title, centroid_sum, first_seen, last_seen, created_at, updated_at)
                SELECT skill, title, @vector, @now, @now, @now, @now FROM clusters WHERE id = (SELECT cluster_id FROM signals WHERE id = @signal)
                RETURNING id
                """, new { signal, vector, now }, transaction, cancellationToken: cancellationToken));
        }

        for (var i = 0; i < moves.Count; i++)
        {
            if (moves[i].To < 0)
            {
                moves[i] = moves[i] with { To = created[moves[i].To] };
            }
        }

        for (var i = 0; i < merges.Count; i++)
        {
            if (merges[i].Target < 0)
            {
                merges[i] = merges[i] with { Target = created[merges[i].Target] };
            }
        }

        foreach (var (signal, _, to, _, _) in moves)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE signals SET cluster_id = @to WHERE id = @signal", new { signal, to }, transaction, cancellationToken: cancellationToken));
        }

        foreach (var (source, target, similarity) in merges)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE signals SET cluster_id = @target WHERE cluster_id = @source", new { source, target }, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE clusters SET state = 'merged', merged_into = @target, updated_at = @now WHERE id = @source",
                new { source, target, now }, transaction, cancellationToken: cancellationToken));
            await ClusterStore.CarrySeparationsAsync(connection, transaction, source, target, cancellationToken);
            await ProposalStore.WriteAuditAsync(connection, transaction, Actor, "cluster.merge", null, null,
                string.Create(CultureInfo.InvariantCulture, $"Merged cluster #{source} into #{target}: {similarity:F3} similar (threshold {thresholds.Similarity:F2})."),
                now, cancellationToken);
        }

        var mergedInto = merges.ToDictionary(m => m.Source, m => m.Target);
        foreach (var (signal, from, to, own, other) in moves.Where(m => mergedInto.GetValueOrDefault(m.From) != m.To))
        {
            await ProposalStore.WriteAuditAsync(connection, transaction, Actor, "cluster.move", null, null,
                string.Create(CultureInfo.InvariantCulture, $"Moved signal #{signal} from cluster #{from} to #{to}: {other:F3} similar to it, {own:F3} to its own cluster."),
                now, cancellationToken);
        }

        var touched = merges.SelectMany(m => new[] { m.Source, m.Target }).Concat(moves.SelectMany(m => new[] { m.From, m.To })).Distinct().Order().ToList();
        foreach (var clusterId in touched)
        {
            await clusterer.RefreshAsync(connection, transaction, clusterId, thresholds, now, cancellationToken);
        }

        // Every cluster of the skills re-clustered here (those it made included) is settled: it may now ask for a
        // proposal (see ProposalDrafter.CreateDueAsync).
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE clusters SET consolidated = 1 WHERE consolidated = 0 AND state = 'open' AND skill IN (SELECT value FROM json_each(@skills))",
            new { skills = System.Text.Json.JsonSerializer.Serialize(settled) }, transaction, cancellationToken: cancellationToken));

        await transaction.CommitAsync(cancellationToken);
        (_lastRun, _lastThreshold) = (now, thresholds.Similarity);
        if (merges.Count > 0 || moves.Count > 0)
        {
            LogConsolidated(logger, merges.Count, moves.Count);
        }

        return new ConsolidationResult(merges.Count, moves.Count(m => mergedInto.GetValueOrDefault(m.From) != m.To));
    }

    /// <summary>
    /// Plans one skill's re-clustering (see the class remarks). Units start as single signals, except that the members
    /// an admin's decision holds in place (pinned signals, every member of a cluster with a proposal) start as one unit
    /// per cluster, and two such units never merge. Two groups merge, most similar first, when the mean similarity
    /// between their members reaches the threshold and no cluster of one was separated from a cluster of the other.
    /// Average linkage: the mean over members does not drift with a group's size as a centroid does (chaining through
    /// centroids merged unrelated problems on the labelled set), and the result depends on the set, not the order.
    /// </summary>
    private static void Recluster(
        List<Member> members, int dimensions, Dictionary<long, int> sizes, Dictionary<long, ClusterRow> clusters, HashSet<(long, long)> separations,
        float threshold, List<(long Source, long Target, float Similarity)> merges, List<(long Signal, long From, long To, float Own, float Other)> moves, ref long newClusters)
    {
        var firstMove = moves.Count;
        var origin = members.ToDictionary(m => m.Id, m => m.ClusterId);
        // Units, in signal order (the order only breaks exact ties).
        var units = new List<Unit>();
        var anchoredUnit = new Dictionary<long, int>();
        foreach (var member in members.OrderBy(m => m.Id))
        {
            var anchored = member.Pinned || (clusters.TryGetValue(member.ClusterId, out var row) && row.HasProposal);
            if (anchored && anchoredUnit.TryGetValue(member.ClusterId, out var existing))
            {
                units[existing].Add(member);
                continue;
            }

            if (anchored)
            {
                anchoredUnit[member.ClusterId] = units.Count;
            }

            units.Add(new Unit(member, anchored ? member.ClusterId : null, dimensions));
        }

        var n = units.Count;
        var partners = separations.Concat(separations.Select(s => (s.Item2, s.Item1)))
            .GroupBy(s => s.Item1).ToDictionary(g => g.Key, g => g.Select(s => s.Item2).ToHashSet());
        // dots[i * n + j]: the sum of member-to-member similarities between units i and j (the dot of their sums).
        var dots = new float[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                dots[i * n + j] = dots[j * n + i] = TensorPrimitives.Dot(units[i].Sum, units[j].Sum);
            }
        }

        bool Allowed(int i, int j) =>
            !(units[i].Anchor is not null && units[j].Anchor is not null)
            && !units[i].Origins.Any(o => partners.TryGetValue(o, out var separated) && separated.Overlaps(units[j].Origins));
        float Average(int i, int j) => dots[i * n + j] / ((float)units[i].Members.Count * units[j].Members.Count);

        var alive = Enumerable.Repeat(true, n).ToArray();
        var best = new int[n];
        var bestSimilarity = new float[n];
        void Nearest(int i)
        {
            (best[i], bestSimilarity[i]) = (-1, float.NegativeInfinity);
            for (var j = 0; j < n; j++)
            {
                if (j != i && alive[j] && Average(i, j) is var similarity && similarity > bestSimilarity[i] && Allowed(i, j))
                {
                    (best[i], bestSimilarity[i]) = (j, similarity);
                }
            }
        }

        for (var i = 0; i < n; i++)
        {
            Nearest(i);
        }

        while (true)
        {
            var a = -1;
            for (var i = 0; i < n; i++)
            {
                if (alive[i] && bestSimilarity[i] >= threshold && (a < 0 || bestSimilarity[i] > bestSimilarity[a]))
                {
                    a = i;
                }
            }

            if (a < 0)
            {
                break;
            }

            var b = best[a];
            (a, b) = (Math.Min(a, b), Math.Max(a, b));
            for (var c = 0; c < n; c++)
            {
                if (alive[c] && c != a && c != b)
                {
                    dots[a * n + c] = dots[c * n + a] = dots[a * n + c] + dots[b * n + c];
                }
            }

            units[a].Absorb(units[b]);
            alive[b] = false;
            // Average linkage never brings a third group nearer to the merged one than to the nearer of its two parts,
            // so only the rows that pointed at a part look again.
            for (var c = 0; c < n; c++)
            {
                if (alive[c] && (c == a || best[c] == a || best[c] == b))
                {
                    Nearest(c);
                }
            }
        }

        // Each group keeps a cluster: its anchor's, else the one holding most of it (not taken by a larger group).
        var groups = Enumerable.Range(0, n).Where(i => alive[i]).Select(i => units[i])
            .OrderByDescending(u => u.Anchor is not null).ThenByDescending(u => u.Members.Count).ThenBy(u => u.Members.Min(m => m.Id)).ToList();
        var taken = groups.Where(g => g.Anchor is not null).Select(g => g.Anchor!.Value).ToHashSet();
        var remaining = new Dictionary<long, int>(sizes);
        var received = new Dictionary<long, Dictionary<long, int>>();
        foreach (var group in groups)
        {
            var target = group.Anchor ?? group.Members.GroupBy(m => m.ClusterId).Where(g => !taken.Contains(g.Key))
                .OrderByDescending(g => g.Count()).ThenBy(g => g.Key).Select(g => (long?)g.Key).FirstOrDefault() ?? --newClusters;
            taken.Add(target);
            foreach (var member in group.Members.Where(m => m.ClusterId != target).OrderBy(m => m.Id))
            {
                var own = members.Where(m => m.ClusterId == member.ClusterId && m.Id != member.Id).ToList();
                var ownSimilarity = own.Count == 0 ? 0 : own.Average(m => TensorPrimitives.Dot(m.Vector, member.Vector));
                var otherSimilarity = group.Members.Where(m => m.Id != member.Id).DefaultIfEmpty(member).Average(m => TensorPrimitives.Dot(m.Vector, member.Vector));
                moves.Add((member.Id, member.ClusterId, target, ownSimilarity, otherSimilarity));
                remaining[member.ClusterId]--;
                remaining[target] = remaining.GetValueOrDefault(target) + 1;
                var into = received.TryGetValue(member.ClusterId, out var counts) ? counts : received[member.ClusterId] = [];
                into[target] = into.GetValueOrDefault(target) + 1;
            }
        }

        // Moves were planned against the clusters as they were read; apply them to the members now.
        foreach (var (signal, _, to, _, _) in moves.Skip(firstMove))
        {
            members.First(m => m.Id == signal).ClusterId = to;
        }

        // A cluster left with no members went (mostly) into one group: record it as merged there, with the mean
        // similarity between its members and the group's others.
        foreach (var clusterId in remaining.Where(r => r.Value == 0 && r.Key > 0).Select(r => r.Key).Order())
        {
            var target = received[clusterId].OrderByDescending(r => r.Value).ThenBy(r => r.Key).First().Key;
            var came = members.Where(m => origin[m.Id] == clusterId && m.ClusterId == target).ToList();
            var others = members.Where(m => m.ClusterId == target && origin[m.Id] != clusterId).ToList();
            var similarity = others.Count == 0 ? 1 : came.Average(m => others.Average(o => TensorPrimitives.Dot(m.Vector, o.Vector)));
            merges.Add((clusterId, target, similarity));
        }
    }

    /// <summary>A group being formed by <see cref="Recluster"/>: its members, their sum, the clusters they came from.</summary>
    private sealed class Unit
    {
        public Unit(Member first, long? anchor, int dimensions)
        {
            Anchor = anchor;
            Sum = new float[dimensions];
            Add(first);
        }

        public long? Anchor { get; private set; }

        public List<Member> Members { get; } = [];

        public float[] Sum { get; }

        public HashSet<long> Origins { get; } = [];

        public void Add(Member member)
        {
            Members.Add(member);
            TensorPrimitives.Add(Sum, member.Vector, Sum);
            Origins.Add(member.ClusterId);
        }

        public void Absorb(Unit other)
        {
            Members.AddRange(other.Members);
            TensorPrimitives.Add(Sum, other.Sum, Sum);
            Origins.UnionWith(other.Origins);
            Anchor ??= other.Anchor;
        }
    }

    /// <summary>
    /// Merges pairs, most similar centroids first, when every member of the smaller cluster is at least as similar
    /// to the other's centroid as the assignment threshold: exactly the signals that would have joined it had they
    /// arrived after it formed. (Comparing the two centroids alone over-merges: averages are more alike than the
    /// signals they average; measured on the labelled set, English F1 0.889 fell to 0.833.)
    /// </summary>
    private static void Merge(PartitionState state, Dictionary<long, ClusterRow> clusters, HashSet<(long, long)> separations, float threshold, List<(long, long, float)> merges)
    {
        var refused = new HashSet<(long, long)>();
        while (true)
        {
            var ids = state.Sums.Keys.Order().ToList();
            var centroids = ids.Select(state.Centroid).ToList();
            var candidates = new List<(long A, long B, float Similarity)>();
            for (var i = 0; i < ids.Count; i++)
            {
                for (var j = i + 1; j < ids.Count; j++)
                {
                    var similarity = TensorPrimitives.Dot(centroids[i], centroids[j]);
                    if (similarity >= threshold && !refused.Contains((ids[i], ids[j]))
                        && !separations.Contains((ids[i], ids[j])) && !separations.Contains((ids[j], ids[i]))
                        && !(clusters[ids[i]].HasProposal && clusters[ids[j]].HasProposal))
                    {
                        candidates.Add((ids[i], ids[j], similarity));
                    }
                }
            }

            var merged = false;
            foreach (var pair in candidates.OrderByDescending(c => c.Similarity).ThenBy(c => c.A).ThenBy(c => c.B))
            {
                // The cluster with a proposal survives, else the larger, else the older.
                var (source, target) = clusters[pair.A].HasProposal ? (pair.B, pair.A)
                    : clusters[pair.B].HasProposal ? (pair.A, pair.B)
                    : state.Count(pair.B) > state.Count(pair.A) ? (pair.A, pair.B)
                    : (pair.B, pair.A);
                var targetCentroid = state.Centroid(target);
                if (!state.Members.Where(m => m.ClusterId == source).All(m => TensorPrimitives.Dot(m.Vector, targetCentroid) >= threshold))
                {
                    refused.Add((pair.A, pair.B));
                    continue;
                }

                state.MergeInto(source, target);
                foreach (var (a, b) in separations.Where(s => s.Item1 == source || s.Item2 == source).ToList())
                {
                    separations.Add((a == source ? target : a, b == source ? target : b));
                }

                merges.Add((source, target, pair.Similarity));
                merged = true;
                break; // the target's centroid moved: look again
            }

            if (!merged)
            {
                return;
            }
        }
    }

    /// <summary>Moves members to a clearly nearer centroid until none moves; an emptied cluster counts as merged into where its last member went.</summary>
    private static void Rehome(PartitionState state, Dictionary<long, ClusterRow> clusters, HashSet<(long, long)> separations, float threshold, List<(long, long, float)> merges, List<(long, long, long, float, float)> moves)
    {
        for (var round = 0; round < MaxRounds; round++)
        {
            var moved = false;
            foreach (var member in state.Members)
            {
                if (member.Pinned || clusters[member.ClusterId].HasProposal)
                {
                    continue;
                }

                var own = state.Sums[member.ClusterId];
                var ownCount = state.Count(member.ClusterId);
                float ownSimilarity;
                if (ownCount > 1)
                {
                    var rest = new float[own.Length];
                    TensorPrimitives.Subtract(own, member.Vector, rest);
                    ownSimilarity = TensorPrimitives.CosineSimilarity(rest, member.Vector);
                }
                else
                {
                    ownSimilarity = float.NegativeInfinity;
                }

                long? bestId = null;
                var bestSimilarity = float.NegativeInfinity;
                foreach (var (id, sum) in state.Sums.OrderBy(s => s.Key))
                {
                    if (id == member.ClusterId || separations.Contains((member.ClusterId, id)))
                    {
                        continue;
                    }

                    var similarity = TensorPrimitives.CosineSimilarity(sum, member.Vector);
                    if (similarity > bestSimilarity)
                    {
                        (bestId, bestSimilarity) = (id, similarity);
                    }
                }

                if (bestId is not { } to || bestSimilarity < threshold || bestSimilarity <= ownSimilarity + MoveMargin)
                {
                    continue;
                }

                var from = member.ClusterId;
                moves.Add((member.Id, from, to, ownSimilarity == float.NegativeInfinity ? 0 : ownSimilarity, bestSimilarity));
                state.Move(member, to);
                if (!state.Sums.ContainsKey(from))
                {
                    merges.Add((from, to, bestSimilarity));
                }

                moved = true;
            }

            if (!moved)
            {
                return;
            }
        }
    }

    private sealed class Member(long id, long clusterId, bool pinned, float[] vector)
    {
        public long Id { get; } = id;
        public long ClusterId { get; set; } = clusterId;
        public bool Pinned { get; } = pinned;
        public float[] Vector { get; } = vector;
    }

    /// <summary>The members of one skill and each cluster's sum of unit vectors, kept in step as members move.</summary>
    private sealed class PartitionState
    {
        private readonly Dictionary<long, int> _counts = [];

        public PartitionState(List<Member> members, int dimensions)
        {
            Members = members;
            foreach (var member in members)
            {
                if (!Sums.TryGetValue(member.ClusterId, out var sum))
                {
                    Sums[member.ClusterId] = sum = new float[dimensions];
                    _counts[member.ClusterId] = 0;
                }

                TensorPrimitives.Add(sum, member.Vector, sum);
                _counts[member.ClusterId]++;
            }
        }

        public List<Member> Members { get; }

        public Dictionary<long, float[]> Sums { get; } = [];

        public int Count(long clusterId) => _counts[clusterId];

        public float[] Centroid(long clusterId) => Vectors.Normalize(Sums[clusterId]);

        public void MergeInto(long source, long target)
        {
            TensorPrimitives.Add(Sums[target], Sums[source], Sums[target]);
            _counts[target] += _counts[source];
            Sums.Remove(source);
            _counts.Remove(source);
            foreach (var member in Members.Where(m => m.ClusterId == source))
            {
                member.ClusterId = target;
            }
        }

        public void Move(Member member, long to)
        {
            var from = member.ClusterId;
            TensorPrimitives.Subtract(Sums[from], member.Vector, Sums[from]);
            TensorPrimitives.Add(Sums[to], member.Vector, Sums[to]);
            _counts[to]++;
            if (--_counts[from] == 0)
            {
                Sums.Remove(from);
                _counts.Remove(from);
            }

            member.ClusterId = to;
        }
    }

    private sealed class ClusterRow
    {
        public long Id { get; init; }
        public string Skill { get; init; } = "";
        public DateTimeOffset UpdatedAt { get; init; }
        public bool Consolidated { get; init; }
        public bool HasProposal { get; init; }
    }

    private sealed class MemberRow
    {
        public long Id { get; init; }
        public long ClusterId { get; init; }
        public bool Pinned { get; init; }
        public byte[] Vector { get; init; } = [];
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Clusters consolidated: {Merged} merged, {Moved} signal(s) re-homed")]
    private static partial void LogConsolidated(ILogger logger, int merged, int moved);
}
