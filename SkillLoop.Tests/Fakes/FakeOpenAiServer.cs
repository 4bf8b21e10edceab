using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace SkillLoop.Tests.Fakes;

/// <summary>A request the fake server received.</summary>
public sealed record FakeRequest(string Path, string? Authorization, JsonElement Body);

/// <summary>
/// An OpenAI-compatible endpoint on 127.0.0.1 (Kestrel, port 0): <c>/v1/chat/completions</c> (plain and streamed)
/// and <c>/v1/embeddings</c>. Tests script answers per request (status, body, delay) and read what was sent.
/// </summary>
public sealed class FakeOpenAiServer : IAsyncDisposable
{
    private WebApplication _app = null!;
    private readonly ConcurrentQueue<Func<HttpContext, JsonElement, Task>> _script = new();

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The OpenAI-style base (…/v1).</summary>
    public Uri V1 => new(BaseAddress, "/v1");

    public ConcurrentQueue<FakeRequest> Requests { get; } = new();

    /// <summary>What a chat completion answers when nothing is scripted.</summary>
    public string DefaultContent { get; set; } = "Hello from the fake.";

    public static async Task<FakeOpenAiServer> StartAsync()
    {
        var server = new FakeOpenAiServer();
        (server._app, server.BaseAddress) = await LoopbackApp.StartAsync(app =>
        {
            app.MapPost("/v1/chat/completions", server.HandleAsync);
            app.MapPost("/v1/embeddings", server.HandleAsync);
        });
        return server;
    }

    /// <summary>The next request is answered with this status and body.</summary>
    public void Enqueue(int status, string body) => _script.Enqueue(async (context, _) =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body, context.RequestAborted);
    });

    /// <summary>The next request gets no answer for <paramref name="delay"/> (or until the client gives up).</summary>
    public void EnqueueDelay(TimeSpan delay) => _script.Enqueue(async (context, body) =>
    {
        await Task.Delay(delay, context.RequestAborted);
        await DefaultAsync(context, body);
    });

    public void EnqueueChat(string content) => _script.Enqueue((context, _) => WriteChatAsync(context, content));

    public static string ChatCompletion(string content, string model = "fake-model") => JsonSerializer.Serialize(new
    {
        id = "chatcmpl-1",
        @object = "chat.completion",
        created = 1_700_000_000,
        model,
        choices = new[] { new { index = 0, message = new { role = "assistant", content }, finish_reason = "stop" } },
        usage = new { prompt_tokens = 12, completion_tokens = 5, total_tokens = 17 },
    });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        var body = document.RootElement.Clone();
        Requests.Enqueue(new FakeRequest(context.Request.Path, context.Request.Headers.Authorization.ToString(), body));
        try
        {
            await (_script.TryDequeue(out var scripted) ? scripted(context, body) : DefaultAsync(context, body));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client gave up (timeout test).
        }
    }

    /// <summary>How long every unscripted answer takes (a slow model).</summary>
    public TimeSpan DefaultDelay { get; set; }

    private async Task DefaultAsync(HttpContext context, JsonElement body)
    {
        if (DefaultDelay > TimeSpan.Zero)
        {
            await Task.Delay(DefaultDelay, context.RequestAborted);
        }

        await DefaultAnswerAsync(context, body);
    }

    private Task DefaultAnswerAsync(HttpContext context, JsonElement body) =>
        context.Request.Path.Value!.EndsWith("/embeddings", StringComparison.Ordinal)
            ? WriteEmbeddingsAsync(context, body)
            : WriteChatAsync(context, DefaultContent, body.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True);

    private static async Task WriteChatAsync(HttpContext context, string content, bool stream = false)
    {
        if (!stream)
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(ChatCompletion(content), context.RequestAborted);
            return;
        }

        context.Response.ContentType = "text/event-stream";
        var pieces = content.Chunk(4).Select(c => new string(c)).ToList();
        var sse = new StringBuilder();
        for (var i = 0; i < pieces.Count; i++)
        {
            sse.Append("data: ").Append(JsonSerializer.Serialize(new
            {
                id = "chatcmpl-1",
                @object = "chat.completion.chunk",
                created = 1_700_000_000,
                model = "fake-model",
                choices = new[] { new { index = 0, delta = new { role = i == 0 ? "assistant" : null, content = pieces[i] }, finish_reason = i == pieces.Count - 1 ? "stop" : null } },
            })).Append("\n\n");
        }

        sse.Append("data: [DONE]\n\n");
        await context.Response.WriteAsync(sse.ToString(), context.RequestAborted);
    }

    private static async Task WriteEmbeddingsAsync(HttpContext context, JsonElement body)
    {
        var inputs = body.GetProperty("input");
        var texts = inputs.ValueKind == JsonValueKind.Array ? inputs.EnumerateArray().Select(e => e.GetString() ?? "").ToList() : [inputs.GetString() ?? ""];
        // A deterministic 3-d vector per text: length, vowels, spaces.
        var data = texts.Select((t, i) => new
        {
            @object = "embedding",
            index = i,
            embedding = new[] { t.Length, t.Count(c => "aeiou".Contains(c)), t.Count(c => c == ' ') }.Select(v => (float)v).ToArray(),
        });
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            @object = "list",
            data,
            model = body.GetProperty("model").GetString(),
            usage = new { prompt_tokens = 3, total_tokens = 3 },
        }), context.RequestAborted);
    }
}
