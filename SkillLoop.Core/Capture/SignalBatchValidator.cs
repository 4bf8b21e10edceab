using System.Text.RegularExpressions;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Core.Capture;

/// <summary>Checks a client's batch before anything is written; every problem is reported, keyed by field.</summary>
public static partial class SignalBatchValidator
{
    public static readonly IReadOnlySet<string> Platforms = new HashSet<string>(StringComparer.Ordinal)
    {
        "claude", "copilot", "vscode", "codex", "cursor", "cline",
    };

    /// <summary>The agent CLIs a client may extract issues with (<see cref="SignalBatch.LocalExtractor"/>).</summary>
    public static readonly IReadOnlySet<string> LocalExtractors = new HashSet<string>(StringComparer.Ordinal) { "claude", "copilot" };

    internal const int MaxTextLength = SignalBatchLimits.MaxTextLength;
    internal const int MaxTurns = SignalBatchLimits.MaxTurns;
    internal const int MaxCorrections = SignalBatchLimits.MaxCorrections;
    internal const int MaxContextTurns = SignalBatchLimits.MaxContextTurns;

    public static bool IsValidPlatform(string? platform) => platform is not null && Platforms.Contains(platform);

    /// <summary>Session ids become URL path segments and file names elsewhere: letters, digits and <c>._:-</c> only.</summary>
    public static bool IsValidSessionId(string? sessionId) => sessionId is not null && SessionIdPattern().IsMatch(sessionId);

    public static Dictionary<string, string[]> Validate(SignalBatch? batch)
    {
        var errors = new Dictionary<string, string[]>();
        if (batch is null)
        {
            errors["body"] = ["A JSON body is required."];
            return errors;
        }

        CheckSession(errors, batch.Platform, batch.SessionId);

        if (string.IsNullOrWhiteSpace(batch.User) || batch.User.Length > 320)
        {
            errors["user"] = ["A user identity of 1–320 characters is required."];
        }

        if (batch.FromOffset < 0)
        {
            errors["fromOffset"] = ["Must not be negative."];
        }

        if (batch.Cursor is null)
        {
            errors["cursor"] = ["The new cursor is required."];
        }
        else
        {
            if (batch.Cursor.Offset < batch.FromOffset)
            {
                errors["cursor.offset"] = ["The new cursor must not be before fromOffset."];
            }

            if (batch.Cursor.Platform != batch.Platform || batch.Cursor.SessionId != batch.SessionId)
            {
                errors["cursor"] = ["The cursor must name the batch's platform and session."];
            }
        }

        if (batch.LocalExtractor is not null && !LocalExtractors.Contains(batch.LocalExtractor))
        {
            errors["localExtractor"] = ["Either null, \"claude\" or \"copilot\"."];
        }

        CheckList(errors, "turns", batch.Turns, MaxTurns, (t, key) =>
        {
            CheckTurnId(errors, key + ".turnId", t.TurnId);
            CheckText(errors, key + ".text", t.Text);
        });
        CheckList(errors, "corrections", batch.Corrections, MaxCorrections, (c, key) =>
        {
            CheckTurnId(errors, key + ".turnId", c.TurnId);
            CheckText(errors, key + ".text", c.Text);
            if (string.IsNullOrWhiteSpace(c.Pattern) || c.Pattern.Length > 200)
            {
                errors[key + ".pattern"] = ["A pattern id of 1–200 characters is required."];
            }

            if (c.Confidence is < 0 or > 1 || double.IsNaN(c.Confidence))
            {
                errors[key + ".confidence"] = ["Must be between 0 and 1."];
            }

            if (c.Score is { } score && (score is < 0 or > 1 || double.IsNaN(score)))
            {
                errors[key + ".score"] = ["Must be between 0 and 1 when given."];
            }

            if (c.DetectorVersion is { } version && (version.Length is 0 or > 64 || version.Any(char.IsControl)))
            {
                errors[key + ".detectorVersion"] = ["1–64 characters without control characters when given."];
            }

            // The client cuts the answer to 300 characters before redacting it, and a redaction mark can be longer than
            // the secret it replaces: the bound is the one every text field has, not the cut.
            if (c.Reply is { Length: > MaxTextLength })
            {
                errors[key + ".reply"] = [$"At most {MaxTextLength} characters when given."];
            }

            if (c.Skill is { Length: > 200 } || c.SkillPath is { Length: > 1000 })
            {
                errors[key + ".skill"] = ["Skill name or path too long."];
            }

            if (c.Context is null || c.Context.Count > MaxContextTurns || c.Context.Any(t => t is null || t.Text is null || t.Text.Length > MaxTextLength))
            {
                errors[key + ".context"] = [$"At most {MaxContextTurns} context turns of at most {MaxTextLength} characters."];
            }
        });

        return errors;
    }

    /// <summary>Checks a client's issue; on success <paramref name="issue"/> is the checked, redacted issue.</summary>
    public static Dictionary<string, string[]> Validate(ClientIssue? body, out ExtractedIssue issue)
    {
        issue = null!;
        var errors = new Dictionary<string, string[]>();
        if (body is null)
        {
            errors["body"] = ["A JSON body is required."];
            return errors;
        }

        CheckSession(errors, body.Platform, body.SessionId);

        CheckTurnId(errors, "turnId", body.TurnId);
        if (body.ExtractedBy is not { } by || !by.StartsWith("client:", StringComparison.Ordinal) || !LocalExtractors.Contains(by["client:".Length..]))
        {
            errors["extractedBy"] = ["Either \"client:claude\" or \"client:copilot\"."];
        }

        if (!IssuePrompt.TryValidate(body.Issue, out issue, out var reason))
        {
            errors["issue"] = [reason];
        }

        return errors;
    }

    private static void CheckSession(Dictionary<string, string[]> errors, string? platform, string? sessionId)
    {
        if (!IsValidPlatform(platform))
        {
            errors["platform"] = [$"Unknown platform; expected one of {string.Join(", ", Platforms)}."];
        }

        if (!IsValidSessionId(sessionId))
        {
            errors["sessionId"] = ["1–128 characters of letters, digits, '.', '_', ':' or '-'."];
        }
    }

    private static void CheckList<T>(Dictionary<string, string[]> errors, string name, IReadOnlyList<T>? list, int max, Action<T, string> check)
    {
        if (list is null)
        {
            errors[name] = ["Required (may be empty)."];
            return;
        }

        if (list.Count > max)
        {
            errors[name] = [$"At most {max} per batch."];
            return;
        }

        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is null)
            {
                errors[$"{name}[{i}]"] = ["Must not be null."];
                continue;
            }

            check(list[i], $"{name}[{i}]");
        }
    }

    private static void CheckTurnId(Dictionary<string, string[]> errors, string key, string? turnId)
    {
        if (string.IsNullOrWhiteSpace(turnId) || turnId.Length > 200)
        {
            errors[key] = ["A turn id of 1–200 characters is required."];
        }
    }

    private static void CheckText(Dictionary<string, string[]> errors, string key, string? text)
    {
        if (text is null || text.Length > MaxTextLength)
        {
            errors[key] = [$"Text of at most {MaxTextLength} characters is required."];
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    private static partial Regex SessionIdPattern();
}
