using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SkillLoop.Core;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Tests.Clustering;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Ai;

/// <summary>AI settings over the real core and a real SQLite file, with the fake OpenAI-compatible endpoint.</summary>
public sealed class AiSettingsTests : IAsyncLifetime
{
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() => _fake = await FakeOpenAiServer.StartAsync();

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    private Dictionary<string, string?> Environment(string chatModel = "env-chat", string? embeddingModel = null) => new()
    {
        ["SKILLLOOP_LLM_ENDPOINT"] = _fake.V1.ToString(),
        ["SKILLLOOP_LLM_MODEL"] = chatModel,
        ["SKILLLOOP_LLM_API_KEY"] = "env-key",
        ["SKILLLOOP_EMBEDDING_MODEL"] = embeddingModel,
    };

    [Fact]
    public async Task Changing_the_embedding_model_switches_the_registered_generator_and_re_embeds_in_the_background()
    {
        await using var core = await TestCore.StartAsync(Environment(embeddingModel: "embed-a"));
        var embedder = core.Get<IEmbeddingGenerator<string, Embedding<float>>>();
        var reembedder = core.Get<Reembedder>();
        await reembedder.StartAsync(CancellationToken.None);
        await Poll.UntilAsync(() => reembedder.Progress.Model == "openai/embed-a" + SkillLoop.Core.Clustering.Clusterer.EmbeddedText, TimeSpan.FromSeconds(30));
        var clusterer = core.Get<Clusterer>();
        await clusterer.AssignAsync(await ClustererTests.StoreAsync(core, "alice", "pdf-report", "the totals row must stay at the bottom"), null, CancellationToken.None);
        await clusterer.AssignAsync(await ClustererTests.StoreAsync(core, "bob", "pdf-report", "dates in ISO format please"), null, CancellationToken.None);

        var view = await core.Get<AiSettings>().SaveAsync(
            new AiSettingsInput(new AiProviderInput("heuristic"), new AiProviderInput("openai", "embed-b", _fake.V1.ToString())), CancellationToken.None);

        Assert.Equal(new AiProviderInfo("openai", "embed-b"), view.InUse.Embeddings);
        Assert.Same(embedder, core.Get<IEmbeddingGenerator<string, Embedding<float>>>());
        Assert.Equal("embed-b", embedder.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId);
        await Poll.UntilAsync(() => reembedder.Progress is { Model: "openai/embed-b" + SkillLoop.Core.Clustering.Clusterer.EmbeddedText, Running: false, Done: 2, Total: 2 }, TimeSpan.FromSeconds(30));
        Assert.Equal("openai/embed-b" + SkillLoop.Core.Clustering.Clusterer.EmbeddedText, await core.Get<SettingsStore>().GetAsync(Reembedder.ModelKey, CancellationToken.None));
        var batch = Assert.Single(_fake.Requests, r => r.Path == "/v1/embeddings" && r.Body.GetProperty("model").GetString() == "embed-b");
        Assert.Equal(2, batch.Body.GetProperty("input").GetArrayLength());
        await reembedder.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Without_saved_settings_the_environment_applies_and_saved_ones_survive_a_restart_with_their_key()
    {
        using var data = new TempDirectory("skillloop-ai-restart");
        await using (var first = await StartAsync(data.Path, Environment()))
        {
            var settings = first.GetRequiredService<AiSettings>();
            var view = await settings.GetAsync(CancellationToken.None);
            Assert.Equal("environment", view.Source);
            Assert.Equal(new AiProviderView("openai", "env-chat", _fake.V1.ToString(), true), view.Chat);
            Assert.Equal(new AiProviderView("minilm", null, null, false), view.Embeddings);
            Assert.Equal(new AiProviderInfo("openai", "env-chat"), view.InUse.Chat);

            // Same endpoint, key left empty: the environment's key is kept (and stored encrypted).
            await settings.SaveAsync(new AiSettingsInput(new AiProviderInput("openai", "saved-chat", _fake.V1.ToString()), new AiProviderInput("minilm")), CancellationToken.None);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await using var second = await StartAsync(data.Path, Environment());
        var runtime = second.GetRequiredService<AiRuntime>();

        Assert.Equal(new AiProviderInfo("openai", "saved-chat"), runtime.Status.Chat);
        await runtime.Chat!.GetResponseAsync("Hi");
        var request = Assert.Single(_fake.Requests);
        Assert.Equal("Bearer env-key", request.Authorization);
        Assert.Equal("saved-chat", request.Body.GetProperty("model").GetString());
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task A_call_in_flight_finishes_on_the_replaced_provider_and_the_next_call_reaches_the_new_one()
    {
        using var runtime = new AiRuntime(
            Options.Create(new SkillLoopOptions { LlmEndpoint = _fake.V1.ToString(), LlmModel = "old-model" }),
            Options.Create(new AiOptions()), NullLoggerFactory.Instance);
        var chat = runtime.Chat!;
        _fake.EnqueueDelay(TimeSpan.FromMilliseconds(300));
        var inFlight = chat.GetResponseAsync("first");
        await Poll.UntilAsync(() => !_fake.Requests.IsEmpty, TimeSpan.FromSeconds(30));

        var status = runtime.Apply(new AiConfiguration(new AiProviderConfig("openai", "new-model", _fake.V1.ToString()), new AiProviderConfig("minilm")));

        Assert.Equal(new AiProviderInfo("openai", "new-model"), status.Chat);
        Assert.Equal("server:new-model", runtime.Extractor.ExtractedBy);
        Assert.Equal("Hello from the fake.", (await inFlight).Text);
        await chat.GetResponseAsync("second");
        Assert.Equal(["old-model", "new-model"], _fake.Requests.Select(r => r.Body.GetProperty("model").GetString()));
    }

    [Fact]
    public void A_replaced_generation_frees_its_resources_when_its_last_call_ends_and_keeps_what_the_next_one_shares()
    {
        var log = new DisposalLog();
        var info = new AiProviderInfo("test", null);
        var configuration = new AiConfiguration(new AiProviderConfig("heuristic"), new AiProviderConfig("minilm"));
        var first = new AiGeneration(
            configuration,
            new ChatSlot(null, new HeuristicIssueExtractor(), info, [new SharedResource(log.Item("chat client")), new SharedResource(log.Item("chat model"))]),
            new EmbeddingSlot(new BagOfWordsEmbeddingGenerator(), info, [new SharedResource(log.Item("first embeddings"))]),
            NullLogger.Instance);
        Assert.True(first.TryAcquire());
        var lease = new AiLease(first);

        // Replaced: the next generation keeps the chat role and has embeddings of its own.
        var second = new AiGeneration(configuration, first.ChatSlot.Share(),
            new EmbeddingSlot(new BagOfWordsEmbeddingGenerator(), info, [new SharedResource(log.Item("second embeddings"))]), NullLogger.Instance);
        first.Release();
        Assert.Empty(log.Disposed);

        lease.Dispose();
        Assert.Equal(["first embeddings"], log.Disposed);
        Assert.False(first.TryAcquire());

        second.Release();
        Assert.Equal(["first embeddings", "chat client", "chat model", "second embeddings"], log.Disposed);
    }

    private static async Task<ServiceProvider> StartAsync(string dataDirectory, IDictionary<string, string?> settings)
    {
        var services = TestCore.Build(dataDirectory, settings).BuildServiceProvider(validateScopes: true);
        foreach (var hosted in services.GetServices<IHostedService>().Where(h => h is SkillLoopStartup or AiSettingsStartup))
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        return services;
    }
}
