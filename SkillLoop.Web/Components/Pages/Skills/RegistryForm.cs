using SkillLoop.Core.Registry;

namespace SkillLoop.Web.Components.Pages.Skills;

/// <summary>What the add and edit forms bind to; <see cref="ToInput"/> is what the core validates and stores.</summary>
public sealed class RegistryForm
{
    /// <summary>The registry being edited; null while adding one.</summary>
    public long? Id { get; init; }

    /// <summary>The name the registry had when editing began (the form's heading; the field may change).</summary>
    public string? StoredName { get; init; }

    /// <summary>Whether the registry being edited has a token (never the token itself: the store does not return it).</summary>
    public bool HasStoredToken { get; init; }

    public string? Name { get; set; }
    public string Provider { get; set; } = "git";
    public string? Url { get; set; }
    public string? Branch { get; set; } = "main";
    public string? Token { get; set; }
    public bool RemoveToken { get; set; }
    public string? Repository { get; set; }
    public string? ApiUrl { get; set; }
    public string? PathFilters { get; set; }
    public int? DistinctUsers { get; set; }
    public bool AutoMerge { get; set; }
    public double AutoMergeMinConfidence { get; set; } = 0.9;
    public int AutoMergeMinUsers { get; set; } = 5;
    public int MaxOpen { get; set; } = RegistryStore.DefaultMaxOpen;

    /// <summary>Whether the registry being edited has a webhook secret (never the secret itself).</summary>
    public bool HasStoredWebhookSecret { get; init; }
    public string? WebhookSecret { get; set; }
    public bool RemoveWebhookSecret { get; set; }

    public static RegistryForm From(RegistryRecord registry) => new()
    {
        Id = registry.Id,
        StoredName = registry.Name,
        HasStoredToken = registry.HasToken,
        Name = registry.Name,
        Provider = registry.Provider,
        Url = registry.Url,
        Branch = registry.Branch,
        // A forge registry's repository is read from its URL when none is set, and the store returns that reading; left
        // empty here when it is only that, so a later change of URL is followed instead of pinning the old repository.
        Repository = registry.Repository == RegistryStore.ForgeRepository(registry.Url) ? null : registry.Repository,
        ApiUrl = registry.ApiUrl,
        PathFilters = string.Join(", ", registry.PathFilters),
        DistinctUsers = registry.DistinctUsers,
        AutoMerge = registry.AutoMerge,
        AutoMergeMinConfidence = registry.AutoMergeMinConfidence,
        AutoMergeMinUsers = registry.AutoMergeMinUsers,
        MaxOpen = registry.MaxOpen,
        HasStoredWebhookSecret = registry.HasWebhookSecret,
    };

    /// <summary>
    /// The store's token semantics: null keeps the stored token, "" removes it. An empty (or blank) field therefore keeps
    /// it — a stray space must not wipe a working token — and only the explicit switch removes it.
    /// </summary>
    public RegistryInput ToInput() => new(
        Name, Provider, Url, Branch, RemoveToken ? "" : string.IsNullOrWhiteSpace(Token) ? null : Token, ApiUrl, Repository,
        (PathFilters ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        DistinctUsers, AutoMerge, AutoMergeMinConfidence, AutoMergeMinUsers, MaxOpen,
        RemoveWebhookSecret ? "" : string.IsNullOrWhiteSpace(WebhookSecret) ? null : WebhookSecret);
}
