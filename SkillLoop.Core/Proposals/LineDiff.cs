using System.Text;

namespace SkillLoop.Core.Proposals;

/// <summary>One line of a diff: kept, removed from the original or added by the proposal, with its line numbers.</summary>
public sealed record DiffLine(char Kind, int? OldNumber, int? NewNumber, string Text);

/// <summary>A run of a changed line's text, marked when it differs from the line it is paired with.</summary>
public sealed record DiffSegment(string Text, bool Changed);

/// <summary>
/// One row of a side-by-side view: the original line on the left, the proposed one on the right. A changed line paired
/// with its replacement also carries its word-level segments, so the review can highlight what changed inside it.
/// </summary>
public sealed record DiffRow(int? LeftNumber, string? Left, int? RightNumber, string? Right)
{
    public bool Changed => Left != Right;

    public IReadOnlyList<DiffSegment>? LeftSegments { get; init; }

    public IReadOnlyList<DiffSegment>? RightSegments { get; init; }
}

/// <summary>
/// Line diffs of a skill file and its proposed version, from DiffPlex's edit script: a unified diff with three lines
/// of context, or side-by-side rows with word-level changes inside paired lines.
/// </summary>
public static class LineDiff
{
    private const int Context = 3;

    private static readonly DiffPlex.Chunkers.WordChunker Words = new();

    public static IReadOnlyList<DiffLine> Compute(string original, string proposed)
    {
        var diff = DiffPlex.Differ.Instance.CreateDiffs(original, proposed, ignoreWhiteSpace: false, ignoreCase: false, SkillLines.Instance);
        var a = diff.PiecesOld;
        var b = diff.PiecesNew;
        var lines = new List<DiffLine>(a.Count + b.Count);
        int x = 0, y = 0;
        foreach (var block in diff.DiffBlocks.Append(new DiffPlex.Model.DiffBlock(a.Count, 0, b.Count, 0)))
        {
            for (; x < block.DeleteStartA; x++, y++)
            {
                lines.Add(new DiffLine(' ', x + 1, y + 1, a[x]));
            }

            for (var i = 0; i < block.DeleteCountA; i++, x++)
            {
                lines.Add(new DiffLine('-', x + 1, null, a[x]));
            }

            for (var i = 0; i < block.InsertCountB; i++, y++)
            {
                lines.Add(new DiffLine('+', null, y + 1, b[y]));
            }
        }

        return lines;
    }

    /// <summary>A unified diff (<c>git apply</c> reads it); empty when the texts are equal.</summary>
    public static string Unified(string original, string proposed, string path)
    {
        var lines = Compute(original, proposed).ToList();
        if (lines.All(l => l.Kind == ' '))
        {
            return "";
        }

        var output = new StringBuilder();
        output.Append("--- a/").Append(path).Append('\n').Append("+++ b/").Append(path).Append('\n');
        var index = 0;
        while (index < lines.Count)
        {
            var firstChange = lines.FindIndex(index, l => l.Kind != ' ');
            if (firstChange < 0)
            {
                break;
            }

            var start = Math.Max(index, firstChange - Context);
            var end = firstChange;
            // Extend the hunk while the next change is within two contexts.
            while (true)
            {
                var lastChange = end;
                while (end < lines.Count && lines[end].Kind != ' ')
                {
                    lastChange = end++;
                }

                var next = lines.FindIndex(end, l => l.Kind != ' ');
                if (next >= 0 && next - lastChange <= 2 * Context)
                {
                    end = next;
                    continue;
                }

                end = Math.Min(lines.Count, lastChange + 1 + Context);
                break;
            }

            var hunk = lines.Skip(start).Take(end - start).ToList();
            var oldStart = hunk.FirstOrDefault(l => l.OldNumber is not null)?.OldNumber ?? (PreviousOld(lines, start) + 1);
            var newStart = hunk.FirstOrDefault(l => l.NewNumber is not null)?.NewNumber ?? (PreviousNew(lines, start) + 1);
            var oldCount = hunk.Count(l => l.Kind != '+');
            var newCount = hunk.Count(l => l.Kind != '-');
            output.Append("@@ -").Append(oldCount == 0 ? oldStart - 1 : oldStart).Append(',').Append(oldCount)
                .Append(" +").Append(newCount == 0 ? newStart - 1 : newStart).Append(',').Append(newCount).Append(" @@\n");
            foreach (var line in hunk)
            {
                output.Append(line.Kind).Append(line.Text).Append('\n');
            }

            index = end;
        }

        return output.ToString();
    }

