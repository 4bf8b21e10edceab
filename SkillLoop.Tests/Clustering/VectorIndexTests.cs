using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Clustering;

public sealed class VectorIndexTests
{
    [Fact]
    public async Task Sqlite_vec_and_the_exact_fallback_return_the_same_neighbours()
    {
        await using var core = await TestCore.StartAsync();
        var db = core.Get<SqliteDb>();
        Assert.True(db.Vec.IsAvailable, db.Vec.Error);
        var index = new VectorIndex(db, "test");
        var random = new Random(42);
        await using var connection = await db.OpenWithVectorsAsync(CancellationToken.None);
        await using (var transaction = connection.BeginTransaction())
        {
            for (var id = 1; id <= 600; id++)
            {
                await index.UpsertAsync(connection, transaction, id, $"skill-{id % 3}", RandomVector(random, 48), CancellationToken.None);
            }

            transaction.Commit();
        }

        for (var q = 0; q < 25; q++)
        {
            var query = RandomVector(random, 48);
            var partition = $"skill-{q % 3}";

            var viaVec = await index.NearestAsync(connection, null, partition, query, 10, CancellationToken.None);
            var exact = await index.ExactNearestAsync(connection, null, partition, Vectors.Normalize(query), 10, CancellationToken.None);

            Assert.Equal(10, viaVec.Count);
            Assert.Equal(exact.Select(m => m.Id), viaVec.Select(m => m.Id));
            Assert.All(viaVec.Zip(exact), pair => Assert.Equal(pair.Second.Similarity, pair.First.Similarity, 4));
            Assert.All(viaVec, m => Assert.Equal(int.Parse(partition[^1..], System.Globalization.CultureInfo.InvariantCulture), (int)(m.Id % 3)));
        }
    }

    [Fact]
    public async Task Without_sqlite_vec_the_index_searches_exactly_and_honours_updates_and_deletes()
    {
        await using var core = await TestCore.StartAsync(new Dictionary<string, string?> { ["SKILLLOOP_SQLITE_VEC"] = "/nonexistent/vec0.so" });
        var db = core.Get<SqliteDb>();
        var index = new VectorIndex(db, "test");
        await using var connection = await db.OpenWithVectorsAsync(CancellationToken.None);
        await index.UpsertAsync(connection, null, 1, "s", [1, 0, 0], CancellationToken.None);
        await index.UpsertAsync(connection, null, 2, "s", [0, 1, 0], CancellationToken.None);
        await index.UpsertAsync(connection, null, 3, "other", [1, 0, 0], CancellationToken.None);

        Assert.False(index.UsesSqliteVec);
        Assert.Equal([1L, 2L], (await index.NearestAsync(connection, null, "s", [2, 0.1f, 0], 5, CancellationToken.None)).Select(m => m.Id));

        await index.UpsertAsync(connection, null, 1, "s", [0, 0, 1], CancellationToken.None);
        await index.DeleteAsync(connection, null, 2, CancellationToken.None);
        var after = await index.NearestAsync(connection, null, "s", [2, 0.1f, 0], 5, CancellationToken.None);

        var only = Assert.Single(after);
        Assert.Equal(1L, only.Id);
        Assert.Equal(0f, only.Similarity, 4);
    }

    private static float[] RandomVector(Random random, int dimensions) =>
        Enumerable.Range(0, dimensions).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
}
