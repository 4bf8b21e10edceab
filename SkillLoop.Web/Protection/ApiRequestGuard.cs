using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace SkillLoop.Web.Protection;

/// <summary>
/// Turns away API requests before anything reads their body: a declared body over the endpoint's limit gets 413 (so a
/// client that sent <c>Expect: 100-continue</c> never uploads it), and JSON in a charset other than UTF-8 (RFC 8259
/// §8.1; ASP.NET Core would throw on an unknown one) gets 415, both as problem details. A chunked body that grows past
/// the limit fails its read with a 413 <see cref="BadHttpRequestException"/>, which becomes 413 problem details too.
/// </summary>
public sealed class ApiRequestGuard(RequestDelegate next, IProblemDetailsService problems)
{
    /// <summary>A body this much larger than allowed is not drained: the connection is closed after the answer.</summary>
    public const long MaxDrainBytes = 64 << 20;

    public Task InvokeAsync(HttpContext context)
    {
        var limit = RequestLimits.MaxBodyBytesFor(context);
        var declared = context.Request.ContentLength;
        var size = context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature ? feature : null;
        if (declared > limit)
        {
            if (declared <= MaxDrainBytes && size is not null)
            {
                // Kestrel reads and drops what is still on its way (for at most its drain timeout), so the client gets
                // to read this answer instead of a connection reset in the middle of its upload.
                size.MaxRequestBodySize = null;
            }
            else
            {
                context.Response.Headers.Connection = "close";
            }

            return RejectAsync(context, problems, StatusCodes.Status413PayloadTooLarge, "Request body too large",
                $"{RequestLimits.TooLarge(limit)} This one declares {declared.Value.ToString("N0", CultureInfo.InvariantCulture)}.");
        }

        if (HasNonUtf8Json(context.Request))
        {
            return RejectAsync(context, problems, StatusCodes.Status415UnsupportedMediaType, "Unsupported charset",
                "JSON bodies are UTF-8 (RFC 8259): send charset=utf-8 or no charset at all.");
        }

        if (declared is null && size is not null && context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
        {
            // A body of unknown length (chunked) is counted here rather than by Kestrel: going over is then an ordinary
            // 413 answer after which Kestrel drains the rest, not a rejected request whose connection is cut mid-upload.
            size.MaxRequestBodySize = null;
            context.Request.Body = new LimitedRequestBody(context.Request.Body, limit);
        }
        else if (size is not null)
        {
            size.MaxRequestBodySize = limit;
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
