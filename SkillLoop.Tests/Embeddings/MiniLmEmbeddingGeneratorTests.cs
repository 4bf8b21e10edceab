using Microsoft.Extensions.AI;
using SkillLoop.Core.Embeddings;

namespace SkillLoop.Tests.Embeddings;

public sealed class MiniLmFixture : IDisposable
{
    public MiniLmEmbeddingGenerator Generator { get; } = new(batchSize: 16);

    public void Dispose() => Generator.Dispose();
}

public sealed class MiniLmEmbeddingGeneratorTests(MiniLmFixture fixture) : IClassFixture<MiniLmFixture>
{
    [Fact]
    public async Task Sentences_become_normalised_384_dimension_vectors_without_any_download()
    {
        var embeddings = await fixture.Generator.GenerateAsync(["Use pnpm instead of npm in this repository."]);

        var vector = Assert.Single(embeddings).Vector.ToArray();
        Assert.Equal(MiniLmEmbeddingGenerator.Dimensions, vector.Length);
        Assert.Equal(1.0, Math.Sqrt(vector.Sum(x => (double)x * x)), 3);
        Assert.Equal("minilm", fixture.Generator.Metadata.ProviderName);
        Assert.Equal("all-MiniLM-L6-v2", fixture.Generator.Metadata.DefaultModelId);
    }

    [Fact]
    public async Task Corrections_that_mean_the_same_are_closer_than_unrelated_text()
    {
        var e = await fixture.Generator.GenerateAsync([
            "Don't use npm here, use pnpm.",
            "You should run pnpm install instead of npm install.",
            "The quarterly sales report is due on Friday.",
        ]);

        var same = Cosine(e[0], e[1]);
        var unrelated = Cosine(e[0], e[2]);
        Assert.True(same > unrelated + 0.2, $"similar {same:F3}, unrelated {unrelated:F3}");
    }

    [Fact]
    public async Task A_large_batch_keeps_the_input_order()
    {
        var sentences = Enumerable.Range(0, 40)
            .Select(i => i % 3 == 0 ? $"Short {i}." : $"A much longer correction number {i} that says the agent edited the wrong file again and again.")
            .ToList();

        var batched = await fixture.Generator.GenerateAsync(sentences);
        var single = await fixture.Generator.GenerateAsync([sentences[7]]);
        var emptyInput = await fixture.Generator.GenerateAsync([]);

        Assert.Equal(40, batched.Count);
        Assert.True(Cosine(batched[7], single[0]) > 0.999);
        Assert.True(Cosine(batched[6], single[0]) < 0.999);
        Assert.Empty(emptyInput);
    }

    [Fact]
    public async Task Concurrent_callers_are_served_one_batch_at_a_time()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 6)
            .Select(i => fixture.Generator.GenerateAsync([$"correction {i}", $"another correction {i}"])));
        Assert.All(results, r => Assert.Equal(2, r.Count));
    }

    [Fact]
    public async Task Text_longer_than_the_models_window_is_still_embedded()
    {
        var text = string.Concat(Enumerable.Repeat("the agent edited src/app/main_controller.cs:42 again (x=1; y=2) ", 200));
        var embeddings = await fixture.Generator.GenerateAsync([text, "short"]);
        Assert.Equal(MiniLmEmbeddingGenerator.Dimensions, embeddings[0].Vector.Length);
    }

    private static double Cosine(Embedding<float> a, Embedding<float> b)
    {
        var x = a.Vector.Span;
        var y = b.Vector.Span;
        double dot = 0;
        for (var i = 0; i < x.Length; i++)
        {
            dot += x[i] * y[i];
        }

        return dot; // both are unit vectors
    }
}
