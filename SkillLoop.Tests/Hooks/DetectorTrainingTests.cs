using System.Text.Json;
using SkillLoop.Benchmarks.DetectorTraining;
using SkillLoop.Hooks.Detection;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Hooks;

public sealed class DetectorTrainingTests
{
    private static readonly string[] Corrections =
    [
        "no, that's wrong", "you broke the build", "that's not what I asked", "revert that", "still 404", "did you push?",
        "why did you delete the tests", "I didn't ask you to rename it", "same error", "this isn't markdown", "不对", "你改错了",
        "还是不行", "别改这个文件", "现在这个界面有点乱了", "没间距了", "you forgot the migration", "did you run the tests?",
    ];

    private static readonly string[] Others =
    [
        "add a login page", "yes, option 2", "thanks!", "continue", "what does this error mean?", "write a parser for dates",
        "帮我写一个登录页面", "好的，继续", "谢谢", "这个函数是做什么的？", "now add a README", "let's deploy to staging",
        "No.", "use the same style as the other pages", "可以，下一步", "how do I run it locally?", "great, commit it", "explain the cache",
    ];

    /// <summary>A small corpus in the corpus format: sessions of alternating requests and reactions, every split present.</summary>
    private static string WriteCorpus(TempDirectory dir)
    {
        var lines = new List<string>();
        for (var session = 0; session < 40; session++)
        {
            var name = $"test/repo:s{session}";
            for (var turn = 0; turn < 6; turn++)
            {
                var positive = (session + turn) % 3 == 1;
                var pool = positive ? Corrections : Others;
                var text = pool[(session * 7 + turn * 5) % pool.Length];
                var previous = turn == 0 ? "" : positive ? "Done! Everything is implemented." : "Shall I continue with the next step?";
                var lang = DetectorFeatures.CjkShare(text) > 0.2 ? "zh" : "en";
                lines.Add(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["id"] = $"{name}#{turn}", ["source"] = "test/repo", ["commit"] = new string('0', 40), ["path"] = $"s{session}",
                    ["licence"] = "MIT", ["session"] = name, ["turn"] = turn, ["lang"] = lang, ["previous"] = previous, ["text"] = text,
                    ["label"] = positive ? (turn % 2 == 0 ? "clear" : "mild") : "none", ["why"] = "test",
                    ["split"] = CorrectionsCorpus.SplitOf(name),
                }));
            }
        }

        Directory.CreateDirectory(dir.Combine("en"));
        File.WriteAllLines(dir.Combine("en", "test__repo.jsonl"), lines);
        return dir.Path;
    }

    [Fact]
    public void Training_twice_on_the_same_corpus_gives_identical_bytes()
    {
        using var dir = new TempDirectory();
        var rows = CorrectionsCorpus.Load([WriteCorpus(dir)]);

        var first = DetectorTrainer.Train(rows);
        var second = DetectorTrainer.Train(CorrectionsCorpus.Load([dir.Path]));

        Assert.Equal(first.Model, second.Model);
        Assert.Equal(first.Version, second.Version);
        Assert.Equal(first.ReportJson(), second.ReportJson());
    }

    [Fact]
    public void The_trained_model_scores_held_out_corrections_above_other_turns()
    {
        using var dir = new TempDirectory();
        var rows = CorrectionsCorpus.Load([WriteCorpus(dir)]);

        var result = DetectorTrainer.Train(rows);

        Assert.True(DetectorModel.TryRead(result.Model, out var model));
        Assert.Equal(result.Version, model.Version);
        var detector = new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), model);
        var test = rows.Where(r => r.Split == "test" && !r.Gated).ToList();
        var positives = test.Where(r => r.IsPositive).Average(r => detector.Detect(r.Text, DetectorTrainer.Context(r)).Score);
        var negatives = test.Where(r => !r.IsPositive).Average(r => detector.Detect(r.Text, DetectorTrainer.Context(r)).Score);
        Assert.True(positives > negatives + 0.2, $"corrections {positives:F2}, others {negatives:F2}");
    }

    [Fact]
    public void The_test_split_never_changes_the_weights_the_thresholds_or_the_settings()
    {
        using var dir = new TempDirectory();
        var rows = CorrectionsCorpus.Load([WriteCorpus(dir)]);
        Assert.Contains(rows, r => r.Split == "test");
        // Every test row relabelled and rewritten: nothing the trainer makes may move.
        var tampered = rows.Select(r => r.Split == "test" ? r with { Label = r.IsPositive ? "none" : "clear", Text = "不对 " + r.Text } : r).ToList();

        var clean = DetectorTrainer.Train(rows);
        var changed = DetectorTrainer.Train(tampered);

        Assert.Equal(clean.Model, changed.Model);
        Assert.Equal(clean.ReportJson(), changed.ReportJson());
    }

    [Fact]
    public void Settings_and_thresholds_come_from_out_of_fold_scores_over_train_and_dev_sessions()
    {
        using var dir = new TempDirectory();
        var rows = CorrectionsCorpus.Load([WriteCorpus(dir)]);

        var result = DetectorTrainer.Train(rows);

        Assert.Contains(result.Settings, DetectorTrainer.Grid);
        // Every train and dev row has an out-of-fold score, and every turn of a session is in the same fold.
        Assert.Equal(rows.Count(r => r.Split is "train" or "dev"), result.OutOfFoldScores.Count);
        Assert.DoesNotContain(result.OutOfFoldScores, s => s.Row.Split == "test");
        Assert.All(rows.GroupBy(r => r.Session), g => Assert.Single(g.Select(r => DetectorTrainer.FoldOf(r.Session)).Distinct()));
        Assert.True(rows.Select(r => DetectorTrainer.FoldOf(r.Session)).Distinct().Count() > 1);
        Assert.True(DetectorModel.TryRead(result.Model, out var model));
        foreach (var f in result.OutOfFold)
            Assert.Equal((float)f.Threshold, model.For(f.Lang).Threshold);
        using var report = JsonDocument.Parse(result.ReportJson());
        Assert.Equal(JsonValueKind.Object, report.RootElement.GetProperty("outOfFold").GetProperty("en").ValueKind);
        Assert.Equal(result.Settings.Epochs, report.RootElement.GetProperty("settings").GetProperty("epochs").GetInt32());
    }

    [Fact]
    public void The_threshold_is_the_highest_recall_at_the_target_precision_else_the_best_f1()
    {
        (double, bool)[] scored = [(0.9, true), (0.8, true), (0.7, false), (0.6, true), (0.5, true), (0.4, false), (0.3, false)];

        var strict = DetectorTrainer.ChooseThreshold(scored, 0.9);
        var loose = DetectorTrainer.ChooseThreshold(scored, 0.75);

        Assert.Equal(0.75, strict, 3); // 2 of 4 at precision 1.0; adding 0.7 drops it to 0.67
        Assert.Equal(0.45, loose, 3); // 4 of 4 at precision 0.8
        Assert.Equal(0.5, DetectorTrainer.ChooseThreshold([], 0.9));
    }

    [Fact]
    public void Several_corpus_directories_are_read_and_a_later_label_of_the_same_turn_wins()
    {
        using var corpus = new TempDirectory();
        using var triage = new TempDirectory();
        WriteCorpus(corpus);
        var relabelled = CorrectionsCorpus.Load([corpus.Path]).First(r => r.Label == "none");
        File.WriteAllText(triage.Combine("labels.jsonl"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["id"] = relabelled.Id, ["session"] = relabelled.Session, ["turn"] = relabelled.Turn, ["lang"] = relabelled.Lang,
            ["previous"] = relabelled.Previous, ["text"] = relabelled.Text, ["label"] = "clear", ["split"] = relabelled.Split,
        }) + "\n{not json\n");

        var rows = CorrectionsCorpus.Load([corpus.Path, triage.Path]);

        Assert.Equal("clear", rows.Single(r => r.Id == relabelled.Id).Label);
        Assert.Equal(CorrectionsCorpus.Load([corpus.Path]).Count, rows.Count);
    }

    /// <summary>
    /// The shipped weights must be the ones the training command makes from the corpus in the repository: the corpus
    /// fingerprint and the dev-split figures recorded beside the weights are recomputed here. Stale weights (the corpus
    /// changed, or the features did, without re-running train-detector) fail. SKILLLOOP_CORRECTIONS may name the corpus
    /// directories (separated by the path separator) when they are not in the repository yet.
    /// </summary>
    [Fact]
    public void The_shipped_weights_reproduce_the_dev_figures_recorded_when_they_were_trained()
    {
        var root = RepositoryRoot();
        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "SkillLoop.Shared", "Detection", "Model", "detector-model.json"))).RootElement;
        var directories = Environment.GetEnvironmentVariable("SKILLLOOP_CORRECTIONS") is { Length: > 0 } named
            ? named.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            : [Path.Combine(root, CorrectionsCorpus.DefaultDirectory)];
        var rows = CorrectionsCorpus.Load(directories);

        Assert.Equal(report.GetProperty("version").GetString(), DetectorModel.Shipped.Version);
        Assert.True(report.GetProperty("corpusFingerprint").GetString() == CorrectionsCorpus.Fingerprint(rows),
            "The corpus changed since the weights were trained: run `dotnet run -c Release --project SkillLoop.Benchmarks -- train-detector` and rebuild.");
        var detector = new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), DetectorModel.Shipped);
        foreach (var figures in DetectorTrainer.Evaluate(detector, rows.Where(r => r.Split == "dev")))
        {
            var recorded = report.GetProperty("dev").GetProperty(figures.Lang);
            Assert.Equal(recorded.GetProperty("turns").GetInt32(), figures.Turns);
            Assert.Equal(recorded.GetProperty("truePositives").GetInt32(), figures.TruePositives);
            Assert.Equal(recorded.GetProperty("falsePositives").GetInt32(), figures.FalsePositives);
            Assert.Equal(recorded.GetProperty("clearFound").GetInt32(), figures.ClearFound);
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SkillLoop.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("SkillLoop.sln not found above the test's folder.");
    }
}
