using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Data;

namespace SkillLoop.Web.Endpoints;

public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", GetHealth).AllowAnonymous().WithTags("Health");
        return app;
    }

    public sealed record Health(string Status, int SchemaVersion);

    /// <summary>200 once the database is open and migrated.</summary>
    public static Results<Ok<Health>, ProblemHttpResult> GetHealth(DatabaseState state) =>
        state.IsReady
            ? TypedResults.Ok(new Health("ok", state.SchemaVersion))
            : TypedResults.Problem("The database is not open and migrated yet.", statusCode: StatusCodes.Status503ServiceUnavailable);
}
