using Dapper;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Clustering;

public sealed class ClusteringJobRunnerTests
{
    [Fact]
    public async Task A_backlog_of_several_batches_is_clustered_once_each_while_the_next_batch_is_embedded()
    {
        await using var core = await ClustererTests.StartAsync(sqliteVec: true);
        await StoreExtractedAsync(core, 75);
        await Task.Delay(IngestQuiet); // no client posting: batches overlap

        var assigned = await core.Get<ClusteringJobRunner>().DrainAsync(CancellationToken.None);

        Assert.Equal(75, assigned);
        Assert.Equal(0, await ScalarAsync(core, "SELECT count(*) FROM signals WHERE cluster_id IS NULL"));
        Assert.Equal(75, await ScalarAsync(core, "SELECT sum(signal_count) FROM clusters"));
        Assert.Equal(75, await ScalarAsync(core, "SELECT count(*) FROM vectors WHERE kind = 'signals'"));
        Assert.Equal(0, await core.Get<ClusteringJobRunner>().DrainAsync(CancellationToken.None));
    }

    [Fact]
    public async Task An_embedding_failure_in_the_next_batch_stops_the_drain_and_loses_nothing()
    {
        var embedder = new FailingOnce(failingCall: 2);
        await using var core = await ClustererTests.StartAsync(sqliteVec: true, embedder);
        await StoreExtractedAsync(core, 75);
        await Task.Delay(IngestQuiet);
        var runner = core.Get<ClusteringJobRunner>();

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => runner.DrainAsync(CancellationToken.None));

        Assert.Equal("embedding model down", failure.Message);
        // The first batch was written while the second was embedded; the failed batch and the rest wait.
        Assert.Equal(32, await ScalarAsync(core, "SELECT count(*) FROM signals WHERE cluster_id IS NOT NULL"));
        Assert.Equal(32, await ScalarAsync(core, "SELECT sum(signal_count) FROM clusters"));
        Assert.Equal(43, await runner.DrainAsync(CancellationToken.None));
        Assert.Equal(75, await ScalarAsync(core, "SELECT sum(signal_count) FROM clusters"));
    }

    private static readonly TimeSpan IngestQuiet = Core.Capture.IngestActivity.Quiet * 2;

    private static async Task StoreExtractedAsync(TestCore core, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await ClustererTests.StoreAsync(core, $"user{i % 7}", "pdf-report", $"problem {i % 5}: the totals row must stay at the bottom, case {i}");
        }

        while (await core.Get<ExtractionJobRunner>().RunOnceAsync(CancellationToken.None) > 0)
        {
        }
    }

    private static async Task<long> ScalarAsync(TestCore core, string sql)
    {
        await using var connection = await core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>(sql);
    }

    /// <summary>The word-overlap embedder, failing on one call (counted from 1).</summary>
    private sealed class FailingOnce(int failingCall) : IEmbeddingGenerator<string, Embedding<float>>
    {
        private readonly BagOfWordsEmbeddingGenerator _inner = new();
        private int _calls;

        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
            Interlocked.Increment(ref _calls) == failingCall
                ? Task.FromException<GeneratedEmbeddings<Embedding<float>>>(new InvalidOperationException("embedding model down"))
                : _inner.GenerateAsync(values, options, cancellationToken);

        public object? GetService(Type serviceType, object? serviceKey = null) => _inner.GetService(serviceType, serviceKey);

        public void Dispose() => _inner.Dispose();
    }
}
