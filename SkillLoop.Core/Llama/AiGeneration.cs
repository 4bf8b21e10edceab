using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Extraction;

namespace SkillLoop.Core.Llama;

/// <summary>
/// The providers built from one <see cref="AiConfiguration"/>. Reference-counted: the runtime holds one reference
/// while they are current and every call holds one more (<see cref="AiLease"/>); whoever releases the last one
/// disposes them. So a settings change never frees a model under a running request.
/// </summary>
internal sealed partial class AiGeneration(
    AiConfiguration configuration,
    IChatClient? chat,
    IEmbeddingGenerator<string, Embedding<float>> embeddings,
    IIssueExtractor extractor,
    AiStatusInfo status,
    IReadOnlyList<IDisposable> resources,
    ILogger logger)
{
    private int _references = 1;

    public AiConfiguration Configuration { get; } = configuration;

    public IChatClient? Chat { get; } = chat;

    public IEmbeddingGenerator<string, Embedding<float>> Embeddings { get; } = embeddings;

    public IIssueExtractor Extractor { get; } = extractor;

    public AiStatusInfo Status { get; } = status;

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
            DisposeResources();
        }
        else if (count < 0)
        {
            throw new InvalidOperationException("An AI generation was released more often than acquired.");
        }
    }

    private void DisposeResources()
    {
        // Chat and embedding clients first, the models they use last; the same model may serve both roles.
        foreach (var resource in resources.Distinct(ReferenceEqualityComparer.Instance).Cast<IDisposable>())
        {
            try
            {
                resource.Dispose();
            }
            catch (Exception ex)
            {
                LogDisposeFailed(logger, resource.GetType().Name, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Disposing the replaced AI provider {Type} failed")]
    private static partial void LogDisposeFailed(ILogger logger, string type, Exception exception);
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

    private AiGeneration Generation => _generation ?? throw new ObjectDisposedException(nameof(AiLease));

    public void Dispose() => Interlocked.Exchange(ref _generation, null)?.Release();
}
