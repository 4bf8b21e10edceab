using System.ClientModel;
using System.ClientModel.Primitives;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OpenAI;

namespace SkillLoop.Core.Ai.OpenAi;

/// <summary>How to reach an OpenAI-compatible endpoint (vLLM, Ollama, LM Studio, DashScope compatible mode, OpenAI).</summary>
public sealed record OpenAiEndpointOptions(Uri Endpoint, string? ApiKey)
{
    /// <summary>Per HTTP attempt; local models can be slow to answer a long prompt.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Retries on connection errors, timeouts, 408, 429 and 5xx (Retry-After is honoured).</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>First retry delay; doubled per retry.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Where an error's response body goes (Debug only: it may quote internal details, prompts or keys).</summary>
    public Microsoft.Extensions.Logging.ILogger? Logger { get; init; }
}

/// <summary>A call to the LLM endpoint failed after its retries; the message says where, what and why.</summary>
public sealed class AiEndpointException(string message, int? statusCode, Exception? innerException)
    : Exception(message, innerException)
{
    public int? StatusCode { get; } = statusCode;
}

/// <summary>Builds Microsoft.Extensions.AI clients for an OpenAI-compatible endpoint.</summary>
public static partial class OpenAiEndpoint
{
    /// <summary>"http://host:11434" → "http://host:11434/v1": the OpenAI client appends "/chat/completions" to what it is given.</summary>
    public static Uri NormalizeEndpoint(string endpoint)
    {
        var uri = new Uri(endpoint.Trim(), UriKind.Absolute);
        return uri.AbsolutePath is "" or "/" ? new Uri(uri, "/v1") : new Uri(uri.ToString().TrimEnd('/'));
    }

    public static IChatClient CreateChatClient(OpenAiEndpointOptions options, string model) =>
        new EndpointChatClient(CreateClient(options).GetChatClient(model).AsIChatClient(), options);

    public static IEmbeddingGenerator<string, Embedding<float>> CreateEmbeddingGenerator(OpenAiEndpointOptions options, string model, int? dimensions = null) =>
        new EndpointEmbeddingGenerator(CreateClient(options).GetEmbeddingClient(model).AsIEmbeddingGenerator(dimensions), options);

    private static OpenAIClient CreateClient(OpenAiEndpointOptions options) =>
        // Local servers (Ollama, vLLM without --api-key) take any key; the SDK insists on one.
        new(new ApiKeyCredential(string.IsNullOrEmpty(options.ApiKey) ? "none" : options.ApiKey), new OpenAIClientOptions
        {
            Endpoint = options.Endpoint,
            NetworkTimeout = options.Timeout,
            RetryPolicy = new BackoffRetryPolicy(options.MaxRetries, options.RetryBaseDelay),
            UserAgentApplicationId = "skillloop",
        });

    internal static Exception Translate(Exception ex, OpenAiEndpointOptions options, CancellationToken cancellationToken) => ex switch
    {
        // The retry policy gathers the failures of every try; the last one says what finally went wrong.
        AggregateException { InnerExceptions.Count: > 0 } all when Translate(all.InnerExceptions[^1], options, cancellationToken) is AiEndpointException last =>
            new AiEndpointException(last.Message, last.StatusCode, ex),
        ClientResultException { Status: > 0 } http => new AiEndpointException(
            $"The LLM endpoint {options.Endpoint} answered HTTP {http.Status}{Detail(http, options)} (after {options.MaxRetries} retries where retrying helps).", http.Status, ex),
        OperationCanceledException when !cancellationToken.IsCancellationRequested => new AiEndpointException(
            $"The LLM endpoint {options.Endpoint} did not answer within {options.Timeout.TotalSeconds:0.#} s ({options.MaxRetries} retries).", null, ex),
        ClientResultException or HttpRequestException or IOException => new AiEndpointException(
            $"The LLM endpoint {options.Endpoint} could not be reached: {ex.Message}", null, ex),
        _ => ex,
    };

