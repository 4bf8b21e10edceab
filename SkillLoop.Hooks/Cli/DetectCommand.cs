using System.Text.Json;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Hooks.Cli;

/// <summary>
/// <c>detect &lt;transcript&gt; [--platform auto|…] [--json]</c>: an offline dry run over one transcript with the built-in
/// patterns. Nothing is sent anywhere.
/// </summary>
public static class DetectCommand
{
    public static int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.At(1);
        if (path is null)
        {
            stderr.WriteLine("usage: skillloop-client detect <transcript> [--platform auto|claude|copilot|vscode|codex|cursor|cline] [--json] [--learned]");
            return 64;
        }
        if (!File.Exists(path))
        {
            stderr.WriteLine($"skillloop-client: no such transcript: {path}");
            return 66;
        }
        var platform = args.Option("platform") ?? "auto";
        if (platform == "auto")
            platform = TranscriptReaders.Sniff(path);
        var reader = TranscriptReaders.For(platform);
        if (reader is null)
        {
            stderr.WriteLine($"skillloop-client: unknown platform '{platform}'");
            return 64;
        }

        var read = reader.Read(path, 0);
        // --learned: the two-stage detector the hook uses; without it, the built-in patterns alone (the documented dry run).
        var patterns = new CorrectionDetector(DefaultPatterns.All);
        var analysis = (args.Flag("learned") ? new SessionAnalyzer(new TwoStageDetector(patterns)) : new SessionAnalyzer(patterns))
            .Analyze(read.Turns, ActiveSkill.None);
        var sessionId = read.SessionId ?? Path.GetFileNameWithoutExtension(path);
        var output = analysis.Corrections
            .Select(c => new DetectOutput(platform, sessionId, c.TurnId, c.Text, c.Pattern, c.Skill))
            .ToList();

        if (args.Flag("json"))
        {
            stdout.WriteLine(JsonSerializer.Serialize(output, ClientJsonContext.Readable.ListDetectOutput));
        }
        else
        {
            foreach (var c in output)
                stdout.WriteLine($"{c.TurnId}\t{c.Pattern}\t{c.Skill ?? "-"}\t{c.Text.ReplaceLineEndings(" ")}");
            stderr.WriteLine($"{output.Count} correction(s) in {analysis.Turns.Count} human turn(s); {read.SkippedLines} line(s) skipped");
        }
        return 0;
    }
}
