using Dapper;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Extraction;

/// <summary>The server's half of client-side extraction: a head start for the client, and a fallback when it gives up.</summary>
public sealed class LocalExtractionServerTests
{
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));

    private Task<TestCore> StartAsync() => TestCore.StartAsync(configure: s => s.AddSingleton<TimeProvider>(_time));

    private static readonly ExtractedIssue Issue = Fakes.SampleIssues.TotalsRow;

    [Fact]
    public async Task The_server_waits_for_the_clients_issue_and_extracts_only_what_never_came_once_the_grace_period_is_over()
    {
        await using var core = await StartAsync();
        var batch = SignalIngestorTests.Batch("local-1", 0, 100, corrections: ["no, the totals row goes at the bottom", "wrong, keep the header"]) with { LocalExtractor = "claude" };
        await core.Get<SignalIngestor>().IngestAsync(batch, CancellationToken.None);
        var runner = core.Get<ExtractionJobRunner>();
        var store = core.Get<IssueStore>();

        Assert.Equal(0, await runner.RunOnceAsync(CancellationToken.None));
        var outcome = await store.CompleteFromClientAsync(new ClientIssue("claude", "local-1", batch.Corrections[0].TurnId, "client:claude", Issue), Issue, CancellationToken.None);
        Assert.Equal(ClientIssueOutcome.Stored, outcome);
        _time.Advance(TimeSpan.FromSeconds(ExtractionSettings.DefaultLocalGraceSeconds - 1));
        Assert.Equal(0, await runner.RunOnceAsync(CancellationToken.None));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, await runner.RunOnceAsync(CancellationToken.None));

        var signals = await core.Get<SignalStore>().QueryAsync(new SignalQuery(SessionId: "local-1"), CancellationToken.None);
        var issues = await store.GetManyAsync(signals.Select(s => s.Id).ToList(), CancellationToken.None);
        var byTurn = signals.ToDictionary(s => s.TurnId, s => issues[s.Id]);
        Assert.Equal("client:claude", byTurn[batch.Corrections[0].TurnId].ExtractedBy);
        Assert.Equal("pdf-report", byTurn[batch.Corrections[0].TurnId].Skill);
        Assert.Equal(Issue.ProblemPattern, byTurn[batch.Corrections[0].TurnId].ProblemPattern);
        Assert.Equal("heuristic", byTurn[batch.Corrections[1].TurnId].ExtractedBy);
        Assert.Equal(new ExtractionCounts(0, 0, 2, 0), await store.CountsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Corrections_a_client_hands_back_are_extracted_at_once_and_the_others_still_wait_for_it()
    {
        await using var core = await StartAsync();
        var batch = SignalIngestorTests.Batch("local-declined", 0, 100, corrections: ["no, the totals row goes at the bottom", "wrong, keep the header"]) with { LocalExtractor = "copilot" };
        await core.Get<SignalIngestor>().IngestAsync(batch, CancellationToken.None);
        var runner = core.Get<ExtractionJobRunner>();
        var store = core.Get<IssueStore>();
        Assert.Equal(0, await runner.RunOnceAsync(CancellationToken.None));

        var released = await store.ReleaseClientWaitAsync("claude", "local-declined", [batch.Corrections[0].TurnId, "no-such-turn"], "local extraction failed: copilot exited with 1", CancellationToken.None);

        Assert.Equal(1, released);
        Assert.Equal(1, await runner.RunOnceAsync(CancellationToken.None)); // no time has passed: the grace period is 300 s
        Assert.Equal(0, await store.ReleaseClientWaitAsync("claude", "local-declined", [batch.Corrections[0].TurnId], "again", CancellationToken.None));
        Assert.Equal(0, await store.ReleaseClientWaitAsync("copilot", "local-declined", [batch.Corrections[1].TurnId], "another platform's session", CancellationToken.None));
        var signals = await core.Get<SignalStore>().QueryAsync(new SignalQuery(SessionId: "local-declined"), CancellationToken.None);
        var issues = await store.GetManyAsync(signals.Select(s => s.Id).ToList(), CancellationToken.None);
        Assert.Equal([batch.Corrections[0].TurnId], signals.Where(s => issues.ContainsKey(s.Id)).Select(s => s.TurnId));
        Assert.Equal(new ExtractionCounts(1, 0, 1, 0), await store.CountsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_first_issue_of_a_signal_wins_whichever_path_made_it()
    {
        await using var core = await StartAsync();
        var batch = SignalIngestorTests.Batch("local-2", 0, 100, corrections: "no, that's wrong");
        await core.Get<SignalIngestor>().IngestAsync(batch, CancellationToken.None);
        Assert.Equal(1, await core.Get<ExtractionJobRunner>().RunOnceAsync(CancellationToken.None));

        var late = await core.Get<IssueStore>().CompleteFromClientAsync(
            new ClientIssue("claude", "local-2", batch.Corrections[0].TurnId, "client:claude", Issue), Issue, CancellationToken.None);

        Assert.Equal(ClientIssueOutcome.AlreadyExtracted, late);
        await using var connection = await core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        Assert.Equal("heuristic", await connection.ExecuteScalarAsync<string>("SELECT extracted_by FROM issues"));
    }

    [Fact]
    public async Task When_local_extraction_is_turned_off_the_server_extracts_at_once_whatever_the_client_says()
    {
        await using var core = await StartAsync();
        await core.Get<ExtractionSettings>().SetAsync(new LocalExtractionSettings(AllowLocal: false, LocalGraceSeconds: 300), CancellationToken.None);
        var batch = SignalIngestorTests.Batch("local-3", 0, 100, corrections: "no, that's wrong") with { LocalExtractor = "copilot" };

        await core.Get<SignalIngestor>().IngestAsync(batch, CancellationToken.None);

        Assert.Equal(1, await core.Get<ExtractionJobRunner>().RunOnceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task An_issue_for_a_turn_the_server_never_stored_is_reported_unknown()
    {
        await using var core = await StartAsync();

        var outcome = await core.Get<IssueStore>().CompleteFromClientAsync(
            new ClientIssue("claude", "nope", "t1", "client:claude", Issue), Issue, CancellationToken.None);

        Assert.Equal(ClientIssueOutcome.UnknownSignal, outcome);
    }

    [Fact]
    public void The_server_model_and_the_agent_cli_see_the_same_request()
    {
        var context = new List<ContextTurn> { new("assistant", "Here is the report with the totals first."), new("user", "make it a PDF") };
        var request = new ExtractionRequest("No, the totals row goes at the bottom. key sk-ant-api03-" + new string('a', 40), "pdf-report", "/skills/pdf-report/SKILL.md", context,
            "You're right, I put the totals first. PGPASSWORD=Zq8wqLsecret");

        var server = LlmIssueExtractor.FormatRequest(request.Redacted());
        var client = IssuePrompt.ForAgentCli(request.Correction, request.Skill, request.SkillPath, request.Context, request.Reply);

        Assert.EndsWith(server, client);
        Assert.EndsWith("The opening of the agent's answer to it:\nYou're right, I put the totals first. PGPASSWORD=[REDACTED:secret]", client);
        Assert.DoesNotContain("Zq8wqLsecret", client);
        Assert.StartsWith(IssuePrompt.SystemPrompt, client);
        Assert.Contains(IssuePrompt.SchemaJson, client);
        Assert.DoesNotContain("sk-ant-api03", client);
    }
}
