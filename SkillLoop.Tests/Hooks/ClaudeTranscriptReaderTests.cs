using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Tests.Hooks;

public sealed class ClaudeTranscriptReaderTests
{
    private static readonly string Session = HooksFixtures.Path("claude", "session.jsonl");
    private readonly ClaudeTranscriptReader _reader = new();

    [Fact]
    public void Assistant_messages_split_over_lines_are_merged()
    {
        var read = _reader.Read(Session, 0);

        var first = read.Turns.First(t => t.Role == TurnRole.Assistant);
        Assert.Equal("I'll use the pdf skill for this.", first.Text);
        Assert.Equal(["Skill"], first.ToolCalls.Select(c => c.Name));
        Assert.Equal("pdf", Assert.Single(first.Skills).Name);
        // Three lines share msg_A; the turn keeps the first line's uuid.
        Assert.Equal("00000000-0000-4000-8000-000000000003", first.Id);
    }

    [Fact]
    public void Tool_results_and_meta_lines_are_not_human_turns()
    {
        var read = _reader.Read(Session, 0);

        var human = read.Turns.Where(t => t.IsHuman).Select(t => t.Text).ToList();
        Assert.Equal(
        [
            "Convert report.md to a PDF please",
            "No, that's wrong: the page size should be A4, not Letter.",
            "不对，应该用 pypdf 而不是 PyPDF2",
            "no problem, thanks! looks great",
            "you forgot to check the tests folder",
            "why does it throw an error?",
            "Stop, undo that change",
        ], human);
        Assert.DoesNotContain(read.Turns, t => t.Text.StartsWith("Launching skill", StringComparison.Ordinal));
    }

    [Fact]
    public void Interruptions_are_signals_not_text()
    {
        var read = _reader.Read(Session, 0);

        var interruption = Assert.Single(read.Turns, t => t.IsInterruption);
        Assert.False(interruption.IsHuman);
        Assert.StartsWith("[Request interrupted by user", interruption.Text);
    }

    [Fact]
    public void Skills_come_from_the_skill_tool_slash_commands_and_base_directory_lines()
    {
        var read = _reader.Read(Session, 0);

        var uses = read.Turns.Where(t => !t.IsSidechain).SelectMany(t => t.Skills).ToList();
        Assert.Equal(
        [
            new SkillUse("pdf", null),
            new SkillUse(null, "/home/dev/.claude/skills/pdf"),
            new SkillUse("review-pr", null),
            new SkillUse(null, "/repo/.claude/skills/review-pr"),
        ], uses);
    }

    [Fact]
    public void Sidechain_turns_are_marked_and_never_human()
    {
        var main = _reader.Read(Session, 0);
        var agent = _reader.Read(HooksFixtures.Path("claude", "agent-a1b2c3.jsonl"), 0);

        Assert.Equal(2, main.Turns.Count(t => t.IsSidechain));
        Assert.All(agent.Turns, t => Assert.True(t.IsSidechain));
        Assert.DoesNotContain(agent.Turns, t => t.IsHuman);
        Assert.Equal(2, agent.Turns.Count); // the split assistant message is one turn; the tool result is none
    }

    [Fact]
    public void Broken_lines_are_counted_and_skipped()
    {
        var read = _reader.Read(Session, 0);

        Assert.Equal(2, read.SkippedLines);
        Assert.Equal("7f3c2a10-5b1e-4c2d-9a8e-1f2e3d4c5b6a", read.SessionId);
    }

    [Fact]
    public void A_partly_written_last_line_is_left_for_the_next_read()
    {
        var bytes = File.ReadAllBytes(Session);
        var lastNewline = Array.LastIndexOf(bytes, (byte)'\n');

        var read = _reader.Read(Session, 0);

        Assert.Equal(lastNewline + 1, read.EndOffset);
        Assert.DoesNotContain(read.Turns, t => t.Text.Contains("partial", StringComparison.Ordinal));
    }

    [Fact]
    public void Reading_from_an_offset_returns_only_later_lines()
    {
        using var dir = new TempDir();
        var line1 = """{"type":"user","uuid":"u1","sessionId":"s","message":{"role":"user","content":"first"}}""" + "\n";
        var line2 = """{"type":"user","uuid":"u2","sessionId":"s","message":{"role":"user","content":"second 第二"}}""" + "\n";
        var path = dir.Write("t.jsonl", line1 + line2);

        var read = _reader.Read(path, Encoding.UTF8.GetByteCount(line1));

        Assert.Equal(["second 第二"], read.Turns.Select(t => t.Text));
        Assert.Equal(new FileInfo(path).Length, read.EndOffset);
    }

