using System.Diagnostics;
using System.Text;
using System.Text.Json;
using SkillLoop.Hooks.Cli;

namespace SkillLoop.Hooks.Extraction;

/// <summary>
/// An agent CLI on the user's PATH that can answer one prompt headless: <c>claude -p --output-format json</c>
/// (prompt on stdin, so it never shows in <c>ps</c>) or <c>copilot -p PROMPT -s</c>. Runs carry
/// <c>SKILLLOOP_INTERNAL=1</c>, so our own hook ignores them, start in an empty temporary directory (no project
/// instructions, nothing to edit) and are killed with their children at the timeout.
/// </summary>
public sealed class AgentCli(string name, string executable)
{
    public const string DisableVariable = "SKILLLOOP_LOCAL_EXTRACTION";

    /// <summary><c>claude</c> or <c>copilot</c>.</summary>
    public string Name { get; } = name;

    public string Executable { get; } = executable;

    /// <summary>
    /// The CLI to use for a session of <paramref name="platform"/>: that product's own CLI first (the user is signed
    /// in to it), else any of the two; null when none is on PATH or <c>SKILLLOOP_LOCAL_EXTRACTION=0</c>.
    /// </summary>
    public static AgentCli? Find(ClientEnvironment env, string platform) => Find(env, platform, out _);

    /// <summary>
    /// As <see cref="Find(ClientEnvironment, string)"/>, with why none is used. A <c>copilot</c> that has no way to
    /// reach a model from a hook is passed over: Copilot CLI gives hooks an environment without
    /// <c>COPILOT_PROVIDER_*</c>, <c>GITHUB_TOKEN</c> and the like, so a user who runs it with their own model (BYOK)
    /// or a token variable gets only "/login" from <c>copilot -p</c>. Then the next CLI is tried, and with none the
    /// batch announces no local extraction, so the server extracts at once instead of waiting for the client.
    /// </summary>
    public static AgentCli? Find(ClientEnvironment env, string platform, out string? unavailable)
    {
        unavailable = null;
        if (env.Variable(DisableVariable) is "0" or "false" or "off")
        {
            unavailable = $"turned off ({DisableVariable}={env.Variable(DisableVariable)})";
            return null;
        }
        string[] order = platform is "copilot" or "vscode" ? ["copilot", "claude"] : ["claude", "copilot"];
        foreach (var name in order)
        {
            if (OnPath(env, name) is not { } path)
                continue;
            if (name == "copilot" && CopilotSignIn.Missing(env) is { } missing)
            {
                unavailable = missing;
                continue;
            }
            return new AgentCli(name, path) { CopilotHome = CopilotSignIn.Home(env), Home = env.Home };
        }
        unavailable ??= "no claude or copilot on PATH";
        return null;
    }

    /// <summary>The user's home, where the last result is kept for <c>status</c> (none in tests that make their own).</summary>
    public string? Home { get; init; }

    /// <summary>Copilot's home (<c>COPILOT_HOME</c>, else <c>~/.copilot</c>), where it keeps sessions.</summary>
    public string? CopilotHome { get; init; }

