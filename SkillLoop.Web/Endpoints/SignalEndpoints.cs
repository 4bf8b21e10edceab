using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Capture;
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
        return TypedResults.Ok(signals);
    }

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
