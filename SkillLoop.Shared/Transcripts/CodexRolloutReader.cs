using System.Text.Json;

namespace SkillLoop.Hooks.Transcripts;

/// <summary>
/// Reads Codex CLI rollouts (<c>~/.codex/sessions/…/rollout-*.jsonl</c>): <c>session_meta</c>, <c>response_item</c>
/// and <c>event_msg</c> lines. What the user typed is recorded more than once, in shapes that changed over versions:
/// a <c>response_item</c> user message (next to AGENTS.md and environment context the harness injects under the same
/// role), an <c>event_msg</c> <c>user_message</c> (until about 0.148) and an <c>event_msg</c> <c>item_completed</c> whose
/// item is a <c>UserMessage</c> (since). All are read, and the same words repeated within one turn (before the agent
/// answers) count once, so old and new rollouts give the same turns. Lines carry no ids, so a turn's id is the byte
/// offset of its first record, stable across reads.
/// </summary>
public sealed class CodexRolloutReader : ITranscriptReader
{
    public string Platform => "codex";

    private static ReadOnlySpan<byte> UserMessage => "\"user_message\""u8;
    private static ReadOnlySpan<byte> UserMessageItem => "\"UserMessage\""u8;
    private static ReadOnlySpan<byte> UserRole => "\"role\":\"user\""u8;
    private static ReadOnlySpan<byte> SessionMeta => "\"session_meta\""u8;
    private static ReadOnlySpan<byte> TurnAborted => "\"turn_aborted\""u8;
    private static ReadOnlySpan<byte> AssistantRole => "\"role\":\"assistant\""u8;
    private static ReadOnlySpan<byte> FunctionCall => "\"function_call\""u8;
    private static ReadOnlySpan<byte> LocalShellCall => "\"local_shell_call\""u8;

    // User-role text Codex itself writes (its own check is "contextual user message").
    private static readonly string[] HarnessPrefixes =
    [
        "# AGENTS.md instructions", "<environment_context>", "<user_instructions>", "<INSTRUCTIONS>", "<skill>",
        "<skill ", "<user_shell_command>", "<turn_aborted>", "<subagent_notification>", "<permissions instructions>",
        "<collaboration_mode>", "<skills_instructions>", "<apps_instructions>",
    ];

    public TranscriptRead Read(string path, long fromOffset, long untilOffset = long.MaxValue)
    {
        var state = new State();
        var end = JsonlScanner.Scan(path, fromOffset, state.OnLine, untilOffset);
        return new TranscriptRead(state.SessionId, state.Turns, fromOffset, end, state.Skipped);
    }

    internal static bool IsHarnessText(string text)
    {
        foreach (var prefix in HarnessPrefixes)
            if (text.StartsWith(prefix, StringComparison.Ordinal))
                return true;
        return false;
    }

    private sealed class State
    {
        public readonly List<ConversationTurn> Turns = [];
        public int Skipped;
        public string? SessionId;

        // The last human turn since the agent last spoke, to count a turn recorded in two shapes once.
        private string? _lastUserText;
        private string? _lastUserTurnId;

