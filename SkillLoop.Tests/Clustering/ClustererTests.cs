using Dapper;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Clustering;

public sealed class ClustererTests
{
    private const string TotalsAtBottom = "the totals row must stay at the bottom of the report table";
    private const string DatesIso = "dates in the report header must use ISO format year month day";

    public static TheoryData<bool> VectorIndexes => new() { true, false };

    [Theory]
    [MemberData(nameof(VectorIndexes))]
    public async Task One_problem_from_three_users_forms_one_cluster_that_reaches_the_threshold_once(bool sqliteVec)
    {
        await using var core = await StartAsync(sqliteVec);
        var clusterer = core.Get<Clusterer>();

        var first = await clusterer.AssignAsync(await StoreAsync(core, "alice", "pdf-report", "No, " + TotalsAtBottom), null, CancellationToken.None);
        var second = await clusterer.AssignAsync(await StoreAsync(core, "bob", "pdf-report", "wrong again: " + TotalsAtBottom + " please"), null, CancellationToken.None);
        var alicesAgain = await clusterer.AssignAsync(await StoreAsync(core, "alice", "pdf-report", "I said " + TotalsAtBottom), null, CancellationToken.None);
        var third = await clusterer.AssignAsync(await StoreAsync(core, "carol", "pdf-report", "不对, " + TotalsAtBottom), null, CancellationToken.None);
        var fourth = await clusterer.AssignAsync(await StoreAsync(core, "dave", "pdf-report", "you forgot: " + TotalsAtBottom), null, CancellationToken.None);

        Assert.True(first.CreatedCluster);
        Assert.All(new[] { second, alicesAgain, third, fourth }, a => Assert.Equal(first.ClusterId, a.ClusterId));
        Assert.Equal([false, false, false, true, false], new[] { first, second, alicesAgain, third, fourth }.Select(a => a.ThresholdReached));
        var cluster = await ReadClusterAsync(core, first.ClusterId);
        Assert.Equal((5, 4), (cluster.SignalCount, cluster.UserCount));
        Assert.NotNull(cluster.ThresholdReachedAt);
    }

    [Theory]
    [MemberData(nameof(VectorIndexes))]
    public async Task Different_problems_and_different_skills_get_clusters_of_their_own(bool sqliteVec)
    {
        await using var core = await StartAsync(sqliteVec);
        var clusterer = core.Get<Clusterer>();

        var totals = await clusterer.AssignAsync(await StoreAsync(core, "alice", "pdf-report", TotalsAtBottom), null, CancellationToken.None);
        var dates = await clusterer.AssignAsync(await StoreAsync(core, "bob", "pdf-report", DatesIso), null, CancellationToken.None);
        var otherSkill = await clusterer.AssignAsync(await StoreAsync(core, "carol", "xlsx-export", TotalsAtBottom), null, CancellationToken.None);
        var datesAgain = await clusterer.AssignAsync(await StoreAsync(core, "dave", "pdf-report", "no! " + DatesIso), null, CancellationToken.None);

        Assert.Equal(3, new[] { totals.ClusterId, dates.ClusterId, otherSkill.ClusterId }.Distinct().Count());
        Assert.Equal(dates.ClusterId, datesAgain.ClusterId);
        Assert.Equal("pdf-report", (await ReadClusterAsync(core, dates.ClusterId)).Skill);
    }

    [Fact]
    public async Task Concurrent_arrivals_of_one_problem_from_several_users_make_one_cluster_that_crosses_once()
    {
        await using var core = await StartAsync(sqliteVec: true);
        var clusterer = core.Get<Clusterer>();
        var ids = new List<long>();
        foreach (var user in new[] { "u1", "u2", "u3", "u4", "u5", "u6" })
        {
            ids.Add(await StoreAsync(core, user, "pdf-report", $"{user} says {TotalsAtBottom}"));
        }

        var assignments = await Task.WhenAll(ids.Select(id => Task.Run(() => clusterer.AssignAsync(id, null, CancellationToken.None))));

        Assert.Single(assignments.Select(a => a.ClusterId).Distinct());
        Assert.Single(assignments, a => a.CreatedCluster);
        Assert.Single(assignments, a => a.ThresholdReached);
        Assert.Equal(6, (await ReadClusterAsync(core, assignments[0].ClusterId)).UserCount);
    }

