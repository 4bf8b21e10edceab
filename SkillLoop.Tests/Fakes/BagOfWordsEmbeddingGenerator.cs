using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace SkillLoop.Tests.Fakes;

/// <summary>
/// A deterministic stand-in for a sentence-embedding model: each word (or CJK character) adds to one of 64
/// dimensions. Texts sharing words come out similar, which is all the clustering logic needs to be tested.
/// </summary>
public sealed partial class BagOfWordsEmbeddingGenerator(int dimensions = BagOfWordsEmbeddingGenerator.DefaultDimensions)
    : IEmbeddingGenerator<string, Embedding<float>>
{
    public const int DefaultDimensions = 64;

    public int Dimensions { get; } = dimensions;

    public int Calls { get; private set; }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        Calls++;
        var result = new GeneratedEmbeddings<Embedding<float>>(values.Select(v => new Embedding<float>(Embed(v, Dimensions))));
        return Task.FromResult(result);
    }

    public static float[] Embed(string text, int dimensions = DefaultDimensions)
    {
        var vector = new float[dimensions];
        foreach (Match token in Token().Matches(text.ToLowerInvariant()))
        {
            var hash = 17;
            foreach (var c in token.Value)
            {
                hash = unchecked(hash * 31 + c);
            }

            vector[(hash & int.MaxValue) % dimensions] += 1;
        }

        return vector;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(EmbeddingGeneratorMetadata)
            ? new EmbeddingGeneratorMetadata("bag-of-words", null, $"bow-{Dimensions}", Dimensions)
            : null;

    public void Dispose()
    {
    }

    [GeneratedRegex(@"[a-z]{3,}|\p{IsCJKUnifiedIdeographs}")]
    private static partial Regex Token();
}
