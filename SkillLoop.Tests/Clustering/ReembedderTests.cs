using Dapper;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Abstractions;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;
using static SkillLoop.Tests.Clustering.ClustererTests;

namespace SkillLoop.Tests.Clustering;

public sealed class ReembedderTests
{
    [Fact]
    public async Task A_new_embedding_model_re_embeds_every_signal_and_keeps_cluster_membership()
    {
        await using var core = await StartAsync(sqliteVec: true);
        var clusterer = core.Get<Clusterer>();
        var totals = await clusterer.AssignAsync(await StoreAsync(core, "alice", "pdf-report", "the totals row must stay at the bottom"), null, CancellationToken.None);
        await clusterer.AssignAsync(await StoreAsync(core, "bob", "pdf-report", "totals row at the bottom of the table"), null, CancellationToken.None);
        var dates = await clusterer.AssignAsync(await StoreAsync(core, "carol", "pdf-report", "dates in ISO format year month day"), null, CancellationToken.None);
        var first = Create(core, new BagOfWordsEmbeddingGenerator());
        await first.RunAsync(CancellationToken.None);
        Assert.Equal("bag-of-words/bow-64" + Clusterer.EmbeddedText, await core.Get<SettingsStore>().GetAsync(Reembedder.ModelKey, CancellationToken.None));

        var second = Create(core, new BagOfWordsEmbeddingGenerator(dimensions: 32));
        await second.RunAsync(CancellationToken.None);

        Assert.Equal(new ReembedProgress("bag-of-words/bow-32" + Clusterer.EmbeddedText, false, 3, 3, null), second.Progress);
        await using var connection = await core.Get<SqliteDb>().OpenWithVectorsAsync(CancellationToken.None);
        Assert.Equal([32], (await connection.QueryAsync<int>("SELECT DISTINCT dimensions FROM vectors")).ToList());
        Assert.Equal([totals.ClusterId, totals.ClusterId, dates.ClusterId], (await connection.QueryAsync<long>("SELECT cluster_id FROM signals ORDER BY id")).ToList());
        var centroid = await connection.QuerySingleAsync<byte[]>("SELECT centroid_sum FROM clusters WHERE id = @id", new { id = totals.ClusterId });
        Assert.Equal(32 * sizeof(float), centroid.Length);
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM vec_signals_64"));
        var nearest = await new VectorIndex(core.Get<SqliteDb>(), Clusterer.ClustersKind).NearestAsync(
            connection, null, "pdf-report", BagOfWordsEmbeddingGenerator.Embed("totals row bottom", 32), 1, CancellationToken.None);
        Assert.Equal(totals.ClusterId, Assert.Single(nearest).Id);
    }

    [Fact]
    public async Task The_same_model_again_re_embeds_nothing()
    {
        await using var core = await StartAsync(sqliteVec: true);
        await core.Get<Clusterer>().AssignAsync(await StoreAsync(core, "alice", "pdf-report", "totals at the bottom"), null, CancellationToken.None);
        var counting = new BagOfWordsEmbeddingGenerator();
        await Create(core, counting).RunAsync(CancellationToken.None);
        var callsAfterFirst = counting.Calls;

        await Create(core, counting).RunAsync(CancellationToken.None);

        Assert.Equal(callsAfterFirst, counting.Calls);
    }

    private static Reembedder Create(TestCore core, IEmbeddingGenerator<string, Embedding<float>> embedder) =>
        new(core.Get<SqliteDb>(), core.Get<DatabaseState>(), embedder,
            new Clusterer(core.Get<SqliteDb>(), embedder, core.Get<ClusteringSettings>(), TimeProvider.System, NullLogger<Clusterer>.Instance),
            core.Get<ClusteringSettings>(), core.Get<SettingsStore>(), TimeProvider.System, NullLogger<Reembedder>.Instance);
}
