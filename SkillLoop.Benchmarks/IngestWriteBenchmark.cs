using System.Diagnostics;
using SkillLoop.Core.Capture;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Benchmarks;

/// <summary>
/// Ingest's write path alone, in process (no HTTP, no background stages): concurrent writers each storing one-correction
/// batches of their own session, as clients post after every agent turn. Prints signals/s and the CPU time per signal,
/// which, unlike the rate, holds on a machine busy with other work.
/// </summary>
internal static class IngestWriteBenchmark
{
    public static async Task RunAsync(IReadOnlyList<int> writerCounts, TimeSpan duration)
    {
        Console.WriteLine($"ingest write path, in process: one-correction batches, each writer its own session; load average {ServerBenchmarks.LoadAverage()}");
        foreach (var writers in writerCounts)
        {
            await using var core = await BenchmarkCore.StartAsync("skillloop-ingest-write");
            var ingestor = core.Get<SignalIngestor>();
            await RunWritersAsync(ingestor, writers, TimeSpan.FromSeconds(1), "warm-up"); // JIT and the first pages
            var process = Process.GetCurrentProcess();
            process.Refresh();
            var cpu = process.TotalProcessorTime;
            var (groupsBefore, batchesBefore) = ingestor.GroupsWritten;
            var clock = Stopwatch.StartNew();
            var stored = await RunWritersAsync(ingestor, writers, duration, "run");
            clock.Stop();
            process.Refresh();
            var cpuMs = (process.TotalProcessorTime - cpu).TotalMilliseconds;
            var (groups, batches) = ingestor.GroupsWritten;
            var perCommit = (batches - batchesBefore) / (double)Math.Max(1, groups - groupsBefore);
            Console.WriteLine($"  {writers,3} writers: {stored / clock.Elapsed.TotalSeconds,8:N0} signals/s, {cpuMs * 1000 / stored,6:N0} µs CPU per signal, {perCommit:N1} batches per commit ({stored:N0} signals in {clock.Elapsed.TotalSeconds:N1} s)");
        }
    }

    private static async Task<long> RunWritersAsync(SignalIngestor ingestor, int writers, TimeSpan duration, string prefix)
    {
        var stop = Stopwatch.StartNew();
        long stored = 0;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var session = $"{prefix}-{w}";
            for (long offset = 0; stop.Elapsed < duration; offset += 100)
            {
                var text = $"no, that's wrong: the totals row goes at the bottom of the report ({w}/{offset})";
                var batch = new SignalBatch("claude", session, $"dev{w}@example.com", offset,
                    new SessionCursor("claude", session, offset + 100, "pdf-report", "/skills/pdf-report/SKILL.md"), [],
                    [new DetectedCorrection($"turn-{offset}", text, "en-reject-wrong", "pdf-report", "/skills/pdf-report/SKILL.md", 0.9,
                        DateTimeOffset.UnixEpoch, [new ContextTurn("assistant", "Here is the report with the totals row at the top.")])]);
                var result = await ingestor.IngestAsync(batch, CancellationToken.None);
                Interlocked.Add(ref stored, result.Result.Accepted);
            }
        })));
        return stored;
    }
}
