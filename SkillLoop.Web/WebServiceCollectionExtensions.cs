using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Diagnostics;
using MudBlazor.Services;
using SkillLoop.Web.Auth;
using SkillLoop.Web.Endpoints;
using SkillLoop.Web.Protection;
using SkillLoop.Web.Telemetry;

namespace SkillLoop.Web;

public static class WebServiceCollectionExtensions
{
    public const string DefaultUrl = "http://localhost:8080";

    /// <summary>Serves on http://localhost:8080 unless --urls / ASPNETCORE_URLS / ASPNETCORE_HTTP_PORTS say otherwise.</summary>
    public static WebApplicationBuilder UseSkillLoopDefaults(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        if (string.IsNullOrEmpty(config["urls"]) && string.IsNullOrEmpty(config["http_ports"]) && string.IsNullOrEmpty(config["https_ports"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        // Bodies over 1 MB are refused unless an endpoint allows more (RequestLimits).
        builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = RequestLimits.DefaultMaxBodyBytes);

        // Serves MudBlazor's assets from the package folder when run from source (a no-op once published).
        builder.WebHost.UseStaticWebAssets();
        return builder;
    }

    public static IServiceCollection AddSkillLoopWeb(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddMudServices();
        services.AddSkillLoopAuth();
        services.AddAntiforgery();
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            // A binding failure's message says what was wrong with the request (which parameter, read from where).
            if (context.Exception is BadHttpRequestException bad)
            {
                context.ProblemDetails.Detail ??= bad.Message;
            }

            // A body that turned out too large while it was read (chunked) is answered by status code alone.
            if (context.ProblemDetails.Status == StatusCodes.Status413PayloadTooLarge)
            {
                context.ProblemDetails.Detail ??= RequestLimits.TooLarge(RequestLimits.MaxBodyBytesFor(context.HttpContext));
            }
        });
        // Binding failures take the same path in every environment: an exception the handler below maps to its 4xx.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOpenApi();
        services.AddSkillLoopRateLimits();
        services.AddSingleton<LargeBatchPacing>(); // a credential's large batches take a fair share of the time
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase)));
        services.AddSingleton<ServerStatusReader>();
        services.AddSingleton<Components.Pages.Overview.Inbox>();
        services.AddSkillLoopMetrics();

        // Data Protection (cookies, stored API keys) is registered by AddSkillLoopCore: key ring in the data directory.
        return services;
    }

    /// <summary>Security headers on every response; errors: problem details on /api, the error page elsewhere.</summary>
    public static WebApplication UseSkillLoopWeb(this WebApplication app)
    {
        app.UseSecurityHeaders();
        app.UseWhen(c => IsApi(c.Request), api =>
        {
            api.UseRefusedPostCounting(); // outermost: it sees the status the client is finally answered with
            // Bad input (unreadable JSON, wrong types) is the caller's error: 4xx, never 5xx.
            api.UseExceptionHandler(new ExceptionHandlerOptions
            {
                StatusCodeSelector = StatusCodeFor,
                SuppressDiagnosticsCallback = c => c.Exception is BadHttpRequestException, // not a server error
            });
            api.UseStatusCodePages();
            api.UseMiddleware<ApiRequestGuard>();
            api.UseMiddleware<CookieRequestGuard>();
        });
        app.UseWhen(c => !IsApi(c.Request), pages =>
        {
            pages.UseExceptionHandler("/Error", createScopeForErrors: true);
            pages.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
            pages.Use(AnswerBadRequestsAsync);
        });
        app.UseAuthentication();
        app.UseRateLimiter(); // after authentication: each credential has its own bucket
        app.UseAuthorization();
        app.UseIngestInFlight(); // a signal post in flight holds the background pipeline back
        app.UseLargeBatchPriority(); // a large signal batch is parsed and stored at lowered priority
        app.UseAntiforgery();
        return app;
    }

    /// <summary>
    /// A form post the server cannot bind (a stale antiforgery token, a missing field) is the client's error: its 4xx.
    /// The error and not-found pages only answer GET, so re-executing them for a POST ended in a 500 or a 404.
    /// </summary>
    private static async Task AnswerBadRequestsAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (BadHttpRequestException bad) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            context.Response.StatusCode = bad.StatusCode;
            // The not-found page would answer a POST with 404 instead.
            if (context.Features.Get<IStatusCodePagesFeature>() is { } statusCodePages)
            {
                statusCodePages.Enabled = false;
            }
        }
    }

    private static int StatusCodeFor(Exception exception) =>
        exception is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError;

    private static bool IsApi(HttpRequest request) =>
        request.Path.StartsWithSegments("/api") || request.Path.StartsWithSegments("/healthz") || request.Path.StartsWithSegments("/openapi")
        || request.Path.StartsWithSegments(MetricsEndpoints.Path);
}
