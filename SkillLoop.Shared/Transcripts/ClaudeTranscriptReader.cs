using System.Globalization;
using System.Text.Json;

namespace SkillLoop.Hooks.Transcripts;

/// <summary>
/// Reads Claude Code session transcripts (<c>~/.claude/projects/…/&lt;session&gt;.jsonl</c>, and sub-agent files whose
/// lines carry <c>isSidechain:true</c>). Lines that cannot hold a conversation turn are skipped on a byte search,
/// so only user and assistant lines are parsed; tool results (most of a transcript's bytes) are never parsed.
/// That byte search is a fast path for the compact JSON Claude Code writes: a line spaced differently
/// (<c>"type": "user"</c>) is parsed in full, and a file whose objects span several lines (pretty-printed, or a JSON
/// array) is read again as a sequence of JSON values, so JSON-equivalent input gives the same turns.
/// </summary>
public sealed class ClaudeTranscriptReader : ITranscriptReader
{
    public string Platform => "claude";

    public TranscriptRead Read(string path, long fromOffset, long untilOffset = long.MaxValue)
    {
        var state = new ReadState();
        var end = JsonlScanner.Scan(path, fromOffset, state.OnLine, untilOffset);
        var fast = new TranscriptRead(state.SessionId, state.Turns, fromOffset, end, state.Skipped);
        if (!state.PrettyPrinted)
            return fast;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        stream.Position = Math.Min(fromOffset, stream.Length);
        return ReadValues(stream, fromOffset, untilOffset) ?? fast;
    }

    public TranscriptRead Read(Stream stream, long fromOffset)
    {
        var start = stream.CanSeek ? stream.Position : -1;
        var state = new ReadState();
        var end = JsonlScanner.Scan(stream, fromOffset, state.OnLine);
        var fast = new TranscriptRead(state.SessionId, state.Turns, fromOffset, end, state.Skipped);
        if (!state.PrettyPrinted || start < 0)
            return fast;
        stream.Position = start;
        return ReadValues(stream, fromOffset, long.MaxValue) ?? fast;
    }

    /// <summary>
    /// The slow path for a transcript whose JSON objects span lines: every top-level value (an object, or an array of
    /// them) from the offset on, parsed in full. A value still being written is left for the next read. Null when not
    /// even one whole value was read (not JSON at all: the line-by-line reading stands).
    /// </summary>
    private static TranscriptRead? ReadValues(Stream stream, long fromOffset, long untilOffset)
    {
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        var bytes = memory.GetBuffer().AsSpan(0, (int)memory.Length);
        var state = new ReadState();
        var reader = new Utf8JsonReader(bytes, isFinalBlock: false, new JsonReaderState(new JsonReaderOptions
        {
            AllowMultipleValues = true,
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        }));
        long consumed = 0;
        try
        {
            while (reader.Read())
            {
                if (fromOffset + reader.TokenStartIndex >= untilOffset)
                    break;
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    var elements = new List<JsonDocument>();
                    var whole = false;
                    while (reader.Read())
                    {
                        if (reader.TokenType == JsonTokenType.EndArray)
                        {
                            whole = true;
                            break;
                        }
                        if (!JsonDocument.TryParseValue(ref reader, out var element))
                            break;
                        elements.Add(element);
                    }
                    if (!whole)
                    {
                        elements.ForEach(e => e.Dispose());
                        break; // the array is not finished yet
                    }
                    foreach (var element in elements)
                        using (element)
                            state.HandleValue(element.RootElement);
                }
                else
                {
                    if (!JsonDocument.TryParseValue(ref reader, out var document))
                        break;
                    using (document)
                        state.HandleValue(document.RootElement);
                }
                consumed = reader.BytesConsumed;
            }
        }
        catch (JsonException)
        {
            state.Skipped++; // not JSON from here on: what came before stands
        }
        // The line break after the last whole value is consumed too, so the next read starts at a value (or at nothing).
        while (consumed > 0 && consumed < bytes.Length && bytes[(int)consumed] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            consumed++;
        return consumed == 0 ? null : new TranscriptRead(state.SessionId, state.Turns, fromOffset, fromOffset + consumed, state.Skipped);
    }

    internal const string InterruptionMarker = "[Request interrupted by user";
    internal const string SkillBaseDirectoryMarker = "Base directory for this skill:";

