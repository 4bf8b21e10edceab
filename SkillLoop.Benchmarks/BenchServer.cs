using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace SkillLoop.Benchmarks;

/// <summary>
/// VmRSS and its parts in MB. Anonymous memory (heaps, the model's tensors) is what the server owns; file-backed pages
/// (mapped assemblies, the memory-mapped database, the model file) are page cache the kernel can drop and re-read;
/// shared memory is SQLite's WAL index and the runtime's double-mapped JIT code.
/// </summary>
internal readonly record struct ResidentMemory(double Total, double Anonymous, double File, double Shared)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Total:F0} MB ({Anonymous:F0} MB anonymous, {File:F0} MB file-backed, {Shared:F0} MB shared)");
}

/// <summary>
/// The real server as its own process (<c>dotnet SkillLoop.Web.dll</c>) on a free 127.0.0.1 port, as in production:
/// its resident set and CPU time are its own, not mixed with the load generator's.
/// The fault tests compile this same file (linked) to kill it with SIGKILL and start it again on the same data.
/// </summary>
internal sealed class BenchServer : IAsyncDisposable
{
    public const string IngestToken = "bench-ingest-token-0001";
    public const string AdminApiKey = "bench-admin-key-0001";

    // A developer's shell may choose other models; the figures are for the defaults (bundled MiniLM, heuristic extraction).
    private static readonly string[] ModelVariables =
        ["SKILLLOOP_CHAT_MODEL", "SKILLLOOP_LLM_ENDPOINT", "SKILLLOOP_LLM_MODEL", "SKILLLOOP_LLM_API_KEY", "SKILLLOOP_EMBEDDING_MODEL", "SKILLLOOP_DATA", "SKILLLOOP_MODELS"];

    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();

    private BenchServer(Process process, Uri address)
    {
        _process = process;
        BaseAddress = address;
    }

    public Uri BaseAddress { get; }

    public int Id => _process.Id;

    public TimeSpan StartupTime { get; private set; }

    /// <param name="environment">Settings on top of the defaults (a model endpoint, say).</param>
    public static async Task<BenchServer> StartAsync(string webDll, string dataDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var address = new Uri($"http://127.0.0.1:{FreePort()}");
        var start = new ProcessStartInfo("dotnet", [webDll, "--urls", address.ToString(), "--data", dataDirectory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(webDll)!,
        };
        foreach (var name in ModelVariables)
        {
            start.Environment.Remove(name);
        }

        start.Environment["SKILLLOOP_INGEST_TOKEN"] = IngestToken;
        start.Environment["SKILLLOOP_ADMIN_API_KEY"] = AdminApiKey;
        start.Environment["SKILLLOOP_ADMIN_PASSWORD"] = "bench-admin-password";
        start.Environment["SKILLLOOP_RATE_LIMIT_PER_MINUTE"] = "0"; // the load generator is one token at thousands of requests a second
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var clock = Stopwatch.StartNew();
        var process = Process.Start(start)!;
        var server = new BenchServer(process, address);
        // Drain the logs so a full pipe never blocks the server; the last lines explain a failed start.
        process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The server exited with {process.ExitCode} at start:{Environment.NewLine}{server.LastLines()}");
            }

            try
            {
                if ((await client.GetAsync("/healthz")).StatusCode == HttpStatusCode.OK)
                {
                    server.StartupTime = clock.Elapsed;
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(50);
        }

        await server.DisposeAsync();
        throw new TimeoutException($"The server did not become healthy in 90 s:{Environment.NewLine}{server.LastLines()}");
    }

    public HttpClient CreateClient(string bearer, HttpMessageHandler? handler = null)
    {
        var client = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        client.BaseAddress = BaseAddress;
        client.Timeout = TimeSpan.FromSeconds(30);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }

    /// <summary>The server's resident set now (Linux /proc/&lt;pid&gt;/status).</summary>
    public ResidentMemory Memory()
    {
        double? total = null;
        double anonymous = 0, file = 0, shared = 0;
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries); // "VmRSS:\t  123456 kB"
            var megabytes = parts.Length > 1 && double.TryParse(parts[1], CultureInfo.InvariantCulture, out var kilobytes) ? kilobytes / 1024 : 0;
            switch (parts[0])
            {
                case "VmRSS:": total = megabytes; break;
                case "RssAnon:": anonymous = megabytes; break;
                case "RssFile:": file = megabytes; break;
                case "RssShmem:": shared = megabytes; break;
            }
        }

        // A reading of nothing must never pass for a met memory goal.
        return new ResidentMemory(total ?? throw new InvalidOperationException($"No VmRSS in /proc/{_process.Id}/status."), anonymous, file, shared);
    }

    /// <summary>SIGKILL: no shutdown code runs, as when the machine loses power or the OOM killer strikes.</summary>
    public void Kill()
    {
        Process.Start("kill", ["-9", _process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
        _process.WaitForExit();
    }

    /// <summary>The server's CPU time so far (user + system).</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    public string LastLines()
    {
        lock (_lastLines)
        {
            return string.Join(Environment.NewLine, _lastLines);
        }
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

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            if (_lastLines.Count > 40)
            {
                _lastLines.Dequeue();
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
