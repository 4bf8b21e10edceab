using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace SkillLoop.Web.Endpoints;

/// <summary>
/// Page-numbered lists of the admin API (clusters, proposals): the response stays the JSON array it always was;
/// <c>X-Total-Count</c> and an RFC 8288 <c>Link: &lt;…&gt;; rel="next"</c> header tell a client there is more.
/// </summary>
public static class Paging
{
    public const int DefaultLimit = 100;

    public static ValidationProblem? Invalid(int limit, int page, int maxLimit) =>
        limit < 1 || limit > maxLimit
            ? TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"Between 1 and {maxLimit}."] })
            : page < 1
                ? TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["page"] = ["From 1."] })
                : null;

    public static void AddHeaders(HttpContext context, long total, int limit, int page)
    {
        context.Response.Headers["X-Total-Count"] = total.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if ((long)page * limit < total)
        {
            var query = QueryString.Create(context.Request.Query
                .Where(q => q.Key is not ("page" or "limit"))
                .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v)))
                .Append(new("limit", limit.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                .Append(new("page", (page + 1).ToString(System.Globalization.CultureInfo.InvariantCulture))));
            context.Response.Headers.Link = $"<{UriHelper.BuildRelative(context.Request.PathBase, context.Request.Path, query)}>; rel=\"next\"";
        }
    }
}
