using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Registry;

namespace SkillLoop.Core.Proposals;

/// <summary>What a cluster says about its problem, as a proposal and its PR body show it.</summary>
public sealed record ProposalEvidence(
    long ClusterId,
    string Skill,
    string Title,
    int Signals,
    int DistinctUsers,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    string ProblemPattern,
    string RootCause,
    string ExpectedBehavior,
    IReadOnlyList<string> Quotes,
    double Confidence)
{
    /// <summary>Distinct users of personal ingest tokens: the only ones auto-merge counts.</summary>
    public int VerifiedUsers { get; init; }

    /// <summary>Distinct users known only by the identity a shared team token's client reported.</summary>
    public int SelfDeclaredUsers { get; init; }

    /// <summary>True when the problem, cause and expectation come from client-supplied issues (the server has none of its own yet).</summary>
    public bool ClientSupplied { get; init; }

    /// <summary>Every signal of the cluster with its issue, for tracing proposed lines back to them.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<EvidenceSource> Sources { get; init; } = [];
}

/// <summary>A proposed version of a skill file and how it was made.</summary>
/// <param name="GeneratedBy"><c>model:&lt;name&gt;</c>, or <c>pitfalls</c> for the deterministic "Known pitfalls" entry.</param>
public sealed record ProposedChange(string Text, string Summary, string GeneratedBy, double Confidence);

/// <summary>
/// Writes the improved skill file. With a chat model: the model rewrites the file minimally to fix the problem
/// (JSON-schema-constrained answer; the front matter must stay valid and keep its name; an invalid answer is retried
/// once). Without one, or when the model fails twice: a deterministic entry in a "Known pitfalls" section, marked so.
/// </summary>
public sealed partial class ProposalWriter(AiRuntime ai, ILogger<ProposalWriter> logger)
{
    public const string PitfallsHeading = "## Known pitfalls";
    public const string Pitfalls = "pitfalls";

    private const string SystemPrompt = """
        You maintain instruction files for AI coding agents (Claude Code skills, Copilot prompt and instruction files,
        agent definitions). Users corrected the agent because the file led it wrong. Change the file as little as
        possible so the agent no longer makes this mistake: add or fix the specific instruction, keep everything else
        word for word, keep the YAML front matter (between the --- lines) valid and its name unchanged, write in the
        file's own language and style. Answer with JSON only: {"improvedFile": the complete new file,
        "summary": one sentence describing the change, "confidence": 0..1 that the change fixes the problem}.
        """;

    private const string SchemaJson = """
        {"type":"object","properties":{
          "improvedFile":{"type":"string","minLength":1},
          "summary":{"type":"string","minLength":1,"maxLength":400},
          "confidence":{"type":"number","minimum":0,"maximum":1}},
         "required":["improvedFile","summary","confidence"],"additionalProperties":false}
        """;

    private static readonly JsonElement Schema = JsonDocument.Parse(SchemaJson).RootElement.Clone();

    public async Task<ProposedChange> WriteAsync(string original, string path, ProposalEvidence evidence, CancellationToken cancellationToken)
    {
        // The lease keeps this chat model alive for the whole proposal, even if an admin switches models meanwhile.
        using var lease = ai.Lease();
        if (lease.Chat is { } chat)
        {
            var model = lease.Status.Chat.Model ?? lease.Status.Chat.Provider;
            try
            {
                if (await AskModelAsync(chat, original, path, evidence, cancellationToken) is { } change)
                {
                    return change with { GeneratedBy = $"model:{model}" };
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogModelFailed(logger, evidence.ClusterId, ex.Message);
            }
        }

        return WritePitfall(original, evidence);
    }

    /// <summary>
    /// The deterministic proposal: one bullet per cluster in the file's "Known pitfalls" section (added at the end when
    /// missing), written as the instruction a skill author would add ("Use pnpm, not npm, in this repo."), with how
    /// many users reported it.
    /// </summary>
    public static ProposedChange WritePitfall(string original, ProposalEvidence evidence)
    {
        var marker = $"<!-- skillloop:cluster-{evidence.ClusterId} -->";
        var instruction = Instruction(evidence);
        var reported = evidence.DistinctUsers == 1 ? "reported by 1 user" : $"reported by {evidence.DistinctUsers.ToString(CultureInfo.InvariantCulture)} users";
        var bullet = $"- {instruction} ({reported}) {marker}";
        var newline = original.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";
        var lines = original.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n').Split('\n').ToList();
        if (lines is [""])
        {
            lines.Clear();
        }

        var existing = lines.FindIndex(l => l.Contains(marker, StringComparison.Ordinal));
        var heading = lines.FindIndex(l => l.Trim().Equals(PitfallsHeading, StringComparison.OrdinalIgnoreCase));
        if (existing >= 0)
        {
            lines[existing] = bullet;
        }
        else if (heading >= 0)
        {
            // After the section's last line that is not blank, before the next heading.
            var end = lines.FindIndex(heading + 1, l => l.StartsWith('#'));
            end = end < 0 ? lines.Count : end;
            var insertAt = end;
            while (insertAt > heading + 1 && lines[insertAt - 1].Trim().Length == 0)
            {
                insertAt--;
            }

            lines.Insert(insertAt, bullet);
        }
        else
        {
            if (lines.Count > 0)
            {
                lines.Add("");
            }

            lines.AddRange([PitfallsHeading, "", bullet]);
        }

        var text = string.Join(newline, lines) + newline;
        var summary = $"Adds \"{Cut(instruction, 120)}\" to the {PitfallsHeading[3..]} section (written without a model).";
        return new ProposedChange(text, summary, Pitfalls, Math.Round(Math.Min(evidence.Confidence, 0.6), 2));
    }

    private async Task<ProposedChange?> AskModelAsync(IChatClient chat, string original, string path, ProposalEvidence evidence, CancellationToken cancellationToken)
    {
        var request = new StringBuilder()
            .Append("File: ").Append(path).Append("\n\nProblem pattern: ").Append(evidence.ProblemPattern)
            .Append("\nRoot cause: ").Append(evidence.RootCause)
            .Append("\nExpected behaviour: ").Append(evidence.ExpectedBehavior)
            .Append("\nCorrections from ").Append(evidence.DistinctUsers).Append(" users, for example:\n");
        foreach (var quote in evidence.Quotes)
        {
            request.Append("- ").Append(quote).Append('\n');
        }

        request.Append("\nCurrent file:\n<<<FILE\n").Append(SecretRedactor.Redact(original)).Append("\nFILE>>>");
        List<ChatMessage> messages = [new(ChatRole.System, SystemPrompt), new(ChatRole.User, request.ToString())];
        var options = new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "improved_skill", "The improved skill file."),
            Temperature = 0,
            MaxOutputTokens = Math.Clamp(original.Length / 2 + 800, 800, 8000),
        };

        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var answer = (await chat.GetResponseAsync(messages, options, cancellationToken)).Text;
            if (TryParse(answer, original, out var change, out var reason))
            {
                return change;
            }

