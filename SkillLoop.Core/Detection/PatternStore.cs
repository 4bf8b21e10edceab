using Dapper;
using SkillLoop.Core.Data;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Core.Detection;

public sealed record PatternPrecision(string PatternId, long Signals, long Noise, double Precision);

/// <summary>Correction patterns are data: seeded from the client's built-in set, then edited in the dashboard.</summary>
public sealed class PatternStore(SqliteDb db, TimeProvider time)
{
    /// <summary>Adds built-in patterns the database does not have yet; never overwrites an admin's edit.</summary>
    public async Task<int> SeedAsync(IEnumerable<CorrectionPattern> builtins, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var added = 0;
        foreach (var pattern in builtins)
        {
            added += await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO patterns (id, language, category, regex, enabled, builtin, updated_at)
                VALUES (@Id, @Language, @Category, @Regex, @Enabled, 1, @now)
                ON CONFLICT (id) DO NOTHING
                """, new { pattern.Id, pattern.Language, pattern.Category, pattern.Regex, pattern.Enabled, now = time.GetUtcNow() },
                transaction, cancellationToken: cancellationToken));
        }

        await transaction.CommitAsync(cancellationToken);
        return added;
    }

    public async Task<IReadOnlyList<CorrectionPattern>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<PatternRow>(new CommandDefinition(
            "SELECT id AS Id, language AS Language, category AS Category, regex AS Regex, enabled AS Enabled FROM patterns ORDER BY language, category, id",
            cancellationToken: cancellationToken));
        return rows.Select(r => new CorrectionPattern(r.Id, r.Language, r.Category, r.Regex, r.Enabled)).ToList();
    }

    /// <summary>
    /// How often each pattern's signals were real problems: signals in clusters an admin marked as noise count
    /// against the pattern that produced them.
    /// </summary>
    public async Task<IReadOnlyList<PatternPrecision>> PrecisionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<PrecisionRow>(new CommandDefinition(
            """
            SELECT s.pattern AS PatternId, count(*) AS Signals,
                   coalesce(sum(CASE WHEN c.state = 'noise' THEN 1 ELSE 0 END), 0) AS Noise
            FROM signals s LEFT JOIN clusters c ON c.id = s.cluster_id
            GROUP BY s.pattern
            ORDER BY s.pattern
            """, cancellationToken: cancellationToken));
        return rows.Select(r => new PatternPrecision(r.PatternId, r.Signals, r.Noise, r.Signals == 0 ? 1 : 1 - (double)r.Noise / r.Signals)).ToList();
    }

    private sealed class PrecisionRow
    {
        public string PatternId { get; init; } = "";
        public long Signals { get; init; }
        public long Noise { get; init; }
    }

    private sealed class PatternRow
    {
        public string Id { get; init; } = "";
        public string Language { get; init; } = "";
        public string Category { get; init; } = "";
        public string Regex { get; init; } = "";
        public bool Enabled { get; init; }
    }
}
