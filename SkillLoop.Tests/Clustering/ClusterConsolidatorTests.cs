using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Extensions.AI;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Clustering;

public sealed partial class ClusterConsolidatorTests
{
    // Threshold 0.6 (as in ClustererTests). Directions in a plane: A–C are 70° apart (cos 0.34), B lies between them
    // (cos 0.82 to each), and the centroid of A and B is 52.5° from C (cos 0.61).
    private const string A = "the totals row must come last angle:0";
    private const string B = "totals belong at the bottom of the table angle:35";
    private const string C = "put the sum row under the data angle:70";

    [Fact]
    public async Task Three_paraphrases_split_by_an_unlucky_arrival_order_end_up_in_one_cluster_and_the_merge_is_audited()
    {
        await using var core = await ClustererTests.StartAsync(sqliteVec: true, new AngleEmbedder());
        var clusterer = core.Get<Clusterer>();
        var ids = new List<long>();
        foreach (var (user, text) in new[] { ("alice", A), ("carol", C), ("bob", B) })
        {
            ids.Add(await ClustererTests.StoreAsync(core, user, "pdf-report", text));
            await clusterer.AssignAsync(ids[^1], null, CancellationToken.None);
        }

        Assert.Equal(2, (await ClustersOfAsync(core, ids)).Distinct().Count()); // the greedy order-dependent result

        var result = await core.Get<ClusterConsolidator>().RunAsync(CancellationToken.None);

        Assert.Equal(1, result.Merged);
        var clusters = await ClustersOfAsync(core, ids);
        Assert.Single(clusters.Distinct());
        var open = Assert.Single(await core.Get<ClusterStore>().ListAsync("pdf-report", "open", CancellationToken.None));
        Assert.Equal((3, 3), (open.SignalCount, open.DistinctUsers));
        Assert.NotNull(open.ThresholdReachedAt);
        var audit = Assert.Single(await AuditAsync(core));
        Assert.Equal(("consolidation", "cluster.merge"), (audit.Actor, audit.Action));
        Assert.Contains($"into #{open.Id}", audit.Detail);
        Assert.Equal(new ConsolidationResult(0, 0), await core.Get<ClusterConsolidator>().RunAsync(CancellationToken.None)); // stable
    }

    [Fact]
    public async Task A_member_closer_to_another_clusters_centroid_is_re_homed()
    {
        await using var core = await ClustererTests.StartAsync(sqliteVec: true, new AngleEmbedder());
        var clusterer = core.Get<Clusterer>();
        var ids = new List<long>();
        // 0° starts a cluster, 50° joins it (cos 0.64), 100° and 95° form another; 50° is nearer that one's centroid.
        foreach (var (user, angle) in new[] { ("u1", 0), ("u2", 50), ("u3", 100), ("u4", 95) })
        {
            ids.Add(await ClustererTests.StoreAsync(core, user, "pdf-report", $"report problem number {user} angle:{angle}"));
            await clusterer.AssignAsync(ids[^1], null, CancellationToken.None);
        }

        var before = await ClustersOfAsync(core, ids);
        Assert.Equal(before[0], before[1]);

        var result = await core.Get<ClusterConsolidator>().RunAsync(CancellationToken.None);

        Assert.Equal(new ConsolidationResult(0, 1), result);
        var after = await ClustersOfAsync(core, ids);
        Assert.Equal([before[0], before[2], before[2], before[2]], after);
        var audit = Assert.Single(await AuditAsync(core));
        Assert.Equal("cluster.move", audit.Action);
        Assert.Contains($"signal #{ids[1]} from cluster #{before[0]} to #{before[2]}", audit.Detail);
    }

