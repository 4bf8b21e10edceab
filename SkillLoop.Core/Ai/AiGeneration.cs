using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Extraction;

namespace SkillLoop.Core.Ai;

/// <summary>
/// The providers built from one <see cref="AiConfiguration"/>. Reference-counted: the runtime holds one reference
/// while they are current and every call holds one more (<see cref="AiLease"/>); whoever releases the last one
/// releases its resources. So a settings change never frees a model under a running request. A role whose settings
/// did not change keeps its providers in the next generation (its resources are shared, and freed with the last).
/// </summary>
internal sealed partial class AiGeneration(AiConfiguration configuration, ChatSlot chat, EmbeddingSlot embeddings, ILogger logger)
{
    private int _references = 1;

    public AiConfiguration Configuration { get; } = configuration;

    public ChatSlot ChatSlot { get; } = chat;

    public EmbeddingSlot EmbeddingSlot { get; } = embeddings;

    public IChatClient? Chat => ChatSlot.Chat;

    public IEmbeddingGenerator<string, Embedding<float>> Embeddings => EmbeddingSlot.Embeddings;

    public IIssueExtractor Extractor => ChatSlot.Extractor;

    public AiStatusInfo Status { get; } = new(chat.Info, embeddings.Info);

    public bool IsDisposed => Volatile.Read(ref _references) == 0;

    /// <summary>Takes a reference, unless the last one is already gone (then the caller looks for the current generation again).</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            var count = Volatile.Read(ref _references);
            if (count == 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _references, count + 1, count) == count)
            {
                return true;
            }
        }
    }

    public void Release()
    {
        var count = Interlocked.Decrement(ref _references);
        if (count == 0)
        {
            // Clients first, the models they use last (the slots list them in that order).
            foreach (var resource in ChatSlot.Resources.Concat(EmbeddingSlot.Resources))
            {
                try
                {
                    resource.Release();
                }
                catch (Exception ex)
                {
                    LogDisposeFailed(logger, resource.Name, ex);
                }
            }
        }
        else if (count < 0)
        {
            throw new InvalidOperationException("An AI generation was released more often than acquired.");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Disposing the replaced AI provider {Type} failed")]
    private static partial void LogDisposeFailed(ILogger logger, string type, Exception exception);
}

/// <summary>A model or client used by one or more generations; disposed when the last one releases it.</summary>
internal sealed class SharedResource(IDisposable resource)
{
    private int _references = 1;

    public string Name => resource.GetType().Name;

    /// <summary>One more user; only while a current user keeps it alive.</summary>
    public SharedResource AddReference()
    {
        Interlocked.Increment(ref _references);
        return this;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            resource.Dispose();
        }
    }
}

/// <summary>The chat role of a generation: what it runs, and the resources it holds a reference to.</summary>
/// <param name="Model">The GGUF the chat model runs on; an embeddings role on the same file shares it (<paramref name="ModelResource"/>).</param>
internal sealed record ChatSlot(
    IChatClient? Chat,
    IIssueExtractor Extractor,
    AiProviderInfo Info,
    IReadOnlyList<SharedResource> Resources,
    LlamaModel? Model = null,
    SharedResource? ModelResource = null)
{
    /// <summary>The same providers for the next generation.</summary>
    public ChatSlot Share() => this with { Resources = Resources.Select(r => r.AddReference()).ToList() };
}

/// <summary>The embeddings role of a generation.</summary>
internal sealed record EmbeddingSlot(IEmbeddingGenerator<string, Embedding<float>> Embeddings, AiProviderInfo Info, IReadOnlyList<SharedResource> Resources)
{
    public EmbeddingSlot Share() => this with { Resources = Resources.Select(r => r.AddReference()).ToList() };
}

/// <summary>
/// The providers of one generation, kept alive until disposed: use it for several calls that must reach the same
/// model, or to look at the concrete providers. Hold it for the work at hand only: a replaced model's memory is
/// freed when its last lease ends.
/// </summary>
public sealed class AiLease : IDisposable
{
    private AiGeneration? _generation;

    internal AiLease(AiGeneration generation) => _generation = generation;

    public AiConfiguration Configuration => Generation.Configuration;

    /// <summary>The chat model, or null when extraction is heuristic.</summary>
    public IChatClient? Chat => Generation.Chat;

    public IEmbeddingGenerator<string, Embedding<float>> Embeddings => Generation.Embeddings;

    public IIssueExtractor Extractor => Generation.Extractor;

    public AiStatusInfo Status => Generation.Status;

    internal AiGeneration Generation => _generation ?? throw new ObjectDisposedException(nameof(AiLease));

    public void Dispose() => Interlocked.Exchange(ref _generation, null)?.Release();
}
