using System.Text.RegularExpressions;
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Registry;

/// <summary>Registries: add, change, remove, and their secrets (access token, webhook secret), kept encrypted. What scans found is <see cref="SkillCatalog"/>'s.</summary>
public sealed partial class RegistryStore(SqliteDb db, IDataProtectionProvider protection, TimeProvider time)
{
    public static readonly string[] Providers = ["github", "gitlab", "gitea", "git"];

    /// <summary>Open SkillLoop pull requests a registry takes at once unless set otherwise (as update bots cap theirs).</summary>
    public const int DefaultMaxOpen = 5;

    private readonly IDataProtector _tokens = protection.CreateProtector("SkillLoop.Registry.Token.v1");
    private readonly IDataProtector _webhookSecrets = protection.CreateProtector("SkillLoop.Registry.WebhookSecret.v1");

    /// <summary>Raised after a registry is added, changed or removed (every open dashboard redraws, not only the editor's).</summary>
    public event Action<long>? Changed;

    private const string Columns = """
        r.id AS Id, r.name AS Name, r.provider AS Provider, r.url AS Url, r.branch AS Branch, r.api_url AS ApiUrl,
        r.repository AS Repository, r.path_filters AS PathFilters, r.distinct_users AS DistinctUsers,
        r.auto_merge AS AutoMerge, r.auto_merge_min_confidence AS AutoMergeMinConfidence,
        r.auto_merge_min_users AS AutoMergeMinUsers, r.token_protected IS NOT NULL AS HasToken,
        r.last_scan_at AS LastScanAt, r.last_scan_commit AS LastScanCommit, r.last_scan_error AS LastScanError,
        (SELECT count(*) FROM skills k WHERE k.registry_id = r.id) AS SkillCount, r.created_at AS CreatedAt,
        r.max_open AS MaxOpen, r.webhook_secret_protected IS NOT NULL AS HasWebhookSecret
        """;

