using System.Diagnostics;
using SkillLoop.Core.Proposals;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Proposals;

public sealed class LineDiffTests
{
    private const string Original = "---\nname: pdf\n---\n\n# PDF\n\nline 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\nline 9\nline 10\nline 11\n";

    [Fact]
    public void Equal_texts_have_an_empty_diff_and_rows_without_changes()
    {
        Assert.Equal("", LineDiff.Unified(Original, Original, "SKILL.md"));
        Assert.DoesNotContain(LineDiff.SideBySide(Original, Original), r => r.Changed);
    }

    [Theory]
    [InlineData("line 1", "line one")]
    [InlineData("line 11", "line 11\nline 12")]
    [InlineData("# PDF", "# PDF reports\n\nAlways put the totals last.")]
    [InlineData("line 5\n", "")]
    public void The_unified_diff_applies_with_git_and_gives_the_proposed_text(string find, string replace)
    {
        var proposed = Original.Replace(find, replace, StringComparison.Ordinal) + "\n## Known pitfalls\n\n- **x** y\n";
        using var directory = new TempDirectory("skillloop-diff");
        File.WriteAllText(directory.Combine("SKILL.md"), Original);
        File.WriteAllText(directory.Combine("change.diff"), LineDiff.Unified(Original, proposed, "SKILL.md"));

        var git = Process.Start(new ProcessStartInfo("git", ["apply", "--unidiff-zero", "change.diff"]) { WorkingDirectory = directory.Path, RedirectStandardError = true })!;
        var error = git.StandardError.ReadToEnd();
        git.WaitForExit();

        Assert.True(git.ExitCode == 0, error);
        Assert.Equal(proposed, File.ReadAllText(directory.Combine("SKILL.md")));
    }

    [Fact]
    public void Side_by_side_rows_pair_a_changed_line_with_its_replacement()
    {
        var rows = LineDiff.SideBySide("a\nb\nc\n", "a\nB\nc\nd\n");

        Assert.Equal(
            [new DiffRow(1, "a", 1, "a"), new DiffRow(2, "b", 2, "B"), new DiffRow(3, "c", 3, "c"), new DiffRow(null, null, 4, "d")],
            rows.Select(r => new DiffRow(r.LeftNumber, r.Left, r.RightNumber, r.Right)));
        Assert.Equal([new DiffSegment("b", true)], rows[1].LeftSegments);
        Assert.Equal([new DiffSegment("B", true)], rows[1].RightSegments);
    }

    [Fact]
    public void Far_apart_changes_get_separate_hunks_with_three_lines_of_context()
    {
        var proposed = Original.Replace("line 1\n", "line one\n", StringComparison.Ordinal).Replace("line 11", "line eleven", StringComparison.Ordinal);

        var diff = LineDiff.Unified(Original, proposed, "SKILL.md");

        Assert.Equal(2, diff.Split('\n').Count(l => l.StartsWith("@@", StringComparison.Ordinal)));
        Assert.Contains("@@ -4,7 +4,7 @@", diff, StringComparison.Ordinal);
    }

    [Fact]
    public void A_replaced_line_marks_the_words_that_changed_and_keeps_every_character()
    {
        var rows = LineDiff.SideBySide("Render the table.\nkeep\n", "Render the totals table last.\nkeep\n");

        var row = rows[0];
        Assert.Equal("Render the table.", string.Concat(row.LeftSegments!.Select(s => s.Text)));
        Assert.Equal("Render the totals table last.", string.Concat(row.RightSegments!.Select(s => s.Text)));
        Assert.DoesNotContain(row.LeftSegments!, s => s.Changed && s.Text.Contains("Render", StringComparison.Ordinal));
        Assert.Contains(row.RightSegments!, s => s.Changed && s.Text.Contains("totals", StringComparison.Ordinal));
        Assert.Contains(row.RightSegments!, s => s.Changed && s.Text.Contains("last", StringComparison.Ordinal));
        Assert.Null(rows[1].LeftSegments); // an unchanged line has nothing to mark
    }

    [Fact]
    public void Crlf_and_a_missing_final_newline_are_not_changes()
    {
        Assert.Equal("", LineDiff.Unified("a\r\nb\r\n", "a\nb", "SKILL.md"));
    }
}
