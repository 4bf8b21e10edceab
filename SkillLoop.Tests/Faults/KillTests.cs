using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Benchmarks;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Faults;

/// <summary>
/// Durable work: the real server process is killed with SIGKILL in the middle of extraction, started again on the same
/// data, and every accepted signal still ends up extracted and clustered exactly once.
/// </summary>
public sealed class KillTests
{
    private const int Signals = 60;

    [Fact]
    public async Task Every_accepted_signal_is_extracted_and_clustered_exactly_once_across_a_SIGKILL()
    {
        using var data = new TempDirectory("skillloop-kill");
        await using var model = await FakeOpenAiServer.StartAsync();
        model.DefaultContent = JsonSerializer.Serialize(SampleIssues.TotalsRow, new JsonSerializerOptions(JsonSerializerDefaults.Web));
        model.DefaultDelay = TimeSpan.FromMilliseconds(60); // a slow model: the kill lands mid-extraction
        var environment = new Dictionary<string, string>
        {
            ["SKILLLOOP_LLM_ENDPOINT"] = model.V1.ToString(),
            ["SKILLLOOP_LLM_MODEL"] = "fake-model",
        };
        var database = Path.Combine(data.Path, "skillloop.db");

        await using (var first = await BenchServer.StartAsync(WebBuild.Dll(), data.Path, environment))
        {
            using var ingest = first.CreateClient(BenchServer.IngestToken);
            for (var i = 0; i < Signals; i++)
            {
                var session = $"kill-{i}";
                var text = i % 2 == 0 ? "No, the totals row must stay at the bottom of the table." : "Wrong: dates must be ISO 8601, like 2026-11-29.";
                var batch = new SignalBatch("claude", session, $"user{i % 7}@example.com", 0, new SessionCursor("claude", session, 100, "pdf-report", null),
                    [new UserTurn("t1", text, null)], [new DetectedCorrection("t1", text, "en.reject.wrong", "pdf-report", null, 0.9, null, [])]);
                (await ingest.PostAsJsonAsync("/api/v1/signals", batch)).EnsureSuccessStatusCode();
            }

            // Wait until extraction is under way but not finished, then pull the plug.
            await WaitAsync(database, "SELECT count(*) FROM issues", n => n >= 3);
            first.Kill();
        }

        var extractedAtKill = await ScalarAsync(database, "SELECT count(*) FROM issues");
        Assert.InRange(extractedAtKill, 3, Signals - 1);

        await using (var second = await BenchServer.StartAsync(WebBuild.Dll(), data.Path, environment))
        {
            await WaitAsync(database, "SELECT count(*) FROM signals WHERE cluster_id IS NOT NULL", n => n == Signals, seconds: 120);
            using var admin = second.CreateClient(BenchServer.AdminApiKey);
            var clusters = await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/clusters?skill=pdf-report");
            Assert.Equal(Signals, clusters!.Sum(c => c.GetProperty("signalCount").GetInt64()));
        }

        Assert.Equal(Signals, await ScalarAsync(database, "SELECT count(*) FROM signals"));
        Assert.Equal(Signals, await ScalarAsync(database, "SELECT count(*) FROM issues"));
        Assert.Equal(Signals, await ScalarAsync(database, "SELECT count(*) FROM extraction_jobs WHERE state = 'done'"));
        Assert.Equal(Signals, await ScalarAsync(database, "SELECT count(*) FROM vectors WHERE kind = 'signals'"));
        Assert.Equal(Signals, await ScalarAsync(database, "SELECT coalesce(sum(signal_count), 0) FROM clusters WHERE state <> 'merged'"));
        Assert.Equal(0, await ScalarAsync(database, "SELECT count(*) FROM clusters c WHERE c.signal_count <> (SELECT count(*) FROM signals s WHERE s.cluster_id = c.id)"));
    }

    private static async Task<long> ScalarAsync(string database, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        return await connection.ExecuteScalarAsync<long>(sql);
    }

    private static async Task WaitAsync(string database, string sql, Func<long, bool> done, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        long value = 0;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                value = await ScalarAsync(database, sql);
                if (done(value))
                {
                    return;
                }
            }
            catch (SqliteException)
            {
                // The file is being created or migrated.
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"{sql} stayed at {value}.");
    }
}
