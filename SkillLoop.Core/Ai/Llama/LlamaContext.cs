using SkillLoop.Core.Ai.Llama.Native;

namespace SkillLoop.Core.Ai.Llama;

/// <summary>Settings for one llama.cpp context.</summary>
internal sealed record LlamaContextSettings(uint ContextLength, int Threads, int BatchThreads, bool Embeddings = false);

/// <summary>
/// One llama.cpp context (KV cache and compute buffers). Not thread-safe: its owner serialises use. Holds a
/// reference on the model so the weights outlive it.
/// </summary>
internal sealed unsafe class LlamaContext : IDisposable
{
    // llama.cpp's worker threads spin while they wait for each other. Two contexts decoding at once on a small
    // machine (chat and embeddings, each with a thread per core) starve each other's spinning threads and run many
    // times slower than one after the other, so decoding is serialised process-wide.
    private static readonly Lock ComputeLock = new();

    private readonly LlamaModel _model;
    private nint _handle;
    private bool _modelRef;

    public LlamaContext(LlamaModel model, LlamaContextSettings settings)
    {
        _model = model;
        model.SafeHandle.DangerousAddRef(ref _modelRef);
        var parameters = LlamaNative.ContextDefaultParams();
        parameters.NCtx = settings.ContextLength;
        parameters.NBatch = settings.ContextLength;
        parameters.NThreads = settings.Threads;
        parameters.NThreadsBatch = settings.BatchThreads;
        parameters.NSeqMax = 1;
        parameters.NoPerf = 1;
        if (settings.Embeddings)
        {
            // Pooled embeddings need the whole input in one micro-batch (non-causal models attend to all of it).
            parameters.Embeddings = 1;
            parameters.PoolingType = 1; // mean
            parameters.NUbatch = settings.ContextLength;
        }

        _handle = LlamaNative.InitFromModel(model.Handle, parameters);
        if (_handle == 0)
        {
            Dispose();
            throw new InvalidOperationException($"llama.cpp could not create a context of {settings.ContextLength} tokens for {model.Name} (out of memory?).");
        }

        ContextLength = (int)LlamaNative.NCtx(_handle);
        BatchLength = (int)LlamaNative.NBatch(_handle);
    }

    public int ContextLength { get; }

    public int BatchLength { get; }

    public nint Handle => _handle;

    public LlamaModel Model => _model;

    /// <summary>Forgets everything decoded so far (the KV cache), so the next decode starts at position 0.</summary>
    public void Clear() => LlamaNative.MemoryClear(LlamaNative.GetMemory(_handle), true);

    /// <summary>Decodes tokens in batches, checking for cancellation between them.</summary>
    public void Decode(ReadOnlySpan<int> tokens, CancellationToken cancellationToken)
    {
        for (var start = 0; start < tokens.Length; start += BatchLength)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = tokens.Slice(start, Math.Min(BatchLength, tokens.Length - start));
            fixed (int* t = chunk)
            {
                int result;
                lock (ComputeLock)
                {
                    result = LlamaNative.Decode(_handle, LlamaNative.BatchGetOne(t, chunk.Length));
                }

                if (result != 0)
                {
                    throw new InvalidOperationException($"llama_decode failed ({result}).");
                }
            }
        }
    }

    public int Sample(nint sampler) => LlamaNative.SamplerSample(sampler, _handle, -1);

    /// <summary>The mean-pooled embedding of sequence 0 (embeddings contexts only).</summary>
    public float[] GetSequenceEmbedding()
    {
        var pointer = LlamaNative.GetEmbeddingsSeq(_handle, 0);
        if (pointer is null)
        {
            throw new InvalidOperationException("llama.cpp returned no pooled embedding.");
        }

        return new ReadOnlySpan<float>(pointer, _model.EmbeddingLength).ToArray();
    }

    public void Dispose()
    {
        if (_handle != 0)
        {
            LlamaNative.Free(_handle);
            _handle = 0;
        }

        if (_modelRef)
        {
            _model.SafeHandle.DangerousRelease();
            _modelRef = false;
        }
    }
}
