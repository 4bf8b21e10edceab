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
public sealed class SignalWorker(HttpClient http, string user, string clientVersion = SignalWorker.Version, LocalIssueExtractor? localExtractor = null)
{
    public const string Version = "0.1.0";

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

        var read = reader.Read(hookEvent.TranscriptPath, Math.Max(0, cursor.Offset));
        if (read.EndOffset <= cursor.Offset)
            return WorkerOutcome.NothingNew;

        var config = await configTask;
        var local = config.Settings.AllowLocalExtraction ? localExtractor : null;
        // The agent turn a new message answers usually lies before the cursor (the last read ended with it).
        var previous = PrecedingContext.LastAssistantProse(reader, hookEvent.TranscriptPath, cursor.Offset, read.Turns.Count);
        var analysis = new SessionAnalyzer(new TwoStageDetector(new CorrectionDetector(config.Patterns)), Math.Max(0, config.Settings.ContextTurns))
            .Analyze(read.Turns, new ActiveSkill(cursor.ActiveSkill, cursor.ActiveSkillPath), conversationStarted: cursor.Offset > 0,
                previousAssistant: previous);
        var batch = new SignalBatch(
            hookEvent.Platform,
            hookEvent.SessionId,
            user,
            cursor.Offset,
            new SessionCursor(hookEvent.Platform, hookEvent.SessionId, read.EndOffset, analysis.SkillAtEnd.Name, analysis.SkillAtEnd.Path),
            analysis.Turns,
            // Detection always runs here (the server stores what it is sent); AllowLocalExtraction governs only
            // whether the client may run a local agent CLI to extract issues.
            analysis.Corrections,
            hookEvent.Product ?? hookEvent.Platform,
            clientVersion,
            local is not null && analysis.Corrections.Count > 0 ? local.Cli : null);

        var body = Fit(ref batch);
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            using var response = await http.PostAsync("api/v1/signals", content, cancellationToken);
            if (response.IsSuccessStatusCode && batch.LocalExtractor is not null)
                await ExtractLocallyAsync(local!, batch, cancellationToken);
            return response.StatusCode switch
            {
                HttpStatusCode.Conflict => WorkerOutcome.Conflict, // another event got there first: nothing to do
                HttpStatusCode.Unauthorized => WorkerOutcome.Unauthorized,
                // Rate-limited: the cursor did not move, so the next event sends the same turns.
                HttpStatusCode.TooManyRequests => WorkerOutcome.ServerUnavailable,
                _ when response.IsSuccessStatusCode => WorkerOutcome.Posted,
                _ when (int)response.StatusCode >= 500 => WorkerOutcome.ServerUnavailable,
                _ => WorkerOutcome.Rejected,
            };
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return WorkerOutcome.ServerUnavailable;
        }
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
    internal static byte[] Fit(ref SignalBatch batch)
    {
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
    /// Extracts and sends the batch's issues one by one. Any failure just stops: the server extracts what it did
    /// not receive once its grace period is over.
    /// </summary>
    private async Task ExtractLocallyAsync(LocalIssueExtractor local, SignalBatch batch, CancellationToken cancellationToken)
    {
        foreach (var correction in batch.Corrections.Take(LocalIssueExtractor.MaxPerRun))
        {
            var (issue, _) = await local.ExtractAsync(correction, cancellationToken);
            if (issue is null)
                continue;
            var body = new ClientIssue(batch.Platform, batch.SessionId, correction.TurnId, local.ExtractedBy, issue);
            using var content = new StringContent(JsonSerializer.Serialize(body, HooksJsonContext.Default.ClientIssue),
                Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
            using var response = await http.PostAsync("api/v1/issues", content, cancellationToken);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                return;
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
