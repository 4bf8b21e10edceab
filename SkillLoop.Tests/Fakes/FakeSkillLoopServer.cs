using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Tests.Fakes;

/// <summary>
/// A tiny stand-in for the SkillLoop server's client API on 127.0.0.1, with the real cursor rule: a batch is
/// accepted only when its FromOffset equals the stored cursor, else 409.
/// </summary>
public sealed class FakeSkillLoopServer : IDisposable
{
    private readonly HttpListener _listener;
    private readonly ConcurrentDictionary<string, SessionCursor> _cursors = new();
    private readonly TaskCompletionSource<SignalBatch> _firstBatch = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;

    public FakeSkillLoopServer(string token = "test-token")
    {
        Token = token;
        // A free port can be taken by a parallel test before we bind it: pick another one.
        for (var attempt = 0; ; attempt++)
        {
            Port = FreePort();
            Url = $"http://127.0.0.1:{Port}/";
            _listener = new HttpListener();
            _listener.Prefixes.Add(Url);
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 20)
            {
                try { _listener.Close(); } catch (HttpListenerException) { } catch (ObjectDisposedException) { }
            }
        }
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
    public ConcurrentQueue<string> Requests { get; } = new();

    public Task<SignalBatch> FirstBatch => _firstBatch.Task;

    public SessionCursor? CursorOf(string platform, string session) =>
        _cursors.TryGetValue($"{platform}/{session}", out var c) ? c : null;

    public void SetCursor(SessionCursor cursor) => _cursors[$"{cursor.Platform}/{cursor.SessionId}"] = cursor;

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            try
            {
                await HandleAsync(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var path = request.Url!.AbsolutePath;
        Requests.Enqueue($"{request.HttpMethod} {path}");
        if (request.Headers["Authorization"] != $"Bearer {Token}")
        {
            await RespondAsync(context, 401, "");
            return;
        }
        if (request.HttpMethod == "GET" && path == "/api/v1/client/config")
        {
            if (Config is null)
                await RespondAsync(context, 500, "");
            else
                await RespondAsync(context, 200, JsonSerializer.Serialize(Config, HooksJsonContext.Default.ClientConfig));
            return;
        }
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (request.HttpMethod == "GET" && parts is ["api", "v1", "sessions", var platform, var session, "cursor"])
        {
            var cursor = CursorOf(platform, session) ?? new SessionCursor(platform, session, 0, null, null);
            await RespondAsync(context, 200, JsonSerializer.Serialize(cursor, HooksJsonContext.Default.SessionCursor));
            return;
        }
        if (request.HttpMethod == "POST" && path == "/api/v1/signals")
        {
            using var reader = new StreamReader(request.InputStream, Encoding.UTF8);
            var batch = JsonSerializer.Deserialize(await reader.ReadToEndAsync(), HooksJsonContext.Default.SignalBatch)!;
            var stored = CursorOf(batch.Platform, batch.SessionId)?.Offset ?? 0;
            if (ConflictOnPost || batch.FromOffset != stored)
            {
                await RespondAsync(context, 409, "");
                return;
            }
            SetCursor(batch.Cursor);
            Batches.Enqueue(batch);
            _firstBatch.TrySetResult(batch);
            var result = new SignalBatchResult(batch.Corrections.Count, 0, batch.Cursor);
            await RespondAsync(context, 200, JsonSerializer.Serialize(result, HooksJsonContext.Default.SignalBatchResult));
            return;
        }
        await RespondAsync(context, 404, "");
    }

    private static async Task RespondAsync(HttpListenerContext context, int status, string json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var bytes = Encoding.UTF8.GetBytes(json);
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes);
        context.Response.Close();
    }

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
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
