using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using SkillLoop.Core.Access;
using SkillLoop.Web.Auth;

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
        var client = context.Connection.RemoteIpAddress?.ToString() ?? "";
        var result = await access.CheckPasswordAsync(userName ?? "", password ?? "", client, cancellationToken);
        if (result is not { Outcome: LoginOutcome.Succeeded, User: { } user })
        {
            // One answer for a wrong password, an unknown name and a waiting address: none tells which names exist.
            return TypedResults.LocalRedirect($"/account/login?error=invalid&returnUrl={Uri.EscapeDataString(target)}");
        }

        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, SessionValidation.PrincipalFor(user));
        return TypedResults.LocalRedirect(target);
    }

    /// <summary>Signs out; the form carries an antiforgery token (a cross-site post cannot sign anybody out).</summary>
    public static async Task<Results<RedirectHttpResult, ProblemHttpResult>> Logout(HttpContext context, IAntiforgery antiforgery)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            // With a body: the pages' status code handling would turn a bare 400 into the not-found page's 404.
            return TypedResults.Problem("Sign out from the dashboard's own form (it carries an antiforgery token).",
                statusCode: StatusCodes.Status400BadRequest, title: "Missing antiforgery token");
        }

        await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.LocalRedirect("/account/login");
    }

    /// <summary>
    /// A path on this server that is safe to send in a Location header: one leading slash (not <c>//host</c> or
    /// <c>/\host</c>), printable ASCII only (a control or non-ASCII character would make the redirect itself fail), no
    /// backslash (browsers read it as a slash), and of reasonable length.
    /// </summary>
    internal static bool IsLocal(string? url) =>
        !string.IsNullOrEmpty(url) && url.Length <= 2048 && url[0] == '/'
        && (url.Length == 1 || (url[1] != '/' && url[1] != '\\'))
        && url.All(c => c is > ' ' and < (char)0x7f and not '\\');
}
