using Dapper;
using Microsoft.Data.Sqlite;

namespace SkillLoop.Core.Registry;

/// <summary>
/// Matches a skill as agents report it (a name such as <c>pdf</c> or <c>plugin:skill</c>, and the file path on the
/// user's machine) to a registered skill: an admin's mapping first, then the plugin-qualified name, then the plain
/// name (skills before other kinds), then the path (the registered path is the tail of the user's path).
/// </summary>
public sealed class SkillResolver
{
    private readonly Dictionary<string, long> _mappings;
    private readonly List<Entry> _skills;

    private SkillResolver(Dictionary<string, long> mappings, List<Entry> skills) => (_mappings, _skills) = (mappings, skills);

    public static async Task<SkillResolver> LoadAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        var mappings = (await connection.QueryAsync<(string, long)>(new CommandDefinition(
            "SELECT signal_skill, skill_id FROM skill_mappings", transaction: transaction, cancellationToken: cancellationToken)))
            .ToDictionary(m => m.Item1, m => m.Item2, StringComparer.OrdinalIgnoreCase);
        var skills = (await connection.QueryAsync<Entry>(new CommandDefinition(
            """
            SELECT id AS SkillId, registry_id AS RegistryId, path AS Path, name AS Name, qualified_name AS QualifiedName, kind AS Kind
            FROM skills ORDER BY registry_id, id
            """, transaction: transaction, cancellationToken: cancellationToken))).ToList();
        return new SkillResolver(mappings, skills);
    }

    public ResolvedSkill? Resolve(string? name, string? path)
    {
        if (string.IsNullOrWhiteSpace(name) && string.IsNullOrWhiteSpace(path))
        {
            return null;
        }

        Entry? hit = null;
        if (name is not null && _mappings.TryGetValue(name, out var mapped))
        {
            hit = _skills.FirstOrDefault(s => s.SkillId == mapped);
        }

        hit ??= name is null ? null : _skills.FirstOrDefault(s => string.Equals(s.QualifiedName, name, StringComparison.OrdinalIgnoreCase) && s.Kind != "plugin");
        hit ??= name is null ? null : _skills
            .Where(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase) && s.Kind != "plugin")
            .OrderBy(s => s.Kind is "skill" or "codex-skill" ? 0 : 1)
            .FirstOrDefault();
        if (hit is null && !string.IsNullOrWhiteSpace(path))
        {
            var normalized = path.Replace('\\', '/');
            hit = _skills.Where(s => normalized.EndsWith("/" + s.Path, StringComparison.Ordinal) || normalized == s.Path)
                .OrderByDescending(s => s.Path.Length)
                .FirstOrDefault();
        }

        return hit is null ? null : new ResolvedSkill(hit.SkillId, hit.RegistryId, hit.Path, hit.Name);
    }

    private sealed class Entry
    {
        public long SkillId { get; init; }
        public long RegistryId { get; init; }
        public string Path { get; init; } = "";
        public string Name { get; init; } = "";
        public string? QualifiedName { get; init; }
        public string Kind { get; init; } = "";
    }
}
