using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SkillLoop.Core;
using SkillLoop.Core.Capture;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Benchmarks;

/// <summary>
/// Where one flood batch's server time goes (issue 16, item 13), in process over the real core services and a real
/// SQLite file: parsing, validation, redaction, the invisible-character pass and the write turn. Process CPU time per
/// batch (the median of several), so the figures hold on a shared machine; the write turn's wall time is what another
/// client's post can wait behind.
/// </summary>
internal static class FloodProfile
{
    public static async Task RunAsync(byte[] body, int runs = 7)
    {
        var work = Directory.CreateTempSubdirectory("skillloop-bench-flood-profile-");
        try
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["data"] = work.FullName }).Build();
            var services = new ServiceCollection()
                .AddSingleton<IConfiguration>(configuration)
                .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
                .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
            services.AddSkillLoopCore(configuration);
            await using var provider = services.BuildServiceProvider();
            foreach (var startup in provider.GetServices<IHostedService>().OfType<SkillLoopStartup>())
            {
                await startup.StartAsync(CancellationToken.None);
            }

            var ingestor = provider.GetRequiredService<SignalIngestor>();
            var template = JsonSerializer.Deserialize(body, HooksJsonContext.Default.SignalBatch)!;
            var texts = template.Turns.Select(t => t.Text).Concat(template.Corrections.SelectMany(c => c.Context.Select(t => t.Text).Prepend(c.Text))).ToList();
            var parse = Measure(runs, _ => JsonSerializer.Deserialize(body, HooksJsonContext.Default.SignalBatch));
            var validate = Measure(runs, _ => SignalBatchValidator.Validate(template));
            var redact = Measure(runs, _ => Hooks.Extraction.BatchRedaction.Redact(template));
            var invisible = Measure(runs, _ => texts.Count(InvisibleCharacters.Contains));
            var ingest = Measure(runs, i => ingestor.IngestAsync(template with { SessionId = $"profile-{i}", Cursor = template.Cursor with { SessionId = $"profile-{i}" } }, CancellationToken.None).GetAwaiter().GetResult());
            var write = (Cpu: ingest.Cpu - redact.Cpu - invisible.Cpu, Wall: ingest.Wall - redact.Wall - invisible.Wall);
            Console.WriteLine(FormattableString.Invariant(
                $"  allocated per batch (MB): parse {parse.AllocatedMb:F1}, validate {validate.AllocatedMb:F1}, redact {redact.AllocatedMb:F1}, invisible {invisible.AllocatedMb:F1}, ingest (redaction and writes) {ingest.AllocatedMb:F1}"));
            // The write split: the corrections (signal, extraction job, its place in the search index's queue) and the plain turns.
            var correctionsOnly = Measure(runs, i => ingestor.IngestAsync(template with { SessionId = $"corrections-{i}", Cursor = template.Cursor with { SessionId = $"corrections-{i}" }, Turns = [] }, CancellationToken.None).GetAwaiter().GetResult());
            // What the search indexer's write turns hold: the signals stored above wait in its queue (it is not running).
            var indexer = provider.GetRequiredService<SignalSearchIndexer>();
            var turnsBefore = indexer.Turns;
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var indexing = Stopwatch.StartNew();
            var indexed = await indexer.IndexPendingAsync(CancellationToken.None);
            var turns = Math.Max(1, indexer.Turns - turnsBefore);
            Console.WriteLine(FormattableString.Invariant(
                $"  search index: {indexed:N0} queued signals in {turns} write turns of at most {SignalSearchIndexer.CharactersPerTurn:N0} characters: {indexing.Elapsed.TotalMilliseconds / turns:F0} ms held and {(Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / turns:F0} ms CPU a turn"));
            Console.WriteLine(FormattableString.Invariant(
                $"  one {body.Length / 1e6:F1} MB batch ({template.Turns.Count:N0} turns, {template.Corrections.Count:N0} corrections, {texts.Sum(t => t.Length) / 1e6:F1} M chars), CPU ms (median of {runs}, in process): parse {parse.Cpu:F0}, validate {validate.Cpu:F0}, redact {redact.Cpu:F0}, invisible characters {invisible.Cpu:F0}, write turns {write.Cpu:F0} (held {write.Wall:F0} ms wall); total {parse.Cpu + validate.Cpu + ingest.Cpu:F0}; the {template.Corrections.Count:N0} corrections alone, redaction and write turns: {correctionsOnly.Cpu:F0}"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            work.Delete(recursive: true);
        }
    }

    private static (double Cpu, double Wall, double AllocatedMb) Measure(int runs, Action<int> action)
    {
        action(-1); // first use: JIT, regex and statement caches
        var cpu = new List<double>();
        var wall = new List<double>();
        var allocated = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var before = Process.GetCurrentProcess().TotalProcessorTime;
            var bytes = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            action(i);
            wall.Add(clock.Elapsed.TotalMilliseconds);
            allocated.Add((GC.GetTotalAllocatedBytes(precise: true) - bytes) / 1e6);
            cpu.Add((Process.GetCurrentProcess().TotalProcessorTime - before).TotalMilliseconds);
        }

        return (cpu.Order().ElementAt(runs / 2), wall.Order().ElementAt(runs / 2), allocated.Order().ElementAt(runs / 2));
    }
}
