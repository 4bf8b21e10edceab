namespace SkillLoop.Hooks.Transcripts;

public enum TurnRole { User, Assistant }

/// <summary>A tool the agent called in an assistant turn.</summary>
public sealed record ToolCall(string Id, string Name);

/// <summary>A skill coming into use: by the Skill tool, a slash command, or the skill's base-directory line.</summary>
public sealed record SkillUse(string? Name, string? Path);

/// <summary>
/// One turn of a conversation in the shape every platform's reader produces. Only turns for which
/// <see cref="IsHuman"/> holds are what a person typed; the rest is context and attribution.
/// </summary>
public sealed record ConversationTurn(string Id, TurnRole Role, string Text, DateTimeOffset? Timestamp)
{
    /// <summary>A sub-agent's turn: its "user" turns are prompts written by the main agent, not by a person.</summary>
    public bool IsSidechain { get; init; }

    /// <summary>The user stopped the agent (e.g. "[Request interrupted by user]"): a signal, not correction text.</summary>
    public bool IsInterruption { get; init; }

    /// <summary>Written by the harness under the user role (skill bodies, command output, reminders).</summary>
    public bool IsMeta { get; init; }

    public IReadOnlyList<ToolCall> ToolCalls { get; init; } = [];

    public IReadOnlyList<SkillUse> Skills { get; init; } = [];

    public bool IsHuman => Role == TurnRole.User && !IsSidechain && !IsInterruption && !IsMeta && Text.Length > 0;
}

/// <summary>
/// What one read of a transcript produced. <see cref="EndOffset"/> is the byte offset just past the last complete
/// unit read (a line for JSONL); a partly written last line is left for the next read.
/// </summary>
public sealed record TranscriptRead(
    string? SessionId,
    IReadOnlyList<ConversationTurn> Turns,
    long StartOffset,
    long EndOffset,
    int SkippedLines);

/// <summary>Reads one platform's transcript format from a byte offset into <see cref="ConversationTurn"/>s.</summary>
public interface ITranscriptReader
{
    /// <summary>Wire name of the platform: claude, copilot, vscode, codex, cursor or cline.</summary>
    string Platform { get; }

    /// <param name="untilOffset">Where to stop: no unit starting at or after it is read (the end offset says where it stopped).</param>
    TranscriptRead Read(string path, long fromOffset, long untilOffset = long.MaxValue);

    /// <summary>
    /// The turns just before <paramref name="beforeOffset"/>, read from at most about <paramref name="maxBytes"/> of the
    /// transcript before it: the context of a correction that comes after an earlier read.
    /// </summary>
    IReadOnlyList<ConversationTurn> ReadBefore(string path, long beforeOffset, int maxBytes)
    {
        if (beforeOffset <= 0)
            return [];
        var start = JsonlScanner.LineStartAtOrAfter(path, Math.Max(0, beforeOffset - maxBytes));
        return start >= beforeOffset ? [] : Read(path, start, beforeOffset).Turns;
    }
}
