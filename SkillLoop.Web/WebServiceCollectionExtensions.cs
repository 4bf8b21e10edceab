using System.Text.Json.Serialization;
using MudBlazor.Services;
using SkillLoop.Web.Auth;
using SkillLoop.Web.Endpoints;

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
        services.AddProblemDetails();
        services.AddOpenApi();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase)));
        services.AddSingleton<ServerStatusReader>();

        // Data Protection (cookies, stored API keys) is registered by AddSkillLoopCore: key ring in the data directory.
        return services;
    }

    /// <summary>Errors: problem details on /api, the error page elsewhere.</summary>
    public static WebApplication UseSkillLoopWeb(this WebApplication app)
    {
        app.UseWhen(c => IsApi(c.Request), api =>
        {
            // Bad input (unreadable JSON, wrong types) is the caller's error: 4xx, never 5xx.
            api.UseExceptionHandler(new ExceptionHandlerOptions
            {
                StatusCodeSelector = ex => ex is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,
            });
            api.UseStatusCodePages();
        });
        app.UseWhen(c => !IsApi(c.Request), pages =>
        {
            pages.UseExceptionHandler("/Error", createScopeForErrors: true);
            pages.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
        });
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        return app;
    }

    private static bool IsApi(HttpRequest request) =>
        request.Path.StartsWithSegments("/api") || request.Path.StartsWithSegments("/healthz") || request.Path.StartsWithSegments("/openapi");
}
