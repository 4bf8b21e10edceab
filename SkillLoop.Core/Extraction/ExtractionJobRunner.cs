using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Extraction;

/// <summary>Supplies the extractor in use (resolved lazily: loading a chat model must not hold up start).</summary>
public interface IIssueExtractorSource
{
    IIssueExtractor GetExtractor();
}

/// <summary>Settings of the background extraction.</summary>
public sealed class ExtractionOptions
{
    /// <summary>Claims per job before it fails for good (model/endpoint errors; invalid answers fail at once).</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Delay before the first retry of a failed attempt; doubled per attempt.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often to look for new signals when no ingest notification arrives.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Turns stored signals into issues in the background, one at a time, durably: work is queued in
/// <c>extraction_jobs</c>, so a restart resumes where it stopped and nothing is extracted twice. Woken by ingest
/// (<see cref="SignalFeed"/>), and by a timer for retries. Text is redacted before the extractor sees it and the
/// issue is redacted again before it is stored.
/// </summary>
public sealed partial class ExtractionJobRunner(
    IssueStore store,
    IIssueExtractorSource extractors,
    DatabaseState database,
    SignalFeed feed,
    Capture.IngestActivity ingest,
    TimeProvider time,
    IOptions<ExtractionOptions> options,
    ILogger<ExtractionJobRunner> logger,
    Telemetry.SkillLoopMetrics? metrics = null,
    Detection.DetectionVerdicts? verdicts = null,
    Capture.PipelineScheduler? pipeline = null) : BackgroundService
{
    private TaskCompletionSource _wake = NewWake();
    private readonly ExtractionOptions _options = options.Value;

    /// <summary>Queues new signals, then extracts every due job; returns how many jobs were processed.</summary>
    public Task<int> RunOnceAsync(CancellationToken cancellationToken) => RunOnceAsync(giveWay: false, cancellationToken);

    private async Task<int> RunOnceAsync(bool giveWay, CancellationToken cancellationToken)
    {
        await store.EnqueueNewAsync(cancellationToken);
        var processed = 0;

        // In the background, each job waits for a gap in ingest first: capture comes before extraction.
        async Task<ExtractionJob?> NextAsync()
        {
            if (giveWay)
            {
                await ingest.GiveWayAsync(cancellationToken);
            }

            return await store.ClaimNextAsync(cancellationToken);
        }

        while (await NextAsync() is { } job)
        {
            await ProcessAsync(job, cancellationToken);
            processed++;
        }

        return processed;
    }

    /// <summary>Crash recovery; called once before the loop.</summary>
    public Task<int> RecoverAsync(CancellationToken cancellationToken) =>
        store.RecoverInterruptedAsync(_options.MaxAttempts, cancellationToken);

    // On the pipeline's threads when there are any: request handling keeps the thread pool and comes first for the CPU.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        pipeline is null ? LoopAsync(stoppingToken) : pipeline.RunAsync(() => LoopAsync(stoppingToken), stoppingToken);

    private async Task LoopAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        await database.WhenReadyAsync(stoppingToken);

        using var subscription = feed.Subscribe(_ => { Wake(); return Task.CompletedTask; });
        var recovered = await RecoverAsync(stoppingToken);
        if (recovered > 0)
        {
            LogRecovered(logger, recovered);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            // Reset before the pass: a signal stored during it completes the new wake and skips the wait below.
            Interlocked.Exchange(ref _wake, NewWake());
            try
            {
                await RunOnceAsync(giveWay: true, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // A database hiccup must not end extraction for the life of the server.
                LogLoopFailed(logger, ex);
            }

            await Task.WhenAny(Volatile.Read(ref _wake).Task, Task.Delay(_options.PollInterval, time, stoppingToken));
        }
    }

    /// <summary>Starts a pass now (jobs became due outside ingest, e.g. a client gave its local extraction back).</summary>
    public void Wake() => Volatile.Read(ref _wake).TrySetResult();

    private static TaskCompletionSource NewWake() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task ProcessAsync(ExtractionJob job, CancellationToken cancellationToken)
    {
        if (job.Attempts > _options.MaxAttempts)
        {
            // Interrupted by a stop or crash on every attempt: the model is not tried again (it may be what crashes).
            await FallBackAsync(job, "server", job.LastError ?? "interrupted", cancellationToken);
            return;
        }

        IIssueExtractor? extractor = null;
        try
        {
            extractor = extractors.GetExtractor();
            var request = job.Request.Redacted();
            // Borderline scores get a second opinion when a chat model is available; a rejected signal gets no issue.
            if (verdicts is not null && extractor is Detection.ICorrectionConfirmer confirmer
                && await verdicts.IsBorderlineAsync(job.SignalId, cancellationToken)
                && await confirmer.ConfirmAsync(request, cancellationToken) is { } verdict)
            {
                await verdicts.RecordAsync(job.SignalId, verdict, cancellationToken);
                LogVerdict(logger, job.SignalId, verdict.Value, verdict.DecidedBy);
                if (!verdict.IsCorrection)
                {
                    await store.SkipAsync(job.SignalId, $"not a correction ({verdict.DecidedBy}): {verdict.Reason}", cancellationToken);
                    return;
                }
            }

            var issue = Sanitize(await extractor.ExtractAsync(request, cancellationToken), request);
            var stored = await store.CompleteAsync(job.SignalId, issue, cancellationToken);
            LogExtracted(logger, job.SignalId, issue.ExtractedBy, stored);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await store.ReleaseAsync(job.SignalId, CancellationToken.None);
            throw;
        }
        catch (IssueExtractionException ex)
        {
            // Not retried (the same prompt gets the same answer): the signal is extracted by the heuristic now.
            metrics?.ExtractionFailed(extractor?.ExtractedBy ?? "unknown");
            LogFailed(logger, job.SignalId, extractor?.ExtractedBy ?? "?", job.Attempts, ex.Message);
            await FallBackAsync(job, extractor?.ExtractedBy ?? "server", ex.Message, cancellationToken);
        }
        catch (Exception ex)
        {
            var error = $"{ex.GetType().Name}: {ex.Message}";
            metrics?.ExtractionFailed(extractor?.ExtractedBy ?? "unknown");
            LogFailed(logger, job.SignalId, extractor?.ExtractedBy ?? "?", job.Attempts, error);
            if (job.Attempts < _options.MaxAttempts)
            {
                await store.FailAsync(job.SignalId, error, time.GetUtcNow() + _options.RetryDelay * Math.Pow(2, job.Attempts - 1), CancellationToken.None);
            }
            else
            {
                await FallBackAsync(job, extractor?.ExtractedBy ?? "server", error, cancellationToken);
            }
        }
    }

    /// <summary>
    /// After the model's last failed attempt the heuristic extractor makes the issue, so the signal still clusters
    /// and can reach a proposal; the issue says so and why (<see cref="HeuristicIssueExtractor.FallbackName"/>), and
    /// the job keeps the model's error for the overview.
    /// </summary>
    private async Task FallBackAsync(ExtractionJob job, string failedExtractor, string error, CancellationToken cancellationToken)
    {
        var request = job.Request.Redacted();
        var issue = Sanitize(HeuristicIssueExtractor.Extract(request), request) with
        {
            ExtractedBy = HeuristicIssueExtractor.FallbackName(failedExtractor, SecretRedactor.Redact(error)),
        };
        try
        {
            var stored = await store.CompleteAsync(job.SignalId, issue, cancellationToken, modelError: SecretRedactor.Redact(error));
            LogFellBack(logger, job.SignalId, failedExtractor, stored);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await store.FailAsync(job.SignalId, error, time.GetUtcNow(), CancellationToken.None);
            throw;
        }
    }

    /// <summary>Whatever an extractor returns, nothing secret and nothing unbounded reaches the database.</summary>
    private static SignalIssue Sanitize(SignalIssue issue, ExtractionRequest request) => issue with
    {
        ProblemPattern = Clean(issue.ProblemPattern, 300),
        RootCause = Clean(issue.RootCause, 300),
        ExpectedBehavior = Clean(issue.ExpectedBehavior, 300),
        EvidenceQuote = Clean(issue.EvidenceQuote, 200),
        Severity = IssueSeverity.All.Contains(issue.Severity) ? issue.Severity : IssueSeverity.Medium,
        Confidence = Math.Clamp(double.IsFinite(issue.Confidence) ? issue.Confidence : 0, 0, 1),
        Skill = issue.Skill ?? request.SkillName,
    };

    private static string Clean(string text, int max)
    {
        text = Capture.InvisibleCharacters.Strip(SecretRedactor.Redact(text), out _).Trim();
        return text.Length <= max ? text : text[..(max - 1)] + "…";
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Signal {SignalId}: issue extracted by {ExtractedBy} (stored: {Stored})")]
    private static partial void LogExtracted(ILogger logger, long signalId, string extractedBy, bool stored);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Signal {SignalId}: extraction by {ExtractedBy} failed (attempt {Attempt}): {Error}")]
    private static partial void LogFailed(ILogger logger, long signalId, string extractedBy, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Signal {SignalId}: borderline score {Verdict} by {DecidedBy}")]
    private static partial void LogVerdict(ILogger logger, long signalId, string verdict, string decidedBy);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Signal {SignalId}: {FailedExtractor} gave up; the heuristic extractor made the issue (stored: {Stored})")]
    private static partial void LogFellBack(ILogger logger, long signalId, string failedExtractor, bool stored);

    [LoggerMessage(Level = LogLevel.Information, Message = "Extraction: {Count} job(s) interrupted by the last stop were recovered")]
    private static partial void LogRecovered(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Extraction loop failed; retrying at the next poll")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}
