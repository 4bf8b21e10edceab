using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Hooks.Extraction;

/// <summary>
/// Extracts issues on the user's machine with an agent CLI, using the server's prompt and schema
/// (<see cref="IssuePrompt"/>). An invalid answer is asked again once with the reason; a second one gives up
/// (the worker then hands it back to the server, which extracts it at once).
/// </summary>
public sealed class LocalIssueExtractor(AgentCli cli, TimeSpan timeout)
{
    /// <summary>Corrections extracted per hook run at most; the rest are left to the server.</summary>
    public const int MaxPerRun = 5;

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(90);

    /// <summary><c>client:claude</c> or <c>client:copilot</c>.</summary>
    public string ExtractedBy { get; } = "client:" + cli.Name;

    public string Cli => cli.Name;

    /// <summary>Keeps the run's result for <c>status</c>.</summary>
    public void Record(LocalExtractionResult result)
    {
        if (cli.Home is { } home)
            LocalExtractionLog.Write(home, result);
    }

    /// <summary>
    /// The checked issue, or null with the reason when none could be made. <c>CliFailed</c>: the CLI itself failed
    /// (exit code, no answer in time, not signed in), so asking it about the next correction is pointless.
    /// </summary>
    public async Task<(ExtractedIssue? Issue, string? Error, bool CliFailed)> ExtractAsync(DetectedCorrection correction, CancellationToken cancellationToken)
    {
        var prompt = IssuePrompt.ForAgentCli(correction.Text, correction.Skill, correction.SkillPath, correction.Context, correction.Reply);
        string? reason = null;
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            string answer;
            try
            {
                answer = await cli.AskAsync(prompt, timeout, cancellationToken);
            }
            catch (AgentCliException ex)
            {
                return (null, ex.Message, true); // a CLI that failed or hung will not do better at once
            }

            if (IssuePrompt.TryParseAnswer(answer, out var issue, out reason))
                return (issue, null, false);
            prompt += $"\n\nYour previous answer was not valid ({reason}). Reply again with only the JSON object, following the schema exactly.";
        }
        return (null, $"{cli.Name} answered with an invalid issue twice: {reason}", false);
    }
}
