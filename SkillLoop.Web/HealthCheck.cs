namespace SkillLoop.Web;

/// <summary>
/// <c>dotnet SkillLoop.Web.dll healthcheck</c>: asks the running server's <c>/healthz</c> and exits 0 when it answers 200.
/// The container's HEALTHCHECK runs it (the runtime image has no curl or wget).
/// </summary>
public static class HealthCheck
{
    public static async Task<int> RunAsync()
    {
        var configured = Environment.GetEnvironmentVariable("ASPNETCORE_URLS")?.Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()
            ?? WebServiceCollectionExtensions.DefaultUrl;
        // A server bound to every address is asked on loopback.
        var url = configured.Replace("://+", "://127.0.0.1", StringComparison.Ordinal).Replace("://*", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal).Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(new Uri(new Uri(url), "/healthz"));
            Console.WriteLine($"{(int)response.StatusCode} {url}/healthz");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or UriFormatException)
        {
            Console.Error.WriteLine($"unhealthy: {ex.Message}");
            return 1;
        }
    }
}
