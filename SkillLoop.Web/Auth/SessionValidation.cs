using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using SkillLoop.Core.Access;

namespace SkillLoop.Web.Auth;

/// <summary>
/// Sessions follow the database: a dashboard cookie names its user and the security stamp it was signed in with, and
/// every request checks both against the <c>users</c> table. A deleted user, a new password or a new role (each
/// changes the stamp) ends the session on the next request.
/// </summary>
public static class SessionValidation
{
    /// <summary>The claim carrying the user's security stamp at sign-in.</summary>
    public const string StampClaim = "skillloop_stamp";

    /// <summary>The cookie principal for a user who just signed in.</summary>
    public static ClaimsPrincipal PrincipalFor(UserAccount user) => new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.Name, user.Name),
            new Claim(ClaimTypes.Role, user.Role),
            new Claim(ClaimTypes.NameIdentifier, user.Id.ToString(CultureInfo.InvariantCulture)),
            new Claim(StampClaim, user.SecurityStamp),
        ],
        CookieAuthenticationDefaults.AuthenticationScheme));

    /// <summary>Whether <paramref name="principal"/> still matches its user as stored (same stamp, same role).</summary>
    public static async Task<bool> IsCurrentAsync(AccessStore access, ClaimsPrincipal? principal, CancellationToken cancellationToken)
    {
        if (principal?.Identity?.IsAuthenticated != true)
        {
            return true; // nobody signed in: nothing to end
        }

        if (!long.TryParse(principal.FindFirstValue(ClaimTypes.NameIdentifier), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            || principal.FindFirstValue(StampClaim) is not { Length: > 0 } stamp)
        {
            return false; // a cookie from before stamps existed, or not ours
        }

        var user = await access.FindUserAsync(id, cancellationToken);
        return user is not null
            && string.Equals(user.SecurityStamp, stamp, StringComparison.Ordinal)
            && principal.IsInRole(user.Role);
    }

    /// <summary><see cref="CookieAuthenticationEvents.OnValidatePrincipal"/>: every cookie request, against the database.</summary>
    public static async Task ValidatePrincipalAsync(CookieValidatePrincipalContext context)
    {
        var access = context.HttpContext.RequestServices.GetRequiredService<AccessStore>();
        if (!await IsCurrentAsync(access, context.Principal, context.HttpContext.RequestAborted))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        }
    }
}

/// <summary>
/// The dashboard circuit's view of the session: checked against the database every <see cref="RevalidationInterval"/>,
/// and at once when an admin changes, resets or deletes this user (<see cref="AccessAdmin.UsersChanged"/>). A session
/// that ended turns the circuit anonymous, which sends the page to sign-in.
/// </summary>
public sealed partial class SessionAuthenticationStateProvider : RevalidatingServerAuthenticationStateProvider
{
    private readonly AccessStore _access;
    private readonly AccessAdmin _admin;
    private readonly ILogger<SessionAuthenticationStateProvider> _logger;

    public SessionAuthenticationStateProvider(ILoggerFactory loggerFactory, AccessStore access, AccessAdmin admin)
        : base(loggerFactory)
    {
        _access = access;
        _admin = admin;
        _logger = loggerFactory.CreateLogger<SessionAuthenticationStateProvider>();
        _admin.UsersChanged += OnUsersChanged;
    }

    protected override TimeSpan RevalidationInterval => TimeSpan.FromSeconds(30);

    protected override Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken) =>
        SessionValidation.IsCurrentAsync(_access, authenticationState.User, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _admin.UsersChanged -= OnUsersChanged;
        }

        base.Dispose(disposing);
    }

    private void OnUsersChanged(long userId) => _ = RevalidateNowAsync(userId);

    private async Task RevalidateNowAsync(long userId)
    {
        try
        {
            var state = await GetAuthenticationStateAsync();
            if (state.User.FindFirstValue(ClaimTypes.NameIdentifier) != userId.ToString(CultureInfo.InvariantCulture))
            {
                return;
            }

            if (!await SessionValidation.IsCurrentAsync(_access, state.User, CancellationToken.None))
            {
                SetAuthenticationState(Task.FromResult(new AuthenticationState(new ClaimsPrincipal(new ClaimsIdentity()))));
            }
        }
        catch (Exception ex)
        {
            // The periodic check still runs; this one only makes it immediate.
            LogRevalidationFailed(_logger, userId, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not re-check the dashboard session of user {UserId} after a change")]
    private static partial void LogRevalidationFailed(ILogger logger, long userId, Exception exception);
}
