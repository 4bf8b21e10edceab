using OpenTelemetry.Metrics;
using SkillLoop.Core.Access;
using SkillLoop.Core.Telemetry;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Telemetry;

/// <summary><c>GET /metrics</c>: Prometheus text format for admins (an admin API key, for a scraper).</summary>
public static class MetricsEndpoints
{
    public const string Path = "/metrics";

    public static IServiceCollection AddSkillLoopMetrics(this IServiceCollection services)
    {
        // Registered by AddSkillLoopCore, one per host.
        var own = (SkillLoopMetrics.OwnMeter)services.Single(d => d.ServiceType == typeof(SkillLoopMetrics.OwnMeter)).ImplementationInstance!;
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(SkillLoopMetrics.MeterName)
            // The SDK listens to meters by name across the process: only this host's own meter is exported, not another
            // host's in the same process (a test server, a second app), which would repeat every series.
            .AddView(instrument => instrument.Meter.Name == SkillLoopMetrics.MeterName && !ReferenceEquals(instrument.Meter, own.Meter)
                ? MetricStreamConfiguration.Drop
                : null)
            // Gauges are read from the database right before each scrape; a cached answer would show the previous read.
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        return services;
    }

    public static IEndpointConventionBuilder MapMetricsEndpoints(this WebApplication app)
    {
        // Only an admin's scrape reads the database: anyone else is refused by the endpoint's policy first.
        app.UseWhen(c => c.Request.Path.Equals(Path, StringComparison.Ordinal), scrape => scrape.Use(async (context, next) =>
        {
            if (context.User.IsInRole(Roles.Admin))
            {
                await context.RequestServices.GetRequiredService<SkillLoopMetrics>().RefreshAsync(context.RequestAborted);
            }

            await next(context);
        }));
        return app.MapPrometheusScrapingEndpoint(Path).RequireAuthorization(Policies.Admin);
    }

    /// <summary>Counts refused client posts (signals, issues) by reason, from the status code they were answered with.</summary>
    public static IApplicationBuilder UseRefusedPostCounting(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            await next(context);
            var request = context.Request;
            if (HttpMethods.IsPost(request.Method) && context.Response.StatusCode >= 400
                && (request.Path.StartsWithSegments("/api/v1/signals") || request.Path.StartsWithSegments("/api/v1/issues")))
            {
                var reason = Reason(context.Response.StatusCode);
                context.RequestServices.GetRequiredService<SkillLoopMetrics>().PostRefused(reason);
                // Who is refused, for the dashboard's inbox: the token's name, or where an unknown token came from.
                var client = context.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name }
                    ? $"token “{name}”"
                    : $"unknown token from {context.Connection.RemoteIpAddress}";
                context.RequestServices.GetRequiredService<SkillLoop.Core.Capture.RefusedPosts>().Record(client, reason, context.Response.StatusCode);
            }
        });

    private static string Reason(int status) => status switch
    {
        400 or 422 => "invalid",
        401 => "unauthorized",
        403 => "forbidden",
        409 => "cursor-conflict",
        413 => "too-large",
        415 => "unsupported-media-type",
        429 => "rate-limited",
        >= 500 => "server-error",
        _ => $"status-{status}",
    };
}
