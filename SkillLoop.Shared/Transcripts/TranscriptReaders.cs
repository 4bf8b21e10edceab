namespace SkillLoop.Hooks.Transcripts;

/// <summary>The reader for each wire platform.</summary>
public static class TranscriptReaders
{
    public static IReadOnlyList<string> Platforms { get; } = ["claude", "copilot", "vscode", "codex", "cursor", "cline"];

    public static ITranscriptReader? For(string platform) => platform switch
    {
        "claude" => new ClaudeTranscriptReader(),
        "copilot" => new CopilotEventsReader("copilot"),
        "vscode" => new CopilotEventsReader("vscode"),
        "codex" => new CodexRolloutReader(),
        "cursor" => new CursorTranscriptReader(),
        "cline" => new ClineHistoryReader(),
        _ => null,
    };

    /// <summary>Guesses a transcript's platform from its first bytes (for <c>detect --platform auto</c>).</summary>
    public static string Sniff(string path)
    {
        Span<byte> head = stackalloc byte[16384];
        int n;
        using (var stream = File.OpenRead(path))
            n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var text = System.Text.Encoding.UTF8.GetString(head[..n]);
        if (text.Contains("\"session_meta\"", StringComparison.Ordinal) || text.Contains("\"response_item\"", StringComparison.Ordinal))
            return "codex";
        if (text.Contains("\"user.message\"", StringComparison.Ordinal) || text.Contains("\"session.start\"", StringComparison.Ordinal))
            return path.Contains("GitHub.copilot-chat", StringComparison.OrdinalIgnoreCase)
                || text.Contains("\"producer\":\"vscode", StringComparison.Ordinal)
                ? "vscode"
                : "copilot";
        // Claude Code's lines carry both keys whatever the spacing; checked before Cline so that a Claude transcript
        // pretty-printed as a JSON array is not taken for Cline's array.
        if (text.Contains("\"sessionId\"", StringComparison.Ordinal) && text.Contains("\"uuid\"", StringComparison.Ordinal))
            return "claude";
        if (text.TrimStart().StartsWith('[') || path.EndsWith(".messages.json", StringComparison.Ordinal)
            // Cline 3's messages file is one indented JSON object; every JSONL format has a whole object per line.
            || (text.TrimStart().StartsWith("{\n", StringComparison.Ordinal) && text.Contains("\"messages\"", StringComparison.Ordinal)))
            return "cline";
        if (text.Contains("\"role\":\"user\",\"message\"", StringComparison.Ordinal)
            || text.Contains("\"role\":\"assistant\",\"message\"", StringComparison.Ordinal))
            return "cursor";
        return "claude";
    }
}
