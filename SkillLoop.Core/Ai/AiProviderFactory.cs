using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Ai.MiniLm;
using SkillLoop.Core.Ai.OpenAi;

namespace SkillLoop.Core.Ai;

/// <summary>
/// Builds providers from settings: loads a GGUF, opens an endpoint client, or falls back (heuristic chat, MiniLM
/// embeddings) with the reason. What runs and when it is replaced is <see cref="AiRuntime"/>'s business.
/// </summary>
internal sealed partial class AiProviderFactory(SkillLoopOptions options, AiOptions ai, ILoggerFactory loggers)
{
    /// <summary>Provider tests give up sooner than extraction does, and do not retry.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(30);

    // The category the runtime's provider messages always had.
    private readonly ILogger _logger = loggers.CreateLogger<AiRuntime>();

    /// <summary>A one-off chat client for <paramref name="config"/> (provider tests); null with the reason when it cannot start.</summary>
    public ProbeChat StartChatProbe(AiProviderConfig config, string source)
    {
        var part = StartChat(new AiConfiguration(config, new AiProviderConfig(AiProviders.MiniLm)) { Source = source }, probe: true);
        return new ProbeChat(part.Info.Provider == config.Provider ? part.Chat : null, part.Info, [part.Chat, part.Model]);
    }

    /// <summary>A one-off embedding generator for <paramref name="config"/> (provider tests); null with the reason when it cannot start.</summary>
    public ProbeEmbeddings StartEmbeddingsProbe(AiProviderConfig config, string source)
    {
        var part = StartEmbeddings(new AiConfiguration(new AiProviderConfig(AiProviders.Heuristic), config) { Source = source }, null, probe: true);
        return new ProbeEmbeddings(part.Info.Provider == config.Provider && part.Info.Error is null ? part.Embeddings : null, part.Info, [part.Embeddings, part.Model]);
    }

    /// <summary>Where a GGUF of the environment configuration is: absolute, relative to the working directory, or under --models.</summary>
    public string ResolveEnvironmentModelPath(string configured) =>
        Path.IsPathRooted(configured) || File.Exists(configured)
            ? Path.GetFullPath(configured)
            : Path.GetFullPath(Path.Combine(options.ModelsDirectory, configured));

    /// <summary>Whether two settings of a role run the same thing (then the loaded providers are kept).</summary>
    public bool SameProvider(AiConfiguration a, AiProviderConfig aConfig, AiConfiguration b, AiProviderConfig bConfig)
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

    public ChatPart StartChat(AiConfiguration configuration, bool probe)
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
                        var chat = new LlamaChatClient(model, LlamaOptions() with { ContextLength = ai.ChatContextLength }, loggers.CreateLogger<LlamaChatClient>());
                        return new ChatPart(chat, model, new(AiProviders.Llama, model.Name, Error: Joined(errors)));
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or InvalidDataException or IOException or ArgumentException)
                    {
                        errors.Add($"{Origin(config, "Chat model")} {config.Model}: {ex.Message}");
                    }

                    continue;
                case AiProviders.OpenAi when config is { Endpoint: { } endpoint, Model: { } model }:
                    var client = OpenAiEndpoint.CreateChatClient(EndpointOptions(endpoint, config.ApiKey, probe), model);
                    return new ChatPart(client, null, new(AiProviders.OpenAi, model, Error: Joined(errors)));
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

        return new ChatPart(null, null, new(AiProviders.Heuristic, null, Error: Joined(errors)));
    }

    public EmbeddingPart StartEmbeddings(AiConfiguration configuration, LlamaModel? chatModel, bool probe)
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
                        return new EmbeddingPart(new LlamaEmbeddingGenerator(model, LlamaOptions()), model, new(AiProviders.Llama, model.Name, model.EmbeddingLength));
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or InvalidDataException or IOException or ArgumentException)
                    {
                        error = $"{Origin(config, "Embedding model")} {config.Model}: {ex.Message}";
                    }

                    break;
                case AiProviders.OpenAi when config is { Endpoint: { } endpoint, Model: { } model }:
                    return new EmbeddingPart(OpenAiEndpoint.CreateEmbeddingGenerator(EndpointOptions(endpoint, config.ApiKey, probe), model), null, new(AiProviders.OpenAi, model));
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
        var info = LlamaBackend.TryInitialize(loggers.CreateLogger(typeof(LlamaBackend).FullName!));
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

        return ModelFiles.TryResolve(options.ModelsDirectory, configured, out var path, out var error)
            ? path
            : throw new FileNotFoundException(error);
    }

    private LlamaClientOptions LlamaOptions() =>
        ai.LlamaThreads is { } threads ? new LlamaClientOptions { Threads = threads } : new LlamaClientOptions();

    private OpenAiEndpointOptions EndpointOptions(string endpoint, string? apiKey, bool probe)
    {
        var timeout = TimeSpan.FromSeconds(Math.Max(1, ai.LlmTimeoutSeconds));
        return new(OpenAiEndpoint.NormalizeEndpoint(endpoint), apiKey)
        {
            Timeout = probe && timeout > ProbeTimeout ? ProbeTimeout : timeout,
            MaxRetries = probe ? 0 : Math.Max(0, ai.LlmRetries),
            Logger = loggers.CreateLogger(typeof(OpenAiEndpoint)),
        };
    }

    public sealed record ChatPart(IChatClient? Chat, LlamaModel? Model, AiProviderInfo Info);

    public sealed record EmbeddingPart(IEmbeddingGenerator<string, Embedding<float>> Embeddings, LlamaModel? Model, AiProviderInfo Info);

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
