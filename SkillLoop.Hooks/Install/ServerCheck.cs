using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Hook;

namespace SkillLoop.Hooks.Install;

/// <summary>
/// What <c>install</c> and <c>status</c> find when they ask the server for the client configuration
/// (<c>GET /api/v1/client/config</c>) with the token: the setup mistakes a developer makes, each named.
/// </summary>
public static class ServerCheck
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>A URL the client can use: absolute http(s) with a host. Null when it is fine, else the problem.</summary>
    public static string? UrlProblem(string url)
    {
        if (!url.Contains("://", StringComparison.Ordinal))
            return $"--url has no scheme: {url} (write it as http://{url} or https://{url})";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            return $"--url is not an http:// or https:// URL: {url}";
        return null;
    }

    /// <summary>A warning when the token would cross the network in clear text.</summary>
    public static string? Warning(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme == "http" && !uri.IsLoopback
            ? $"warning: {url} is plain http to another machine: the ingest token and corrections cross the network unencrypted; use https://"
            : null;

    /// <returns>Null when the server answered with a client configuration; else what is wrong.</returns>
    public static async Task<string?> ProblemAsync(string url, string token, CancellationToken cancellationToken)
    {
        try
        {
            using var http = SignalWorker.CreateHttpClient(url, token, Timeout);
            using var response = await http.GetAsync("api/v1/client/config", cancellationToken);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                return $"the server at {url} refused the token ({(int)response.StatusCode}): check --token (an ingest token from Settings → Ingest tokens)";
            if (response.StatusCode == HttpStatusCode.NotFound)
                return $"{url} answered 404 for /api/v1/client/config: is this the SkillLoop server's address?";
            if (!response.IsSuccessStatusCode)
                return $"the server at {url} answered {(int)response.StatusCode} {response.ReasonPhrase}";
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            try
            {
                if (JsonSerializer.Deserialize(body, HooksJsonContext.Default.ClientConfig) is { Patterns: not null })
                    return null;
            }
            catch (JsonException)
            {
            }
            return $"{url} answered, but not with a SkillLoop client configuration: is this the SkillLoop server's address?";
        }
        catch (HttpRequestException e)
        {
            var reason = e.InnerException is SocketException s ? s.Message : e.Message;
            return $"cannot reach the server at {url}: {reason}";
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"cannot reach the server at {url}: no answer within {Timeout.TotalSeconds:0} s";
        }
    }
}
