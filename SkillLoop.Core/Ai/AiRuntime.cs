using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Extraction;

namespace SkillLoop.Core.Ai;

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

    private readonly AiProviderFactory _providers;
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
        _providers = new AiProviderFactory(options.Value, ai.Value, loggers);
        _loggers = loggers;
        _logger = loggers.CreateLogger<AiRuntime>();
        Defaults = AiConfiguration.FromEnvironment(options.Value, ai.Value);
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
    internal ProbeChat StartChatProbe(AiProviderConfig config, string source) => _providers.StartChatProbe(config, source);

    /// <summary>A one-off embedding generator for <paramref name="config"/> (provider tests); null with the reason when it cannot start.</summary>
    internal ProbeEmbeddings StartEmbeddingsProbe(AiProviderConfig config, string source) => _providers.StartEmbeddingsProbe(config, source);

    /// <summary>Where a GGUF of the environment configuration is: absolute, relative to the working directory, or under --models.</summary>
    internal string ResolveEnvironmentModelPath(string configured) => _providers.ResolveEnvironmentModelPath(configured);

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
        if (previous is not null && previous.ChatSlot.Info.Error is null && _providers.SameProvider(previous.Configuration, previous.Configuration.Chat, configuration, configuration.Chat))
        {
            chat = previous.ChatSlot.Share();
        }
        else
        {
            var part = _providers.StartChat(configuration, probe: false);
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
        if (previous is not null && previous.EmbeddingSlot.Info.Error is null && _providers.SameProvider(previous.Configuration, previous.Configuration.Embeddings, configuration, configuration.Embeddings))
        {
            embeddings = previous.EmbeddingSlot.Share();
        }
        else
        {
            var part = _providers.StartEmbeddings(configuration, chat.Model, probe: false);
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

    private ChatSlot NewChatSlot(AiProviderFactory.ChatPart part)
    {
        IIssueExtractor extractor = part.Chat is null
            ? new HeuristicIssueExtractor()
            : new LlmIssueExtractor(part.Chat, part.Info.Model!, _loggers.CreateLogger<LlmIssueExtractor>());
        var model = part.Model is null ? null : new SharedResource(part.Model);
        return new ChatSlot(part.Chat, extractor, part.Info,
            new[] { part.Chat is null ? null : new SharedResource(part.Chat), model }.OfType<SharedResource>().ToList(),
            part.Model, model);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "AI providers ({Source}): chat {ChatProvider} ({ChatModel}), embeddings {EmbeddingProvider} ({EmbeddingModel})")]
    private static partial void LogProviders(ILogger logger, string source, string chatProvider, string chatModel, string embeddingProvider, string embeddingModel);
}
