using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Ai;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

/// <summary>
/// The AI providers (admin only; the dashboard's Settings → AI providers uses the same service). API keys go in,
/// never out: the answers say <c>hasApiKey</c>.
/// </summary>
public static class AiSettingsEndpoints
{
    public static IEndpointRouteBuilder MapAiSettingsEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/settings/ai").WithTags("Settings").RequireAuthorization(Policies.Admin);
        api.MapGet("", GetAi);
        api.MapPut("", PutAi);
        api.MapPost("/test", TestAi);
        app.MapGet("/api/v1/models", GetModels).WithTags("Settings").RequireAuthorization(Policies.Admin);
        return app;
    }

    public static async Task<Ok<AiSettingsView>> GetAi(AiSettings settings, CancellationToken cancellationToken) =>
        TypedResults.Ok(await settings.GetAsync(cancellationToken));

    /// <summary>Saves and switches at once (no restart); 400 with the fields at fault, and nothing saved, on bad input.</summary>
    public static async Task<Results<Ok<AiSettingsView>, ValidationProblem>> PutAi(
        AiSettingsInput input, AiSettings settings, CancellationToken cancellationToken)
    {
        var errors = settings.Validate(input);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        return TypedResults.Ok(await settings.SaveAsync(input, cancellationToken));
    }

    /// <summary>Tries an unsaved configuration; an unreachable or failing provider is a result (<c>ok: false</c>), not an error.</summary>
    public static async Task<Results<Ok<AiTestReport>, ValidationProblem>> TestAi(
        AiSettingsInput input, AiSettings settings, CancellationToken cancellationToken)
    {
        var errors = settings.Validate(input, bothRoles: false);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        return TypedResults.Ok(await settings.TestAsync(input, cancellationToken));
    }

    /// <summary>The GGUF files of the models directory, by name relative to it.</summary>
    public static Ok<IReadOnlyList<ModelFile>> GetModels(AiSettings settings) => TypedResults.Ok(settings.ListModels());
}
