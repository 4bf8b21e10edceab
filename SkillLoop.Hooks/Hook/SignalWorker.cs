using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Extraction;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Hooks.Hook;

public enum WorkerOutcome
{
    Posted,
    NothingNew,
    Conflict,
    Unauthorized,
    ServerUnavailable,
    NoTranscript,
    UnknownPlatform,
    Rejected,
}

/// <summary>
/// The background half of a hook: asks the server where it stopped reading this session, reads only what is new
/// (complete lines), detects corrections and posts them with the advanced cursor. The server's offset check makes
/// a racing or repeated event harmless, and a server that is down costs nothing: the cursor did not move, so the
/// next Stop event sends the same turns.
/// </summary>
/// <remarks>
/// With a <see cref="LocalIssueExtractor"/> (an agent CLI on PATH) and the server's consent, the posted batch says
/// so, and after posting the worker extracts the corrections' issues itself and sends them to
/// <c>POST /api/v1/issues</c>: the signals are safe on the server before the slow part starts.
/// </remarks>
/// <summary>How long and how often a worker tries again while the server is unavailable (in memory only).</summary>
public sealed record RetryPolicy(TimeSpan FirstDelay, TimeSpan MaxDelay, TimeSpan Window)
{
    /// <summary>2 s, doubling to a minute, for up to 10 minutes.</summary>
    public static RetryPolicy Default { get; } = new(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(10));
}

