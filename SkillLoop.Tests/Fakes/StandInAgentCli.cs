using System.Text.Json;

namespace SkillLoop.Tests.Fakes;

/// <summary>
/// A stand-in <c>claude</c> or <c>copilot</c> executable (a shell script) in its own directory, to put on PATH.
/// Each call records its arguments, stdin, <c>SKILLLOOP_INTERNAL</c> and working directory, then prints the
/// answer queued for that call number (else the default answer), optionally after sleeping.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class StandInAgentCli : IDisposable
{
    public StandInAgentCli(string name)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("skillloop-agent-").FullName;
        Name = name;
        Executable = Path.Combine(Directory, name);
        File.WriteAllText(Executable, """
            #!/bin/sh
            dir="$(dirname "$0")"
            n=$(cat "$dir/calls" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$dir/calls"
            for a in "$@"; do printf '%s\n--\n' "$a"; done > "$dir/args.$n"
            cat > "$dir/stdin.$n"
            printf '%s' "$SKILLLOOP_INTERNAL" > "$dir/internal.$n"
            pwd > "$dir/cwd.$n"
            if [ -n "$COPILOT_HOME" ]; then printf '%s' "$COPILOT_HOME" > "$dir/copilothome.$n"; ls -A "$COPILOT_HOME" > "$dir/copilotfiles.$n"; fi
            if [ -f "$dir/sleep" ]; then sleep "$(cat "$dir/sleep")"; fi
            if [ -f "$dir/answer.$n" ]; then cat "$dir/answer.$n"; else cat "$dir/answer"; fi
            if [ -f "$dir/exit" ]; then exit "$(cat "$dir/exit")"; fi
            """.ReplaceLineEndings("\n"));
        File.SetUnixFileMode(Executable, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Answer = name == "claude" ? ClaudeEnvelope(ValidIssueJson) : ValidIssueJson;
    }

    public const string ValidIssueJson = """
        {"problemPattern":"The agent moved the totals row to the top of a generated table.","rootCause":"The skill does not say where the totals row belongs.","expectedBehavior":"Keep the totals row as the last row of the table.","evidenceQuote":"the totals row must stay at the bottom","severity":"medium","confidence":0.8}
        """;

    public string Directory { get; }
    public string Name { get; }
    public string Executable { get; }

    /// <summary>What every call prints unless <see cref="AnswerFor"/> set one for it.</summary>
    public string Answer { set => File.WriteAllText(Path.Combine(Directory, "answer"), value); }

    public void AnswerFor(int call, string answer) => File.WriteAllText(Path.Combine(Directory, $"answer.{call}"), answer);

    public void SleepSeconds(int seconds) => File.WriteAllText(Path.Combine(Directory, "sleep"), seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public int Calls => File.Exists(Path.Combine(Directory, "calls")) ? int.Parse(File.ReadAllText(Path.Combine(Directory, "calls")).Trim()) : 0;

    /// <summary>The arguments of one call, empty ones included (each was written followed by a separator line).</summary>
    public IReadOnlyList<string> Arguments(int call) =>
        File.ReadAllText(Path.Combine(Directory, $"args.{call}")).Split("\n--\n")[..^1];

    /// <summary>Every call exits with this code (after printing its answer).</summary>
    public int ExitCode { set => File.WriteAllText(Path.Combine(Directory, "exit"), value.ToString(System.Globalization.CultureInfo.InvariantCulture)); }

    public string Stdin(int call) => File.ReadAllText(Path.Combine(Directory, $"stdin.{call}"));

    public string Internal(int call) => File.ReadAllText(Path.Combine(Directory, $"internal.{call}"));

    /// <summary>The <c>COPILOT_HOME</c> a call ran with and the files in it then (null when none was set).</summary>
    public (string Home, string[] Files)? CopilotHome(int call) => File.Exists(Path.Combine(Directory, $"copilothome.{call}"))
        ? (File.ReadAllText(Path.Combine(Directory, $"copilothome.{call}")), File.ReadAllLines(Path.Combine(Directory, $"copilotfiles.{call}")))
        : null;

    public string WorkingDirectory(int call) => File.ReadAllText(Path.Combine(Directory, $"cwd.{call}")).Trim();

    /// <summary>What <c>claude -p --output-format json</c> prints around an answer.</summary>
    public static string ClaudeEnvelope(string result, bool isError = false) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["type"] = "result",
        ["subtype"] = isError ? "error_during_execution" : "success",
        ["is_error"] = isError,
        ["duration_ms"] = 1234,
        ["num_turns"] = 1,
        ["result"] = result,
        ["session_id"] = "0d6c1f1e-0000-4000-8000-000000000001",
    });

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
