using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Clustering;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

public static class ClusterEndpoints
{
    public static IEndpointRouteBuilder MapClusterEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").RequireAuthorization(Policies.Staff).WithTags("Clusters");
        api.MapGet("/clusters", ListClusters);
        api.MapGet("/clusters/{id:long}", GetCluster);
        // Curating evidence (merge, noise, move out) is the admins' in the dashboard: the same here.
        api.MapPost("/clusters/{id:long}/merge", MergeCluster).RequireAuthorization(Policies.Admin);
        api.MapPost("/clusters/{id:long}/noise", SetNoise).RequireAuthorization(Policies.Admin);
        api.MapPost("/signals/{id:long}/move-out", MoveSignalOut).RequireAuthorization(Policies.Admin);
        return app;
    }

    public sealed record MergeRequest(long Into);

    public sealed record NoiseRequest(bool Noise = true);

    /// <summary>
    /// Groups of the same problem, most distinct users first, a page at a time (<c>page</c> from 1, <c>limit</c> 1–500,
    /// default 100); <c>X-Total-Count</c> says how many match and a <c>Link: …; rel="next"</c> header names the next page.
    /// </summary>
    public static async Task<Results<Ok<IReadOnlyList<ClusterSummary>>, ValidationProblem>> ListClusters(
        ClusterStore store, HttpContext context, CancellationToken cancellationToken, string? skill = null, string? state = null, int limit = Paging.DefaultLimit, int page = 1)
    {
        if (Paging.Invalid(limit, page, ClusterStore.MaxLimit) is { } problem)
        {
            return problem;
        }

        var found = await store.QueryAsync(
            new ClusterQuery(string.IsNullOrEmpty(skill) ? null : skill, string.IsNullOrEmpty(state) ? null : state, Offset: (page - 1) * limit, Limit: limit), cancellationToken);
        Paging.AddHeaders(context, found.Total, limit, page);
        return TypedResults.Ok(found.Items);
    }

    public static async Task<Results<Ok<ClusterDetail>, ProblemHttpResult>> GetCluster(
        long id, ClusterStore store, SkillLoop.Core.Extraction.IssueStore issues, CancellationToken cancellationToken)
    {
        var detail = await store.GetAsync(id, cancellationToken);
        return detail is null
            ? TypedResults.Problem($"Cluster {id} does not exist.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(detail with { Signals = await SignalEndpoints.WithIssuesAsync(detail.Signals, issues, cancellationToken) });
    }

    public static Task<Results<Ok<ClusterSummary>, ProblemHttpResult>> MergeCluster(long id, MergeRequest request, ClusterStore store, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        ActAsync(() => store.MergeAsync(id, request.Into, cancellationToken, Actor(user)));

    public static Task<Results<Ok<ClusterSummary>, ProblemHttpResult>> SetNoise(long id, NoiseRequest request, ClusterStore store, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        ActAsync(() => store.SetNoiseAsync(id, request.Noise, cancellationToken, Actor(user)));

    public static Task<Results<Ok<ClusterSummary>, ProblemHttpResult>> MoveSignalOut(long id, ClusterStore store, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        ActAsync(() => store.MoveOutAsync(id, cancellationToken, Actor(user)));

    /// <summary>Who the audit log names for a triage action.</summary>
    private static string Actor(ClaimsPrincipal user) => user.Identity?.Name is { Length: > 0 } name ? name : "admin";

    private static async Task<Results<Ok<ClusterSummary>, ProblemHttpResult>> ActAsync(Func<Task<ClusterSummary>> action)
    {
        try
        {
            return TypedResults.Ok(await action());
        }
        catch (ClusterActionException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: ex.NotFound ? StatusCodes.Status404NotFound : StatusCodes.Status409Conflict);
        }
    }
}
