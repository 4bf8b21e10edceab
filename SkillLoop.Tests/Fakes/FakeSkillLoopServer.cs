using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Tests.Fakes;

/// <summary>
/// A tiny stand-in for the SkillLoop server's client API: HTTP/1.1 over a TcpListener bound to port 0 on 127.0.0.1
/// (no port races), one request per connection, with the real cursor rule: a batch is accepted only when its
/// FromOffset equals the stored cursor, else 409. Requests are handled one at a time, like a serialised store.
/// </summary>
public sealed class FakeSkillLoopServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<string, SessionCursor> _cursors = new();
    private readonly TaskCompletionSource<SignalBatch> _firstBatch = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FakeSkillLoopServer(string token = "test-token")
    {
        Token = token;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        Url = $"http://127.0.0.1:{Port}/";
        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; }
    public int Port { get; }
    public string Token { get; }

    /// <summary>Patterns served by /api/v1/client/config; null answers 500 (the client must fall back).</summary>
    public ClientConfig? Config { get; set; }

    /// <summary>Answer every POST with 409, as if another event had just moved the cursor.</summary>
    public bool ConflictOnPost { get; set; }

    public ConcurrentQueue<SignalBatch> Batches { get; } = new();
    public ConcurrentQueue<ClientIssue> Issues { get; } = new();
    public ConcurrentQueue<LocalExtractionDeclined> Declined { get; } = new();
    public ConcurrentQueue<string> Requests { get; } = new();

    public Task<SignalBatch> FirstBatch => _firstBatch.Task;

    public SessionCursor? CursorOf(string platform, string session) =>
        _cursors.TryGetValue($"{platform}/{session}", out var c) ? c : null;

    public void SetCursor(SessionCursor cursor) => _cursors[$"{cursor.Platform}/{cursor.SessionId}"] = cursor;

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            using (client)
            {
                try
                {
                    await HandleAsync(client.GetStream());
                }
                catch (Exception e) when (e is IOException or SocketException or JsonException or FormatException)
                {
                }
            }
        }
    }

    private async Task HandleAsync(NetworkStream stream)
    {
        var (method, path, headers, body) = await ReadRequestAsync(stream);
        Requests.Enqueue($"{method} {path}");
        var (status, json) = Respond(method, path, headers, body);
        var bytes = Encoding.UTF8.GetBytes(json);
        var head = $"HTTP/1.1 {status} {(status == 200 ? "OK" : "Status")}\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(bytes);
    }

    /// <summary>Answer this many requests with 503 first, as a server that is briefly down.</summary>
    public int UnavailableRequests { get; set; }

    private (int Status, string Json) Respond(string method, string path, Dictionary<string, string> headers, string body)
    {
        if (UnavailableRequests > 0)
        {
            UnavailableRequests--;
            return (503, "");
        }
        if (!headers.TryGetValue("authorization", out var auth) || auth != $"Bearer {Token}")
            return (401, "");
        if (method == "GET" && path == "/api/v1/client/config")
            return Config is null ? (500, "") : (200, JsonSerializer.Serialize(Config, HooksJsonContext.Default.ClientConfig));
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        if (method == "GET" && parts is ["api", "v1", "sessions", var platform, var session, "cursor"])
        {
            var cursor = CursorOf(platform, session) ?? new SessionCursor(platform, session, 0, null, null);
            return (200, JsonSerializer.Serialize(cursor, HooksJsonContext.Default.SessionCursor));
        }
        if (method == "POST" && path == "/api/v1/signals")
        {
            var batch = JsonSerializer.Deserialize(body, HooksJsonContext.Default.SignalBatch)!;
            var stored = CursorOf(batch.Platform, batch.SessionId)?.Offset ?? 0;
            if (ConflictOnPost || batch.FromOffset != stored)
                return (409, "");
            SetCursor(batch.Cursor);
            Batches.Enqueue(batch);
            _firstBatch.TrySetResult(batch);
            return (200, JsonSerializer.Serialize(new SignalBatchResult(batch.Corrections.Count, 0, batch.Cursor), HooksJsonContext.Default.SignalBatchResult));
        }
        if (method == "POST" && path == "/api/v1/issues")
        {
            Issues.Enqueue(JsonSerializer.Deserialize(body, HooksJsonContext.Default.ClientIssue)!);
            return (200, JsonSerializer.Serialize(new ClientIssueResult(true), HooksJsonContext.Default.ClientIssueResult));
        }
        if (method == "POST" && path == "/api/v1/issues/declined")
        {
            var declined = JsonSerializer.Deserialize(body, HooksJsonContext.Default.LocalExtractionDeclined)!;
            Declined.Enqueue(declined);
            return (200, JsonSerializer.Serialize(new LocalExtractionDeclinedResult(declined.TurnIds.Count), HooksJsonContext.Default.LocalExtractionDeclinedResult));
        }
        return (404, "");
    }

    private static async Task<(string Method, string Path, Dictionary<string, string> Headers, string Body)> ReadRequestAsync(NetworkStream stream)
    {
        var buffer = new List<byte>();
        var chunk = new byte[8192];
        int headerEnd;
        while ((headerEnd = IndexOfHeaderEnd(buffer)) < 0)
        {
            var n = await stream.ReadAsync(chunk);
            if (n == 0)
                throw new IOException("connection closed before the request was complete");
            buffer.AddRange(chunk.AsSpan(0, n));
        }
        var head = Encoding.ASCII.GetString(buffer.GetRange(0, headerEnd).ToArray()).Split("\r\n");
        var requestLine = head[0].Split(' ');
        var headers = head.Skip(1)
            .Select(l => l.Split(':', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        var length = headers.TryGetValue("content-length", out var cl) ? int.Parse(cl) : 0;
        var body = buffer.Skip(headerEnd + 4).ToList();
        while (body.Count < length)
        {
            var n = await stream.ReadAsync(chunk);
            if (n == 0)
                break;
            body.AddRange(chunk.AsSpan(0, n));
        }
        var path = requestLine[1].Split('?')[0];
        return (requestLine[0], path, headers, Encoding.UTF8.GetString(body.ToArray()));
    }

    private static int IndexOfHeaderEnd(List<byte> buffer)
    {
        for (var i = 0; i + 3 < buffer.Count; i++)
            if (buffer[i] == '\r' && buffer[i + 1] == '\n' && buffer[i + 2] == '\r' && buffer[i + 3] == '\n')
                return i;
        return -1;
    }

    /// <summary>A loopback port nothing listens on (bound, then released).</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}

/// <summary>A server that accepts connections and never answers: the client must give up on its own.</summary>
public sealed class SilentServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<TcpClient> _held = [];
    private readonly Task _loop;

    public SilentServer()
    {
        _listener.Start();
        Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";
        _loop = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync();
                    lock (_held)
                        _held.Add(client);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        });
    }

    public string Url { get; }

    public void Dispose()
    {
        _listener.Stop();
        lock (_held)
            foreach (var client in _held)
                client.Dispose();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
