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
/// <summary>What <see cref="AccessStore.EnsureAdminPasswordAsync"/> did.</summary>
public enum AdminPasswordChange { Unchanged, Created, Reset }

public sealed record ApiKeyIdentity(long Id, string Kind, string Name, bool Shared = false);

/// <param name="SecurityStamp">Changes whenever the user's role or password changes: sessions signed in before it end.</param>
public sealed record UserAccount(long Id, string Name, string Role, string SecurityStamp = "");

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
    internal const int MaxFailedLogins = LoginThrottle.MaxFailures;
    internal static readonly TimeSpan LockoutDuration = LoginThrottle.Lockout;

    private readonly LoginThrottle _throttle = new(time);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, DateTimeOffset> _keyUseMarked = new();

    /// <summary>A new random security stamp (see <see cref="UserAccount.SecurityStamp"/>).</summary>
    public static string NewSecurityStamp() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>The user as the database has it now, or null when the user was deleted.</summary>
    public async Task<UserAccount?> FindUserAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            "SELECT id AS Id, name AS Name, role AS Role, security_stamp AS SecurityStamp FROM users WHERE id = @id",
            new { id }, cancellationToken: cancellationToken));
        return row is null ? null : new UserAccount(row.Id, row.Name, row.Role, row.SecurityStamp);
    }

    /// <summary>Failed sign-ins of this name from any address are forgotten (a new password was set).</summary>
    internal void ForgetFailedLogins(string name) => _throttle.Forget(name);

    /// <summary>Until when sign-ins to this name are locked out (from the address that failed), or null.</summary>
    internal DateTimeOffset? LockedUntil(string name) => _throttle.LockedUntil(name);

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

    /// <summary>
    /// Records that a client used this key (its install checks the config), so the dashboard can say a client is
    /// installed. Written at most once an hour per key: clients fetch the config often, and this is not an audit.
    /// </summary>
    public async Task MarkKeyUsedAsync(long id, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_keyUseMarked.TryGetValue(id, out var marked) && now - marked < TimeSpan.FromHours(1))
        {
            return;
        }

        _keyUseMarked[id] = now;
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE api_keys SET last_used_at = @now WHERE id = @id", new { id, now }, cancellationToken: cancellationToken));
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
            "INSERT INTO users (name, password_hash, role, security_stamp, created_at) VALUES (@name, @hash, @role, @stamp, @now)",
            new { name, hash = Secrets.HashPassword(password), role, stamp = NewSecurityStamp(), now = time.GetUtcNow() },
            cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Makes <paramref name="name"/> an admin with <paramref name="password"/>: created when missing; when the stored
    /// password differs, it is replaced, the role set to admin, lockouts lifted and sessions ended (a new security
    /// stamp). Returns what it did, so a restart with the same password changes nothing and signs nobody out.
    /// </summary>
    public async Task<AdminPasswordChange> EnsureAdminPasswordAsync(string name, string password, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            "SELECT id AS Id, name AS Name, role AS Role, password_hash AS PasswordHash, security_stamp AS SecurityStamp FROM users WHERE name = @name",
            new { name }, cancellationToken: cancellationToken));
        if (row is null)
        {
            await CreateUserAsync(name, password, Roles.Admin, cancellationToken);
            return AdminPasswordChange.Created;
        }

        if (row.Role == Roles.Admin && Secrets.VerifyPassword(password, row.PasswordHash))
        {
            return AdminPasswordChange.Unchanged;
        }

        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE users SET password_hash = @hash, role = @role, failed_logins = 0, locked_until = NULL, security_stamp = @stamp
            WHERE id = @id
            """,
            new { id = row.Id, hash = Secrets.HashPassword(password), role = Roles.Admin, stamp = NewSecurityStamp() }, cancellationToken: cancellationToken));
        ForgetFailedLogins(name);
        return AdminPasswordChange.Reset;
    }

    /// <summary>Checks a password without a client address (start-up checks, tools): all such callers share one address.</summary>
    public Task<LoginResult> CheckPasswordAsync(string name, string password, CancellationToken cancellationToken) =>
        CheckPasswordAsync(name, password, "", cancellationToken);

    /// <summary>
    /// Checks a password. Failures are counted per <paramref name="client"/> address (<see cref="LoginThrottle"/>): after
    /// <see cref="MaxFailedLogins"/> in a row for one name that address waits <see cref="LockoutDuration"/>, while the
    /// account's owner elsewhere signs in as usual. A waiting address gets <see cref="LoginOutcome.LockedOut"/> whether
    /// or not the name exists, and without the password being checked.
    /// </summary>
    public async Task<LoginResult> CheckPasswordAsync(string name, string password, string client, CancellationToken cancellationToken)
    {
        if (!_throttle.TryBegin(client, name))
        {
            return new(LoginOutcome.LockedOut, null);
        }

        var succeeded = false;
        try
        {
            await using var connection = await db.OpenAsync(cancellationToken);
            var row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
                """
                SELECT id AS Id, name AS Name, role AS Role, password_hash AS PasswordHash, security_stamp AS SecurityStamp
                FROM users WHERE name = @name
                """, new { name }, cancellationToken: cancellationToken));
            if (row is null)
            {
                // Same work as a real check, so timing does not tell which names exist.
                Secrets.VerifyPassword(password, DummyHash);
                return new(LoginOutcome.Failed, null);
            }

            if (!Secrets.VerifyPassword(password, row.PasswordHash))
            {
                return new(LoginOutcome.Failed, null);
            }

            succeeded = true;
            return new(LoginOutcome.Succeeded, new UserAccount(row.Id, row.Name, row.Role, row.SecurityStamp));
        }
        finally
        {
            _throttle.Complete(client, name, succeeded);
        }
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
        public string SecurityStamp { get; init; } = "";
    }
}
