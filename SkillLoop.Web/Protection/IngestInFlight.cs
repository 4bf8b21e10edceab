using SkillLoop.Core.Capture;

namespace SkillLoop.Web.Protection;

/// <summary>
/// Tells the background pipeline that a client is posting signals for as long as an admitted, authorised post is in
/// flight (body parsing, redaction and write turns included), so extraction and clustering give way and run at lowered
/// priority meanwhile (issue 16, item 13). After authorisation: an anonymous flood holds nothing back.
/// </summary>
public static class IngestInFlight
{
    public static IApplicationBuilder UseIngestInFlight(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (!HttpMethods.IsPost(context.Request.Method) || !context.Request.Path.StartsWithSegments("/api/v1/signals"))
        {
            await next(context);
            return;
        }

        using var post = context.RequestServices.GetRequiredService<IngestActivity>().BeginPost();
        await next(context);
    });
}