    private static string? OnPath(ClientEnvironment env, string name)
    {
        var path = env.Variable("PATH");
        if (string.IsNullOrEmpty(path))
            return null;
        string[] suffixes = OperatingSystem.IsWindows() ? [".exe", ".cmd", ".bat"] : [""];
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var suffix in suffixes)
            {
                var candidate = Path.Combine(dir, name + suffix);
                if (File.Exists(candidate) && (OperatingSystem.IsWindows() || IsExecutable(candidate)))
                    return candidate;
            }
        }
        return null;
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static bool IsExecutable(string file) =>
        (File.GetUnixFileMode(file) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    /// <summary>Runs one prompt; returns the model's answer text, or throws <see cref="AgentCliException"/>.</summary>
    public async Task<string> AskAsync(string prompt, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var workDir = Directory.CreateTempSubdirectory("skillloop-extract-");
        var copilotHome = Name == "copilot" ? TemporaryCopilotHome() : null;
        try
        {
            var start = new ProcessStartInfo(Executable)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardOutputEncoding = Encoding.UTF8,
                StandardErrorEncoding = Encoding.UTF8,
                UseShellExecute = false,
                WorkingDirectory = workDir.FullName,
            };
            start.Environment["SKILLLOOP_INTERNAL"] = "1";
            if (copilotHome is not null)
                start.Environment["COPILOT_HOME"] = copilotHome.FullName;
            foreach (var arg in Arguments(prompt))
                start.ArgumentList.Add(arg);

            using var process = Process.Start(start) ?? throw new AgentCliException($"{Name} did not start");
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
            var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
            try
            {
                if (Name == "claude")
                    await process.StandardInput.WriteAsync(prompt.AsMemory(), deadline.Token);
                process.StandardInput.Close();
                await process.WaitForExitAsync(deadline.Token);
                var output = await stdout;
                if (process.ExitCode != 0)
                {
                    var said = (await stderr).Trim();
                    throw new AgentCliException($"{Name} exited with {process.ExitCode}: {IssuePrompt.Cut(said.Length > 0 ? said : output.Trim(), 300)}");
                }
                return Name == "claude" ? ClaudeAnswer(output) : output;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new AgentCliException($"{Name} gave no answer within {timeout.TotalSeconds:0} s");
            }
            catch (IOException ex)
            {
                throw new AgentCliException($"{Name} failed: {ex.Message}");
            }
            finally
            {
                if (!process.HasExited)
                {
                    try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                }
            }
        }
        finally
        {
            foreach (var dir in new[] { workDir, copilotHome })
            {
                try { dir?.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
    }

    /// <summary>
    /// The command line of one run. The prompt carries transcript text, so the model gets no tools at all (it could
    /// otherwise be talked into running commands or reading files), and the run leaves no session in the user's
    /// history: <c>claude</c> has <c>--tools ""</c> and <c>--no-session-persistence</c>. <c>copilot</c> has neither:
    /// <c>--available-tools</c> naming no real tool leaves the model none (an empty list means "all", checked with
    /// Copilot CLI 1.0.102), built-in MCP servers and custom instructions are off, and the run gets a temporary
    /// <c>COPILOT_HOME</c> (see <see cref="TemporaryCopilotHome"/>), since copilot saves every <c>-p</c> run in its
    /// session folder and session database.
    /// </summary>
    internal string[] Arguments(string prompt) => Name == "claude"
        ? ["-p", "--output-format", "json", "--max-turns", "1", "--tools", "", "--no-session-persistence"]
        : ["-p", prompt, "-s", "--no-ask-user", "--available-tools=" + NoTool, "--disable-builtin-mcps", "--no-custom-instructions", "--no-auto-update"];

    /// <summary>A tool name no CLI has: an allow-list of it offers the model nothing.</summary>
    internal const string NoTool = "skillloop-no-tools";

    /// <summary>
    /// A private copilot home for one run, with a copy of the user's <c>config.json</c> (where copilot records who is
    /// signed in) and <c>settings.json</c>, so the run signs in as the user does but its session is saved here and
    /// deleted with the folder. Not the user's hooks: our own run must not start hooks.
    /// </summary>
    private DirectoryInfo TemporaryCopilotHome()
    {
        var home = Directory.CreateTempSubdirectory("skillloop-copilot-home-");
        if (CopilotHome is null)
            return home;
        foreach (var name in new[] { "config.json", "settings.json" })
        {
            try
            {
                var source = Path.Combine(CopilotHome, name);
                if (File.Exists(source))
                    File.Copy(source, Path.Combine(home.FullName, name));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return home;
    }

    /// <summary>
    /// <c>--output-format json</c> wraps the answer: <c>{"type":"result","is_error":false,"result":"…"}</c>, with
    /// <c>structured_output</c> when a schema was enforced. Anything else is taken as the answer itself.
    /// </summary>
    internal static string ClaudeAnswer(string output)
    {
        try
        {
            using var document = JsonDocument.Parse(output);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                return output;
            if (root.TryGetProperty("is_error", out var error) && error.ValueKind == JsonValueKind.True)
                throw new AgentCliException("claude reported an error: " + IssuePrompt.Cut(root.TryGetProperty("result", out var r) ? r.ToString() : "", 300));
            if (root.TryGetProperty("structured_output", out var structured) && structured.ValueKind == JsonValueKind.Object)
                return structured.GetRawText();
            return root.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.String ? result.GetString()! : output;
        }
        catch (JsonException)
        {
            return output;
        }
    }
}

public sealed class AgentCliException(string message) : Exception(message);

/// <summary>Whether a <c>copilot</c> started from a hook can reach a model.</summary>
public static class CopilotSignIn
{
    /// <summary>Variables that let copilot answer without a stored sign-in (when the hook's environment still has them).</summary>
    private static readonly string[] CredentialVariables = ["COPILOT_PROVIDER_BASE_URL", "COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN"];

    public static string Home(ClientEnvironment env) =>
        env.Variable("COPILOT_HOME") is { Length: > 0 } home ? home : Path.Combine(env.Home, ".copilot");

    /// <summary>Null when copilot has something to sign in with; else why local extraction with it would fail.</summary>
    public static string? Missing(ClientEnvironment env)
    {
        if (CredentialVariables.Any(v => !string.IsNullOrEmpty(env.Variable(v))))
            return null;
        if (HasStoredUser(Path.Combine(Home(env), "config.json")))
            return null;
        // Copilot also signs in with the GitHub CLI's stored login.
        var gh = env.Variable("GH_CONFIG_DIR") is { Length: > 0 } ghDir ? ghDir : Path.Combine(env.Home, ".config", "gh");
        if (File.Exists(Path.Combine(gh, "hosts.yml")) || File.Exists(Path.Combine(env.Home, "AppData", "Roaming", "GitHub CLI", "hosts.yml")))
            return null;
        return "copilot is not signed in for hooks: no /login is stored and Copilot CLI gives hooks no COPILOT_PROVIDER_* or "
            + "GITHUB_TOKEN variables (run 'copilot login' to extract locally; until then the server extracts)";
    }

    /// <summary>Copilot's config.json (JSON with comments) records signed-in users; any non-empty user entry counts.</summary>
    private static bool HasStoredUser(string path)
    {
        try
        {
            if (!File.Exists(path))
                return false;
            using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path),
                new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (document.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object)
                return false;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var name = property.Name.Replace("_", "", StringComparison.Ordinal);
                if (!name.Contains("loggedinuser", StringComparison.OrdinalIgnoreCase))
                    continue;
                if (property.Value.ValueKind == System.Text.Json.JsonValueKind.Array && property.Value.GetArrayLength() > 0)
                    return true;
                if (property.Value.ValueKind == System.Text.Json.JsonValueKind.Object && property.Value.EnumerateObject().Any())
                    return true;
            }
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            return false;
        }
    }
}
