using System.Diagnostics;
using System.Globalization;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkillLoop.Core;
using SkillLoop.Core.Data;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Ai.OpenAi;
using SkillLoop.Core.Proposals.Replay;

namespace SkillLoop.Benchmarks;

/// <summary>
/// Replay before review (#21): the cost per correction of the real replay runner over a real SQLite database, with
/// the generated tiny GGUF on llama.cpp (random weights: it measures the machinery, two calls per correction, not the
/// quality of the verdicts) and with no chat model (the "replay needs a chat model" answer, which scores nothing).
/// </summary>
public static class ReplayBenchmark
{
    private const string Original = "---\nname: pdf-report\ndescription: Builds PDF reports from tables.\n---\n\n# PDF reports\n\nRender the table, then the totals.\n";
    private const string Proposed = Original + "\n## Known pitfalls\n\n- Keep the totals row as the last row of the table. (reported by 8 users)\n";
    private const string Context = """[{"role":"user","text":"Build the monthly PDF report from sales.csv."},{"role":"assistant","text":"Done: report.pdf has the totals row first, then the table."}]""";

    public static async Task RunAsync(int corrections, int proposals)
    {
        Console.WriteLine($"replay cost per correction ({corrections} corrections per proposal; the runner, its SQLite writes and the model calls)");
        await NoModelAsync(corrections, proposals);
        await TinyGgufAsync(corrections);
    }