    [Fact]
    public async Task A_noise_mark_and_an_admins_split_are_never_undone()
    {
        await using var core = await ClustererTests.StartAsync(sqliteVec: true, new AngleEmbedder());
        var clusterer = core.Get<Clusterer>();
        var store = core.Get<ClusterStore>();
        var ids = new List<long>();
        foreach (var (user, text) in new[] { ("alice", A), ("carol", C), ("bob", B) })
        {
            ids.Add(await ClustererTests.StoreAsync(core, user, "pdf-report", text));
            await clusterer.AssignAsync(ids[^1], null, CancellationToken.None);
        }

        var clusters = await ClustersOfAsync(core, ids);
        await store.SetNoiseAsync(clusters[1], true, CancellationToken.None); // C's cluster

        Assert.Equal(new ConsolidationResult(0, 0), await core.Get<ClusterConsolidator>().RunAsync(CancellationToken.None));
        Assert.Equal(clusters, await ClustersOfAsync(core, ids));

        // Three near-identical signals in one cluster; the admin moves one out: it stays out, and nothing joins it.
        var near = new List<long>();
        foreach (var (user, angle) in new[] { ("dave", 200), ("erin", 205), ("fred", 210) })
        {
            near.Add(await ClustererTests.StoreAsync(core, user, "pdf-report", $"another problem by {user} angle:{angle}"));
            await clusterer.AssignAsync(near[^1], null, CancellationToken.None);
        }

        Assert.Single((await ClustersOfAsync(core, near)).Distinct());
        var split = await store.MoveOutAsync(near[1], CancellationToken.None);

        Assert.Equal(new ConsolidationResult(0, 0), await core.Get<ClusterConsolidator>().RunAsync(CancellationToken.None));
        var after = await ClustersOfAsync(core, near);
        Assert.Equal(split.Id, after[1]);
        Assert.NotEqual(split.Id, after[0]);
        Assert.Equal(after[0], after[2]);
        Assert.Contains(await AuditAsync(core), a => a.Action == "cluster.move-out");
        Assert.DoesNotContain(await AuditAsync(core), a => a.Actor == ClusterConsolidator.Actor);
    }

    [Fact]
    public async Task Close_clusters_in_two_languages_are_suggested_for_a_merge_and_same_language_ones_are_not()
    {
        await using var core = await ClustererTests.StartAsync(sqliteVec: true, new AngleEmbedder());
        var clusterer = core.Get<Clusterer>();
        async Task<long> AssignAsync(string user, string text) =>
            (await clusterer.AssignAsync(await ClustererTests.StoreAsync(core, user, "pdf-report", text), null, CancellationToken.None)).ClusterId;

        // Threshold 0.6; suggestions from 0.45. 60° apart: cos 0.5.
        var english = await AssignAsync("alice", "the totals row must come last angle:0");
        var chinese = await AssignAsync("bob", "合计行必须放在最后 angle:60");
        var otherEnglish = await AssignAsync("carol", "the header must repeat on each page angle:300");

        var suggestion = Assert.Single(await core.Get<ClusterStore>().SuggestMergesAsync(10, CancellationToken.None));

        Assert.Equal([english, chinese], new[] { suggestion.Cluster.Id, suggestion.Other.Id }.Order());
        Assert.Equal(0.5f, suggestion.Similarity, 3);
        Assert.DoesNotContain(otherEnglish, new[] { suggestion.Cluster.Id, suggestion.Other.Id });
        Assert.StartsWith("合计行", (await core.Get<ClusterStore>().GetAsync(chinese, CancellationToken.None))!.Cluster.Title);
    }

    private static async Task<List<long>> ClustersOfAsync(TestCore core, IEnumerable<long> ids)
    {
        await using var connection = await core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        var result = new List<long>();
        foreach (var id in ids)
        {
            result.Add(await connection.ExecuteScalarAsync<long>("SELECT cluster_id FROM signals WHERE id = @id", new { id }));
        }

        return result;
    }

    private static async Task<List<AuditRow>> AuditAsync(TestCore core)
    {
        await using var connection = await core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        return (await connection.QueryAsync<AuditRow>("SELECT actor AS Actor, action AS Action, detail AS Detail FROM audit_log ORDER BY id")).ToList();
    }

    private sealed class AuditRow
    {
        public string Actor { get; init; } = "";
        public string Action { get; init; } = "";
        public string Detail { get; init; } = "";
    }

    /// <summary>Embeds "angle:N" as the unit vector at N degrees in a plane: similarities are exactly cosines.</summary>
    private sealed partial class AngleEmbedder : IEmbeddingGenerator<string, Embedding<float>>
    {
        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(values.Select(v =>
            {
                var degrees = double.Parse(Angle().Match(v).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                var radians = degrees * Math.PI / 180;
                return new Embedding<float>(new[] { (float)Math.Cos(radians), (float)Math.Sin(radians), 0f, 0f });
            })));

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(EmbeddingGeneratorMetadata) ? new EmbeddingGeneratorMetadata("angles", null, "angles-4", 4) : null;

        public void Dispose()
        {
        }

        [GeneratedRegex(@"angle:(\d+)")]
        private static partial Regex Angle();
    }
}