    // Claude Code writes compact JSON, and inside string values quotes are escaped, so these byte sequences can only
    // be structure, never typed text.
    private static ReadOnlySpan<byte> ToolResultMarker => "\"type\":\"tool_result\""u8;
    private static ReadOnlySpan<byte> UserMarker => "\"type\":\"user\""u8;
    private static ReadOnlySpan<byte> AssistantMarker => "\"type\":\"assistant\""u8;
    private static ReadOnlySpan<byte> ProgressMarker => "\"type\":\"progress\""u8;
    private static ReadOnlySpan<byte> TypeKey => "\"type\""u8;
    private static ReadOnlySpan<byte> CompactTypeKey => "\"type\":\""u8;

    // Built-in slash commands are not skills.
    private static readonly HashSet<string> BuiltInCommands = new(StringComparer.OrdinalIgnoreCase)
    {
        "add-dir", "agents", "bashes", "bug", "clear", "compact", "config", "context", "cost", "doctor", "exit",
        "export", "help", "hooks", "ide", "init", "install-github-app", "login", "logout", "mcp", "memory", "model",
        "output-style", "permissions", "plugin", "pr-comments", "privacy-settings", "release-notes", "resume",
        "rewind", "security-review", "status", "statusline", "terminal-setup", "todos", "upgrade", "usage", "vim",
    };

    // User-role text the harness writes; never something a person typed.
    private static readonly string[] HarnessPrefixes =
    [
        "<command-name>", "<command-message>", "<command-args>", "<local-command-stdout>", "<local-command-stderr>",
        "<local-command-caveat>", "<bash-input>", "<bash-stdout>", "<bash-stderr>", "<system-reminder>",
        "<task-notification>", "<user-memory-input>", "Caveat: The messages below were generated by the user",
        "This session is being continued from a previous conversation", "Stop hook feedback:",
        SkillBaseDirectoryMarker,
    ];

    private sealed class ReadState
    {
        public readonly List<ConversationTurn> Turns = [];
        public int Skipped;
        public string? SessionId;
        // Assistant messages streamed over several lines share message.id: merge them into the first turn.
        private readonly Dictionary<string, int> _assistantIndexByMessageId = new(StringComparer.Ordinal);

        /// <summary>Lines that are not a whole JSON object: the file is pretty-printed and is read again as JSON values.</summary>
        public int Fragments;

        /// <summary>Lines that are a whole JSON object (any of them: the file is JSONL, broken lines are just broken).</summary>
        public int Objects;

        /// <summary>Whether the file looked pretty-printed: no line held a whole object, some held a part of one.</summary>
        public bool PrettyPrinted => Fragments > 0 && Objects == 0;

        public void HandleValue(JsonElement root)
        {
            try
            {
                if (!Handle(root))
                    Skipped++;
            }
            catch (InvalidOperationException)
            {
                Skipped++;
            }
        }

        public void OnLine(ReadOnlySpan<byte> line, long offset)
        {
            var trimmed = line.Trim(" \t"u8);
            if (trimmed.IsEmpty)
                return;
            if (trimmed[0] == (byte)'{' && trimmed[^1] == (byte)'}')
                Objects++;
            else
                Fragments++;
            if (line.IndexOf(ToolResultMarker) >= 0 || line.IndexOf(ProgressMarker) >= 0)
                return; // tool results and hook progress: never a human turn
            var isUser = line.IndexOf(UserMarker) >= 0;
            // The markers only fit compact JSON: a line that spells "type" otherwise ("type": "user") is parsed in full.
            if (!isUser && line.IndexOf(AssistantMarker) < 0 && (line.IndexOf(CompactTypeKey) >= 0 || line.IndexOf(TypeKey) < 0))
                return; // snapshots, summaries, system lines
            try
            {
                var reader = new Utf8JsonReader(line);
                using var doc = JsonDocument.ParseValue(ref reader);
                if (!Handle(doc.RootElement))
                    Skipped++;
            }
            catch (JsonException)
            {
                Skipped++;
            }
            catch (InvalidOperationException)
            {
                Skipped++; // a property of an unexpected kind
            }
        }

        public bool Handle(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object)
                return false;
            var type = Str(root, "type");
            if (type is not ("user" or "assistant"))
                return true; // a known line kind we have no use for
            if (!root.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
                return false;
            SessionId ??= Str(root, "sessionId");
            var uuid = Str(root, "uuid") ?? $"line-{Turns.Count}";
            var timestamp = Time(root);
            var sidechain = Bool(root, "isSidechain");
            return type == "user"
                ? HandleUser(root, message, uuid, timestamp, sidechain)
                : HandleAssistant(message, uuid, timestamp, sidechain);
        }

