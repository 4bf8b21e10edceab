using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using SkillLoop.Core.Access;

namespace SkillLoop.Web.Auth;

public static class Policies
{
    /// <summary>Clients posting signals (ingest token).</summary>
    public const string Ingest = "ingest";

    /// <summary>Dashboard users and admin API keys.</summary>
    public const string Staff = "staff";

    public const string Admin = "admin";
}

public static class AuthServiceCollectionExtensions
{
    private const string Smart = "cookie-or-bearer";

    /// <summary>Dashboard cookie login, or a bearer key; API paths answer 401/403 instead of redirecting.</summary>
    public static IServiceCollection AddSkillLoopAuth(this IServiceCollection services)
    {
        services.AddAuthentication(Smart)
            .AddPolicyScheme(Smart, "Cookie or bearer key", o => o.ForwardDefaultSelector = context =>
                context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? ApiKeyAuthenticationHandler.SchemeName
                    : CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(o =>
            {
                o.LoginPath = "/account/login";
                o.AccessDeniedPath = "/access-denied";
                o.Cookie.Name = SkillLoop.Web.Protection.CookieRequestGuard.CookieName;
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.SlidingExpiration = true;
                o.ExpireTimeSpan = TimeSpan.FromHours(12);
                o.Events.OnRedirectToLogin = context => ApiAwareRedirect(context, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = context => ApiAwareRedirect(context, StatusCodes.Status403Forbidden);
                // A role change, password reset or deletion ends the session on its next request.
                o.Events.OnValidatePrincipal = SessionValidation.ValidatePrincipalAsync;
            })
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);

        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Ingest, p => p.RequireRole(Roles.Ingest))
            .AddPolicy(Policies.Staff, p => p.RequireRole(Roles.Admin, Roles.Reviewer))
            .AddPolicy(Policies.Admin, p => p.RequireRole(Roles.Admin));
        services.AddCascadingAuthenticationState();
        // Open dashboard circuits follow the database too (registered after the Razor components' own provider: last wins).
        services.AddScoped<Microsoft.AspNetCore.Components.Authorization.AuthenticationStateProvider, SessionAuthenticationStateProvider>();
        return services;
    }

    private static Task ApiAwareRedirect(RedirectContext<CookieAuthenticationOptions> context, int statusCode)
    {
        // API callers and scrapers get a status code, not a sign-in page.
        if (context.Request.Path.StartsWithSegments("/api") || context.Request.Path.StartsWithSegments("/metrics"))
        {
            context.Response.StatusCode = statusCode;
            return Task.CompletedTask;
        }

        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }
}
