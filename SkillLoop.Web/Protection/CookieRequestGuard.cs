using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace SkillLoop.Web.Protection;

/// <summary>
/// Cross-site request forgery on the API: a POST, PUT, PATCH or DELETE that would be authenticated by the dashboard
/// cookie must carry the <see cref="HeaderName"/> header or a valid antiforgery token. A browser adds neither to a
/// cross-site form or a "simple" fetch, and a custom header needs a CORS preflight this server never grants; body-less
/// posts (backup, scan, move-out) are exactly the ones a plain HTML form can forge. Requests with an
/// <c>Authorization: Bearer</c> key are not cookie-authenticated and are unaffected; the dashboard itself works over its
/// Blazor circuit, not these endpoints.
/// </summary>
public sealed class CookieRequestGuard(RequestDelegate next, IProblemDetailsService problems, IAntiforgery antiforgery)
{
    public const string HeaderName = "X-SkillLoop-Request";

    /// <summary>The dashboard's authentication cookie.</summary>
    public const string CookieName = "skillloop";

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)
            || request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            || !request.Cookies.ContainsKey(CookieName)
            || request.Headers.ContainsKey(HeaderName))
        {
            await next(context);
            return;
        }

        if (await HasValidTokenAsync(context))
        {
            await next(context);
            return;
        }

        await ApiRequestGuard.RejectAsync(context, problems, StatusCodes.Status400BadRequest, "Cross-site request refused",
            $"Requests signed in with the dashboard cookie must send the {HeaderName} header (any value) or an antiforgery token. Scripts should use an API key (Authorization: Bearer).");
    }

    private async Task<bool> HasValidTokenAsync(HttpContext context)
    {
        // Only the header form: reading a form body here would consume what the endpoint needs.
        if (!context.Request.Headers.ContainsKey("RequestVerificationToken"))
        {
            return false;
        }

        try
        {
            return await antiforgery.IsRequestValidAsync(context);
        }
        catch (Exception ex) when (ex is AntiforgeryValidationException or InvalidOperationException)
        {
            return false;
        }
    }
}
