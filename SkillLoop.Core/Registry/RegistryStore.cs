using System.Text.RegularExpressions;
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Registry;

/// <summary>A registry as stored; the token itself never leaves <see cref="RegistryStore"/> except for git and forge calls.</summary>
public sealed record RegistryRecord(
    long Id,
    string Name,
    string Provider,
    string Url,
    string Branch,
    string? ApiUrl,
    string? Repository,
    IReadOnlyList<string> PathFilters,
    int? DistinctUsers,
    bool AutoMerge,
    double AutoMergeMinConfidence,
    int AutoMergeMinUsers,
    bool HasToken,
    DateTimeOffset? LastScanAt,
    string? LastScanCommit,
    string? LastScanError,
    long SkillCount,
    DateTimeOffset CreatedAt);

/// <summary>What an admin sends to add or change a registry. A null token keeps the stored one; "" removes it.</summary>
public sealed record RegistryInput(
    string? Name,
    string? Provider,
    string? Url,
    string? Branch,
    string? Token = null,
    string? ApiUrl = null,
    string? Repository = null,
    IReadOnlyList<string>? PathFilters = null,
    int? DistinctUsers = null,
    bool AutoMerge = false,
    double? AutoMergeMinConfidence = null,
    int? AutoMergeMinUsers = null);

/// <summary>A registered skill with its health: corrections, sessions that used it, and the trend of the last two weeks.</summary>
public sealed record SkillSummary(
    long Id,
    long RegistryId,
    string Registry,
    string Kind,
    string Name,
    string? QualifiedName,
    string? Description,
    string Path,
    string? Plugin,
    long Corrections,
    long Sessions,
    double? CorrectionsPerUse,
    long CorrectionsLast7Days,
    long CorrectionsPrevious7Days);

/// <summary>A skill name seen in signals that no registered skill matches.</summary>
public sealed record UnmatchedSkill(string Skill, string? ExamplePath, long Signals, DateTimeOffset LastSeen);

/// <summary>The registered skill a signal's skill name resolves to.</summary>
public sealed record ResolvedSkill(long SkillId, long RegistryId, string Path, string Name);

/// <summary>Invalid registry input (<see cref="Field"/> names it), or a registry/skill that does not exist.</summary>
public sealed class RegistryException(string field, string message, bool notFound = false) : Exception(message)
{
    public string Field { get; } = field;
    public bool NotFound { get; } = notFound;
}

/// <summary>Registries, the skills their scans found, and the admin's mappings of unmatched skill names.</summary>
public sealed partial class RegistryStore(SqliteDb db, IDataProtectionProvider protection, TimeProvider time)
{
    public static readonly string[] Providers = ["github", "gitlab", "gitea", "git"];

    private readonly IDataProtector _tokens = protection.CreateProtector("SkillLoop.Registry.Token.v1");

    /// <summary>Raised after a registry is added, changed or removed (every open dashboard redraws, not only the editor's).</summary>
    public event Action<long>? Changed;

