using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Extraction;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

public static class SignalEndpoints
{
    public static IEndpointRouteBuilder MapSignalEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/signals").RequireAuthorization(Policies.Staff).WithTags("Signals");
        api.MapGet("/", ListSignals);
        return app;
    }

    /// <summary>Detected corrections, newest first.</summary>
    public static async Task<Results<Ok<IReadOnlyList<SignalView>>, ValidationProblem>> ListSignals(
        SignalStore store,
        IssueStore issues,
        CancellationToken cancellationToken,
        string? platform = null,
        string? sessionId = null,
        string? skill = null,
        int limit = 100,
        long? before = null)
    {
        if (limit is < 1 or > SignalStore.MaxLimit)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"Between 1 and {SignalStore.MaxLimit}."] });
        }

        var signals = await store.QueryAsync(new SignalQuery(Empty(platform), Empty(sessionId), Empty(skill), limit, before), cancellationToken);
        return TypedResults.Ok(await WithIssuesAsync(signals, issues, cancellationToken));
    }

    /// <summary>Adds each signal's extracted issue, where there is one yet.</summary>
    public static async Task<IReadOnlyList<SignalView>> WithIssuesAsync(IReadOnlyList<SignalView> signals, IssueStore issues, CancellationToken cancellationToken)
    {
        var found = await issues.GetManyAsync(signals.Select(s => s.Id).ToList(), cancellationToken);
        return signals.Select(s => found.TryGetValue(s.Id, out var issue) ? s with { Issue = issue } : s).ToList();
    }

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
