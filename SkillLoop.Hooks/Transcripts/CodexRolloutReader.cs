using System.Text.Json;

namespace SkillLoop.Hooks.Transcripts;

/// <summary>
/// Reads Codex CLI rollouts (<c>~/.codex/sessions/…/rollout-*.jsonl</c>): <c>session_meta</c>, <c>response_item</c>
/// and <c>event_msg</c> lines. What the user typed is recorded twice, as a <c>response_item</c> user message (next to
/// AGENTS.md and environment context the harness injects under the same role) and as an <c>event_msg</c>
/// <c>user_message</c>; only the latter is taken, so every turn counts once. Lines carry no ids, so a turn's id is
/// its byte offset, stable across reads.
/// </summary>
public sealed class CodexRolloutReader : ITranscriptReader
{
    public string Platform => "codex";

    private static ReadOnlySpan<byte> UserMessage => "\"user_message\""u8;
    private static ReadOnlySpan<byte> SessionMeta => "\"session_meta\""u8;
    private static ReadOnlySpan<byte> TurnAborted => "\"turn_aborted\""u8;
    private static ReadOnlySpan<byte> AssistantRole => "\"role\":\"assistant\""u8;
    private static ReadOnlySpan<byte> FunctionCall => "\"function_call\""u8;
    private static ReadOnlySpan<byte> LocalShellCall => "\"local_shell_call\""u8;

    public TranscriptRead Read(string path, long fromOffset)
    {
        var state = new State();
        var end = JsonlScanner.Scan(path, fromOffset, state.OnLine);
        return new TranscriptRead(state.SessionId, state.Turns, fromOffset, end, state.Skipped);
    }

    private sealed class State
    {
        public readonly List<ConversationTurn> Turns = [];
        public int Skipped;
        public string? SessionId;

        public void OnLine(ReadOnlySpan<byte> line, long offset)
        {
            if (line.IndexOf(UserMessage) < 0 && line.IndexOf(SessionMeta) < 0 && line.IndexOf(TurnAborted) < 0
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

        private bool Handle(JsonElement root, long offset)
        {
            if (root.ValueKind != JsonValueKind.Object || root.Obj("payload") is not { } payload)
                return false;
            var id = $"codex-{offset}";
            var time = root.Time("timestamp");
            switch (root.Str("type"), payload.Str("type"))
            {
                case ("session_meta", _):
                    SessionId ??= payload.Str("id");
                    return true;
                case ("event_msg", "user_message"):
                    Turns.Add(new ConversationTurn(id, TurnRole.User, (payload.Str("message") ?? "").Trim(), time));
                    return true;
                case ("event_msg", "turn_aborted"):
                    Turns.Add(new ConversationTurn(id, TurnRole.User, payload.Str("reason") ?? "interrupted", time) { IsInterruption = true });
                    return true;
                case ("response_item", "message") when payload.Str("role") == "assistant":
                    var text = payload.TryGetProperty("content", out var content) ? JsonHelpers.ContentText(content).Trim() : "";
                    Turns.Add(new ConversationTurn(id, TurnRole.Assistant, text, time));
                    return true;
                case ("response_item", "function_call" or "local_shell_call" or "custom_tool_call"):
                    var arguments = payload.Str("arguments") ?? payload.Str("input")
                        ?? (payload.TryGetProperty("action", out var action) ? action.GetRawText() : "");
                    // Codex uses a skill by reading its SKILL.md.
                    IReadOnlyList<SkillUse> skills = SkillPaths.Find(arguments) is { } skill ? [skill] : [];
                    Turns.Add(new ConversationTurn(id, TurnRole.Assistant, "", time)
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
    }
}
