using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Proposals;
using SkillLoop.Core.Registry;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

/// <summary>Skill registries (admin), their scans with progress, the skills found, and mappings of unmatched skill names.</summary>
public static class RegistryEndpoints
{
    public static IEndpointRouteBuilder MapRegistryEndpoints(this IEndpointRouteBuilder app)
    {
        var registries = app.MapGroup("/api/v1/registries").WithTags("Registries");
        registries.MapGet("", ListRegistries).RequireAuthorization(Policies.Staff);
        registries.MapPost("", CreateRegistry).RequireAuthorization(Policies.Admin);
        registries.MapGet("/{id:long}", GetRegistry).RequireAuthorization(Policies.Staff);
        registries.MapPut("/{id:long}", UpdateRegistry).RequireAuthorization(Policies.Admin);
        registries.MapDelete("/{id:long}", DeleteRegistry).RequireAuthorization(Policies.Admin);
        registries.MapPost("/{id:long}/scan", ScanRegistry).RequireAuthorization(Policies.Admin);
        registries.MapGet("/{id:long}/scan", GetScan).RequireAuthorization(Policies.Staff);

        var skills = app.MapGroup("/api/v1/skills").WithTags("Registries");
        skills.MapGet("", ListSkills).RequireAuthorization(Policies.Staff);
        skills.MapGet("/unmatched", ListUnmatched).RequireAuthorization(Policies.Staff);
        skills.MapGet("/{id:long}/versions", ListSkillVersions).RequireAuthorization(Policies.Staff);
        skills.MapPut("/mappings", MapSkill).RequireAuthorization(Policies.Admin);

        app.MapGet("/api/v1/audit", ListAudit).RequireAuthorization(Policies.Staff).WithTags("Proposals");
        return app;
    }

    /// <summary>A registry as the API shows it: never its token, only whether it has one.</summary>
    public sealed record RegistryView(RegistryRecord Registry, ScanProgress? Scan);

    public sealed record SkillMapping(string? Skill, long? SkillId);

    public static async Task<Ok<IReadOnlyList<RegistryView>>> ListRegistries(RegistryStore store, RegistryScans scans, CancellationToken cancellationToken) =>
        TypedResults.Ok<IReadOnlyList<RegistryView>>((await store.ListAsync(cancellationToken)).Select(r => new RegistryView(r, scans.Progress(r.Id))).ToList());

    public static async Task<Results<Ok<RegistryView>, ProblemHttpResult>> GetRegistry(long id, RegistryStore store, RegistryScans scans, CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken) is { } registry
            ? TypedResults.Ok(new RegistryView(registry, scans.Progress(id)))
            : NotFound($"Registry {id} does not exist.");

    /// <summary>Adds a registry and queues its first scan.</summary>
    public static async Task<Results<Created<RegistryView>, ValidationProblem>> CreateRegistry(
        RegistryInput? input, RegistryStore store, RegistryScans scans, CancellationToken cancellationToken)
    {
        if (input is null)
        {
            return Invalid(new RegistryException("body", "A JSON body is required."));
        }

        try
        {
            var registry = await store.CreateAsync(input, cancellationToken);
            var scan = await scans.RequestAsync(registry.Id, cancellationToken);
            return TypedResults.Created($"/api/v1/registries/{registry.Id}", new RegistryView(registry, scan));
        }
        catch (RegistryException ex)
        {
            return Invalid(ex);
        }
    }

