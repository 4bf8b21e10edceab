using System.Text.Json;
using Microsoft.Extensions.AI;
using SkillLoop.Core.Ai.OpenAi;
using SkillLoop.Core.Extraction;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Ai.OpenAi;

public sealed class OpenAiEndpointTests : IAsyncLifetime
{
    private FakeOpenAiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeOpenAiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private OpenAiEndpointOptions Options(int retries = 2, double timeoutSeconds = 10) => new(_server.V1, "test-key")
    {
        MaxRetries = retries,
        Timeout = TimeSpan.FromSeconds(timeoutSeconds),
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
    };

    [Fact]
    public async Task A_chat_request_reaches_the_endpoint_with_model_key_and_messages()
    {
        using var chat = OpenAiEndpoint.CreateChatClient(Options(), "qwen2.5");

        var response = await chat.GetResponseAsync([new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hi")]);

        Assert.Equal("Hello from the fake.", response.Text);
        var request = Assert.Single(_server.Requests);
        Assert.Equal("/v1/chat/completions", request.Path);
        Assert.Equal("Bearer test-key", request.Authorization);
        Assert.Equal("qwen2.5", request.Body.GetProperty("model").GetString());
        Assert.Equal(2, request.Body.GetProperty("messages").GetArrayLength());
    }

    [Fact]
    public async Task A_json_schema_response_format_is_sent_as_json_schema()
    {
        using var chat = OpenAiEndpoint.CreateChatClient(Options(), "m");
        await chat.GetResponseAsync([new(ChatRole.User, "x")], new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(LlmIssueExtractor.Schema, "signal_issue") });

        var format = Assert.Single(_server.Requests).Body.GetProperty("response_format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.Equal("signal_issue", format.GetProperty("json_schema").GetProperty("name").GetString());
    }

    [Fact]
    public async Task Streaming_yields_the_pieces_of_the_answer()
    {
        _server.DefaultContent = "streamed answer text";
        using var chat = OpenAiEndpoint.CreateChatClient(Options(), "m");
        var pieces = new List<string>();
        await foreach (var update in chat.GetStreamingResponseAsync([new(ChatRole.User, "x")]))
        {
            pieces.Add(update.Text);
        }

        Assert.True(pieces.Count(p => p.Length > 0) > 1);
        Assert.Equal("streamed answer text", string.Concat(pieces));
    }

    [Fact]
    public async Task A_server_error_is_retried_with_backoff_and_then_succeeds()
    {
        _server.Enqueue(500, """{"error":{"message":"overloaded"}}""");
        _server.Enqueue(503, """{"error":{"message":"still overloaded"}}""");
        using var chat = OpenAiEndpoint.CreateChatClient(Options(retries: 2), "m");

        var response = await chat.GetResponseAsync([new(ChatRole.User, "x")]);

        Assert.Equal("Hello from the fake.", response.Text);
        Assert.Equal(3, _server.Requests.Count);
    }

    [Fact]
    public async Task Persistent_server_errors_end_in_a_clear_error_after_the_retries()
    {
        for (var i = 0; i < 3; i++)
        {
            _server.Enqueue(503, """{"error":{"message":"model is loading"}}""");
        }

        using var chat = OpenAiEndpoint.CreateChatClient(Options(retries: 2), "m");
        var error = await Assert.ThrowsAsync<AiEndpointException>(() => chat.GetResponseAsync([new(ChatRole.User, "x")]));

        Assert.Equal(503, error.StatusCode);
        Assert.Contains("HTTP 503", error.Message);
        Assert.Contains("not ready", error.Message);
        Assert.DoesNotContain("model is loading", error.Message); // the body is not passed on
        Assert.Contains(_server.V1.ToString(), error.Message);
        Assert.Equal(3, _server.Requests.Count);
    }

    [Fact]
    public async Task A_client_error_is_not_retried_and_gives_a_short_reason_without_the_body()
    {
        _server.Enqueue(404, """{"error":{"message":"model 'nope' not found at internal-host-10.0.3.7"}}""");
        using var chat = OpenAiEndpoint.CreateChatClient(Options(), "nope");

        var error = await Assert.ThrowsAsync<AiEndpointException>(() => chat.GetResponseAsync([new(ChatRole.User, "x")]));

        Assert.Equal(404, error.StatusCode);
        Assert.Contains("HTTP 404: not found (check the endpoint URL and the model name)", error.Message);
        Assert.DoesNotContain("internal-host", error.Message);
        Assert.Single(_server.Requests);
    }

    [Fact]
    public async Task A_silent_endpoint_times_out_with_a_clear_error()
    {
        for (var i = 0; i < 2; i++)
        {
            _server.EnqueueDelay(TimeSpan.FromSeconds(30));
        }

        using var chat = OpenAiEndpoint.CreateChatClient(Options(retries: 1, timeoutSeconds: 0.3), "m");
        var error = await Assert.ThrowsAsync<AiEndpointException>(() => chat.GetResponseAsync([new(ChatRole.User, "x")]));

        Assert.Contains("did not answer within 0.3 s (1 retries)", error.Message);
        Assert.IsType<AggregateException>(error.InnerException); // one failure per try
    }

    [Fact]
    public async Task An_unreachable_endpoint_gives_a_clear_error()
    {
        var closed = _server.V1;
        await _server.DisposeAsync();
        _server = await FakeOpenAiServer.StartAsync();
        using var chat = OpenAiEndpoint.CreateChatClient(new OpenAiEndpointOptions(closed, null) { MaxRetries = 0 }, "m");

        var error = await Assert.ThrowsAsync<AiEndpointException>(() => chat.GetResponseAsync([new(ChatRole.User, "x")]));
        Assert.Contains("could not be reached", error.Message);
    }

    [Fact]
    public async Task Cancellation_is_passed_through_not_turned_into_a_timeout()
    {
        _server.EnqueueDelay(TimeSpan.FromSeconds(30));
        using var chat = OpenAiEndpoint.CreateChatClient(Options(), "m");
        using var cts = new CancellationTokenSource();
        var call = chat.GetResponseAsync([new(ChatRole.User, "x")], cancellationToken: cts.Token);
        while (_server.Requests.IsEmpty)
        {
            await Task.Delay(10);
        }

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Fact]
    public async Task Embeddings_come_back_in_input_order()
    {
        using var generator = OpenAiEndpoint.CreateEmbeddingGenerator(Options(), "text-embedding-v3");

        var embeddings = await generator.GenerateAsync(["a b", "hello world again"]);

        Assert.Equal([3f, 1f, 1f], embeddings[0].Vector.ToArray());
        Assert.Equal([17f, 6f, 2f], embeddings[1].Vector.ToArray());
        var request = Assert.Single(_server.Requests);
        Assert.Equal("/v1/embeddings", request.Path);
        Assert.Equal("text-embedding-v3", request.Body.GetProperty("model").GetString());
    }

    [Fact]
    public async Task The_llm_extractor_works_through_the_endpoint()
    {
        _server.EnqueueChat("""{"problemPattern":"The agent ran npm instead of pnpm.","rootCause":"The skill does not name the package manager.","expectedBehavior":"Use pnpm.","evidenceQuote":"use pnpm","severity":"low","confidence":0.7}""");
        using var chat = OpenAiEndpoint.CreateChatClient(Options(), "qwen-plus");

        var issue = await new LlmIssueExtractor(chat, "qwen-plus").ExtractAsync(new ExtractionRequest("use pnpm", "node", null, []), CancellationToken.None);

        Assert.Equal("server:qwen-plus", issue.ExtractedBy);
        Assert.Equal("low", issue.Severity);
    }

    [Fact]
    public async Task An_endpoint_without_json_schema_support_is_asked_for_plain_json()
    {
        _server.Enqueue(400, """{"error":{"message":"response_format type json_schema is not supported"}}""");
        _server.EnqueueChat("""{"problemPattern":"The agent ran npm instead of pnpm.","rootCause":"The skill does not name the package manager.","expectedBehavior":"Use pnpm.","evidenceQuote":"use pnpm","severity":"low","confidence":0.7}""");
        using var chat = OpenAiEndpoint.CreateChatClient(Options(), "qwen-turbo");

        var issue = await new LlmIssueExtractor(chat, "qwen-turbo").ExtractAsync(new ExtractionRequest("use pnpm", "node", null, []), CancellationToken.None);

        Assert.Equal("low", issue.Severity);
        var second = _server.Requests.ToArray()[1].Body;
        Assert.Equal("json_object", second.GetProperty("response_format").GetProperty("type").GetString());
        Assert.Contains("problemPattern", second.GetProperty("messages")[0].GetProperty("content").GetString());
    }

    [Theory]
    [InlineData("http://127.0.0.1:11434", "http://127.0.0.1:11434/v1")]
    [InlineData("http://127.0.0.1:11434/", "http://127.0.0.1:11434/v1")]
    [InlineData("https://dashscope.aliyuncs.com/compatible-mode/v1/", "https://dashscope.aliyuncs.com/compatible-mode/v1")]
    [InlineData("http://localhost:8000/v1", "http://localhost:8000/v1")]
    public void Endpoints_without_a_path_get_v1(string configured, string expected) =>
        Assert.Equal(expected, OpenAiEndpoint.NormalizeEndpoint(configured).ToString());
}
