using Dapper;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Capture;

public sealed record DayCount(DateOnly Day, long Signals);

public sealed record SkillCount(string Skill, long Signals, long Users);

/// <summary>Signal activity for the dashboard's overview: signals per day and the skills corrected most.</summary>
public sealed class ActivityStats(SqliteDb db, TimeProvider time)
{
    /// <summary>Signals per UTC day for the last <paramref name="days"/> days, oldest first, days without signals included.</summary>
    public async Task<IReadOnlyList<DayCount>> SignalsPerDayAsync(int days, CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var first = today.AddDays(1 - days);
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync<(string Day, long Count)>(new CommandDefinition(
            """
            SELECT substr(created_at, 1, 10) AS Day, count(*) AS Count
            FROM signals WHERE created_at >= @from
            GROUP BY substr(created_at, 1, 10)
            """, new { from = first.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture) }, cancellationToken: cancellationToken)))
            .ToDictionary(r => r.Day, r => r.Count);
        return Enumerable.Range(0, days)
            .Select(i => first.AddDays(i))
            .Select(d => new DayCount(d, rows.GetValueOrDefault(d.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture))))
            .ToList();
    }

    public async Task<IReadOnlyList<SkillCount>> TopSkillsAsync(int days, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Skill, long Signals, long Users)>(new CommandDefinition(
            """
            SELECT coalesce(nullif(skill, ''), '(no skill)') AS Skill, count(*) AS Signals, count(DISTINCT user_hash) AS Users
            FROM signals WHERE created_at >= @from
            GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT @limit
            """, new { from = time.GetUtcNow().AddDays(-days), limit }, cancellationToken: cancellationToken));
        return rows.Select(r => new SkillCount(r.Skill, r.Signals, r.Users)).ToList();
    }
}