/// <param name="detector">
/// What decides a correction: the learned detector's weights (<see cref="DetectorModel.Shipped"/>, which the hook passes
/// unless <c>SKILLLOOP_DETECTOR=regex</c>; see <see cref="DetectorChoice"/>) or the patterns alone
/// (<see cref="DetectorModel.RegexOnly"/>, what a caller that names none gets).
/// </param>
public sealed class SignalWorker(HttpClient http, string user, string clientVersion = SignalWorker.Version, LocalIssueExtractor? localExtractor = null,
    DetectorModel? detector = null)
{
    public const string Version = "0.1.0";

    /// <summary>Bytes of a transcript read into one batch at first; a backlog is sent in several (bounded memory).</summary>
    public const long ReadWindowBytes = 1L << 20;

    /// <summary>Corrections aimed at per batch: below the server's limit, so a window sized from the last one fits.</summary>
    private const int TargetCorrections = SignalBatchLimits.MaxCorrections * 9 / 10;

    /// <summary>Bytes before the cursor read back for the context of the first corrections of a read.</summary>
    public const int ContextBytes = 256 * 1024;

    private const int MaxContextBytes = 4 << 20;

    /// <summary>
    /// Runs, and while the server is unavailable runs again after a growing pause (in memory only, within
    /// <paramref name="retry"/>'s window): a correction whose session never fires another Stop is not lost to a
    /// server that was down for a few minutes.
    /// </summary>
    public async Task<WorkerOutcome> RunWithRetriesAsync(HookEvent hookEvent, RetryPolicy retry, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var delay = retry.FirstDelay;
        while (true)
        {
            var outcome = await RunAsync(hookEvent, cancellationToken);
            if (outcome != WorkerOutcome.ServerUnavailable || started.Elapsed + delay > retry.Window)
                return outcome;
            await Task.Delay(delay, cancellationToken);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, retry.MaxDelay.Ticks));
        }
    }

    public async Task<WorkerOutcome> RunAsync(HookEvent hookEvent, CancellationToken cancellationToken)
    {
        var reader = TranscriptReaders.For(hookEvent.Platform);
        if (reader is null)
            return WorkerOutcome.UnknownPlatform;
        if (!File.Exists(hookEvent.TranscriptPath))
            return WorkerOutcome.NoTranscript;

        var configTask = GetConfigAsync(cancellationToken);
        SessionCursor cursor;
        try
        {
            using var response = await http.GetAsync(
                $"api/v1/sessions/{Uri.EscapeDataString(hookEvent.Platform)}/{Uri.EscapeDataString(hookEvent.SessionId)}/cursor",
                cancellationToken);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
                return WorkerOutcome.Unauthorized;
            if (!response.IsSuccessStatusCode)
                return WorkerOutcome.ServerUnavailable;
            cursor = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(cancellationToken),
                HooksJsonContext.Default.SessionCursor) ?? throw new JsonException("empty cursor");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            return WorkerOutcome.ServerUnavailable;
        }

        var config = await configTask;
        // Built once per run: the detector compiles its patterns, far too costly to repeat for every batch. Without the
        // linear-time prefilter: for a run this short it costs more CPU and memory than it saves.
        var analyzer = new SessionAnalyzer(new TwoStageDetector(new CorrectionDetector(config.Patterns, linearPrefilter: false), detector ?? DetectorModel.RegexOnly),
            Math.Max(0, config.Settings.ContextTurns));
        var outcome = WorkerOutcome.NothingNew;
        var window = ReadWindowBytes;
        // Where the conversation stands at the cursor, once known: the next batch starts where this one ended.
        (long Offset, ConversationPosition Position)? known = null;
        // A backlog goes in batches, each from where the last one left the cursor.
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Prepare(reader, analyzer, hookEvent, cursor, config, known, ref window) is not { } prepared)
                return outcome;
            var (batch, body, local, positionAtEnd) = prepared;
            try
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                using var response = await http.PostAsync("api/v1/signals", content, cancellationToken);
                if (response.IsSuccessStatusCode && batch.LocalExtractor is not null)
                    await ExtractLocallyAsync(local!, batch, cancellationToken);
                var result = response.StatusCode switch
                {
                    HttpStatusCode.Conflict => WorkerOutcome.Conflict, // another event got there first: nothing to do
                    HttpStatusCode.Unauthorized => WorkerOutcome.Unauthorized,
                    // Rate-limited: the cursor did not move, so the next event sends the same turns.
                    HttpStatusCode.TooManyRequests => WorkerOutcome.ServerUnavailable,
                    _ when response.IsSuccessStatusCode => WorkerOutcome.Posted,
                    _ when (int)response.StatusCode >= 500 => WorkerOutcome.ServerUnavailable,
                    _ => WorkerOutcome.Rejected,
                };
                if (result != WorkerOutcome.Posted)
                    return outcome == WorkerOutcome.Posted && result == WorkerOutcome.Conflict ? outcome : result;
                outcome = WorkerOutcome.Posted;
                cursor = batch.Cursor;
                known = (cursor.Offset, positionAtEnd);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return WorkerOutcome.ServerUnavailable;
            }
        }
    }

    /// <summary>
    /// The next batch from the cursor: at most <paramref name="window"/> bytes read, and never more corrections than
    /// the server takes in one batch: the window shrinks until every correction read fits, so the cursor never
    /// moves past a correction that was not sent. Null when nothing new is complete.
    /// </summary>
    private (SignalBatch Batch, byte[] Body, LocalIssueExtractor? Local, ConversationPosition PositionAtEnd)? Prepare(
        ITranscriptReader reader, SessionAnalyzer analyzer, HookEvent hookEvent, SessionCursor cursor, ClientConfig config,
        (long Offset, ConversationPosition Position)? known, ref long window)
    {
        var from = Math.Max(0, cursor.Offset);
        // A turn's verdict must not depend on where a read starts: the detector's context (the agent's last words, the
        // turn's place in the session, an interruption, whether the agent has answered yet) comes from the turns before
        // the cursor, carried over from the last batch or read back from the transcript.
        var position = known is { } k && k.Offset == from ? k.Position : PrecedingContext.PositionAt(reader, hookEvent.TranscriptPath, from);
        while (true)
        {
            var until = window >= long.MaxValue - from ? long.MaxValue : from + window;
            var read = reader.Read(hookEvent.TranscriptPath, from, until);
            if (read.EndOffset <= from)
                return null;

            var bytesRead = read.EndOffset - from;
            var humans = 0;
            foreach (var turn in read.Turns)
                humans += turn.IsHuman ? 1 : 0;
            if (humans > SignalBatchLimits.MaxCorrections && bytesRead > 1)
            {
                // More human turns than a batch can carry as corrections: read fewer before judging any of them (a
                // backlog's first window held ~9,000, all judged and thrown away).
                window = Math.Max(1, bytesRead * TargetCorrections / humans);
                continue;
            }

            var local = config.Settings.AllowLocalExtraction ? localExtractor : null;
            var skill = new ActiveSkill(cursor.ActiveSkill, cursor.ActiveSkillPath);
            // A turn is judged with the opening of the agent's answer; when this window ends before it, read on.
            var endOffset = read.EndOffset;
            IReadOnlyList<ConversationTurn>? ahead = null;
            IReadOnlyList<ConversationTurn> After() => ahead ??= ReadAfter(reader, hookEvent.TranscriptPath, endOffset);
            var analysis = analyzer.Analyze(read.Turns, skill, at: position, after: After);
            if (analysis.Corrections.Count > SignalBatchLimits.MaxCorrections && bytesRead > 1)
            {
                // More than one batch can carry: read less, sized from what this read held.
                window = Math.Max(1, bytesRead * TargetCorrections / analysis.Corrections.Count);
                continue;
            }
            if (analysis.Corrections.Count > 0 && from > 0)
            {
                // The answer being corrected is usually in an earlier read: take it back from the transcript.
                var before = ReadBefore(reader, hookEvent.TranscriptPath, from, Math.Max(1, config.Settings.ContextTurns));
                analysis = analyzer.Analyze(read.Turns, skill, before: before, at: position, after: After);
            }
            var batch = ForServer(hookEvent, user, cursor.Offset, read.EndOffset, analysis, clientVersion,
                local is not null && analysis.Corrections.Count > 0 ? local.Cli : null);

            var body = Fit(ref batch, out var dropped);
            if (dropped && bytesRead > 1)
            {
                window = Math.Max(1, bytesRead / 2); // over the byte limit even without context: read less
                continue;
            }
            // The next window: as many bytes as should hold about TargetCorrections human turns (so never more
            // corrections than a batch takes), never more than the maximum.
            window = humans == 0
                ? ReadWindowBytes
                : Math.Clamp(bytesRead * TargetCorrections / humans, 1, ReadWindowBytes);
            return (batch, body, local, analysis.PositionAtEnd!);
        }
    }

    /// <summary>
    /// What leaves the machine: the detected corrections with their bounded context, every free-text field redacted.
    /// The session's other human turns stay here (<see cref="SignalBatch.Turns"/> is sent empty; servers accept it).
    /// </summary>
    internal static SignalBatch ForServer(HookEvent hookEvent, string user, long fromOffset, long endOffset, SessionAnalysis analysis,
        string clientVersion, string? localExtractor) =>
        BatchRedaction.Redact(new SignalBatch(
            hookEvent.Platform,
            hookEvent.SessionId,
            user,
            fromOffset,
            new SessionCursor(hookEvent.Platform, hookEvent.SessionId, endOffset, analysis.SkillAtEnd.Name, analysis.SkillAtEnd.Path),
            [],
            // Detection always runs here (the server stores what it is sent); AllowLocalExtraction governs only
            // whether the client may run a local agent CLI to extract issues.
            analysis.Corrections,
            hookEvent.Product ?? hookEvent.Platform,
            clientVersion,
            localExtractor));

    /// <summary>
    /// Turns after a read, as far as the next human turn, the opening of the agent's answer or the end of what is
    /// written (bounded: an answer behind megabytes of tool output is judged with what was read).
    /// </summary>
    private static IReadOnlyList<ConversationTurn> ReadAfter(ITranscriptReader reader, string path, long offset)
    {
        IReadOnlyList<ConversationTurn> after = [];
        for (long bytes = ContextBytes; bytes <= MaxContextBytes; bytes *= 4)
        {
            TranscriptRead read;
            try
            {
                read = reader.Read(path, offset, offset + bytes);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return after;
            }
            after = read.Turns;
            if (read.EndOffset < offset + bytes || AnswerIsOpen(after))
                break;
        }
        return after;

        static bool AnswerIsOpen(IReadOnlyList<ConversationTurn> turns)
        {
            var prose = 0;
            foreach (var turn in turns)
            {
                if (turn.IsHuman)
                    return true;
                if (turn.Role == TurnRole.Assistant && !turn.IsSidechain)
                    prose += turn.Text.Length;
            }
            return prose >= SessionAnalyzer.MaxReplyChars;
        }
    }

    /// <summary>Turns before the cursor, from a bounded tail of the transcript (more only when that held none).</summary>
    private static IReadOnlyList<ConversationTurn> ReadBefore(ITranscriptReader reader, string path, long offset, int turnsWanted)
    {
        IReadOnlyList<ConversationTurn> before = [];
        for (var bytes = ContextBytes; bytes <= MaxContextBytes; bytes *= 4)
        {
            try
            {
                before = reader.ReadBefore(path, offset, bytes);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return [];
            }
            if (before.Count(t => !t.IsMeta && !t.IsSidechain && t.Text.Length > 0) >= Math.Min(2, turnsWanted) || offset <= bytes)
                break;
        }
        return before;
    }

    /// <summary>The client's share of the server's 8 MB body limit, leaving room for headers.</summary>
    public const int MaxBatchBytes = SignalBatchLimits.MaxBodyBytes - 256 * 1024;

    /// <summary>
    /// The batch as JSON, fitted to what the server accepts, so a long session is never refused forever. A first read
    /// of a long session can hold thousands of turns and more than 8 MB (non-ASCII text is escaped). Corrections are
    /// what matter: texts are cut to the server's length and the newest turns and corrections kept within its counts;
    /// over the byte limit the plain turns (kept by the server only to test patterns against the past) go first,
    /// then the corrections' context, then the oldest corrections. The cursor still advances past everything read.
    /// </summary>
    internal static byte[] Fit(ref SignalBatch batch) => Fit(ref batch, out _);

    /// <param name="droppedCorrections">True when corrections had to be left out (the caller then reads less).</param>
    internal static byte[] Fit(ref SignalBatch batch, out bool droppedCorrections)
    {
        droppedCorrections = batch.Corrections.Count > SignalBatchLimits.MaxCorrections;
        batch = batch with
        {
            Turns = batch.Turns.TakeLast(SignalBatchLimits.MaxTurns).Select(t => t with { Text = Cut(t.Text) }).ToList(),
            Corrections = batch.Corrections.TakeLast(SignalBatchLimits.MaxCorrections)
                .Select(c => c with { Text = Cut(c.Text), Context = c.Context.TakeLast(SignalBatchLimits.MaxContextTurns).Select(t => t with { Text = Cut(t.Text) }).ToList() })
                .ToList(),
        };
        var json = JsonSerializer.SerializeToUtf8Bytes(batch, HooksJsonContext.Default.SignalBatch);
        if (json.Length <= MaxBatchBytes)
            return json;

        var corrected = batch.Corrections.Select(c => c.TurnId).ToHashSet(StringComparer.Ordinal);
        batch = batch with { Turns = batch.Turns.Where(t => corrected.Contains(t.TurnId)).ToList() };
        json = JsonSerializer.SerializeToUtf8Bytes(batch, HooksJsonContext.Default.SignalBatch);
        if (json.Length <= MaxBatchBytes)
            return json;

        batch = batch with { Corrections = batch.Corrections.Select(c => c with { Context = [] }).ToList() };
        json = JsonSerializer.SerializeToUtf8Bytes(batch, HooksJsonContext.Default.SignalBatch);
        while (json.Length > MaxBatchBytes && batch.Corrections.Count > 0)
        {
            droppedCorrections = true;
            // Keep the newest corrections: halve until it fits (a few rounds at most).
            var keep = batch.Corrections.Skip(Math.Max(1, batch.Corrections.Count / 2)).ToList();
            var kept = keep.Select(c => c.TurnId).ToHashSet(StringComparer.Ordinal);
            batch = batch with { Corrections = keep, Turns = batch.Turns.Where(t => kept.Contains(t.TurnId)).ToList() };
            json = JsonSerializer.SerializeToUtf8Bytes(batch, HooksJsonContext.Default.SignalBatch);
        }

        return json;

        static string Cut(string text) => text.Length <= SignalBatchLimits.MaxTextLength ? text : text[..SignalBatchLimits.MaxTextLength];
    }

    /// <summary>
    /// Extracts and sends the batch's issues one by one. What it cannot do is handed back to the server at once
    /// (<c>POST /api/v1/issues/declined</c>), so the server extracts it without waiting out its grace period: an
    /// invalid answer hands back that correction; a failing CLI (not signed in, no answer) every one still left, as
    /// do corrections over <see cref="LocalIssueExtractor.MaxPerRun"/>. The result is kept for <c>status</c>.
    /// </summary>
    private async Task ExtractLocallyAsync(LocalIssueExtractor local, SignalBatch batch, CancellationToken cancellationToken)
    {
        var extracted = 0;
        var handedBack = new List<string>();
        string? failure = null;
        string? lastError = null;
        for (var i = 0; i < batch.Corrections.Count; i++)
        {
            var correction = batch.Corrections[i];
            if (failure is not null || i >= LocalIssueExtractor.MaxPerRun)
            {
                handedBack.Add(correction.TurnId);
                continue;
            }

            var (issue, error, cliFailed) = await local.ExtractAsync(correction, cancellationToken);
            if (issue is null)
            {
                lastError = error;
                if (cliFailed)
                    failure = error;
                handedBack.Add(correction.TurnId);
                continue;
            }
            var body = new ClientIssue(batch.Platform, batch.SessionId, correction.TurnId, local.ExtractedBy, issue);
            using var content = new StringContent(JsonSerializer.Serialize(body, HooksJsonContext.Default.ClientIssue),
                Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
            using var response = await http.PostAsync("api/v1/issues", content, cancellationToken);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                // The server turned local extraction off (or the token) meanwhile: it extracts these itself.
                local.Record(new LocalExtractionResult(DateTimeOffset.UtcNow, local.Cli, "failed", extracted, 0,
                    $"the server refused the extracted issue ({(int)response.StatusCode})"));
                return;
            }
            if (response.IsSuccessStatusCode)
                extracted++;
            else
                handedBack.Add(correction.TurnId);
        }

        var reason = failure ?? (lastError is not null ? lastError : handedBack.Count > 0 ? $"over the client's limit of {LocalIssueExtractor.MaxPerRun} per run" : null);
        // The reason goes to the server and into status: an agent's error output may quote what it was given.
        reason = reason is null ? null : SecretRedactor.Redact(reason);
        var released = handedBack.Count > 0 && await DeclineAsync(batch, handedBack, reason!, cancellationToken);
        local.Record(new LocalExtractionResult(
            DateTimeOffset.UtcNow,
            local.Cli,
            failure is not null ? "failed" : handedBack.Count > 0 && extracted == 0 ? "failed" : "extracted",
            extracted,
            handedBack.Count,
            handedBack.Count == 0
                ? $"{extracted} issue(s) extracted"
                : $"{extracted} extracted, {handedBack.Count} handed back to the server{(released ? "" : " (the server could not be told; it extracts them after its grace period)")}: {reason}"));
    }

    private async Task<bool> DeclineAsync(SignalBatch batch, IReadOnlyList<string> turnIds, string reason, CancellationToken cancellationToken)
    {
        try
        {
            var body = new LocalExtractionDeclined(batch.Platform, batch.SessionId, turnIds, reason);
            using var content = new StringContent(JsonSerializer.Serialize(body, HooksJsonContext.Default.LocalExtractionDeclined),
                Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
            using var response = await http.PostAsync("api/v1/issues/declined", content, cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    /// <summary>The server's patterns and settings, or the built-in ones when it cannot say.</summary>
    private async Task<ClientConfig> GetConfigAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync("api/v1/client/config", cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                var config = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(cancellationToken),
                    HooksJsonContext.Default.ClientConfig);
                if (config is { Patterns.Count: > 0 })
                    return config with { Settings = config.Settings ?? new ClientSettings() };
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
        }
        return new ClientConfig(DefaultPatterns.All, new ClientSettings());
    }

    public static HttpClient CreateHttpClient(string url, string token, TimeSpan timeout)
    {
        var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5), UseProxy = true })
        {
            BaseAddress = new Uri(url.EndsWith('/') ? url : url + "/"),
            Timeout = timeout,
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("skillloop-client", Version));
        return http;
    }
}
