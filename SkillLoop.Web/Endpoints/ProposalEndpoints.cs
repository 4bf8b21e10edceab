using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Proposals;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

/// <summary>Proposed skill fixes: list, detail with diff, the reviewer's edit, approve and reject. Nothing is pushed before approval.</summary>
public static class ProposalEndpoints
{
    public static IEndpointRouteBuilder MapProposalEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/proposals").RequireAuthorization(Policies.Staff).WithTags("Proposals");
        api.MapGet("", ListProposals);
        api.MapGet("/{id:long}", GetProposal);
        api.MapPut("/{id:long}", EditProposal);
        api.MapPost("/{id:long}/approve", ApproveProposal);
        api.MapPost("/{id:long}/reject", RejectProposal);
        api.MapPost("/{id:long}/rebase", RebaseProposal);
        api.MapGet("/{id:long}/outcome", GetOutcome);
        return app;
    }

    /// <summary>The reviewer's version of the proposed file; with <c>version</c>, refused when the proposal changed since.</summary>
    public sealed record ProposalEdit(string? ProposedText, int? Version = null);

    /// <summary>
    /// A decision on the proposal's <c>version</c> the reviewer read (required: another or none gets 409), with an
    /// optional comment (and, for approval, optionally the final text, pushed byte for byte).
    /// </summary>
    public sealed record ReviewDecision(string? Comment = null, string? ProposedText = null, int? Version = null, string? CommitMessage = null);

    /// <summary>Proposals waiting for a reviewer first, a page at a time (<c>page</c>, <c>limit</c> as for clusters).</summary>
    public static async Task<Results<Ok<IReadOnlyList<ProposalSummary>>, ValidationProblem>> ListProposals(
        ProposalStore store, HttpContext context, CancellationToken cancellationToken, string? state = null, int limit = Paging.DefaultLimit, int page = 1)
    {
        if (Paging.Invalid(limit, page, ProposalStore.MaxLimit) is { } problem)
        {
            return problem;
        }

        var found = await store.QueryAsync(string.IsNullOrEmpty(state) ? null : state, (page - 1) * limit, limit, cancellationToken);
        Paging.AddHeaders(context, found.Total, limit, page);
        return TypedResults.Ok(found.Items);
    }

    public static async Task<Results<Ok<ProposalDetail>, ProblemHttpResult>> GetProposal(long id, ProposalStore store, CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken) is { } detail
            ? TypedResults.Ok(detail)
            : TypedResults.Problem($"Proposal {id} does not exist.", statusCode: StatusCodes.Status404NotFound, title: "Not found");

    public static Task<Results<Ok<ProposalDetail>, ProblemHttpResult>> EditProposal(
        long id, ProposalEdit? edit, ProposalStore store, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        ActAsync(() => store.EditAsync(id, edit?.ProposedText, RegistryEndpoints.Actor(user), cancellationToken, edit?.Version));

    public static Task<Results<Ok<ProposalDetail>, ProblemHttpResult>> ApproveProposal(
        long id, ReviewDecision? decision, ProposalStore store, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        ActAsync(() => store.ApproveAsync(id, decision?.Version, decision?.Comment, decision?.ProposedText, RegistryEndpoints.Actor(user), cancellationToken,
            decision?.CommitMessage));

    public static Task<Results<Ok<ProposalDetail>, ProblemHttpResult>> RejectProposal(
        long id, ReviewDecision? decision, ProposalStore store, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        ActAsync(() => store.RejectAsync(id, decision?.Version, decision?.Comment, RegistryEndpoints.Actor(user), cancellationToken));

    /// <summary>Asks for the open proposal's branch to be rebuilt on the registry branch's head (the audit log says how it went).</summary>
    public static Task<Results<Ok<ProposalDetail>, ProblemHttpResult>> RebaseProposal(
        long id, ProposalStore store, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        ActAsync(() => store.RequestRebaseAsync(id, RegistryEndpoints.Actor(user), cancellationToken));

    /// <summary>Did the fix work: corrections per use and per distinct user before and after the merge (404 until it merged).</summary>
    public static async Task<Results<Ok<FixOutcome>, ProblemHttpResult>> GetOutcome(long id, SkillVersions versions, CancellationToken cancellationToken) =>
        await versions.ForProposalAsync(id, cancellationToken) is { } outcome
            ? TypedResults.Ok(outcome)
            : TypedResults.Problem($"Proposal {id} does not exist or has not merged.", statusCode: StatusCodes.Status404NotFound, title: "Not found");

    private static async Task<Results<Ok<ProposalDetail>, ProblemHttpResult>> ActAsync(Func<Task<ProposalDetail>> action)
    {
        try
        {
            return TypedResults.Ok(await action());
        }
        catch (ProposalActionException ex) when (ex.CurrentVersion is { } current)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status409Conflict, title: "Version conflict",
                extensions: new Dictionary<string, object?> { ["version"] = current });
        }
        catch (ProposalActionException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: ex.NotFound ? StatusCodes.Status404NotFound : StatusCodes.Status409Conflict);
        }
    }
}
