using System.Text.Json.Serialization;
using System.Globalization;
using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Capture;

/// <param name="TurnDays">Days to keep the human turns clients send (they only feed the pattern tester); 0 keeps them.</param>
// Every field is required in a PUT body: a missing one must not silently become false or 0.
public sealed record RetentionPolicy([property: JsonRequired] int TurnDays);

/// <summary>
/// Data retention, set in the dashboard: the human turns clients send (every message, not only corrections) are
/// deleted after the set number of days. Signals are evidence behind clusters and proposals and are kept.
/// </summary>
public sealed partial class Retention(SqliteDb db, SettingsStore settings, DatabaseState state, TimeProvider time, ILogger<Retention> logger) : BackgroundService
{
    public const string TurnDaysKey = "retention.turn_days";
    public const int DefaultTurnDays = 90;

    public async Task<RetentionPolicy> GetAsync(CancellationToken cancellationToken) => new(
        int.TryParse(await settings.GetAsync(TurnDaysKey, cancellationToken), NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) ? t : DefaultTurnDays);

    public async Task SetAsync(RetentionPolicy policy, CancellationToken cancellationToken)
    {
        if (policy.TurnDays is < 0 or > 36_500)
        {
            throw new ArgumentOutOfRangeException(nameof(policy), "Between 0 (keep) and 36500 days.");
        }

        await settings.SetAsync(TurnDaysKey, policy.TurnDays.ToString(CultureInfo.InvariantCulture), cancellationToken);
    }

    /// <summary>Deletes the turns the policy no longer keeps; returns how many.</summary>
    public async Task<int> PurgeAsync(CancellationToken cancellationToken)
    {
        var policy = await GetAsync(cancellationToken);
        var now = time.GetUtcNow();
        await using var connection = await db.OpenAsync(cancellationToken);
        return policy.TurnDays == 0 ? 0 : await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM turns WHERE created_at < @cutoff", new { cutoff = now.AddDays(-policy.TurnDays) }, cancellationToken: cancellationToken));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await state.WhenReadyAsync(stoppingToken);

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var turns = await PurgeAsync(stoppingToken);
                if (turns > 0)
                {
                    LogPurged(logger, turns);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFailed(logger, ex);
            }

            await Task.Delay(TimeSpan.FromHours(6), time, stoppingToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: deleted {Turns} old turn(s)")]
    private static partial void LogPurged(ILogger logger, int turns);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retention purge failed; retrying later")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