    [Fact]
    public async Task Assigning_a_clustered_signal_again_changes_nothing()
    {
        await using var core = await StartAsync(sqliteVec: true);
        var clusterer = core.Get<Clusterer>();
        var id = await StoreAsync(core, "alice", "pdf-report", TotalsAtBottom);

        var first = await clusterer.AssignAsync(id, null, CancellationToken.None);
        var again = await clusterer.AssignAsync(id, null, CancellationToken.None);

        Assert.Equal(first.ClusterId, again.ClusterId);
        Assert.False(again.CreatedCluster);
        Assert.Equal(1, (await ReadClusterAsync(core, first.ClusterId)).SignalCount);
    }

    [Theory]
    [InlineData("No, that's wrong: the totals row must stay at the bottom. Also use bold.", null, "The totals row must stay at the bottom.")]
    [InlineData("no, read the config from the .env file. Also use bold.", null, "Read the config from the .env file.")]
    [InlineData("whatever", "Totals row is placed first instead of last", "Totals row is placed first instead of last")]
    [InlineData("whatever", "The agent read settings.json instead of .env. Again.", "The agent read settings.json instead of .env.")]
    public void A_cluster_title_is_the_problem_pattern_or_the_persons_first_sentence(string correction, string? pattern, string expected) =>
        Assert.Equal(expected, Clusterer.Title(correction, pattern));

    [Fact]
    public async Task A_cluster_is_titled_by_the_correction_nearest_its_centroid_not_by_the_first_arrival()
    {
        await using var core = await StartAsync(sqliteVec: true);
        var clusterer = core.Get<Clusterer>();

        // The first arrival carries extra words; the later ones are the common core of the problem.
        var first = await clusterer.AssignAsync(await StoreAsync(core, "alice", "pdf-report", "no, " + TotalsAtBottom + " and also the header colour is off today"), null, CancellationToken.None);
        var second = await clusterer.AssignAsync(await StoreAsync(core, "bob", "pdf-report", "wrong: " + TotalsAtBottom), null, CancellationToken.None);
        var third = await clusterer.AssignAsync(await StoreAsync(core, "carol", "pdf-report", "wrong again: " + TotalsAtBottom), null, CancellationToken.None);

        Assert.Equal(first.ClusterId, second.ClusterId);
        Assert.Equal(first.ClusterId, third.ClusterId);
        Assert.Equal("The totals row must stay at the bottom of the report table", (await ReadClusterAsync(core, first.ClusterId)).Title);
    }

    /// <summary>Core services with the word-overlap embedder, whose geometry these tests' threshold is chosen for.</summary>
    internal static async Task<TestCore> StartAsync(bool sqliteVec, IEmbeddingGenerator<string, Embedding<float>>? embedder = null)
    {
        var core = await TestCore.StartAsync(
            sqliteVec ? null : new Dictionary<string, string?> { ["SKILLLOOP_SQLITE_VEC"] = "/nonexistent/vec0.so" },
            services => services.AddSingleton(embedder ?? new BagOfWordsEmbeddingGenerator()));
        await core.Get<ClusteringSettings>().SetAsync(new ClusteringThresholds(0.6f, ClusteringSettings.DefaultDistinctUsers), CancellationToken.None);
        return core;
    }

    internal static async Task<long> StoreAsync(
        TestCore core, string user, string skill, string text, string pattern = "en-reject-wrong", IngestCredential? credential = null, string? localExtractor = null)
    {
        var sessionId = Guid.NewGuid().ToString("N");
        var batch = new SignalBatch("claude", sessionId, user, 0, new SessionCursor("claude", sessionId, 10, skill, null),
            [], [new DetectedCorrection("t1", text, pattern, skill, null, 0.9, null, [])], LocalExtractor: localExtractor);
        await core.Get<SignalIngestor>().IngestAsync(batch, credential ?? IngestCredential.SelfDeclared, CancellationToken.None);
        return (await core.Get<SignalStore>().QueryAsync(new SignalQuery(SessionId: sessionId), CancellationToken.None)).Single().Id;
    }

    private static async Task<ClusterRow> ReadClusterAsync(TestCore core, long id)
    {
        await using var connection = await core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        return await connection.QuerySingleAsync<ClusterRow>(
            "SELECT skill AS Skill, title AS Title, signal_count AS SignalCount, user_count AS UserCount, threshold_reached_at AS ThresholdReachedAt FROM clusters WHERE id = @id", new { id });
    }

    private sealed class ClusterRow
    {
        public string Skill { get; init; } = "";
        public string Title { get; init; } = "";
        public long SignalCount { get; init; }
        public long UserCount { get; init; }
        public DateTimeOffset? ThresholdReachedAt { get; init; }
    }
}
