using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using SkillLoop.Core.Access;

namespace SkillLoop.Web.Endpoints;

/// <summary>Cookie sign-in for the dashboard (the login page posts its form here, with antiforgery).</summary>
public static class AccountEndpoints
{
    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var account = app.MapGroup("/account").WithTags("Account").ExcludeFromDescription();
        account.MapPost("/login", Login).AllowAnonymous();
        account.MapPost("/logout", (Delegate)Logout);
        return app;
    }

    public static async Task<RedirectHttpResult> Login(
        [FromForm] string userName,
        [FromForm] string password,
        [FromForm] string? returnUrl,
        HttpContext context,
        AccessStore access,
        CancellationToken cancellationToken)
    {
        var target = IsLocal(returnUrl) ? returnUrl! : "/";
        var result = await access.CheckPasswordAsync(userName ?? "", password ?? "", cancellationToken);
        if (result is not { Outcome: LoginOutcome.Succeeded, User: { } user })
        {
            var error = result.Outcome == LoginOutcome.LockedOut ? "locked" : "invalid";
            return TypedResults.LocalRedirect($"/account/login?error={error}&returnUrl={Uri.EscapeDataString(target)}");
        }

        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, user.Name), new Claim(ClaimTypes.Role, user.Role), new Claim(ClaimTypes.NameIdentifier, user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))],
            CookieAuthenticationDefaults.AuthenticationScheme);
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
        return TypedResults.LocalRedirect(target);
    }

    public static async Task<RedirectHttpResult> Logout(HttpContext context)
    {
        await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.LocalRedirect("/account/login");
    }

    private static bool IsLocal(string? url) =>
        !string.IsNullOrEmpty(url) && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\'));
}
