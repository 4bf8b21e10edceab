using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Proposals.Replay;

/// <summary>One correction replayed against the current and the proposed text.</summary>
/// <param name="State"><c>done</c>, or <c>failed</c> with <paramref name="Error"/> (too long for the model, an invalid answer, the model down).</param>
/// <param name="Version">The proposal version the correction was replayed for (a later version with the same texts reuses it).</param>
/// <param name="ElapsedMs">Time the model calls took (0 for the current side when it was reused from an earlier edit).</param>
/// <param name="Tokens">Tokens the calls used, when the model reported them.</param>
public sealed record ReplayResult(
    long SignalId,
    string Correction,
    string State,
    ReplayVerdict? Current,
    ReplayVerdict? Proposed,
    string? Error,
    string Model,
    int Version,
    double ElapsedMs,
    long? Tokens)
{
    /// <summary><c>improved</c> (only the proposed text prevents it), <c>worse</c>, <c>both</c>, <c>neither</c>, or <c>failed</c>.</summary>
    public string Outcome => (Current, Proposed) switch
    {
        ({ } c, { } p) when p.Prevented && !c.Prevented => "improved",
        ({ } c, { } p) when c.Prevented && !p.Prevented => "worse",
        ({ Prevented: true }, { Prevented: true }) => "both",
        ({ }, { }) => "neither",
        _ => "failed",
    };
}

/// <summary>
/// What replay says about a proposal's current texts (the <c>replay</c> field of <c>GET /api/v1/proposals/{id}</c>).
/// </summary>
/// <param name="Status">
/// <c>no-model</c> (no chat model configured: no scores), <c>off</c> (<c>SKILLLOOP_REPLAY_MAX_CORRECTIONS=0</c>),
/// <c>pending</c> (these texts are not replayed yet), <c>running</c> or <c>done</c>.
/// </param>
/// <param name="Message">One sentence for people: the page, the PR body and the audit log use it.</param>
/// <param name="Corrections">Corrections in the cluster; <paramref name="Selected"/> of them are replayed (the cap).</param>
/// <param name="NotImproving">
/// Flagged: the replay finished and the proposed text prevents no more of the replayed corrections than the current text.
/// </param>
public sealed record ProposalReplay(
    string Status,
    string Message,
    string? Model,
    int? Version,
    int Corrections,
    int Selected,
    int Replayed,
    int Failed,
    int PreventedByCurrent,
    int PreventedByProposed,
    bool NotImproving,
    IReadOnlyList<ReplayResult> Results)
{
    public const string NoModelMessage = "Replay needs a chat model; none is configured.";

    /// <summary>The proposal's warning when the replay does not improve on the current text; null otherwise (served in <c>warnings</c>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? Warning => NotImproving
        ? string.Create(CultureInfo.InvariantCulture,
            $"Replay does not improve on the current text: the proposed text would have prevented {PreventedByProposed} of {Replayed} replayed corrections, the current text {PreventedByCurrent} (judged by {Model}).")
        : null;

    /// <summary>The PR body's "Replay before review" section (heading, Markdown): see <see cref="ProposalWork.Body"/>.</summary>
    public (string Heading, string Text) BodySection()
    {
        var section = new StringBuilder(Message).Append('\n');
        if (Warning is { } warning)
        {
            section.Append("\n**Flagged:** ").Append(warning).Append('\n');
        }

        return ("Replay before review", section.ToString());
    }
}

/// <summary>Reads replay results; the <see cref="ReplayRunner"/> writes them.</summary>
public sealed class ReplayStore(SqliteDb db)
{
    /// <summary>The replay of proposal <paramref name="proposalId"/>'s current texts; null when it has none yet (drafting) or does not exist.</summary>
    public async Task<ProposalReplay?> GetAsync(long proposalId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var texts = await connection.QuerySingleOrDefaultAsync<(string? Original, string? Proposed)>(new CommandDefinition(
            "SELECT original_text, proposed_text FROM proposals WHERE id = @proposalId", new { proposalId }, cancellationToken: cancellationToken));
        return await ReadAsync(connection, proposalId, texts.Original, texts.Proposed, cancellationToken);
    }

