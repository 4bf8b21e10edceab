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

        // No tools for a prompt that carries transcript text, and no session left in the user's history.
        Assert.Equal(["-p", "--output-format", "json", "--max-turns", "1", "--tools", "", "--no-session-persistence"], claude.Arguments(1));
        var first = batch.Corrections[0];
        Assert.Equal(IssuePrompt.ForAgentCli(first.Text, first.Skill, first.SkillPath, first.Context, first.Reply), claude.Stdin(1));
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
        var userHome = _dir.File("user-copilot-home");
        Directory.CreateDirectory(Path.Combine(userHome, "session-state"));
        File.WriteAllText(Path.Combine(userHome, "config.json"), """{"logged_in_users":[{"host":"https://github.com","login":"dev"}]}""");

        using (var http = SignalWorker.CreateHttpClient(_server.Url, _server.Token, TimeSpan.FromSeconds(30)))
        {
            var local = new LocalIssueExtractor(new AgentCli("copilot", copilot.Executable) { CopilotHome = userHome }, TimeSpan.FromSeconds(20));
            await new SignalWorker(http, "dev@example.com", localExtractor: local).RunAsync(new HookEvent("claude", Session, _transcript), CancellationToken.None);
        }

        // Copilot saves every -p run as a session: ours run in a private home (with the user's sign-in), then removed.
        var (runHome, files) = copilot.CopilotHome(1)!.Value;
        Assert.NotEqual(userHome, runHome);
        Assert.Equal(["config.json"], files);
        Assert.False(Directory.Exists(runHome));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(userHome, "session-state")));

        var batch = Assert.Single(_server.Batches);
        Assert.Equal("copilot", batch.LocalExtractor);
        var args = copilot.Arguments(1);
        Assert.Equal("-p", args[0]);
        var first = batch.Corrections[0];
        Assert.Equal(IssuePrompt.ForAgentCli(first.Text, first.Skill, first.SkillPath, first.Context, first.Reply), args[1]);
        Assert.Equal(["-s", "--no-ask-user", "--available-tools=skillloop-no-tools", "--disable-builtin-mcps", "--no-custom-instructions", "--no-auto-update"], args.Skip(2));
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
    public async Task Two_invalid_answers_hand_that_correction_back_and_a_failing_cli_hands_back_every_one_left_at_once()
    {
        using var claude = new StandInAgentCli("claude");
        claude.AnswerFor(1, StandInAgentCli.ClaudeEnvelope("not json"));
        claude.AnswerFor(2, StandInAgentCli.ClaudeEnvelope("""{"severity":"huge"}"""));
        claude.AnswerFor(3, StandInAgentCli.ClaudeEnvelope("rate limited", isError: true));

        Assert.Equal(WorkerOutcome.Posted, await RunAsync(claude));

        var batch = Assert.Single(_server.Batches);
        Assert.Equal("claude", batch.LocalExtractor);
        Assert.True(batch.Corrections.Count >= 3, "the fixture has corrections after the failing one");
        // The failing CLI is not asked again: the server is told at once to extract all of them itself.
        Assert.Equal(3, claude.Calls);
        Assert.Empty(_server.Issues);
        var declined = Assert.Single(_server.Declined);
        Assert.Equal((Session, "claude"), (declined.SessionId, declined.Platform));
        Assert.Equal(batch.Corrections.Select(c => c.TurnId), declined.TurnIds);
        Assert.Contains("rate limited", declined.Reason);
    }

    [Fact]
    public async Task A_copilot_that_asks_for_login_hands_every_correction_back_at_once_and_status_shows_why()
    {
        using var copilot = new StandInAgentCli("copilot");
        copilot.Answer = "Error: No authentication information found.\nTo authenticate, run /login or set COPILOT_GITHUB_TOKEN.\n";
        copilot.ExitCode = 1;
        var home = _dir.File("home");
        Directory.CreateDirectory(home);

        using var http = SignalWorker.CreateHttpClient(_server.Url, _server.Token, TimeSpan.FromSeconds(30));
        var local = new LocalIssueExtractor(new AgentCli("copilot", copilot.Executable) { Home = home }, TimeSpan.FromSeconds(20));
        Assert.Equal(WorkerOutcome.Posted, await new SignalWorker(http, "dev@example.com", localExtractor: local).RunAsync(new HookEvent("claude", Session, _transcript), CancellationToken.None));

        var batch = Assert.Single(_server.Batches);
        Assert.Equal("copilot", batch.LocalExtractor);
        Assert.Equal(1, copilot.Calls);
        var declined = Assert.Single(_server.Declined);
        Assert.Equal(batch.Corrections.Select(c => c.TurnId), declined.TurnIds);
        Assert.Contains("copilot exited with 1", declined.Reason);
        Assert.Contains("/login", declined.Reason);
        var last = LocalExtractionLog.Read(home)!;
        Assert.Equal(("copilot", "failed", 0, batch.Corrections.Count), (last.Cli, last.Outcome, last.Extracted, last.HandedBack));

        var status = new StringWriter();
        Assert.Equal(0, await ClientApp.RunAsync(["status"], TextReader.Null, status, TextWriter.Null, new ClientEnvironment(home, home, "/x/skillloop-client", new Dictionary<string, string>())));
        Assert.Contains("local extraction, last run: ", status.ToString());
        Assert.Contains("with copilot: failed: 0 extracted, " + batch.Corrections.Count + " handed back to the server: copilot exited with 1", status.ToString());
    }

    [Fact]
    public async Task Corrections_over_the_per_run_limit_are_handed_back_instead_of_waiting_out_the_grace_period()
    {
        using var claude = new StandInAgentCli("claude");
        var lines = new List<string>
        {
            $$$"""{"type":"user","uuid":"p0","sessionId":"{{{Session}}}","timestamp":"2026-11-20T10:00:00Z","message":{"role":"user","content":"Set up the project."}}""",
        };
        for (var i = 1; i <= LocalIssueExtractor.MaxPerRun + 2; i++)
        {
            lines.Add($$$"""{"type":"assistant","uuid":"a{{{i}}}","sessionId":"{{{Session}}}","timestamp":"2026-11-20T10:{{{i:00}}}:00Z","message":{"role":"assistant","content":[{"type":"text","text":"Installed it with npm ({{{i}}})."}]}}""");
            lines.Add($$$"""{"type":"user","uuid":"u{{{i}}}","sessionId":"{{{Session}}}","timestamp":"2026-11-20T10:{{{i:00}}}:30Z","message":{"role":"user","content":"No, that's wrong: use pnpm, not npm ({{{i}}})."}}""");
        }

        var many = string.Join("\n", lines) + "\n";
        File.WriteAllText(_transcript, many);

        await RunAsync(claude);

        var batch = Assert.Single(_server.Batches);
        Assert.Equal(LocalIssueExtractor.MaxPerRun + 2, batch.Corrections.Count);
        Assert.Equal(LocalIssueExtractor.MaxPerRun, _server.Issues.Count);
        var declined = Assert.Single(_server.Declined);
        Assert.Equal(batch.Corrections.Skip(LocalIssueExtractor.MaxPerRun).Select(c => c.TurnId), declined.TurnIds);
        Assert.Contains($"limit of {LocalIssueExtractor.MaxPerRun} per run", declined.Reason);
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
        Assert.Equal((string?)copilot.Executable, AgentCli.Find(Env(("PATH", path), ("GH_TOKEN", "gho_x")), "copilot")?.Executable);
        Assert.Equal((string?)copilot.Executable, AgentCli.Find(Env(("PATH", copilot.Directory), ("GH_TOKEN", "gho_x")), "codex")?.Executable);
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

    [Fact]
    public void A_copilot_without_a_sign_in_a_hook_can_use_is_passed_over_for_claude_or_the_server()
    {
        using var claude = new StandInAgentCli("claude");
        using var copilot = new StandInAgentCli("copilot");
        var home = _dir.File("copilot-home");
        Directory.CreateDirectory(Path.Combine(home, ".copilot"));
        ClientEnvironment Env(string path, params (string, string)[] vars) =>
            new(home, home, "/x/skillloop-client", new Dictionary<string, string>(vars.Select(v => KeyValuePair.Create(v.Item1, v.Item2)).Append(KeyValuePair.Create("PATH", path))));

        // BYOK users: Copilot CLI 1.0.102 gives hooks none of COPILOT_PROVIDER_*, GITHUB_TOKEN…, and nothing is stored.
        File.WriteAllText(Path.Combine(home, ".copilot", "config.json"), """{ "banner": "never", "trusted_folders": [] }""");
        Assert.Null(AgentCli.Find(Env(copilot.Directory), "copilot", out var why));
        Assert.Contains("copilot is not signed in for hooks", why);
        Assert.Equal((string?)claude.Executable, AgentCli.Find(Env(copilot.Directory + Path.PathSeparator + claude.Directory), "copilot")?.Executable);

        // Signed in with /login (config.json, with comments as copilot writes it), a token variable, or the GitHub CLI.
        File.WriteAllText(Path.Combine(home, ".copilot", "config.json"), """
            // User settings
            { "logged_in_users": [ { "host": "https://github.com", "login": "dev" } ], }
            """);
        Assert.Equal((string?)copilot.Executable, AgentCli.Find(Env(copilot.Directory), "copilot")?.Executable);
        File.Delete(Path.Combine(home, ".copilot", "config.json"));
        Assert.Equal((string?)copilot.Executable, AgentCli.Find(Env(copilot.Directory, ("COPILOT_GITHUB_TOKEN", "github_pat_x")), "copilot")?.Executable);
        var custom = Path.Combine(home, "elsewhere");
        Directory.CreateDirectory(custom);
        File.WriteAllText(Path.Combine(custom, "config.json"), """{"last_logged_in_user":{"host":"https://github.com","login":"dev"}}""");
        Assert.Equal((string?)copilot.Executable, AgentCli.Find(Env(copilot.Directory, ("COPILOT_HOME", custom)), "copilot")?.Executable);
        Directory.CreateDirectory(Path.Combine(home, ".config", "gh"));
        File.WriteAllText(Path.Combine(home, ".config", "gh", "hosts.yml"), "github.com:\n    user: dev\n");
        Assert.Equal((string?)copilot.Executable, AgentCli.Find(Env(copilot.Directory), "copilot")?.Executable);
    }
}