            LogInvalidAnswer(logger, evidence.ClusterId, attempt, reason);
            messages.Add(new(ChatRole.Assistant, Cut(answer, 600)));
            messages.Add(new(ChatRole.User, $"That answer was not valid ({reason}). Reply again with only the JSON object."));
        }

        return null;
    }

    /// <summary>Checks a model's answer: JSON of the schema, a changed file of sane size, front matter valid with the same name.</summary>
    internal static bool TryParse(string answer, string original, out ProposedChange change, out string reason)
    {
        change = null!;
        string improved, summary;
        double confidence;
        try
        {
            using var document = JsonDocument.Parse(answer.Trim().Trim('`').Replace("json\n", "", StringComparison.Ordinal));
            var root = document.RootElement;
            improved = root.GetProperty("improvedFile").GetString() ?? "";
            summary = root.GetProperty("summary").GetString() ?? "";
            confidence = root.GetProperty("confidence").GetDouble();
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            reason = "not a JSON object with improvedFile, summary and confidence";
            return false;
        }

        if (improved.Trim().Length == 0 || summary.Trim().Length == 0 || confidence is < 0 or > 1 || double.IsNaN(confidence))
        {
            reason = "empty file or summary, or confidence outside 0..1";
            return false;
        }

        if (improved.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd() == original.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd())
        {
            reason = "the file is unchanged";
            return false;
        }

        if (improved.Length > original.Length * 3 + 4000)
        {
            reason = "the file grew far more than a minimal fix needs";
            return false;
        }

        if (CheckFrontMatter(original, improved) is { } problem)
        {
            reason = problem;
            return false;
        }

        reason = "";
        improved = StripAddedInvisible(original, improved);
        change = new ProposedChange(improved.EndsWith('\n') ? improved : improved + "\n", InvisibleCharacters.Strip(OneLine(summary), out _), "model", Math.Round(confidence, 2));
        return true;
    }

    /// <summary>A model's lines lose any invisible character; lines it kept word for word from the original stay as they were.</summary>
    internal static string StripAddedInvisible(string original, string improved)
    {
        var kept = original.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToHashSet(StringComparer.Ordinal);
        return string.Join('\n', improved.Split('\n').Select(line => kept.Contains(line.TrimEnd('\r')) ? line : InvisibleCharacters.Strip(line, out _)));
    }

    /// <summary>Null when <paramref name="proposed"/> keeps the original's front matter valid and its name; else why not.</summary>
    public static string? CheckFrontMatter(string original, string proposed)
    {
        if (!FrontMatter.TryParse(original, out var before) || !FrontMatter.StartsWithBlock(original))
        {
            return null; // nothing to keep
        }

        if (!FrontMatter.StartsWithBlock(proposed) || !FrontMatter.TryParse(proposed, out var after))
        {
            return "the YAML front matter is missing or not closed";
        }

        return before["name"] is { } name && !string.Equals(after["name"], name, StringComparison.Ordinal)
            ? $"the front matter's name must stay '{name}'"
            : null;
    }

    /// <summary>
    /// The expected behaviour as an instruction: "The agent should not touch the lockfile." → "Do not touch the
    /// lockfile."; without a stated expectation, the users' own words to follow.
    /// </summary>
    internal static string Instruction(ProposalEvidence evidence)
    {
        const string Should = "The agent should ";
        const string Follow = "follow the user's correction:";
        var expected = OneLine(evidence.ExpectedBehavior);
        if (expected.StartsWith(Should, StringComparison.OrdinalIgnoreCase))
        {
            expected = expected[Should.Length..].Trim();
            if (expected.StartsWith(Follow, StringComparison.OrdinalIgnoreCase))
            {
                var quote = expected[Follow.Length..].Trim().Trim('"', '“', '”').Trim();
                return quote.Length == 0 ? "Follow the users' corrections quoted in the proposal." : $"Users corrected the agent here: “{Extraction.CorrectionText.Capitalize(quote)}” Do what they asked.";
            }

            if (expected.StartsWith("not ", StringComparison.OrdinalIgnoreCase))
            {
                expected = "Do " + expected;
            }
        }

        expected = Extraction.CorrectionText.Capitalize(expected);
        return expected.Length == 0 || ".!?。！？…".Contains(expected[^1], StringComparison.Ordinal) ? expected : expected + ".";
    }


    private static string OneLine(string text) => InvisibleCharacters.Strip(string.Join(' ', text.Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim())).Trim(), out _);

    private static string Cut(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    /// <summary>The PR body: problem, root cause, proposed change, evidence, confidence.</summary>
    /// <param name="sections">Further sections (heading, Markdown), placed after the evidence and before the footer.</param>
    public static string Body(
        ProposalEvidence evidence, ProposedChange change, string? reviewedBy, bool edited = false, IReadOnlyList<string>? warnings = null,
        IReadOnlyList<(string Heading, string Text)>? sections = null)
    {
        var body = new StringBuilder();
        body.Append("## Problem pattern\n\n").Append(evidence.ProblemPattern).Append("\n\n");
        body.Append("## Root cause\n\n").Append(evidence.RootCause).Append("\n\n");
        body.Append("## Proposed change\n\n").Append(change.Summary).Append("\n\n");
        body.Append(change.GeneratedBy == Pitfalls
            ? "_Written without a model: a deterministic \"Known pitfalls\" entry made from the users' own words (no chat model was configured, or it failed). Check the wording before approving._\n\n"
            : $"_Written by {change.GeneratedBy["model:".Length..]}._\n\n");
        body.Append("**Expected behaviour:** ").Append(evidence.ExpectedBehavior).Append("\n\n");
        body.Append("## Evidence\n\n");
        body.Append(CultureInfo.InvariantCulture, $"- {evidence.Signals} correction{(evidence.Signals == 1 ? "" : "s")} from {evidence.DistinctUsers} distinct user{(evidence.DistinctUsers == 1 ? "" : "s")}");
        body.Append(evidence.SelfDeclaredUsers == 0
            ? "\n"
            : string.Create(CultureInfo.InvariantCulture, $": {evidence.VerifiedUsers} with personal tokens, **{evidence.SelfDeclaredUsers} self-declared** (identity reported by a shared team token's client, not verified)\n"));
        body.Append(CultureInfo.InvariantCulture, $"- First seen {evidence.FirstSeen:yyyy-MM-dd HH:mm} UTC, last seen {evidence.LastSeen:yyyy-MM-dd HH:mm} UTC\n");
        if (evidence.Quotes.Count > 0)
        {
            body.Append("- Example corrections (redacted):\n");
            // A blank quoted line between them: each correction its own paragraph, not one run-on quote.
            for (var i = 0; i < evidence.Quotes.Count; i++)
            {
                body.Append(i == 0 ? "" : "  >\n").Append("  > ").Append(OneLine(evidence.Quotes[i])).Append('\n');
            }
        }

        body.Append(CultureInfo.InvariantCulture, $"\n**Confidence:** {change.Confidence:0.00}\n\n");
        if (warnings is { Count: > 0 })
        {
            body.Append("## Look twice\n\n");
            foreach (var warning in warnings)
            {
                body.Append("- ").Append(OneLine(warning)).Append('\n');
            }

            body.Append('\n');
        }

        foreach (var (heading, text) in sections ?? [])
        {
            body.Append("## ").Append(heading).Append("\n\n").Append(text.TrimEnd()).Append("\n\n");
        }

        body.Append(CultureInfo.InvariantCulture, $"<sub>Proposed by SkillLoop from cluster #{evidence.ClusterId}");
        body.Append(reviewedBy is null ? "" : $"; approved by {reviewedBy}").Append(edited ? " (text edited in review)" : "").Append(".</sub>\n");
        return body.ToString();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The chat model could not write a proposal for cluster {ClusterId}: {Error}; using the Known pitfalls entry")]
    private static partial void LogModelFailed(ILogger logger, long clusterId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Invalid proposal answer for cluster {ClusterId} (attempt {Attempt}): {Reason}")]
    private static partial void LogInvalidAnswer(ILogger logger, long clusterId, int attempt, string reason);
}