    [Fact]
    public void Garbage_and_an_offset_past_the_end_never_throw()
    {
        using var dir = new TempDir();
        var path = dir.Write("g.jsonl", "\u0001\u0002 not json\n[1,2]\n\"type\":\"user\"\n{\"type\":\"user\"}\n");

        var read = _reader.Read(path, 0);
        var past = _reader.Read(path, 10_000);

        Assert.Empty(read.Turns);
        Assert.Equal(2, read.SkippedLines); // the two lines that look like user lines but are not
        Assert.Equal(10_000, past.EndOffset);
        Assert.Empty(past.Turns);
    }

    [Fact]
    public void A_line_longer_than_the_read_buffer_is_read_whole()
    {
        using var dir = new TempDir();
        var big = new string('x', 3 << 20);
        var path = dir.Write("big.jsonl",
            "{\"type\":\"user\",\"uuid\":\"u1\",\"message\":{\"role\":\"user\",\"content\":\"" + big + " you forgot\"}}\n");

        var read = _reader.Read(path, 0);

        Assert.EndsWith("you forgot", Assert.Single(read.Turns).Text);
    }

    /// <summary>The fixture's whole lines, each re-serialised indented (the broken and partial lines left out).</summary>
    private static List<string> IndentedLines() =>
    [
        .. File.ReadAllLines(Session).Select(line =>
        {
            try
            {
                return JsonNode.Parse(line)?.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            }
            catch (JsonException)
            {
                return null;
            }
        }).OfType<string>(),
    ];

    private List<string> HumanTurns(string path) => [.. _reader.Read(path, 0).Turns.Where(t => t.IsHuman).Select(t => t.Text)];

    [Fact]
    public void Lines_with_spaces_after_the_colons_give_the_same_turns_as_compact_ones()
    {
        using var dir = new TempDir();
        // One object per line, as JSONL, but spaced: "type": "user".
        var spaced = IndentedLines().Select(l => Regex.Replace(l, @"\r?\n\s*", " "));
        var path = dir.Write("spaced.jsonl", string.Join("\n", spaced) + "\n");

        var read = _reader.Read(path, 0);

        Assert.Contains("\"type\": \"user\"", File.ReadAllText(path), StringComparison.Ordinal);
        Assert.Equal(HumanTurns(Session), HumanTurns(path));
        Assert.Equal(7, read.Turns.Count(t => t.IsHuman));
        Assert.Equal("7f3c2a10-5b1e-4c2d-9a8e-1f2e3d4c5b6a", read.SessionId);
        Assert.Equal(new FileInfo(path).Length, read.EndOffset);
    }

    [Fact]
    public void A_pretty_printed_transcript_gives_the_same_turns_as_the_compact_one()
    {
        using var dir = new TempDir();
        var pretty = dir.Write("pretty.jsonl", string.Join("\n", IndentedLines()) + "\n");
        var array = dir.Write("array.json", "[\n" + string.Join(",\n", IndentedLines()) + "\n]\n");

        var read = _reader.Read(pretty, 0);

        Assert.Equal(HumanTurns(Session), HumanTurns(pretty));
        Assert.Equal(HumanTurns(Session), HumanTurns(array));
        Assert.Equal("claude", TranscriptReaders.Sniff(array)); // detect --platform auto: not Cline's JSON array
        Assert.Equal("claude", TranscriptReaders.Sniff(pretty));
        Assert.Equal(_reader.Read(Session, 0).Turns.Count(t => t.Role == TurnRole.Assistant), read.Turns.Count(t => t.Role == TurnRole.Assistant));
        Assert.Equal(new FileInfo(pretty).Length, read.EndOffset);
    }

    [Fact]
    public void A_pretty_printed_object_still_being_written_is_left_for_the_next_read()
    {
        using var dir = new TempDir();
        var whole = string.Join("\n", IndentedLines()) + "\n";
        var unfinished = "{\n  \"type\": \"user\",\n  \"message\": {\n    \"role\": \"user\",\n    \"content\": \"half writ\n";
        var path = dir.Write("growing.jsonl", whole + unfinished);

        var read = _reader.Read(path, 0);

        Assert.Equal(HumanTurns(Session), [.. read.Turns.Where(t => t.IsHuman).Select(t => t.Text)]);
        Assert.True(read.EndOffset <= Encoding.UTF8.GetByteCount(whole), $"end {read.EndOffset}");
        Assert.True(read.EndOffset >= Encoding.UTF8.GetByteCount(whole.TrimEnd()), $"end {read.EndOffset}");
    }
}
