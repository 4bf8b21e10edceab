using Dapper;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Capture;

/// <summary>Issue 16, item 13: one token's flood cannot starve the others in extraction and clustering.</summary>
public sealed class FairShareTests
{
    private const long Flooder = 7;
    private const long Quiet = 9;

    /// <summary>Six signals from the flooding token first, then two from a quiet one.</summary>
    private static async Task<Dictionary<long, long>> IngestAsync(TestCore core)
    {
        var ingestor = core.Get<SignalIngestor>();
        await ingestor.IngestAsync(SignalIngestorTests.Batch("flood", 0, 10, "flood@example.com",
            "no, wrong 1", "no, wrong 2", "no, wrong 3", "no, wrong 4", "no, wrong 5", "no, wrong 6"), new IngestCredential(Flooder, Shared: true), CancellationToken.None);
        await ingestor.IngestAsync(SignalIngestorTests.Batch("quiet", 0, 10, "quiet@example.com", "no, wrong a", "no, wrong b"), new IngestCredential(Quiet, Shared: true), CancellationToken.None);
        await using var connection = await core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        return (await connection.QueryAsync<(long Id, long Credential)>("SELECT id, credential_id FROM signals")).ToDictionary(r => r.Id, r => r.Credential);
    }

    [Fact]
    public async Task Extraction_takes_jobs_in_turn_from_each_credential()
    {
        await using var core = await TestCore.StartAsync();
        var credentialOf = await IngestAsync(core);
        var store = core.Get<IssueStore>();

        var order = new List<long>();
        while (await store.ClaimNextAsync(CancellationToken.None) is { } job)
        {
            order.Add(credentialOf[job.SignalId]);
        }

        // Without turns the quiet token would wait behind all six.
        Assert.Equal([Flooder, Quiet, Flooder, Quiet, Flooder, Flooder, Flooder, Flooder], order);
    }

    [Fact]
    public async Task A_clustering_batch_interleaves_the_credentials_and_skips_the_batch_in_flight()
    {
        await using var core = await TestCore.StartAsync();
        var credentialOf = await IngestAsync(core);
        var store = core.Get<IssueStore>();
        while (await store.ClaimNextAsync(CancellationToken.None) is { } job)
        {
            await store.CompleteAsync(job.SignalId, new SignalIssue("Used npm", "Ignored the team's tool", "Use pnpm", IssueSeverity.Medium, 0.8, "test"), CancellationToken.None);
        }

        var runner = core.Get<ClusteringJobRunner>();
        var pending = await runner.ReadPendingAsync([], CancellationToken.None);
        var inFlight = pending.Take(3).Select(p => p.SignalId).ToList();
        var rest = await runner.ReadPendingAsync(inFlight, CancellationToken.None);

        Assert.Equal([Flooder, Quiet, Flooder, Quiet, Flooder, Flooder, Flooder, Flooder], pending.Select(p => credentialOf[p.SignalId]));
        Assert.Equal(5, rest.Count);
        Assert.DoesNotContain(rest, p => inFlight.Contains(p.SignalId));
    }

    [Fact]
    public async Task Finding_the_next_clustering_batch_reads_each_credentials_oldest_signals_not_the_whole_backlog()
    {
        await using var core = await TestCore.StartAsync();
        await using var connection = await core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        var plan = (await connection.QueryAsync<(long Id, long Parent, long NotUsed, string Detail)>(
            "EXPLAIN QUERY PLAN " + ClusteringJobRunner.PendingSql, new { exclude = "[]", BatchSize = 32 })).Select(r => r.Detail).ToList();

        // Every read of signals is a seek or a bounded range of the unclustered index (migration 19). Numbering every
        // unclustered signal to take 32 read ix_signals_cluster_id's whole NULL range at every batch.
        var signalReads = plan.Where(d => d.Contains(" signals", StringComparison.Ordinal) || d.StartsWith("SEARCH s ", StringComparison.Ordinal) || d.StartsWith("SEARCH u ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(signalReads);
        Assert.All(signalReads, d => Assert.True(d.Contains("ix_signals_unclustered", StringComparison.Ordinal) || d.Contains("INTEGER PRIMARY KEY", StringComparison.Ordinal), d));
        Assert.DoesNotContain(plan, d => d.Contains("ix_signals_cluster_id", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Jobs_queued_by_the_catch_up_pass_keep_their_signals_credential()
    {
        await using var core = await TestCore.StartAsync();
        await IngestAsync(core);
        await using var connection = await core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        await connection.ExecuteAsync("DELETE FROM extraction_jobs");

        await core.Get<IssueStore>().EnqueueNewAsync(CancellationToken.None);

        Assert.Equal(0, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM extraction_jobs j JOIN signals s ON s.id = j.signal_id WHERE j.credential_id <> s.credential_id"));
        Assert.Equal(2, await connection.ExecuteScalarAsync<long>($"SELECT count(*) FROM extraction_jobs WHERE credential_id = {Quiet}"));
    }
}
