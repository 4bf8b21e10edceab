using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SkillLoop.Core;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Ai.MiniLm;
using SkillLoop.Core.Extraction;
using SkillLoop.Tests.Ai.Llama;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Ai;

[Collection(LlamaCollection.Name)]
public sealed class AiRuntimeTests(LlamaFixture fixture)
{
    private static AiRuntime Runtime(SkillLoopOptions options, AiOptions? ai = null) =>
        new(Options.Create(options), Options.Create(ai ?? new AiOptions()), NullLoggerFactory.Instance);

    [Fact]
    public void With_nothing_configured_extraction_is_heuristic_and_embeddings_are_the_embedded_minilm()
    {
        using var runtime = Runtime(new SkillLoopOptions());
        using var lease = runtime.Lease();

        Assert.Null(runtime.Chat);
        Assert.IsType<HeuristicIssueExtractor>(lease.Extractor);
        Assert.IsType<MiniLmEmbeddingGenerator>(lease.Embeddings);
        Assert.Equal(new AiProviderInfo("heuristic", null), runtime.Status.Chat);
        Assert.Equal(new AiProviderInfo("minilm", MiniLmEmbeddingGenerator.ModelName, 384), runtime.Status.Embeddings);
    }

    [Fact]
    public void A_gguf_chat_model_is_loaded_from_the_models_directory_and_can_embed_too()
    {
        var options = new SkillLoopOptions { ModelsDirectory = Path.GetDirectoryName(fixture.ModelPath)!, ChatModel = "tiny-test.gguf" };
        using var runtime = Runtime(options, new AiOptions { EmbeddingModel = fixture.ModelPath });
        using var lease = runtime.Lease();

        Assert.IsType<LlamaChatClient>(lease.Chat);
        Assert.Equal("server:tiny-test", runtime.Extractor.ExtractedBy);
        Assert.Equal(new AiProviderInfo("llama.cpp", "tiny-test"), runtime.Status.Chat);
        Assert.Equal(new AiProviderInfo("llama.cpp", "tiny-test", TinyGguf.EmbeddingLength), runtime.Status.Embeddings);
    }

    [Fact]
    public void A_chat_model_that_cannot_load_leaves_heuristic_extraction_and_says_why()
    {
        using var runtime = Runtime(new SkillLoopOptions { ChatModel = "/nonexistent/model.gguf" });

        Assert.Null(runtime.Chat);
        Assert.Equal("heuristic", runtime.Status.Chat.Provider);
        Assert.Contains("/nonexistent/model.gguf", runtime.Status.Chat.Error);
    }

    [Fact]
    public void An_endpoint_is_used_for_chat_and_for_embeddings_only_when_an_embedding_model_is_named()
    {
        using var runtime = Runtime(new SkillLoopOptions { LlmEndpoint = "http://127.0.0.1:9/v1", LlmModel = "qwen-plus", LlmApiKey = "k" });
        Assert.Equal(new AiProviderInfo("openai", "qwen-plus"), runtime.Status.Chat);
        Assert.Equal("server:qwen-plus", runtime.Extractor.ExtractedBy);
        Assert.Equal("minilm", runtime.Status.Embeddings.Provider);

        using var withEmbeddings = Runtime(new SkillLoopOptions { LlmEndpoint = "http://127.0.0.1:9", LlmModel = "m" }, new AiOptions { EmbeddingModel = "text-embedding-v3" });
        Assert.Equal(new AiProviderInfo("openai", "text-embedding-v3"), withEmbeddings.Status.Embeddings);
    }

    [Fact]
    public void An_endpoint_without_a_model_is_reported()
    {
        using var runtime = Runtime(new SkillLoopOptions { LlmEndpoint = "http://127.0.0.1:9/v1" });
        Assert.Equal("heuristic", runtime.Status.Chat.Provider);
        Assert.Contains("SKILLLOOP_LLM_MODEL", runtime.Status.Chat.Error);
    }

    [Fact]
    public async Task A_saved_gguf_is_loaded_from_the_models_directory_and_a_lease_keeps_the_replaced_model_alive()
    {
        using var runtime = Runtime(new SkillLoopOptions { ModelsDirectory = Path.GetDirectoryName(fixture.ModelPath)! });
        runtime.Apply(new AiConfiguration(new AiProviderConfig("llama.cpp", "tiny-test.gguf"), new AiProviderConfig("llama.cpp", "tiny-test.gguf")));
        Assert.Equal(new AiProviderInfo("llama.cpp", "tiny-test"), runtime.Status.Chat);
        Assert.Equal(new AiProviderInfo("llama.cpp", "tiny-test", TinyGguf.EmbeddingLength), runtime.Status.Embeddings);

        IChatClient replaced;
        using (var lease = runtime.Lease())
        {
            replaced = lease.Chat!;
            var embeddings = lease.Embeddings;

            runtime.Apply(new AiConfiguration(new AiProviderConfig("heuristic"), new AiProviderConfig("llama.cpp", "tiny-test.gguf")));

            Assert.Null(runtime.Chat);
            Assert.Equal("heuristic", runtime.Extractor.ExtractedBy);
            var answer = await replaced.GetResponseAsync("Hi", new ChatOptions { MaxOutputTokens = 4 });
            Assert.NotEmpty(answer.Messages);
            using var next = runtime.Lease();
            Assert.Same(embeddings, next.Embeddings); // unchanged role: kept, on the model the old chat client shared
        }

        await Assert.ThrowsAsync<ObjectDisposedException>(() => replaced.GetResponseAsync("Hi", new ChatOptions { MaxOutputTokens = 4 }));
        var vectors = await runtime.Embeddings.GenerateAsync(["still embeds"]);
        Assert.Equal(TinyGguf.EmbeddingLength, vectors[0].Vector.Length);
    }

