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
/// Partitions of at least <c>largePartition</c> vectors are searched through an in-memory int8 copy
/// (<see cref="QuantizedPartition"/>) whose candidates are re-ranked exactly in float32: vec0's scan costs about
/// 0.45 µs per vector, too slow at 100k. Writes through this instance keep that copy current; a candidate whose
/// write was rolled back is dropped at the re-rank, which reads the <c>vectors</c> table.
/// </summary>
public sealed class VectorIndex(SqliteDb db, string kind, int largePartition = VectorIndex.DefaultLargePartition)
{
    public const int DefaultLargePartition = 4096;

    private readonly Lock _gate = new();
    private readonly Dictionary<(string Partition, int Dimensions), QuantizedPartition> _quantized = [];
    private long _writes;

    public string Kind { get; } = kind;

    public bool UsesSqliteVec => db.Vec.IsAvailable;

    private string VecTable(int dimensions) => $"vec_{Kind}_{dimensions.ToString(CultureInfo.InvariantCulture)}";

    public async Task UpsertAsync(SqliteConnection connection, SqliteTransaction? transaction, long id, string partition, float[] vector, CancellationToken cancellationToken)
    {
        var unit = Vectors.Normalize(vector);
        var blob = Vectors.ToBlob(unit);
        var previous = await connection.QuerySingleOrDefaultAsync<PlacementRow>(new CommandDefinition(
            "SELECT dimensions AS Dimensions, partition AS Partition FROM vectors WHERE kind = @kind AND id = @id", new { kind = Kind, id }, transaction, cancellationToken: cancellationToken));
        var previousDimensions = previous?.Dimensions;
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

        lock (_gate)
        {
            _writes++;
            if (previous is not null && _quantized.TryGetValue((previous.Partition, previous.Dimensions), out var before))
            {
                before.Remove(id);
            }

            if (_quantized.TryGetValue((partition, unit.Length), out var current))
            {
                current.Set(id, unit);
            }
        }
    }

    public async Task DeleteAsync(SqliteConnection connection, SqliteTransaction? transaction, long id, CancellationToken cancellationToken)
    {
        var deleted = await connection.QuerySingleOrDefaultAsync<PlacementRow>(new CommandDefinition(
            "DELETE FROM vectors WHERE kind = @kind AND id = @id RETURNING dimensions AS Dimensions, partition AS Partition",
            new { kind = Kind, id }, transaction, cancellationToken: cancellationToken));
        if (UsesSqliteVec && deleted is { Dimensions: var d } && await VecTableExistsAsync(connection, transaction, d, cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition($"DELETE FROM {VecTable(d)} WHERE item_id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        }

        lock (_gate)
        {
            _writes++;
            if (deleted is not null && _quantized.TryGetValue((deleted.Partition, deleted.Dimensions), out var cached))
            {
                cached.Remove(id);
            }
        }
    }

    /// <summary>The <paramref name="k"/> most similar vectors in <paramref name="partition"/>, most similar first.</summary>
    public async Task<IReadOnlyList<VectorMatch>> NearestAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string partition, float[] query, int k, CancellationToken cancellationToken)
    {
        var unit = Vectors.Normalize(query);
        if (await QuantizedAsync(connection, transaction, partition, unit.Length, cancellationToken) is { } quantized)
        {
            return await RerankAsync(connection, transaction, partition, unit, quantized, k, cancellationToken);
        }

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

    /// <summary>The partition's int8 copy when it is large enough to need it (loaded on first use), else null.</summary>
    private async Task<QuantizedPartition?> QuantizedAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string partition, int dimensions, CancellationToken cancellationToken)
    {
        long writesBefore;
        lock (_gate)
        {
            if (_quantized.TryGetValue((partition, dimensions), out var cached))
            {
                return cached.Count >= largePartition ? cached : null;
            }

            writesBefore = _writes;
        }

        var loaded = new QuantizedPartition(dimensions);
        var rows = connection.QueryUnbufferedAsync<VectorRow>(
            "SELECT id AS Id, vector AS Vector FROM vectors WHERE kind = @kind AND partition = @partition AND dimensions = @dimensions",
            new { kind = Kind, partition, dimensions }, transaction);
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            loaded.Set(row.Id, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(row.Vector));
        }

        lock (_gate)
        {
            // A write that landed while loading may be missing from the copy: use it for this query, keep it only if none did.
            if (_writes == writesBefore)
            {
                _quantized.TryAdd((partition, dimensions), loaded);
            }
        }

        return loaded.Count >= largePartition ? loaded : null;
    }

    private async Task<IReadOnlyList<VectorMatch>> RerankAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string partition, float[] unit, QuantizedPartition quantized, int k, CancellationToken cancellationToken)
    {
        IReadOnlyList<long> candidates;
        lock (_gate)
        {
            // Oversampled: int8 rounding only reorders near-ties, which the exact re-rank settles.
            candidates = quantized.Candidates(unit, Math.Max(64, k * 8));
        }

        // Looked up by primary key only: with the partition in the WHERE clause SQLite scans the partition index.
        var rows = await connection.QueryAsync<CandidateRow>(new CommandDefinition(
            "SELECT id AS Id, partition AS Partition, dimensions AS Dimensions, vector AS Vector FROM vectors WHERE kind = @kind AND id IN @candidates",
            new { kind = Kind, candidates }, transaction, cancellationToken: cancellationToken));
        return rows
            .Where(r => r.Partition == partition && r.Dimensions == unit.Length)
            .Select(r => new VectorMatch(r.Id, Vectors.CosineSimilarity(unit, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(r.Vector))))
            .OrderByDescending(m => m.Similarity)
            .ThenBy(m => m.Id)
            .Take(k)
            .ToList();
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
        // chunk_size 64 (default 1,024): every insert and delete rewrites its chunk's vector blob, so small chunks keep
        // each clustering step's writes small (a backlog cleared 50 -> 76-120 signals/s). Large partitions are searched
        // through the int8 copy, not by scanning vec0 chunks. Tables made before keep their chunk size.
        await connection.ExecuteAsync(new CommandDefinition(
            $"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING vec0(item_id integer primary key, partition text partition key, embedding float[{dimensions.ToString(CultureInfo.InvariantCulture)}] distance_metric=cosine, chunk_size=64)",
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

    private sealed class CandidateRow
    {
        public long Id { get; init; }
        public string Partition { get; init; } = "";
        public int Dimensions { get; init; }
        public byte[] Vector { get; init; } = [];
    }

    private sealed class PlacementRow
    {
        public int Dimensions { get; init; }
        public string Partition { get; init; } = "";
    }

    private sealed class VectorRow
    {
        public long Id { get; init; }
        public byte[] Vector { get; init; } = [];
    }
}
