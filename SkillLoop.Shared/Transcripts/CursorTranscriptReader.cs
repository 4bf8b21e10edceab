using System.Text.Json;

namespace SkillLoop.Hooks.Transcripts;

/// <summary>
/// Reads Cursor agent transcripts (<c>~/.cursor/projects/&lt;slug&gt;/agent-transcripts/&lt;id&gt;/&lt;id&gt;.jsonl</c>):
/// <c>{"role":"user"|"assistant","message":{"content":[{"type":"text"|"tool_use",…}]}}</c>. What the user typed is
/// the <c>&lt;user_query&gt;</c> inside the text; lines carry no ids, so a turn's id is its byte offset.
/// </summary>
public sealed class CursorTranscriptReader : ITranscriptReader
{
    public string Platform => "cursor";

    private static ReadOnlySpan<byte> UserRole => "\"role\":\"user\""u8;
    private static ReadOnlySpan<byte> AssistantRole => "\"role\":\"assistant\""u8;

    // Cursor puts its own continuations under the user role too.
    private static readonly string[] InjectedQueries =
    [
        "The above subagent result is already visible to the user",
    ];

    public TranscriptRead Read(string path, long fromOffset, long untilOffset = long.MaxValue)
    {
        var turns = new List<ConversationTurn>();
        var skipped = 0;
        var sidechain = path.Replace('\\', '/').Contains("/subagents/", StringComparison.Ordinal);
        var end = JsonlScanner.Scan(path, fromOffset, (line, offset) =>
        {
            var user = line.IndexOf(UserRole) >= 0;
            if (!user && line.IndexOf(AssistantRole) < 0)
                return;
            try
            {
                var reader = new Utf8JsonReader(line);
                using var doc = JsonDocument.ParseValue(ref reader);
                var turn = Turn(doc.RootElement, $"cursor-{offset}", sidechain);
                if (turn is null)
                    skipped++;
                else
                    turns.Add(turn);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                skipped++;
            }
        }, untilOffset);
        return new TranscriptRead(Path.GetFileNameWithoutExtension(path), turns, fromOffset, end, skipped);
    }

    private static ConversationTurn? Turn(JsonElement root, string id, bool sidechain)
    {
        var role = root.Str("role");
        if (role is not ("user" or "assistant") || root.Obj("message") is not { } message
            || !message.TryGetProperty("content", out var content))
            return null;
        if (role == "user")
        {
            var raw = JsonHelpers.ContentText(content);
            var query = Between(raw, "<user_query>", "</user_query>");
            var text = (query ?? raw).Trim();
            var meta = query is null ? text.StartsWith('<') : InjectedQueries.Any(q => text.StartsWith(q, StringComparison.Ordinal));
            return new ConversationTurn(id, TurnRole.User, text, ParseTimestamp(Between(raw, "<timestamp>", "</timestamp>")))
            {
                IsMeta = meta,
                IsSidechain = sidechain,
            };
        }
        var tools = new List<ToolCall>();
        var skills = new List<SkillUse>();
        IEnumerable<JsonElement> blocks = content.ValueKind == JsonValueKind.Array ? content.EnumerateArray() : [];
        foreach (var block in blocks)
        {
            if (block.Str("type") != "tool_use")
                continue;
            tools.Add(new ToolCall(block.Str("id") ?? "", block.Str("name") ?? ""));
            if (block.TryGetProperty("input", out var input) && SkillPaths.Find(input.GetRawText()) is { } skill)
                skills.Add(skill);
        }
        return new ConversationTurn(id, TurnRole.Assistant, JsonHelpers.ContentText(content).Trim(), null)
        {
            IsSidechain = sidechain,
            ToolCalls = tools,
            Skills = skills,
        };
    }

    /// <summary>Cursor's prompt timestamp: "Thursday, Aug 6, 2026, 1:48 PM (UTC-5)" (offset also "+5:30" or absent).</summary>
    internal static DateTimeOffset? ParseTimestamp(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        var match = System.Text.RegularExpressions.Regex.Match(text,
            @"(?<date>[A-Z][a-z]{2,8} \d{1,2}, \d{4}, \d{1,2}:\d{2} [AP]M)\s*(\(UTC(?<sign>[+-])?(?<h>\d{1,2})?(:(?<m>\d{2}))?\))?");
        if (!match.Success || !DateTime.TryParseExact(match.Groups["date"].Value,
                ["MMM d, yyyy, h:mm tt", "MMMM d, yyyy, h:mm tt"], System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.None, out var local))
            return null;
        var offset = TimeSpan.Zero;
        if (match.Groups["h"].Success)
        {
            offset = new TimeSpan(int.Parse(match.Groups["h"].Value), match.Groups["m"].Success ? int.Parse(match.Groups["m"].Value) : 0, 0);
            if (match.Groups["sign"].Value == "-")
                offset = -offset;
        }
        return new DateTimeOffset(local, offset);
    }

    internal static string? Between(string text, string open, string close)
    {
        var start = text.IndexOf(open, StringComparison.Ordinal);
        if (start < 0)
            return null;
        start += open.Length;
        var end = text.IndexOf(close, start, StringComparison.Ordinal);
        return end < 0 ? text[start..] : text[start..end];
    }
}
