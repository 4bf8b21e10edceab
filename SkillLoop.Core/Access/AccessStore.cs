using Dapper;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Access;

public static class ApiKeyKinds
{
    public const string Ingest = "ingest";
    public const string Admin = "admin";
}

public static class Roles
{
    public const string Admin = "admin";
    public const string Reviewer = "reviewer";
    public const string Ingest = "ingest";
}

/// <param name="Shared">An ingest token handed to a whole team: its clients' reported identities are trusted only as self-declared.</param>
public sealed record ApiKeyIdentity(long Id, string Kind, string Name, bool Shared = false);

public sealed record UserAccount(long Id, string Name, string Role);

public enum LoginOutcome
{
    Succeeded,
    Failed,
    LockedOut,
}

public sealed record LoginResult(LoginOutcome Outcome, UserAccount? User);

/// <summary>Dashboard users, ingest tokens and admin API keys.</summary>
public sealed class AccessStore(SqliteDb db, TimeProvider time)
{
    internal const int MaxFailedLogins = 5;
    internal static readonly TimeSpan LockoutDuration = TimeSpan.FromMinutes(15);

    public async Task<ApiKeyIdentity?> FindKeyAsync(string secret, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(
            """
            SELECT id AS Id, kind AS Kind, name AS Name, shared AS Shared
            FROM api_keys
            WHERE secret_hash = @hash AND revoked_at IS NULL
            """, new { hash = Secrets.HashSecret(secret) }, cancellationToken: cancellationToken));
        return row is null ? null : new ApiKeyIdentity(row.Id, row.Kind, row.Name, row.Shared);
    }

    /// <summary>Registers a secret; registering one that exists already changes nothing.</summary>
    /// <param name="shared">For ingest tokens: one token for a whole team (the reported identities are self-declared).</param>
    public async Task RegisterKeyAsync(string kind, string name, string secret, CancellationToken cancellationToken, bool shared = false)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO api_keys (kind, name, secret_hash, prefix, created_at, shared)
            VALUES (@kind, @name, @hash, @prefix, @now, @shared)
            ON CONFLICT (secret_hash) DO NOTHING
            """,
            new { kind, name, hash = Secrets.HashSecret(secret), prefix = secret[..Math.Min(8, secret.Length)], now = time.GetUtcNow(), shared = shared && kind == ApiKeyKinds.Ingest },
            cancellationToken: cancellationToken));
    }

    public async Task<int> CountUsersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT count(*) FROM users", cancellationToken: cancellationToken));
    }

    public async Task CreateUserAsync(string name, string password, string role, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO users (name, password_hash, role, created_at) VALUES (@name, @hash, @role, @now)",
            new { name, hash = Secrets.HashPassword(password), role, now = time.GetUtcNow() },
            cancellationToken: cancellationToken));
    }

    /// <summary>Checks a password; after <see cref="MaxFailedLogins"/> failures in a row the account is locked for a while.</summary>
    public async Task<LoginResult> CheckPasswordAsync(string name, string password, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            """
            SELECT id AS Id, name AS Name, role AS Role, password_hash AS PasswordHash,
                   failed_logins AS FailedLogins, locked_until AS LockedUntil
            FROM users WHERE name = @name
            """, new { name }, cancellationToken: cancellationToken));
        if (row is null)
        {
            // Same work as a real check, so timing does not tell which names exist.
            Secrets.VerifyPassword(password, DummyHash);
            return new(LoginOutcome.Failed, null);
        }

        var now = time.GetUtcNow();
        if (row.LockedUntil is { } lockedUntil && lockedUntil > now)
        {
            return new(LoginOutcome.LockedOut, null);
        }

        if (Secrets.VerifyPassword(password, row.PasswordHash))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = @Id", new { row.Id }, cancellationToken: cancellationToken));
            return new(LoginOutcome.Succeeded, new UserAccount(row.Id, row.Name, row.Role));
        }

        var failures = row.FailedLogins + 1;
        var lockUntil = failures >= MaxFailedLogins ? now + LockoutDuration : (DateTimeOffset?)null;
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE users SET failed_logins = @failures, locked_until = @lockUntil WHERE id = @Id",
            new { row.Id, failures = lockUntil is null ? failures : 0, lockUntil }, cancellationToken: cancellationToken));
        return new(lockUntil is null ? LoginOutcome.Failed : LoginOutcome.LockedOut, null);
    }

    private static readonly string DummyHash = Secrets.HashPassword(Guid.NewGuid().ToString());

    private sealed class KeyRow
    {
        public long Id { get; init; }
        public string Kind { get; init; } = "";
        public string Name { get; init; } = "";
        public bool Shared { get; init; }
    }

    private sealed class UserRow
    {
        public long Id { get; init; }
        public string Name { get; init; } = "";
        public string Role { get; init; } = "";
        public string PasswordHash { get; init; } = "";
        public long FailedLogins { get; init; }
        public DateTimeOffset? LockedUntil { get; init; }
    }
}
