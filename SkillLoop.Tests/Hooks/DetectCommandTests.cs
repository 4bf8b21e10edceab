using System.Text.Json;
using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Tests.Hooks;

public sealed class DetectCommandTests
{
    private static Task<(int Code, string Out, string Err)> RunAsync(params string[] args) => RunAsync(new Dictionary<string, string>(), args);

    private static async Task<(int Code, string Out, string Err)> RunAsync(Dictionary<string, string> variables, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        using var home = new TempDir();
        var env = new ClientEnvironment(home.Root, home.Root, "/usr/local/bin/skillloop-client", variables);
        var code = await ClientApp.RunAsync(args, TextReader.Null, stdout, stderr, env);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Detect_prints_one_json_element_per_correction()
    {
        var (code, output, _) = await RunAsync("detect", HooksFixtures.Path("claude", "session.jsonl"), "--json", "--regex");

        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        var items = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(4, items.Count);
        var first = items[0];
        Assert.Equal(
            ["platform", "sessionId", "turnId", "text", "pattern", "skill"],
            first.EnumerateObject().Select(p => p.Name));
        Assert.Equal("claude", first.GetProperty("platform").GetString());
        Assert.Equal("7f3c2a10-5b1e-4c2d-9a8e-1f2e3d4c5b6a", first.GetProperty("sessionId").GetString());
        Assert.Equal("pdf", first.GetProperty("skill").GetString());
        Assert.Equal("不对，应该用 pypdf 而不是 PyPDF2", items[1].GetProperty("text").GetString());
        Assert.Contains("不对", output); // readable, not \u-escaped
    }

    [Fact]
    public async Task Detect_reports_null_skill_when_none_is_active()
    {
        using var dir = new TempDir();
        var path = dir.Write("t.jsonl",
            """{"type":"assistant","uuid":"a0","sessionId":"s1","message":{"id":"m0","role":"assistant","content":[{"type":"text","text":"Done."}]}}""" + "\n" +
            """{"type":"user","uuid":"u1","sessionId":"s1","message":{"role":"user","content":"you forgot the tests"}}""" + "\n");

        var (code, output, _) = await RunAsync("detect", path, "--platform", "claude", "--json");

        Assert.Equal(0, code);
        var item = Assert.Single(JsonDocument.Parse(output).RootElement.EnumerateArray());
        Assert.Equal(JsonValueKind.Null, item.GetProperty("skill").ValueKind);
        Assert.Equal("u1", item.GetProperty("turnId").GetString());
    }

    [Fact]
    public async Task Detect_of_a_missing_file_fails_with_a_message()
    {
        var (code, output, error) = await RunAsync("detect", "/nonexistent/x.jsonl", "--json");

        Assert.NotEqual(0, code);
        Assert.Equal("", output);
        Assert.Contains("no such transcript", error);
    }

    /// <summary>What the hook's worker would flag in the transcript, with the given weights.</summary>
    private static List<string> Expected(string path, DetectorModel model)
    {
        var read = new ClaudeTranscriptReader().Read(path, 0);
        var analysis = new SessionAnalyzer(new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), model)).Analyze(read.Turns, ActiveSkill.None);
        return [.. analysis.Corrections.Select(c => c.TurnId)];
    }

    private static List<string> TurnIds(string json) => [.. JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e => e.GetProperty("turnId").GetString()!)];

    [Fact]
    public async Task Detect_runs_the_hooks_learned_detector_unless_told_to_run_the_patterns_alone()
    {
        var path = HooksFixtures.Path("claude", "session.jsonl");
        Assert.False(DetectorModel.Shipped.IsRegexOnly);
        var variable = new Dictionary<string, string> { [DetectorChoice.Variable] = "regex" };

        var byDefault = await RunAsync("detect", path, "--json");
        var regex = await RunAsync("detect", path, "--json", "--regex");
        var byVariable = await RunAsync(variable, "detect", path, "--json");
        var text = await RunAsync("detect", path);
        var regexText = await RunAsync("detect", path, "--regex");
        var variableText = await RunAsync(variable, "detect", path);

        Assert.Equal(Expected(path, DetectorModel.Shipped), TurnIds(byDefault.Out));
        Assert.Equal(Expected(path, DetectorModel.RegexOnly), TurnIds(regex.Out));
        Assert.Equal(Expected(path, DetectorModel.RegexOnly), TurnIds(byVariable.Out));
        Assert.Contains($"(learned detector {DetectorModel.Shipped.Version})", text.Err);
        Assert.Contains("(the patterns alone)", regexText.Err);
        Assert.Contains("(the patterns alone)", variableText.Err);
    }

    [Fact]
    public async Task Detect_without_a_transcript_shows_the_regex_option_in_its_usage()
    {
        var (code, _, error) = await RunAsync("detect");

        Assert.Equal(64, code);
        Assert.Contains("[--regex]", error);
        Assert.DoesNotContain("--learned", error);
    }
}
