using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Octokit;
using SkillLoop.Core.Registry;

namespace SkillLoop.Core.Proposals;

/// <summary>A pull (merge) request on a forge.</summary>
public sealed record PullRequestRef(long Number, string Url);

/// <summary>Where a pull request stands on the forge: <c>open</c>, <c>merged</c> or <c>closed</c> (without merge), with the merge commit when the forge names one.</summary>
public sealed record PullRequestState(string State, string? MergeCommit);

/// <summary>What to open: the pushed branch into the registry's branch.</summary>
public sealed record PullRequestSpec(string Branch, string Title, string Body, bool Draft, IReadOnlyList<string> Labels);

/// <summary>A forge call that failed; the message names the forge, the call and the answer (never the token).</summary>
public sealed class ForgeException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Opens, updates, closes and merges pull requests on one kind of forge. Opening first looks for an open request
/// from the same branch, so a retry after a lost answer never opens a second one.
/// </summary>
public interface IForgeProvider
{
    /// <summary>Null for plain git (no pull requests: the pushed branch is the proposal).</summary>
    Task<PullRequestRef?> OpenAsync(RegistryRecord registry, string? token, PullRequestSpec spec, CancellationToken cancellationToken);

    Task UpdateAsync(RegistryRecord registry, string? token, long number, string title, string body, CancellationToken cancellationToken);

    Task CloseAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken);

    Task MergeAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken);

    /// <summary>The request's state now (plain git has none: null).</summary>
    Task<PullRequestState?> GetStateAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken);
}

/// <summary>The provider of each registry kind.</summary>
public sealed class ForgeProviders(IHttpClientFactory http)
{
    public const string HttpClientName = "forge";

    public IForgeProvider For(RegistryRecord registry) => registry.Provider switch
    {
        "github" => new GitHubForge(),
        "gitlab" => new GitLabForge(http.CreateClient(HttpClientName)),
        "gitea" => new GiteaForge(http.CreateClient(HttpClientName)),
        _ => new PlainGit(),
    };

    /// <summary>The forge's API base: the registry's API URL, else derived from the clone URL's host.</summary>
    public static Uri ApiBase(RegistryRecord registry)
    {
        if (registry.ApiUrl is { } api)
        {
            return new Uri(api.EndsWith('/') ? api : api + "/");
        }

        var host = Uri.TryCreate(registry.Url, UriKind.Absolute, out var uri) ? uri.Host
            : registry.Url.Contains('@') ? registry.Url[(registry.Url.IndexOf('@') + 1)..registry.Url.IndexOf(':')]
            : throw new ForgeException($"Registry '{registry.Name}' needs an API URL: its clone URL names no host.");
        return registry.Provider switch
        {
            "github" => host is "github.com" ? new Uri("https://api.github.com/") : new Uri($"https://{host}/api/v3/"),
            "gitlab" => new Uri($"https://{host}/api/v4/"),
            _ => new Uri($"https://{host}/api/v1/"),
        };
    }

    /// <summary>What a forge's HTTP status usually means, in a few words (instead of the response body).</summary>
    internal static string ReasonFor(int status) => status switch
    {
        401 => "the token was refused",
        403 => "the token may not do this (check its scopes) or a rate limit was hit",
        404 => "not found (check the repository, the API URL and the token's access)",
        409 => "a conflict (the branch or pull request changed meanwhile)",
        422 => "the request was refused as invalid (an existing pull request or branch, say)",
        429 => "rate limited",
        >= 500 and < 600 => "the forge had an error or is unavailable",
        _ => "unexpected status",
    };

    internal static string RequireRepository(RegistryRecord registry) =>
        registry.Repository ?? throw new ForgeException($"Registry '{registry.Name}' names no repository (owner/name).");
}

/// <summary>Plain git: the pushed branch is the proposal; merging fast-forwards the registry's branch (done by the caller).</summary>
internal sealed class PlainGit : IForgeProvider
{
    public Task<PullRequestRef?> OpenAsync(RegistryRecord registry, string? token, PullRequestSpec spec, CancellationToken cancellationToken) => Task.FromResult<PullRequestRef?>(null);

    public Task UpdateAsync(RegistryRecord registry, string? token, long number, string title, string body, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task CloseAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task MergeAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<PullRequestState?> GetStateAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken) => Task.FromResult<PullRequestState?>(null);
}

/// <summary>GitHub (and GitHub Enterprise) through Octokit: Draft PRs with labels.</summary>
internal sealed class GitHubForge : IForgeProvider
{
    public async Task<PullRequestRef?> OpenAsync(RegistryRecord registry, string? token, PullRequestSpec spec, CancellationToken cancellationToken)
    {
        var (client, owner, name) = Client(registry, token);
        return await CallAsync("open a pull request", async () =>
        {
            var open = await client.PullRequest.GetAllForRepository(owner, name, new PullRequestRequest { State = ItemStateFilter.Open, Head = $"{owner}:{spec.Branch}" });
            var pull = open.FirstOrDefault(p => p.Head?.Ref == spec.Branch || p.Head is null)
                ?? await client.PullRequest.Create(owner, name, new NewPullRequest(spec.Title, spec.Branch, registry.Branch) { Body = spec.Body, Draft = spec.Draft });
            if (spec.Labels.Count > 0)
            {
                await client.Issue.Labels.AddToIssue(owner, name, pull.Number, spec.Labels.ToArray());
            }

            return new PullRequestRef(pull.Number, pull.HtmlUrl);
        });
    }

