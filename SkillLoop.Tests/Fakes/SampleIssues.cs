using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Tests.Fakes;

/// <summary>A valid extracted issue, as a client's agent CLI would send it.</summary>
public static class SampleIssues
{
    public static readonly ExtractedIssue TotalsRow = new(
        "The agent moved the totals row to the top of a generated table.",
        "The skill does not say where the totals row belongs.",
        "Keep the totals row as the last row of the table.",
        "the totals row must stay at the bottom",
        "medium",
        0.8);
}
