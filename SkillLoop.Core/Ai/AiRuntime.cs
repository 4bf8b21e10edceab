using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Ai.MiniLm;
using SkillLoop.Core.Ai.OpenAi;
using SkillLoop.Core.Extraction;

namespace SkillLoop.Core.Ai;

/// <summary>AI settings beyond <see cref="SkillLoopOptions"/>, read from the environment.</summary>
public sealed class AiOptions
{
    /// <summary>
    /// <c>SKILLLOOP_EMBEDDING_MODEL</c>: a GGUF path (local llama.cpp embeddings) or, with an endpoint, a model name
    /// there. Unset: the embedded MiniLM.
    /// </summary>
    public string? EmbeddingModel { get; set; }

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
/// The AI providers in use. They start from the settings saved in the dashboard (<see cref="AiSettings"/>), or,
/// while nothing is saved, from the environment, as before settings existed:
/// chat = local GGUF (<c>SKILLLOOP_CHAT_MODEL</c>, relative paths under <c>--models</c>) when it loads, else an
/// OpenAI-compatible endpoint (<c>SKILLLOOP_LLM_ENDPOINT/MODEL/API_KEY</c>), else none (heuristic extraction);
/// embeddings = <c>SKILLLOOP_EMBEDDING_MODEL</c> when set, else the embedded MiniLM. A provider that is configured
/// but fails to start is reported in <see cref="Status"/> with its error, and the default is used.
/// Built on first use (loading a model must not hold up start); <see cref="Apply"/> replaces them at run time.
/// <see cref="Chat"/>, <see cref="Embeddings"/> and <see cref="Extractor"/> are stable objects that forward each
/// call to the providers current when the call starts, and keep those alive until it ends.
/// </summary>
public sealed partial class AiRuntime : IIssueExtractorSource, IDisposable
{
    public const string LlamaProvider = AiProviders.Llama;
    public const string OpenAiProvider = AiProviders.OpenAi;
    public const string HeuristicProvider = AiProviders.Heuristic;

    /// <summary>Provider tests give up sooner than extraction does, and do not retry.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(30);

    private readonly SkillLoopOptions _options;
    private readonly AiOptions _ai;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly CurrentChatClient _chat;
    private readonly CurrentEmbeddingGenerator _embeddings;
    private readonly CurrentExtractor _extractor;
    private AiConfiguration _next;
    private AiGeneration? _current;
    private bool _disposed;

    public AiRuntime(IOptions<SkillLoopOptions> options, IOptions<AiOptions> ai, ILoggerFactory loggers)
    {
        _options = options.Value;
        _ai = ai.Value;
        _loggers = loggers;
        _logger = loggers.CreateLogger<AiRuntime>();
        Defaults = AiConfiguration.FromEnvironment(_options, _ai);
        _next = Defaults;
        _chat = new CurrentChatClient(this);
        _embeddings = new CurrentEmbeddingGenerator(this);
        _extractor = new CurrentExtractor(this);
    }

    /// <summary>The configuration from the environment: what runs while no settings are saved.</summary>
    public AiConfiguration Defaults { get; }

    /// <summary>The chat model, or null when none is configured or it failed to start (then extraction is heuristic).</summary>
    public IChatClient? Chat
    {
        get
        {
            using var lease = Lease();
            return lease.Chat is null ? null : _chat;
        }
    }

    /// <summary>The embedding generator in use (the one registered for clustering): follows every change of settings.</summary>
    public IEmbeddingGenerator<string, Embedding<float>> Embeddings => _embeddings;

    /// <summary>The server-side extractor: the chat model's, or the heuristic one.</summary>
    public IIssueExtractor Extractor => _extractor;

    public AiStatusInfo Status => Current().Status;

    /// <summary>The configuration the current providers were built from.</summary>
    public AiConfiguration Configuration => Current().Configuration;

    public IIssueExtractor GetExtractor() => Extractor;

    /// <summary>The current providers, kept alive (not disposed by a settings change) until the lease is disposed.</summary>
    public AiLease Lease()
    {
        while (true)
        {
            var generation = Current();
            if (generation.TryAcquire())
            {
                return new AiLease(generation);
            }

            // Replaced and drained between the read and the acquire: the next read sees its successor.
        }
    }

