using System.Text.Json;
using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Extraction;
using SkillLoop.Hooks.Hook;

namespace SkillLoop.Hooks.Install;

/// <summary>
/// The parts of <c>status</c> about the client itself: its version against the server's (a newer client on the
/// server says how to update), and local extraction: which CLI the hooks would use, and what the last run did.
/// </summary>
public static class ClientStatus
{
    /// <summary>What Copilot CLI removes from the environment it gives hooks (checked against Copilot CLI 1.0.102).</summary>
    public static readonly string[] StrippedByCopilotHooks =
        ["COPILOT_OFFLINE", "COPILOT_PROVIDER_BASE_URL", "COPILOT_PROVIDER_TYPE", "COPILOT_PROVIDER_API_KEY", "COPILOT_PROVIDER_BEARER_TOKEN",
         "COPILOT_PROVIDER_MODEL_ID", "COPILOT_PROVIDER_WIRE_MODEL", "GITHUB_TOKEN", "GH_TOKEN", "COPILOT_GITHUB_TOKEN", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"];

    public static void Write(TextWriter stdout, ClientEnvironment env, ClientConfigFile? stored)
    {
        WriteVersion(stdout, stored);
        WriteLocalExtraction(stdout, env);
    }

    private static void WriteVersion(TextWriter stdout, ClientConfigFile? stored)
    {
        if (stored is null)
        {
            stdout.WriteLine($"client: {SignalWorker.Version}");
            return;
        }
        var manifest = FetchManifest(stored.Url, out var problem);
        if (manifest is null)
        {
            stdout.WriteLine($"client: {SignalWorker.Version} ({problem})");
            return;
        }
        stdout.WriteLine(IsNewer(manifest.Version, SignalWorker.Version)
            ? $"client: {SignalWorker.Version}; the server has a newer client, {manifest.Version}: update with curl -fsSL {stored.Url.TrimEnd('/')}/install.sh | sh -s -- --token <token>"
            : $"client: {SignalWorker.Version} (the server's is {manifest.Version}: up to date)");
    }

    private static void WriteLocalExtraction(TextWriter stdout, ClientEnvironment env)
    {
        // As a hook would see it: Copilot's hooks lose these variables, Claude's keep them.
        var forCopilot = env with { Variables = env.Variables.Where(v => !StrippedByCopilotHooks.Contains(v.Key)).ToDictionary() };
        var claude = AgentCli.Find(env, "claude", out var claudeWhy);
        var copilot = AgentCli.Find(forCopilot, "copilot", out var copilotWhy);
        stdout.WriteLine($"local extraction for Claude's hooks: {(claude is null ? "none, the server extracts (" + claudeWhy + ")" : claude.Name + " (" + claude.Executable + ")")}");
        stdout.WriteLine($"local extraction for Copilot's hooks: {(copilot is null ? "none, the server extracts (" + copilotWhy + ")" : copilot.Name + " (" + copilot.Executable + ")")}");
        var last = LocalExtractionLog.Read(env.Home);
        stdout.WriteLine(last is null
            ? "local extraction, last run: none yet"
            : $"local extraction, last run: {last.At.UtcDateTime:yyyy-MM-dd HH:mm} UTC with {last.Cli}: {last.Outcome}: {last.Message}");
    }

    /// <summary>The server's <c>GET /client/manifest.json</c> (3 s at most), or null with why.</summary>
    internal static ClientManifest? FetchManifest(string url, out string problem)
    {
        try
        {
            using var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(3) }) { Timeout = TimeSpan.FromSeconds(3) };
            using var response = http.Send(new HttpRequestMessage(HttpMethod.Get, url.TrimEnd('/') + "/client/manifest.json"));
            if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                problem = "the server carries no client binaries to compare with";
                return null;
            }
            if (!response.IsSuccessStatusCode)
            {
                problem = $"the server's client manifest answered {(int)response.StatusCode}";
                return null;
            }
            using var stream = response.Content.ReadAsStream();
            var manifest = JsonSerializer.Deserialize(stream, HooksJsonContext.Default.ClientManifest);
            problem = manifest is null ? "the server's client manifest is empty" : "";
            return manifest;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException or UriFormatException)
        {
            problem = "the server's client version could not be read: " + e.Message;
            return null;
        }
    }

    /// <summary>Dotted numbers compared as numbers ("0.10.0" is newer than "0.9.1"); a pre-release suffix is ignored.</summary>
    internal static bool IsNewer(string candidate, string current) =>
        Version.TryParse(Core(candidate), out var a) && Version.TryParse(Core(current), out var b) && a > b;

    private static string Core(string version)
    {
        var core = version.Split('-', '+')[0];
        return core.Count(c => c == '.') == 0 ? core + ".0" : core;
    }
}
