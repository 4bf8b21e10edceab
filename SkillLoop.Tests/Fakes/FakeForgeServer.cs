using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace SkillLoop.Tests.Fakes;

/// <summary>A call the fake forge received.</summary>
public sealed record ForgeCall(string Method, string Path, string Query, string? Authorization, string? PrivateToken, JsonNode? Body);

/// <summary>A pull request the fake forge holds.</summary>
public sealed record FakePull(long Number, string Head, string Base, string Title, string Body, bool Draft, string State, bool Merged, IReadOnlyList<string> Labels, string? MergeCommit = null);

/// <summary>
/// GitHub (<c>/api/v3</c>, as Octokit calls an Enterprise host), GitLab (<c>/api/v4</c>) and Gitea (<c>/api/v1</c>) pull
/// request APIs on 127.0.0.1, holding pull requests in memory and recording every call. <see cref="FailNext"/> makes
/// the next calls fail, as a forge that is down does.
/// </summary>
public sealed partial class FakeForgeServer : IAsyncDisposable
{
    private WebApplication _app = null!;
    private readonly ConcurrentDictionary<long, FakePull> _pulls = new();
    private long _nextNumber;
    private int _failures;
    private int _failureStatus;

    public Uri BaseAddress { get; private set; } = null!;

    public ConcurrentQueue<ForgeCall> Calls { get; } = new();

    public IReadOnlyList<FakePull> Pulls => _pulls.Values.OrderBy(p => p.Number).ToList();

    public static async Task<FakeForgeServer> StartAsync()
    {
        var server = new FakeForgeServer();
        (server._app, server.BaseAddress) = await LoopbackApp.StartAsync(app =>
        {
            app.Map("/{**path}", server.HandleAsync);
        });
        return server;
    }

    /// <summary>The API URL a registry of this provider is given.</summary>
    public string ApiUrl(string provider) => new Uri(BaseAddress, provider switch { "github" => "/", "gitlab" => "/api/v4/", _ => "/api/v1/" }).ToString();

    /// <summary>The next <paramref name="count"/> calls answer <paramref name="status"/>.</summary>
    public void FailNext(int count, int status = 502)
    {
        _failureStatus = status;
        Interlocked.Exchange(ref _failures, count);
    }

    /// <summary>Someone merges the pull request on the forge (not through SkillLoop).</summary>
    public void MergeOnForge(long number, string mergeCommit) =>
        _pulls[number] = _pulls[number] with { State = "merged", Merged = true, MergeCommit = mergeCommit };

    /// <summary>Someone closes the pull request on the forge without merging it.</summary>
    public void CloseOnForge(long number) => _pulls[number] = _pulls[number] with { State = "closed" };

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        JsonNode? body = null;
        if (request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            body = await JsonNode.ParseAsync(request.Body, cancellationToken: context.RequestAborted);
        }

        Calls.Enqueue(new ForgeCall(request.Method, request.Path.Value ?? "", request.QueryString.Value ?? "", request.Headers.Authorization.FirstOrDefault(), request.Headers["PRIVATE-TOKEN"].FirstOrDefault(), body));
        if (Interlocked.Decrement(ref _failures) >= 0)
        {
            await WriteAsync(context, _failureStatus, new JsonObject { ["message"] = "The fake forge is down." });
            return;
        }

