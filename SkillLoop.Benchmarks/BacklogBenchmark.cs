using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Hook;

namespace SkillLoop.Benchmarks;

/// <summary>
/// The worker over a huge backlog (issue #17, item 5): a 250 MB Claude transcript read from the start, a 600 MB line
/// without a newline, and 75,000 corrections, each sent to a minimal loopback stand-in of the client API. Prints the
/// time, the batches and the worker's peak resident set (goal: at most 100 MB). With a published client it runs what
/// users run, <c>skillloop-client __worker claude</c> (Native AOT) as a child process, one per case, and reads its peak
/// (VmHWM) from /proc; without one, the worker runs in this JIT process and the figure includes the benchmark's own.
/// </summary>
internal static class BacklogBenchmark
{
    public static async Task RunAsync(int megabytes, string? client)
    {
        var dir = Directory.CreateTempSubdirectory("skillloop-backlog-");
        try
        {
            using var server = new StandIn();
            Console.WriteLine(client is not null
                ? $"worker backlog: `{client} __worker claude` (AOT) as a child process per case, server stand-in on 127.0.0.1"
                : $"worker backlog (in this JIT process: --in-process or no published client; server stand-in on 127.0.0.1); process peak RSS before: {PeakRssMb("self"):F0} MB");
            var home = Directory.CreateDirectory(Path.Combine(dir.FullName, "home")).FullName;

            var big = Path.Combine(dir.FullName, "big.jsonl");
            var bytes = TranscriptGenerator.Write(big, megabytes * 1_000_000L);
            await Measure(server, client, home, "big", big, $"{bytes / 1e6:F0} MB transcript from offset 0");
            File.Delete(big);

            var line = Path.Combine(dir.FullName, "line.jsonl");
            await using (var stream = File.Create(line))
            {
                var chunk = new byte[1 << 20];
                chunk.AsSpan().Fill((byte)'x');
                for (var i = 0; i < 600; i++)
                    await stream.WriteAsync(chunk);
            }
            await Measure(server, client, home, "line", line, "600 MB line without a newline");
            File.Delete(line);

            var many = Path.Combine(dir.FullName, "many.jsonl");
            await using (var writer = new StreamWriter(many, false, new UTF8Encoding(false)))
            {
                await writer.WriteLineAsync("""{"type":"assistant","uuid":"a0","message":{"id":"m0","role":"assistant","content":"Done."}}""");
                for (var i = 0; i < 75_000; i++)
                    await writer.WriteLineAsync($$$"""{"type":"user","uuid":"u{{{i}}}","sessionId":"many","message":{"role":"user","content":"no, that's wrong: use pnpm ({{{i}}})"}}""");
            }
            await Measure(server, client, home, "many", many, "75,000 corrections");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task Measure(StandIn server, string? client, string home, string session, string path, string what)
    {
        const string platform = "claude";
        GC.Collect();
        var before = server.Corrections;
        var batches = server.Batches;
        var clock = Stopwatch.StartNew();
        string outcome;
        double peak;
        if (client is null)
        {
            using var http = SignalWorker.CreateHttpClient(server.Url, "bench", TimeSpan.FromSeconds(60));
            outcome = (await new SignalWorker(http, "bench@example.com").RunAsync(new HookEvent(platform, session, path), CancellationToken.None)).ToString();
            peak = PeakRssMb("self");
        }
        else
        {
            (outcome, peak) = await RunWorkerAsync(client, home, server.Url, session, path);
        }
        clock.Stop();
        Console.WriteLine($"  {what}: {outcome} in {clock.Elapsed.TotalSeconds:F1} s, {server.Batches - batches} batch(es), "
            + $"{server.Corrections - before} correction(s) received, cursor {server.Offset(platform, session):N0} of {new FileInfo(path).Length:N0} bytes; "
            + (client is null ? $"process peak RSS so far {peak:F0} MB" : $"worker peak RSS {peak:F1} MB") + " (goal <= 100 MB)");
    }

    /// <summary>
    /// The client's worker with a Stop payload on stdin. Its peak is polled from /proc/PID/status: VmHWM only grows, so
    /// the last reading before the process ends is its peak (short of what it adds in its last few milliseconds).
    /// </summary>
    private static async Task<(string Outcome, double PeakMb)> RunWorkerAsync(string client, string home, string url, string session, string path)
    {
        var start = new ProcessStartInfo(client, ["__worker", "claude"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["HOME"] = home;
        start.Environment["SKILLLOOP_URL"] = url;
        start.Environment["SKILLLOOP_TOKEN"] = "bench";
        start.Environment.Remove("SKILLLOOP_INTERNAL");
        start.Environment["PATH"] = "/usr/bin:/bin"; // no agent CLI: no local extraction
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(
            $$"""{"session_id":"{{session}}","transcript_path":"{{JsonEncodedText.Encode(path)}}","hook_event_name":"Stop","cwd":"{{JsonEncodedText.Encode(home)}}"}""");
        process.StandardInput.Close();
        var peak = 0.0;
        while (!process.HasExited)
        {
            peak = Math.Max(peak, PeakRssMb(process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            await Task.Delay(5);
        }
        await process.WaitForExitAsync();
        await Task.WhenAll(stdout, stderr);
        var said = (stdout.Result + stderr.Result).Trim();
        return ($"exit {process.ExitCode}{(said.Length > 0 ? $" ({said[..Math.Min(200, said.Length)]})" : "")}", peak);
    }

    /// <param name="pid">"self" or a process id.</param>
    private static double PeakRssMb(string pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0; // the process ended between two readings
        }
        return pid == "self" ? Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0 : 0;
    }

    /// <summary>Cursor, config and signals endpoints with the server's offset rule; one request per connection.</summary>
    private sealed class StandIn : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly ConcurrentDictionary<string, long> _cursors = new();
        private readonly CancellationTokenSource _stop = new();
        private int _corrections;
        private int _batches;

        public StandIn()
        {
            _listener.Start();
            Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";
            _ = Task.Run(LoopAsync);
        }

        public string Url { get; }
        public int Corrections => Volatile.Read(ref _corrections);
        public int Batches => Volatile.Read(ref _batches);
        public long Offset(string platform, string session) => _cursors.GetValueOrDefault($"{platform}/{session}");

        private async Task LoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    await HandleAsync(client.GetStream());
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or JsonException)
                {
                }
            }
        }

        private async Task HandleAsync(NetworkStream stream)
        {
            var reader = new StreamReader(stream, Encoding.UTF8, false, 1 << 16, leaveOpen: true);
            var request = (await reader.ReadLineAsync())!.Split(' ');
            var length = 0;
            string? header;
            while (!string.IsNullOrEmpty(header = await reader.ReadLineAsync()))
                if (header.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                    length = int.Parse(header["Content-Length:".Length..].Trim());
            var body = new char[length];
            var read = 0;
            while (read < length)
            {
                var n = await reader.ReadAsync(body.AsMemory(read, length - read));
                if (n == 0)
                    break;
                read += n;
            }
            var (status, json) = Respond(request[0], request[1], new string(body, 0, read));
            var bytes = Encoding.UTF8.GetBytes(json);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n"));
            await stream.WriteAsync(bytes);
        }

        private (int, string) Respond(string method, string path, string body)
        {
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (method == "GET" && parts is ["api", "v1", "sessions", var platform, var session, "cursor"])
                return (200, JsonSerializer.Serialize(new SessionCursor(platform, session, Offset(platform, session), null, null), HooksJsonContext.Default.SessionCursor));
            if (method == "POST" && path == "/api/v1/signals")
            {
                var batch = JsonSerializer.Deserialize(body, HooksJsonContext.Default.SignalBatch)!;
                var key = $"{batch.Platform}/{batch.SessionId}";
                if (batch.FromOffset != _cursors.GetValueOrDefault(key))
                    return (409, "");
                _cursors[key] = batch.Cursor.Offset;
                Interlocked.Add(ref _corrections, batch.Corrections.Count);
                Interlocked.Increment(ref _batches);
                return (200, JsonSerializer.Serialize(new SignalBatchResult(batch.Corrections.Count, 0, batch.Cursor), HooksJsonContext.Default.SignalBatchResult));
            }
            return (500, ""); // config: the worker falls back to its built-in patterns
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }
    }
}
