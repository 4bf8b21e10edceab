using Microsoft.Extensions.AI;
using SkillLoop.Core.Ai.MiniLm;

namespace SkillLoop.Tests.Ai.MiniLm;

public sealed class MiniLmFixture : IDisposable
{
    public MiniLmEmbeddingGenerator Generator { get; } = new();

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
        Assert.Equal("all-MiniLM-L6-v2-int8+zh-gloss3", fixture.Generator.Metadata.DefaultModelId);
        Assert.Equal("all-MiniLM-L6-v2-int8+zh-gloss3", Assert.Single(embeddings).ModelId);
    }

    [Fact]
    public async Task A_chinese_correction_is_closer_to_its_english_translation_than_to_another_problem()
    {
        // Without the gloss every Han run is one [UNK]: both English sentences score the same against it.
        var e = await fixture.Generator.GenerateAsync([
            "合计行必须放在表格的最后一行",
            "The totals row must be the last row of the table.",
            "Use pnpm instead of npm to install packages.",
        ]);

        var translation = Cosine(e[0], e[1]);
        var other = Cosine(e[0], e[2]);
        Assert.True(translation > other + 0.15, $"translation {translation:F3}, other problem {other:F3}");
    }

    [Fact]
    public void Chinese_is_glossed_in_english_words_and_other_text_is_left_alone()
    {
        var glossed = ChineseGloss.Prepare("不对，合计行必须放在表格最后一行。用 pnpm");

        Assert.Contains("wrong", glossed, StringComparison.Ordinal);
        Assert.Contains("total", glossed, StringComparison.Ordinal);
        Assert.EndsWith(" pnpm", glossed, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\p{IsCJKUnifiedIdeographs}{2}", glossed); // no run of Han characters is left whole
        Assert.Equal("Use pnpm, not npm. (v1.2)", ChineseGloss.Prepare("Use pnpm, not npm. (v1.2)"));
        Assert.Equal(" 䶵 ", ChineseGloss.Prepare("䶵")); // no gloss: split alone, as BERT's basic tokenizer does
    }

    [Fact]
    public void Particles_are_dropped_function_words_read_plainly_and_words_are_matched_from_the_end()
    {
        // 了 and 的 were "finish possibility as in cannot forget completely entirely" and "of 's"; matched from the
        // start, 把总计 was 把总 ("low-level officer of the army from the Ming") + 计; 提交 was "submit refer to sb".
        var glossed = ChineseGloss.Prepare("你又把总计放到最上面了，提交的信息不要这样写");

        Assert.DoesNotContain("officer", glossed, StringComparison.Ordinal);
        Assert.DoesNotContain("possibility", glossed, StringComparison.Ordinal);
        Assert.DoesNotContain("'s", glossed, StringComparison.Ordinal);
        Assert.Equal(
            "you again total put to the highest degree most on top of ， commit information news message don't like this write",
            System.Text.RegularExpressions.Regex.Replace(glossed, @"\s+", " ").Trim());
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
    public async Task A_sentence_gets_the_same_vector_whatever_it_is_embedded_with()
    {
        // Activations are quantised per model run: were sentences run together, each would nudge the others' vectors.
        const string sentence = "Never edit a migration that has shipped; add a new one.";
        var alone = await fixture.Generator.GenerateAsync([sentence]);
        var among = await fixture.Generator.GenerateAsync([
            "ok",
            sentence,
            string.Concat(Enumerable.Repeat("a long unrelated sentence about quarterly sales figures ", 12)),
            "不对，应该用 pnpm 而不是 npm。",
        ]);

        Assert.Equal(alone[0].Vector.ToArray(), among[1].Vector.ToArray());
    }

    [Fact]
    public async Task Pooling_the_token_states_by_their_plain_mean_gives_exactly_the_served_vectors()
    {
        // The pooling experiment (SkillLoop.Benchmarks -- pooling-experiment) re-pools these token states: its "mean"
        // must be what the server stores, or its before/after figures compare something else.
        string[] sentences = ["Write commit messages in the conventional commits format.", "不对，生成的文件不要提交。", "ok"];

        var served = await fixture.Generator.GenerateAsync(sentences);
        var states = fixture.Generator.TokenStates(sentences);

        for (var i = 0; i < sentences.Length; i++)
        {
            Assert.Equal(states[i].Ids.Length * MiniLmEmbeddingGenerator.Dimensions, states[i].States.Length);
            Assert.Equal(101, states[i].Ids[0]); // [CLS] ... [SEP], no padding
            Assert.Equal(102, states[i].Ids[^1]);
            Assert.Equal(served[i].Vector.ToArray(), MiniLmEmbeddingGenerator.Pool(states[i].Ids, states[i].States, null));
        }

        // Weights move the vector: all weight on the last word piece before [SEP] is not the mean.
        var last = states[0].Ids[^2];
        var weighted = MiniLmEmbeddingGenerator.Pool(states[0].Ids, states[0].States, id => id == last ? 1f : 0f);
        Assert.True(weighted.Zip(served[0].Vector.ToArray(), (a, b) => a * b).Sum() < 0.95f);
    }

    [Fact]
    public async Task The_int8_model_stays_close_to_the_float_model_it_was_made_from()
    {
        // Guards the load-time quantisation: wrong scales or a mangled graph still give unit vectors, but not these.
        string[] sentences =
        [
            "No, use pnpm instead of npm in this repository.",
            "You forgot to run the tests before committing again.",
            "That's wrong: the migration must be append-only, never edit a shipped one.",
            "I only asked you to fix the typo, not to refactor the whole module and rename every variable in it.",
            "Please keep the public API unchanged and add an overload instead of changing the signature.",
            "Stop adding comments that restate the code.",
        ];
        using var reference = new MiniLmEmbeddingGenerator(quantized: false);

        var int8 = await fixture.Generator.GenerateAsync(sentences);
        var floats = await reference.GenerateAsync(sentences);

        Assert.Equal("all-MiniLM-L6-v2+zh-gloss3", reference.Metadata.DefaultModelId);
        var cosines = int8.Zip(floats, Cosine).ToList();
        Assert.All(cosines, c => Assert.True(c > 0.97, $"cosine {c:F4}"));
        Assert.True(cosines.Average() > 0.985, $"mean cosine {cosines.Average():F4}");
        // And the similarities clustering compares stay where they were.
        for (var i = 0; i < sentences.Length; i++)
        {
            for (var j = i + 1; j < sentences.Length; j++)
            {
                Assert.InRange(Cosine(int8[i], int8[j]) - Cosine(floats[i], floats[j]), -0.05, 0.05);
            }
        }
    }

    [Fact]
    public async Task A_request_cancelled_while_it_runs_stops_and_the_model_keeps_working()
    {
        // 10,000 sentences take many seconds at any speed this model reaches on a CPU; the cancellation comes long before.
        var many = Enumerable.Range(0, 10_000).Select(i => $"correction number {i}: the agent ignored the repository's style guide again").ToList();
        using var cancellation = new CancellationTokenSource();
        // Cancelled from a thread of its own: a timer's callback runs on the thread pool, which the model's runs and
        // other tests can keep busy until the whole request has finished.
        var canceller = new Thread(() =>
        {
            Thread.Sleep(200);
            cancellation.Cancel();
        });

        var request = fixture.Generator.GenerateAsync(many, cancellationToken: cancellation.Token);
        canceller.Start();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        canceller.Join();

        var after = await fixture.Generator.GenerateAsync(["still here"]);
        Assert.Equal(MiniLmEmbeddingGenerator.Dimensions, after[0].Vector.Length);
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

    [Fact]
    public async Task Freed_model_memory_goes_back_once_the_model_is_idle_not_after_every_batch()
    {
        var clock = new SkillLoop.Tests.Fakes.SteppedTimeProvider(new DateTimeOffset(2026, 12, 2, 9, 0, 0, TimeSpan.Zero));
        using var generator = new MiniLmEmbeddingGenerator(time: clock);

        await generator.GenerateAsync(["the first correction"]);
        await generator.GenerateAsync(["the second correction"]);
        Assert.Equal(0, generator.MemoryTrims);

        clock.Advance(TrimSchedule.IdleDelay);
        Assert.Equal(1, generator.MemoryTrims);
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
