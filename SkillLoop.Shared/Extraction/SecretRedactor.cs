using System.Buffers;
using System.Text.RegularExpressions;

namespace SkillLoop.Hooks.Extraction;

/// <summary>What <see cref="SecretRedactor.RedactWithReport"/> found.</summary>
public sealed record RedactionResult(string Text, IReadOnlyList<string> Kinds)
{
    public bool Changed => Kinds.Count > 0;
}

/// <summary>
/// Replaces secrets and personal data with <c>[REDACTED:kind]</c> before text leaves the laptop and again before it
/// reaches a model or the database: API keys and tokens of common formats (OpenAI/Anthropic sk-, GitHub, AWS, Slack,
/// Google, Stripe, npm, PyPI, Hugging Face, SendGrid, DigitalOcean), JWTs, Bearer/Basic authorization, cookies, PEM
/// and PuTTY private keys, passwords in URLs, on command lines (<c>curl -u</c>, <c>mysql -p</c>, <c>sshpass -p</c>,
/// <c>docker login -p</c>) and in prose, <c>password=</c>-style settings and connection strings (Azure account keys
/// and SAS signatures too), <c>*_TOKEN=</c>/<c>PGPASSWORD=</c>-style environment settings, e-mail addresses and the
/// user name in home directory paths. Idempotent; a cheap no-op on text without candidates. Errs towards redacting: a
/// false positive loses a word, a miss leaks a secret. The one redactor: the client runs it before posting and the
/// server again at ingest (it references this project).
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
        (GoogleOAuthSecret(), "google-oauth-secret"),
        (SendGridKey(), "sendgrid-key"),
        (PyPiToken(), "pypi-token"),
        (DigitalOceanToken(), "digitalocean-token"),
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
        text = PuttyKey().Replace(text, _ => Found(kinds, "private-key"));
        text = AwsCsvSecret().Replace(text, m => m.Groups["id"].Value + "," + Found(kinds, "aws-secret"));
        // Cheap checks first where a pattern can only match around a literal: searching from every letter is what
        // made the e-mail and URL patterns slow (about 1-3 M chars/s on plain prose).
        text = !text.Contains("://", StringComparison.Ordinal) ? text : UrlPassword().Replace(text, m => m.Groups["pw"].Value.StartsWith(Marker, StringComparison.Ordinal)
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
        // The broad patterns below run only where one of their words occurs (one vectorised scan each): most text
        // has none, and these patterns start at nearly every word.
        text = !Has(text, AuthorizationWords) ? text : AuthorizationHeader().Replace(text, m => KeepKey(m, kinds, "credentials"));
        text = !Has(text, CookieWords) ? text : CookieHeader().Replace(text, m => KeepKey(m, kinds, "cookie"));
        text = CurlUser().Replace(text, m => KeepKey(m, kinds, "password"));
        text = CliPassword().Replace(text, m => KeepKey(m, kinds, "password"));
        text = !Has(text, KeyWords) ? text : KeyValueSecret().Replace(text, m => KeepKey(m, kinds, "secret"));
        text = !Has(text, EnvironmentWords) ? text : EnvironmentSecret().Replace(text, m => KeepKey(m, kinds, "secret"));
        text = !Has(text, PasswordWords) ? text : ProsePassword().Replace(text, m => KeepKey(m, kinds, "password"));
        text = !Has(text, HomeWords) ? text : HomeDirectory().Replace(text, m => m.Groups["user"].Value.StartsWith(Marker, StringComparison.Ordinal)
            ? m.Value
            : m.Groups["prefix"].Value + Found(kinds, "user"));
        text = RedactEmails(text, kinds);
        return new(text, kinds);
    }

    /// <summary>
    /// E-mail addresses, found from their '@' outwards: the local part is the run of address characters before it,
    /// the domain is matched right after it (anchored). Linear in the text, unlike a pattern that starts at every word.
    /// </summary>
    private static string RedactEmails(string text, List<string> kinds)
    {
        var at = text.IndexOf('@', StringComparison.Ordinal);
        if (at < 0)
        {
            return text;
        }

        System.Text.StringBuilder? result = null;
        var copied = 0;
        while (at >= 0)
        {
            var start = at;
            while (start > copied && IsLocalPartChar(text[start - 1]))
            {
                start--;
            }

            var domain = EmailDomain().Match(text, at + 1);
            var local = text.AsSpan(start, at - start);
            // git@github.com:org/repo is an SSH remote, not a person.
            if (local.Length == 0 || !domain.Success || local.SequenceEqual("git"))
            {
                at = text.IndexOf('@', at + 1);
                continue;
            }

            result ??= new System.Text.StringBuilder(text.Length);
            result.Append(text, copied, start - copied).Append(Found(kinds, "email"));
            copied = domain.Index + domain.Length;
            at = text.IndexOf('@', copied);
        }

        return result is null ? text : result.Append(text, copied, text.Length - copied).ToString();
    }

    private static bool IsLocalPartChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '%' or '+' or '-';

    // Words each broad pattern needs (a superset: a hit only means the pattern runs).
    private static readonly SearchValues<string> AuthorizationWords = SearchValues.Create(["authorization"], StringComparison.OrdinalIgnoreCase);
    private static readonly SearchValues<string> CookieWords = SearchValues.Create(["cookie", "-b"], StringComparison.OrdinalIgnoreCase);
    private static readonly SearchValues<string> KeyWords = SearchValues.Create(
        ["pass", "pwd", "secret", "api", "token", "access", "auth", "private", "account", "shared", "sig", "x-amz"], StringComparison.OrdinalIgnoreCase);
    private static readonly SearchValues<string> EnvironmentWords = SearchValues.Create(
        ["TOKEN", "SECRET", "_KEY", "PASSWORD", "PASSWD", "_PASS", "PGPASS", "SSHPASS", "PWD", "CREDENTIALS", "_AUTH"], StringComparison.Ordinal);
    private static readonly SearchValues<string> PasswordWords = SearchValues.Create(["pass", "pwd", "pin", "密码", "口令"], StringComparison.OrdinalIgnoreCase);
    private static readonly SearchValues<string> HomeWords = SearchValues.Create(["/home/", "/Users/", ":\\", ":/"], StringComparison.Ordinal);

    private static bool Has(string text, SearchValues<string> words) => text.AsSpan().IndexOfAny(words) >= 0;

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

    // The match starts at "://" (a literal the search finds fast); the scheme before it is a lookbehind.
    [GeneratedRegex(@"(?<prefix>(?<=\b[a-zA-Z][a-zA-Z0-9+.-]*)://[^:/?#@\s]+:)(?<pw>[^@/?#\s]+)@")]
    private static partial Regex UrlPassword();

    [GeneratedRegex(@"(?<key>(?i:aws_?secret_?access_?key|aws_?secret)[""']?\s*[:=]\s*[""']?)[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")]
    private static partial Regex AwsSecret();

    [GeneratedRegex(@"(?<![A-Za-z0-9_-])sk-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_-]{20,}")]
    private static partial Regex OpenAiKey();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})")]
    private static partial Regex GitHubToken();

    [GeneratedRegex(@"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}(?![A-Za-z0-9])")]
    private static partial Regex AwsAccessKeyId();

    [GeneratedRegex(@"(?<![A-Za-z0-9])(?:xox[abposre](?:\.xox[a-z])?|xapp)-[A-Za-z0-9-]{10,}")]
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
    [GeneratedRegex(@"(?<key>(?<![A-Za-z0-9])[""']?(?i:password|passwd|pwd|passphrase|secret|client_secret|api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|private[_-]?key(?:[_-]?id)?|account[_-]?key|shared[_-]?access[_-]?key|sig|x-amz-signature|x-amz-security-token|secret[_-]?key[_-]?base)[""']?(?:\s*[=:]\s*|\s+(?=[""'])|(?<=--(?i:password|passwd|secret|api-key|token))\s+))(?<value>""[^""\r\n]*""|'[^'\r\n]*'|[^\s;,&""'<>)}\]]+)")]
    private static partial Regex KeyValueSecret();

    // OPENAI_API_KEY=..., DB_PASSWORD: ..., export GH_TOKEN="...", PGPASSWORD=..., SECRET_KEY_BASE=... (upper-case environment style)
    [GeneratedRegex(@"(?<key>\b[A-Z][A-Z0-9_]*(?:TOKEN|SECRET|_KEY|_KEY_BASE|PASSWORD|PASSWD|_PASS|PGPASS|SSHPASS|PWD|CREDENTIALS|_AUTH)[""']?\s*[=:]\s*)(?<value>""[^""\r\n]*""|'[^'\r\n]*'|[^\s;,&""'<>]+)")]
    private static partial Regex EnvironmentSecret();

    // An AWS credentials CSV (console download): "Access key ID,Secret access key" then "AKIA…,<40 characters>".
    [GeneratedRegex(@"(?<id>(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}),(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")]
    private static partial Regex AwsCsvSecret();

    // A PuTTY .ppk file: its header and every key line up to and including Private-MAC.
    [GeneratedRegex(@"PuTTY-User-Key-File-\d+:[^\r\n]*(?:\r?\n(?:[A-Za-z-]+:[^\r\n]*|[A-Za-z0-9+/=]+))*")]
    private static partial Regex PuttyKey();

    [GeneratedRegex(@"(?<![A-Za-z0-9_-])GOCSPX-[A-Za-z0-9_-]{10,}")]
    private static partial Regex GoogleOAuthSecret();

    [GeneratedRegex(@"(?<![A-Za-z0-9_-])SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}")]
    private static partial Regex SendGridKey();

    [GeneratedRegex(@"(?<![A-Za-z0-9_-])pypi-[A-Za-z0-9_-]{40,}")]
    private static partial Regex PyPiToken();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])do[opr]_v1_[A-Za-z0-9]{20,}")]
    private static partial Regex DigitalOceanToken();

    // Authorization: Basic …, Proxy-Authorization: Digest …, -H 'Authorization: Token …' (Bearer values are caught above too).
    [GeneratedRegex(@"(?<key>\b(?i:(?:proxy-)?authorization)[""']?\s*[:=]\s*[""']?(?i:basic|digest|token|bearer|apikey|negotiate|ntlm|aws4-hmac-sha256)\s+)(?<value>[^\s""']+(?:[ \t]*,[ \t]*[A-Za-z]+=[^\s,""']+)*)")]
    private static partial Regex AuthorizationHeader();

    // Cookie: a=b; c=d   Set-Cookie: session=…   curl --cookie 'a=b' / -b 'a=b'
    [GeneratedRegex(@"(?<key>\b(?i:set-cookie|cookie)[""']?\s*:\s*|(?<=\s)(?:--cookie|-b)[ =]?[""']?)(?<value>[^\r\n""']*=[^\r\n""']*)")]
    private static partial Regex CookieHeader();

    // curl -u user:pass, curl --user user:pass (the user name stays).
    [GeneratedRegex(@"(?<key>\bcurl\b[^\r\n]*?\s(?:-u|--user)[ =]?[""']?[^\s:""']*:)(?<value>[^\s""']+)")]
    private static partial Regex CurlUser();

    // sshpass -p PASS, docker login -p PASS, mysql -pPASS (mysql's bare -p asks for the password: nothing to hide).
    [GeneratedRegex(@"(?<key>\b(?:sshpass|(?:docker|podman|nerdctl|buildah)\s+login)\b[^\r\n]*?\s-p[ \t]*|\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\r\n]*?\s-p)(?<value>""[^""\r\n]*""|'[^'\r\n]*'|[^\s""']+)")]
    private static partial Regex CliPassword();

    // "my password is hunter2", "the passphrase was: …", "密码是 …" (after "is" comes the password, whatever it looks like).
    [GeneratedRegex(@"(?<key>(?:\b(?i:password|passwd|passphrase|passcode|pwd|pin)(?:\s+(?i:is|was)\s*[:=]?|\s*[:=])(?:\s+(?i:now|still|set\s+to))?\s*|(?:密码|口令)(?:是|为|:|：)\s*))(?<value>""[^""\r\n]+""|'[^'\r\n]+'|“[^”\r\n]+”|[^\s,;，。；""']+)")]
    private static partial Regex ProsePassword();

    // /home/<user>/, /Users/<user>/, C:\Users\<user>\ (also JSON-escaped): the user name is personal, the rest of the path is
    // not. The drive letter is a lookbehind, so the search starts from '/' or ':' rather than from every letter.
    [GeneratedRegex(@"(?<prefix>(?<![A-Za-z0-9_.-])/(?:home|Users)/|(?<=(?<![A-Za-z0-9])[A-Za-z]):(?:\\{1,2}|/)(?i:Users)(?:\\{1,2}|/))(?<user>(?!\[REDACTED)[^/\\\s""'<>:|*?]+)")]
    private static partial Regex HomeDirectory();

    // The domain of an e-mail address, right after its '@' (see RedactEmails).
    [GeneratedRegex(@"\G[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])")]
    private static partial Regex EmailDomain();
}