        private bool HandleUser(JsonElement root, JsonElement message, string uuid, DateTimeOffset? time, bool sidechain)
        {
            if (!message.TryGetProperty("content", out var content))
                return false;
            string text;
            if (content.ValueKind == JsonValueKind.String)
            {
                text = content.GetString() ?? "";
            }
            else if (content.ValueKind == JsonValueKind.Array)
            {
                var parts = new List<string>();
                foreach (var block in content.EnumerateArray())
                {
                    var blockType = Str(block, "type");
                    if (blockType == "tool_result")
                        return true; // a tool's answer, not the user
                    if (blockType == "text" && Str(block, "text") is { } t)
                        parts.Add(t);
                }
                text = string.Join("\n", parts);
            }
            else
            {
                return false;
            }

            text = text.Trim();
            var meta = Bool(root, "isMeta") || IsHarnessText(text);
            var interruption = text.StartsWith(InterruptionMarker, StringComparison.Ordinal);
            var skills = SkillsInUserText(text);
            Turns.Add(new ConversationTurn(uuid, TurnRole.User, text, time)
            {
                IsSidechain = sidechain,
                IsMeta = meta,
                IsInterruption = interruption,
                Skills = skills,
            });
            return true;
        }

        private bool HandleAssistant(JsonElement message, string uuid, DateTimeOffset? time, bool sidechain)
        {
            if (!message.TryGetProperty("content", out var content))
                return false;
            var text = new List<string>();
            var tools = new List<ToolCall>();
            var skills = new List<SkillUse>();
            if (content.ValueKind == JsonValueKind.String)
            {
                text.Add(content.GetString() ?? "");
            }
            else if (content.ValueKind == JsonValueKind.Array)
            {
                foreach (var block in content.EnumerateArray())
                {
                    switch (Str(block, "type"))
                    {
                        case "text" when Str(block, "text") is { } t:
                            text.Add(t);
                            break;
                        case "tool_use":
                            var name = Str(block, "name") ?? "";
                            tools.Add(new ToolCall(Str(block, "id") ?? "", name));
                            if (name == "Skill" && block.TryGetProperty("input", out var input)
                                && (Str(input, "skill") ?? Str(input, "command")) is { Length: > 0 } skill)
                                skills.Add(new SkillUse(skill.TrimStart('/'), null));
                            break;
                    }
                }
            }

            var joined = string.Join("\n", text.Select(t => t.Trim()).Where(t => t.Length > 0));
            var messageId = Str(message, "id");
            if (messageId is not null && _assistantIndexByMessageId.TryGetValue(messageId, out var index))
            {
                var first = Turns[index];
                Turns[index] = first with
                {
                    Text = joined.Length == 0 ? first.Text : first.Text.Length == 0 ? joined : first.Text + "\n" + joined,
                    ToolCalls = [.. first.ToolCalls, .. tools],
                    Skills = [.. first.Skills, .. skills],
                };
                return true;
            }
            if (messageId is not null)
                _assistantIndexByMessageId[messageId] = Turns.Count;
            Turns.Add(new ConversationTurn(uuid, TurnRole.Assistant, joined, time)
            {
                IsSidechain = sidechain,
                ToolCalls = tools,
                Skills = skills,
            });
            return true;
        }
    }

    internal static bool IsHarnessText(string text)
    {
        foreach (var prefix in HarnessPrefixes)
            if (text.StartsWith(prefix, StringComparison.Ordinal))
                return true;
        return false;
    }

    private static IReadOnlyList<SkillUse> SkillsInUserText(string text)
    {
        var command = Between(text, "<command-name>", "</command-name>");
        if (command is not null)
        {
            var name = command.Trim().TrimStart('/');
            return name.Length == 0 || BuiltInCommands.Contains(name) ? [] : [new SkillUse(name, null)];
        }
        if (text.StartsWith(SkillBaseDirectoryMarker, StringComparison.Ordinal))
        {
            var rest = text[SkillBaseDirectoryMarker.Length..];
            var newline = rest.IndexOf('\n');
            var dir = (newline < 0 ? rest : rest[..newline]).Trim();
            if (dir.StartsWith("file://", StringComparison.Ordinal))
                dir = dir["file://".Length..];
            return dir.Length == 0 ? [] : [new SkillUse(null, dir)];
        }
        return [];
    }

    private static string? Between(string text, string open, string close)
    {
        var start = text.IndexOf(open, StringComparison.Ordinal);
        if (start < 0)
            return null;
        start += open.Length;
        var end = text.IndexOf(close, start, StringComparison.Ordinal);
        return end < 0 ? null : text[start..end];
    }

    internal static string? Str(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    internal static bool Bool(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            && value.ValueKind == JsonValueKind.True;

    internal static DateTimeOffset? Time(JsonElement element, string name = "timestamp") =>
        Str(element, name) is { } s
            && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            ? t
            : null;
}
