using System.Text.Json;

namespace SkillLoop.Hooks.Transcripts;

/// <summary>
/// Reads a Cline conversation: the extension's <c>tasks/&lt;task&gt;/api_conversation_history.json</c> (one JSON array of
/// API messages) and Cline 3's CLI <c>sessions/&lt;id&gt;/&lt;id&gt;.messages.json</c> (an object whose <c>messages</c> hold
/// the same text/tool_use/tool_result blocks, the person's words inside <c>&lt;user_input mode="…"&gt;</c>). Cline rewrites
/// either file whole. It is not a log, so the "offset" of this platform is the number of messages already read (not bytes),
/// and a file caught mid-rewrite (unparseable) simply yields nothing new. Under the user role Cline sends tool results,
/// environment details and its own notes; what the person wrote is inside <c>&lt;task&gt;</c>, <c>&lt;feedback&gt;</c>,
/// <c>&lt;answer&gt;</c> or <c>&lt;user_message&gt;</c>.
/// </summary>
public sealed class ClineHistoryReader : ITranscriptReader
{
    public string Platform => "cline";

    private static readonly string[] HumanTags = ["user_input", "task", "feedback", "answer", "user_message"];

    /// <summary>Skill tools: the extension's <c>use_skill</c>, Cline 3's <c>skills</c> <c>{"skill": NAME}</c>.</summary>
    private static readonly string[] SkillTools = ["use_skill", "skills", "skill", "Skill"];

    /// <param name="untilOffset">For this format a message index: messages from it on are left for a later read.</param>
    public TranscriptRead Read(string path, long fromOffset, long untilOffset = long.MaxValue)
    {
        var sessionId = Path.GetFileName(Path.GetDirectoryName(path));
        JsonDocument doc;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            doc = JsonDocument.Parse(stream);
        }
        catch (JsonException)
        {
            return new TranscriptRead(sessionId, [], fromOffset, fromOffset, 1);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("messages", out var inner))
            {
                // Cline 3: the file name is the session id; the object says it too.
                sessionId = root.Str("sessionId") ?? SessionIdOf(path) ?? sessionId;
                root = inner;
            }
            if (root.ValueKind != JsonValueKind.Array)
                return new TranscriptRead(sessionId, [], fromOffset, fromOffset, 1);
            var turns = new List<ConversationTurn>();
            var skipped = 0;
            var index = 0L;
            foreach (var message in root.EnumerateArray())
            {
                if (index >= untilOffset)
                    break;
                if (index++ < fromOffset)
                    continue;
                var id = $"cline-{index - 1}";
                var time = message.Time("ts");
                switch (message.Str("role"))
                {
                    case "user":
                        turns.AddRange(UserTurns(message, id, time));
                        break;
                    case "assistant":
                        turns.Add(AssistantTurn(message, id, time));
                        break;
                    default:
                        skipped++;
                        break;
                }
            }
            return new TranscriptRead(sessionId, turns, fromOffset, Math.Max(index, fromOffset), skipped);
        }
    }

    /// <summary>The messages just before a message index (the file is parsed whole anyway).</summary>
    public IReadOnlyList<ConversationTurn> ReadBefore(string path, long beforeOffset, int maxBytes) =>
        beforeOffset <= 0 ? [] : Read(path, Math.Max(0, beforeOffset - 16), beforeOffset).Turns;

    private const string MessagesSuffix = ".messages.json";

    private static string? SessionIdOf(string path)
    {
        var name = Path.GetFileName(path);
        return name.EndsWith(MessagesSuffix, StringComparison.Ordinal) ? name[..^MessagesSuffix.Length] : null;
    }

    /// <summary>The text inside <c>&lt;tag&gt;…&lt;/tag&gt;</c> or <c>&lt;tag attr="…"&gt;…&lt;/tag&gt;</c>.</summary>
    internal static string? InsideTag(string text, string tag)
    {
        var open = text.IndexOf("<" + tag, StringComparison.Ordinal);
        while (open >= 0)
        {
            var after = open + tag.Length + 1;
            if (after < text.Length && text[after] is '>' or ' ')
            {
                var close = text.IndexOf('>', after);
                if (close < 0)
                    return null;
                var end = text.IndexOf("</" + tag + ">", close + 1, StringComparison.Ordinal);
                return end < 0 ? null : text[(close + 1)..end];
            }
            open = text.IndexOf("<" + tag, after, StringComparison.Ordinal);
        }
        return null;
    }

    private static IEnumerable<ConversationTurn> UserTurns(JsonElement message, string id, DateTimeOffset? time)
    {
        var text = message.TryGetProperty("content", out var content) ? JsonHelpers.ContentText(content) : "";
        if (text.Contains("[TASK RESUMPTION]", StringComparison.Ordinal) || text.Contains("interrupted by user", StringComparison.OrdinalIgnoreCase))
            yield return new ConversationTurn(id + "-interrupt", TurnRole.User, "[TASK RESUMPTION]", time) { IsInterruption = true };
        var human = HumanTags
            .Select(tag => InsideTag(text, tag))
            .Where(t => t is not null)
            .Select(t => t!.Trim())
            .FirstOrDefault(t => t.Length > 0);
        yield return human is null
            ? new ConversationTurn(id, TurnRole.User, text.Trim(), time) { IsMeta = true }
            : new ConversationTurn(id, TurnRole.User, human, time);
    }

    private static ConversationTurn AssistantTurn(JsonElement message, string id, DateTimeOffset? time)
    {
        var tools = new List<ToolCall>();
        var skills = new List<SkillUse>();
        if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
        {
            foreach (var block in content.EnumerateArray())
            {
                if (block.Str("type") != "tool_use")
                    continue;
                var name = block.Str("name") ?? "";
                tools.Add(new ToolCall(block.Str("id") ?? "", name));
                var input = block.TryGetProperty("input", out var i) ? i : default;
                if (SkillTools.Contains(name) && (input.Str("skill_name") ?? input.Str("name") ?? input.Str("skill")) is { } skillName)
                    skills.Add(new SkillUse(skillName, null));
                else if (input.ValueKind == JsonValueKind.Object && SkillPaths.Find(input.GetRawText()) is { } skill)
                    skills.Add(skill);
            }
        }
        var text = content.ValueKind == JsonValueKind.Undefined ? "" : JsonHelpers.ContentText(content).Trim();
        // Older Cline writes tool calls as XML inside the text.
        if (skills.Count == 0 && SkillPaths.Find(text) is { } inText)
            skills.Add(inText);
        return new ConversationTurn(id, TurnRole.Assistant, text, time) { ToolCalls = tools, Skills = skills };
    }
}
