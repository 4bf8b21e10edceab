using SkillLoop.Core.Extraction;

namespace SkillLoop.Tests.Extraction;

public sealed class SecretRedactorTests
{
    // Secrets are assembled at run time so no token-shaped literal sits in the repository for scanners to flag.
    private static string Chars(int length, string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", int seed = 1)
    {
        var random = new Random(seed + length);
        return new string(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
    }

    private static string Upper(int length) => Chars(length, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");

    public static TheoryData<string, string, string> Secrets() => new()
    {
        { "openai project key", $"export it: {"sk-"}proj-{Chars(48)}T3Blbk{Chars(20)} and retry", "sk-proj" },
        { "openai legacy key", $"my key is {"sk-"}{Chars(48)}", "sk-" },
        { "anthropic key", $"ANTHROPIC key {"sk-"}ant-api03-{Chars(80)}-{Chars(6)}AA", "sk-ant" },
        { "github classic token", $"git push with {"ghp_"}{Chars(36)} failed", "ghp_" },
        { "github fine-grained token", $"token github_pat_{Chars(22)}_{Chars(59)}", "github_pat_" },
        { "github app token", $"{"ghs_"}{Chars(36)}", "ghs_" },
        { "aws access key id", $"aws_access_key_id = {"AKIA"}{Upper(16)}", "AKIA" },
        { "aws secret key", $"aws_secret_access_key={Chars(40, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+")}", "aws_secret_access_key=" + "x" },
        { "slack bot token", $"SLACK {"xoxb"}-{Chars(12, "0123456789")}-{Chars(13, "0123456789")}-{Chars(24)}", "xoxb-" },
        { "slack webhook", $"post to https://hooks.slack.com/services/T{Upper(8)}/B{Upper(8)}/{Chars(24)}", "hooks.slack.com/services/T" },
        { "jwt", $"cookie eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.{Chars(43)}", "eyJzdWIi" },
        { "bearer header", $"curl -H 'Authorization: Bearer {Chars(32)}' https://api.example.com", "Bearer " + "x" },
        { "google api key", $"maps key AIza{Chars(35)}", "AIza" },
        { "stripe key", $"{"sk_"}live_{Chars(24)}", "sk_live_" },
        { "npm token", $"//registry.npmjs.org/:_authToken={"npm_"}{Chars(36)}", "npm_" },
        { "hugging face token", $"HF {"hf_"}{Chars(34)}", "hf_" },
        { "pem private key", $"here:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow{Chars(60)}\n{Chars(64)}\n-----END RSA PRIVATE KEY-----\nthanks", "MIIEow" },
        { "openssh private key", $"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE{Chars(50)}\n-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1" },
        { "truncated pem", $"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B{Chars(40)}", "MIIEvQ" },
        { "password in url", "connect to postgres://admin:S3cr3t!pass@db.internal:5432/app", "S3cr3t!pass" },
        { "password in https url", "git clone https://bob:hunter2hunter2@git.example.com/repo.git", "hunter2hunter2" },
        { "connection string", "Server=db;Database=app;User Id=sa;Password=P@ssw0rd123;TrustServerCertificate=true", "P@ssw0rd123" },
        { "json password", "{\"user\": \"a\", \"password\": \"correct horse battery staple\"}", "correct horse" },
        { "yaml secret", "client_secret: 9f8e7d6c5b4a3210", "9f8e7d6c5b4a3210" },
        { "env api key", "export OPENAI_API_KEY=abc123def456ghi789", "abc123def456ghi789" },
        { "env db password", "DB_PASSWORD='tr0ub4dor&3'", "tr0ub4dor" },
        { "cli password flag", "mysql --password s3kr1t-value -u root", "s3kr1t-value" },
        { "email", "mail me at jane.doe+work@example.co.uk please", "jane.doe" },
    };

    [Theory]
    [MemberData(nameof(Secrets))]
    public void Secrets_of_common_formats_are_redacted(string kind, string text, string mustDisappear)
    {
        var result = SecretRedactor.RedactWithReport(text);

        Assert.True(result.Changed, kind);
        Assert.Contains("[REDACTED:", result.Text);
        if (!mustDisappear.EndsWith('x'))
        {
            Assert.DoesNotContain(mustDisappear, result.Text);
        }

        // Nothing long and token-like survives.
        Assert.DoesNotMatch(@"[A-Za-z0-9_\-]{30,}", result.Text.Replace("REDACTED", "", StringComparison.Ordinal));
    }

    public static TheoryData<string> NearMisses() => new()
    {
        "Use pnpm instead of npm, and run the tests with dotnet test.",
        "The password field must be at least 12 characters.",
        "Reset your password in the settings page.",
        "Set max_tokens to 1024 and the token budget to 4000.",
        "git clone git@github.com:skillloop/skillloop.git",
        "Install @types/node and react@18.2.0, then import from lodash@4.17.21.",
        "The skill-loader skips sk-tests and sk-learn folders.",
        "Call https://example.com/api/v1/status?page=2 for the health check.",
        "Bearer tokens go in the Authorization header.",
        "The AWS region is us-east-1 and the bucket is my-bucket-name.",
        "The hash is 3f786850e387550fdab836ed7e6dc881de23001b.",
        "Use the @Override annotation and @app.route decorators.",
        "Commit a1b2c3d fixed it; see PR #42 and issue ghp-123.",
        "var secretName = config.GetSecretName(); // no value here",
        "The TOKEN_LIMIT is documented in README.md.",
        "不对，应该用 pnpm 而不是 npm。",
        "Use basic auth for the internal API and a cookie for the dashboard.",
        "Run mysql with -p and type the password when asked.",
        "The home directory is under /home on Linux.",
        "Set the pin count to 3 in the config.",
    };

    [Theory]
    [MemberData(nameof(NearMisses))]
    public void Ordinary_developer_text_is_left_alone(string text)
    {
        var result = SecretRedactor.RedactWithReport(text);
        Assert.False(result.Changed, $"{text} -> {result.Text}");
        Assert.Equal(text, result.Text);
    }

    [Fact]
    public void Redacting_twice_changes_nothing_more()
    {
        var text = $"key {"sk-"}{Chars(40)} pw postgres://u:p4ssw0rd@h/db Password=abc; mail a@b.io DB_TOKEN=xyz123";
        var once = SecretRedactor.Redact(text);
        Assert.Equal(once, SecretRedactor.Redact(once));
        Assert.Null(SecretRedactor.Redact(null));
        Assert.Equal("", SecretRedactor.Redact(""));
    }

    /// <summary>Formats the security review (issue 16) found going to the server in clear text.</summary>
    public static TheoryData<string, string, string> FormatsThatLeaked() => new()
    {
        { "aws secret in csv form", $"Access key ID,Secret access key\n{"AKIA"}{Upper(16)},{Chars(40, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+", seed: 7)}\n", Chars(40, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+", seed: 7) },
        { "slack app token", $"SLACK_APP={"xapp"}-1-A0{Upper(9)}-{Chars(13, "0123456789")}-{Chars(64)}", Chars(64) },
        { "slack refresh token", $"refresh with {"xoxe"}.xoxp-1-{Chars(140)}", Chars(140) },
        { "slack refresh token, short form", $"{"xoxe"}-1-{Chars(140)}", Chars(140) },
        { "putty key", $"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: bob@laptop\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAI{Chars(20)}\n{Chars(24)}\nPrivate-Lines: 1\nAAAAIB{Chars(38)}\nPrivate-MAC: {Chars(64, "0123456789abcdef")}\nthat was the key", "AAAAIB" + Chars(38) },
        { "basic authorization header", $"curl -H 'Authorization: Basic {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("alice:s3cret-pass"))}' https://api.example.com", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("alice:s3cret-pass")) },
        { "curl -u", "curl -u alice:Tr0ub4dor3x https://api.example.com/v1", "Tr0ub4dor3x" },
        { "curl --user", "curl -s --user deploy:Xk9zz-secret https://ci.example.com", "Xk9zz-secret" },
        { "mysql -p", "mysql -h db.internal -u root -pHunter2Hunter2 app", "Hunter2Hunter2" },
        { "PGPASSWORD", "PGPASSWORD=Zq8wqLsecret psql -h db -U app", "Zq8wqLsecret" },
        { "sshpass", "sshpass -p 'MyS3cretPw' ssh deploy@host", "MyS3cretPw" },
        { "docker login -p", "docker login -u bot -p Dk3rPassw0rdX registry.example.com", "Dk3rPassw0rdX" },
        { "SECRET_KEY_BASE", $"SECRET_KEY_BASE={Chars(64, "0123456789abcdef")} rails s", Chars(64, "0123456789abcdef") },
        { "azure account key", $"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={Chars(86)}==;EndpointSuffix=core.windows.net", Chars(86) },
        { "azure shared access key", $"Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={Chars(43)}=", Chars(43) },
        { "azure sas signature", $"https://acme.blob.core.windows.net/c/f?sv=2022-11-02&se=2026-01-01&sp=r&sig={Chars(40)}%3D", Chars(40) },
        { "gcp private_key_id", $"{{\"type\": \"service_account\", \"private_key_id\": \"{Chars(40, "0123456789abcdef")}\"}}", Chars(40, "0123456789abcdef") },
        { "google oauth client secret", $"client secret {"GOCSPX"}-{Chars(28)}", Chars(28) },
        { "sendgrid key", $"{"SG"}.{Chars(22)}.{Chars(43)}", Chars(43) },
        { "pypi token", $"password = {"pypi"}-AgEIcHlwaS5vcmc{Chars(60)}", Chars(60) },
        { "pypi token alone", $"twine upload -u __token__ {"pypi"}-AgEIcHlwaS5vcmc{Chars(70)}", Chars(70) },
        { "digitalocean token", $"doctl auth init -t {"dop"}_v1_{Chars(64, "0123456789abcdef")}", Chars(64, "0123456789abcdef") },
        { "cookie header", $"curl -H 'Cookie: session={Chars(32)}; csrftoken=abc' https://app", Chars(32) },
        { "set-cookie header", $"Set-Cookie: sid={Chars(30)}; Path=/; HttpOnly", Chars(30) },
        { "password in prose", "no, my password is Tulip-Garden-42 not that one", "Tulip-Garden-42" },
        { "password in prose, colon", "the db passphrase was: blue horse", "blue" },
        { "password in chinese prose", "不对，我的密码是 qwe123456 ，用这个", "qwe123456" },
        { "linux home path", "the skill is in /home/alice.smith/.claude/skills/pdf/SKILL.md", "alice.smith" },
        { "mac home path", "open /Users/bobjones/work/app.ts", "bobjones" },
        { "windows home path", @"C:\Users\carol\AppData\Roaming\Code", "carol" },
        { "windows home path, json-escaped", @"{""cwd"":""C:\\Users\\dave\\src""}", "dave" },
    };

    [Theory]
    [MemberData(nameof(FormatsThatLeaked))]
    public void Formats_that_leaked_before_are_redacted(string kind, string text, string mustDisappear)
    {
        var result = SecretRedactor.RedactWithReport(text);

        Assert.True(result.Changed, kind);
        Assert.DoesNotContain(mustDisappear, result.Text);
        Assert.Equal(result.Text, SecretRedactor.Redact(result.Text)); // idempotent
    }

    [Fact]
    public void A_home_path_keeps_everything_but_the_user_name()
    {
        Assert.Equal("/home/[REDACTED:user]/.claude/skills/pdf/SKILL.md", SecretRedactor.Redact("/home/alice/.claude/skills/pdf/SKILL.md"));
        Assert.Equal(@"C:\Users\[REDACTED:user]\.claude\skills", SecretRedactor.Redact(@"C:\Users\bob\.claude\skills"));
    }

    [Fact]
    public void The_report_names_each_kind_once()
    {
        var result = SecretRedactor.RedactWithReport($"a@b.io c@d.io {"ghp_"}{Chars(36)}");
        Assert.Equal(["github-token", "email"], result.Kinds);
        Assert.Equal("[REDACTED:email] [REDACTED:email] [REDACTED:github-token]", result.Text);
    }
}
