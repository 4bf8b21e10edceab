using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Ai.OpenAi;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Core.Proposals.Replay;

/// <summary>The model's answer for one correction against one skill text.</summary>
/// <param name="Prevented">Whether an agent following the text would have avoided what the user corrected.</param>
/// <param name="Confidence">How sure the model is of <paramref name="Prevented"/> (0..1).</param>
public sealed record ReplayVerdict(bool Prevented, double Confidence, string Reason)
{
    /// <summary>The chance the text prevents the correction, as the model put it: its confidence either way round.</summary>
    public double Score => Math.Round(Prevented ? Confidence : 1 - Confidence, 2);
}

/// <summary>One correction to replay: the user's words and the (redacted) turns before them, as stored.</summary>
public sealed record ReplayCase(long SignalId, string Correction, IReadOnlyList<ContextTurn> Context);

/// <summary>A correction or a skill text that cannot be replayed (too long for the model, an invalid answer).</summary>
public sealed class ReplayException(string message, Exception? innerException = null) : Exception(message, innerException);

/// <summary>
/// Asks a chat model, with a JSON schema, whether an agent following a skill text would have avoided a correction:
/// the correction's preceding turns are replayed against the text. Both texts of a proposal are judged with the same
/// turns (fitted once, to the longer text), so the comparison is fair. One call per text, no retry: an invalid answer
/// fails that correction (recorded, never guessed).
/// </summary>
public sealed class ReplayJudge(IChatClient chat, int maxSkillChars = 32_000)
{
    public const int MaxOutputTokens = 200;

    internal const string SystemPrompt = """
        You judge instruction files for AI coding agents (Claude Code skills, Copilot prompt and instruction files,
        agent definitions). You see the instruction file the agent followed, the conversation before the user's
        correction, and the correction. Decide whether an agent that followed THIS file would have avoided the mistake
        the user corrected, so the correction would not have been needed. Judge only from what the file says: a file
        that does not address the mistake did not prevent it. Answer with JSON only: {"prevented": true or false,
        "confidence": 0..1 how sure you are, "reason": one short sentence}.
        """;

    internal const string SchemaJson = """
        {"type":"object","properties":{
          "prevented":{"type":"boolean"},
          "confidence":{"type":"number","minimum":0,"maximum":1},
          "reason":{"type":"string","minLength":1,"maxLength":300}},
         "required":["prevented","confidence","reason"],"additionalProperties":false}
        """;

    private static readonly JsonElement Schema = JsonDocument.Parse(SchemaJson).RootElement.Clone();

    /// <summary>The case as it will be sent: redacted, and cut to fit the model's context with the longer of the two texts.</summary>
    public ReplayCase Fit(ReplayCase replay, string path, string current, string proposed)
    {
        var redacted = replay with
        {
            Correction = Cut(SecretRedactor.Redact(replay.Correction), IssuePrompt.MaxCorrectionChars),
            Context = replay.Context.Skip(Math.Max(0, replay.Context.Count - IssuePrompt.MaxContextTurns))
                .Select(t => t with { Text = Cut(SecretRedactor.Redact(t.Text), IssuePrompt.MaxTurnChars) }).ToList(),
        };
        var longer = proposed.Length >= current.Length ? proposed : current;
        if (chat.GetService(typeof(IPromptTokenCounter)) is not IPromptTokenCounter counter)
        {
            return longer.Length <= maxSkillChars ? redacted
                : throw new ReplayException($"The skill text has {longer.Length} characters, more than the {maxSkillChars} replayed (SKILLLOOP_REPLAY_MAX_SKILL_CHARS).");
        }

        var budget = counter.ContextLength - MaxOutputTokens;
        var tokens = counter.CountPromptTokens(Messages(path, longer, redacted));
        // The turns nearest the correction matter most: the oldest go first.
        while (tokens > budget && redacted.Context.Count > 0)
        {
            redacted = redacted with { Context = redacted.Context.Skip(1).ToList() };
            tokens = counter.CountPromptTokens(Messages(path, longer, redacted));
        }

        return tokens <= budget ? redacted
            : throw new ReplayException($"The skill text and the correction need {tokens} tokens; the model's context holds {counter.ContextLength} ({MaxOutputTokens} kept for the answer).");
    }

    /// <summary>Judges one skill text against a fitted case; returns the verdict and the tokens the call used (when the model says).</summary>
    public async Task<(ReplayVerdict Verdict, long? Tokens)> JudgeAsync(ReplayCase fitted, string path, string skillText, CancellationToken cancellationToken)
    {
        var messages = Messages(path, skillText, fitted);
        var options = new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "replay_verdict", "Whether the instruction file would have prevented the correction."),
            Temperature = 0,
            MaxOutputTokens = MaxOutputTokens,
        };
        ChatResponse response;
        try
        {
            response = await chat.GetResponseAsync(messages, options, cancellationToken);
        }
        catch (AiEndpointException ex) when (ex.StatusCode == 400)
        {
            // A server that knows only {"type":"json_object"}: plain JSON, the schema in the prompt.
            options.ResponseFormat = ChatResponseFormat.Json;
            messages[0] = new(ChatRole.System, SystemPrompt + "\nJSON schema of the answer:\n" + SchemaJson);
            response = await chat.GetResponseAsync(messages, options, cancellationToken);
        }

        return TryParse(response.Text, out var verdict, out var reason)
            ? (verdict, response.Usage?.TotalTokenCount)
            : throw new ReplayException($"The model's answer was not valid ({reason}): {Cut(OneLine(response.Text), 200)}");
    }

    internal static List<ChatMessage> Messages(string path, string skillText, ReplayCase fitted)
    {
        var request = new StringBuilder()
            .Append("Instruction file (").Append(path).Append("):\n<<<FILE\n").Append(SecretRedactor.Redact(skillText)).Append("\nFILE>>>\n\n");
        if (fitted.Context.Count == 0)
        {
            request.Append("(No turns before the correction were recorded.)\n");
        }
        else
        {
            request.Append("Conversation before the correction (oldest first):\n");
            foreach (var turn in fitted.Context)
            {
                request.Append('[').Append(turn.Role).Append("] ").Append(turn.Text).Append('\n');
            }
        }

        request.Append("\nThe user's correction:\n").Append(fitted.Correction);
        return [new(ChatRole.System, SystemPrompt), new(ChatRole.User, request.ToString())];
    }

    /// <summary>Parses an answer; true only for a complete verdict within bounds.</summary>
    internal static bool TryParse(string answer, out ReplayVerdict verdict, out string reason)
    {
        verdict = null!;
        try
        {
            using var document = JsonDocument.Parse(answer.Trim().Trim('`').Replace("json\n", "", StringComparison.Ordinal));
            var root = document.RootElement;
            var prevented = root.GetProperty("prevented").GetBoolean();
            var confidence = root.GetProperty("confidence").GetDouble();
            var why = OneLine(root.GetProperty("reason").GetString() ?? "");
            if (confidence is < 0 or > 1 || double.IsNaN(confidence) || why.Length == 0)
            {
                reason = "confidence outside 0..1 or no reason";
                return false;
            }

            verdict = new ReplayVerdict(prevented, Math.Round(confidence, 2), Cut(Capture.InvisibleCharacters.Strip(SecretRedactor.Redact(why), out _), 300));
            reason = "";
            return true;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            reason = "not a JSON object with prevented, confidence and reason";
            return false;
        }
    }

    private static string OneLine(string text) => string.Join(' ', text.Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim())).Trim();

    private static string Cut(string text, int length) => IssuePrompt.Cut(text, length);
}
