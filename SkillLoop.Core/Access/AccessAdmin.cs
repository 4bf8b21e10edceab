using Dapper;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Access;

public sealed record UserSummary(long Id, string Name, string Role, DateTimeOffset CreatedAt, DateTimeOffset? LockedUntil);

/// <summary>An API key as listed: the secret itself is shown once, at creation, and never stored.</summary>
/// <param name="Shared">An ingest token for a whole team (users self-declared) rather than one developer's personal token.</param>
public sealed record ApiKeySummary(long Id, string Kind, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt, bool Shared = false);

public sealed record CreatedApiKey(ApiKeySummary Key, string Secret);

/// <summary>An access change was refused; <see cref="Field"/> names what was wrong.</summary>
public sealed class AccessException(string field, string message, bool notFound = false) : Exception(message)
{
    public string Field { get; } = field;
    public bool NotFound { get; } = notFound;
}

/// <summary>
/// User and key administration for the dashboard's Users and Settings pages. The last admin can be neither demoted
/// nor deleted, so the server can never lock out its own administrators.
/// </summary>
public sealed class AccessAdmin(SqliteDb db, AccessStore access, TimeProvider time)
{
    public const int MinPasswordLength = 10;

    /// <summary>
    /// Raised with the user's id after a role change, password reset or deletion: open dashboard circuits of that user
    /// check their session at once instead of at their next periodic check.
    /// </summary>
    public event Action<long>? UsersChanged;

