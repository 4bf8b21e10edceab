using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Access;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

/// <summary>Users (admin and reviewer roles) and API keys (client ingest tokens, admin keys). Admin only.</summary>
public static class AccessEndpoints
{
    public static IEndpointRouteBuilder MapAccessEndpoints(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/api/v1/users").RequireAuthorization(Policies.Admin).WithTags("Access");
        users.MapGet("", ListUsers);
        users.MapPost("", CreateUser);
        users.MapPut("/{id:long}/role", SetRole);
        users.MapPut("/{id:long}/password", ResetPassword);
        users.MapDelete("/{id:long}", DeleteUser);
        users.MapPost("/{id:long}/unlock", UnlockUser);

        var keys = app.MapGroup("/api/v1/keys").RequireAuthorization(Policies.Admin).WithTags("Access");
        keys.MapGet("", ListKeys);
        keys.MapPost("", CreateKey);
        keys.MapDelete("/{id:long}", RevokeKey);
        return app;
    }

    public sealed record NewUser(string? Name, string? Password, string? Role);

    public sealed record RoleChange(string? Role);

    public sealed record PasswordChange(string? Password);

    /// <summary>A new key; <c>shared</c> makes an ingest token for a whole team instead of one developer (the default).</summary>
    public sealed record NewKey(string? Kind, string? Name, bool Shared = false);

    public static async Task<Ok<IReadOnlyList<UserSummary>>> ListUsers(AccessAdmin admin, CancellationToken cancellationToken) =>
        TypedResults.Ok(await admin.ListUsersAsync(cancellationToken));

    public static async Task<Results<Created<UserSummary>, ValidationProblem>> CreateUser(NewUser? body, AccessAdmin admin, CancellationToken cancellationToken)
    {
        try
        {
            var user = await admin.CreateUserAsync(body?.Name, body?.Password, body?.Role, cancellationToken);
            return TypedResults.Created($"/api/v1/users/{user.Id}", user);
        }
        catch (AccessException ex)
        {
            return Invalid(ex);
        }
    }

    public static Task<Results<Ok<UserSummary>, ValidationProblem, ProblemHttpResult>> SetRole(
        long id, RoleChange? body, AccessAdmin admin, CancellationToken cancellationToken) =>
        Guard(async () => TypedResults.Ok(await admin.SetRoleAsync(id, body?.Role, cancellationToken)));

    public static Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> ResetPassword(
        long id, PasswordChange? body, AccessAdmin admin, CancellationToken cancellationToken) =>
        Guard(async () => { await admin.ResetPasswordAsync(id, body?.Password, cancellationToken); return TypedResults.NoContent(); });

    public static Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DeleteUser(
        long id, AccessAdmin admin, CancellationToken cancellationToken) =>
        Guard(async () => { await admin.DeleteUserAsync(id, cancellationToken); return TypedResults.NoContent(); });

    public static Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> UnlockUser(
        long id, AccessAdmin admin, CancellationToken cancellationToken) =>
        Guard(async () => { await admin.UnlockUserAsync(id, cancellationToken); return TypedResults.NoContent(); });

    public static async Task<Ok<IReadOnlyList<ApiKeySummary>>> ListKeys(AccessAdmin admin, CancellationToken cancellationToken) =>
        TypedResults.Ok(await admin.ListKeysAsync(cancellationToken));

    /// <summary>Creates a key; the answer carries the secret, which is never shown again.</summary>
    public static async Task<Results<Created<CreatedApiKey>, ValidationProblem>> CreateKey(NewKey? body, AccessAdmin admin, CancellationToken cancellationToken)
    {
        try
        {
            var created = await admin.CreateKeyAsync(body?.Kind, body?.Name, cancellationToken, body?.Shared ?? false);
            return TypedResults.Created($"/api/v1/keys/{created.Key.Id}", created);
        }
        catch (AccessException ex)
        {
            return Invalid(ex);
        }
    }

    public static Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> RevokeKey(
        long id, AccessAdmin admin, CancellationToken cancellationToken) =>
        Guard(async () => { await admin.RevokeKeyAsync(id, cancellationToken); return TypedResults.NoContent(); });

    private static async Task<Results<T, ValidationProblem, ProblemHttpResult>> Guard<T>(Func<Task<T>> action)
        where T : IResult
    {
        try
        {
            return await action();
        }
        catch (AccessException ex) when (ex.NotFound)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status404NotFound, title: "Not found");
        }
        catch (AccessException ex)
        {
            return Invalid(ex);
        }
    }

    private static ValidationProblem Invalid(AccessException ex) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [ex.Field] = [ex.Message] });
}
