using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Hooks.Detection;

/// <summary>
/// Where a read starts in its conversation: everything the detector's context features take from the turns before it
/// (the agent's last prose, how many human turns came before, whether the person had just interrupted the agent, and
/// whether the agent has answered at all). With it a turn gets the same verdict wherever a read window starts.
/// </summary>
/// <param name="LastAssistant">The agent's last prose (its last <see cref="SessionAnalyzer.MaxPreviousChars"/> characters), null when it has said nothing yet.</param>
/// <param name="HumanTurns">Human turns before; counted up to <see cref="HumanTurnsThatMatter"/>, past which the detector's position feature no longer changes.</param>
/// <param name="AfterInterruption">The person stopped the agent after their last turn.</param>
/// <param name="AgentHasAnswered">The agent has answered (prose or a tool call): before that a message has nothing to correct.</param>
public sealed record ConversationPosition(string? LastAssistant, int HumanTurns, bool AfterInterruption, bool AgentHasAnswered)
{
    /// <summary>Human turns past which the position feature is the same (index 11 and on share a bucket).</summary>
    public const int HumanTurnsThatMatter = 11;

    public static ConversationPosition Start { get; } = new(null, 0, false, false);

    /// <summary>Somewhere past the start, nothing else known (the transcript could not be read back).</summary>
    public static ConversationPosition MidSession { get; } = new(null, 3, false, true);
}

/// <summary>
/// The conversation before a read's cursor. A Stop hook reads from where the last read ended, so the agent turn a new
/// human message answers, and the person's earlier turns, lie before the cursor; the detector needs them ("did you
/// push?" right after "Done!" is a correction, an opening request is not). JSONL transcripts, whose offsets are line
/// starts, are read back in windows towards the start only as far as needed, never holding more than one window's
/// turns; whole-file formats (Cline, whose offsets count messages) are parsed up to the cursor.
/// </summary>
public static class PrecedingContext
{
    private const int WindowBytes = 256 * 1024;

    /// <summary>The agent's last prose before <paramref name="offset"/>, null when there is none.</summary>
    public static string? LastAssistantProse(ITranscriptReader reader, string path, long offset) =>
        PositionAt(reader, path, offset).LastAssistant;

    /// <summary>
    /// The exact position at <paramref name="offset"/>, as a read of the whole transcript from its start would have it
    /// when it got there; <see cref="ConversationPosition.MidSession"/> when the transcript cannot be read back.
    /// </summary>
    public static ConversationPosition PositionAt(ITranscriptReader reader, string path, long offset)
    {
        if (offset <= 0)
            return ConversationPosition.Start;
        var walk = new BackwardWalk();
        try
        {
            if (!path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
            {
                walk.Take(reader.Read(path, 0, offset).Turns);
                return walk.Position;
            }
            // Only up to the cursor: reading on to the end of the file would hold every later turn of a backlog in
            // memory once per batch. Back one window at a time until the position is known or the start is reached.
            var until = offset;
            while (until > 0 && !walk.Complete)
            {
                var from = until <= WindowBytes ? 0 : JsonlScanner.LineStartAtOrAfter(path, until - WindowBytes);
                if (from >= until)
                    from = JsonlScanner.LineStartBefore(path, until); // one line longer than the window
                walk.Take(reader.Read(path, from, until).Turns);
                until = from;
            }
            return walk.Position;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ConversationPosition.MidSession;
        }
    }

    /// <summary>Turns taken newest first, window by window: the mirror of <see cref="SessionAnalyzer"/>'s forward walk.</summary>
    private sealed class BackwardWalk
    {
        private string? _last;
        private int _humans;
        private bool _interrupted;
        private bool _answered;

        public bool Complete => _last is not null && _humans >= ConversationPosition.HumanTurnsThatMatter;

        public ConversationPosition Position => new(_last, Math.Min(_humans, ConversationPosition.HumanTurnsThatMatter), _interrupted, _answered);

        public void Take(IReadOnlyList<ConversationTurn> turns)
        {
            for (var i = turns.Count - 1; i >= 0 && !Complete; i--)
            {
                var turn = turns[i];
                if (turn.IsSidechain)
                    continue;
                if (turn.IsInterruption)
                {
                    // Only an interruption after the person's last turn counts (the forward walk resets it at each).
                    _interrupted |= _humans == 0;
                    continue;
                }
                if (turn.IsHuman)
                    _humans++;
                if (turn.Role == TurnRole.Assistant && (turn.Text.Length > 0 || turn.ToolCalls.Count > 0))
                    _answered = true;
                if (turn.Role == TurnRole.Assistant && turn.Text.Length > 0 && _last is null)
                    _last = SessionAnalyzer.PreviousOf(turn.Text);
            }
        }
    }
}