    /// <summary>
    /// The configuration to start with (the saved settings, read at start-up). Applied at once when the providers
    /// have already been built.
    /// </summary>
    public void UseConfiguration(AiConfiguration configuration)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_current is null)
            {
                _next = configuration;
                return;
            }
        }

        Apply(configuration);
    }

    /// <summary>
    /// Builds the providers of <paramref name="configuration"/> now (loading a GGUF takes a while) and makes them
    /// current; the replaced ones are disposed when their last in-flight call ends.
    /// </summary>
    public AiStatusInfo Apply(AiConfiguration configuration)
    {
        AiGeneration? previous;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            previous = _current is { } current && current.TryAcquire() ? current : null;
        }

        AiGeneration next;
        try
        {
            // A role whose settings did not change keeps its loaded providers.
            next = Build(configuration, previous);
        }
        finally
        {
            previous?.Release();
        }

        lock (_gate)
        {
            if (_disposed)
            {
                next.Release();
                throw new ObjectDisposedException(nameof(AiRuntime));
            }

            previous = _current;
            _next = configuration;
            Volatile.Write(ref _current, next);
        }

        previous?.Release();
        return next.Status;
    }

    public void Dispose()
    {
        AiGeneration? current;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            current = _current;
        }

        current?.Release();
    }

    /// <summary>A one-off chat client for <paramref name="config"/> (provider tests); null with the reason when it cannot start.</summary>
    internal ProbeChat StartChatProbe(AiProviderConfig config, string source)
    {
        var part = StartChat(new AiConfiguration(config, new AiProviderConfig(AiProviders.MiniLm)) { Source = source }, probe: true);
        return new ProbeChat(part.Info.Provider == config.Provider ? part.Chat : null, part.Info, [part.Chat, part.Model]);
    }

    /// <summary>A one-off embedding generator for <paramref name="config"/> (provider tests); null with the reason when it cannot start.</summary>
    internal ProbeEmbeddings StartEmbeddingsProbe(AiProviderConfig config, string source)
    {
        var part = StartEmbeddings(new AiConfiguration(new AiProviderConfig(AiProviders.Heuristic), config) { Source = source }, null, probe: true);
        return new ProbeEmbeddings(part.Info.Provider == config.Provider && part.Info.Error is null ? part.Embeddings : null, part.Info, [part.Embeddings, part.Model]);
    }

    /// <summary>Where a GGUF of the environment configuration is: absolute, relative to the working directory, or under --models.</summary>
    internal string ResolveEnvironmentModelPath(string configured) =>
        Path.IsPathRooted(configured) || File.Exists(configured)
            ? Path.GetFullPath(configured)
            : Path.GetFullPath(Path.Combine(_options.ModelsDirectory, configured));

    private AiGeneration Current()
    {
        if (Volatile.Read(ref _current) is { } current && !_disposed)
        {
            return current;
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // First use: building under the lock makes concurrent first callers wait for the one build.
            return _current ??= Build(_next, null);
        }
    }

    private AiGeneration Build(AiConfiguration configuration, AiGeneration? previous)
    {
        ChatSlot chat;
        if (previous is not null && previous.ChatSlot.Info.Error is null && SameProvider(previous.Configuration, previous.Configuration.Chat, configuration, configuration.Chat))
        {
            chat = previous.ChatSlot.Share();
        }
        else
        {
            var part = StartChat(configuration, probe: false);
            if (part.Chat is null && part.Info.Error is { } chatError && previous?.ChatSlot is { Chat: not null } running)
            {
                // The new choice cannot start (a truncated GGUF, say): keep serving with the one that runs, and say so.
                chat = running.Share() with { Info = running.Info with { Error = $"{chatError}; still using {running.Info.Model}" } };
            }
            else
            {
                chat = NewChatSlot(part);
            }
        }

        EmbeddingSlot embeddings;
        if (previous is not null && previous.EmbeddingSlot.Info.Error is null && SameProvider(previous.Configuration, previous.Configuration.Embeddings, configuration, configuration.Embeddings))
        {
            embeddings = previous.EmbeddingSlot.Share();
        }
        else
        {
            var part = StartEmbeddings(configuration, chat.Model, probe: false);
            if (part.Info.Error is { } embeddingError && previous?.EmbeddingSlot is { } running)
            {
                // Falling back to MiniLM would re-embed every signal for a setting that did not take: keep the one that runs.
                part.Embeddings.Dispose();
                embeddings = running.Share() with { Info = running.Info with { Error = $"{embeddingError}; still using {running.Info.Model}" } };
            }
            else
            {
                var model = part.Model is null ? null
                    : ReferenceEquals(part.Model, chat.Model) ? chat.ModelResource!.AddReference()
                    : new SharedResource(part.Model);
                embeddings = new EmbeddingSlot(part.Embeddings, part.Info,
                    new[] { new SharedResource(part.Embeddings), model }.OfType<SharedResource>().ToList());
            }
        }

        LogProviders(_logger, configuration.Source, chat.Info.Provider, chat.Info.Model ?? "-", embeddings.Info.Provider, embeddings.Info.Model ?? "-");
        return new AiGeneration(configuration, chat, embeddings, _logger);
    }

    private ChatSlot NewChatSlot(ChatPart part)
    {
        IIssueExtractor extractor = part.Chat is null
            ? new HeuristicIssueExtractor()
            : new LlmIssueExtractor(part.Chat, part.Info.Model!, _loggers.CreateLogger<LlmIssueExtractor>());
        var model = part.Model is null ? null : new SharedResource(part.Model);
        return new ChatSlot(part.Chat, extractor, part.Info,
            new[] { part.Chat is null ? null : new SharedResource(part.Chat), model }.OfType<SharedResource>().ToList(),
            part.Model, model);
    }

    /// <summary>Whether two settings of a role run the same thing (then the loaded providers are kept).</summary>
    private bool SameProvider(AiConfiguration a, AiProviderConfig aConfig, AiConfiguration b, AiProviderConfig bConfig)
    {
        if (aConfig.Error is not null || bConfig.Error is not null || aConfig.Provider != bConfig.Provider
            || aConfig.Endpoint != bConfig.Endpoint || aConfig.ApiKey != bConfig.ApiKey)
        {
            return false;
        }

        if (aConfig.Provider != AiProviders.Llama)
        {
            return aConfig.Model == bConfig.Model;
        }

        try
        {
            return ResolveModelPath(a, aConfig.Model) == ResolveModelPath(b, bConfig.Model);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException)
        {
            return false;
        }
    }

    private ChatPart StartChat(AiConfiguration configuration, bool probe)
    {
        var errors = new List<string>();
        foreach (var config in new[] { configuration.Chat, configuration.ChatFallback }.OfType<AiProviderConfig>())
        {
            if (config.Error is { } configError)
            {
                errors.Add(configError);
                continue;
            }

            switch (config.Provider)
            {
                case AiProviders.Heuristic:
                    break;
                case AiProviders.Llama:
                    try
                    {
                        var model = LoadModel(configuration, config.Model);
                        var chat = new LlamaChatClient(model, LlamaOptions() with { ContextLength = _ai.ChatContextLength }, _loggers.CreateLogger<LlamaChatClient>());
                        return new ChatPart(chat, model, new(LlamaProvider, model.Name, Error: Joined(errors)));
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or InvalidDataException or IOException or ArgumentException)
                    {
                        errors.Add($"{Origin(config, "Chat model")} {config.Model}: {ex.Message}");
                    }

                    continue;
                case AiProviders.OpenAi when config is { Endpoint: { } endpoint, Model: { } model }:
                    var client = OpenAiEndpoint.CreateChatClient(EndpointOptions(endpoint, config.ApiKey, probe), model);
                    return new ChatPart(client, null, new(OpenAiProvider, model, Error: Joined(errors)));
                default:
                    errors.Add($"{Origin(config, "Chat")}: provider {config.Provider} needs {(config.Provider == AiProviders.OpenAi ? "an endpoint and a model" : "to be heuristic, llama.cpp or openai")}");
                    continue;
            }

            break;
        }

        if (errors.Count > 0 && !probe)
        {
            LogProviderFailed(_logger, "chat", Joined(errors)!);
        }

        return new ChatPart(null, null, new(HeuristicProvider, null, Error: Joined(errors)));
    }

    private EmbeddingPart StartEmbeddings(AiConfiguration configuration, LlamaModel? chatModel, bool probe)
    {
        var config = configuration.Embeddings;
        var error = config.Error;
        if (error is null)
        {
            switch (config.Provider)
            {
                case AiProviders.MiniLm:
                    break;
                case AiProviders.Llama:
                    try
                    {
                        var path = ResolveModelPath(configuration, config.Model);
                        var model = chatModel is not null && chatModel.Path == path ? chatModel : LoadModel(configuration, config.Model);
                        return new EmbeddingPart(new LlamaEmbeddingGenerator(model, LlamaOptions()), model, new(LlamaProvider, model.Name, model.EmbeddingLength));
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or InvalidDataException or IOException or ArgumentException)
                    {
                        error = $"{Origin(config, "Embedding model")} {config.Model}: {ex.Message}";
                    }

                    break;
                case AiProviders.OpenAi when config is { Endpoint: { } endpoint, Model: { } model }:
                    return new EmbeddingPart(OpenAiEndpoint.CreateEmbeddingGenerator(EndpointOptions(endpoint, config.ApiKey, probe), model), null, new(OpenAiProvider, model));
                default:
                    error = $"{Origin(config, "Embeddings")}: provider {config.Provider} needs {(config.Provider == AiProviders.OpenAi ? "an endpoint and a model" : "to be minilm, llama.cpp or openai")}";
                    break;
            }
        }

        if (error is not null && !probe)
        {
            LogProviderFailed(_logger, "embeddings", error);
        }

        return new EmbeddingPart(new MiniLmEmbeddingGenerator(), null,
            new(MiniLmEmbeddingGenerator.ProviderName, MiniLmEmbeddingGenerator.ModelName, MiniLmEmbeddingGenerator.Dimensions, error));
    }

    private static string Origin(AiProviderConfig config, string fallback) => config.Origin is "" ? fallback : config.Origin;

    private static string? Joined(List<string> errors) => errors.Count == 0 ? null : string.Join("; ", errors);

    private LlamaModel LoadModel(AiConfiguration configuration, string? configured)
    {
        var path = ResolveModelPath(configuration, configured);
        var info = LlamaBackend.TryInitialize(_loggers.CreateLogger(typeof(LlamaBackend).FullName!));
        if (!info.IsAvailable)
        {
            throw new InvalidOperationException($"llama.cpp is not available ({info.Error})");
        }

        return LlamaModel.Load(path);
    }

    /// <summary>Saved names resolve only inside the models directory; the environment keeps its old, freer rules.</summary>
    private string ResolveModelPath(AiConfiguration configuration, string? configured)
    {
        if (configuration.Source == AiConfiguration.EnvironmentSource && configured is not null)
        {
            return ResolveEnvironmentModelPath(configured);
        }

        return ModelFiles.TryResolve(_options.ModelsDirectory, configured, out var path, out var error)
            ? path
            : throw new FileNotFoundException(error);
    }

    private LlamaClientOptions LlamaOptions() =>
        _ai.LlamaThreads is { } threads ? new LlamaClientOptions { Threads = threads } : new LlamaClientOptions();

    private OpenAiEndpointOptions EndpointOptions(string endpoint, string? apiKey, bool probe)
    {
        var timeout = TimeSpan.FromSeconds(Math.Max(1, _ai.LlmTimeoutSeconds));
        return new(OpenAiEndpoint.NormalizeEndpoint(endpoint), apiKey)
        {
            Timeout = probe && timeout > ProbeTimeout ? ProbeTimeout : timeout,
            MaxRetries = probe ? 0 : Math.Max(0, _ai.LlmRetries),
            Logger = _loggers.CreateLogger(typeof(OpenAiEndpoint)),
        };
    }

    private sealed record ChatPart(IChatClient? Chat, LlamaModel? Model, AiProviderInfo Info);

    private sealed record EmbeddingPart(IEmbeddingGenerator<string, Embedding<float>> Embeddings, LlamaModel? Model, AiProviderInfo Info);

    /// <summary>Forwards each call to the chat model current when it starts.</summary>
    private sealed class CurrentChatClient(AiRuntime runtime) : IChatClient
    {
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            using var lease = runtime.Lease();
            return await ChatOf(lease).GetResponseAsync(messages, options, cancellationToken);
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages,
            ChatOptions? options = null,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            using var lease = runtime.Lease();
            await foreach (var update in ChatOf(lease).GetStreamingResponseAsync(messages, options, cancellationToken).WithCancellation(cancellationToken))
            {
                yield return update;
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null)
        {
            if (serviceKey is null && serviceType.IsInstanceOfType(this))
            {
                return this;
            }

            using var lease = runtime.Lease();
            return lease.Chat?.GetService(serviceType, serviceKey);
        }

        /// <summary>The runtime owns the models.</summary>
        public void Dispose()
        {
        }

        private static IChatClient ChatOf(AiLease lease) => lease.Chat
            ?? throw new InvalidOperationException("No chat model is in use (extraction is heuristic): choose one in Settings → AI providers.");
    }

    /// <summary>Forwards each call to the embedding generator current when it starts.</summary>
    private sealed class CurrentEmbeddingGenerator(AiRuntime runtime) : IEmbeddingGenerator<string, Embedding<float>>
    {
        public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
            IEnumerable<string> values,
            EmbeddingGenerationOptions? options = null,
            CancellationToken cancellationToken = default)
        {
            using var lease = runtime.Lease();
            return await lease.Embeddings.GenerateAsync(values, options, cancellationToken);
        }

        public object? GetService(Type serviceType, object? serviceKey = null)
        {
            if (serviceKey is null && serviceType.IsInstanceOfType(this))
            {
                return this;
            }

            using var lease = runtime.Lease();
            return lease.Embeddings.GetService(serviceType, serviceKey);
        }

        /// <summary>The runtime owns the models (the container disposes this registration at shutdown).</summary>
        public void Dispose()
        {
        }
    }

    /// <summary>Forwards each extraction to the extractor current when it starts.</summary>
    private sealed class CurrentExtractor(AiRuntime runtime) : IIssueExtractor
    {
        public string ExtractedBy
        {
            get
            {
                using var lease = runtime.Lease();
                return lease.Extractor.ExtractedBy;
            }
        }

        public async Task<SignalIssue> ExtractAsync(ExtractionRequest request, CancellationToken cancellationToken)
        {
            using var lease = runtime.Lease();
            return await lease.Extractor.ExtractAsync(request, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "AI providers ({Source}): chat {ChatProvider} ({ChatModel}), embeddings {EmbeddingProvider} ({EmbeddingModel})")]
    private static partial void LogProviders(ILogger logger, string source, string chatProvider, string chatModel, string embeddingProvider, string embeddingModel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Configured {Role} provider not in use: {Error}")]
    private static partial void LogProviderFailed(ILogger logger, string role, string error);
}

/// <summary>A chat client built for one provider test; disposing it frees what it loaded.</summary>
internal sealed class ProbeChat(IChatClient? chat, AiProviderInfo info, IEnumerable<IDisposable?> resources) : IDisposable
{
    public IChatClient? Chat { get; } = chat;

    public AiProviderInfo Info { get; } = info;

    public void Dispose()
    {
        foreach (var resource in resources.OfType<IDisposable>().Distinct(ReferenceEqualityComparer.Instance).Cast<IDisposable>())
        {
            resource.Dispose();
        }
    }
}

/// <summary>An embedding generator built for one provider test; disposing it frees what it loaded.</summary>
internal sealed class ProbeEmbeddings(IEmbeddingGenerator<string, Embedding<float>>? embeddings, AiProviderInfo info, IEnumerable<IDisposable?> resources) : IDisposable
{
    public IEmbeddingGenerator<string, Embedding<float>>? Embeddings { get; } = embeddings;

    public AiProviderInfo Info { get; } = info;

    public void Dispose()
    {
        foreach (var resource in resources.OfType<IDisposable>().Distinct(ReferenceEqualityComparer.Instance).Cast<IDisposable>())
        {
            resource.Dispose();
        }
    }
}
