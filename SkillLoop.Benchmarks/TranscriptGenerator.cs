using System.Text;
using System.Text.Json;

namespace SkillLoop.Benchmarks;

/// <summary>
/// Writes a Claude Code transcript shaped like real ones: most bytes are tool results and split assistant
/// messages, with hook progress lines, skill loads, and a human turn (sometimes a correction) every few exchanges.
/// </summary>
internal static class TranscriptGenerator
{
    private static readonly string[] HumanTexts =
    [
        "Please add input validation to the signup form",
        "No, that's wrong: use the existing validator",
        "帮我把这个函数改成异步的",
        "不对，应该返回 404 而不是 500",
        "you forgot to update the tests",
        "looks good, thanks",
        "Now deploy it to staging",
        "why does it throw an error?",
    ];

    public static long Write(string path, long targetBytes)
    {
        var random = new Random(42);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var i = 0;
        var filler = new StringBuilder();
        while (stream.Length < targetBytes)
        {
            var uuid = $"00000000-0000-4000-8000-{i++:D12}";
            Line(stream, new
            {
                parentUuid = (string?)null, isSidechain = false, userType = "external", cwd = "/work/app",
                sessionId = "bench-session", version = "2.0.76", gitBranch = "main", type = "user",
                message = new { role = "user", content = HumanTexts[random.Next(HumanTexts.Length)] },
                uuid, timestamp = "2026-01-02T19:18:31.028Z",
            });
            if (i % 50 == 0)
                Line(stream, new
                {
                    type = "user", isMeta = true, uuid = uuid + "m", sessionId = "bench-session",
                    message = new { role = "user", content = new[] { new { type = "text", text = "Base directory for this skill: /home/dev/.claude/skills/skill" + (i % 7) } } },
                });
            for (var exchange = 0; exchange < 4; exchange++)
            {
                var messageId = $"msg_{i}_{exchange}";
                Line(stream, Assistant(messageId, uuid + "a" + exchange, new { type = "thinking", thinking = Words(random, 40), signature = new string('s', 300) }));
                Line(stream, Assistant(messageId, uuid + "b" + exchange, new { type = "text", text = Words(random, 30) }));
                Line(stream, Assistant(messageId, uuid + "c" + exchange, new { type = "tool_use", id = "toolu_" + i + exchange, name = exchange == 0 && i % 40 == 0 ? "Skill" : "Bash", input = new { command = "cat src/file" + exchange + ".cs", skill = "skill" + (i % 5) } }));
                Line(stream, new
                {
                    parentUuid = uuid, isSidechain = false, type = "progress", uuid = uuid + "p" + exchange,
                    data = new { type = "hook_progress", hookEvent = "PostToolUse", command = "./hooks/capture.sh" },
                });
                filler.Clear();
                var size = random.Next(2_000, 30_000);
                while (filler.Length < size)
                    filler.Append("    public int Line").Append(filler.Length).Append(" => 42; // code\n");
                var result = filler.ToString();
                Line(stream, new
                {
                    parentUuid = uuid, isSidechain = false, type = "user", uuid = uuid + "r" + exchange,
                    message = new { role = "user", content = new[] { new { tool_use_id = "toolu_" + i + exchange, type = "tool_result", content = result, is_error = false } } },
                    toolUseResult = new { stdout = result, stderr = "", interrupted = false },
                });
            }
        }
        return stream.Length;
    }

    private static object Assistant(string messageId, string uuid, object block) => new
    {
        parentUuid = uuid, isSidechain = false, userType = "external", sessionId = "bench-session", type = "assistant",
        message = new { model = "claude-sonnet-4-5", id = messageId, type = "message", role = "assistant", content = new[] { block }, usage = new { input_tokens = 3, output_tokens = 9 } },
        uuid, timestamp = "2026-01-02T19:18:34.214Z",
    };

    private static string Words(Random random, int count)
    {
        string[] words = ["the", "parser", "should", "handle", "error", "file", "test", "async", "return", "value", "我们", "函数"];
        var sb = new StringBuilder();
        for (var i = 0; i < count; i++)
            sb.Append(words[random.Next(words.Length)]).Append(' ');
        return sb.ToString();
    }

    private static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static void Line(Stream stream, object value)
    {
        JsonSerializer.Serialize(stream, value, Options);
        stream.WriteByte((byte)'\n');
    }
}
