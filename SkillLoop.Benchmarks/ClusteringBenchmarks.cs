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

    private static List<LabelledIssue> Load(string repositoryRoot, string file) =>
        JsonSerializer.Deserialize<List<LabelledIssue>>(
            File.ReadAllText(Path.Combine(repositoryRoot, "SkillLoop.Tests", "Fixtures", "Clustering", file)),
            new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

    public static async Task RunAsync(string repositoryRoot, int knnVectors, int endToEnd)
    {
        var labelled = Load(repositoryRoot, "labelled-issues.json");
        // Written separately and never used to choose a threshold or any other setting: the honest figure.
        var holdout = Load(repositoryRoot, "labelled-issues-holdout.json");
        // Two more, written 2026-12-02 by someone who saw neither the method nor its figures, after the first had been
        // looked at twice (local scaling, SIF pooling), with paraphrases that share fewer words; and a second set to choose
        // on, written the same way (the pooling experiment's --set replays it).
        var holdout2 = Load(repositoryRoot, "labelled-issues-holdout2.json");
        var holdout3 = Load(repositoryRoot, "labelled-issues-holdout3.json");
        var tuning2 = Load(repositoryRoot, "labelled-issues-tuning2.json");

        // One core for every quality run: each run gets skills of its own (see Core.NewRunAsync), so runs do not mix
        // and the model is loaded once.
        await using var shared = await Core.StartAsync();
        Console.WriteLine($"clustering quality: {labelled.Count} labelled issues, {labelled.Select(i => i.Problem).Distinct().Count()} problems, default model, pairwise scores");
        // The sweep runs the production flow (assigned as they arrive, then consolidated), by skill and with every
        // signal in one partition; the threshold with the best mean F1 over English, Chinese and mixed in both modes
        // (the goals name both) is the one this set recommends.
        float[] thresholds = [0.3f, 0.33f, 0.35f, 0.38f, 0.4f, 0.42f, 0.45f, 0.5f];
        var means = thresholds.ToDictionary(t => t, _ => 0.0);
        foreach (var bySkill in new[] { true, false })
        {
            foreach (var language in new[] { "en", "zh", "mixed" })
            {
                var subset = language == "mixed" ? labelled : labelled.Where(i => i.Language == language).ToList();
                foreach (var threshold in thresholds)
                {
                    var core = shared;
                    await core.NewRunAsync(threshold);
                    var assigned = new List<(long Id, string Label)>();
                    foreach (var issue in subset)
                    {
                        var id = await core.StoreAsync(bySkill ? issue.Skill : null, issue.Text);
                        await core.Services.GetRequiredService<Clusterer>().AssignAsync(id, null, CancellationToken.None);
                        assigned.Add((id, issue.Skill + "/" + issue.Problem));
                    }

                    var greedy = ClusterQuality.Pairwise(await core.ClustersOfAsync(assigned));
                    await core.Services.GetRequiredService<ClusterConsolidator>().RunAsync(CancellationToken.None);
                    var scores = ClusterQuality.Pairwise(await core.ClustersOfAsync(assigned));
                    means[threshold] += scores.F1 / 6;
                    var marker = Math.Abs(threshold - ClusteringSettings.DefaultSimilarity) < 0.001 ? "  <- default" : "";
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {(bySkill ? "by skill" : "one partition"),-13} {language,-5} threshold {threshold:F2}: precision {scores.Precision:F3} recall {scores.Recall:F3} F1 {scores.F1:F3} ({scores.Clusters} clusters for {subset.Select(i => i.Problem).Distinct().Count()} problems; as they arrived F1 {greedy.F1:F3}){marker}"));
                }
            }
        }

        var best = means.MaxBy(m => m.Value).Key;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  best mean F1 on the labelled set: threshold {best:F2} ({means[best]:F3}); default {ClusteringSettings.DefaultSimilarity:F2} ({means.GetValueOrDefault(ClusteringSettings.DefaultSimilarity):F3})"));
        Console.WriteLine();
        (List<LabelledIssue> Set, string Name)[] holdouts = [(holdout, "hold-out set"), (holdout2, "second hold-out set"), (holdout3, "third hold-out set")];
        foreach (var (set, name) in new[] { (labelled, "labelled set"), (tuning2, "second labelled set") }.Concat(holdouts))
        {
            await AtDefaultAsync(shared, set, name, ClusteringSettings.DefaultSimilarity);
            Console.WriteLine();
            if (Math.Abs(best - ClusteringSettings.DefaultSimilarity) > 0.001)
            {
                await AtDefaultAsync(shared, set, name, best);
                Console.WriteLine();
            }
        }

        await SeparabilityAsync(shared, [(labelled, "labelled set"), (tuning2, "second labelled set"), .. holdouts]);
        Console.WriteLine();
        await OrderSpreadAsync(shared, labelled, "labelled set");
        foreach (var (set, name) in holdouts)
        {
            Console.WriteLine();
            await OrderSpreadAsync(shared, set, name);
        }

        if (knnVectors <= 0)
        {
            return; // quality only
        }

        Console.WriteLine();
        await KnnAsync(knnVectors);
        Console.WriteLine();
        await EndToEndAsync(labelled, endToEnd);
    }

    /// <summary>
    /// The production flow at the default threshold: signals clustered as they arrive (file order), then one
    /// consolidation pass; by skill (as the server partitions) and with every signal in one partition.
    /// Goals: English, Chinese and mixed each >= 0.85 (English >= 0.89 on the labelled set).
    /// </summary>
    private static async Task AtDefaultAsync(Core core, IReadOnlyList<LabelledIssue> set, string name, float threshold)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"quality at threshold {threshold:F2}{(Math.Abs(threshold - ClusteringSettings.DefaultSimilarity) < 0.001 ? " (default)" : " (best on the labelled set)")} ({name}: {set.Count} issues, {set.Select(i => i.Skill + "/" + i.Problem).Distinct().Count()} problems, {set.Select(i => i.Skill).Distinct().Count()} skills; consolidated; goal F1 >= 0.85)"));
        foreach (var bySkill in new[] { true, false })
        {
            foreach (var language in new[] { "en", "zh", "mixed" })
            {
                var subset = language == "mixed" ? set.ToList() : set.Where(i => i.Language == language).ToList();
                await core.NewRunAsync(threshold);
                var clusterer = core.Services.GetRequiredService<Clusterer>();
                var ids = new List<(long Id, string Label)>();
                foreach (var issue in subset)
                {
                    var id = await core.StoreAsync(bySkill ? issue.Skill : null, issue.Text);
                    await clusterer.AssignAsync(id, null, CancellationToken.None);
                    ids.Add((id, issue.Skill + "/" + issue.Problem));
                }

                var greedy = ClusterQuality.Pairwise(await core.ClustersOfAsync(ids));
                await core.Services.GetRequiredService<ClusterConsolidator>().RunAsync(CancellationToken.None);
                var scores = ClusterQuality.Pairwise(await core.ClustersOfAsync(ids));
                var skills = subset.Select(i => i.Skill).Distinct().ToList();
                var oneCluster = ClusterQuality.Pairwise(subset.Select((issue, n) => (bySkill ? (long)skills.IndexOf(issue.Skill) : 0L, ids[n].Label)).ToList());
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {(bySkill ? "by skill" : "one partition"),-13} {language,-5}: F1 {scores.F1:F3} (precision {scores.Precision:F3} recall {scores.Recall:F3}, {scores.Clusters} clusters; as they arrived {greedy.F1:F3}; one cluster per {(bySkill ? "skill" : "set")} {oneCluster.F1:F3})"));
            }
        }
    }

    /// <summary>
    /// Whether the vectors themselves keep problems apart, with no clustering: per set and language, the mean cosine
    /// between paraphrases of one problem, between two problems of one skill and between skills, and the share of a
    /// sentence's nearest 1 / 3 / 5 neighbours (among all, and among its own skill's) that state its problem. Texts are
    /// embedded as the clusterer embeds them. Where "within" barely exceeds "same skill", no linkage rule can separate
    /// a skill's problems.
    /// </summary>
    private static async Task SeparabilityAsync(Core core, IReadOnlyList<(List<LabelledIssue> Set, string Name)> sets)
    {
        Console.WriteLine("separability of the vectors (no clustering): mean cosine within a problem / same skill / other skill; nearest neighbours stating the same problem");
        var embedder = core.Services.GetRequiredService<Microsoft.Extensions.AI.IEmbeddingGenerator<string, Microsoft.Extensions.AI.Embedding<float>>>();
        foreach (var (set, name) in sets)
        {
            foreach (var language in new[] { "en", "zh" })
            {
                var subset = set.Where(i => i.Language == language).ToList();
                var vectors = (await embedder.GenerateAsync(subset.Select(i => Clusterer.TextFor(i.Text, null))))
                    .Select(e => Vectors.Normalize(e.Vector.Span)).ToList();
                var similarity = new float[subset.Count, subset.Count];
                (double Sum, int Count) within = default, sameSkill = default, otherSkill = default;
                for (var a = 0; a < subset.Count; a++)
                {
                    for (var b = 0; b < subset.Count; b++)
                    {
                        similarity[a, b] = Vectors.CosineSimilarity(vectors[a], vectors[b]);
                        if (b <= a)
                            continue;
                        ref var bucket = ref subset[a].Problem == subset[b].Problem ? ref within : ref subset[a].Skill == subset[b].Skill ? ref sameSkill : ref otherSkill;
                        bucket = (bucket.Sum + similarity[a, b], bucket.Count + 1);
                    }
                }

                // Share of the k nearest (excluding itself) that state the sentence's problem, optionally within its skill.
                double Nearest(int k, bool inSkill) => Enumerable.Range(0, subset.Count).Average(a => Enumerable.Range(0, subset.Count)
                    .Where(b => b != a && (!inSkill || subset[b].Skill == subset[a].Skill))
                    .OrderByDescending(b => similarity[a, b]).Take(k)
                    .Count(b => subset[b].Problem == subset[a].Problem) / (double)k);
                static double Mean((double Sum, int Count) x) => x.Count == 0 ? double.NaN : x.Sum / x.Count;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {name,-20} {language}: within {Mean(within):F3}, same skill {Mean(sameSkill):F3}, other skill {Mean(otherSkill):F3}; nearest 1/3/5 {Nearest(1, false):F2} {Nearest(3, false):F2} {Nearest(5, false):F2}; within its skill 1/3 {Nearest(1, true):F2} {Nearest(3, true):F2}"));
            }
        }
    }

    /// <summary>
    /// Arrival order: the same signals in 10 shuffled orders (fixed seeds), clustered as they arrive, then after one
    /// consolidation pass. Prints the spread (max - min) of pairwise F1 (goal <= 0.02) and of the cluster count.
    /// </summary>
    private static async Task OrderSpreadAsync(Core core, IReadOnlyList<LabelledIssue> labelled, string name)
    {
        const int Orders = 10;
        Console.WriteLine($"arrival order ({name}, default threshold {ClusteringSettings.DefaultSimilarity:F2}, {Orders} shuffled orders): spread = max - min");
        foreach (var language in new[] { "en", "zh", "mixed" })
        {
            var subset = language == "mixed" ? labelled.ToList() : labelled.Where(i => i.Language == language).ToList();
            var greedy = new List<PairwiseScores>();
            var consolidated = new List<PairwiseScores>();
            for (var order = 0; order < Orders; order++)
            {
                var shuffled = subset.OrderBy(_ => 0).ToArray();
                new Random(1000 + order).Shuffle(shuffled);
                await core.NewRunAsync(ClusteringSettings.DefaultSimilarity);
                var clusterer = core.Services.GetRequiredService<Clusterer>();
                var ids = new List<(long Id, string Label)>();
                foreach (var issue in shuffled)
                {
                    var id = await core.StoreAsync(issue.Skill, issue.Text);
                    await clusterer.AssignAsync(id, null, CancellationToken.None);
                    ids.Add((id, issue.Skill + "/" + issue.Problem));
                }

                greedy.Add(ClusterQuality.Pairwise(await core.ClustersOfAsync(ids)));
                await core.Services.GetRequiredService<ClusterConsolidator>().RunAsync(CancellationToken.None);
                consolidated.Add(ClusterQuality.Pairwise(await core.ClustersOfAsync(ids)));
            }

            foreach (var (label, scores) in new[] { ("as they arrive", greedy), ("consolidated", consolidated) })
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {language,-5} {label,-15}: F1 mean {scores.Average(s => s.F1):F3} min {scores.Min(s => s.F1):F3} max {scores.Max(s => s.F1):F3} spread {scores.Max(s => s.F1) - scores.Min(s => s.F1):F3}{(label == "consolidated" ? " (goal <= 0.020)" : "")}; clusters {scores.Min(s => s.Clusters)}-{scores.Max(s => s.Clusters)} (spread {scores.Max(s => s.Clusters) - scores.Min(s => s.Clusters)}) for {subset.Select(i => i.Skill + "/" + i.Problem).Distinct().Count()} problems"));
            }
        }
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

        // The first consolidation pass re-clusters every skill (later passes only the skills that changed).
        var skills = labelled.Select(i => i.Skill).Distinct().Count();
        clock.Restart();
        var result = await core.Services.GetRequiredService<ClusterConsolidator>().RunAsync(CancellationToken.None);
        clock.Stop();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"consolidation pass over those clusters: {skills} skills of ~{count / skills:N0} signals (re-clustered up to {ClusterConsolidator.ReclusterLimit:N0} a skill) in {clock.Elapsed.TotalSeconds:F1} s ({result.Merged} merged, {result.Moved} moved)"));
    }

    private static float[] RandomVector(Random random) => Enumerable.Range(0, 384).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    /// <summary>The real core services over a temporary database, with the quality runs' signals.</summary>
    private sealed class Core(BenchmarkCore core) : IAsyncDisposable
    {
        private int _sessions;

        public IServiceProvider Services => core.Services;

        public static async Task<Core> StartAsync() => new(await BenchmarkCore.StartAsync("skillloop-bench-core-"));

        private int _run;

        /// <summary>Starts a quality run at this threshold: its signals get skills of their own ("r7:pdf-report").</summary>
        public async Task NewRunAsync(float threshold)
        {
            _run++;
            await core.Get<ClusteringSettings>().SetAsync(new ClusteringThresholds(threshold, 3), CancellationToken.None);
        }

        public async Task<long> StoreAsync(string? skill, string text)
        {
            skill = $"r{_run}:{skill}";
            var session = $"bench-{Interlocked.Increment(ref _sessions)}";
            var batch = new SignalBatch("claude", session, $"user-{_sessions}", 0, new SessionCursor("claude", session, 1, skill, null), [],
                [new DetectedCorrection("t", text, "bench", skill, null, 1, null, [])]);
            await core.Get<SignalIngestor>().IngestAsync(batch, CancellationToken.None);
            return (await core.Get<SignalStore>().QueryAsync(new SignalQuery(SessionId: session, Limit: 1), CancellationToken.None))[0].Id;
        }

        /// <summary>The cluster each signal is in now (consolidation may have moved it).</summary>
        public async Task<List<(long Cluster, string Label)>> ClustersOfAsync(IReadOnlyList<(long Id, string Label)> signals)
        {
            await using var connection = await core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
            var result = new List<(long, string)>(signals.Count);
            foreach (var (id, label) in signals)
            {
                result.Add((await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, "SELECT cluster_id FROM signals WHERE id = @id", new { id }), label));
            }

            return result;
        }

        public ValueTask DisposeAsync() => core.DisposeAsync();
    }
}
