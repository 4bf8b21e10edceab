using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Tests.Extraction;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Ai.Llama;

/// <summary>The real llama.cpp path on the tiny GGUF with a 256-token context: smaller than the extraction prompt.</summary>
[Collection(LlamaCollection.Name)]
public sealed class SmallContextTests(LlamaFixture fixture) : IDisposable
{
    private readonly TempDirectory _directory = new("skillloop-small-context");
    private readonly Fakes.ManualTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task A_model_whose_context_is_smaller_than_the_prompt_still_gets_the_signal_extracted_and_clustered()
    {
        Assert.True(fixture.Backend.IsAvailable);
        using var model = LlamaModel.Load(TinyGguf.Write(Path.Combine(_directory.Path, "tiny-256.gguf"), contextLength: 256));
        using var chat = new LlamaChatClient(model);
        await using var database = await TestDatabase.CreateAsync();
        var id = await database.AddSignalAsync("No, read the config from the .env file.", contextJson: """[{"role":"assistant","text":"Reading config.json"}]""");
        var store = new IssueStore(database.Db, _time);
        var runner = new ExtractionJobRunner(store, new Source(new LlmIssueExtractor(chat, model.Name)), new DatabaseState(), new SignalFeed(),
            new IngestActivity(_time), _time, Options.Create(new ExtractionOptions()), NullLogger<ExtractionJobRunner>.Instance);

        Assert.Equal(1, await runner.RunOnceAsync(CancellationToken.None));

        var issue = (await store.GetAsync(id, CancellationToken.None))!;
        Assert.StartsWith("heuristic (server:tiny-256 failed: The prompt needs ", issue.ExtractedBy);
        Assert.Contains("holds 256", issue.ExtractedBy);
        Assert.Equal(1, await database.ScalarAsync<long>("SELECT attempts FROM extraction_jobs WHERE signal_id = @id", new { id }));
        Assert.Equal(1, (await store.ModelFailuresAsync(CancellationToken.None)).Count);
        var clusterer = new Clusterer(database.Db, new BagOfWordsEmbeddingGenerator(), new ClusteringSettings(new SettingsStore(database.Db)),
            _time, NullLogger<Clusterer>.Instance);
        Assert.True((await clusterer.AssignAsync(id, null, CancellationToken.None)).CreatedCluster);
    }

    [Fact]
    public async Task The_token_count_offered_for_fitting_is_the_count_the_model_decodes()
    {
        using var chat = new LlamaChatClient(fixture.Model, new LlamaClientOptions { ContextLength = 1024 });
        List<ChatMessage> messages = [new(ChatRole.System, "Answer briefly."), new(ChatRole.User, "No, use pnpm instead of npm — 不对。")];
        var counter = Assert.IsAssignableFrom<IPromptTokenCounter>(chat.GetService(typeof(IPromptTokenCounter)));

        var response = await chat.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 1, Temperature = 0 });

        Assert.Equal(1024, counter.ContextLength);
        Assert.Equal(response.Usage!.InputTokenCount, counter.CountPromptTokens(messages));
    }

    public void Dispose() => _directory.Dispose();

    private sealed class Source(IIssueExtractor extractor) : IIssueExtractorSource
    {
        public IIssueExtractor GetExtractor() => extractor;
    }
}
