using System.Text.RegularExpressions;
using Dapper;
using SkillLoop.Core.Data;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Detection;

namespace SkillLoop.Core.Detection;

/// <param name="Matches">Whether the pattern on its own matches the text (after guards).</param>
/// <param name="Winner">What the whole enabled set, with this pattern in it, reports for the text (the first match), or null.</param>
/// <param name="Classifier">
/// What the client's two-stage detector decides with the whole enabled set (this pattern in it): the learned score,
/// the threshold, every pattern that matched and whether a forced pattern decided.
/// </param>
public sealed record TextTestResult(bool Matches, string? MatchedText, CorrectionMatch? Winner, SkillLoop.Hooks.Detection.Detection? Classifier = null);

/// <param name="Scanned">Stored corrections and human turns looked at (newest first, up to the limit).</param>
/// <param name="Matched">Of those, how many the pattern matches.</param>
/// <param name="Noise">Of the matched, how many are signals in clusters marked as noise.</param>
public sealed record HistoryTestResult(int Scanned, int Matched, int Noise, IReadOnlyList<string> Samples, bool TimedOut);

/// <summary>
/// The live tester of the patterns page: a candidate pattern against typed text, and against what clients have sent
/// ("would match N past turns, M of them marked noise"): the detected corrections, plus the plain human turns that
/// older clients sent (current clients keep those on the laptop).
/// </summary>
public sealed class PatternTester(SqliteDb db, PatternStore patterns, DetectorModel model)
{
    public PatternTester(SqliteDb db, PatternStore patterns) : this(db, patterns, DetectorModel.Shipped)
    {
    }

    public const int DefaultHistoryLimit = 20_000;

    /// <param name="previous">The agent's words before the message, when the admin gives them (the client reads the last 1,500 characters).</param>
    /// <param name="reply">The opening of the agent's answer to the message, when given ("" = it answered without prose).</param>
    public async Task<TextTestResult> TestTextAsync(CorrectionPattern candidate, string text, string? previous, string? reply,
        CancellationToken cancellationToken)
    {
        var all = await patterns.ListAsync(cancellationToken);
        var withCandidate = all.Where(p => p.Id != candidate.Id).Append(candidate with { Enabled = true }).ToList();
        var guards = all.Where(p => p.Enabled && p.Category == DefaultPatterns.Guard && p.Id != candidate.Id);
        var alone = new CorrectionDetector(guards.Append(candidate with { Enabled = true })).Match(text);
        var enabled = new CorrectionDetector(OrderLikeClients(withCandidate));
        var winner = enabled.Match(text);
        // Without the conversation around it, the typed message is scored as a turn somewhere inside a session; with it,
        // as the client scores a turn (the same cuts of the agent's words).
        var context = previous is null && reply is null
            ? TurnContext.Unknown
            : TurnContext.Unknown with
            {
                Previous = previous is null ? null : SessionAnalyzer.PreviousOf(previous),
                Reply = reply is null ? null : SessionAnalyzer.Truncate(reply, SessionAnalyzer.MaxReplyChars),
            };
        var classifier = new TwoStageDetector(enabled, model).Detect(text, context);
        return new TextTestResult(alone is not null && candidate.Category != DefaultPatterns.Guard,
            alone is null ? null : text.Substring(Math.Min(alone.Index, text.Length), Math.Min(alone.Length, Math.Max(0, text.Length - alone.Index))),
            winner, classifier);
    }

    /// <summary>Runs the candidate's regex over stored corrections and turns, newest first; stops early after a time budget.</summary>
    public async Task<HistoryTestResult> TestHistoryAsync(string regex, int limit, CancellationToken cancellationToken)
    {
        if (PatternRules.TryCompile(regex, out var compiled) is { } error)
        {
            throw new PatternException("regex", error);
        }

        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = connection.QueryUnbufferedAsync<TurnRow>(
            """
            SELECT Text, Noise FROM (
                SELECT s.text AS Text, (c.state = 'noise') AS Noise, s.created_at AS At
                FROM signals s
                LEFT JOIN clusters c ON c.id = s.cluster_id
                UNION ALL
                SELECT t.text, NULL, t.created_at
                FROM turns t
                WHERE NOT EXISTS (SELECT 1 FROM signals s WHERE s.platform = t.platform AND s.session_id = t.session_id AND s.turn_id = t.turn_id))
            ORDER BY At DESC
            LIMIT @limit
            """, new { limit = Math.Clamp(limit, 1, 200_000) });
        var budget = System.Diagnostics.Stopwatch.StartNew();
        int scanned = 0, matched = 0, noise = 0;
        var samples = new List<string>();
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            if (budget.Elapsed > TimeSpan.FromSeconds(3))
            {
                return new HistoryTestResult(scanned, matched, noise, samples, TimedOut: true);
            }

            scanned++;
            bool hit;
            try
            {
                hit = compiled!.IsMatch(row.Text);
            }
            catch (RegexMatchTimeoutException)
            {
                continue;
            }

            if (!hit)
            {
                continue;
            }

            matched++;
            noise += row.Noise == true ? 1 : 0;
            if (samples.Count < 5)
            {
                samples.Add(row.Text.Length <= 200 ? row.Text : row.Text[..199] + "…");
            }
        }

        return new HistoryTestResult(scanned, matched, noise, samples, TimedOut: false);
    }

    // Clients get the patterns in the store's order (language, category, id): the first match wins.
    private static IEnumerable<CorrectionPattern> OrderLikeClients(IEnumerable<CorrectionPattern> list) =>
        list.OrderBy(p => p.Language, StringComparer.Ordinal).ThenBy(p => p.Category, StringComparer.Ordinal).ThenBy(p => p.Id, StringComparer.Ordinal);

    private sealed class TurnRow
    {
        public string Text { get; init; } = "";
        public bool? Noise { get; init; }
    }
}
