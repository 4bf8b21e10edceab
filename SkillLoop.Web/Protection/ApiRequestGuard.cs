using Microsoft.Net.Http.Headers;

namespace SkillLoop.Web.Protection;

/// <summary>
/// Turns away API requests whose body could only end in a server error, before anything reads it: JSON in a charset
/// other than UTF-8 (RFC 8259 §8.1; ASP.NET Core would throw on an unknown one) gets 415 problem details.
/// </summary>
public sealed class ApiRequestGuard(RequestDelegate next, IProblemDetailsService problems)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (HasNonUtf8Json(context.Request))
        {
            return RejectAsync(context, problems, StatusCodes.Status415UnsupportedMediaType, "Unsupported charset",
                "JSON bodies are UTF-8 (RFC 8259): send charset=utf-8 or no charset at all.");
        }

        return next(context);
    }

    /// <summary>Writes an RFC 9457 problem details answer.</summary>
    public static async Task RejectAsync(HttpContext context, IProblemDetailsService problems, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }

    private static bool HasNonUtf8Json(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            || !(mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                || mediaType.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase)))
        {
            return false;
        }

        var charset = HeaderUtilities.RemoveQuotes(mediaType.Charset);
        return charset.HasValue && charset.Length > 0
            && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase);
    }
}
