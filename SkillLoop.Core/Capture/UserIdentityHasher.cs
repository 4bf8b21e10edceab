using System.Security.Cryptography;
using System.Text;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Capture;

/// <summary>
/// The server never stores a client's identity (e-mail, user name): only a salted hash, which is enough to count
/// distinct users. The salt is made on first start and kept in the database.
/// </summary>
public sealed class UserIdentityHasher(SettingsStore settings)
{
    private byte[]? _salt;

    public async Task<string> HashAsync(string identity, CancellationToken cancellationToken)
    {
        _salt ??= Convert.FromBase64String(await settings.GetOrCreateAsync(
            "user_hash_salt", () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), cancellationToken));
        var normalized = identity.Trim().ToLowerInvariant();
        return Convert.ToHexStringLower(HMACSHA256.HashData(_salt, Encoding.UTF8.GetBytes(normalized)))[..32];
    }
}
