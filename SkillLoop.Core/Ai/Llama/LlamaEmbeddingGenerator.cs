using Microsoft.Extensions.AI;

namespace SkillLoop.Core.Ai.Llama;

/// <summary>
/// Embeddings from a local GGUF model: mean-pooled over the input, L2-normalised (cosine-ready). One embeddings
/// context, used by one request at a time; inputs longer than the context are cut. (LLamaSharp's LLamaEmbedder
/// creates a context per input and refuses inputs longer than the context: clustering embeds many short texts and
/// must never fail on a long one.)
/// </summary>
public sealed class LlamaEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly LlamaModel _model;
    private readonly bool _ownsModel;
    private readonly LlamaClientOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private LlamaContext? _context;
    private bool _disposed;

    public LlamaEmbeddingGenerator(LlamaModel model, LlamaClientOptions? options = null, bool ownsModel = false)
    {
        _model = model;
        _ownsModel = ownsModel;
        _options = options ?? new LlamaClientOptions();
        Metadata = new EmbeddingGeneratorMetadata("llama.cpp", null, model.Name, model.EmbeddingLength);
    }

    public EmbeddingGeneratorMetadata Metadata { get; }

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var inputs = values.ToList();
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var vectors = await Task.Factory.StartNew(() => Embed(inputs, cancellationToken),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var created = DateTimeOffset.UtcNow;
            return new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v) { ModelId = _model.Name, CreatedAt = created }));
        }
        finally
        {
            _gate.Release();
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _gate.Wait();
        _context?.Dispose();
        if (_ownsModel)
        {
            _model.Dispose();
        }

        _gate.Dispose();
    }

    private List<float[]> Embed(List<string> inputs, CancellationToken cancellationToken)
    {
        _context ??= new LlamaContext(_model, new LlamaContextSettings(
            (uint)Math.Min(_options.EmbeddingContextLength, _model.TrainContextLength > 0 ? _model.TrainContextLength : _options.EmbeddingContextLength),
            _options.Threads,
            _options.BatchThreads,
            Embeddings: true));
        var vectors = new List<float[]>(inputs.Count);
        foreach (var input in inputs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var tokens = _model.Tokenize(input, addSpecial: true, parseSpecial: false);
            if (tokens.Length == 0)
            {
                vectors.Add(new float[_model.EmbeddingLength]);
                continue;
            }

            _context.Clear();
            _context.Decode(tokens.AsSpan(0, Math.Min(tokens.Length, _context.ContextLength)), cancellationToken);
            vectors.Add(Normalize(_context.GetSequenceEmbedding()));
        }

        return vectors;
    }

    internal static float[] Normalize(float[] vector)
    {
        var norm = MathF.Sqrt(System.Numerics.Tensors.TensorPrimitives.SumOfSquares(vector));
        if (norm > 0)
        {
            System.Numerics.Tensors.TensorPrimitives.Divide(vector, norm, vector);
        }

        return vector;
    }
}
