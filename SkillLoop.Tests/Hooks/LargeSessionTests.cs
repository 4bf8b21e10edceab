using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Hook;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Hooks;

/// <summary>A session far past the server's limits (8 MB body, 5,000 turns, 20,000-character texts) still gets its corrections in.</summary>
[Collection(ServerCollection.Name)]
public sealed class LargeSessionTests(SkillLoopServer server)
{
    [Fact]
    public async Task A_first_read_of_a_huge_session_is_fitted_to_the_server_and_keeps_its_corrections()
    {
        var session = Guid.NewGuid().ToString();
        using var directory = new TempDirectory("skillloop-large");
        var transcript = Path.Combine(directory.Path, "session.jsonl");
        var longChinese = new string('表', 30_000); // escaped as \\uXXXX: 6 bytes a character in JSON, and over the text limit
        await using (var writer = new StreamWriter(transcript, false, new UTF8Encoding(false)))
        {
            // 5,600 earlier human turns, every twentieth far over the text limit, then a real session with its corrections.
            for (var i = 0; i < 5_600; i++)
            {
                await writer.WriteLineAsync(JsonSerializer.Serialize(new
                {
                    parentUuid = i == 0 ? null : $"10000000-0000-4000-8000-{i - 1:D12}",
                    isSidechain = false,
                    userType = "external",
                    cwd = "/workspace/app",
                    version = "2.0.76",
                    type = "user",
                    sessionId = session,
                    uuid = $"10000000-0000-4000-8000-{i:D12}",
                    timestamp = "2026-01-02T18:00:00.000Z",
                    message = new { role = "user", content = i % 20 == 0 ? longChinese : $"Please continue with step {i}." },
                }));
            }

            foreach (var line in await File.ReadAllLinesAsync(HooksFixtures.Path("claude", "session.jsonl")))
            {
                await writer.WriteLineAsync(line);
            }
        }

        using var http = SignalWorker.CreateHttpClient(server.BaseAddress.ToString(), SkillLoopServer.IngestToken, TimeSpan.FromSeconds(60));
        var outcome = await new SignalWorker(http, "large@example.com").RunAsync(new HookEvent("claude", session, transcript), CancellationToken.None);

        Assert.Equal(WorkerOutcome.Posted, outcome);
        using var admin = server.CreateAdminClient();
        var signals = await admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/signals?platform=claude&sessionId={session}");
        Assert.Equal(4, signals!.Length);
        Assert.Contains(signals, s => s.GetProperty("text").GetString() == "不对，应该用 pypdf 而不是 PyPDF2");
        var cursor = await http.GetFromJsonAsync<JsonElement>($"api/v1/sessions/claude/{session}/cursor");
        Assert.Equal(new FileInfo(transcript).Length, cursor.GetProperty("offset").GetInt64());
    }

    [Fact]
    public void A_batch_within_the_limits_is_sent_unchanged()
    {
        var batch = new SignalBatch("claude", "s", "u", 0, new SessionCursor("claude", "s", 10, null, null),
            [new UserTurn("t1", "hello", null)], [new DetectedCorrection("t1", "no, wrong", "p", null, null, 0.9, null, [new ContextTurn("assistant", "x")])]);
        var fitted = batch;

        var json = SignalWorker.Fit(ref fitted);

        Assert.Equal(JsonSerializer.Serialize(batch, HooksJsonContext.Default.SignalBatch), Encoding.UTF8.GetString(json));
        Assert.Equal(batch.Turns, fitted.Turns);
    }
}