    private static async Task NoModelAsync(int corrections, int proposals)
    {
        await using var core = await Core.StartAsync(new Dictionary<string, string?>());
        for (var i = 0; i < proposals; i++)
        {
            await core.SeedAsync(corrections);
        }

        var runner = core.Get<ReplayRunner>();
        // The AI providers are built on first use (the embedded MiniLM loads): not a replay cost.
        core.Get<AiRuntime>().Lease().Dispose();
        var clock = Stopwatch.StartNew();
        var passes = 0;
        while (await runner.RunOnceAsync(CancellationToken.None) > 0)
        {
            passes++;
        }

        var replay = (await core.Get<ReplayStore>().GetAsync(1, CancellationToken.None))!;
        var perCorrection = clock.Elapsed.TotalMicroseconds / (proposals * corrections);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"no model (heuristic path): {perCorrection:F1} µs per correction, {clock.Elapsed.TotalMilliseconds / proposals:F2} ms per proposal over {proposals} proposals; 0 model calls, 0 tokens; answer \"{replay.Message}\""));
    }

    private static async Task TinyGgufAsync(int corrections)
    {
        var runtime = LlamaBackend.TryInitialize();
        if (!runtime.IsAvailable)
        {
            Console.WriteLine($"tiny GGUF: llama.cpp unavailable ({runtime.Error}); no figure");
            return;
        }

        var models = Directory.CreateTempSubdirectory("skillloop-bench-replay-");
        try
        {
            var gguf = SkillLoop.Tests.Ai.Llama.TinyGguf.Write(Path.Combine(models.FullName, "tiny-test.gguf"));
            await using var core = await Core.StartAsync(new Dictionary<string, string?> { ["SKILLLOOP_CHAT_MODEL"] = gguf });
            var load = Stopwatch.StartNew();
            using (var lease = core.Get<AiRuntime>().Lease())
            {
                if (lease.Chat is null)
                {
                    Console.WriteLine($"tiny GGUF: the chat model did not start ({lease.Status.Chat.Error}); no figure");
                    return;
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"tiny GGUF: model load {load.Elapsed.TotalMilliseconds:F0} ms (once, not counted below)"));
            // A warm-up proposal of one correction: the first decode pays one-time costs.
            await core.SeedAsync(1);
            await core.Get<ReplayRunner>().RunOnceAsync(CancellationToken.None);
            var id = await core.SeedAsync(corrections);
            var clock = Stopwatch.StartNew();
            await core.Get<ReplayRunner>().RunOnceAsync(CancellationToken.None);
            var total = clock.Elapsed;

            var replay = (await core.Get<ReplayStore>().GetAsync(id, CancellationToken.None))!;
            var calls = replay.Results.Select(r => r.ElapsedMs).Order().ToList();
            var tokens = replay.Results.Where(r => r.Tokens is not null).Select(r => r.Tokens!.Value).ToList();
            var tokenText = tokens.Count == 0 ? "tokens not reported" : string.Create(CultureInfo.InvariantCulture, $"{tokens.Average():F0} tokens per correction");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"tiny GGUF (random weights, 2 calls per correction, ≤ {ReplayJudge.MaxOutputTokens} answer tokens each): {total.TotalMilliseconds / corrections:F0} ms per correction (model calls median {calls[calls.Count / 2]:F0} ms, max {calls[^1]:F0} ms); {tokenText}; {replay.Failed} of {replay.Results.Count} failed (an invalid answer of the random weights is recorded as a failure, as a real model's would be)"));

            // A reviewer's edit: only the proposed side is replayed again.
            await using (var connection = await core.Get<SqliteDb>().OpenAsync(CancellationToken.None))
            {
                await connection.ExecuteAsync("UPDATE proposals SET proposed_text = proposed_text || @more WHERE id = @id", new { id, more = "- Never put the totals row first.\n" });
            }

            clock.Restart();
            await core.Get<ReplayRunner>().RunOnceAsync(CancellationToken.None);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"tiny GGUF after a reviewer's edit (the proposed side only, 1 call per correction): {clock.Elapsed.TotalMilliseconds / corrections:F0} ms per correction"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            models.Delete(recursive: true);
        }
    }

    /// <summary>The real core services over a temporary database, with proposals to replay.</summary>
    private sealed class Core(BenchmarkCore core) : IAsyncDisposable
    {
        private int _sessions;

        public T Get<T>() where T : notnull => core.Get<T>();

        public static async Task<Core> StartAsync(Dictionary<string, string?> settings) =>
            new(await BenchmarkCore.StartAsync("skillloop-bench-replay-core-", settings));

        /// <summary>A proposal in review whose cluster holds <paramref name="corrections"/> corrections of distinct users, each with two turns before it.</summary>
        public async Task<long> SeedAsync(int corrections)
        {
            await using var connection = await Get<SqliteDb>().OpenAsync(CancellationToken.None);
            var cluster = await connection.ExecuteScalarAsync<long>(
                """
                INSERT INTO clusters (skill, title, centroid_sum, signal_count, user_count, first_seen, last_seen, created_at, updated_at)
                VALUES ('pdf-report', 'Totals row at the top', x'', @corrections, @corrections, '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z')
                RETURNING id
                """, new { corrections });
            for (var i = 0; i < corrections; i++)
            {
                var session = $"bench-{Interlocked.Increment(ref _sessions)}";
                await connection.ExecuteAsync(
                    """
                    INSERT INTO signals (platform, session_id, turn_id, text, pattern, skill, confidence, user_hash, context_json, created_at, cluster_id)
                    VALUES ('claude', @session, 't1', 'No, the totals row must stay at the bottom of the table.', 'en-reject-wrong', 'pdf-report', 0.9, @session, @Context, '2026-11-01T00:00:00Z', @cluster)
                    """, new { session, Context, cluster });
            }

            return await connection.ExecuteScalarAsync<long>(
                """
                INSERT INTO proposals (cluster_id, skill, skill_path, base_commit, original_text, proposed_text, generated_by, title, summary, body,
                    confidence, evidence_signals, evidence_users, state, branch, created_at, updated_at)
                VALUES (@cluster, 'pdf-report', 'skills/pdf-report/SKILL.md', 'abc', @Original, @Proposed, 'pitfalls', 'Totals row at the top',
                    'Says where totals go.', '', 0.5, @corrections, @corrections, 'review', 'skillloop/pdf-report-1', '2026-11-02T00:00:00Z', '2026-11-02T00:00:00Z')
                RETURNING id
                """, new { cluster, Original, Proposed, corrections });
        }

        public ValueTask DisposeAsync() => core.DisposeAsync();
    }
}
