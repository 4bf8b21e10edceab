using System.Text.RegularExpressions;

namespace SkillLoop.Hooks.Extraction;

/// <summary>What <see cref="SecretRedactor.RedactWithReport"/> found.</summary>
public sealed record RedactionResult(string Text, IReadOnlyList<string> Kinds)
{
    public bool Changed => Kinds.Count > 0;
}

/// <summary>
/// Replaces secrets and personal data with <c>[REDACTED:kind]</c> before text reaches a model or the database:
/// API keys and tokens of common formats (OpenAI/Anthropic sk-, GitHub, AWS, Slack, Google, Stripe, npm,
/// Hugging Face), JWTs, Bearer tokens, PEM private keys, passwords in URLs, <c>password=</c>-style settings and
/// connection strings, <c>*_TOKEN=</c>-style environment settings, and e-mail addresses. Idempotent; a cheap no-op
/// on text without candidates. Errs towards redacting: a false positive loses a word, a miss leaks a secret.
/// </summary>
public static partial class SecretRedactor
{
    private const string Marker = "[REDACTED";

    private static readonly (Regex Pattern, string Kind)[] Tokens =
    [
        (OpenAiKey(), "api-key"),
        (GitHubToken(), "github-token"),
        (AwsAccessKeyId(), "aws-key"),
        (SlackToken(), "slack-token"),
        (SlackWebhook(), "slack-webhook"),
        (GoogleApiKey(), "google-key"),
        (StripeKey(), "stripe-key"),
        (NpmToken(), "npm-token"),
        (HuggingFaceToken(), "hf-token"),
        (Jwt(), "jwt"),
    ];

    /// <summary>The text with every secret replaced; null stays null.</summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(text))]
    public static string? Redact(string? text) => text is null ? null : RedactWithReport(text).Text;

    public static RedactionResult RedactWithReport(string text)
    {
        var kinds = new List<string>();
        if (string.IsNullOrEmpty(text))
        {
            return new(text, kinds);
        }

        // Longest structures first: a PEM block or a URL would otherwise be cut up by the narrower patterns.
        text = PrivateKey().Replace(text, _ => Found(kinds, "private-key"));
        text = UrlPassword().Replace(text, m => m.Groups["pw"].Value.StartsWith(Marker, StringComparison.Ordinal)
            ? m.Value
            : m.Groups["prefix"].Value + Found(kinds, "password") + "@");
        text = AwsSecret().Replace(text, m => m.Groups["key"].Value + Found(kinds, "aws-secret"));
        foreach (var (pattern, kind) in Tokens)
        {
            text = pattern.Replace(text, _ => Found(kinds, kind));
        }

        text = Bearer().Replace(text, m => m.Groups["value"].Value.StartsWith(Marker, StringComparison.Ordinal)
            ? m.Value
            : m.Groups["scheme"].Value + Found(kinds, "token"));
        text = KeyValueSecret().Replace(text, m => KeepKey(m, kinds, "secret"));
        text = EnvironmentSecret().Replace(text, m => KeepKey(m, kinds, "secret"));
        text = Email().Replace(text, m => m.Groups["local"].Value.Equals("git", StringComparison.Ordinal)
            ? m.Value // git@github.com:org/repo is an SSH remote, not a person
            : Found(kinds, "email"));
        return new(text, kinds);
    }

    private static string KeepKey(Match m, List<string> kinds, string kind)
    {
        var value = m.Groups["value"].Value.Trim('"', '\'');
        return value.Length == 0 || value.StartsWith(Marker, StringComparison.Ordinal)
            ? m.Value
            : m.Groups["key"].Value + Found(kinds, kind);
    }

    private static string Found(List<string> kinds, string kind)
    {
        if (!kinds.Contains(kind))
        {
            kinds.Add(kind);
        }

        return $"[REDACTED:{kind}]";
    }

    [GeneratedRegex(@"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=:\s,-]*)")]
    private static partial Regex PrivateKey();

    [GeneratedRegex(@"(?<prefix>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]+:)(?<pw>[^@/?#\s]+)@")]
    private static partial Regex UrlPassword();

    [GeneratedRegex(@"(?<key>(?i:aws_?secret_?access_?key|aws_?secret)[""']?\s*[:=]\s*[""']?)[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")]
    private static partial Regex AwsSecret();

    [GeneratedRegex(@"(?<![A-Za-z0-9_-])sk-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_-]{20,}")]
    private static partial Regex OpenAiKey();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})")]
    private static partial Regex GitHubToken();

    [GeneratedRegex(@"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}(?![A-Za-z0-9])")]
    private static partial Regex AwsAccessKeyId();

    [GeneratedRegex(@"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}")]
    private static partial Regex SlackToken();

    [GeneratedRegex(@"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+")]
    private static partial Regex SlackWebhook();

    [GeneratedRegex(@"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")]
    private static partial Regex GoogleApiKey();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])(?:sk|rk|pk)_(?:live|test)_[0-9a-zA-Z]{16,}")]
    private static partial Regex StripeKey();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])")]
    private static partial Regex NpmToken();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}")]
    private static partial Regex HuggingFaceToken();

    [GeneratedRegex(@"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")]
    private static partial Regex Jwt();

    [GeneratedRegex(@"(?<scheme>\b(?i:bearer|token)\s+)(?<value>[A-Za-z0-9\-._~+/\[\]:]{16,}=*)")]
    private static partial Regex Bearer();

    // password=..., "password": "...", Password=...; in connection strings, --password ..., pwd: ...
    [GeneratedRegex(@"(?<key>(?<![A-Za-z0-9])[""']?(?i:password|passwd|pwd|passphrase|secret|client_secret|api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|private[_-]?key)[""']?(?:\s*[=:]\s*|\s+(?=[""'])|(?<=--(?i:password|passwd|secret|api-key|token))\s+))(?<value>""[^""\r\n]*""|'[^'\r\n]*'|[^\s;,&""'<>)}\]]+)")]
    private static partial Regex KeyValueSecret();

    // OPENAI_API_KEY=..., DB_PASSWORD: ..., export GH_TOKEN="..." (upper-case environment style)
    [GeneratedRegex(@"(?<key>\b[A-Z][A-Z0-9_]*_(?:TOKEN|SECRET|KEY|PASSWORD|PASS|PWD|CREDENTIALS)[""']?\s*[=:]\s*)(?<value>""[^""\r\n]*""|'[^'\r\n]*'|[^\s;,&""'<>]+)")]
    private static partial Regex EnvironmentSecret();

    [GeneratedRegex(@"(?<![A-Za-z0-9._%+-])(?<local>[A-Za-z0-9._%+-]+)@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])")]
    private static partial Regex Email();
}
