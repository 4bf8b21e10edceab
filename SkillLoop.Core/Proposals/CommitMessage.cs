using System.Text;

namespace SkillLoop.Core.Proposals;

/// <summary>
/// The commit message of an approved proposal. The default describes the text that is actually pushed (the
/// reviewer's edit included), not the text the model generated, and ends with a <c>Reviewed-by:</c> trailer; the
/// reviewer may replace it in the approval dialog, which is then pushed as written.
/// </summary>
public static class CommitMessage
{
    public const int MaxLength = 16 * 1024;

    /// <summary>Added or removed lines quoted in the body at most; the rest are counted.</summary>
    private const int QuotedLines = 8;

    public static string Default(string title, string path, string original, string proposed, bool edited, long clusterId,
        long signals, long users, string? reviewer)
    {
        var lines = LineDiff.Compute(original, proposed);
        var added = lines.Where(l => l.Kind == '+' && l.Text.Trim().Length > 0).Select(l => l.Text.Trim()).ToList();
        var removed = lines.Where(l => l.Kind == '-' && l.Text.Trim().Length > 0).Select(l => l.Text.Trim()).ToList();
        var message = new StringBuilder();
        message.Append("skillloop: ").Append(OneLine(title)).Append("\n\n");
        message.Append("Changes ").Append(path).Append(": ")
            .Append(Count(added.Count, "line")).Append(" added, ").Append(Count(removed.Count, "line")).Append(" removed.\n");
        Quote(message, "Adds", added);
        Quote(message, "Removes", removed);
        if (edited && reviewer is { Length: > 0 })
        {
            message.Append("\nEdited by ").Append(reviewer).Append(" before approval.\n");
        }

        message.Append("\nCluster #").Append(clusterId).Append(": ").Append(signals).Append(" corrections from ")
            .Append(users).Append(" distinct users.\n");
        if (reviewer is { Length: > 0 })
        {
            message.Append("\nReviewed-by: ").Append(OneLine(reviewer)).Append('\n');
        }

        return message.ToString();
    }

    /// <summary>A reviewer's message as git will store it: line endings made LF, no NUL, not empty, bounded.</summary>
    public static string Check(string message)
    {
        var clean = message.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Replace("\0", "", StringComparison.Ordinal).Trim();
        if (clean.Length == 0)
        {
            throw new ProposalActionException("The commit message is empty.");
        }

        if (clean.Length > MaxLength)
        {
            throw new ProposalActionException($"The commit message is longer than {MaxLength} characters.");
        }

        return clean + "\n";
    }

    private static void Quote(StringBuilder message, string verb, List<string> lines)
    {
        if (lines.Count == 0)
        {
            return;
        }

        message.Append('\n').Append(verb).Append(":\n");
        foreach (var line in lines.Take(QuotedLines))
        {
            message.Append("  ").Append(line.Length > 200 ? line[..200] + "…" : line).Append('\n');
        }

        if (lines.Count > QuotedLines)
        {
            message.Append("  … and ").Append(lines.Count - QuotedLines).Append(" more\n");
        }
    }

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
