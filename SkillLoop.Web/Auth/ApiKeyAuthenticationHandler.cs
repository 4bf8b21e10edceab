using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Access;

namespace SkillLoop.Web.Auth;

/// <summary>
/// <c>Authorization: Bearer &lt;secret&gt;</c> for clients (ingest tokens) and scripts (admin API keys).
/// Only a hash of each secret is stored; the kind of the key decides the role.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    AccessStore access) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    /// <summary>The claim naming the key's row id (rate limits are kept per key).</summary>
    public const string KeyIdClaim = "api_key_id";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!TryReadBearer(Request, out var secret))
        {
            return AuthenticateResult.NoResult();
        }

        var key = await access.FindKeyAsync(secret, Context.RequestAborted);
        if (key is null)
        {
            return AuthenticateResult.Fail("Unknown or revoked token.");
        }

        var role = key.Kind == ApiKeyKinds.Ingest ? Roles.Ingest : Roles.Admin;
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, key.Name), new Claim(ClaimTypes.Role, role), new Claim(KeyIdClaim, key.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))],
            SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    public static bool TryReadBearer(HttpRequest request, out string secret)
    {
        secret = "";
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        secret = header["Bearer ".Length..].Trim();
        return secret.Length is > 0 and <= 512;
    }
}