    public async Task<IReadOnlyList<RegistryRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<RegistryRow>(new CommandDefinition(
            $"SELECT {Columns} FROM registries r ORDER BY r.name", cancellationToken: cancellationToken));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public async Task<RegistryRecord?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<RegistryRow>(new CommandDefinition(
            $"SELECT {Columns} FROM registries r WHERE r.id = @id", new { id }, cancellationToken: cancellationToken));
        return row?.ToRecord();
    }

    public async Task<RegistryRecord> RequireAsync(long id, CancellationToken cancellationToken) =>
        await GetAsync(id, cancellationToken) ?? throw new RegistryException("id", $"Registry {id} does not exist.", notFound: true);

    /// <summary>The decrypted access token, for git and forge calls only.</summary>
    public async Task<string?> TokenAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var stored = await connection.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
            "SELECT token_protected FROM registries WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        try
        {
            return stored is null ? null : _tokens.Unprotect(stored);
        }
        catch (System.Security.Cryptography.CryptographicException ex)
        {
            throw new RegistryException("token", $"The stored token of registry {id} cannot be decrypted (the data protection keys changed); set it again.", notFound: false) { HelpLink = ex.Message };
        }
    }

    /// <summary>The decrypted webhook secret, for verifying a forge's delivery only; null when none is set.</summary>
    public async Task<string?> WebhookSecretAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var stored = await connection.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
            "SELECT webhook_secret_protected FROM registries WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        try
        {
            return stored is null ? null : _webhookSecrets.Unprotect(stored);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            // Keys changed: no delivery can be verified until the secret is set again (polling goes on meanwhile).
            return null;
        }
    }

    public async Task<RegistryRecord> CreateAsync(RegistryInput input, CancellationToken cancellationToken)
    {
        var valid = Validate(input);
        var now = time.GetUtcNow();
        await using var connection = await db.OpenAsync(cancellationToken);
        try
        {
            var id = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                """
                INSERT INTO registries (name, provider, url, branch, token_protected, api_url, repository, path_filters,
                    distinct_users, auto_merge, auto_merge_min_confidence, auto_merge_min_users, max_open, webhook_secret_protected, created_at, updated_at)
                VALUES (@Name, @Provider, @Url, @Branch, @token, @ApiUrl, @Repository, @filters,
                    @DistinctUsers, @AutoMerge, @confidence, @users, @maxOpen, @secret, @now, @now)
                RETURNING id
                """,
                new
                {
                    valid.Name, valid.Provider, valid.Url, valid.Branch, valid.ApiUrl, valid.Repository, valid.DistinctUsers, valid.AutoMerge,
                    token = string.IsNullOrEmpty(valid.Token) ? null : _tokens.Protect(valid.Token),
                    filters = string.Join('\n', valid.PathFilters!),
                    confidence = valid.AutoMergeMinConfidence ?? 0.9,
                    users = valid.AutoMergeMinUsers ?? 5,
                    maxOpen = valid.MaxOpen ?? DefaultMaxOpen,
                    secret = string.IsNullOrEmpty(valid.WebhookSecret) ? null : _webhookSecrets.Protect(valid.WebhookSecret),
                    now,
                }, cancellationToken: cancellationToken));
            Changed?.Invoke(id);
            return (await GetAsync(id, cancellationToken))!;
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
        {
            throw new RegistryException("name", $"A registry named '{valid.Name}' exists already.");
        }
    }

    public async Task<RegistryRecord> UpdateAsync(long id, RegistryInput input, CancellationToken cancellationToken)
    {
        var current = await RequireAsync(id, cancellationToken);
        var valid = Validate(input);
        // The stored token was given for one host: a new clone or API host (or scheme, or port) drops it unless a token
        // comes with the change, so it is never sent somewhere its owner did not send it.
        var keepToken = valid.Token is null && SameHost(current.Url, valid.Url!) && SameApiHost(current.ApiUrl, valid.ApiUrl);
        await using var connection = await db.OpenAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE registries SET name = @Name, provider = @Provider, url = @Url, branch = @Branch, api_url = @ApiUrl,
                    repository = @Repository, path_filters = @filters, distinct_users = @DistinctUsers, auto_merge = @AutoMerge,
                    auto_merge_min_confidence = coalesce(@AutoMergeMinConfidence, auto_merge_min_confidence),
                    auto_merge_min_users = coalesce(@AutoMergeMinUsers, auto_merge_min_users),
                    token_protected = CASE WHEN @keepToken THEN token_protected ELSE @token END,
                    max_open = coalesce(@MaxOpen, max_open),
                    webhook_secret_protected = CASE WHEN @keepSecret THEN webhook_secret_protected ELSE @secret END,
                    updated_at = @now
                WHERE id = @id
                """,
                new
                {
                    id, valid.Name, valid.Provider, valid.Url, valid.Branch, valid.ApiUrl, valid.Repository, valid.DistinctUsers, valid.AutoMerge,
                    valid.AutoMergeMinConfidence, valid.AutoMergeMinUsers, valid.MaxOpen,
                    keepToken,
                    keepSecret = valid.WebhookSecret is null,
                    secret = string.IsNullOrEmpty(valid.WebhookSecret) ? null : _webhookSecrets.Protect(valid.WebhookSecret),
                    token = string.IsNullOrEmpty(valid.Token) ? null : _tokens.Protect(valid.Token),
                    filters = string.Join('\n', valid.PathFilters!),
                    now = time.GetUtcNow(),
                }, cancellationToken: cancellationToken));
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
        {
            throw new RegistryException("name", $"A registry named '{valid.Name}' exists already.");
        }

        Changed?.Invoke(id);
        return (await GetAsync(id, cancellationToken))!;
    }

    public async Task DeleteAsync(long id, CancellationToken cancellationToken)
    {
        await RequireAsync(id, cancellationToken);
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM registries WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        Changed?.Invoke(id);
    }

    private static RegistryInput Validate(RegistryInput input)
    {
        var name = input.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 100 || name.Any(char.IsControl))
        {
            throw new RegistryException("name", "A registry needs a name of 1 to 100 characters, without control characters.");
        }

        var provider = input.Provider?.Trim().ToLowerInvariant();
        if (provider is null || !Providers.Contains(provider))
        {
            throw new RegistryException("provider", $"The provider must be one of: {string.Join(", ", Providers)}.");
        }

        var url = input.Url?.Trim();
        if (string.IsNullOrEmpty(url) || url.Length > 2000 || !IsCloneUrl(url))
        {
            throw new RegistryException("url", "The clone URL must be an https://, http://, ssh://, git:// or file:// URL, git@host:path, or an absolute path on the server.");
        }

        var branch = string.IsNullOrWhiteSpace(input.Branch) ? "main" : input.Branch.Trim();
        if (!IsBranchName(branch))
        {
            throw new RegistryException("branch", $"'{branch}' is not a valid branch name.");
        }

        var apiUrl = string.IsNullOrWhiteSpace(input.ApiUrl) ? null : input.ApiUrl.Trim();
        if (apiUrl is not null && (!Uri.TryCreate(apiUrl, UriKind.Absolute, out var api) || api.Scheme is not ("http" or "https")))
        {
            throw new RegistryException("apiUrl", "The API URL must be an absolute http(s) URL.");
        }

        var repository = string.IsNullOrWhiteSpace(input.Repository) ? null : input.Repository.Trim().Trim('/');
        if (repository is not null && !RepositoryPath().IsMatch(repository))
        {
            throw new RegistryException("repository", "The repository must look like owner/name (GitLab: group/subgroup/name).");
        }

        if (provider != "git" && (repository ?? ForgeRepository(url)) is null)
        {
            throw new RegistryException("repository", $"Cannot tell the {provider} repository from the URL; set repository (owner/name).");
        }

        var filters = (input.PathFilters ?? []).Select(f => f.Trim()).Where(f => f.Length > 0).ToList();
        if (filters.Count > 50 || filters.Any(f => f.Length > 300 || f.Contains("..", StringComparison.Ordinal)))
        {
            throw new RegistryException("pathFilters", "Up to 50 path filters of at most 300 characters, without '..'.");
        }

        if (input.DistinctUsers is < 1 or > 1000)
        {
            throw new RegistryException("distinctUsers", "The evidence threshold must be between 1 and 1000 distinct users.");
        }

        if (input.AutoMergeMinConfidence is < 0 or > 1 || input.AutoMergeMinUsers is < 1)
        {
            throw new RegistryException("autoMerge", "The auto-merge bar needs a confidence between 0 and 1 and at least one distinct user.");
        }

        if (input.MaxOpen is < 1 or > 100)
        {
            throw new RegistryException("maxOpen", "Between 1 and 100 open SkillLoop pull requests at once.");
        }

        if (input.WebhookSecret is { Length: > 0 } secret && (secret.Trim().Length is < 16 or > 200 || secret.Any(char.IsControl)))
        {
            throw new RegistryException("webhookSecret", "A webhook secret of 16 to 200 characters without control characters (or \"\" to remove it).");
        }

        if (input.Token is { Length: > 1000 } || (input.Token?.Any(char.IsControl) ?? false))
        {
            throw new RegistryException("token", "The token is too long or holds control characters.");
        }

        return input with { Name = name, Provider = provider, Url = url, Branch = branch, ApiUrl = apiUrl, Repository = repository, PathFilters = filters, Token = input.Token?.Trim(), WebhookSecret = input.WebhookSecret?.Trim() };
    }

    /// <summary>Where a clone URL sends credentials: scheme, host and port (user names and paths aside); local paths are "local".</summary>
    internal static string Origin(string url)
    {
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && !uri.IsFile)
        {
            return $"{uri.Scheme}://{uri.IdnHost}:{uri.Port}".ToLowerInvariant();
        }

        if (ScpLike().IsMatch(url))
        {
            var host = url[(url.IndexOf('@', StringComparison.Ordinal) + 1)..url.IndexOf(':', StringComparison.Ordinal)];
            return "ssh://" + host.ToLowerInvariant() + ":22";
        }

        return "local";
    }

    private static bool SameHost(string before, string after) => Origin(before) == Origin(after);

    private static bool SameApiHost(string? before, string? after) =>
        (before is null && after is null) || (before is not null && after is not null && Origin(before) == Origin(after));

    private static bool IsCloneUrl(string url) =>
        (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" or "ssh" or "git" or "file")
        || ScpLike().IsMatch(url)
        || (Path.IsPathRooted(url) && !url.Contains('\0'));

    private static bool IsBranchName(string branch) =>
        branch.Length is > 0 and <= 200 && !branch.StartsWith('-') && !branch.StartsWith('/') && !branch.EndsWith('/') && !branch.EndsWith(".lock", StringComparison.Ordinal)
        && !branch.Contains("..", StringComparison.Ordinal) && !branch.Contains("//", StringComparison.Ordinal) && !branch.Contains("@{", StringComparison.Ordinal)
        && branch.All(c => c > ' ' && c != 0x7f && "~^:?*[\\".IndexOf(c) < 0);

    /// <summary>owner/name from a forge clone URL (https://host/owner/name.git or git@host:owner/name.git).</summary>
    public static string? ForgeRepository(string url)
    {
        string? path = null;
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" or "ssh" or "git")
        {
            path = uri.AbsolutePath;
        }
        else if (ScpLike().Match(url) is { Success: true } scp)
        {
            path = scp.Groups["path"].Value;
        }

        path = path?.Trim('/');
        if (path is null)
        {
            return null;
        }

        path = path.EndsWith(".git", StringComparison.Ordinal) ? path[..^4] : path;
        return RepositoryPath().IsMatch(path) ? path : null;
    }

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)+$")]
    private static partial Regex RepositoryPath();

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]+@[A-Za-z0-9_.\-]+:(?<path>[^\s]+)$")]
    private static partial Regex ScpLike();

    private sealed class RegistryRow
    {
        public long Id { get; init; }
        public string Name { get; init; } = "";
        public string Provider { get; init; } = "";
        public string Url { get; init; } = "";
        public string Branch { get; init; } = "";
        public string? ApiUrl { get; init; }
        public string? Repository { get; init; }
        public string PathFilters { get; init; } = "";
        public int? DistinctUsers { get; init; }
        public bool AutoMerge { get; init; }
        public double AutoMergeMinConfidence { get; init; }
        public int AutoMergeMinUsers { get; init; }
        public bool HasToken { get; init; }
        public DateTimeOffset? LastScanAt { get; init; }
        public string? LastScanCommit { get; init; }
        public string? LastScanError { get; init; }
        public long SkillCount { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public int MaxOpen { get; init; }
        public bool HasWebhookSecret { get; init; }

        public RegistryRecord ToRecord() => new(
            Id, Name, Provider, Url, Branch, ApiUrl, Repository ?? (Provider == "git" ? null : ForgeRepository(Url)),
            PathFilters.Split('\n', StringSplitOptions.RemoveEmptyEntries), DistinctUsers, AutoMerge, AutoMergeMinConfidence, AutoMergeMinUsers,
            HasToken, LastScanAt, LastScanCommit, LastScanError, SkillCount, CreatedAt, MaxOpen, HasWebhookSecret);
    }
}
