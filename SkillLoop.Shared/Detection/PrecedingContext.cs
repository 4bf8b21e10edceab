using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Hooks.Detection;

/// <summary>
/// The agent's last words before a read's cursor. A Stop hook reads from where the last read ended, so the agent turn a
/// new human message answers lies before the cursor; the detector needs it ("did you push?" right after "Done!" is a
/// correction). Only JSONL transcripts, whose offsets are line starts: a window before the cursor is read again.
/// </summary>
public static class PrecedingContext
{
    private const int WindowBytes = 256 * 1024;

    public static string? LastAssistantProse(ITranscriptReader reader, string path, long offset)
    {
        if (offset <= 0 || !path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
            return null;
        try
        {
            var start = Math.Max(0, offset - WindowBytes);
            if (start > 0)
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                stream.Position = start;
                var buffer = new byte[(int)(offset - start)];
                stream.ReadExactly(buffer);
                var newline = Array.IndexOf(buffer, (byte)'\n');
                if (newline < 0)
                    return null; // one line longer than the window: no turn boundary to start from
                start += newline + 1;
            }
            // Only up to the cursor: reading on to the end of the file would hold every later turn of a backlog in
            // memory once per batch (75,000 corrections: the whole session's turns, ~200 MB, and quadratic time).
            var read = reader.Read(path, start, offset);
            var before = read.Turns.Count;
            for (var i = before - 1; i >= 0; i--)
            {
                var turn = read.Turns[i];
                if (turn.Role == TurnRole.Assistant && !turn.IsSidechain && turn.Text.Length > 0)
                    return turn.Text.Length <= SessionAnalyzer.MaxPreviousChars ? turn.Text : turn.Text[^SessionAnalyzer.MaxPreviousChars..];
            }
            return before > 0 ? "" : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
