using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Detection;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

/// <summary>What the <c>skillloop-client</c> background process calls, with its ingest token.</summary>
public static class ClientEndpoints
{
    public static IEndpointRouteBuilder MapClientEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").RequireAuthorization(Policies.Ingest).WithTags("Client");
        api.MapGet("/client/config", GetConfig);
        api.MapGet("/sessions/{platform}/{sessionId}/cursor", GetCursor);
        api.MapPost("/signals", PostSignals);
        return app;
    }

    public static async Task<Ok<ClientConfig>> GetConfig(PatternStore patterns, CancellationToken cancellationToken) =>
        TypedResults.Ok(new ClientConfig(await patterns.ListAsync(cancellationToken), new ClientSettings()));

    public static async Task<Results<Ok<SessionCursor>, ValidationProblem>> GetCursor(
        string platform, string sessionId, SignalIngestor ingestor, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (!SignalBatchValidator.IsValidPlatform(platform))
        {
            errors["platform"] = ["Unknown platform."];
        }

        if (!SignalBatchValidator.IsValidSessionId(sessionId))
        {
            errors["sessionId"] = ["1–128 characters of letters, digits, '.', '_', ':' or '-'."];
        }

        return errors.Count > 0
            ? TypedResults.ValidationProblem(errors)
            : TypedResults.Ok(await ingestor.GetCursorAsync(platform, sessionId, cancellationToken));
    }

    public static async Task<Results<Ok<SignalBatchResult>, ValidationProblem, ProblemHttpResult>> PostSignals(
        SignalBatch? batch, SignalIngestor ingestor, CancellationToken cancellationToken)
    {
        var errors = SignalBatchValidator.Validate(batch);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The signal batch is invalid; nothing was stored.");
        }

        var result = await ingestor.IngestAsync(batch!, cancellationToken);
        if (result.Outcome == IngestOutcome.CursorConflict)
        {
            return TypedResults.Problem(
                detail: $"The batch starts at offset {batch!.FromOffset}, but the server has read this session up to {result.Result.Cursor.Offset}. Nothing was stored; read from the server's cursor.",
                statusCode: StatusCodes.Status409Conflict,
                title: "Cursor conflict",
                extensions: new Dictionary<string, object?> { ["cursor"] = result.Result.Cursor });
        }

        return TypedResults.Ok(result.Result);
    }
}
