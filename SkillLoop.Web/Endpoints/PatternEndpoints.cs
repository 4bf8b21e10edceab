using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Detection;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

/// <summary>Correction patterns: list with precision, edit (admin), and the live tester.</summary>
public static class PatternEndpoints
{
    public static IEndpointRouteBuilder MapPatternEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/patterns").WithTags("Patterns");
        api.MapGet("", ListPatterns).RequireAuthorization(Policies.Staff);
        api.MapPost("", CreatePattern).RequireAuthorization(Policies.Admin);
        api.MapPut("/{id}", UpdatePattern).RequireAuthorization(Policies.Admin);
        api.MapDelete("/{id}", DeletePattern).RequireAuthorization(Policies.Admin);
        api.MapPost("/test", TestPattern).RequireAuthorization(Policies.Staff);
        return app;
    }

    /// <summary>A correction pattern with how its signals fared in triage (noise lowers precision).</summary>
    public sealed record PatternView(string Id, string Language, string Category, string Regex, bool Enabled, long Signals, long Noise, double Precision, bool Builtin = false);

    /// <summary>
    /// Body of <c>POST /api/v1/patterns/test</c>: a candidate pattern, optional text, and whether to scan stored turns;
    /// optionally the agent's words before the text and the opening of its answer, which the classifier reads too.
    /// </summary>
    public sealed record PatternTestRequest(CorrectionPattern Pattern, string? Text, bool History = true, string? Previous = null, string? Reply = null);

    public sealed record PatternTestResponse(TextTestResult? Text, HistoryTestResult? History);

    public static async Task<Ok<IReadOnlyList<PatternView>>> ListPatterns(PatternStore patterns, CancellationToken cancellationToken)
    {
        var precision = (await patterns.PrecisionAsync(cancellationToken)).ToDictionary(p => p.PatternId);
        var views = (await patterns.ListStoredAsync(cancellationToken))
            .Select(s => (s.Pattern, s.Builtin, Score: precision.GetValueOrDefault(s.Pattern.Id)))
            .Select(x => new PatternView(x.Pattern.Id, x.Pattern.Language, x.Pattern.Category, x.Pattern.Regex, x.Pattern.Enabled,
                x.Score?.Signals ?? 0, x.Score?.Noise ?? 0, x.Score?.Precision ?? 1, x.Builtin))
            .ToList();
        return TypedResults.Ok<IReadOnlyList<PatternView>>(views);
    }

    public static async Task<Results<Created<StoredPattern>, ValidationProblem, ProblemHttpResult>> CreatePattern(
        CorrectionPattern? pattern, PatternStore patterns, CancellationToken cancellationToken)
    {
        if (pattern is null)
        {
            return Invalid(new PatternException("body", "A JSON body is required."));
        }

        try
        {
            var stored = await patterns.CreateAsync(pattern, cancellationToken);
            return TypedResults.Created($"/api/v1/patterns/{Uri.EscapeDataString(stored.Pattern.Id)}", stored);
        }
        catch (PatternException ex) when (ex.Message.Contains("exists already", StringComparison.Ordinal))
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status409Conflict, title: "Pattern exists");
        }
        catch (PatternException ex)
        {
            return Invalid(ex);
        }
    }

    public static async Task<Results<Ok<StoredPattern>, ValidationProblem, ProblemHttpResult>> UpdatePattern(
        string id, CorrectionPattern? pattern, PatternStore patterns, CancellationToken cancellationToken)
    {
        if (pattern is null)
        {
            return Invalid(new PatternException("body", "A JSON body is required."));
        }

        try
        {
            return TypedResults.Ok(await patterns.UpdateAsync(pattern with { Id = id }, cancellationToken));
        }
        catch (PatternException ex) when (ex.NotFound)
        {
            return NotFound(ex);
        }
        catch (PatternException ex)
        {
            return Invalid(ex);
        }
    }

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DeletePattern(
        string id, PatternStore patterns, CancellationToken cancellationToken)
    {
        try
        {
            await patterns.DeleteAsync(id, cancellationToken);
            return TypedResults.NoContent();
        }
        catch (PatternException ex) when (ex.NotFound)
        {
            return NotFound(ex);
        }
        catch (PatternException ex)
        {
            return Invalid(ex);
        }
    }

    public static async Task<Results<Ok<PatternTestResponse>, ValidationProblem>> TestPattern(
        PatternTestRequest? request, PatternTester tester, CancellationToken cancellationToken)
    {
        if (request?.Pattern is null)
        {
            return Invalid(new PatternException("pattern", "A pattern to test is required."));
        }

        if (PatternRules.TryCompile(request.Pattern.Regex, out _) is { } error)
        {
            return Invalid(new PatternException("pattern.regex", error));
        }

        if (request.Text is { Length: > 20_000 } || request.Previous is { Length: > 20_000 } || request.Reply is { Length: > 20_000 })
        {
            var field = request.Text is { Length: > 20_000 } ? "text" : request.Previous is { Length: > 20_000 } ? "previous" : "reply";
            return Invalid(new PatternException(field, "At most 20,000 characters."));
        }

        var text = string.IsNullOrEmpty(request.Text) ? null
            : await tester.TestTextAsync(request.Pattern, request.Text, request.Previous, request.Reply, cancellationToken);
        var history = request.History ? await tester.TestHistoryAsync(request.Pattern.Regex, PatternTester.DefaultHistoryLimit, cancellationToken) : null;
        return TypedResults.Ok(new PatternTestResponse(text, history));
    }

    private static ValidationProblem Invalid(PatternException ex) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [ex.Field] = [ex.Message] });

    private static ProblemHttpResult NotFound(PatternException ex) =>
        TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status404NotFound, title: "Pattern not found");
}
