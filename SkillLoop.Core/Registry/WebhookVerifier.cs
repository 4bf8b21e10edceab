using System.Security.Cryptography;
using System.Text;

namespace SkillLoop.Core.Registry;

/// <summary>
/// Checks a webhook delivery against the registry's secret, the way each forge signs it: GitHub an HMAC-SHA256 of the
/// body in <c>X-Hub-Signature-256</c> (<c>sha256=</c>hex), Gitea (and Forgejo) the same HMAC as bare hex in
/// <c>X-Gitea-Signature</c>, GitLab the secret itself in <c>X-Gitlab-Token</c>. A plain git server's hook may send
/// either the GitHub signature or the secret in <c>X-SkillLoop-Token</c>. Every comparison takes constant time.
/// </summary>
public static class WebhookVerifier
{
    public static bool Verify(string provider, string secret, Func<string, string?> header, ReadOnlySpan<byte> body)
    {
        var key = Encoding.UTF8.GetBytes(secret);
        var expected = HMACSHA256.HashData(key, body);
        bool Hmac(string? given, string prefix)
        {
            if (given is null || !given.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            byte[] claimed;
            try
            {
                claimed = Convert.FromHexString(given[prefix.Length..].Trim());
            }
            catch (FormatException)
            {
                return false;
            }

            return CryptographicOperations.FixedTimeEquals(expected, claimed);
        }

        bool Token(string? given) =>
            given is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(key));

        return provider switch
        {
            "github" => Hmac(header("X-Hub-Signature-256"), "sha256="),
            "gitea" => Hmac(header("X-Gitea-Signature"), "") || Hmac(header("X-Hub-Signature-256"), "sha256="),
            "gitlab" => Token(header("X-Gitlab-Token")),
            _ => Hmac(header("X-Hub-Signature-256"), "sha256=") || Token(header("X-SkillLoop-Token")),
        };
    }
}
