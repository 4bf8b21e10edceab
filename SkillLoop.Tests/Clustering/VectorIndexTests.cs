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
    public async Task A_large_partition_searched_through_its_int8_copy_returns_the_exact_neighbours_and_sees_later_writes()
    {
        await using var core = await TestCore.StartAsync();
        var db = core.Get<SqliteDb>();
        var index = new VectorIndex(db, "large", largePartition: 1000);
        var random = new Random(7);
        await using var connection = await db.OpenWithVectorsAsync(CancellationToken.None);
        await using (var transaction = connection.BeginTransaction())
        {
            for (var id = 1; id <= 1500; id++)
            {
                await index.UpsertAsync(connection, transaction, id, "big", RandomVector(random, 384), CancellationToken.None);
            }

            await index.UpsertAsync(connection, transaction, 9000, "small", RandomVector(random, 384), CancellationToken.None);
            transaction.Commit();
        }

        for (var q = 0; q < 25; q++)
        {
            var query = RandomVector(random, 384);
            var viaInt8 = await index.NearestAsync(connection, null, "big", query, 10, CancellationToken.None);
            var exact = await index.ExactNearestAsync(connection, null, "big", Vectors.Normalize(query), 10, CancellationToken.None);

            Assert.Equal(exact.Select(m => m.Id), viaInt8.Select(m => m.Id));
            Assert.All(viaInt8.Zip(exact), pair => Assert.Equal(pair.Second.Similarity, pair.First.Similarity, 5));
        }

        // Writes after the copy was loaded: a new vector, a moved one and a deleted one.
        var probe = RandomVector(random, 384);
        await index.UpsertAsync(connection, null, 5000, "big", probe, CancellationToken.None);
        Assert.Equal(5000, (await index.NearestAsync(connection, null, "big", probe, 1, CancellationToken.None)).Single().Id);
        await index.UpsertAsync(connection, null, 5000, "small", probe, CancellationToken.None);
        Assert.NotEqual(5000, (await index.NearestAsync(connection, null, "big", probe, 1, CancellationToken.None)).Single().Id);
        Assert.Equal(5000, (await index.NearestAsync(connection, null, "small", probe, 1, CancellationToken.None)).Single().Id);
        var nearest = (await index.NearestAsync(connection, null, "big", probe, 1, CancellationToken.None)).Single().Id;
        await index.DeleteAsync(connection, null, nearest, CancellationToken.None);
        Assert.NotEqual(nearest, (await index.NearestAsync(connection, null, "big", probe, 1, CancellationToken.None)).Single().Id);
    }

    [Fact]
    public void The_int8_dot_product_matches_the_scalar_one_for_every_length()
    {
        var random = new Random(3);
        foreach (var length in new[] { 1, 31, 32, 33, 64, 384, 1000 })
        {
            var a = Enumerable.Range(0, length).Select(_ => (sbyte)random.Next(-127, 128)).ToArray();
            var b = Enumerable.Range(0, length).Select(_ => (sbyte)random.Next(-127, 128)).ToArray();

            Assert.Equal(a.Zip(b).Sum(p => p.First * p.Second), QuantizedPartition.Dot(a, b));
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
