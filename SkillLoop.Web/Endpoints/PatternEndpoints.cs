using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Detection;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

public static class PatternEndpoints
{
    public static IEndpointRouteBuilder MapPatternEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/patterns", ListPatterns).RequireAuthorization(Policies.Staff).WithTags("Patterns");
        return app;
    }

    /// <summary>A correction pattern with how its signals fared in triage (noise lowers precision).</summary>
    public sealed record PatternView(string Id, string Language, string Category, string Regex, bool Enabled, long Signals, long Noise, double Precision);

    public static async Task<Ok<IReadOnlyList<PatternView>>> ListPatterns(PatternStore patterns, CancellationToken cancellationToken)
    {
        var precision = (await patterns.PrecisionAsync(cancellationToken)).ToDictionary(p => p.PatternId);
        var views = (await patterns.ListAsync(cancellationToken))
            .Select(p => precision.TryGetValue(p.Id, out var score)
                ? new PatternView(p.Id, p.Language, p.Category, p.Regex, p.Enabled, score.Signals, score.Noise, score.Precision)
                : new PatternView(p.Id, p.Language, p.Category, p.Regex, p.Enabled, 0, 0, 1))
            .ToList();
        return TypedResults.Ok<IReadOnlyList<PatternView>>(views);
    }
}
