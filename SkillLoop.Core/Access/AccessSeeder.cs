using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SkillLoop.Core.Access;

/// <summary>First-start settings from the environment: the admin user, an admin API key, an ingest token.</summary>
public sealed partial class AccessSeeder(AccessStore store, IOptions<SkillLoopOptions> options, ILogger<AccessSeeder> logger)
{
    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.AdminPassword is { } adminPassword)
        {
            // Given on any start, it is the admin's password: the way back in for whoever runs the server.
            var change = await store.EnsureAdminPasswordAsync("admin", adminPassword, cancellationToken);
            if (change == AdminPasswordChange.Reset)
            {
                LogAdminPasswordReset(logger);
            }
        }
        else if (await store.CountUsersAsync(cancellationToken) == 0)
        {
            await store.CreateUserAsync("admin", GeneratePassword(out var password), Roles.Admin, cancellationToken);
            // Logged once, on the first start only: it is the only way to learn it.
            LogGeneratedPassword(logger, password);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Created the dashboard user 'admin' with the generated password {Password} (shown once; start the server with SKILLLOOP_ADMIN_PASSWORD to set another at any time)")]
    private static partial void LogGeneratedPassword(ILogger logger, string password);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Set the password of the dashboard user 'admin' from SKILLLOOP_ADMIN_PASSWORD (its role is admin; its sessions were ended)")]
    private static partial void LogAdminPasswordReset(ILogger logger);
}
