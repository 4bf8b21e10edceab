using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using SkillLoop.Core.Extraction;

namespace SkillLoop.Core.Ai;

// The stable objects AiRuntime hands out (and DI registers): each call reaches the providers current when it starts
// and holds them (a lease) until it ends.

/// <summary>Forwards each call to the chat model current when it starts.</summary>
internal sealed class CurrentChatClient(AiRuntime runtime) : IChatClient
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
internal sealed class CurrentEmbeddingGenerator(AiRuntime runtime) : IEmbeddingGenerator<string, Embedding<float>>
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
internal sealed class CurrentExtractor(AiRuntime runtime) : IIssueExtractor
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