    [Fact]
    public async Task A_gguf_that_cannot_load_is_reported_while_the_running_model_keeps_serving()
    {
        using var models = new TempDirectory("skillloop-bad-gguf");
        File.Copy(fixture.ModelPath, models.Combine("tiny-test.gguf"));
        var bytes = File.ReadAllBytes(fixture.ModelPath);
        File.WriteAllBytes(models.Combine("cut.gguf"), bytes[..(bytes.Length / 3)]);
        File.WriteAllText(models.Combine("notes.gguf"), "these are my notes");
        TinyGguf.Write(models.Combine("alien.gguf"), architecture: "alien9000");
        using var runtime = Runtime(new SkillLoopOptions { ModelsDirectory = models.Path });
        runtime.Apply(new AiConfiguration(new AiProviderConfig("llama.cpp", "tiny-test.gguf"), new AiProviderConfig("llama.cpp", "tiny-test.gguf")));

        foreach (var (file, reason) in new[] { ("cut.gguf", "is truncated"), ("notes.gguf", "is not a GGUF model"), ("alien.gguf", "uses a model architecture this llama.cpp build does not support") })
        {
            var status = runtime.Apply(new AiConfiguration(new AiProviderConfig("llama.cpp", file), new AiProviderConfig("llama.cpp", file)));

            Assert.Equal(("llama.cpp", "tiny-test"), (status.Chat.Provider, status.Chat.Model));
            Assert.Contains($"{file} {reason}", status.Chat.Error);
            Assert.EndsWith("still using tiny-test", status.Chat.Error);
            Assert.Equal(("llama.cpp", "tiny-test"), (status.Embeddings.Provider, status.Embeddings.Model));
            Assert.Contains(reason, status.Embeddings.Error);
            Assert.Equal("server:tiny-test", runtime.Extractor.ExtractedBy);
            var answer = await runtime.Chat!.GetResponseAsync("Hi", new ChatOptions { MaxOutputTokens = 4 });
            Assert.NotEmpty(answer.Messages);
            Assert.Equal(TinyGguf.EmbeddingLength, (await runtime.Embeddings.GenerateAsync(["still embeds"]))[0].Vector.Length);
        }
    }

    [Fact]
    public void A_saved_gguf_name_outside_the_models_directory_is_never_loaded()
    {
        using var runtime = Runtime(new SkillLoopOptions { ModelsDirectory = Path.Combine(Path.GetDirectoryName(fixture.ModelPath)!, "models") });

        runtime.Apply(new AiConfiguration(new AiProviderConfig("llama.cpp", "../tiny-test.gguf"), new AiProviderConfig("llama.cpp", fixture.ModelPath)));

        Assert.Equal("heuristic", runtime.Status.Chat.Provider);
        Assert.Contains("models directory", runtime.Status.Chat.Error);
        Assert.Equal("minilm", runtime.Status.Embeddings.Provider);
        Assert.Contains("models directory", runtime.Status.Embeddings.Error);
    }

    [Fact]
    public async Task The_test_loads_an_unsaved_gguf_and_answers_one_tiny_request_and_one_embedding()
    {
        using var models = new TempDirectory("skillloop-models");
        File.Copy(fixture.ModelPath, models.Combine("tiny-test.gguf"));
        await using var core = await TestCore.StartAsync(new Dictionary<string, string?> { ["models"] = models.Path });
        var settings = core.Get<AiSettings>();

        var report = await settings.TestAsync(
            new AiSettingsInput(new AiProviderInput("llama.cpp", "tiny-test.gguf"), new AiProviderInput("llama.cpp", "tiny-test.gguf")), CancellationToken.None);

        Assert.True(report.Chat!.Ok, report.Chat.Error);
        Assert.Equal("tiny-test", report.Chat.Model);
        Assert.True(report.Embeddings!.Ok, report.Embeddings.Error);
        Assert.Equal(TinyGguf.EmbeddingLength, report.Embeddings.Dimensions);
        Assert.Equal([new ModelFile("tiny-test.gguf", new FileInfo(fixture.ModelPath).Length)], settings.ListModels());
        Assert.Equal("heuristic", core.Get<AiRuntime>().Status.Chat.Provider); // tried, not saved
    }

    [Fact]
    public async Task The_tiny_model_extracts_a_complete_schema_valid_issue_end_to_end()
    {
        using var chat = new LlamaChatClient(fixture.Model);
        var extractor = new LlmIssueExtractor(chat, fixture.Model.Name, maxOutputTokens: 3000);

        var issue = await extractor.ExtractAsync(
            new ExtractionRequest("No, use pnpm instead of npm.", "node-setup", null, [new("assistant", "Running npm install")]),
            CancellationToken.None);

        // Random weights: the words are noise, but the grammar guarantees a complete, valid record.
        Assert.Equal("server:tiny-test", issue.ExtractedBy);
        Assert.Contains(issue.Severity, IssueSeverity.All);
        Assert.InRange(issue.Confidence, 0, 1);
        Assert.False(string.IsNullOrWhiteSpace(issue.ProblemPattern));
        Assert.False(string.IsNullOrWhiteSpace(issue.EvidenceQuote));
        Assert.Equal("node-setup", issue.Skill);
    }
}
