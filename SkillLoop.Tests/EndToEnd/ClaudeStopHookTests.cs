using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Support;
using Xunit.Abstractions;

namespace SkillLoop.Tests.EndToEnd;

/// <summary>
/// The walking skeleton, end to end: the published client installs its Stop hook into a Claude Code home, the
/// installed hook command runs with a real-format transcript, and the correction lands in the real server.
/// </summary>
[Collection(ServerCollection.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ClaudeStopHookTests(SkillLoopServer server, ITestOutputHelper output)
{
    private const string SessionId = "7d3f1c2e-5b4a-4e8f-9c61-2a9e0b7d4f10";

    [Fact]
    public async Task A_correction_in_a_claude_code_session_reaches_the_server_once_through_the_installed_stop_hook()
    {
        var client = await PublishedClient.GetAsync();
        using var home = new TempDirectory("skillloop-home");
        var environment = new Dictionary<string, string?>
        {
            ["HOME"] = home.Path,
            ["SKILLLOOP_USER"] = "e2e-dev@example.com",
            ["SKILLLOOP_INTERNAL"] = null,
            ["SKILLLOOP_LOCAL_EXTRACTION"] = "0", // a real claude on this machine's PATH must not be run
        };

        var install = await ProcessRunner.RunAsync(
            client, ["install", "claude", "--url", server.BaseAddress.ToString().TrimEnd('/'), "--token", SkillLoopServer.IngestToken], environment);
        Assert.True(install.ExitCode == 0, install.StandardError);
        var command = HookCommand(home.Combine(".claude", "settings.json"));

        var transcript = home.Combine(".claude", "projects", "-work-demo", SessionId + ".jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(transcript)!);
        File.Copy(Fixture("claude-pdf-report-correction.jsonl"), transcript);
        var payload = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["session_id"] = SessionId,
            ["transcript_path"] = transcript,
            ["cwd"] = "/work/demo",
            ["hook_event_name"] = "Stop",
            ["stop_hook_active"] = false,
        });

        // Two Stop events racing on the same transcript.
        var stopwatch = Stopwatch.StartNew();
        var hooks = await Task.WhenAll(
            ProcessRunner.RunAsync("/bin/sh", ["-c", command], environment, payload, TimeSpan.FromSeconds(20)),
            ProcessRunner.RunAsync("/bin/sh", ["-c", command], environment, payload, TimeSpan.FromSeconds(20)));
        foreach (var hook in hooks)
        {
            Assert.Equal(0, hook.ExitCode);
            Assert.Equal("", hook.StandardOutput);
            output.WriteLine($"hook returned in {hook.Elapsed.TotalMilliseconds:F1} ms");
        }

        var signal = Assert.Single(await WaitForSignalsAsync(count: 1));
        output.WriteLine($"signal stored {stopwatch.ElapsedMilliseconds} ms after the Stop event");
        Assert.Equal("claude", signal.GetProperty("platform").GetString());
        Assert.Equal(SessionId, signal.GetProperty("sessionId").GetString());
        Assert.Equal("a1000000-0000-4000-8000-000000000007", signal.GetProperty("turnId").GetString());
        Assert.Equal("No, that's wrong: the totals row must stay at the bottom of the table.", signal.GetProperty("text").GetString());
        Assert.Equal("pdf-report", signal.GetProperty("skill").GetString());
        await WaitForCursorAsync(new FileInfo(transcript).Length);

        // A later Stop event on the same transcript: only the new turns are read, nothing is stored twice.
        File.AppendAllText(transcript, File.ReadAllText(Fixture("claude-pdf-report-followup.jsonl")));
        var again = await ProcessRunner.RunAsync("/bin/sh", ["-c", command], environment, payload, TimeSpan.FromSeconds(20));
        Assert.Equal(0, again.ExitCode);
        await WaitForCursorAsync(new FileInfo(transcript).Length);

        Assert.Single(await ListSignalsAsync());
        // Only the correction travelled: the session's other human turns stayed on the laptop.
        await using var connection = await server.Services.GetRequiredService<SkillLoop.Core.Data.SqliteDb>().OpenAsync(CancellationToken.None);
        Assert.Equal(0, await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, "SELECT count(*) FROM turns WHERE session_id = @SessionId", new { SessionId }));
    }

    [Fact]
    public async Task With_claude_on_path_the_hook_extracts_the_issue_locally_and_the_server_stores_it_as_client_claude()
    {
        const string session = "5e8a2b40-1c3d-4f5e-8a9b-0c1d2e3f4a5b";
        var client = await PublishedClient.GetAsync();
        using var home = new TempDirectory("skillloop-home");
        using var claude = new Fakes.StandInAgentCli("claude");
        var environment = new Dictionary<string, string?>
        {
            ["HOME"] = home.Path,
            ["SKILLLOOP_USER"] = "local-extraction@example.com",
            ["SKILLLOOP_INTERNAL"] = null,
            ["PATH"] = claude.Directory + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH"),
        };
        var install = await ProcessRunner.RunAsync(
            client, ["install", "claude", "--url", server.BaseAddress.ToString().TrimEnd('/'), "--token", SkillLoopServer.IngestToken], environment);
        Assert.True(install.ExitCode == 0, install.StandardError);
        var transcript = home.Combine(".claude", "projects", "-work-demo", session + ".jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(transcript)!);
        File.Copy(Fixture("claude-pdf-report-correction.jsonl"), transcript);
        var payload = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["session_id"] = session,
            ["transcript_path"] = transcript,
            ["cwd"] = "/work/demo",
            ["hook_event_name"] = "Stop",
        });

        var hook = await ProcessRunner.RunAsync("/bin/sh", ["-c", HookCommand(home.Combine(".claude", "settings.json"))], environment, payload, TimeSpan.FromSeconds(20));
        Assert.Equal(0, hook.ExitCode);

        // The server waits its grace period (minutes) before extracting itself, so an issue now came from the client.
        using var admin = server.CreateAdminClient();
        var issue = await Web.PipelineTests.IssueOfAsync(admin, session, TimeSpan.FromSeconds(30));
        Assert.Equal("client:claude", issue.GetProperty("extractedBy").GetString());
        Assert.Equal("The agent moved the totals row to the top of a generated table.", issue.GetProperty("problemPattern").GetString());
        Assert.Equal(1, claude.Calls);
        Assert.Equal("1", claude.Internal(1));
        Assert.Contains("No, that's wrong: the totals row must stay at the bottom of the table.", claude.Stdin(1));
    }

    private static string HookCommand(string settingsPath)
    {
        var settings = JsonNode.Parse(File.ReadAllText(settingsPath))!;
        var commands = settings["hooks"]!["Stop"]!.AsArray()
            .SelectMany(matcher => matcher!["hooks"]!.AsArray())
            .Select(hook => hook!["command"]!.GetValue<string>())
            .Where(c => c.Contains("skillloop-client", StringComparison.Ordinal))
            .ToList();
        return Assert.Single(commands);
    }

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "EndToEnd", name);

    private async Task<JsonElement[]> ListSignalsAsync()
    {
        using var admin = server.CreateAdminClient();
        return (await admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/signals?sessionId={SessionId}"))!;
    }

    private Task<JsonElement[]> WaitForSignalsAsync(int count) =>
        Poll.UntilAsync(ListSignalsAsync, signals => signals.Length >= count, TimeSpan.FromSeconds(30));

    /// <summary>Until the session cursor is at <paramref name="offset"/>, the end of the transcript.</summary>
    private async Task WaitForCursorAsync(long offset)
    {
        using var ingest = server.CreateIngestClient();
        await Poll.UntilAsync(() => ingest.GetFromJsonAsync<SessionCursor>($"/api/v1/sessions/claude/{SessionId}/cursor"),
            cursor => cursor?.Offset == offset, TimeSpan.FromSeconds(30));
    }
}
