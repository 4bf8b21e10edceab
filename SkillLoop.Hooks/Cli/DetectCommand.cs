using System.Text.Json;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Hooks.Cli;

/// <summary>
/// <c>detect &lt;transcript&gt; [--platform auto|…] [--json] [--regex]</c>: an offline dry run over one transcript with the
/// detector the hook runs (the learned one; <c>--regex</c> or <c>SKILLLOOP_DETECTOR=regex</c> for the built-in patterns
/// alone, as <see cref="DetectorChoice"/> decides for the hook). Nothing is sent anywhere.
/// </summary>
public static class DetectCommand
{
    public const string Usage = "usage: skillloop-client detect <transcript> [--platform auto|claude|copilot|vscode|codex|cursor|cline] [--json] [--regex]";

    public static int Run(Arguments args, TextWriter stdout, TextWriter stderr, ClientEnvironment env)
    {
        var path = args.At(1);
        if (path is null)
        {
            stderr.WriteLine(Usage);
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
        // The same detector the hook's worker runs, so a dry run shows what would be sent. --learned is still accepted
        // (it was needed before the learned detector became the default) and changes nothing.
        var model = args.Flag("regex") ? DetectorModel.RegexOnly : DetectorChoice.For(env);
        var analysis = new SessionAnalyzer(new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), model))
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
            var detector = model.IsRegexOnly ? "the patterns alone" : $"learned detector {model.Version}";
            stderr.WriteLine($"{output.Count} correction(s) in {analysis.Turns.Count} human turn(s) ({detector}); {read.SkippedLines} line(s) skipped");
        }
        return 0;
    }
}
