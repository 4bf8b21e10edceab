using Dapper;
using SkillLoop.Core.Data;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Core.Detection;

public sealed record PatternPrecision(string PatternId, long Signals, long Noise, double Precision);

/// <summary>A stored pattern with whether it is one of the built-ins (those can be edited and disabled, not deleted).</summary>
public sealed record StoredPattern(CorrectionPattern Pattern, bool Builtin, DateTimeOffset UpdatedAt);

/// <summary>A pattern edit was refused; <see cref="Field"/> names what was wrong.</summary>
public sealed class PatternException(string field, string message, bool notFound = false) : Exception(message)
{
    public string Field { get; } = field;
    public bool NotFound { get; } = notFound;
}

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
            "SELECT id AS Id, language AS Language, category AS Category, regex AS Regex, enabled AS Enabled, force AS Force FROM patterns ORDER BY language, category, id",
            cancellationToken: cancellationToken));
        return rows.Select(r => new CorrectionPattern(r.Id, r.Language, r.Category, r.Regex, r.Enabled, r.Force)).ToList();
    }

    public async Task<IReadOnlyList<StoredPattern>> ListStoredAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<PatternRow>(new CommandDefinition(
            """
            SELECT id AS Id, language AS Language, category AS Category, regex AS Regex, enabled AS Enabled, force AS Force,
                   builtin AS Builtin, updated_at AS UpdatedAt
            FROM patterns ORDER BY language, category, id
            """, cancellationToken: cancellationToken));
        return rows.Select(r => new StoredPattern(new CorrectionPattern(r.Id, r.Language, r.Category, r.Regex, r.Enabled, r.Force), r.Builtin, r.UpdatedAt)).ToList();
    }

    /// <summary>Creates a pattern; throws <see cref="PatternException"/> when it is invalid or the id is taken.</summary>
    public async Task<StoredPattern> CreateAsync(CorrectionPattern pattern, CancellationToken cancellationToken)
    {
        PatternRules.Check(pattern);
        await using var connection = await db.OpenAsync(cancellationToken);
        var now = time.GetUtcNow();
        var added = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO patterns (id, language, category, regex, enabled, builtin, updated_at, force)
            VALUES (@Id, @Language, @Category, @Regex, @Enabled, 0, @now, @Force)
            ON CONFLICT (id) DO NOTHING
            """, new { pattern.Id, pattern.Language, pattern.Category, pattern.Regex, pattern.Enabled, now, pattern.Force }, cancellationToken: cancellationToken));
        return added == 1
            ? new StoredPattern(pattern, false, now)
            : throw new PatternException("id", $"A pattern with the id '{pattern.Id}' exists already.");
    }

    /// <summary>Changes a pattern's language, category, regex, enabled flag or force override (built-ins included).</summary>
    public async Task<StoredPattern> UpdateAsync(CorrectionPattern pattern, CancellationToken cancellationToken)
    {
        PatternRules.Check(pattern);
        await using var connection = await db.OpenAsync(cancellationToken);
        var now = time.GetUtcNow();
        var builtin = await connection.QuerySingleOrDefaultAsync<bool?>(new CommandDefinition(
            """
            UPDATE patterns SET language = @Language, category = @Category, regex = @Regex, enabled = @Enabled, force = @Force,
                                updated_at = @now
            WHERE id = @Id
            RETURNING builtin
            """, new { pattern.Id, pattern.Language, pattern.Category, pattern.Regex, pattern.Enabled, pattern.Force, now }, cancellationToken: cancellationToken));
        return builtin is { } b
            ? new StoredPattern(pattern, b, now)
            : throw new PatternException("id", $"There is no pattern '{pattern.Id}'.", notFound: true);
    }

    /// <summary>Deletes an admin's own pattern; built-ins can only be disabled (a restart would seed them again).</summary>
    public async Task DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var builtin = await connection.QuerySingleOrDefaultAsync<bool?>(new CommandDefinition(
            "SELECT builtin FROM patterns WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        if (builtin is null)
        {
            throw new PatternException("id", $"There is no pattern '{id}'.", notFound: true);
        }

        if (builtin.Value)
        {
            throw new PatternException("id", "Built-in patterns cannot be deleted; disable them instead.");
        }

        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM patterns WHERE id = @id", new { id }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// How often each pattern's signals were real problems: signals in clusters an admin marked as noise count
    /// against the pattern that produced them. Read from ix_signals_pattern alone (pattern, cluster) and the few noise
    /// clusters' ids, never the signals' rows.
    /// </summary>
    public async Task<IReadOnlyList<PatternPrecision>> PrecisionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<PrecisionRow>(new CommandDefinition(
            """
            SELECT pattern AS PatternId, count(*) AS Signals,
                   coalesce(sum(cluster_id IN (SELECT id FROM clusters WHERE state = 'noise')), 0) AS Noise
            FROM signals
            GROUP BY pattern
            ORDER BY pattern
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
        public string? Force { get; init; }
        public bool Builtin { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
    }
}
