using System.Net.Http.Json;
using System.Text.Json;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;
using Xunit.Abstractions;

namespace SkillLoop.Tests.EndToEnd;

/// <summary>
/// The real agent CLIs from npm (versions pinned in <c>SkillLoop.Tests/RealCli/package-lock.json</c>), run offline
/// against a stand-in model API on 127.0.0.1, with the published client installed in a temporary home: a prompt that
/// makes the model load a skill, then a correction in the same session (resumed), and the signal the server stored.
/// A CLI that cannot be installed here (no npm, no registry) skips its test with the reason.
/// </summary>
/// <remarks>
/// Cline CLI 3 continues a task only in its terminal UI (<c>cline --id</c>): its correction is typed into that UI,
/// run in a detached tmux session. Not covered, and why: Cursor has no CLI on npm that runs offline.
/// </remarks>
[Collection(ServerCollection.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RealCliTests(SkillLoopServer server, ITestOutputHelper output)
{
    private const string Prompt = "Please set up the project dependencies";
    private const string Correction = "no, that's wrong — use pnpm, not npm";
    private const string Skill = "pnpm-helper";
    private const string ExtractionMarker = "You analyse corrections that users gave an AI coding agent";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(4);

    [SkippableFact]
    public async Task Claude_code_captures_a_resumed_correction_with_its_skill_and_extracts_it_locally_without_tools_or_a_saved_session()
    {
        var claude = await CliAsync("claude");
        await using var api = await StartApiAsync();
        using var home = new TempDirectory("skillloop-realcli-claude");
        WriteSkill(home.Combine(".claude", "skills", Skill));
        var environment = Environment(home.Path, claude, new()
        {
            ["ANTHROPIC_BASE_URL"] = api.BaseAddress.ToString().TrimEnd('/'),
            ["ANTHROPIC_API_KEY"] = "sk-ant-stand-in",
            ["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1",
            ["DISABLE_AUTOUPDATER"] = "1",
        });
        await InstallClientAsync("claude", environment);
        var project = Project(home);

        var first = await RunAsync(claude, ["-p", Prompt, "--output-format", "json", "--allowedTools", "Skill"], environment, project);
        var session = JsonDocument.Parse(first.StandardOutput).RootElement.GetProperty("session_id").GetString()!;
        await RunAsync(claude, ["-p", Correction, "--resume", session, "--output-format", "json"], environment, project);

        var signal = await WaitForSignalAsync("claude", session);
        Assert.Equal(Skill, signal.GetProperty("skill").GetString());

        // claude is on the hook's PATH: the client extracted the issue with it, offering the model no tools, and that
        // run left no session beside the user's.
        var issue = await WaitForIssueAsync(session);
        Assert.Equal("client:claude", issue.GetProperty("extractedBy").GetString());
        Assert.Equal(SampleIssue.ProblemPattern, issue.GetProperty("problemPattern").GetString());
        var extractionRuns = api.ToolsOfferedWith(ExtractionMarker);
        Assert.NotEmpty(extractionRuns);
        Assert.All(extractionRuns, Assert.Empty);
        Assert.Contains("Skill", api.ToolsOfferedWith(Prompt).SelectMany(t => t));
        var transcripts = Directory.GetFiles(home.Combine(".claude", "projects"), "*.jsonl", SearchOption.AllDirectories);
        Assert.Equal([session + ".jsonl"], transcripts.Select(Path.GetFileName));
    }

    [SkippableFact]
    public async Task Copilot_cli_with_its_own_model_captures_a_resumed_correction_and_the_server_extracts_it_at_once()
    {
        var copilot = await CliAsync("copilot");
        await using var api = await StartApiAsync();
        using var home = new TempDirectory("skillloop-realcli-copilot");
        WriteSkill(home.Combine(".copilot", "skills", Skill));
        var environment = Environment(home.Path, copilot, new()
        {
            ["XDG_CACHE_HOME"] = RealCliTools.CacheFolder,
            ["COPILOT_OFFLINE"] = "true",
            ["COPILOT_PROVIDER_BASE_URL"] = api.BaseAddress.ToString().TrimEnd('/'),
            ["COPILOT_PROVIDER_TYPE"] = "anthropic",
            ["COPILOT_PROVIDER_API_KEY"] = "sk-ant-stand-in",
            ["COPILOT_MODEL"] = "claude-sonnet-4.5",
        });
        await InstallClientAsync("copilot", environment);
        var project = Project(home);
        var session = Guid.NewGuid().ToString();

        await RunAsync(copilot, ["-p", Prompt, "-s", "--allow-all-tools", "--no-auto-update", "--session-id", session], environment, project);
        await RunAsync(copilot, ["-p", Correction, "-s", "--allow-all-tools", "--no-auto-update", "--resume", session], environment, project);

        var signal = await WaitForSignalAsync("copilot", session);
        Assert.Equal(Skill, signal.GetProperty("skill").GetString());

        // Copilot gives its hooks none of the COPILOT_PROVIDER_* variables and nobody signed in with /login, so the
        // client does not announce local extraction: the server extracts at once instead of waiting out 300 s.
        var issue = await WaitForIssueAsync(session);
        Assert.DoesNotContain("client:", issue.GetProperty("extractedBy").GetString());
        Assert.Empty(api.ToolsOfferedWith(ExtractionMarker));
    }

    [SkippableFact]
    public async Task Codex_captures_a_correction_made_with_exec_resume_with_its_skill()
    {
        var codex = await CliAsync("codex");
        await using var api = await StartApiAsync();
        using var home = new TempDirectory("skillloop-realcli-codex");
        var skillDirectory = home.Combine(".codex", "skills", Skill);
        WriteSkill(skillDirectory);
        api.SkillFile = Path.Combine(skillDirectory, "SKILL.md");
        File.WriteAllText(home.Combine(".codex", "config.toml"), $"""
            model = "gpt-stand-in"
            model_provider = "standin"

            [model_providers.standin]
            name = "stand-in"
            base_url = "{api.BaseAddress.ToString().TrimEnd('/')}/v1"
            wire_api = "responses"
            env_key = "STANDIN_API_KEY"
            """);
        // Every pinned CLI shares one node_modules/.bin on PATH: without this the hook's worker would extract with that
        // unconfigured claude, which tries the internet and outlives the test. A Codex user would not have it there.
        var environment = Environment(home.Path, codex, new() { ["STANDIN_API_KEY"] = "sk-stand-in", ["SKILLLOOP_LOCAL_EXTRACTION"] = "0" });
        await InstallClientAsync("codex", environment);
        var project = Project(home);
        string[] exec = ["exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "--json"];

        var first = await RunAsync(codex, [.. exec, Prompt], environment, project);
        var thread = first.StandardOutput.Split('\n')
            .Where(l => l.StartsWith('{'))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .First(e => e.GetProperty("type").GetString() == "thread.started")
            .GetProperty("thread_id").GetString()!;
        await RunAsync(codex, [.. exec, "resume", thread, Correction], environment, project);

        // Codex did its part: one rollout holds the skill read and the correction (else the stand-in is at fault).
        var rollout = File.ReadAllText(Assert.Single(Directory.GetFiles(home.Combine(".codex", "sessions"), $"rollout-*{thread}.jsonl", SearchOption.AllDirectories)));
        Assert.Contains($"cat {api.SkillFile}", rollout);
        // serde_json writes the text as typed; an encoder may escape the apostrophe and the dash: either is the text.
        Assert.True(rollout.Contains(Correction, StringComparison.Ordinal) || rollout.Contains(JsonEncodedText.Encode(Correction).Value, StringComparison.Ordinal),
            "the rollout does not carry the correction");
        var signal = await WaitForSignalAsync("codex", thread);
        Assert.Equal(Skill, signal.GetProperty("skill").GetString());
    }

    [SkippableFact]
    public async Task Cline_cli_captures_a_correction_typed_into_its_resumed_terminal_ui_with_its_skill()
    {
        var cline = await CliAsync("cline");
        var tmux = await TmuxAsync();
        await using var api = await StartApiAsync();
        using var home = new TempDirectory("skillloop-realcli-cline");
        // Cline 3 reads global skills from ~/.agents/skills/<name>/SKILL.md (and its own skills folder).
        WriteSkill(home.Combine(".agents", "skills", Skill));
        var environment = Environment(home.Path, cline, new()
        {
            ["CLINE_NO_AUTO_UPDATE"] = "1",
            // The other CLIs share cline's node_modules/.bin: without this the hook would extract locally with that
            // claude (unconfigured here, so it would try the internet), which a Cline user does not have.
            ["SKILLLOOP_LOCAL_EXTRACTION"] = "0",
            ["TERM"] = "xterm-256color",
            ["LANG"] = "C.UTF-8",
            ["LC_ALL"] = "C.UTF-8",
        });
        var project = Project(home);
        await RunAsync(cline, ["auth", "--provider", "openai-compatible", "--apikey", "sk-stand-in", "--modelid", "gpt-stand-in",
            "--baseurl", $"{api.BaseAddress.ToString().TrimEnd('/')}/v1"], environment, project);
        await InstallClientAsync("cline", environment);

        await RunAsync(cline, ["--json", Prompt], environment, project);
        var sessions = home.Combine(".cline", "data", "sessions");
        var session = Path.GetFileName(Assert.Single(Directory.GetDirectories(sessions)));
        var messages = Path.Combine(sessions, session, session + ".messages.json");
        Assert.Contains("\"skills\"", File.ReadAllText(messages));

        // The second turn: the resumed session's terminal UI in a detached tmux session on its own server, the
        // correction typed as keys, waiting for Cline to write it and for the hook's signal (no fixed sleeps).
        var socket = $"skillloop-cline-{Guid.NewGuid():N}";
        try
        {
            await TmuxRunAsync(tmux, socket, ["-u", "new-session", "-d", "-s", "cline", "-x", "200", "-y", "50", "-c", project,
                $"'{cline.Executable}' --id {session}"], environment);
            await WaitUntilAsync(async () => (await PaneAsync(tmux, socket, environment)).Contains("Ask anything", StringComparison.Ordinal),
                "the resumed session's terminal UI to take input", () => PaneAsync(tmux, socket, environment));
            await TmuxRunAsync(tmux, socket, ["send-keys", "-t", "cline", "-l", Correction], environment);
            // An Enter arriving with the typed text is taken as part of a paste: send it once the input box shows it.
            await WaitUntilAsync(async () => (await PaneAsync(tmux, socket, environment)).Contains("❯ " + Correction, StringComparison.Ordinal),
                "the correction to appear in the input box", () => PaneAsync(tmux, socket, environment));
            await TmuxRunAsync(tmux, socket, ["send-keys", "-t", "cline", "Enter"], environment);
            await WaitUntilAsync(() => Task.FromResult(File.ReadAllText(messages).Contains(StandInModelApi.CorrectionAnswer[..30], StringComparison.Ordinal)),
                "Cline writing the answer to the correction into its session file", () => PaneAsync(tmux, socket, environment));

            var signal = await WaitForSignalAsync("cline", session);
            Assert.Equal(Skill, signal.GetProperty("skill").GetString());
        }
        finally
        {
            await ProcessRunner.RunAsync(tmux, ["-L", socket, "kill-server"], environment);
            // Cline may leave its background hub daemon (--cline-hub-daemon --cwd <project>) running: end it by id.
            KillProcessesMentioning(project);
        }
    }

    private static void KillProcessesMentioning(string path)
    {
        foreach (var directory in Directory.GetDirectories("/proc"))
        {
            try
            {
                if (int.TryParse(Path.GetFileName(directory), out var id) && id != System.Environment.ProcessId
                    && File.ReadAllText(Path.Combine(directory, "cmdline")).Contains(path, StringComparison.Ordinal))
                {
                    using var process = System.Diagnostics.Process.GetProcessById(id);
                    process.Kill(entireProcessTree: true);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                // The process ended meanwhile.
            }
        }
    }

    /// <summary>tmux drives Cline's terminal UI; without it the Cline test cannot type its second turn.</summary>
    private async Task<string> TmuxAsync()
    {
        try
        {
            var version = await ProcessRunner.RunAsync("tmux", ["-V"]);
            Skip.If(version.ExitCode != 0, $"'tmux -V' failed ({version.ExitCode}): Cline's terminal UI cannot be driven");
            output.WriteLine(version.StandardOutput.Trim());
            return "tmux";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new SkipException("tmux is not installed: Cline continues a session only in its terminal UI, which the test drives with tmux");
        }
    }

    private static async Task TmuxRunAsync(string tmux, string socket, string[] arguments, Dictionary<string, string?> environment)
    {
        var run = await ProcessRunner.RunAsync(tmux, ["-L", socket, .. arguments], environment);
        Assert.True(run.ExitCode == 0, $"tmux {string.Join(' ', arguments)} failed ({run.ExitCode}): {run.StandardError}");
    }

    private static async Task<string> PaneAsync(string tmux, string socket, Dictionary<string, string?> environment) =>
        (await ProcessRunner.RunAsync(tmux, ["-L", socket, "capture-pane", "-p", "-t", "cline"], environment)).StandardOutput;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, Func<Task<string>> screen)
    {
        var deadline = DateTime.UtcNow + RunTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"Waited {RunTimeout.TotalMinutes} min for {what}. The terminal shows:\n{await screen()}");
    }

    private static readonly SkillLoop.Hooks.Contracts.ExtractedIssue SampleIssue = new(
        "The agent installed dependencies with npm in a project that uses pnpm.",
        "The skill does not say which package manager the project uses.",
        "Use pnpm for installing and running scripts in this project.",
        "use pnpm, not npm",
        "medium",
        0.8);

    private async Task<RealCli> CliAsync(string name)
    {
        var cli = await RealCliTools.GetAsync(name);
        Skip.If(cli.Unavailable is not null, $"{name} cannot run here: {cli.Unavailable}");
        output.WriteLine($"{name}: {cli.Version} ({cli.Executable})");
        return cli;
    }

    private static async Task<StandInModelApi> StartApiAsync()
    {
        var api = await StandInModelApi.StartAsync();
        api.SkillName = Skill;
        api.ExtractionMarker = ExtractionMarker;
        api.ExtractionAnswer = JsonSerializer.Serialize(SampleIssue, SkillLoop.Hooks.Contracts.HooksJsonContext.Default.ExtractedIssue);
        return api;
    }

    private static void WriteSkill(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "SKILL.md"), $"""
            ---
            name: {Skill}
            description: Use when installing, adding or running JavaScript dependencies or scripts in this project (package manager choice).
            ---
            # pnpm helper

            This project uses pnpm. Install with `pnpm install`, add packages with `pnpm add`, run scripts with `pnpm run`.
            """);
    }

    private static string Project(TempDirectory home)
    {
        var project = home.Combine("proj");
        Directory.CreateDirectory(project);
        File.WriteAllText(Path.Combine(project, "package.json"), """{"name":"proj","private":true}""");
        return project;
    }

    /// <summary>Only the CLI's folder, node and the system on PATH: a claude or copilot of this machine never runs.</summary>
    private static Dictionary<string, string?> Environment(string home, RealCli cli, Dictionary<string, string?> extra)
    {
        var environment = new Dictionary<string, string?>
        {
            ["HOME"] = home,
            ["PATH"] = $"{Path.GetDirectoryName(cli.Executable)}:/usr/local/bin:/usr/bin:/bin",
            ["SKILLLOOP_USER"] = $"realcli-{cli.Name}@example.com",
            ["SKILLLOOP_INTERNAL"] = null,
            ["SKILLLOOP_LOCAL_EXTRACTION"] = null,
            ["SKILLLOOP_URL"] = null,
            ["SKILLLOOP_TOKEN"] = null,
            ["CLAUDE_CONFIG_DIR"] = null,
            ["CODEX_HOME"] = null,
            ["COPILOT_HOME"] = null,
            ["GITHUB_TOKEN"] = null,
            ["GH_TOKEN"] = null,
            ["ANTHROPIC_API_KEY"] = null,
            ["OPENAI_API_KEY"] = null,
            ["NO_COLOR"] = "1",
        };
        foreach (var (key, value) in extra)
        {
            environment[key] = value;
        }

        return environment;
    }

    private async Task InstallClientAsync(string platform, Dictionary<string, string?> environment)
    {
        var client = await PublishedClient.GetAsync();
        var install = await ProcessRunner.RunAsync(client, ["install", platform, "--url", server.BaseAddress.ToString().TrimEnd('/'), "--token", SkillLoopServer.IngestToken], environment);
        Assert.True(install.ExitCode == 0, install.StandardOutput + install.StandardError);
        output.WriteLine(install.StandardOutput.Trim());
    }

    private async Task<ProcessResult> RunAsync(RealCli cli, string[] arguments, Dictionary<string, string?> environment, string project)
    {
        var run = await ProcessRunner.RunAsync(cli.Executable!, arguments, environment, timeout: RunTimeout, workingDirectory: project);
        output.WriteLine($"$ {cli.Name} {string.Join(' ', arguments)} -> {run.ExitCode} in {run.Elapsed.TotalSeconds:F1} s");
        Assert.True(run.ExitCode == 0, $"{cli.Name} {cli.Version} failed ({run.ExitCode}):\n{run.StandardOutput}\n{run.StandardError}");
        return run;
    }

    private async Task<JsonElement> WaitForSignalAsync(string platform, string session)
    {
        using var admin = server.CreateAdminClient();
        var signals = await Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/signals?sessionId={session}"),
            s => s is { Length: > 0 });

        var signal = Assert.Single(signals!);
        Assert.Equal(platform, signal.GetProperty("platform").GetString());
        Assert.Equal(session, signal.GetProperty("sessionId").GetString());
        Assert.Equal(Correction, signal.GetProperty("text").GetString());
        // The agent's answer to the correction, read from the CLI's own transcript (the detector read it too).
        Assert.Equal(StandInModelApi.CorrectionAnswer, signal.GetProperty("reply").GetString());
        return signal;
    }

    private async Task<JsonElement> WaitForIssueAsync(string session)
    {
        using var admin = server.CreateAdminClient();
        // Within 120 s: the grace period for a client that announced local extraction is 300 s, so an issue sooner came from it.
        return await Web.PipelineTests.IssueOfAsync(admin, session, TimeSpan.FromSeconds(120));
    }
}
