using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Detection;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

/// <summary>
/// Learning from triage: "not a correction" on a signal, "missed correction" on a session's turn, and the export the
/// detector's training command reads (corrections corpus JSONL).
/// </summary>
public static class DetectionEndpoints
{
    public static IEndpointRouteBuilder MapDetectionEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Detection");
        api.MapPost("/signals/{id:long}/noise", MarkNoise).RequireAuthorization(Policies.Admin);
        api.MapGet("/sessions/{platform}/{sessionId}/turns", SessionTurns).RequireAuthorization(Policies.Staff);
        api.MapPost("/sessions/{platform}/{sessionId}/turns/{turnId}/missed", MarkMissed).RequireAuthorization(Policies.Admin);
        api.MapGet("/detection/labels", ListLabels).RequireAuthorization(Policies.Staff);
        api.MapGet("/detection/labels/export", ExportLabels).RequireAuthorization(Policies.Admin);
        return app;
    }

    public sealed record LabelResult(string Label, string DecidedBy);

    /// <summary>An admin says this signal is not a correction: a training label, and the signal's verdict.</summary>
    public static async Task<Results<Ok<LabelResult>, ProblemHttpResult>> MarkNoise(
        long id, DetectionLabels labels, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var by = "admin:" + RegistryEndpoints.Actor(user);
        return await labels.MarkNoiseAsync(id, by, cancellationToken)
            ? TypedResults.Ok(new LabelResult(DetectionLabel.Noise, by))
            : TypedResults.Problem($"There is no signal {id}.", statusCode: StatusCodes.Status404NotFound, title: "Signal not found");
    }

    /// <summary>The human turns a client sent for one session, with their signal and label (for "missed correction").</summary>
    public static async Task<Ok<IReadOnlyList<SignalStore.SessionTurn>>> SessionTurns(
        string platform, string sessionId, SignalStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(await store.SessionTurnsAsync(platform, sessionId, cancellationToken));

    /// <summary>An admin says the detector missed a correction in this turn.</summary>
    public static async Task<Results<Ok<LabelResult>, ProblemHttpResult>> MarkMissed(
        string platform, string sessionId, string turnId, DetectionLabels labels, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var by = "admin:" + RegistryEndpoints.Actor(user);
        return await labels.MarkMissedAsync(platform, sessionId, turnId, by, cancellationToken)
            ? TypedResults.Ok(new LabelResult(DetectionLabel.Correction, by))
            : TypedResults.Problem($"Session {platform}/{sessionId} has no stored turn '{turnId}'.", statusCode: StatusCodes.Status404NotFound,
                title: "Turn not found");
    }

    public static async Task<Ok<IReadOnlyList<DetectionLabel>>> ListLabels(DetectionLabels labels, CancellationToken cancellationToken) =>
        TypedResults.Ok(await labels.ListAsync(cancellationToken));

    /// <summary>
    /// Every label as corrections-corpus JSONL: save it in a directory and run
    /// <c>dotnet run --project SkillLoop.Benchmarks -- train-detector benchmarks/data/corrections DIR</c>.
    /// </summary>
    public static async Task<FileContentHttpResult> ExportLabels(DetectionLabels labels, CancellationToken cancellationToken) =>
        TypedResults.File(System.Text.Encoding.UTF8.GetBytes(await labels.ExportJsonlAsync(cancellationToken)), "application/x-ndjson",
            "skillloop-triage-labels.jsonl");
}