    private const string Columns = """
        r.id AS Id, r.name AS Name, r.provider AS Provider, r.url AS Url, r.branch AS Branch, r.api_url AS ApiUrl,
        r.repository AS Repository, r.path_filters AS PathFilters, r.distinct_users AS DistinctUsers,
        r.auto_merge AS AutoMerge, r.auto_merge_min_confidence AS AutoMergeMinConfidence,
        r.auto_merge_min_users AS AutoMergeMinUsers, r.token_protected IS NOT NULL AS HasToken,
        r.last_scan_at AS LastScanAt, r.last_scan_commit AS LastScanCommit, r.last_scan_error AS LastScanError,
        (SELECT count(*) FROM skills k WHERE k.registry_id = r.id) AS SkillCount, r.created_at AS CreatedAt
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
                    distinct_users, auto_merge, auto_merge_min_confidence, auto_merge_min_users, created_at, updated_at)
                VALUES (@Name, @Provider, @Url, @Branch, @token, @ApiUrl, @Repository, @filters,
                    @DistinctUsers, @AutoMerge, @confidence, @users, @now, @now)
                RETURNING id
                """,
                new
                {
                    valid.Name, valid.Provider, valid.Url, valid.Branch, valid.ApiUrl, valid.Repository, valid.DistinctUsers, valid.AutoMerge,
                    token = string.IsNullOrEmpty(valid.Token) ? null : _tokens.Protect(valid.Token),
                    filters = string.Join('\n', valid.PathFilters!),
                    confidence = valid.AutoMergeMinConfidence ?? 0.9,
                    users = valid.AutoMergeMinUsers ?? 5,
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
                    updated_at = @now
                WHERE id = @id
                """,
                new
                {
                    id, valid.Name, valid.Provider, valid.Url, valid.Branch, valid.ApiUrl, valid.Repository, valid.DistinctUsers, valid.AutoMerge,
                    valid.AutoMergeMinConfidence, valid.AutoMergeMinUsers,
                    keepToken,
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

    /// <summary>Replaces what the last scan found with <paramref name="result"/>; skills that stay keep their ids (and mappings).</summary>
    public async Task SaveScanAsync(long registryId, string commit, ScanResult result, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        foreach (var skill in result.Skills)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO skills (registry_id, kind, name, qualified_name, description, path, plugin, updated_at)
                VALUES (@registryId, @Kind, @Name, @QualifiedName, @Description, @Path, @Plugin, @now)
                ON CONFLICT (registry_id, path) DO UPDATE SET kind = excluded.kind, name = excluded.name,
                    qualified_name = excluded.qualified_name, description = excluded.description, plugin = excluded.plugin,
                    updated_at = excluded.updated_at
                """,
                new { registryId, skill.Kind, skill.Name, skill.QualifiedName, skill.Description, skill.Path, skill.Plugin, now },
                transaction, cancellationToken: cancellationToken));
        }

        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM skills WHERE registry_id = @registryId AND updated_at <> @now", new { registryId, now }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE registries SET last_scan_at = @now, last_scan_commit = @commit, last_scan_error = NULL WHERE id = @registryId",
            new { registryId, now, commit }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task SaveScanErrorAsync(long registryId, string error, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE registries SET last_scan_at = @now, last_scan_error = @error WHERE id = @registryId",
            new { registryId, error, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
    }

    /// <summary>Every registered skill with its health, optionally of one registry.</summary>
    public async Task<IReadOnlyList<SkillSummary>> ListSkillsAsync(long? registryId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await db.OpenAsync(cancellationToken);
        var skills = (await connection.QueryAsync<SkillRow>(new CommandDefinition(
            """
            SELECT k.id AS Id, k.registry_id AS RegistryId, r.name AS Registry, k.kind AS Kind, k.name AS Name,
                   k.qualified_name AS QualifiedName, k.description AS Description, k.path AS Path, k.plugin AS Plugin
            FROM skills k JOIN registries r ON r.id = k.registry_id
            WHERE @registryId IS NULL OR k.registry_id = @registryId
            ORDER BY r.name, k.path
            LIMIT 5000
            """, new { registryId }, cancellationToken: cancellationToken))).ToList();

        // Corrections and uses per skill name as the agents report it, then resolved like signals are.
        var corrections = (await connection.QueryAsync<(string Skill, long Total, long Recent, long Previous)>(new CommandDefinition(
            """
            SELECT skill, count(*), sum(created_at >= @week), sum(created_at >= @fortnight AND created_at < @week)
            FROM signals WHERE skill IS NOT NULL GROUP BY skill
            """, new { week = now.AddDays(-7), fortnight = now.AddDays(-14) }, cancellationToken: cancellationToken))).ToList();
        var uses = (await connection.QueryAsync<(string Skill, long Sessions)>(new CommandDefinition(
            "SELECT active_skill, count(*) FROM sessions WHERE active_skill IS NOT NULL GROUP BY active_skill", cancellationToken: cancellationToken))).ToList();
        var resolver = await SkillResolver.LoadAsync(connection, null, cancellationToken);

        var byId = skills.ToDictionary(s => s.Id, _ => (Total: 0L, Recent: 0L, Previous: 0L, Sessions: 0L));
        foreach (var (skill, total, recent, previous) in corrections)
        {
            if (resolver.Resolve(skill, null) is { } hit && byId.TryGetValue(hit.SkillId, out var c))
            {
                byId[hit.SkillId] = c with { Total = c.Total + total, Recent = c.Recent + recent, Previous = c.Previous + previous };
            }
        }

        foreach (var (skill, sessions) in uses)
        {
            if (resolver.Resolve(skill, null) is { } hit && byId.TryGetValue(hit.SkillId, out var c))
            {
                byId[hit.SkillId] = c with { Sessions = c.Sessions + sessions };
            }
        }

        return skills.Select(s =>
        {
            var c = byId[s.Id];
            return new SkillSummary(s.Id, s.RegistryId, s.Registry, s.Kind, s.Name, s.QualifiedName, s.Description, s.Path, s.Plugin,
                c.Total, c.Sessions, c.Sessions == 0 ? null : Math.Round((double)c.Total / c.Sessions, 2), c.Recent, c.Previous);
        }).ToList();
    }

    /// <summary>Skill names in signals that match no registered skill, most corrections first.</summary>
    public async Task<IReadOnlyList<UnmatchedSkill>> ListUnmatchedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var seen = await connection.QueryAsync<UnmatchedRow>(new CommandDefinition(
            """
            SELECT skill AS Skill, max(skill_path) AS ExamplePath, count(*) AS Signals, max(created_at) AS LastSeen
            FROM signals WHERE skill IS NOT NULL GROUP BY skill ORDER BY count(*) DESC LIMIT 1000
            """, cancellationToken: cancellationToken));
        var resolver = await SkillResolver.LoadAsync(connection, null, cancellationToken);
        return seen.Where(s => resolver.Resolve(s.Skill, s.ExamplePath) is null)
            .Select(s => new UnmatchedSkill(s.Skill, s.ExamplePath, s.Signals, s.LastSeen))
            .ToList();
    }

    /// <summary>Maps a skill name seen in signals to a registered skill; <paramref name="skillId"/> null removes the mapping.</summary>
    public async Task MapAsync(string? signalSkill, long? skillId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(signalSkill) || signalSkill.Length > 300 || signalSkill.Any(char.IsControl))
        {
            throw new RegistryException("skill", "Name the skill as signals report it (1 to 300 characters, no control characters).");
        }

        await using var connection = await db.OpenAsync(cancellationToken);
        if (skillId is null)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM skill_mappings WHERE signal_skill = @signalSkill", new { signalSkill }, cancellationToken: cancellationToken));
            return;
        }

        var exists = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM skills WHERE id = @skillId", new { skillId }, cancellationToken: cancellationToken));
        if (exists == 0)
        {
            throw new RegistryException("skillId", $"Skill {skillId} does not exist.", notFound: true);
        }

        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO skill_mappings (signal_skill, skill_id, created_at) VALUES (@signalSkill, @skillId, @now)
            ON CONFLICT (signal_skill) DO UPDATE SET skill_id = excluded.skill_id
            """, new { signalSkill = signalSkill.Trim(), skillId, now = time.GetUtcNow() }, cancellationToken: cancellationToken));
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

        if (input.Token is { Length: > 1000 } || (input.Token?.Any(char.IsControl) ?? false))
        {
            throw new RegistryException("token", "The token is too long or holds control characters.");
        }

        return input with { Name = name, Provider = provider, Url = url, Branch = branch, ApiUrl = apiUrl, Repository = repository, PathFilters = filters, Token = input.Token?.Trim() };
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

        public RegistryRecord ToRecord() => new(
            Id, Name, Provider, Url, Branch, ApiUrl, Repository ?? (Provider == "git" ? null : ForgeRepository(Url)),
            PathFilters.Split('\n', StringSplitOptions.RemoveEmptyEntries), DistinctUsers, AutoMerge, AutoMergeMinConfidence, AutoMergeMinUsers,
            HasToken, LastScanAt, LastScanCommit, LastScanError, SkillCount, CreatedAt);
    }

    private sealed class SkillRow
    {
        public long Id { get; init; }
        public long RegistryId { get; init; }
        public string Registry { get; init; } = "";
        public string Kind { get; init; } = "";
        public string Name { get; init; } = "";
        public string? QualifiedName { get; init; }
        public string? Description { get; init; }
        public string Path { get; init; } = "";
        public string? Plugin { get; init; }
    }

    private sealed class UnmatchedRow
    {
        public string Skill { get; init; } = "";
        public string? ExamplePath { get; init; }
        public long Signals { get; init; }
        public DateTimeOffset LastSeen { get; init; }
    }
}