        var path = request.Path.Value ?? "";
        var number = Number().Match(path) is { Success: true } m ? long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : (long?)null;
        var github = path.StartsWith("/api/v3/", StringComparison.Ordinal);
        var gitlab = path.StartsWith("/api/v4/", StringComparison.Ordinal);
        switch (request.Method)
        {
            case "GET" when number is null:
                var head = request.Query["head"].FirstOrDefault()?.Split(':').Last() ?? request.Query["source_branch"].FirstOrDefault();
                var open = _pulls.Values.Where(p => p.State == "open" && (head is null || p.Head == head)).OrderBy(p => p.Number).Select(p => Json(p, gitlab));
                await WriteAsync(context, 200, new JsonArray(open.ToArray<JsonNode?>()));
                return;
            case "GET" when number is { } reading && _pulls.TryGetValue(reading, out var read):
                await WriteAsync(context, 200, Json(read, gitlab));
                return;
            case "POST" when number is null:
                var created = new FakePull(
                    Interlocked.Increment(ref _nextNumber),
                    (body?["head"] ?? body?["source_branch"])!.GetValue<string>(),
                    (body?["base"] ?? body?["target_branch"])!.GetValue<string>(),
                    body?["title"]?.GetValue<string>() ?? "",
                    (body?["body"] ?? body?["description"])?.GetValue<string>() ?? "",
                    body?["draft"]?.GetValue<bool>() ?? false,
                    "open", false,
                    body?["labels"]?.GetValue<string>() is { Length: > 0 } labels ? labels.Split(',') : []);
                _pulls[created.Number] = created;
                await WriteAsync(context, 201, Json(created, gitlab));
                return;
            case "POST" when path.EndsWith("/labels", StringComparison.Ordinal) && number is { } labelled:
                var names = body!.AsArray().Select(n => n!.GetValue<string>()).ToList();
                _pulls.AddOrUpdate(labelled, _ => throw new InvalidOperationException("no such pull"), (_, p) => p with { Labels = p.Labels.Concat(names).Distinct().ToList() });
                await WriteAsync(context, 200, new JsonArray(names.Select(n => (JsonNode?)new JsonObject { ["name"] = n }).ToArray()));
                return;
            case "PUT" or "POST" when path.EndsWith("/merge", StringComparison.Ordinal) && number is { } merging:
                var merged = _pulls[merging] with { State = github ? "closed" : "merged", Merged = true };
                _pulls[merging] = merged;
                await WriteAsync(context, 200, github ? new JsonObject { ["merged"] = true, ["sha"] = "0000000000000000000000000000000000000000", ["message"] = "Merged" } : Json(merged, gitlab));
                return;
            case "PATCH" or "PUT" when number is { } updating && _pulls.ContainsKey(updating):
                var pull = _pulls[updating];
                var closing = body?["state"]?.GetValue<string>() == "closed" || body?["state_event"]?.GetValue<string>() == "close";
                pull = pull with
                {
                    Body = (body?["body"] ?? body?["description"])?.GetValue<string>() ?? pull.Body,
                    Title = body?["title"]?.GetValue<string>() ?? pull.Title,
                    State = closing ? "closed" : pull.State,
                };
                _pulls[updating] = pull;
                await WriteAsync(context, 200, Json(pull, gitlab));
                return;
            default:
                await WriteAsync(context, 404, new JsonObject { ["message"] = $"The fake forge has no {request.Method} {path}." });
                return;
        }
    }

    private JsonObject Json(FakePull pull, bool gitlab) => gitlab
        ? new JsonObject { ["iid"] = pull.Number, ["web_url"] = $"{BaseAddress}mr/{pull.Number}", ["source_branch"] = pull.Head, ["state"] = pull.State == "open" ? "opened" : pull.State, ["merge_commit_sha"] = pull.MergeCommit }
        : new JsonObject
        {
            ["id"] = pull.Number + 1000,
            ["number"] = pull.Number,
            ["html_url"] = $"{BaseAddress}pull/{pull.Number}",
            // GitHub and Gitea say "closed" for a merged pull request too, with merged: true.
            ["state"] = pull.State == "open" ? "open" : "closed",
            ["merged"] = pull.Merged,
            ["merged_at"] = pull.Merged ? "2026-11-02T10:00:00Z" : null,
            ["merge_commit_sha"] = pull.MergeCommit,
            ["draft"] = pull.Draft,
            ["title"] = pull.Title,
            ["body"] = pull.Body,
            ["head"] = new JsonObject { ["ref"] = pull.Head, ["label"] = "owner:" + pull.Head },
            ["base"] = new JsonObject { ["ref"] = pull.Base },
        };

    private static async Task WriteAsync(HttpContext context, int status, JsonNode body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    [GeneratedRegex(@"/(?:pulls|merge_requests|issues)/(\d+)")]
    private static partial Regex Number();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
