using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Data;
using SkillLoop.Core.Registry;

namespace SkillLoop.Core.Proposals;

/// <summary>
/// Corrections of a skill in a time window and the counts behind every figure: corrections (signals resolved to the
/// skill), uses (sessions whose active skill it was, by the session's first report), and users (distinct people who used
/// or corrected it). Per use and per user are null when there is nothing to divide by.
/// </summary>
public sealed record VersionFigures(DateTimeOffset From, DateTimeOffset To, long Corrections, long Uses, long Users, double? PerUse, double? PerUser);

/// <summary>One version of a skill: from a merge of a SkillLoop fix (or from the start) to the next one (null: still current).</summary>
public sealed record SkillVersion(string? Commit, long? ProposalId, int? Round, DateTimeOffset From, DateTimeOffset? To, VersionFigures Figures);

/// <summary>Did the fix work: the same length of time before and after the merge, side by side.</summary>
public sealed record FixOutcome(string? Commit, int Round, DateTimeOffset MergedAt, VersionFigures Before, VersionFigures After);

/// <summary>
/// A skill's versions, each a merge of a SkillLoop fix, with corrections per use and per distinct user in each; and a
/// proposal's before/after figures. Per use is computed as on the Skills page (corrections ÷ sessions that used the skill).
/// </summary>
public sealed class SkillVersions(SqliteDb db, TimeProvider time)
{
    /// <summary>Every version of a registered skill, oldest first; null when the skill does not exist.</summary>
    public async Task<IReadOnlyList<SkillVersion>?> ForSkillAsync(long skillId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var skill = await connection.QuerySingleOrDefaultAsync<(long RegistryId, string Path)?>(new CommandDefinition(
            "SELECT registry_id, path FROM skills WHERE id = @skillId", new { skillId }, cancellationToken: cancellationToken));
        if (skill is not { } found)
        {
            return null;
        }

        var names = await NamesAsync(connection, skillId, cancellationToken);
        var merges = await MergesAsync(connection, found.RegistryId, found.Path, cancellationToken);
        var start = await connection.ExecuteScalarAsync<DateTimeOffset?>(new CommandDefinition(
            """
            SELECT min(t) FROM (SELECT min(created_at) AS t FROM signals WHERE skill IN @names
                                UNION ALL SELECT min(created_at) FROM sessions WHERE active_skill IN @names)
            """, new { names }, cancellationToken: cancellationToken));
        var now = time.GetUtcNow();
        var versions = new List<SkillVersion>();
        var from = start is { } s && (merges.Count == 0 || s < merges[0].At) ? s : merges.Count > 0 ? merges[0].At : now;
        if (merges.Count == 0 || from < merges[0].At)
        {
            var to = merges.Count > 0 ? merges[0].At : now;
            versions.Add(new SkillVersion(null, null, null, from, merges.Count > 0 ? to : null, await FiguresAsync(connection, names, from, to, cancellationToken)));
        }

        for (var i = 0; i < merges.Count; i++)
        {
            var to = i + 1 < merges.Count ? merges[i + 1].At : now;
            versions.Add(new SkillVersion(merges[i].Commit, merges[i].ProposalId, merges[i].Round, merges[i].At, i + 1 < merges.Count ? to : null,
                await FiguresAsync(connection, names, merges[i].At, to, cancellationToken)));
        }

        return versions;
    }

