using System.Text.Json;

namespace SkillLoop.Hooks.Transcripts;

/// <summary>
/// Reads the event stream GitHub Copilot writes: Copilot CLI's <c>~/.copilot/session-state/&lt;id&gt;/events.jsonl</c>
/// and VS Code Copilot Chat's <c>GitHub.copilot-chat/transcripts/&lt;id&gt;.jsonl</c> share one format:
/// <c>{"type":"user.message","data":{"content":…},"id":…,"timestamp":…,"parentId":…}</c>, with <c>agentId</c> on
/// sub-agent events. The user's own words are <c>data.content</c>; <c>transformedContent</c> is what the harness
/// wrapped around them.
/// </summary>
public sealed class CopilotEventsReader(string platform = "copilot") : ITranscriptReader
{
    public string Platform => platform;

    private static ReadOnlySpan<byte> UserMessage => "\"user.message\""u8;
    private static ReadOnlySpan<byte> AssistantMessage => "\"assistant.message\""u8;
    private static ReadOnlySpan<byte> SkillInvoked => "\"skill.invoked\""u8;
    private static ReadOnlySpan<byte> Abort => "\"abort\""u8;
    private static ReadOnlySpan<byte> SessionStart => "\"session.start\""u8;

    public TranscriptRead Read(string path, long fromOffset, long untilOffset = long.MaxValue)
    {
        var state = new State();
        var end = JsonlScanner.Scan(path, fromOffset, state.OnLine, untilOffset);
        return new TranscriptRead(state.SessionId, state.Turns, fromOffset, end, state.Skipped);
    }

    private sealed class State
    {
        public readonly List<ConversationTurn> Turns = [];
        public int Skipped;
        public string? SessionId;
        private readonly Dictionary<string, int> _byMessageId = new(StringComparer.Ordinal);

        public void OnLine(ReadOnlySpan<byte> line, long offset)
        {
            // Tool executions and deltas dominate the bytes; only parse lines that can matter.
            if (line.IndexOf(UserMessage) < 0 && line.IndexOf(AssistantMessage) < 0 && line.IndexOf(SkillInvoked) < 0
                && line.IndexOf(Abort) < 0 && line.IndexOf(SessionStart) < 0)
                return;
            try
            {
                var reader = new Utf8JsonReader(line);
                using var doc = JsonDocument.ParseValue(ref reader);
                if (!Handle(doc.RootElement, offset))
                    Skipped++;
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                Skipped++;
            }
        }

        private bool Handle(JsonElement root, long offset)
        {
            if (root.ValueKind != JsonValueKind.Object || root.Str("type") is not { } type)
                return false;
            var data = root.Obj("data") ?? default;
            var id = root.Str("id") ?? $"offset-{offset}";
            var time = root.Time("timestamp");
            var sidechain = root.Str("agentId") is not null;
            switch (type)
            {
                case "session.start":
                    SessionId ??= data.Str("sessionId");
                    return true;
                case "user.message":
                    var text = (data.Str("content") ?? "").Trim();
                    Turns.Add(new ConversationTurn(id, TurnRole.User, text, time)
                    {
                        IsSidechain = sidechain,
                        IsMeta = data.Str("source") is "system" or "skill",
                    });
                    return true;
                case "assistant.message":
                    var tools = data.Arr("toolRequests")
                        .Select(t => new ToolCall(t.Str("toolCallId") ?? "", t.Str("name") ?? ""))
                        .ToList();
                    var content = (data.Str("content") ?? "").Trim();
                    if (data.Str("messageId") is { } messageId && _byMessageId.TryGetValue(messageId, out var index))
                    {
                        var first = Turns[index];
                        Turns[index] = first with
                        {
                            Text = string.Join("\n", new[] { first.Text, content }.Where(t => t.Length > 0)),
                            ToolCalls = [.. first.ToolCalls, .. tools],
                        };
                        return true;
                    }
                    if (data.Str("messageId") is { } newId)
                        _byMessageId[newId] = Turns.Count;
                    Turns.Add(new ConversationTurn(id, TurnRole.Assistant, content, time) { IsSidechain = sidechain, ToolCalls = tools });
                    return true;
                case "skill.invoked":
                    var name = data.Str("name");
                    var path = data.Str("path");
                    if (name is null && path is null)
                        return false;
                    // A skill file path (…/skills/x/SKILL.md) is reported as its folder, like Claude's base directory.
                    if (path is not null && Path.GetFileName(path).Equals("SKILL.md", StringComparison.OrdinalIgnoreCase))
                        path = Path.GetDirectoryName(path);
                    Turns.Add(new ConversationTurn(id, TurnRole.Assistant, "", time)
                    {
                        IsSidechain = sidechain,
                        IsMeta = true,
                        Skills = [new SkillUse(name ?? Path.GetFileName(path), path)],
                    });
                    return true;
                case "abort":
                    Turns.Add(new ConversationTurn(id, TurnRole.User, data.Str("reason") ?? "abort", time)
                    {
                        IsSidechain = sidechain,
                        IsInterruption = true,
                    });
                    return true;
                default:
                    return true; // a line that merely mentioned one of the markers
            }
        }
    }
}