        public void OnLine(ReadOnlySpan<byte> line, long offset)
        {
            if (line.IndexOf(UserMessage) < 0 && line.IndexOf(UserMessageItem) < 0 && line.IndexOf(UserRole) < 0
                && line.IndexOf(SessionMeta) < 0 && line.IndexOf(TurnAborted) < 0
                && line.IndexOf(AssistantRole) < 0 && line.IndexOf(FunctionCall) < 0 && line.IndexOf(LocalShellCall) < 0)
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

        private void AddUser(string id, string text, string? turnId, DateTimeOffset? time)
        {
            text = text.Trim();
            if (text.Length == 0 || IsHarnessText(text))
                return;
            if (_lastUserText == text && (turnId is null || _lastUserTurnId is null || turnId == _lastUserTurnId))
            {
                _lastUserTurnId ??= turnId;
                return; // the same words in another record kind
            }
            _lastUserText = text;
            _lastUserTurnId = turnId;
            Turns.Add(new ConversationTurn(id, TurnRole.User, text, time));
        }

        private void AddAgent(ConversationTurn turn)
        {
            _lastUserText = null;
            _lastUserTurnId = null;
            Turns.Add(turn);
        }

        private bool Handle(JsonElement root, long offset)
        {
            if (root.ValueKind != JsonValueKind.Object || root.Obj("payload") is not { } payload)
                return false;
            var id = $"codex-{offset}";
            var time = root.Time("timestamp");
            switch (root.Str("type"), payload.Str("type"))
            {
                case ("session_meta", _):
                    SessionId ??= payload.Str("id") ?? payload.Str("session_id");
                    return true;
                case ("event_msg", "user_message"):
                    AddUser(id, payload.Str("message") ?? "", payload.Str("turn_id"), time);
                    return true;
                case ("event_msg", "item_completed") when payload.Obj("item") is { } item && item.Str("type") == "UserMessage":
                    AddUser(id, ItemText(item), payload.Str("turn_id"), time);
                    return true;
                case ("response_item", "message") when payload.Str("role") == "user":
                    if (IsHarnessProvenance(payload))
                        return true;
                    AddUser(id, payload.TryGetProperty("content", out var userContent) ? JsonHelpers.ContentText(userContent) : "",
                        payload.Obj("internal_chat_message_metadata_passthrough")?.Str("turn_id"), time);
                    return true;
                case ("event_msg", "turn_aborted"):
                    AddAgent(new ConversationTurn(id, TurnRole.User, payload.Str("reason") ?? "interrupted", time) { IsInterruption = true });
                    return true;
                case ("response_item", "message") when payload.Str("role") == "assistant":
                    var text = payload.TryGetProperty("content", out var content) ? JsonHelpers.ContentText(content).Trim() : "";
                    AddAgent(new ConversationTurn(id, TurnRole.Assistant, text, time));
                    return true;
                case ("response_item", "function_call" or "local_shell_call" or "custom_tool_call"):
                    var arguments = payload.Str("arguments") ?? payload.Str("input")
                        ?? (payload.TryGetProperty("action", out var action) ? action.GetRawText() : "");
                    // Codex uses a skill by reading its SKILL.md.
                    IReadOnlyList<SkillUse> skills = SkillPaths.Find(arguments) is { } skill ? [skill] : [];
                    AddAgent(new ConversationTurn(id, TurnRole.Assistant, "", time)
                    {
                        IsMeta = true,
                        ToolCalls = [new ToolCall(payload.Str("call_id") ?? "", payload.Str("name") ?? payload.Str("type") ?? "")],
                        Skills = skills,
                    });
                    return true;
                default:
                    return true;
            }
        }

        /// <summary>Text blocks of an <c>item_completed</c> UserMessage: <c>[{"type":"text","text":…}]</c>.</summary>
        private static string ItemText(JsonElement item)
        {
            if (!item.TryGetProperty("content", out var content))
                return "";
            if (content.ValueKind != JsonValueKind.Array)
                return JsonHelpers.ContentText(content);
            var parts = new List<string>();
            foreach (var block in content.EnumerateArray())
                if (block.Str("type") is "text" or "Text" or "input_text" && block.Str("text") is { } t)
                    parts.Add(t);
            return string.Join("\n", parts);
        }

        /// <summary>Since about 0.171 each user-role item says who wrote it; "harness" is Codex, not the person.</summary>
        private static bool IsHarnessProvenance(JsonElement payload)
        {
            if (payload.Obj("internal_chat_message_metadata_passthrough") is not { } meta)
                return false;
            var any = false;
            foreach (var item in meta.Arr("content_item_metadata"))
            {
                if (item.Obj("provenance")?.Str("type") is not { } kind)
                    return false;
                if (kind != "harness")
                    return false;
                any = true;
            }
            return any;
        }
    }
}