    public async Task<IReadOnlyList<UserSummary>> ListUsersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<UserRow>(new CommandDefinition(
            "SELECT id AS Id, name AS Name, role AS Role, created_at AS CreatedAt, locked_until AS LockedUntil FROM users ORDER BY name",
            cancellationToken: cancellationToken))).Select(r => new UserSummary(r.Id, r.Name, r.Role, r.CreatedAt, Later(r.LockedUntil, access.LockedUntil(r.Name)))).ToList();
    }

    public async Task<UserSummary> CreateUserAsync(string? name, string? password, string? role, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Trim().Length > 64 || name.Any(char.IsControl))
        {
            throw new AccessException("name", "A user name of 1–64 characters is required.");
        }

        CheckRole(role);
        CheckPassword(password);
        name = name.Trim();
        await using (var connection = await db.OpenAsync(cancellationToken))
        {
            var exists = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT count(*) FROM users WHERE name = @name", new { name }, cancellationToken: cancellationToken));
            if (exists > 0)
            {
                throw new AccessException("name", $"A user named '{name}' exists already.");
            }
        }

        await access.CreateUserAsync(name, password!, role!, cancellationToken);
        return (await ListUsersAsync(cancellationToken)).Single(u => u.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
    }

    public async Task<UserSummary> SetRoleAsync(long id, string? role, CancellationToken cancellationToken)
    {
        CheckRole(role);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var current = await RoleOfAsync(connection, transaction, id, cancellationToken);
        if (current == Roles.Admin && role != Roles.Admin && await AdminCountAsync(connection, transaction, cancellationToken) <= 1)
        {
            throw new AccessException("role", "This is the last admin; make someone else admin first.");
        }

        // A new stamp ends the sessions signed in with the old role (on their next request, and in open dashboards).
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE users SET role = @role, security_stamp = CASE WHEN role = @role THEN security_stamp ELSE @stamp END WHERE id = @id",
            new { id, role, stamp = AccessStore.NewSecurityStamp() }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        UsersChanged?.Invoke(id);
        return (await ListUsersAsync(cancellationToken)).Single(u => u.Id == id);
    }

    /// <summary>Sets a new password, lifts lockouts and ends the user's sessions (a new security stamp).</summary>
    public async Task ResetPasswordAsync(long id, string? password, CancellationToken cancellationToken)
    {
        CheckPassword(password);
        await using var connection = await db.OpenAsync(cancellationToken);
        var name = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            """
            UPDATE users SET password_hash = @hash, failed_logins = 0, locked_until = NULL, security_stamp = @stamp
            WHERE id = @id RETURNING name
            """,
            new { id, hash = Secrets.HashPassword(password!), stamp = AccessStore.NewSecurityStamp() }, cancellationToken: cancellationToken));
        if (name is null)
        {
            throw new AccessException("id", $"There is no user {id}.", notFound: true);
        }

        access.ForgetFailedLogins(name);
        UsersChanged?.Invoke(id);
    }

    private static DateTimeOffset? Later(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    /// <summary>Lifts a lockout after failed sign-ins (the password stays; the user signs in again at once).</summary>
    public async Task UnlockUserAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var name = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = @id RETURNING name", new { id }, cancellationToken: cancellationToken));
        if (name is null)
        {
            throw new AccessException("id", $"There is no user {id}.", notFound: true);
        }

        access.ForgetFailedLogins(name);
        UsersChanged?.Invoke(id);
    }

    public async Task DeleteUserAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await RoleOfAsync(connection, transaction, id, cancellationToken) == Roles.Admin
            && await AdminCountAsync(connection, transaction, cancellationToken) <= 1)
        {
            throw new AccessException("id", "This is the last admin and cannot be deleted.");
        }

        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM users WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        UsersChanged?.Invoke(id);
    }

    public async Task<IReadOnlyList<ApiKeySummary>> ListKeysAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<KeyRow>(new CommandDefinition(
            """
            SELECT id AS Id, kind AS Kind, name AS Name, prefix AS Prefix, created_at AS CreatedAt,
                   last_used_at AS LastUsedAt, revoked_at AS RevokedAt, shared AS Shared
            FROM api_keys ORDER BY revoked_at IS NOT NULL, kind, name, id
            """, cancellationToken: cancellationToken)))
            .Select(r => new ApiKeySummary(r.Id, r.Kind, r.Name, r.Prefix, r.CreatedAt, r.LastUsedAt, r.RevokedAt, r.Shared)).ToList();
    }

    /// <summary>
    /// Creates an ingest token or admin API key; the secret is in the result and nowhere else. An ingest token is
    /// personal (one developer, counted as one user whatever its client reports) unless <paramref name="shared"/>.
    /// </summary>
    public async Task<CreatedApiKey> CreateKeyAsync(string? kind, string? name, CancellationToken cancellationToken, bool shared = false)
    {
        if (kind is not (ApiKeyKinds.Ingest or ApiKeyKinds.Admin))
        {
            throw new AccessException("kind", "Either \"ingest\" (for clients) or \"admin\" (for scripts).");
        }

        if (string.IsNullOrWhiteSpace(name) || name.Trim().Length > 80 || name.Any(char.IsControl))
        {
            throw new AccessException("name", "A name of 1–80 characters, e.g. the team or machine it is for.");
        }

        if (shared && kind != ApiKeyKinds.Ingest)
        {
            throw new AccessException("shared", "Only ingest tokens can be shared.");
        }

        var secret = Secrets.NewToken(kind == ApiKeyKinds.Ingest ? "sli" : "sla");
        await access.RegisterKeyAsync(kind, name.Trim(), secret, cancellationToken, shared);
        var key = (await ListKeysAsync(cancellationToken)).Single(k => k.Prefix == secret[..8] && k.Name == name.Trim() && k.RevokedAt is null && k.Kind == kind);
        return new CreatedApiKey(key, secret);
    }

    public async Task RevokeKeyAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var changed = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, @now) WHERE id = @id",
            new { id, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
        if (changed == 0)
        {
            throw new AccessException("id", $"There is no key {id}.", notFound: true);
        }
    }

    private static void CheckRole(string? role)
    {
        if (role is not (Roles.Admin or Roles.Reviewer))
        {
            throw new AccessException("role", "Either \"admin\" or \"reviewer\".");
        }
    }

    private static void CheckPassword(string? password)
    {
        if (password is null || password.Length < MinPasswordLength || password.Length > 200)
        {
            throw new AccessException("password", $"At least {MinPasswordLength} characters.");
        }
    }

    private static async Task<string> RoleOfAsync(Microsoft.Data.Sqlite.SqliteConnection connection, System.Data.Common.DbTransaction transaction, long id, CancellationToken cancellationToken) =>
        await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT role FROM users WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken))
        ?? throw new AccessException("id", $"There is no user {id}.", notFound: true);

    private static Task<long> AdminCountAsync(Microsoft.Data.Sqlite.SqliteConnection connection, System.Data.Common.DbTransaction transaction, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM users WHERE role = 'admin'", transaction: transaction, cancellationToken: cancellationToken));

    private sealed class UserRow
    {
        public long Id { get; init; }
        public string Name { get; init; } = "";
        public string Role { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset? LockedUntil { get; init; }
    }

    private sealed class KeyRow
    {
        public long Id { get; init; }
        public string Kind { get; init; } = "";
        public string Name { get; init; } = "";
        public string Prefix { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset? LastUsedAt { get; init; }
        public DateTimeOffset? RevokedAt { get; init; }
        public bool Shared { get; init; }
    }
}
