using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Registry;

/// <summary>
/// What scans found in the registries: the skills with their health, the scan bookkeeping (last commit, last error),
/// and the admin's mappings of skill names seen in signals. Registries themselves are <see cref="RegistryStore"/>'s.
/// </summary>
public sealed class SkillCatalog(SqliteDb db, TimeProvider time)
{
    /// <summary>Replaces what the last scan found with <paramref name="result"/>; skills that stay keep their ids (and mappings).</summary>
    public async Task SaveScanAsync(long registryId, string commit, ScanResult result, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        foreach (var skill in result.Skills)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO skills (registry_id, kind, name, qualified_name, description, path, plugin, updated_at)
                VALUES (@registryId, @Kind, @Name, @QualifiedName, @Description, @Path, @Plugin, @now)
                ON CONFLICT (registry_id, path) DO UPDATE SET kind = excluded.kind, name = excluded.name,
                    qualified_name = excluded.qualified_name, description = excluded.description, plugin = excluded.plugin,
                    updated_at = excluded.updated_at
                """,
                new { registryId, skill.Kind, skill.Name, skill.QualifiedName, skill.Description, skill.Path, skill.Plugin, now },
                transaction, cancellationToken: cancellationToken));
        }

        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM skills WHERE registry_id = @registryId AND updated_at <> @now", new { registryId, now }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE registries SET last_scan_at = @now, last_scan_commit = @commit, last_scan_error = NULL WHERE id = @registryId",
            new { registryId, now, commit }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task SaveScanErrorAsync(long registryId, string error, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE registries SET last_scan_at = @now, last_scan_error = @error WHERE id = @registryId",
            new { registryId, error, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    /// <summary>Every registered skill with its health, optionally of one registry.</summary>
    public async Task<IReadOnlyList<SkillSummary>> ListSkillsAsync(long? registryId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await db.OpenAsync(cancellationToken);
        var skills = (await connection.QueryAsync<SkillRow>(new CommandDefinition(
            """
            SELECT k.id AS Id, k.registry_id AS RegistryId, r.name AS Registry, k.kind AS Kind, k.name AS Name,
                   k.qualified_name AS QualifiedName, k.description AS Description, k.path AS Path, k.plugin AS Plugin
            FROM skills k JOIN registries r ON r.id = k.registry_id
            WHERE @registryId IS NULL OR k.registry_id = @registryId
            ORDER BY r.name, k.path
            LIMIT 5000
            """, new { registryId }, cancellationToken: cancellationToken))).ToList();

        // Corrections and uses per skill name as the agents report it, then resolved like signals are.
        var corrections = (await connection.QueryAsync<(string Skill, long Total, long Recent, long Previous)>(new CommandDefinition(
            """
            SELECT skill, count(*), sum(created_at >= @week), sum(created_at >= @fortnight AND created_at < @week)
            FROM signals WHERE skill IS NOT NULL GROUP BY skill
            """, new { week = now.AddDays(-7), fortnight = now.AddDays(-14) }, cancellationToken: cancellationToken))).ToList();
        var uses = (await connection.QueryAsync<(string Skill, long Sessions)>(new CommandDefinition(
            "SELECT active_skill, count(*) FROM sessions WHERE active_skill IS NOT NULL GROUP BY active_skill", cancellationToken: cancellationToken))).ToList();
        var resolver = await SkillResolver.LoadAsync(connection, null, cancellationToken);

        var byId = skills.ToDictionary(s => s.Id, _ => (Total: 0L, Recent: 0L, Previous: 0L, Sessions: 0L));
        foreach (var (skill, total, recent, previous) in corrections)
        {
            if (resolver.Resolve(skill, null) is { } hit && byId.TryGetValue(hit.SkillId, out var c))
            {
                byId[hit.SkillId] = c with { Total = c.Total + total, Recent = c.Recent + recent, Previous = c.Previous + previous };
            }
        }

        foreach (var (skill, sessions) in uses)
        {
            if (resolver.Resolve(skill, null) is { } hit && byId.TryGetValue(hit.SkillId, out var c))
            {
                byId[hit.SkillId] = c with { Sessions = c.Sessions + sessions };
            }
        }

        return skills.Select(s =>
        {
            var c = byId[s.Id];
            return new SkillSummary(s.Id, s.RegistryId, s.Registry, s.Kind, s.Name, s.QualifiedName, s.Description, s.Path, s.Plugin,
                c.Total, c.Sessions, c.Sessions == 0 ? null : Math.Round((double)c.Total / c.Sessions, 2), c.Recent, c.Previous);
        }).ToList();
    }

    /// <summary>Skill names in signals that match no registered skill, most corrections first.</summary>
    public async Task<IReadOnlyList<UnmatchedSkill>> ListUnmatchedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var seen = await connection.QueryAsync<UnmatchedRow>(new CommandDefinition(
            """
            SELECT skill AS Skill, max(skill_path) AS ExamplePath, count(*) AS Signals, max(created_at) AS LastSeen
            FROM signals WHERE skill IS NOT NULL GROUP BY skill ORDER BY count(*) DESC LIMIT 1000
            """, cancellationToken: cancellationToken));
        var resolver = await SkillResolver.LoadAsync(connection, null, cancellationToken);
        return seen.Where(s => resolver.Resolve(s.Skill, s.ExamplePath) is null)
            .Select(s => new UnmatchedSkill(s.Skill, s.ExamplePath, s.Signals, s.LastSeen))
            .ToList();
    }

    /// <summary>Maps a skill name seen in signals to a registered skill; <paramref name="skillId"/> null removes the mapping.</summary>
    public async Task MapAsync(string? signalSkill, long? skillId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(signalSkill) || signalSkill.Length > 300 || signalSkill.Any(char.IsControl))
        {
            throw new RegistryException("skill", "Name the skill as signals report it (1 to 300 characters, no control characters).");
        }

        await using var connection = await db.OpenAsync(cancellationToken);
        if (skillId is null)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM skill_mappings WHERE signal_skill = @signalSkill", new { signalSkill }, cancellationToken: cancellationToken));
            return;
        }

        var exists = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM skills WHERE id = @skillId", new { skillId }, cancellationToken: cancellationToken));
        if (exists == 0)
        {
            throw new RegistryException("skillId", $"Skill {skillId} does not exist.", notFound: true);
        }

        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO skill_mappings (signal_skill, skill_id, created_at) VALUES (@signalSkill, @skillId, @now)
            ON CONFLICT (signal_skill) DO UPDATE SET skill_id = excluded.skill_id
            """, new { signalSkill = signalSkill.Trim(), skillId, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    private sealed class SkillRow
    {
        public long Id { get; init; }
        public long RegistryId { get; init; }
        public string Registry { get; init; } = "";
        public string Kind { get; init; } = "";
        public string Name { get; init; } = "";
        public string? QualifiedName { get; init; }
        public string? Description { get; init; }
        public string Path { get; init; } = "";
        public string? Plugin { get; init; }
    }

    private sealed class UnmatchedRow
    {
        public string Skill { get; init; } = "";
        public string? ExamplePath { get; init; }
        public long Signals { get; init; }
        public DateTimeOffset LastSeen { get; init; }
    }
}
