using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Core.Registry;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

/// <summary>Server settings kept in the database (the dashboard's Settings page uses the same calls).</summary>
public static class SettingsEndpoints
{
    public static IEndpointRouteBuilder MapSettingsEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/settings").WithTags("Settings");
        api.MapGet("/clustering", GetClustering).RequireAuthorization(Policies.Staff);
        api.MapPut("/clustering", PutClustering).RequireAuthorization(Policies.Admin);
        api.MapGet("/extraction", GetExtraction).RequireAuthorization(Policies.Staff);
        api.MapPut("/extraction", PutExtraction).RequireAuthorization(Policies.Admin);
        api.MapGet("/retention", GetRetention).RequireAuthorization(Policies.Staff);
        api.MapPut("/retention", PutRetention).RequireAuthorization(Policies.Admin);
        api.MapGet("/backup", GetBackup).RequireAuthorization(Policies.Admin); // backups are admin-only in the dashboard too
        api.MapPut("/backup", PutBackup).RequireAuthorization(Policies.Admin);
        api.MapGet("/registry", GetRegistry).RequireAuthorization(Policies.Admin); // as on the Skills page
        api.MapPut("/registry", PutRegistry).RequireAuthorization(Policies.Admin);
        return app;
    }

    public static async Task<Ok<ClusteringThresholds>> GetClustering(ClusteringSettings settings, CancellationToken cancellationToken) =>
        TypedResults.Ok(await settings.GetAsync(cancellationToken));

    public static async Task<Results<Ok<ClusteringThresholds>, ValidationProblem>> PutClustering(
        ClusteringThresholds thresholds, ClusteringSettings settings, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (thresholds.Similarity is <= 0 or >= 1 || float.IsNaN(thresholds.Similarity))
        {
            errors["similarity"] = ["A cosine similarity between 0 and 1 (exclusive)."];
        }

        if (thresholds.DistinctUsers is < 1 or > 1000)
        {
            errors["distinctUsers"] = ["Between 1 and 1000."];
        }

        if (thresholds.NewUsersAfterRejection is < 1 or > 1000)
        {
            errors["newUsersAfterRejection"] = ["Between 1 and 1000 (omit it to keep the current value)."];
        }

        if (thresholds.NewUsersAfterMerge is < 1 or > 1000)
        {
            errors["newUsersAfterMerge"] = ["Between 1 and 1000 (omit it to keep the current value)."];
        }

        if (thresholds.ReopenWindowDays is < 1 or > 365)
        {
            errors["reopenWindowDays"] = ["Between 1 and 365 days (omit it to keep the current value)."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        await settings.SetAsync(thresholds, cancellationToken);
        return TypedResults.Ok(await settings.GetAsync(cancellationToken));
    }

    public static async Task<Ok<LocalExtractionSettings>> GetExtraction(ExtractionSettings settings, CancellationToken cancellationToken) =>
        TypedResults.Ok(await settings.GetAsync(cancellationToken));

    public static async Task<Results<Ok<LocalExtractionSettings>, ValidationProblem>> PutExtraction(
        LocalExtractionSettings value, ExtractionSettings settings, CancellationToken cancellationToken)
    {
        if (value.LocalGraceSeconds is < 0 or > 86_400)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["localGraceSeconds"] = ["Between 0 and 86400 seconds."] });
        }

        await settings.SetAsync(value, cancellationToken);
        return TypedResults.Ok(await settings.GetAsync(cancellationToken));
    }

    public static async Task<Ok<RetentionPolicy>> GetRetention(Retention retention, CancellationToken cancellationToken) =>
        TypedResults.Ok(await retention.GetAsync(cancellationToken));

    public static async Task<Results<Ok<RetentionPolicy>, ValidationProblem>> PutRetention(
        RetentionPolicy policy, Retention retention, CancellationToken cancellationToken)
    {
        if (policy.TurnDays is < 0 or > 36_500)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["turnDays"] = ["Between 0 (keep forever) and 36500 days."] });
        }

        await retention.SetAsync(policy, cancellationToken);
        return TypedResults.Ok(await retention.GetAsync(cancellationToken));
    }

    public static async Task<Ok<BackupRetention>> GetBackup(BackupSettings settings, CancellationToken cancellationToken) =>
        TypedResults.Ok(await settings.GetAsync(cancellationToken));

    public static async Task<Results<Ok<BackupRetention>, ValidationProblem>> PutBackup(
        BackupRetention retention, BackupSettings settings, CancellationToken cancellationToken)
    {
        if (retention.KeepNewest is < 0 or > BackupSettings.MaxKeepNewest)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["keepNewest"] = [$"Between 1 and {BackupSettings.MaxKeepNewest} backups, or 0 to keep all."],
            });
        }

        await settings.SetAsync(retention, cancellationToken);
        return TypedResults.Ok(await settings.GetAsync(cancellationToken));
    }

    public static async Task<Ok<RegistryOptions>> GetRegistry(RegistrySettings settings, CancellationToken cancellationToken) =>
        TypedResults.Ok(await settings.GetAsync(cancellationToken));

    /// <summary>How often registries are rescanned (minutes, 0 = never) and the name and e-mail of SkillLoop's commits.</summary>
    public static async Task<Results<Ok<RegistryOptions>, ValidationProblem>> PutRegistry(
        RegistryOptions value, RegistrySettings settings, CancellationToken cancellationToken)
    {
        try
        {
            await settings.SetAsync(value, cancellationToken);
        }
        catch (RegistryException ex)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [ex.Field] = [ex.Message] });
        }

        return TypedResults.Ok(await settings.GetAsync(cancellationToken));
    }
}