    /// <summary>Side-by-side rows: removed and added lines of one change are paired up, the rest shown alone.</summary>
    public static IReadOnlyList<DiffRow> SideBySide(string original, string proposed)
    {
        var rows = new List<DiffRow>();
        var removed = new List<DiffLine>();
        var added = new List<DiffLine>();
        foreach (var line in Compute(original, proposed).Append(new DiffLine('=', null, null, "")))
        {
            if (line.Kind == '-')
            {
                removed.Add(line);
                continue;
            }

            if (line.Kind == '+')
            {
                added.Add(line);
                continue;
            }

            for (var i = 0; i < Math.Max(removed.Count, added.Count); i++)
            {
                var left = i < removed.Count ? removed[i] : null;
                var right = i < added.Count ? added[i] : null;
                rows.Add(left is not null && right is not null
                    ? WithWords(new DiffRow(left.OldNumber, left.Text, right.NewNumber, right.Text))
                    : new DiffRow(left?.OldNumber, left?.Text, right?.NewNumber, right?.Text));
            }

            removed.Clear();
            added.Clear();
            if (line.Kind == ' ')
            {
                rows.Add(new DiffRow(line.OldNumber, line.Text, line.NewNumber, line.Text));
            }
        }

        return rows;
    }

    private static int PreviousOld(List<DiffLine> lines, int index) =>
        Enumerable.Range(0, index).Reverse().Select(i => lines[i].OldNumber).FirstOrDefault(n => n is not null) ?? 0;

    private static int PreviousNew(List<DiffLine> lines, int index) =>
        Enumerable.Range(0, index).Reverse().Select(i => lines[i].NewNumber).FirstOrDefault(n => n is not null) ?? 0;

    /// <summary>Word-level segments of a replaced line and its replacement (whitespace runs are words too, so nothing is lost).</summary>
    private static DiffRow WithWords(DiffRow row)
    {
        var diff = DiffPlex.Differ.Instance.CreateDiffs(row.Left!, row.Right!, ignoreWhiteSpace: false, ignoreCase: false, Words);
        var left = new List<DiffSegment>();
        var right = new List<DiffSegment>();
        int x = 0, y = 0;
        foreach (var block in diff.DiffBlocks.Append(new DiffPlex.Model.DiffBlock(diff.PiecesOld.Count, 0, diff.PiecesNew.Count, 0)))
        {
            Add(left, string.Concat(diff.PiecesOld.Skip(x).Take(block.DeleteStartA - x)), false);
            Add(right, string.Concat(diff.PiecesNew.Skip(y).Take(block.InsertStartB - y)), false);
            Add(left, string.Concat(diff.PiecesOld.Skip(block.DeleteStartA).Take(block.DeleteCountA)), true);
            Add(right, string.Concat(diff.PiecesNew.Skip(block.InsertStartB).Take(block.InsertCountB)), true);
            x = block.DeleteStartA + block.DeleteCountA;
            y = block.InsertStartB + block.InsertCountB;
        }

        return row with { LeftSegments = left, RightSegments = right };

        static void Add(List<DiffSegment> segments, string text, bool changed)
        {
            if (text.Length > 0)
                segments.Add(new DiffSegment(text, changed));
        }
    }

    /// <summary>Lines as the diff sees them: CRLF read as LF, and a final newline ends the last line instead of adding one.</summary>
    private sealed class SkillLines : DiffPlex.IChunker
    {
        public static readonly SkillLines Instance = new();

        public IReadOnlyList<string> Chunk(string text)
        {
            var normalized = text.Replace("\r\n", "\n", StringComparison.Ordinal);
            if (normalized.EndsWith('\n'))
            {
                normalized = normalized[..^1];
            }

            return normalized.Length == 0 ? [] : normalized.Split('\n');
        }
    }
}
