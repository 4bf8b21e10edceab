using System.Buffers;
using SkillLoop.Core.Capture;

namespace SkillLoop.Web.Protection;

/// <summary>
/// A large signal post (over <see cref="RateLimits.LargeBatchBytes"/>, or of unknown length) is received on the
/// request's thread, then parsed, validated and redacted on <see cref="LargeBatchThreads"/>, at lowered priority
/// (issue 16, item 13; its write turns go back to the pool, see <see cref="SignalIngestor"/>): its few hundred
/// milliseconds of CPU no longer hold a core that another client's small post waits for. Waiting for the body's bytes takes no core, so it happens before the hand-over, into a
/// pooled buffer. After authorisation and the per-credential limit: one large batch per token reaches this at a time,
/// and it first waits for that token's pause (<see cref="LargeBatchPacing"/>).
/// </summary>
public static class LargeBatchPriority
{
    public static IApplicationBuilder UseLargeBatchPriority(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method) || !request.Path.StartsWithSegments("/api/v1/signals") || !RateLimits.IsLarge(request))
        {
            await next(context);
            return;
        }

        // The credential's fair share first: until its pause is over, its body waits in the connection, not here.
        var pacing = context.RequestServices.GetRequiredService<LargeBatchPacing>();
        var credential = RateLimits.PartitionKey(context) ?? "";
        await pacing.WaitTurnAsync(credential, context.RequestAborted);
        var (buffer, length) = await ReadBodyAsync(request, context.RequestAborted);
        try
        {
            request.Body = new MemoryStream(buffer, 0, length, writable: false);
            var threads = context.RequestServices.GetRequiredService<LargeBatchThreads>();
            await pacing.ProcessAsync(credential, () => threads.RunAsync(() => next(context)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    });

    /// <summary>
    /// The whole body in a pooled buffer. Its size is already bounded: Kestrel stops a declared length over the
    /// endpoint's limit, and <see cref="LimitedRequestBody"/> a chunked body that grows past it (413 either way).
    /// </summary>
    private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(request.ContentLength ?? RateLimits.LargeBatchBytes, 1, RequestLimits.SignalsMaxBodyBytes) + 1);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    return (buffer, length);
                }

                length += read;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }
}
