using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SkillLoop.Core.Access;

/// <summary>First-start settings from the environment: the admin user, an admin API key, an ingest token.</summary>
public sealed partial class AccessSeeder(AccessStore store, IOptions<SkillLoopOptions> options, ILogger<AccessSeeder> logger)
{
    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (await store.CountUsersAsync(cancellationToken) == 0)
        {
            var password = settings.AdminPassword;
            await store.CreateUserAsync("admin", password ?? GeneratePassword(out password), Roles.Admin, cancellationToken);
            if (settings.AdminPassword is null)
            {
                // Logged once, on the first start only: it is the only way to learn it.
                LogGeneratedPassword(logger, password);
            }
        }

        if (settings.AdminApiKey is { } apiKey)
        {
            await store.RegisterKeyAsync(ApiKeyKinds.Admin, "SKILLLOOP_ADMIN_API_KEY", apiKey, cancellationToken);
        }

        if (settings.IngestToken is { } ingestToken)
        {
            // One token in the environment is the whole team's: a shared token, whose users are self-declared.
            await store.RegisterKeyAsync(ApiKeyKinds.Ingest, "SKILLLOOP_INGEST_TOKEN", ingestToken, cancellationToken, shared: true);
        }
    }

    private static string GeneratePassword(out string password) => password = Secrets.NewToken("pw")[3..];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Created the dashboard user 'admin' with the generated password {Password} (set SKILLLOOP_ADMIN_PASSWORD to choose one; this is shown once)")]
    private static partial void LogGeneratedPassword(ILogger logger, string password);
}
