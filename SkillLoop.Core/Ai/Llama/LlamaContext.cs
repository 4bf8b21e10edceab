using LLama.Common;
using LLama.Exceptions;
using LLama.Native;

namespace SkillLoop.Core.Ai.Llama;

/// <summary>Settings for one llama.cpp context.</summary>
internal sealed record LlamaContextSettings(uint ContextLength, int Threads, int BatchThreads, bool Embeddings = false);

/// <summary>
/// One llama.cpp context (KV cache and compute buffers) on a <see cref="LlamaModel"/>, decoding one sequence from
/// position 0. Not thread-safe: its owner serialises use. LLamaSharp serialises decoding process-wide, which is what
/// two contexts on a small machine need anyway: llama.cpp's worker threads spin while they wait, and two decodes at
/// once starve each other's threads.
/// </summary>
internal sealed class LlamaContext : IDisposable
{
    private readonly LLama.LLamaContext _context;
    private readonly LLamaBatch _batch = new();
    private int _position;

    public LlamaContext(LlamaModel model, LlamaContextSettings settings)
    {
        Model = model;
        var parameters = new ModelParams(model.Path)
        {
            ContextSize = settings.ContextLength,
            BatchSize = settings.ContextLength,
            UBatchSize = settings.Embeddings ? settings.ContextLength : Math.Min(512u, settings.ContextLength),
            SeqMax = 1,
            Threads = settings.Threads,
            BatchThreads = settings.BatchThreads,
            Embeddings = settings.Embeddings,
            // Pooled embeddings need the whole input in one micro-batch (non-causal models attend to all of it).
            PoolingType = settings.Embeddings ? LLamaPoolingType.Mean : LLamaPoolingType.Unspecified,
        };
        try
        {
            _context = model.Weights.CreateContext(parameters);
        }
        catch (RuntimeError ex)
        {
            throw new InvalidOperationException($"llama.cpp could not create a context of {settings.ContextLength} tokens for {model.Name} (out of memory?): {ex.Message}", ex);
        }

        ContextLength = (int)_context.ContextSize;
        BatchLength = (int)_context.BatchSize;
    }

    public int ContextLength { get; }

    public int BatchLength { get; }

    public LlamaModel Model { get; }

    internal SafeLLamaContextHandle Handle => _context.NativeHandle;

    /// <summary>Forgets everything decoded so far (the KV cache), so the next decode starts at position 0.</summary>
    public void Clear()
    {
        _context.NativeHandle.MemoryClear();
        _position = 0;
    }

    /// <summary>Decodes tokens in batches after those decoded so far, checking for cancellation between them.</summary>
    public void Decode(ReadOnlySpan<int> tokens, CancellationToken cancellationToken)
    {
        for (var start = 0; start < tokens.Length; start += BatchLength)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = tokens.Slice(start, Math.Min(BatchLength, tokens.Length - start));
            _batch.Clear();
            for (var i = 0; i < chunk.Length; i++)
            {
                _batch.Add(chunk[i], _position + i, LLamaSeqId.Zero, logits: i == chunk.Length - 1);
            }

            var result = _context.NativeHandle.Decode(_batch);
            if (result != DecodeResult.Ok)
            {
                throw new InvalidOperationException($"llama_decode failed ({result}).");
            }

            _position += chunk.Length;
        }
    }

    /// <summary>Samples (and accepts) the next token from the logits of the last decoded token.</summary>
    public int Sample(SafeLLamaSamplerChainHandle sampler) => (int)sampler.Sample(_context.NativeHandle, -1);

    /// <summary>The mean-pooled embedding of sequence 0 (embeddings contexts only).</summary>
    public float[] GetSequenceEmbedding() => _context.NativeHandle.GetEmbeddingsSeq(LLamaSeqId.Zero).ToArray();

    public void Dispose() => _context.Dispose();
}
