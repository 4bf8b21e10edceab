using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Clustering;

public sealed record VectorMatch(long Id, float Similarity);

/// <summary>
/// Nearest-neighbour search over vectors of one kind (e.g. "signals", "clusters"), partitioned by skill.
/// The plain <c>vectors</c> table is the source of truth; when sqlite-vec is loaded a <c>vec0</c> table mirrors it
/// and answers the queries, otherwise an exact in-process scan does — with the same results.
/// All calls take the caller's connection (opened with <see cref="SqliteDb.OpenWithVectorsAsync"/>) and transaction.
/// </summary>
public sealed class VectorIndex(SqliteDb db, string kind)
{
    public string Kind { get; } = kind;

    public bool UsesSqliteVec => db.Vec.IsAvailable;

    private string VecTable(int dimensions) => $"vec_{Kind}_{dimensions.ToString(CultureInfo.InvariantCulture)}";

    public async Task UpsertAsync(SqliteConnection connection, SqliteTransaction? transaction, long id, string partition, float[] vector, CancellationToken cancellationToken)
    {
        var unit = Vectors.Normalize(vector);
        var blob = Vectors.ToBlob(unit);
        var previousDimensions = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT dimensions FROM vectors WHERE kind = @kind AND id = @id", new { kind = Kind, id }, transaction, cancellationToken: cancellationToken));
        if (UsesSqliteVec && previousDimensions is { } old && old != unit.Length && await VecTableExistsAsync(connection, transaction, old, cancellationToken))
        {
            // A new embedding model with another size: the vector moves to that size's vec0 table.
            await connection.ExecuteAsync(new CommandDefinition($"DELETE FROM {VecTable(old)} WHERE item_id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        }

        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO vectors (kind, id, partition, dimensions, vector) VALUES (@kind, @id, @partition, @dimensions, @blob)
            ON CONFLICT (kind, id) DO UPDATE SET partition = excluded.partition, dimensions = excluded.dimensions, vector = excluded.vector
            """, new { kind = Kind, id, partition, dimensions = unit.Length, blob }, transaction, cancellationToken: cancellationToken));
        if (UsesSqliteVec)
        {
            var table = await EnsureVecTableAsync(connection, transaction, unit.Length, cancellationToken);
            // vec0 has no upsert: delete, then insert.
            await connection.ExecuteAsync(new CommandDefinition($"DELETE FROM {table} WHERE item_id = @id", new { id }, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                $"INSERT INTO {table} (item_id, partition, embedding) VALUES (@id, @partition, @blob)",
                new { id, partition, blob }, transaction, cancellationToken: cancellationToken));
        }
    }

    public async Task DeleteAsync(SqliteConnection connection, SqliteTransaction? transaction, long id, CancellationToken cancellationToken)
    {
        var dimensions = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "DELETE FROM vectors WHERE kind = @kind AND id = @id RETURNING dimensions", new { kind = Kind, id }, transaction, cancellationToken: cancellationToken));
        if (UsesSqliteVec && dimensions is { } d && await VecTableExistsAsync(connection, transaction, d, cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition($"DELETE FROM {VecTable(d)} WHERE item_id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        }
    }

    /// <summary>The <paramref name="k"/> most similar vectors in <paramref name="partition"/>, most similar first.</summary>
    public async Task<IReadOnlyList<VectorMatch>> NearestAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string partition, float[] query, int k, CancellationToken cancellationToken)
    {
        var unit = Vectors.Normalize(query);
        if (UsesSqliteVec)
        {
            if (!await VecTableExistsAsync(connection, transaction, unit.Length, cancellationToken))
            {
                return [];
            }

            var rows = await connection.QueryAsync<MatchRow>(new CommandDefinition(
                $"""
                SELECT item_id AS Id, distance AS Distance FROM {VecTable(unit.Length)}
                WHERE embedding MATCH @q AND k = @k AND partition = @partition
                ORDER BY distance
                """, new { q = Vectors.ToBlob(unit), k, partition }, transaction, cancellationToken: cancellationToken));
            return rows.Select(r => new VectorMatch(r.Id, 1f - (float)r.Distance)).ToList();
        }

        return await ExactNearestAsync(connection, transaction, partition, unit, k, cancellationToken);
    }

    /// <summary>The exact search (also the reference the sqlite-vec path is tested against).</summary>
    internal async Task<IReadOnlyList<VectorMatch>> ExactNearestAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string partition, float[] unitQuery, int k, CancellationToken cancellationToken)
    {
        var best = new PriorityQueue<VectorMatch, float>(k + 1);
        // Streamed: a large partition is never held in memory at once.
        var rows = connection.QueryUnbufferedAsync<VectorRow>(
            "SELECT id AS Id, vector AS Vector FROM vectors WHERE kind = @kind AND partition = @partition AND dimensions = @dimensions",
            new { kind = Kind, partition, dimensions = unitQuery.Length }, transaction);
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            var similarity = Vectors.CosineSimilarity(unitQuery, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(row.Vector));
            best.Enqueue(new VectorMatch(row.Id, similarity), similarity);
            if (best.Count > k)
            {
                best.Dequeue();
            }
        }

        var result = new List<VectorMatch>(best.Count);
        while (best.TryDequeue(out var match, out _))
        {
            result.Add(match);
        }

        result.Reverse();
        return result;
    }

    private async Task<string> EnsureVecTableAsync(SqliteConnection connection, SqliteTransaction? transaction, int dimensions, CancellationToken cancellationToken)
    {
        var table = VecTable(dimensions);
        await connection.ExecuteAsync(new CommandDefinition(
            $"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING vec0(item_id integer primary key, partition text partition key, embedding float[{dimensions.ToString(CultureInfo.InvariantCulture)}] distance_metric=cosine)",
            transaction: transaction, cancellationToken: cancellationToken));
        return table;
    }

    private async Task<bool> VecTableExistsAsync(SqliteConnection connection, SqliteTransaction? transaction, int dimensions, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT count(*) FROM sqlite_master WHERE name = @name", new { name = VecTable(dimensions) }, transaction, cancellationToken: cancellationToken)) > 0;

    private sealed class MatchRow
    {
        public long Id { get; init; }
        public double Distance { get; init; }
    }

    private sealed class VectorRow
    {
        public long Id { get; init; }
        public byte[] Vector { get; init; } = [];
    }
}