    /// <summary>Changes a registry; a change to what scans read queues a rescan (the answer carries its progress).</summary>
    public static async Task<Results<Ok<RegistryView>, ValidationProblem, ProblemHttpResult>> UpdateRegistry(
        long id, RegistryInput? input, RegistryScans scans, CancellationToken cancellationToken)
    {
        if (input is null)
        {
            return Invalid(new RegistryException("body", "A JSON body is required."));
        }

        try
        {
            // Through the scans: a new URL, branch, filter set or token queues a rescan, as the dashboard's edit does.
            return TypedResults.Ok(new RegistryView(await scans.UpdateAsync(id, input, cancellationToken), scans.Progress(id)));
        }
        catch (RegistryException ex) when (ex.NotFound)
        {
            return NotFound(ex.Message);
        }
        catch (RegistryException ex)
        {
            return Invalid(ex);
        }
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteRegistry(long id, RegistryStore store, GitMirror git, CancellationToken cancellationToken)
    {
        try
        {
            await store.DeleteAsync(id, cancellationToken);
            git.Delete(id);
            return TypedResults.NoContent();
        }
        catch (RegistryException ex) when (ex.NotFound)
        {
            return NotFound(ex.Message);
        }
    }

    /// <summary>Queues a rescan; follow it with <c>GET …/scan</c> (202 with the progress).</summary>
    public static async Task<Results<Accepted<ScanProgress>, ProblemHttpResult>> ScanRegistry(long id, RegistryScans scans, CancellationToken cancellationToken)
    {
        try
        {
            return TypedResults.Accepted($"/api/v1/registries/{id}/scan", await scans.RequestAsync(id, cancellationToken));
        }
        catch (RegistryException ex) when (ex.NotFound)
        {
            return NotFound(ex.Message);
        }
    }

    public static async Task<Results<Ok<ScanProgress>, ProblemHttpResult>> GetScan(long id, RegistryStore store, RegistryScans scans, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(id, cancellationToken) is null)
        {
            return NotFound($"Registry {id} does not exist.");
        }

        return scans.Progress(id) is { } progress ? TypedResults.Ok(progress) : NotFound($"Registry {id} has not been scanned since the server started.");
    }

    public static async Task<Ok<IReadOnlyList<SkillSummary>>> ListSkills(SkillCatalog catalog, CancellationToken cancellationToken, long? registryId = null) =>
        TypedResults.Ok(await catalog.ListSkillsAsync(registryId, cancellationToken));

    public static async Task<Ok<IReadOnlyList<UnmatchedSkill>>> ListUnmatched(SkillCatalog catalog, CancellationToken cancellationToken) =>
        TypedResults.Ok(await catalog.ListUnmatchedAsync(cancellationToken));

    /// <summary>The skill's versions (each a merged SkillLoop fix) with corrections per use and per distinct user, and the counts behind them.</summary>
    public static async Task<Results<Ok<IReadOnlyList<SkillVersion>>, ProblemHttpResult>> ListSkillVersions(long id, SkillVersions versions, CancellationToken cancellationToken) =>
        await versions.ForSkillAsync(id, cancellationToken) is { } list ? TypedResults.Ok(list) : NotFound($"Skill {id} does not exist.");

    /// <summary>Maps a skill name seen in signals to a registered skill (<c>skillId</c> null removes the mapping).</summary>
    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> MapSkill(
        SkillMapping? mapping, SkillCatalog catalog, ProposalRunner proposals, CancellationToken cancellationToken)
    {
        try
        {
            await catalog.MapAsync(mapping?.Skill, mapping?.SkillId, cancellationToken);
            await proposals.WakeAsync(cancellationToken);
            return TypedResults.NoContent();
        }
        catch (RegistryException ex) when (ex.NotFound)
        {
            return NotFound(ex.Message);
        }
        catch (RegistryException ex)
        {
            return Invalid(ex);
        }
    }

    public static async Task<Ok<IReadOnlyList<AuditEntry>>> ListAudit(ProposalStore store, CancellationToken cancellationToken, long? proposalId = null) =>
        TypedResults.Ok(await store.AuditAsync(proposalId, cancellationToken));

    internal static string Actor(ClaimsPrincipal user) => SkillLoop.Web.Auth.ApiKeyAuthenticationHandler.ActorOf(user);

    private static ValidationProblem Invalid(RegistryException ex) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [ex.Field] = [ex.Message] }, title: "Invalid registry");

    private static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");
}