    /// <summary>
    /// A merged proposal's (or its last merged round's) figures: after = from the merge to the next merge of the skill or
    /// now; before = as long a window ending at the merge (never reaching back past the skill's previous merge).
    /// </summary>
    public async Task<FixOutcome?> ForProposalAsync(long proposalId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<ProposalRow>(new CommandDefinition(
            """
            SELECT registry_id AS RegistryId, skill_path AS SkillPath, merged_at AS MergedAt, merged_commit AS MergedCommit, round AS Round, history_json AS HistoryJson
            FROM proposals WHERE id = @proposalId
            """, new { proposalId }, cancellationToken: cancellationToken));
        if (row is not { RegistryId: { } registryId, SkillPath: { } path })
        {
            return null;
        }

        var (at, commit, round) = row.MergedAt is { } mergedAt
            ? (mergedAt, row.MergedCommit, row.Round)
            : ProposalWork.History(row.HistoryJson).LastOrDefault(r => r.MergedAt is not null) is { MergedAt: { } earlier } last
                ? (earlier, last.MergedCommit, last.Round)
                : (default(DateTimeOffset), null, 0);
        if (round == 0)
        {
            return null;
        }

        var skillId = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT id FROM skills WHERE registry_id = @registryId AND path = @path", new { registryId, path }, cancellationToken: cancellationToken));
        var names = skillId is { } id ? await NamesAsync(connection, id, cancellationToken) : [];
        var merges = await MergesAsync(connection, registryId, path, cancellationToken);
        var next = merges.Where(m => m.At > at).Select(m => (DateTimeOffset?)m.At).FirstOrDefault();
        var previous = merges.Where(m => m.At < at).Select(m => (DateTimeOffset?)m.At).LastOrDefault();
        var end = next ?? time.GetUtcNow();
        var length = end - at;
        var before = at - length;
        if (previous is { } p && p > before)
        {
            before = p;
        }

        return new FixOutcome(commit, round, at,
            await FiguresAsync(connection, names, before, at, cancellationToken),
            await FiguresAsync(connection, names, at, end, cancellationToken));
    }

    /// <summary>The skill names in signals and sessions that resolve to this registered skill (as the Skills page counts them).</summary>
    private static async Task<IReadOnlyList<string>> NamesAsync(SqliteConnection connection, long skillId, CancellationToken cancellationToken)
    {
        var seen = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT DISTINCT skill FROM signals WHERE skill IS NOT NULL UNION SELECT DISTINCT active_skill FROM sessions WHERE active_skill IS NOT NULL",
            cancellationToken: cancellationToken));
        var resolver = await SkillResolver.LoadAsync(connection, null, cancellationToken);
        return seen.Where(name => resolver.Resolve(name, null)?.SkillId == skillId).ToList();
    }

    /// <summary>Every merge of a SkillLoop fix to this file: current merged rounds and merged rounds kept in histories.</summary>
    private static async Task<List<(DateTimeOffset At, string? Commit, long ProposalId, int Round)>> MergesAsync(
        SqliteConnection connection, long registryId, string path, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<(long Id, DateTimeOffset? MergedAt, string? MergedCommit, int Round, string? HistoryJson)>(new CommandDefinition(
            "SELECT id, merged_at, merged_commit, round, history_json FROM proposals WHERE registry_id = @registryId AND skill_path = @path",
            new { registryId, path }, cancellationToken: cancellationToken));
        var merges = new List<(DateTimeOffset, string?, long, int)>();
        foreach (var row in rows)
        {
            if (row.MergedAt is { } at)
            {
                merges.Add((at, row.MergedCommit, row.Id, row.Round));
            }

            merges.AddRange(ProposalWork.History(row.HistoryJson).Where(r => r.MergedAt is not null).Select(r => (r.MergedAt!.Value, r.MergedCommit, row.Id, r.Round)));
        }

        return merges.OrderBy(m => m.Item1).ToList();
    }

    private static async Task<VersionFigures> FiguresAsync(SqliteConnection connection, IReadOnlyList<string> names, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        if (names.Count == 0 || to <= from)
        {
            return new VersionFigures(from, to, 0, 0, 0, null, null);
        }

        var (corrections, uses, users) = await connection.QuerySingleAsync<(long, long, long)>(new CommandDefinition(
            """
            SELECT (SELECT count(*) FROM signals WHERE skill IN @names AND created_at >= @from AND created_at < @to),
                   (SELECT count(*) FROM sessions WHERE active_skill IN @names AND created_at >= @from AND created_at < @to),
                   (SELECT count(*) FROM (SELECT user_hash FROM signals WHERE skill IN @names AND created_at >= @from AND created_at < @to
                                          UNION SELECT user_hash FROM sessions WHERE active_skill IN @names AND created_at >= @from AND created_at < @to))
            """, new { names, from, to }, cancellationToken: cancellationToken));
        return new VersionFigures(from, to, corrections, uses, users,
            uses == 0 ? null : Math.Round((double)corrections / uses, 2),
            users == 0 ? null : Math.Round((double)corrections / users, 2));
    }

    private sealed class ProposalRow
    {
        public long? RegistryId { get; init; }
        public string? SkillPath { get; init; }
        public DateTimeOffset? MergedAt { get; init; }
        public string? MergedCommit { get; init; }
        public int Round { get; init; }
        public string? HistoryJson { get; init; }
    }
}
