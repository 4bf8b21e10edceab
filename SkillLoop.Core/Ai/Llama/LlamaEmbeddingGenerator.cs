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
    private readonly LlamaSession _session;

    public LlamaEmbeddingGenerator(LlamaModel model, LlamaClientOptions? options = null, bool ownsModel = false)
    {
        _model = model;
        var settings = options ?? new LlamaClientOptions();
        _session = new LlamaSession(model, ownsModel, () => new LlamaContextSettings(
            (uint)Math.Min(settings.EmbeddingContextLength, model.TrainContextLength > 0 ? model.TrainContextLength : settings.EmbeddingContextLength),
            settings.Threads,
            settings.BatchThreads,
            Embeddings: true));
        Metadata = new EmbeddingGeneratorMetadata("llama.cpp", null, model.Name, model.EmbeddingLength);
    }

    public EmbeddingGeneratorMetadata Metadata { get; }

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_session.IsDisposed, this);
        var inputs = values.ToList();
        await _session.EnterAsync(cancellationToken);
        try
        {
            var vectors = await Task.Factory.StartNew(() => Embed(inputs, cancellationToken),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var created = DateTimeOffset.UtcNow;
            return new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v) { ModelId = _model.Name, CreatedAt = created }));
        }
        finally
        {
            _session.Exit();
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose() => _session.Dispose();

    private List<float[]> Embed(List<string> inputs, CancellationToken cancellationToken)
    {
        var context = _session.Context;
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

            context.Clear();
            context.Decode(tokens.AsSpan(0, Math.Min(tokens.Length, context.ContextLength)), cancellationToken);
            vectors.Add(Normalize(context.GetSequenceEmbedding()));
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