    public async Task UpdateAsync(RegistryRecord registry, string? token, long number, string title, string body, CancellationToken cancellationToken)
    {
        var (client, owner, name) = Client(registry, token);
        await CallAsync("update the pull request", () => client.PullRequest.Update(owner, name, (int)number, new PullRequestUpdate { Title = title, Body = body }));
    }

    public async Task CloseAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken)
    {
        var (client, owner, name) = Client(registry, token);
        await CallAsync("close the pull request", () => client.PullRequest.Update(owner, name, (int)number, new PullRequestUpdate { State = ItemState.Closed }));
    }

    public async Task MergeAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken)
    {
        var (client, owner, name) = Client(registry, token);
        var result = await CallAsync("merge the pull request", () => client.PullRequest.Merge(owner, name, (int)number, new MergePullRequest { MergeMethod = PullRequestMergeMethod.Squash }));
        if (!result.Merged)
        {
            throw new ForgeException($"GitHub did not merge pull request #{number} (it may have conflicts or failing required checks).");
        }
    }

    public async Task<PullRequestState?> GetStateAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken)
    {
        var (client, owner, name) = Client(registry, token);
        var pull = await CallAsync("read the pull request", () => client.PullRequest.Get(owner, name, (int)number));
        return pull.Merged ? new PullRequestState("merged", pull.MergeCommitSha)
            : pull.State.Value == ItemState.Closed ? new PullRequestState("closed", null)
            : new PullRequestState("open", null);
    }

    private static (GitHubClient Client, string Owner, string Name) Client(RegistryRecord registry, string? token)
    {
        var repository = ForgeProviders.RequireRepository(registry);
        var slash = repository.IndexOf('/');
        var client = new GitHubClient(new Octokit.ProductHeaderValue("SkillLoop"), ForgeProviders.ApiBase(registry));
        if (!string.IsNullOrEmpty(token))
        {
            client.Credentials = new Credentials(token);
        }

        return (client, repository[..slash], repository[(slash + 1)..]);
    }

    private static async Task<T> CallAsync<T>(string what, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (ApiException ex)
        {
            // Octokit's message is the body GitHub (or whatever answers at the API URL) sent: not passed on.
            throw new ForgeException($"GitHub could not {what}: HTTP {(int)ex.StatusCode}, {ForgeProviders.ReasonFor((int)ex.StatusCode)}.", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new ForgeException($"GitHub could not be reached to {what}: {ex.Message}", ex);
        }
    }
}

/// <summary>Shared REST plumbing of GitLab and Gitea.</summary>
internal abstract class RestForge(HttpClient http, string forge) : IForgeProvider
{
    public abstract Task<PullRequestRef?> OpenAsync(RegistryRecord registry, string? token, PullRequestSpec spec, CancellationToken cancellationToken);

    public abstract Task UpdateAsync(RegistryRecord registry, string? token, long number, string title, string body, CancellationToken cancellationToken);

    public abstract Task CloseAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken);

    public abstract Task MergeAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken);

    public abstract Task<PullRequestState?> GetStateAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken);

    protected abstract void Authorize(HttpRequestMessage request, string token);

    protected async Task<JsonNode?> SendAsync(HttpMethod method, RegistryRecord registry, string? token, string path, object? body, string what, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(ForgeProviders.ApiBase(registry), path));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (!string.IsNullOrEmpty(token))
        {
            Authorize(request, token);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new ForgeException($"{forge} could not be reached to {what}: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ForgeException($"{forge} did not answer in time to {what}.", ex);
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                // The body is not passed on: it may quote internal details of whatever answers at the API URL.
                throw new ForgeException($"{forge} could not {what}: HTTP {(int)response.StatusCode}, {ForgeProviders.ReasonFor((int)response.StatusCode)}.");
            }

            try
            {
                return text.Length == 0 ? null : JsonNode.Parse(text);
            }
            catch (JsonException ex)
            {
                throw new ForgeException($"{forge} answered {what} with something that is not JSON.", ex);
            }
        }
    }
}

