using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Embeddings;
using SkillLoop.Core.Extraction;

namespace SkillLoop.Core.Llama;

/// <summary>AI settings beyond <see cref="SkillLoopOptions"/>, read from the environment.</summary>
public sealed class AiOptions
{
    /// <summary>
    /// <c>SKILLLOOP_EMBEDDING_MODEL</c>: a GGUF path (local llama.cpp embeddings) or, with an endpoint, a model name
    /// there. Unset: the embedded MiniLM.
    /// </summary>
    public string? EmbeddingModel { get; set; }

    /// <summary><c>SKILLLOOP_LLAMA_NATIVE_DIR</c>: where libllama is (default <c>native/llama</c> beside the server).</summary>
    public string? LlamaNativeDirectory { get; set; }

    /// <summary><c>SKILLLOOP_CHAT_CONTEXT</c>: context length of the local chat model in tokens.</summary>
    public int ChatContextLength { get; set; } = 4096;

    /// <summary><c>SKILLLOOP_LLAMA_THREADS</c>: threads per generated token (default: all cores but one).</summary>
    public int? LlamaThreads { get; set; }

    /// <summary><c>SKILLLOOP_LLM_TIMEOUT_SECONDS</c>: per request to the endpoint.</summary>
    public int LlmTimeoutSeconds { get; set; } = 120;

    /// <summary><c>SKILLLOOP_LLM_RETRIES</c>.</summary>
    public int LlmRetries { get; set; } = 2;

    public static void Bind(AiOptions options, IConfiguration config)
    {
        options.EmbeddingModel = NullIfEmpty(config["SKILLLOOP_EMBEDDING_MODEL"]);
        options.LlamaNativeDirectory = NullIfEmpty(config["SKILLLOOP_LLAMA_NATIVE_DIR"]);
        options.ChatContextLength = int.TryParse(config["SKILLLOOP_CHAT_CONTEXT"], out var context) ? context : options.ChatContextLength;
        options.LlamaThreads = int.TryParse(config["SKILLLOOP_LLAMA_THREADS"], out var threads) ? threads : options.LlamaThreads;
        options.LlmTimeoutSeconds = int.TryParse(config["SKILLLOOP_LLM_TIMEOUT_SECONDS"], out var timeout) ? timeout : options.LlmTimeoutSeconds;
        options.LlmRetries = int.TryParse(config["SKILLLOOP_LLM_RETRIES"], out var retries) ? retries : options.LlmRetries;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}

/// <summary>One provider as /api/v1/status shows it.</summary>
/// <param name="Provider"><c>llama.cpp</c>, <c>openai</c>, <c>heuristic</c> (chat) or <c>minilm</c> (embeddings).</param>
/// <param name="Model">The model's name (GGUF file name, endpoint model, all-MiniLM-L6-v2); null for heuristic.</param>
/// <param name="Error">Why a configured provider is not in use (e.g. the GGUF could not be loaded).</param>
public sealed record AiProviderInfo(string Provider, string? Model, int? Dimensions = null, string? Error = null);

/// <summary>The AI providers in use: <c>chat.*</c> and <c>embeddings.*</c> of /api/v1/status.</summary>
public sealed record AiStatusInfo(AiProviderInfo Chat, AiProviderInfo Embeddings);

/// <summary>
/// Chooses the AI providers from the environment, once, on first use:
/// chat = local GGUF (<c>SKILLLOOP_CHAT_MODEL</c>, relative paths under <c>--models</c>) when it loads, else an
/// OpenAI-compatible endpoint (<c>SKILLLOOP_LLM_ENDPOINT/MODEL/API_KEY</c>), else none (heuristic extraction);
/// embeddings = <c>SKILLLOOP_EMBEDDING_MODEL</c> when set, else the embedded MiniLM. A provider that is configured
/// but fails to start is reported in <see cref="Status"/> with its error, and the next one is used.
/// </summary>
public sealed partial class AiRuntime : IIssueExtractorSource, IDisposable
{
    public const string LlamaProvider = "llama.cpp";
    public const string OpenAiProvider = "openai";
    public const string HeuristicProvider = "heuristic";

    private readonly SkillLoopOptions _options;
    private readonly AiOptions _ai;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly Lazy<State> _state;

