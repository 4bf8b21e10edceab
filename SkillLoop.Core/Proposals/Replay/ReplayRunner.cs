using System.Diagnostics;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Data;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Ai.OpenAi;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Core.Proposals.Replay;

/// <summary>
/// Replays a proposal's corrections before review, in the background: for each of its cluster's corrections (up to
/// <see cref="ReplayOptions.MaxCorrections"/>), the model judges the current and the proposed text against the turns
/// before the correction (<see cref="ReplayJudge"/>). The work list is a query: every proposal in review, approved or
/// open whose version has no replay row yet (a reviewer's edit, a redraft, new evidence, a state change). Results are
/// keyed by the two texts, so a version that changed neither costs no model call, and an edit of the proposed text
/// reuses the current side. Without a chat model the row says so, and a model configured later replays it. A failure
/// is recorded on its correction; review never waits for replay.
/// </summary>
public sealed partial class ReplayRunner(
    SqliteDb db,
    DatabaseState state,
    AiRuntime ai,
    ProposalStore proposals,
    IOptions<ReplayOptions> options,
    TimeProvider time,
    ILogger<ReplayRunner> logger) : BackgroundService
{
    public const string Actor = "skillloop";

    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(2);
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Replays what is due now; returns how many proposals were looked at.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            // The lease keeps this chat model for the whole pass, even if an admin switches models meanwhile.
            using var lease = ai.Lease();
            var chat = options.Value.MaxCorrections > 0 ? lease.Chat : null;
            var model = lease.Status.Chat.Model ?? lease.Status.Chat.Provider;
            List<long> due;
            await using (var connection = await db.OpenAsync(cancellationToken))
            {
                due = (await connection.QueryAsync<long>(new CommandDefinition(
                    """
                    SELECT p.id FROM proposals p LEFT JOIN proposal_replay_runs r ON r.proposal_id = p.id
                    WHERE p.state IN ('review', 'approved', 'open') AND p.original_text IS NOT NULL AND p.proposed_text IS NOT NULL
                      AND (r.proposal_id IS NULL OR r.version <> p.version OR r.status = 'running'
                           OR (r.status IN ('no-model', 'off') AND @status <> r.status))
                    ORDER BY p.id LIMIT 20
                    """, new { status = Status(chat) }, cancellationToken: cancellationToken))).ToList();
            }

            foreach (var id in due)
            {
                await ReplayAsync(id, chat, model, cancellationToken);
            }

            return due.Count;
        }
        finally
        {
            _gate.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await state.WhenReadyAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await RunOnceAsync(stoppingToken) == 0)
                {
                    await Task.Delay(Idle, time, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogLoopFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(10), time, stoppingToken);
            }
        }
    }

    private string Status(IChatClient? chat) => chat is not null ? "done" : options.Value.MaxCorrections > 0 ? "no-model" : "off";

    private async Task ReplayAsync(long id, IChatClient? chat, string model, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var proposal = await connection.QuerySingleOrDefaultAsync<ProposalRow>(new CommandDefinition(
            """
            SELECT id AS Id, cluster_id AS ClusterId, registry_id AS RegistryId, version AS Version, skill_path AS SkillPath,
                   original_text AS OriginalText, proposed_text AS ProposedText
            FROM proposals WHERE id = @id AND original_text IS NOT NULL AND proposed_text IS NOT NULL
            """, new { id }, cancellationToken: cancellationToken));
        if (proposal is null)
        {
            return;
        }

        var originalHash = ReplayStore.Hash(proposal.OriginalText);
        var proposedHash = ReplayStore.Hash(proposal.ProposedText);
        var signals = (await connection.QueryAsync<SignalRow>(new CommandDefinition(
            "SELECT id AS Id, text AS Text, context_json AS ContextJson, user_hash AS UserHash FROM signals WHERE cluster_id = @clusterId ORDER BY id LIMIT 5000",
            new { clusterId = proposal.ClusterId }, cancellationToken: cancellationToken))).ToList();
        if (chat is null)
        {
            // Nothing to score without a model: the row says why, at no cost.
            await WriteRunAsync(connection, proposal, originalHash, proposedHash, Status(chat), null, signals.Count, 0, cancellationToken);
            return;
        }

        var selected = Select(signals, options.Value.MaxCorrections);
        // A failure is tried again once per new version (a model that was down may be back), never twice for one version.
        var known = (await connection.QueryAsync<long>(new CommandDefinition(
            """
            SELECT signal_id FROM proposal_replay_results
            WHERE proposal_id = @id AND original_hash = @originalHash AND proposed_hash = @proposedHash AND (state = 'done' OR version = @version)
            """,
            new { id, originalHash, proposedHash, version = proposal.Version }, cancellationToken: cancellationToken))).ToHashSet();
        var todo = selected.Where(s => !known.Contains(s.Id)).ToList();
        await WriteRunAsync(connection, proposal, originalHash, proposedHash, todo.Count == 0 ? "done" : "running", model, signals.Count, selected.Count, cancellationToken);
        if (todo.Count == 0)
        {
            return; // this version's texts are replayed already (new evidence within the cap, or a state change)
        }

        var judge = new ReplayJudge(chat, options.Value.MaxSkillChars);
        var path = proposal.SkillPath ?? "SKILL.md";
        var replayed = 0;
        foreach (var signal in todo)
        {
            if (await TextsChangedAsync(connection, proposal, cancellationToken))
            {
                LogSuperseded(logger, id);
                return; // the next pass replays the new text
            }

            await ReplayOneAsync(connection, judge, proposal, originalHash, proposedHash, path, signal, model, cancellationToken);
            replayed++;
            proposals.RaiseChanged(id);
        }

        await WriteRunAsync(connection, proposal, originalHash, proposedHash, "done", model, signals.Count, selected.Count, cancellationToken);
        var replay = await ReplayStore.ReadAsync(connection, id, proposal.OriginalText, proposal.ProposedText, cancellationToken);
        await ProposalStore.WriteAuditAsync(connection, null, Actor, replay!.NotImproving ? "replay-flagged" : "replayed", id, proposal.RegistryId,
            $"Version {proposal.Version}: {replay.Message}", time.GetUtcNow(), cancellationToken);
        LogReplayed(logger, id, proposal.Version, replayed, replay.PreventedByProposed, replay.PreventedByCurrent);
        proposals.RaiseChanged(id);
    }

    /// <summary>One correction against both texts; the current side is reused from an earlier edit of the same proposal when there is one.</summary>
    private async Task ReplayOneAsync(
        Microsoft.Data.Sqlite.SqliteConnection connection, ReplayJudge judge, ProposalRow proposal, string originalHash, string proposedHash,
        string path, SignalRow signal, string model, CancellationToken cancellationToken)
    {
        var reused = await connection.QuerySingleOrDefaultAsync<(bool Prevented, double Confidence, string Reason)?>(new CommandDefinition(
            """
            SELECT current_prevented, current_confidence, current_reason FROM proposal_replay_results
            WHERE proposal_id = @id AND original_hash = @originalHash AND signal_id = @signalId AND model = @model AND current_prevented IS NOT NULL
            ORDER BY version DESC LIMIT 1
            """, new { id = proposal.Id, originalHash, signalId = signal.Id, model }, cancellationToken: cancellationToken));
        ReplayVerdict? current = reused is { } r ? new ReplayVerdict(r.Prevented, r.Confidence, r.Reason) : null;
        ReplayVerdict? proposed = null;
        long? tokens = null;
        string? error = null;
        var clock = Stopwatch.StartNew();
        try
        {
            var fitted = judge.Fit(new ReplayCase(signal.Id, signal.Text, signal.Context), path, proposal.OriginalText, proposal.ProposedText);
            if (current is null)
            {
                (current, var used) = await judge.JudgeAsync(fitted, path, proposal.OriginalText, cancellationToken);
                tokens = used;
            }

            (proposed, var usedProposed) = await judge.JudgeAsync(fitted, path, proposal.ProposedText, cancellationToken);
            tokens = tokens is null && usedProposed is null ? null : (tokens ?? 0) + (usedProposed ?? 0);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Whatever the model or its endpoint did (invalid answer, timeout, error status, context overflow) fails
            // this correction only: it is recorded with the reason, and review goes on.
            error = ex.Message.Length > 500 ? ex.Message[..500] : ex.Message;
            LogCorrectionFailed(logger, proposal.Id, signal.Id, ex.GetType().Name);
        }

        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT OR REPLACE INTO proposal_replay_results (proposal_id, original_hash, proposed_hash, signal_id, version, model, state,
                current_prevented, current_confidence, current_reason, proposed_prevented, proposed_confidence, proposed_reason,
                error, elapsed_ms, tokens, created_at)
            VALUES (@id, @originalHash, @proposedHash, @signalId, @version, @model, @state,
                @currentPrevented, @currentConfidence, @currentReason, @proposedPrevented, @proposedConfidence, @proposedReason,
                @error, @elapsed, @tokens, @now)
            """,
            new
            {
                id = proposal.Id, originalHash, proposedHash, signalId = signal.Id, version = proposal.Version, model,
                state = error is null ? "done" : "failed",
                currentPrevented = current?.Prevented, currentConfidence = current?.Confidence, currentReason = current?.Reason,
                proposedPrevented = proposed?.Prevented, proposedConfidence = proposed?.Confidence, proposedReason = proposed?.Reason,
                error, elapsed = clock.Elapsed.TotalMilliseconds, tokens, now = time.GetUtcNow(),
            }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// The corrections to replay: one per distinct user first (different people hit the problem in different ways),
    /// those with turns before them first (there is something to replay), then the rest, oldest first; at most <paramref name="cap"/>.
    /// </summary>
    internal static List<SignalRow> Select(IReadOnlyList<SignalRow> signals, int cap)
    {
        var ordered = signals.OrderBy(s => s.Context.Count == 0 ? 1 : 0).ThenBy(s => s.Id).ToList();
        var first = ordered.GroupBy(s => s.UserHash, StringComparer.Ordinal).Select(g => g.First()).ToList();
        var firstIds = first.Select(s => s.Id).ToHashSet();
        return first.Concat(ordered.Where(s => !firstIds.Contains(s.Id))).Take(cap).ToList();
    }

    private async Task<bool> TextsChangedAsync(Microsoft.Data.Sqlite.SqliteConnection connection, ProposalRow proposal, CancellationToken cancellationToken)
    {
        var now = await connection.QuerySingleOrDefaultAsync<(string? Original, string? Proposed)>(new CommandDefinition(
            "SELECT original_text, proposed_text FROM proposals WHERE id = @id", new { id = proposal.Id }, cancellationToken: cancellationToken));
        return now.Original != proposal.OriginalText || now.Proposed != proposal.ProposedText;
    }

    private async Task WriteRunAsync(
        Microsoft.Data.Sqlite.SqliteConnection connection, ProposalRow proposal, string originalHash, string proposedHash, string status, string? model,
        int corrections, int selected, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO proposal_replay_runs (proposal_id, version, original_hash, proposed_hash, status, model, corrections, selected, updated_at)
            VALUES (@id, @version, @originalHash, @proposedHash, @status, @model, @corrections, @selected, @now)
            ON CONFLICT (proposal_id) DO UPDATE SET version = excluded.version, original_hash = excluded.original_hash,
                proposed_hash = excluded.proposed_hash, status = excluded.status, model = excluded.model,
                corrections = excluded.corrections, selected = excluded.selected, updated_at = excluded.updated_at
            """,
            new { id = proposal.Id, version = proposal.Version, originalHash, proposedHash, status, model, corrections, selected, now = time.GetUtcNow() },
            cancellationToken: cancellationToken));
        proposals.RaiseChanged(proposal.Id);
    }

    private sealed class ProposalRow
    {
        public long Id { get; init; }
        public long ClusterId { get; init; }
        public long? RegistryId { get; init; }
        public int Version { get; init; }
        public string? SkillPath { get; init; }
        public string OriginalText { get; init; } = "";
        public string ProposedText { get; init; } = "";
    }

    internal sealed class SignalRow
    {
        private IReadOnlyList<ContextTurn>? _context;

        public long Id { get; init; }
        public string Text { get; init; } = "";
        public string? ContextJson { get; init; }
        public string UserHash { get; init; } = "";

        /// <summary>The stored turns before the correction (redacted as stored; unreadable JSON counts as none).</summary>
        public IReadOnlyList<ContextTurn> Context => _context ??= Read(ContextJson);

        private static IReadOnlyList<ContextTurn> Read(string? json)
        {
            try
            {
                return string.IsNullOrWhiteSpace(json) ? [] : JsonSerializer.Deserialize(json, CoreJsonContext.Default.IReadOnlyListContextTurn) ?? [];
            }
            catch (JsonException)
            {
                return [];
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Proposal {ProposalId} version {Version}: {Replayed} corrections replayed; the proposed text prevents {Proposed}, the current {Current}")]
    private static partial void LogReplayed(ILogger logger, long proposalId, int version, int replayed, int proposed, int current);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replay of signal {SignalId} for proposal {ProposalId} failed ({Error}); recorded on the correction")]
    private static partial void LogCorrectionFailed(ILogger logger, long proposalId, long signalId, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Proposal {ProposalId} changed during its replay; the new text is replayed next")]
    private static partial void LogSuperseded(ILogger logger, long proposalId);

    [LoggerMessage(Level = LogLevel.Error, Message = "The replay loop failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}
