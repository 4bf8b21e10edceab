using System.Reflection;
using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

public static class StatusEndpoints
{
    public static IEndpointRouteBuilder MapStatusEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/status", GetStatus).RequireAuthorization(Policies.Staff).WithTags("Status");
        return app;
    }

    public static async Task<Ok<ServerStatus>> GetStatus(ServerStatusReader reader, CancellationToken cancellationToken) =>
        TypedResults.Ok(await reader.ReadAsync(cancellationToken));
}

public sealed record ModelInUse(string Provider, string? Model, int? Dimensions = null, string? Error = null);

public sealed record PipelineStatus(
    long ExtractionPending,
    long ExtractionRunning,
    long ExtractionFailed,
    long ClusteringPending,
    string? ClusteringError,
    ReembedProgress Reembedding,
    ModelFailures ModelFailures);

public sealed record StatusCounts(long Signals, long Sessions, long Turns);

public sealed record ServerStatus(
    string Version,
    int SchemaVersion,
    StatusCounts Counts,
    ModelInUse Chat,
    ModelInUse Embeddings,
    string VectorIndex,
    string? VectorIndexError,
    PipelineStatus Pipeline);

/// <summary>What /api/v1/status and the dashboard's overview show.</summary>
public sealed class ServerStatusReader(
    SqliteDb db,
    DatabaseState state,
    AiRuntime ai,
    IssueStore issues,
    ClusteringJobRunner clustering,
    Reembedder reembedder)
{
    public static readonly string Version =
        typeof(ServerStatusReader).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public async Task<ServerStatus> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var counts = await Dapper.SqlMapper.QuerySingleAsync<CountsRow>(connection, new Dapper.CommandDefinition(
            """
            SELECT (SELECT count(*) FROM signals) AS Signals,
                   (SELECT count(*) FROM sessions) AS Sessions,
                   (SELECT count(*) FROM turns) AS Turns
            """, cancellationToken: cancellationToken));
        var models = ai.Status;
        var extraction = await issues.CountsAsync(cancellationToken);
        var queue = await clustering.QueueAsync(cancellationToken);
        var modelFailures = await issues.ModelFailuresAsync(cancellationToken);
        return new ServerStatus(
            Version,
            state.SchemaVersion,
            new StatusCounts(counts.Signals, counts.Sessions, counts.Turns),
            new ModelInUse(models.Chat.Provider, models.Chat.Model, models.Chat.Dimensions, models.Chat.Error),
            new ModelInUse(models.Embeddings.Provider, models.Embeddings.Model, models.Embeddings.Dimensions, models.Embeddings.Error),
            db.Vec.Description,
            db.Vec.Error,
            new PipelineStatus(extraction.Pending, extraction.Running, extraction.Failed, queue.Pending, queue.LastError, reembedder.Progress, modelFailures));
    }

    private sealed class CountsRow
    {
        public long Signals { get; init; }
        public long Sessions { get; init; }
        public long Turns { get; init; }
    }
}
