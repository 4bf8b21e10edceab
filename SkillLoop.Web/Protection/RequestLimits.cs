using System.Globalization;
using Microsoft.AspNetCore.Http.Metadata;

namespace SkillLoop.Web.Protection;

/// <summary>
/// How large a request body may be. Kestrel enforces the default for every request; an endpoint may allow more with
/// <see cref="WithMaxBodySize"/>. <see cref="ApiRequestGuard"/> answers an API request whose declared length is over
/// its endpoint's limit with 413 problem details before anything reads the body.
/// </summary>
public static class RequestLimits
{
    /// <summary>Settings, patterns, users, keys, client issues: small JSON documents.</summary>
    public const long DefaultMaxBodyBytes = 1 << 20;

    /// <summary>
    /// <c>POST /api/v1/signals</c>: a batch carries every new human turn of a session (the client cuts each to 4,000
    /// characters), so a first read of a long session can run to a few megabytes.
    /// </summary>
    public const long SignalsMaxBodyBytes = SkillLoop.Hooks.Contracts.SignalBatchLimits.MaxBodyBytes; // the client fits its batches to it

    /// <summary>Lets this endpoint's requests carry bodies of up to <paramref name="bytes"/> (applied by routing).</summary>
    public static RouteHandlerBuilder WithMaxBodySize(this RouteHandlerBuilder builder, long bytes) =>
        builder.WithMetadata(new MaxBodySize(bytes));

    /// <summary>The body limit of the request's endpoint, or the default.</summary>
    public static long MaxBodyBytesFor(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize ?? DefaultMaxBodyBytes;

    public static string TooLarge(long limit) =>
        $"This endpoint accepts bodies of at most {limit.ToString("N0", CultureInfo.InvariantCulture)} bytes.";

    private sealed record MaxBodySize(long? MaxRequestBodySize) : IRequestSizeLimitMetadata;
}