    public AiRuntime(IOptions<SkillLoopOptions> options, IOptions<AiOptions> ai, ILoggerFactory loggers)
    {
        _options = options.Value;
        _ai = ai.Value;
        _loggers = loggers;
        _logger = loggers.CreateLogger<AiRuntime>();
        _state = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The chat model, or null when none is configured or it failed to start (then extraction is heuristic).</summary>
    public IChatClient? Chat => _state.Value.Chat;

    public IEmbeddingGenerator<string, Embedding<float>> Embeddings => _state.Value.Embeddings;

    /// <summary>The server-side extractor: the chat model's, or the heuristic one.</summary>
    public IIssueExtractor Extractor => _state.Value.Extractor;

    public AiStatusInfo Status => _state.Value.Status;

    public IIssueExtractor GetExtractor() => Extractor;

    public void Dispose()
    {
        if (!_state.IsValueCreated)
        {
            return;
        }

        var state = _state.Value;
        state.Chat?.Dispose();
        state.Embeddings.Dispose();
        state.Model?.Dispose();
        if (!ReferenceEquals(state.EmbeddingModel, state.Model))
        {
            state.EmbeddingModel?.Dispose();
        }
    }

    private State Start()
    {
        LlamaModel? chatModel = null;
        IChatClient? chat = null;
        AiProviderInfo chatInfo = new(HeuristicProvider, null);
        string? chatError = null;

        if (_options.ChatModel is { } modelPath)
        {
            try
            {
                chatModel = LoadModel(modelPath);
                chat = new LlamaChatClient(chatModel, LlamaOptions() with { ContextLength = _ai.ChatContextLength }, _loggers.CreateLogger<LlamaChatClient>());
                chatInfo = new(LlamaProvider, chatModel.Name);
            }
            catch (Exception ex) when (ex is InvalidOperationException or InvalidDataException or IOException)
            {
                chatError = $"SKILLLOOP_CHAT_MODEL {modelPath}: {ex.Message}";
                LogProviderFailed(_logger, "chat", chatError);
            }
        }

        if (chat is null && _options.LlmEndpoint is { } endpoint)
        {
            if (_options.LlmModel is { } model)
            {
                chat = OpenAiEndpoint.CreateChatClient(EndpointOptions(endpoint), model);
                chatInfo = new(OpenAiProvider, model);
            }
            else
            {
                chatError = (chatError is null ? "" : chatError + "; ") + "SKILLLOOP_LLM_ENDPOINT is set without SKILLLOOP_LLM_MODEL";
            }
        }

        chatInfo = chatInfo with { Error = chatError };
        IIssueExtractor extractor = chat is null
            ? new HeuristicIssueExtractor()
            : new LlmIssueExtractor(chat, chatInfo.Model!, _loggers.CreateLogger<LlmIssueExtractor>());

        var (embeddings, embeddingModel, embeddingInfo) = StartEmbeddings(chatModel);
        LogProviders(_logger, chatInfo.Provider, chatInfo.Model ?? "-", embeddingInfo.Provider, embeddingInfo.Model ?? "-");
        return new State(chat, chatModel, embeddings, embeddingModel, extractor, new AiStatusInfo(chatInfo, embeddingInfo));
    }

    private (IEmbeddingGenerator<string, Embedding<float>>, LlamaModel?, AiProviderInfo) StartEmbeddings(LlamaModel? chatModel)
    {
        string? error = null;
        if (_ai.EmbeddingModel is { } configured)
        {
            if (configured.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            {
                try
                {
                    var path = ResolveModelPath(configured);
                    var model = chatModel is not null && chatModel.Path == path ? chatModel : LoadModel(configured);
                    return (new LlamaEmbeddingGenerator(model, LlamaOptions()), model, new(LlamaProvider, model.Name, model.EmbeddingLength));
                }
                catch (Exception ex) when (ex is InvalidOperationException or InvalidDataException or IOException)
                {
                    error = $"SKILLLOOP_EMBEDDING_MODEL {configured}: {ex.Message}";
                }
            }
            else if (_options.LlmEndpoint is { } endpoint)
            {
                return (OpenAiEndpoint.CreateEmbeddingGenerator(EndpointOptions(endpoint), configured), null, new(OpenAiProvider, configured));
            }
            else
            {
                error = $"SKILLLOOP_EMBEDDING_MODEL {configured} is neither a .gguf file nor usable without SKILLLOOP_LLM_ENDPOINT";
            }

            LogProviderFailed(_logger, "embeddings", error);
        }

        return (new MiniLmEmbeddingGenerator(), null,
            new(MiniLmEmbeddingGenerator.ProviderName, MiniLmEmbeddingGenerator.ModelName, MiniLmEmbeddingGenerator.Dimensions, error));
    }

    private LlamaModel LoadModel(string configured)
    {
        var info = LlamaRuntime.TryInitialize(_ai.LlamaNativeDirectory, _loggers.CreateLogger(typeof(LlamaRuntime).FullName!));
        if (!info.IsAvailable)
        {
            throw new InvalidOperationException($"llama.cpp is not available ({info.Error})");
        }

        return LlamaModel.Load(ResolveModelPath(configured));
    }

    private LlamaClientOptions LlamaOptions() =>
        _ai.LlamaThreads is { } threads ? new LlamaClientOptions { Threads = threads } : new LlamaClientOptions();

    private string ResolveModelPath(string configured) =>
        Path.IsPathRooted(configured) || File.Exists(configured)
            ? Path.GetFullPath(configured)
            : Path.GetFullPath(Path.Combine(_options.ModelsDirectory, configured));

    private OpenAiEndpointOptions EndpointOptions(string endpoint) => new(OpenAiEndpoint.NormalizeEndpoint(endpoint), _options.LlmApiKey)
    {
        Timeout = TimeSpan.FromSeconds(Math.Max(1, _ai.LlmTimeoutSeconds)),
        MaxRetries = Math.Max(0, _ai.LlmRetries),
    };

    private sealed record State(
        IChatClient? Chat,
        LlamaModel? Model,
        IEmbeddingGenerator<string, Embedding<float>> Embeddings,
        LlamaModel? EmbeddingModel,
        IIssueExtractor Extractor,
        AiStatusInfo Status);

    [LoggerMessage(Level = LogLevel.Information, Message = "AI providers: chat {ChatProvider} ({ChatModel}), embeddings {EmbeddingProvider} ({EmbeddingModel})")]
    private static partial void LogProviders(ILogger logger, string chatProvider, string chatModel, string embeddingProvider, string embeddingModel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Configured {Role} provider not in use: {Error}")]
    private static partial void LogProviderFailed(ILogger logger, string role, string error);
}
