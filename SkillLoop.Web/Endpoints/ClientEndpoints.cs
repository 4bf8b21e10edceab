using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Detection;
using SkillLoop.Core.Extraction;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Web.Auth;
using SkillLoop.Web.Protection;
using SkillLoop.Core.Telemetry;

namespace SkillLoop.Web.Endpoints;

/// <summary>What the <c>skillloop-client</c> background process calls, with its ingest token.</summary>
public static class ClientEndpoints
{
    public static IEndpointRouteBuilder MapClientEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").RequireAuthorization(Policies.Ingest).WithTags("Client");
        api.MapGet("/client/config", GetConfig);
        api.MapGet("/sessions/{platform}/{sessionId}/cursor", GetCursor);
        api.MapPost("/signals", PostSignals).WithMaxBodySize(RequestLimits.SignalsMaxBodyBytes)
            .RequireRateLimiting(RateLimits.LargeBatches); // one large batch at a time per credential
        api.MapPost("/issues", PostIssue);
        api.MapPost("/issues/declined", PostDeclined);
        return app;
    }

    public static async Task<Ok<ClientConfig>> GetConfig(PatternStore patterns, ExtractionSettings extraction, SkillLoop.Core.Access.AccessStore access,
        System.Security.Claims.ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        // The install checks the token here: the dashboard's getting-started list ticks "client installed" from it.
        if (ApiKeyAuthenticationHandler.IngestCredentialOf(user) is { KeyId: { } keyId })
        {
            await access.MarkKeyUsedAsync(keyId, cancellationToken);
        }

        var local = await extraction.GetAsync(cancellationToken);
        return TypedResults.Ok(new ClientConfig(await patterns.ListAsync(cancellationToken), new ClientSettings(AllowLocalExtraction: local.AllowLocal)));
    }

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
        SignalBatch? batch, SignalIngestor ingestor, SkillLoopMetrics metrics, System.Security.Claims.ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var errors = SignalBatchValidator.Validate(batch);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The signal batch is invalid; nothing was stored.");
        }

        // The token decides whose evidence this is; extraction and clustering take turns between tokens.
        var result = await ingestor.IngestAsync(batch!, ApiKeyAuthenticationHandler.IngestCredentialOf(user), cancellationToken);
        if (result.Outcome == IngestOutcome.CursorConflict)
        {
            return TypedResults.Problem(
                detail: $"The batch starts at offset {batch!.FromOffset}, but the server has read this session up to {result.Result.Cursor.Offset}. Nothing was stored; read from the server's cursor.",
                statusCode: StatusCodes.Status409Conflict,
                title: "Cursor conflict",
                extensions: new Dictionary<string, object?> { ["cursor"] = result.Result.Cursor });
        }

        metrics.SignalsIngested(result.Result.Accepted);
        return TypedResults.Ok(result.Result);
    }

    /// <summary>An issue the client's local agent CLI extracted from a correction it posted before.</summary>
    public static async Task<Results<Ok<ClientIssueResult>, ValidationProblem, ProblemHttpResult>> PostIssue(
        ClientIssue? body, IssueStore issues, ExtractionSettings extraction, CancellationToken cancellationToken)
    {
        var errors = SignalBatchValidator.Validate(body, out var issue);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The issue is invalid; nothing was stored.");
        }

        if (!(await extraction.GetAsync(cancellationToken)).AllowLocal)
        {
            return TypedResults.Problem(
                detail: "This server extracts issues itself; local extraction by clients is turned off in Settings.",
                statusCode: StatusCodes.Status403Forbidden,
                title: "Local extraction is not allowed");
        }

        return await issues.CompleteFromClientAsync(body!, issue, cancellationToken) switch
        {
            ClientIssueOutcome.UnknownSignal => TypedResults.Problem(
                detail: $"No signal of {body!.Platform} session {body.SessionId} has turn id {body.TurnId}; post the signal first.",
                statusCode: StatusCodes.Status404NotFound,
                title: "Unknown signal"),
            var outcome => TypedResults.Ok(new ClientIssueResult(outcome == ClientIssueOutcome.Stored)),
        };
    }

    /// <summary>
    /// The client's agent CLI could not extract corrections it announced (not signed in, no answer): the server
    /// extracts them at once instead of waiting out its grace period.
    /// </summary>
    public static async Task<Results<Ok<LocalExtractionDeclinedResult>, ValidationProblem>> PostDeclined(
        LocalExtractionDeclined? body, IssueStore issues, ExtractionJobRunner runner, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (body is null)
        {
            errors["body"] = ["A JSON body is required."];
        }
        else
        {
            if (!SignalBatchValidator.IsValidPlatform(body.Platform))
            {
                errors["platform"] = ["Unknown platform."];
            }

            if (!SignalBatchValidator.IsValidSessionId(body.SessionId))
            {
                errors["sessionId"] = ["1–128 characters of letters, digits, '.', '_', ':' or '-'."];
            }

            if (body.TurnIds is not { Count: > 0 and <= SignalBatchLimits.MaxCorrections } || body.TurnIds.Any(t => string.IsNullOrEmpty(t) || t.Length > 256))
            {
                errors["turnIds"] = [$"1 to {SignalBatchLimits.MaxCorrections} turn ids of at most 256 characters."];
            }
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The declined extraction is invalid; nothing changed.");
        }

        var reason = "local extraction failed: " + (string.IsNullOrWhiteSpace(body!.Reason) ? "no reason given" : body.Reason.Trim());
        var released = await issues.ReleaseClientWaitAsync(body.Platform, body.SessionId, body.TurnIds.Distinct().ToList(),
            reason.Length <= 500 ? reason : reason[..500], cancellationToken);
        if (released > 0)
        {
            runner.Wake();
        }

        return TypedResults.Ok(new LocalExtractionDeclinedResult(released));
    }
}
