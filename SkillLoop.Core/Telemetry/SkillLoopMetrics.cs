using System.Diagnostics.Metrics;
using Dapper;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Telemetry;

/// <summary>
/// What an operator watches (exported at <c>GET /metrics</c>, names prefixed <c>skillloop_</c>): signals ingested,
/// posts refused by reason, backlog depth per stage, extraction failures by provider, embeddings, proposals by state
/// and push failures. Counters are added where the work happens; the backlog and proposal gauges are read from the
/// database once per scrape (<see cref="RefreshAsync"/>) so no stage pays for them between scrapes.
/// </summary>
public sealed class SkillLoopMetrics
{
    public const string MeterName = "SkillLoop";

    private readonly Counter<long> _signalsIngested;
    private readonly Counter<long> _postsRefused;
    private readonly Counter<long> _extractionFailures;
    private readonly Counter<long> _embeddings;
    private readonly Counter<long> _pushFailures;
    private readonly SqliteDb _db;
    private volatile Snapshot _snapshot = new([], []);

    public SkillLoopMetrics(IMeterFactory meters, SqliteDb db, OwnMeter own)
    {
        _db = db;
        var meter = meters.Create(MeterName);
        own.Meter = meter; // before any instrument exists, so the exporter's view knows them as this host's
        _signalsIngested = meter.CreateCounter<long>("skillloop.signals.ingested", "{signal}", "Corrections stored from client posts.");
        _postsRefused = meter.CreateCounter<long>("skillloop.posts.refused", "{post}", "Client posts refused, by reason.");
        _extractionFailures = meter.CreateCounter<long>("skillloop.extraction.failures", "{failure}", "Failed extraction attempts, by provider.");
        _embeddings = meter.CreateCounter<long>("skillloop.embeddings", "{embedding}", "Texts embedded (its rate is embeddings per second).");
        _pushFailures = meter.CreateCounter<long>("skillloop.push.failures", "{failure}", "Failed pushes and pull request calls of approved proposals.");
        meter.CreateObservableGauge("skillloop.backlog", () => _snapshot.Backlog, "{item}", "Work waiting per stage (extraction, clustering, push).");
        meter.CreateObservableGauge("skillloop.proposals", () => _snapshot.Proposals, "{proposal}", "Proposals by state.");
    }

    public void SignalsIngested(int count)
    {
        if (count > 0)
            _signalsIngested.Add(count);
    }

    public void PostRefused(string reason) => _postsRefused.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void ExtractionFailed(string provider) => _extractionFailures.Add(1, new KeyValuePair<string, object?>("provider", provider));

    public void Embedded(int count) => _embeddings.Add(count);

    public void PushFailed() => _pushFailures.Add(1);

    /// <summary>Reads the gauges' values from the database; called just before a scrape is answered.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _db.OpenAsync(cancellationToken);
        var backlog = await connection.QuerySingleAsync<(long Extraction, long Clustering, long Push)>(new CommandDefinition(
            """
            SELECT (SELECT count(*) FROM extraction_jobs WHERE state IN ('pending', 'running')),
                   (SELECT count(*) FROM issues i JOIN signals s ON s.id = i.signal_id WHERE s.cluster_id IS NULL),
                   (SELECT count(*) FROM proposals WHERE state = 'approved')
            """, cancellationToken: cancellationToken));
        var proposals = await connection.QueryAsync<(string State, long Count)>(new CommandDefinition(
            "SELECT state, count(*) FROM proposals GROUP BY state", cancellationToken: cancellationToken));
        _snapshot = new Snapshot(
            [Measure(backlog.Extraction, "stage", "extraction"), Measure(backlog.Clustering, "stage", "clustering"), Measure(backlog.Push, "stage", "push")],
            [.. proposals.Select(p => Measure(p.Count, "state", p.State))]);
    }

    private static Measurement<long> Measure(long value, string tag, string tagValue) => new(value, new KeyValuePair<string, object?>(tag, tagValue));

    /// <summary>
    /// This host's meter, once made. The metrics SDK listens to meters by name across the whole process, so an exporter
    /// keeps only the instruments of this one and drops those of another host in the same process (a test server).
    /// </summary>
    public sealed class OwnMeter
    {
        public Meter? Meter { get; set; }
    }

    private sealed record Snapshot(Measurement<long>[] Backlog, Measurement<long>[] Proposals);
}
