using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Extraction;
using SkillLoop.Hooks.Hook;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Hooks;

/// <summary>The client's local extraction path: an agent CLI on PATH turns its corrections into issues.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class LocalExtractionTests : IDisposable
{
    private const string Session = "7f3c2a10-5b1e-4c2d-9a8e-1f2e3d4c5b6a";
    private readonly TempDir _dir = new();
    private readonly FakeSkillLoopServer _server = new();
    private readonly string _transcript;

    public LocalExtractionTests()
    {
        _transcript = _dir.File("session.jsonl");
        File.Copy(HooksFixtures.Path("claude", "session.jsonl"), _transcript);
        _server.Config = new ClientConfig(DefaultPatterns.All, new ClientSettings(AllowLocalExtraction: true));
    }

    public void Dispose()
    {
        _server.Dispose();
        _dir.Dispose();
    }

    private async Task<WorkerOutcome> RunAsync(StandInAgentCli? cli, TimeSpan? timeout = null)
    {
        using var http = SignalWorker.CreateHttpClient(_server.Url, _server.Token, TimeSpan.FromSeconds(30));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var local = cli is null ? null : new LocalIssueExtractor(new AgentCli(cli.Name, cli.Executable), timeout ?? TimeSpan.FromSeconds(20));
        return await new SignalWorker(http, "dev@example.com", localExtractor: local).RunAsync(new HookEvent("claude", Session, _transcript), cts.Token);
    }

    [Fact]
    public async Task Each_correction_is_extracted_by_claude_headless_with_the_shared_prompt_and_sent_after_the_signals()
    {
        using var claude = new StandInAgentCli("claude");

        Assert.Equal(WorkerOutcome.Posted, await RunAsync(claude));

        var batch = Assert.Single(_server.Batches);
        Assert.Equal("claude", batch.LocalExtractor);
        Assert.Equal(batch.Corrections.Count, claude.Calls);
        Assert.Equal(batch.Corrections.Select(c => c.TurnId), _server.Issues.Select(i => i.TurnId));
        var issue = _server.Issues.First();
        Assert.Equal("client:claude", issue.ExtractedBy);
        Assert.Equal((Session, "claude"), (issue.SessionId, issue.Platform));
        Assert.Equal("The agent moved the totals row to the top of a generated table.", issue.Issue.ProblemPattern);
        Assert.Equal(("medium", 0.8), (issue.Issue.Severity, issue.Issue.Confidence));

        Assert.Equal(["-p", "--output-format", "json", "--max-turns", "1"], claude.Arguments(1));
        var first = batch.Corrections[0];
        Assert.Equal(IssuePrompt.ForAgentCli(first.Text, first.Skill, first.SkillPath, first.Context), claude.Stdin(1));
        Assert.Contains(IssuePrompt.SystemPrompt, claude.Stdin(1));
        Assert.Contains(IssuePrompt.SchemaJson, claude.Stdin(1));
        Assert.Equal("1", claude.Internal(1));
        Assert.StartsWith(Path.Combine(Path.GetTempPath(), "skillloop-extract-"), claude.WorkingDirectory(1) + "/");
        Assert.False(Directory.Exists(claude.WorkingDirectory(1)), "the empty working directory is removed afterwards");
    }

    [Fact]
    public async Task Copilot_gets_the_prompt_as_its_p_argument_and_answers_plain_text()
    {
        using var copilot = new StandInAgentCli("copilot");
        copilot.Answer = "Here is the issue:\n```json\n" + StandInAgentCli.ValidIssueJson + "\n```\n";

        await RunAsync(copilot);

        var batch = Assert.Single(_server.Batches);
        Assert.Equal("copilot", batch.LocalExtractor);
        var args = copilot.Arguments(1);
        Assert.Equal("-p", args[0]);
        var first = batch.Corrections[0];
        Assert.Equal(IssuePrompt.ForAgentCli(first.Text, first.Skill, first.SkillPath, first.Context), args[1]);
        Assert.Equal(["-s", "--no-ask-user"], args.Skip(2));
        Assert.All(_server.Issues, i => Assert.Equal("client:copilot", i.ExtractedBy));
        Assert.Equal(batch.Corrections.Count, _server.Issues.Count);
    }

    [Fact]
    public async Task Nothing_runs_locally_when_the_server_does_not_allow_it()
    {
        using var claude = new StandInAgentCli("claude");
        _server.Config = new ClientConfig(DefaultPatterns.All, new ClientSettings(AllowLocalExtraction: false));

        Assert.Equal(WorkerOutcome.Posted, await RunAsync(claude));

        Assert.Null(Assert.Single(_server.Batches).LocalExtractor);
        Assert.Equal(0, claude.Calls);
        Assert.Empty(_server.Issues);
    }

    [Fact]
    public async Task An_invalid_answer_is_asked_again_once_with_the_reason()
    {
        using var claude = new StandInAgentCli("claude");
        claude.AnswerFor(1, StandInAgentCli.ClaudeEnvelope("""{"problemPattern":"x"}"""));

        await RunAsync(claude);

        Assert.Contains("Your previous answer was not valid (rootCause missing or empty)", claude.Stdin(2));
        Assert.Equal(Assert.Single(_server.Batches).Corrections.Count, _server.Issues.Count);
    }

    [Fact]
    public async Task Two_invalid_answers_or_an_error_send_nothing_for_that_correction_and_the_server_extracts_it_later()
    {
        using var claude = new StandInAgentCli("claude");
        claude.AnswerFor(1, StandInAgentCli.ClaudeEnvelope("not json"));
        claude.AnswerFor(2, StandInAgentCli.ClaudeEnvelope("""{"severity":"huge"}"""));
        claude.AnswerFor(3, StandInAgentCli.ClaudeEnvelope("rate limited", isError: true));

        Assert.Equal(WorkerOutcome.Posted, await RunAsync(claude));

        var batch = Assert.Single(_server.Batches);
        Assert.Equal("claude", batch.LocalExtractor);
        Assert.Equal(batch.Corrections.Skip(2).Select(c => c.TurnId), _server.Issues.Select(i => i.TurnId));
    }

    [Fact]
    public async Task A_hanging_cli_is_killed_at_the_timeout_and_the_signals_are_already_posted()
    {
        using var claude = new StandInAgentCli("claude");
        claude.SleepSeconds(30);
        var started = System.Diagnostics.Stopwatch.StartNew();

        Assert.Equal(WorkerOutcome.Posted, await RunAsync(claude, timeout: TimeSpan.FromSeconds(1)));

        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"took {started.Elapsed}");
        Assert.Single(_server.Batches);
        Assert.Empty(_server.Issues);
    }

    [Fact]
    public void The_platforms_own_cli_is_preferred_and_none_is_used_when_turned_off_or_absent()
    {
        using var claude = new StandInAgentCli("claude");
        using var copilot = new StandInAgentCli("copilot");
        var path = string.Join(Path.PathSeparator, "/nonexistent", claude.Directory, copilot.Directory);
        ClientEnvironment Env(params (string, string)[] vars) =>
            new(_dir.Root, _dir.Root, "/x/skillloop-client", new Dictionary<string, string>(vars.Select(v => KeyValuePair.Create(v.Item1, v.Item2))));

        Assert.Equal((string?)claude.Executable, AgentCli.Find(Env(("PATH", path)), "claude")?.Executable);
        Assert.Equal((string?)copilot.Executable, AgentCli.Find(Env(("PATH", path)), "copilot")?.Executable);
        Assert.Equal((string?)copilot.Executable, AgentCli.Find(Env(("PATH", copilot.Directory)), "codex")?.Executable);
        Assert.Null(AgentCli.Find(Env(("PATH", path), (AgentCli.DisableVariable, "0")), "claude"));
        Assert.Null(AgentCli.Find(Env(("PATH", "/nonexistent")), "claude"));
        Assert.Null(AgentCli.Find(Env(), "claude"));
    }

    [Fact]
    public void A_file_without_the_execute_bit_is_not_taken_for_the_cli()
    {
        using var claude = new StandInAgentCli("claude");
        File.SetUnixFileMode(claude.Executable, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var env = new ClientEnvironment(_dir.Root, _dir.Root, "/x/skillloop-client", new Dictionary<string, string> { ["PATH"] = claude.Directory });

        Assert.Null(AgentCli.Find(env, "claude"));
    }
}
