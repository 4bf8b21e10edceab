using System.Numerics.Tensors;

using SkillLoop.Core.Ai.MiniLm;

namespace SkillLoop.Benchmarks;

/// <summary>
/// EXPERIMENT (not shipped): smooth inverse frequency pooling (Arora et al., "A simple but tough-to-beat baseline for
/// sentence embeddings"): a sentence is the mean of its token states weighted by a / (a + p(w)), so frequent word
/// pieces weigh less than what is said about them; [CLS] and [SEP] weigh nothing; then a common component (the first
/// principal component of real corrections pooled this way) is removed. Measured in <see cref="PoolingExperiment"/>;
/// the full product change is on branch cluster18c-sif (not kept: Chinese fell on both sets).
/// </summary>
internal sealed class SifPooling
{
    /// <summary>The smoothing term: a word piece with p(w) = a weighs 1/2 (0.001–0.01 score alike on the labelled set).</summary>
    public const double A = 0.003;

    private const int Cls = 101, Sep = 102;

    private readonly float[] _weights;

    public SifPooling(IReadOnlyDictionary<long, long> counts, long total, float[]? component, int vocabulary = 30522, double a = A)
    {
        _weights = new float[vocabulary];
        for (var id = 0; id < vocabulary; id++)
        {
            _weights[id] = id is Cls or Sep ? 0f : (float)(a / (a + counts.GetValueOrDefault(id) / (double)total));
        }

        Component = component;
    }

    /// <summary>The unit vector removed from every sentence vector; none before the component is known.</summary>
    public float[]? Component { get; }

    public float Weight(long id) => id >= 0 && id < _weights.Length ? _weights[id] : 1f;

    /// <summary>The sentence vector: SIF-weighted mean of the token states, the component removed, L2-normalised.</summary>
    public float[] Pool(long[] ids, float[] states)
    {
        var vector = MiniLmEmbeddingGenerator.Pool(ids, states, Weight);
        if (Component is null)
        {
            return vector;
        }

        TensorPrimitives.MultiplyAdd(Component, -TensorPrimitives.Dot(vector, Component), vector, vector);
        var norm = TensorPrimitives.Norm(vector);
        if (norm > 1e-12f)
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }

        return vector;
    }
}
