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

    /// <summary>Present (value "true") on a shared team ingest token: its clients' identities are self-declared.</summary>
    public const string SharedClaim = "api_key_shared";

    /// <summary>Names an API key's holder in the audit log: the key's own name, marked as a key so it never reads as a user.</summary>
    public const string ActorPrefix = "api key ";

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
        List<Claim> claims = [new Claim(ClaimTypes.Name, key.Name), new Claim(ClaimTypes.Role, role), new Claim(KeyIdClaim, key.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        if (key.Shared)
        {
            claims.Add(new Claim(SharedClaim, "true"));
        }

        var identity = new ClaimsIdentity(claims, SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    /// <summary>The ingest credential of a client's request (its key id and whether it is a shared team token).</summary>
    public static SkillLoop.Core.Capture.IngestCredential IngestCredentialOf(ClaimsPrincipal user) =>
        long.TryParse(user.FindFirstValue(KeyIdClaim), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
            ? new(id, user.HasClaim(SharedClaim, "true"))
            : SkillLoop.Core.Capture.IngestCredential.SelfDeclared;

    /// <summary>
    /// Who did it, for the audit log: the signed-in user's name, or <c>api key &lt;name&gt; (#id)</c> for an API key,
    /// so an admin key named like a user can never pass for that user.
    /// </summary>
    public static string ActorOf(ClaimsPrincipal user)
    {
        var name = user.Identity?.Name;
        if (user.Identity?.AuthenticationType == SchemeName)
        {
            return $"{ActorPrefix}{name} (#{user.FindFirstValue(KeyIdClaim)})";
        }

        return string.IsNullOrWhiteSpace(name) ? throw new InvalidOperationException("An action needs a signed-in user or an API key.") : name;
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
