using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Capture;

/// <summary>Which ingest token sent a batch: a personal token is one user; a shared one trusts the reported identity.</summary>
/// <param name="KeyId">The token's row id (null for callers inside the server, which count as a shared token).</param>
public sealed record IngestCredential(long? KeyId, bool Shared)
{
    /// <summary>No token known: the reported identity is all there is, so it is self-declared.</summary>
    public static readonly IngestCredential SelfDeclared = new(null, Shared: true);
}

/// <summary>Who a batch's user is for counting, and whether that is only what the client said.</summary>
public sealed record CountedUser(string Hash, bool SelfDeclared);

/// <summary>
/// The server never stores a client's identity (e-mail, user name): only a salted hash, which is enough to count
/// distinct users. The salt is made on first start and kept in the database. A personal ingest token is one user
/// whatever its client reports; through a shared token the reported identity is normalised first, so case, a
/// <c>+tag</c>, compatibility forms and invisible characters do not turn one person into several.
/// </summary>
public sealed class UserIdentityHasher(SettingsStore settings)
{
    private byte[]? _salt;

    public async Task<string> HashAsync(string identity, CancellationToken cancellationToken) =>
        await HashNormalizedAsync(Normalize(identity), cancellationToken);

    /// <summary>The counted user of a batch sent with <paramref name="credential"/>.</summary>
    public async Task<CountedUser> UserAsync(string reported, IngestCredential credential, CancellationToken cancellationToken) =>
        credential is { Shared: false, KeyId: { } keyId }
            // A NUL cannot survive normalisation, so no reported identity can collide with a personal token's.
            ? new CountedUser(await HashNormalizedAsync("\0key:" + keyId.ToString(CultureInfo.InvariantCulture), cancellationToken), SelfDeclared: false)
            : new CountedUser(await HashAsync(reported, cancellationToken), SelfDeclared: true);

    /// <summary>
    /// The identity as counted: Unicode compatibility forms folded (NFKC), invisible characters and white space
    /// removed, lower case, and an e-mail's <c>+tag</c> dropped (<c>Alice+x@Example.com</c> is <c>alice@example.com</c>).
    /// </summary>
    public static string Normalize(string identity)
    {
        var text = InvisibleCharacters.Strip(Compatibility.Fold(identity), out _);
        text = new string(text.Where(c => !char.IsWhiteSpace(c)).ToArray()).ToLowerInvariant();
        var at = text.LastIndexOf('@');
        if (at > 0)
        {
            var local = text[..at];
            var plus = local.IndexOf('+', StringComparison.Ordinal);
            if (plus > 0)
            {
                text = local[..plus] + text[at..];
            }
        }

        return text;
    }

    private async Task<string> HashNormalizedAsync(string normalized, CancellationToken cancellationToken)
    {
        _salt ??= Convert.FromBase64String(await settings.GetOrCreateAsync(
            "user_hash_salt", () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), cancellationToken));
        return Convert.ToHexStringLower(HMACSHA256.HashData(_salt, Encoding.UTF8.GetBytes(normalized)))[..32];
    }
}
