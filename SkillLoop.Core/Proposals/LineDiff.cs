using System.Text;

namespace SkillLoop.Core.Proposals;

/// <summary>One line of a diff: kept, removed from the original or added by the proposal, with its line numbers.</summary>
public sealed record DiffLine(char Kind, int? OldNumber, int? NewNumber, string Text);

/// <summary>One row of a side-by-side view: the original line on the left, the proposed one on the right.</summary>
public sealed record DiffRow(int? LeftNumber, string? Left, int? RightNumber, string? Right)
{
    public bool Changed => Left != Right;
}

/// <summary>
/// Line diffs of a skill file and its proposed version: the edit script (longest common subsequence after trimming
/// the common head and tail), as a unified diff with three lines of context, or as side-by-side rows.
/// </summary>
public static class LineDiff
{
    private const int Context = 3;

    public static IReadOnlyList<DiffLine> Compute(string original, string proposed)
    {
        var a = SplitLines(original);
        var b = SplitLines(proposed);
        var head = 0;
        while (head < a.Length && head < b.Length && a[head] == b[head])
        {
            head++;
        }

        var tail = 0;
        while (tail < a.Length - head && tail < b.Length - head && a[^(tail + 1)] == b[^(tail + 1)])
        {
            tail++;
        }

        var lines = new List<DiffLine>(a.Length + b.Length);
        for (var i = 0; i < head; i++)
        {
            lines.Add(new DiffLine(' ', i + 1, i + 1, a[i]));
        }

        // LCS table over the differing middle only: skill files are small and edits local.
        var n = a.Length - head - tail;
        var m = b.Length - head - tail;
        var lcs = new int[n + 1, m + 1];
        for (var i = n - 1; i >= 0; i--)
        {
            for (var j = m - 1; j >= 0; j--)
            {
                lcs[i, j] = a[head + i] == b[head + j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            }
        }

        int x = 0, y = 0;
        while (x < n || y < m)
        {
            if (x < n && y < m && a[head + x] == b[head + y])
            {
                lines.Add(new DiffLine(' ', head + x + 1, head + y + 1, a[head + x]));
                x++;
                y++;
            }
            else if (y < m && (x == n || lcs[x, y + 1] >= lcs[x + 1, y]))
            {
                lines.Add(new DiffLine('+', null, head + y + 1, b[head + y]));
                y++;
            }
            else
            {
                lines.Add(new DiffLine('-', head + x + 1, null, a[head + x]));
                x++;
            }
        }

        for (var i = 0; i < tail; i++)
        {
            lines.Add(new DiffLine(' ', a.Length - tail + i + 1, b.Length - tail + i + 1, a[a.Length - tail + i]));
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
                rows.Add(new DiffRow(left?.OldNumber, left?.Text, right?.NewNumber, right?.Text));
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

    private static string[] SplitLines(string text)
    {
        var normalized = text.Replace("\r\n", "\n", StringComparison.Ordinal);
        if (normalized.EndsWith('\n'))
        {
            normalized = normalized[..^1];
        }

        return normalized.Length == 0 ? [] : normalized.Split('\n');
    }
}
