using Dapper;
using SkillLoop.Core.Data;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Data;

public sealed class SqliteVecTests
{
    [Fact]
    public async Task Vec0_fetched_by_the_build_answers_its_version_and_a_knn_query()
    {
        await using var core = await TestCore.StartAsync();
        var db = core.Get<SqliteDb>();
        Assert.True(db.Vec.IsAvailable, db.Vec.Error);

        await using var connection = await db.OpenWithVectorsAsync(CancellationToken.None);
        Assert.Equal("v0.1.9", await connection.ExecuteScalarAsync<string>("SELECT vec_version()"));

        await connection.ExecuteAsync("CREATE VIRTUAL TABLE t USING vec0(embedding float[4] distance_metric=cosine)");
        float[][] vectors = [[1, 0, 0, 0], [0, 1, 0, 0], [0.9f, 0.1f, 0, 0], [0, 0, 1, 0]];
        for (var i = 0; i < vectors.Length; i++)
        {
            await connection.ExecuteAsync("INSERT INTO t (rowid, embedding) VALUES (@id, @v)", new { id = i + 1, v = ToBlob(vectors[i]) });
        }

        var nearest = (await connection.QueryAsync<long>(
            "SELECT rowid FROM t WHERE embedding MATCH @q AND k = 2 ORDER BY distance",
            new { q = ToBlob([1, 0.05f, 0, 0]) })).ToList();

        Assert.Equal([1L, 3L], nearest);
        Assert.Equal("sqlite-vec v0.1.9", db.Vec.Description);
    }

    [Fact]
    public async Task Without_vec0_the_server_still_starts_and_reports_exact_search()
    {
        await using var core = await TestCore.StartAsync(new Dictionary<string, string?> { ["SKILLLOOP_SQLITE_VEC"] = "/nonexistent/vec0.so" });
        var db = core.Get<SqliteDb>();

        Assert.False(db.Vec.IsAvailable);
        Assert.Equal("exact (in-process)", db.Vec.Description);
        Assert.Contains("/nonexistent/vec0.so", db.Vec.Error);
        await using var connection = await db.OpenWithVectorsAsync(CancellationToken.None);
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT 1"));
    }

    private static byte[] ToBlob(float[] vector)
    {
        var bytes = new byte[vector.Length * sizeof(float)];
        Buffer.BlockCopy(vector, 0, bytes, 0, bytes.Length);
        return bytes;
    }
}
