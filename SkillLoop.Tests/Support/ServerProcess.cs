using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace SkillLoop.Tests.Support;

/// <summary>
/// The real server as its own process (<c>dotnet SkillLoop.Web.dll</c> from the build output) on a free 127.0.0.1 port,
/// so a test can kill it with SIGKILL and start it again on the same data directory.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    public const string IngestToken = "fault-ingest-token-0001";
    public const string AdminApiKey = "fault-admin-key-0001";

    private readonly Process _process;

    private ServerProcess(Process process, Uri address)
    {
        _process = process;
        BaseAddress = address;
    }

    public Uri BaseAddress { get; }

    public int Id => _process.Id;

    public static async Task<ServerProcess> StartAsync(string dataDirectory, IDictionary<string, string>? environment = null, int? port = null)
    {
        var address = new Uri($"http://127.0.0.1:{port ?? Fakes.FakeSkillLoopServer.FreePort()}");
        var start = new ProcessStartInfo("dotnet", [WebDll(), "--urls", address.ToString(), "--data", dataDirectory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(WebDll())!,
        };
        start.Environment["SKILLLOOP_INGEST_TOKEN"] = IngestToken;
        start.Environment["SKILLLOOP_ADMIN_API_KEY"] = AdminApiKey;
        start.Environment["SKILLLOOP_ADMIN_PASSWORD"] = "fault-admin-password";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start)!;
        // Drain the logs so a full pipe never blocks the server.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, address);
        using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The server exited with {process.ExitCode} at start.");
            }

            try
            {
                if ((await client.GetAsync("/healthz")).StatusCode == HttpStatusCode.OK)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        await server.DisposeAsync();
        throw new TimeoutException("The server did not become healthy in 90 s.");
    }

    public HttpClient CreateClient(string bearer)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }

    /// <summary>SIGKILL: no shutdown code runs, as when the machine loses power or the OOM killer strikes.</summary>
    public void Kill()
    {
        Process.Start("kill", ["-9", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        _process.WaitForExit();
    }

    /// <summary>The server's resident memory in MB (Linux /proc).</summary>
    public double ResidentMegabytes()
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>SkillLoop.Web.dll of the same build configuration as the tests (built with them: the tests reference it).</summary>
    public static string WebDll()
    {
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<Configuration>/net10.0
        var dll = Path.Combine(PublishedClient.RepositoryRoot, "SkillLoop.Web", "bin", configuration, "net10.0", "SkillLoop.Web.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build SkillLoop.Web first.", dll);
    }
}
