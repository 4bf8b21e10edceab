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
    public static AgentCli? Find(ClientEnvironment env, string platform)
    {
        if (env.Variable(DisableVariable) is "0" or "false" or "off")
            return null;
        string[] order = platform is "copilot" or "vscode" ? ["copilot", "claude"] : ["claude", "copilot"];
        foreach (var name in order)
        {
            if (OnPath(env, name) is { } path)
                return new AgentCli(name, path);
        }
        return null;
    }

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
            if (Name == "claude")
            {
                foreach (var arg in (string[])["-p", "--output-format", "json", "--max-turns", "1"])
                    start.ArgumentList.Add(arg);
            }
            else
            {
                foreach (var arg in (string[])["-p", prompt, "-s", "--no-ask-user"])
                    start.ArgumentList.Add(arg);
            }

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
                    throw new AgentCliException($"{Name} exited with {process.ExitCode}: {IssuePrompt.Cut((await stderr).Trim(), 300)}");
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
            try { workDir.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
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
