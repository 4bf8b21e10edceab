using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkillLoop.Core;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Benchmarks;

/// <summary>Clustering figures with the default embedding model: quality on the labelled set, KNN, throughput.</summary>
internal static class ClusteringBenchmarks
{
    private sealed record LabelledIssue(string Skill, string Problem, string Language, string Text);

    public static async Task RunAsync(string repositoryRoot, int knnVectors, int endToEnd)
    {
        var labelled = JsonSerializer.Deserialize<List<LabelledIssue>>(
            File.ReadAllText(Path.Combine(repositoryRoot, "SkillLoop.Tests", "Fixtures", "Clustering", "labelled-issues.json")),
            new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

        Console.WriteLine($"clustering quality: {labelled.Count} labelled issues, {labelled.Select(i => i.Problem).Distinct().Count()} problems, default model, pairwise scores");
        foreach (var language in new[] { "en", "zh", "mixed" })
        {
            var subset = language == "mixed" ? labelled : labelled.Where(i => i.Language == language).ToList();
            foreach (var threshold in new[] { 0.3f, 0.35f, 0.4f, 0.42f, 0.45f, 0.5f, 0.55f, 0.6f })
            {
                await using var core = await Core.StartAsync();
                await core.Services.GetRequiredService<ClusteringSettings>().SetAsync(new ClusteringThresholds(threshold, 3), CancellationToken.None);
                var assigned = new List<(long Cluster, string Label)>();
                foreach (var issue in subset)
                {
                    var id = await core.StoreAsync(issue.Skill, issue.Text);
                    var assignment = await core.Services.GetRequiredService<Clusterer>().AssignAsync(id, null, CancellationToken.None);
                    assigned.Add((assignment.ClusterId, issue.Skill + "/" + issue.Problem));
                }

                var scores = ClusterQuality.Pairwise(assigned);
                var marker = Math.Abs(threshold - ClusteringSettings.DefaultSimilarity) < 0.001 ? "  <- default" : "";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {language,-5} threshold {threshold:F2}: precision {scores.Precision:F3} recall {scores.Recall:F3} F1 {scores.F1:F3} ({scores.Clusters} clusters for {subset.Select(i => i.Problem).Distinct().Count()} problems){marker}"));
            }
        }

        Console.WriteLine();
        await KnnAsync(knnVectors);
        Console.WriteLine();
        await EndToEndAsync(labelled, endToEnd);
    }

    public static async Task KnnAsync(int count)
    {
        await using var core = await Core.StartAsync();
        var db = core.Services.GetRequiredService<SqliteDb>();
        var index = new VectorIndex(db, "bench");
        var random = new Random(7);
        await using var connection = await db.OpenWithVectorsAsync(CancellationToken.None);
        var insert = Stopwatch.StartNew();
        await using (var transaction = connection.BeginTransaction())
        {
            for (var i = 1; i <= count; i++)
            {
                await index.UpsertAsync(connection, transaction, i, "skill", RandomVector(random), CancellationToken.None);
            }

            transaction.Commit();
        }

        insert.Stop();
        // The first query of a large partition loads its int8 copy; the median is over the queries after it.
        var load = Stopwatch.StartNew();
        await index.NearestAsync(connection, null, "skill", RandomVector(random), 10, CancellationToken.None);
        load.Stop();
        var vecOnly = new VectorIndex(db, "bench", largePartition: int.MaxValue);
        var int8 = new List<double>();
        var vec = new List<double>();
        var exact = new List<double>();
        for (var q = 0; q < 30; q++)
        {
            var query = RandomVector(random);
            var clock = Stopwatch.StartNew();
            await index.NearestAsync(connection, null, "skill", query, 10, CancellationToken.None);
            int8.Add(clock.Elapsed.TotalMilliseconds);
            if (q < 10)
            {
                clock.Restart();
                await vecOnly.NearestAsync(connection, null, "skill", query, 10, CancellationToken.None);
                vec.Add(clock.Elapsed.TotalMilliseconds);
            }

            if (q < 5)
            {
                clock.Restart();
                await index.ExactNearestAsync(connection, null, "skill", Vectors.Normalize(query), 10, CancellationToken.None);
                exact.Add(clock.Elapsed.TotalMilliseconds);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"knn: {count:N0} x 384-d vectors inserted in {insert.Elapsed.TotalSeconds:F1} s; top-10 median {Median(int8):F1} ms (goal <= 30 ms) {(count >= VectorIndex.DefaultLargePartition ? "via the int8 copy + exact re-rank" : "via sqlite-vec (partition below the int8 size)")} (first query: {load.Elapsed.TotalMilliseconds:F0} ms); {db.Vec.Description} alone median {Median(vec):F1} ms; exact SQLite scan median {Median(exact):F0} ms"));
    }

    private static async Task EndToEndAsync(IReadOnlyList<LabelledIssue> labelled, int count)
    {
        await using var core = await Core.StartAsync();
        var clusterer = core.Services.GetRequiredService<Clusterer>();
        var ids = new List<long>(count);
        for (var i = 0; i < count; i++)
        {
            var issue = labelled[i % labelled.Count];
            ids.Add(await core.StoreAsync(issue.Skill, $"{issue.Text} (case {i})"));
        }

        var clock = Stopwatch.StartNew();
        // As the background runner does: embedded in batches, assigned one transaction each.
        foreach (var chunk in ids.Chunk(32))
        {
            await clusterer.AssignManyAsync(chunk.Select(id => (id, (string?)null)).ToList(), CancellationToken.None);
        }

        clock.Stop();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"clustering end to end (embedding included, batches of 32): {count:N0} issues in {clock.Elapsed.TotalSeconds:F1} s ({count / clock.Elapsed.TotalSeconds:F0} issues/s)"));
    }

    private static float[] RandomVector(Random random) => Enumerable.Range(0, 384).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    /// <summary>The real core services over a temporary database.</summary>
    private sealed class Core : IAsyncDisposable
    {
        private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("skillloop-bench-core-");
        private ServiceProvider _services = null!;
        private int _sessions;

        public IServiceProvider Services => _services;

        public static async Task<Core> StartAsync()
        {
            var core = new Core();
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["data"] = core._directory.FullName }).Build();
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(configuration);
            services.AddLogging(b => b.SetMinimumLevel(LogLevel.Error).AddSimpleConsole());
            services.AddSkillLoopCore(configuration);
            core._services = services.BuildServiceProvider();
            await core._services.GetServices<IHostedService>().OfType<SkillLoopStartup>().Single().StartAsync(CancellationToken.None);
            return core;
        }

        public async Task<long> StoreAsync(string skill, string text)
        {
            var session = $"bench-{Interlocked.Increment(ref _sessions)}";
            var batch = new SignalBatch("claude", session, $"user-{_sessions}", 0, new SessionCursor("claude", session, 1, skill, null), [],
                [new DetectedCorrection("t", text, "bench", skill, null, 1, null, [])]);
            await _services.GetRequiredService<SignalIngestor>().IngestAsync(batch, CancellationToken.None);
            return (await _services.GetRequiredService<SignalStore>().QueryAsync(new SignalQuery(SessionId: session, Limit: 1), CancellationToken.None))[0].Id;
        }

        public async ValueTask DisposeAsync()
        {
            await _services.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            _directory.Delete(recursive: true);
        }
    }
}