    /// <summary>
    /// A short reason by status code. The body itself is never passed on: an endpoint (or whatever answers at its
    /// address) may put internal details, the prompt or the refused key in it. It goes to the Debug log only.
    /// </summary>
    private static string Detail(ClientResultException ex, OpenAiEndpointOptions options)
    {
        var body = ex.GetRawResponse()?.Content?.ToString();
        if (!string.IsNullOrWhiteSpace(body) && options.Logger is { } logger)
        {
            body = body.ReplaceLineEndings(" ").Trim();
            LogErrorBody(logger, options.Endpoint.ToString(), ex.Status,
                SecretRedactor.Redact(string.IsNullOrEmpty(options.ApiKey) ? body : body.Replace(options.ApiKey, "***", StringComparison.Ordinal)));
        }

        return ": " + ReasonFor(ex.Status);
    }

    /// <summary>What an HTTP status from an OpenAI-compatible endpoint usually means, in a few words.</summary>
    internal static string ReasonFor(int status) => status switch
    {
        400 => "the request was refused (an unknown model or an unsupported option, such as response_format)",
        401 => "the API key was refused",
        403 => "the API key may not use this model or endpoint",
        404 => "not found (check the endpoint URL and the model name)",
        408 => "the endpoint timed out",
        413 => "the request was too large for the endpoint",
        422 => "the request was refused as invalid",
        429 => "rate limited or out of quota",
        >= 500 and < 600 => "the endpoint had an error or is not ready (a model still loading, say)",
        _ => "unexpected status",
    };

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Debug, Message = "The LLM endpoint {Endpoint} answered HTTP {Status} with: {Body}")]
    private static partial void LogErrorBody(Microsoft.Extensions.Logging.ILogger logger, string endpoint, int status, string body);

    private static bool IsTranslated(Exception ex, OpenAiEndpointOptions options, CancellationToken cancellationToken, out Exception translated)
    {
        translated = Translate(ex, options, cancellationToken);
        return !ReferenceEquals(translated, ex);
    }

    private sealed class BackoffRetryPolicy(int maxRetries, TimeSpan baseDelay) : ClientRetryPolicy(maxRetries)
    {
        protected override TimeSpan GetNextDelay(PipelineMessage message, int tryCount)
        {
            // Retry-After from a 429/503 wins over our own schedule.
            if (message.Response?.Headers.TryGetValue("Retry-After", out var value) == true
                && int.TryParse(value, out var seconds) && seconds is > 0 and <= 60)
            {
                return TimeSpan.FromSeconds(seconds);
            }

            return baseDelay * Math.Pow(2, Math.Max(0, tryCount - 1));
        }
    }

    private sealed class EndpointChatClient(IChatClient inner, OpenAiEndpointOptions options) : DelegatingChatClient(inner)
    {
        public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? chatOptions = null, CancellationToken cancellationToken = default)
        {
            try
            {
                return await base.GetResponseAsync(messages, chatOptions, cancellationToken);
            }
            catch (Exception ex) when (IsTranslated(ex, options, cancellationToken, out var translated))
            {
                throw translated;
            }
        }

        public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages,
            ChatOptions? chatOptions = null,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await using var updates = base.GetStreamingResponseAsync(messages, chatOptions, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                try
                {
                    if (!await updates.MoveNextAsync())
                    {
                        yield break;
                    }
                }
                catch (Exception ex) when (IsTranslated(ex, options, cancellationToken, out var translated))
                {
                    throw translated;
                }

                yield return updates.Current;
            }
        }
    }

    private sealed class EndpointEmbeddingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner, OpenAiEndpointOptions options)
        : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
    {
        public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? generationOptions = null, CancellationToken cancellationToken = default)
        {
            try
            {
                return await base.GenerateAsync(values, generationOptions, cancellationToken);
            }
            catch (Exception ex) when (IsTranslated(ex, options, cancellationToken, out var translated))
            {
                throw translated;
            }
        }
    }
}