    /// <summary>SHA-256 of a text, hex: what replay results are keyed by.</summary>
    public static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>The replay of these texts of the proposal (the ones it holds now); null when either is missing.</summary>
    public static async Task<ProposalReplay?> ReadAsync(
        SqliteConnection connection, long proposalId, string? original, string? proposed, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        if (original is null || proposed is null)
        {
            return null;
        }

        var (originalHash, proposedHash) = (Hash(original), Hash(proposed));
        var run = await connection.QuerySingleOrDefaultAsync<RunRow>(new CommandDefinition(
            """
            SELECT version AS Version, original_hash AS OriginalHash, proposed_hash AS ProposedHash, status AS Status, model AS Model,
                   corrections AS Corrections, selected AS Selected
            FROM proposal_replay_runs WHERE proposal_id = @proposalId
            """, new { proposalId }, transaction, cancellationToken: cancellationToken));
        var results = (await connection.QueryAsync<ResultRow>(new CommandDefinition(
            """
            SELECT r.signal_id AS SignalId, s.text AS Correction, r.state AS State, r.version AS Version, r.model AS Model,
                   r.current_prevented AS CurrentPrevented, r.current_confidence AS CurrentConfidence, r.current_reason AS CurrentReason,
                   r.proposed_prevented AS ProposedPrevented, r.proposed_confidence AS ProposedConfidence, r.proposed_reason AS ProposedReason,
                   r.error AS Error, r.elapsed_ms AS ElapsedMs, r.tokens AS Tokens
            FROM proposal_replay_results r JOIN signals s ON s.id = r.signal_id
            WHERE r.proposal_id = @proposalId AND r.original_hash = @originalHash AND r.proposed_hash = @proposedHash
            ORDER BY r.signal_id
            """, new { proposalId, originalHash, proposedHash }, transaction, cancellationToken: cancellationToken))).Select(r => r.ToResult()).ToList();

        var current = run is not null && run.OriginalHash == originalHash && run.ProposedHash == proposedHash;
        var status = current ? run!.Status : "pending";
        var done = results.Where(r => r.State == "done").ToList();
        var failed = results.Count - done.Count;
        var byCurrent = done.Count(r => r.Current!.Prevented);
        var byProposed = done.Count(r => r.Proposed!.Prevented);
        var model = results.Select(r => r.Model).LastOrDefault() ?? run?.Model;
        var notImproving = status == "done" && done.Count > 0 && byProposed <= byCurrent;
        var failedNote = failed == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"; {failed} could not be replayed");
        var message = status switch
        {
            "no-model" => ProposalReplay.NoModelMessage,
            "off" => "Replay is turned off (SKILLLOOP_REPLAY_MAX_CORRECTIONS=0).",
            "pending" => "Replay of this text has not run yet.",
            "running" => string.Create(CultureInfo.InvariantCulture, $"Replaying {run!.Selected} of {run.Corrections} corrections with {run.Model}: {results.Count} done so far."),
            _ when done.Count == 0 => string.Create(CultureInfo.InvariantCulture, $"Replay with {model} gave no score: none of the {results.Count} corrections could be replayed."),
            _ => string.Create(CultureInfo.InvariantCulture,
                $"Replayed {done.Count} of {run!.Corrections} corrections with {model}: the proposed text would have prevented {byProposed}, the current text {byCurrent}{failedNote}."),
        };
        return new ProposalReplay(status, message, model, current ? run!.Version : null, run?.Corrections ?? 0, current ? run!.Selected : 0,
            done.Count, failed, byCurrent, byProposed, notImproving, results);
    }

    private sealed class RunRow
    {
        public int Version { get; init; }
        public string OriginalHash { get; init; } = "";
        public string ProposedHash { get; init; } = "";
        public string Status { get; init; } = "";
        public string? Model { get; init; }
        public int Corrections { get; init; }
        public int Selected { get; init; }
    }

    private sealed class ResultRow
    {
        public long SignalId { get; init; }
        public string Correction { get; init; } = "";
        public string State { get; init; } = "";
        public int Version { get; init; }
        public string Model { get; init; } = "";
        public bool? CurrentPrevented { get; init; }
        public double? CurrentConfidence { get; init; }
        public string? CurrentReason { get; init; }
        public bool? ProposedPrevented { get; init; }
        public double? ProposedConfidence { get; init; }
        public string? ProposedReason { get; init; }
        public string? Error { get; init; }
        public double ElapsedMs { get; init; }
        public long? Tokens { get; init; }

        public ReplayResult ToResult()
        {
            var correction = Capture.InvisibleCharacters.Strip(SecretRedactor.Redact(Correction), out _).Trim();
            return new ReplayResult(SignalId, IssuePrompt.Cut(correction, 240), State,
                CurrentPrevented is { } c ? new ReplayVerdict(c, CurrentConfidence ?? 0, CurrentReason ?? "") : null,
                ProposedPrevented is { } p ? new ReplayVerdict(p, ProposedConfidence ?? 0, ProposedReason ?? "") : null,
                Error, Model, Version, Math.Round(ElapsedMs, 1), Tokens);
        }
    }
}