/// <summary>GitLab REST v4: draft merge requests.</summary>
internal sealed class GitLabForge(HttpClient http) : RestForge(http, "GitLab")
{
    public override async Task<PullRequestRef?> OpenAsync(RegistryRecord registry, string? token, PullRequestSpec spec, CancellationToken cancellationToken)
    {
        var project = Project(registry);
        var open = await SendAsync(HttpMethod.Get, registry, token, $"projects/{project}/merge_requests?state=opened&source_branch={Uri.EscapeDataString(spec.Branch)}", null, "list merge requests", cancellationToken);
        var request = open?.AsArray().FirstOrDefault()
            ?? await SendAsync(HttpMethod.Post, registry, token, $"projects/{project}/merge_requests", new
            {
                source_branch = spec.Branch,
                target_branch = registry.Branch,
                title = spec.Draft ? "Draft: " + spec.Title : spec.Title,
                description = spec.Body,
                labels = string.Join(',', spec.Labels),
            }, "open a merge request", cancellationToken);
        return new PullRequestRef(request!["iid"]!.GetValue<long>(), request["web_url"]?.GetValue<string>() ?? "");
    }

    public override Task UpdateAsync(RegistryRecord registry, string? token, long number, string title, string body, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Put, registry, token, $"projects/{Project(registry)}/merge_requests/{number}", new { description = body }, "update the merge request", cancellationToken);

    public override Task CloseAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Put, registry, token, $"projects/{Project(registry)}/merge_requests/{number}", new { state_event = "close" }, "close the merge request", cancellationToken);

    public override Task MergeAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Put, registry, token, $"projects/{Project(registry)}/merge_requests/{number}/merge", new { squash = true }, "merge the merge request", cancellationToken);

    public override async Task<PullRequestState?> GetStateAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken)
    {
        var request = await SendAsync(HttpMethod.Get, registry, token, $"projects/{Project(registry)}/merge_requests/{number}", null, "read the merge request", cancellationToken);
        // GitLab: opened, closed, locked or merged; a squash merge names its commit in squash_commit_sha.
        return request?["state"]?.GetValue<string>() switch
        {
            "merged" => new PullRequestState("merged", (request["merge_commit_sha"] ?? request["squash_commit_sha"])?.GetValue<string>()),
            "closed" => new PullRequestState("closed", null),
            "opened" or "locked" => new PullRequestState("open", null),
            var other => throw new ForgeException($"GitLab answered merge request !{number} with an unknown state '{other}'."),
        };
    }

    protected override void Authorize(HttpRequestMessage request, string token) => request.Headers.Add("PRIVATE-TOKEN", token);

    private static string Project(RegistryRecord registry) => Uri.EscapeDataString(ForgeProviders.RequireRepository(registry));
}

/// <summary>Gitea and Forgejo REST v1: WIP pull requests.</summary>
internal sealed class GiteaForge(HttpClient http) : RestForge(http, "Gitea")
{
    public override async Task<PullRequestRef?> OpenAsync(RegistryRecord registry, string? token, PullRequestSpec spec, CancellationToken cancellationToken)
    {
        var repository = ForgeProviders.RequireRepository(registry);
        var open = await SendAsync(HttpMethod.Get, registry, token, $"repos/{repository}/pulls?state=open", null, "list pull requests", cancellationToken);
        var pull = open?.AsArray().FirstOrDefault(p => p?["head"]?["ref"]?.GetValue<string>() == spec.Branch)
            ?? await SendAsync(HttpMethod.Post, registry, token, $"repos/{repository}/pulls", new
            {
                head = spec.Branch,
                @base = registry.Branch,
                title = spec.Draft ? "WIP: " + spec.Title : spec.Title,
                body = spec.Body,
            }, "open a pull request", cancellationToken);
        return new PullRequestRef(pull!["number"]!.GetValue<long>(), pull["html_url"]?.GetValue<string>() ?? "");
    }

    public override Task UpdateAsync(RegistryRecord registry, string? token, long number, string title, string body, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Patch, registry, token, $"repos/{ForgeProviders.RequireRepository(registry)}/pulls/{number}", new { body }, "update the pull request", cancellationToken);

    public override Task CloseAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Patch, registry, token, $"repos/{ForgeProviders.RequireRepository(registry)}/pulls/{number}", new { state = "closed" }, "close the pull request", cancellationToken);

    public override Task MergeAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, registry, token, $"repos/{ForgeProviders.RequireRepository(registry)}/pulls/{number}/merge", new { Do = "squash" }, "merge the pull request", cancellationToken);

    public override async Task<PullRequestState?> GetStateAsync(RegistryRecord registry, string? token, long number, CancellationToken cancellationToken)
    {
        var pull = await SendAsync(HttpMethod.Get, registry, token, $"repos/{ForgeProviders.RequireRepository(registry)}/pulls/{number}", null, "read the pull request", cancellationToken);
        return pull?["merged"]?.GetValue<bool>() == true ? new PullRequestState("merged", pull["merge_commit_sha"]?.GetValue<string>())
            : pull?["state"]?.GetValue<string>() == "closed" ? new PullRequestState("closed", null)
            : pull?["state"]?.GetValue<string>() == "open" ? new PullRequestState("open", null)
            : throw new ForgeException($"Gitea answered pull request #{number} without a known state.");
    }

    protected override void Authorize(HttpRequestMessage request, string token) => request.Headers.Authorization = new AuthenticationHeaderValue("token", token);
}
