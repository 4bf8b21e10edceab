using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Protection;

/// <summary>
/// Per-credential limits on <c>/api</c>: each ingest token, admin API key and dashboard user has a token bucket of its
/// own, refilled every second; requests without a valid credential share one bucket per client address. Over the
/// limit: 429 problem details with <c>Retry-After</c>. <c>SKILLLOOP_RATE_LIMIT_PER_MINUTE</c> sets the rate
/// (0 turns limiting off).
/// </summary>
public static partial class RateLimits
{
    public const string Setting = "SKILLLOOP_RATE_LIMIT_PER_MINUTE";

    /// <summary>
    /// 2,000 requests a second per credential: a whole team sharing one ingest token can still post 2,000 signal
    /// batches (each with one or more signals) a second. The limit is there to stop a runaway client, not to meter use.
    /// </summary>
    public const int DefaultPerMinute = 120_000;

    /// <summary>
    /// The policy of <c>POST /api/v1/signals</c>: a credential posts one large batch (over
    /// <see cref="LargeBatchBytes"/>, or of unknown length) at a time, with up to <see cref="LargeBatchQueue"/> waiting;
    /// more get 429. A flood of 8 MB batches from one token then takes at most one core's worth of parsing and
    /// redaction and one write turn at a time, paced to a fifth of the time (<see cref="LargeBatchPacing"/>), and every
    /// other client keeps its share. Small batches (the usual Stop event) are not limited by it. Always on.
    /// </summary>
    public const string LargeBatches = "large-batches";

    /// <summary>
    /// A usual post (the corrections of one agent turn, each with a few turns of context) is a few kilobytes. At 1 MB,
    /// the former size, a flood of 0.9 MB batches slipped under the pacing and slowed other clients' posts 5x (p50)
    /// and 20x (p95); from 16 KB up a post costs milliseconds of parsing and redaction, and is paced as a large one.
    /// Below it a flood is a flood of requests, which the request rate limit governs.
    /// </summary>
    public const long LargeBatchBytes = 16 * 1024;

    public const int LargeBatchQueue = 4;

    public static IServiceCollection AddSkillLoopRateLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IConfiguration>((options, configuration) =>
        {
            var perMinute = PerMinute(configuration);
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                perMinute > 0 && PartitionKey(context) is { } key
                    ? RateLimitPartition.GetTokenBucketLimiter(key, _ => BucketFor(perMinute))
                    : RateLimitPartition.GetNoLimiter(""));
            options.AddPolicy(LargeBatches, context =>
                IsLarge(context.Request) && PartitionKey(context) is { } key
                    ? RateLimitPartition.GetConcurrencyLimiter("large:" + key, _ => new ConcurrencyLimiterOptions
                    {
                        PermitLimit = 1,
                        QueueLimit = LargeBatchQueue,
                        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                    })
                    : RateLimitPartition.GetNoLimiter("small"));
            options.OnRejected = (context, _) => new ValueTask(RejectAsync(context, perMinute));
        });
        return services;
    }

    /// <summary>Requests a minute per credential from configuration; a value that is not a whole number ≥ 0 stops the start.</summary>
    public static int PerMinute(IConfiguration configuration)
    {
        var value = configuration[Setting];
        if (string.IsNullOrWhiteSpace(value))
        {
            return DefaultPerMinute;
        }

        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var perMinute)
            ? perMinute
            : throw new InvalidOperationException($"{Setting} must be a whole number of requests a minute (0 turns rate limiting off), not '{value}'.");
    }

    /// <summary>
    /// <paramref name="perMinute"/> requests a minute, refilled every second (or one at a time below 60 a minute),
    /// in bursts of up to ten seconds' worth.
    /// </summary>
    public static TokenBucketRateLimiterOptions BucketFor(int perMinute)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perMinute);
        var (period, perPeriod) = perMinute >= 60
            ? (TimeSpan.FromSeconds(1), (perMinute + 59) / 60)
            : (TimeSpan.FromSeconds(60.0 / perMinute), 1);
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(perPeriod, perMinute / 6),
            ReplenishmentPeriod = period,
            TokensPerPeriod = perPeriod,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }

    /// <summary>Whose bucket a request draws from; null when it is not rate limited.</summary>
    public static string? PartitionKey(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments("/api"))
        {
            return null;
        }

        var user = context.User;
        if (user.FindFirst(ApiKeyAuthenticationHandler.KeyIdClaim)?.Value is { } key)
        {
            return $"key:{key}";
        }

        if (user.Identity?.IsAuthenticated == true && user.FindFirst(ClaimTypes.NameIdentifier)?.Value is { } id)
        {
            return $"user:{id}";
        }

        return $"address:{context.Connection.RemoteIpAddress}";
    }

    /// <summary>Whether a request's body is large (over <see cref="LargeBatchBytes"/>) or of unknown length.</summary>
    internal static bool IsLarge(HttpRequest request) => request.ContentLength is not { } length || length > LargeBatchBytes;

    private static Task RejectAsync(OnRejectedContext rejected, int perMinute)
    {
        var context = rejected.HttpContext;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        Rejected(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RateLimits)), PartitionKey(context) ?? "", seconds);
        return ApiRequestGuard.RejectAsync(context, context.RequestServices.GetRequiredService<IProblemDetailsService>(),
            StatusCodes.Status429TooManyRequests, "Too many requests",
            IsLarge(context.Request) && context.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == LargeBatches
                ? $"This credential is sending large batches already (one at a time, {LargeBatchQueue} waiting); retry in {seconds} s."
                : $"This credential may make {perMinute.ToString("N0", CultureInfo.InvariantCulture)} requests a minute; retry in {seconds} s.");
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Rate limit reached for {Partition}; retry in {Seconds} s")]
    private static partial void Rejected(ILogger logger, string partition, int seconds);
}
