using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Registry;

/// <summary>Told after every successful scan, before it reports done (proposal merge checks: a manual scan settles them).</summary>
public interface IRegistryScanObserver
{
    Task ScannedAsync(RegistryRecord registry, string head, CancellationToken cancellationToken);
}

/// <summary>Where a registry's scan is: <c>queued</c>, <c>fetching</c>, <c>scanning</c>, <c>done</c> or <c>failed</c>.</summary>
public sealed record ScanProgress(long RegistryId, string Phase, int Percent, int? SkillsFound, string? Error, IReadOnlyList<string> Skipped, DateTimeOffset UpdatedAt);

/// <summary>
/// Scans registries: on demand (queued, one at a time, with progress) and on a schedule (every registry whose last
/// scan is older than the rescan interval). A scan fetches the branch into the mirror, reads the skills at its head
/// and replaces what the registry's last scan found.
/// </summary>
public sealed partial class RegistryScans(
    RegistryStore registries,
    SkillCatalog catalog,
    RegistrySettings settings,
    GitMirror git,
    DatabaseState state,
    TimeProvider time,
    ILogger<RegistryScans> logger,
    IEnumerable<IRegistryScanObserver> observers) : BackgroundService
{
    private static readonly TimeSpan ScheduleCheck = TimeSpan.FromMinutes(1);

    private readonly Channel<long> _queue = Channel.CreateUnbounded<long>();
    private readonly SemaphoreSlim _running = new(3, 3);
    private readonly ConcurrentDictionary<long, ScanProgress> _progress = new();
    private readonly ConcurrentDictionary<long, bool> _rescanAfter = new();

    /// <summary>Raised on every progress change (the dashboard redraws).</summary>
    public event Action<ScanProgress>? Changed;

    public ScanProgress? Progress(long registryId) => _progress.GetValueOrDefault(registryId);

    /// <summary>Queues a scan; a registry already queued or running is not queued twice.</summary>
    public async Task<ScanProgress> RequestAsync(long registryId, CancellationToken cancellationToken)
    {
        await registries.RequireAsync(registryId, cancellationToken);
        if (_progress.TryGetValue(registryId, out var current) && current.Phase is "queued" or "fetching" or "scanning")
        {
            return current;
        }

        var queued = Report(registryId, "queued", 0);
        await _queue.Writer.WriteAsync(registryId, cancellationToken);
        return queued;
    }

    /// <summary>
    /// Changes a registry (the API's PUT and the dashboard's edit form alike) and queues a rescan when the change alters
    /// what a scan reads — clone URL, branch, path filters — or brings a new token (a scan that failed for want of
    /// access can now succeed). Otherwise the skills found stay as they are until the next scheduled scan.
    /// </summary>
    public async Task<RegistryRecord> UpdateAsync(long registryId, RegistryInput input, CancellationToken cancellationToken)
    {
        var before = await registries.RequireAsync(registryId, cancellationToken);
        var after = await registries.UpdateAsync(registryId, input, cancellationToken);
        if (before.Url != after.Url || before.Branch != after.Branch || !before.PathFilters.SequenceEqual(after.PathFilters)
            || !string.IsNullOrWhiteSpace(input.Token))
        {
            var progress = await RequestAsync(registryId, cancellationToken);
            if (progress.Phase is "fetching" or "scanning")
            {
                // The scan under way read the old settings: scan again once it ends.
                _rescanAfter[registryId] = true;
            }
        }

        return after;
    }

    /// <summary>
    /// Scans now, on the caller's task (tests and the scheduler); returns how it ended. A git server that does not
    /// answer within the timeouts fails the scan; cancelling marks it failed too, then throws.
    /// </summary>
    public async Task<ScanProgress> ScanAsync(long registryId, CancellationToken cancellationToken)
    {
        var registry = await registries.RequireAsync(registryId, cancellationToken);
        try
        {
            Report(registryId, "fetching", 0);
            var token = await registries.TokenAsync(registryId, cancellationToken);
            var commit = await git.FetchAsync(registry, token, p => Report(registryId, "fetching", p / 2), cancellationToken);
            Report(registryId, "scanning", 50);
            var result = await git.ScanAsync(registry, commit, p => Report(registryId, "scanning", 50 + p / 2), cancellationToken);
            await catalog.SaveScanAsync(registryId, commit, result, cancellationToken);
            foreach (var observer in observers)
            {
                try
                {
                    await observer.ScannedAsync(registry, commit, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // What the scan found is saved; a follow-up that failed is retried with the next scan.
                    LogObserverFailed(logger, registry.Name, ex);
                }
            }

            LogScanned(logger, registry.Name, result.Skills.Count, result.Skipped.Count);
            return Report(registryId, "done", 100, result.Skills.Count, null, result.Skipped);
        }
        catch (Exception ex) when (ex is GitOperationException or RegistryException or LibGit2Sharp.LibGit2SharpException)
        {
            await catalog.SaveScanErrorAsync(registryId, ex.Message, CancellationToken.None);
            LogScanFailed(logger, registry.Name, ex.Message);
            return Report(registryId, "failed", 100, null, ex.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Without this the registry would show "fetching" for good, and a new request for it would be ignored.
            const string error = "The scan was cancelled before it finished; nothing it found was saved.";
            Report(registryId, "failed", 100, null, error);
            await catalog.SaveScanErrorAsync(registryId, error, CancellationToken.None);
            LogScanFailed(logger, registry.Name, error);
            throw;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await state.WhenReadyAsync(stoppingToken);

        var lastCheck = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (time.GetUtcNow() - lastCheck >= ScheduleCheck)
                {
                    lastCheck = time.GetUtcNow();
                    await QueueDueAsync(stoppingToken);
                }

                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                wait.CancelAfter(ScheduleCheck);
                long id;
                try
                {
                    id = await _queue.Reader.ReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    continue;
                }

                if (await registries.GetAsync(id, stoppingToken) is not null)
                {
                    // Scans run side by side (a few at a time): one slow or unreachable remote must not hold up the rest.
                    await _running.WaitAsync(stoppingToken);
                    _ = Task.Run(async () =>
                    {
                        try
                        {
                            await ScanAsync(id, stoppingToken);
                            if (_rescanAfter.TryRemove(id, out _))
                            {
                                await RequestAsync(id, stoppingToken);
                            }
                        }
                        catch (Exception ex) when (ex is not OperationCanceledException)
                        {
                            LogLoopFailed(logger, ex);
                            Report(id, "failed", 100, null, ex.Message);
                        }
                        finally
                        {
                            _running.Release();
                        }
                    }, CancellationToken.None);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogLoopFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(5), time, stoppingToken);
            }
        }
    }

    private async Task QueueDueAsync(CancellationToken cancellationToken)
    {
        var options = await settings.GetAsync(cancellationToken);
        if (options.RescanMinutes == 0)
        {
            return;
        }

        var due = time.GetUtcNow().AddMinutes(-options.RescanMinutes);
        foreach (var registry in await registries.ListAsync(cancellationToken))
        {
            if (registry.LastScanAt is null || registry.LastScanAt < due)
            {
                await RequestAsync(registry.Id, cancellationToken);
            }
        }
    }

    private ScanProgress Report(long registryId, string phase, int percent, int? skills = null, string? error = null, IReadOnlyList<string>? skipped = null)
    {
        var progress = new ScanProgress(registryId, phase, Math.Clamp(percent, 0, 100), skills, error, skipped ?? [], time.GetUtcNow());
        var previous = _progress.GetValueOrDefault(registryId);
        _progress[registryId] = progress;
        if (previous is null || previous.Phase != phase || previous.Percent != progress.Percent)
        {
            Changed?.Invoke(progress);
        }

        return progress;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scanned registry {Registry}: {Skills} skills, {Skipped} entries refused")]
    private static partial void LogScanned(ILogger logger, string registry, int skills, int skipped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scan of registry {Registry} failed: {Error}")]
    private static partial void LogScanFailed(ILogger logger, string registry, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "After the scan of registry {Registry}, checking its proposals failed")]
    private static partial void LogObserverFailed(ILogger logger, string registry, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "The registry scan loop failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}
