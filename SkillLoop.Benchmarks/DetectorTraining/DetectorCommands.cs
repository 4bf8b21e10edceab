using System.Diagnostics;
using System.Globalization;
using SkillLoop.Hooks.Detection;

namespace SkillLoop.Benchmarks.DetectorTraining;

/// <summary>
/// <c>train-detector [DIR…] [--out DIR]</c>: trains the learned detector on the corpus (default
/// benchmarks/data/corrections; several directories may be named, e.g. the corpus plus a triage export) and writes
/// the weights where SkillLoop.Hooks embeds them, with the dev-split figures beside them.
/// <c>detector [DIR…]</c>: the held-out test-split figures of the shipped detector and of today's regex detector,
/// and the cost per human turn.
/// </summary>
public static class DetectorCommands
{
    public const string ModelDirectory = "SkillLoop.Shared/Detection/Model";
    public const string ModelFile = "detector-model.bin";
    public const string ReportFile = "detector-model.json";

    // The published client at the commit before the learned detector (ab28929, linux-x64, Release, stripped).
    private const long ClientBytesBefore = 8_335_864;

    public static int Train(string[] args, string root)
    {
        var clock = Stopwatch.StartNew();
        var directories = CorrectionsCorpus.Directories(args, root);
        var rows = CorrectionsCorpus.Load(directories, Console.Out);
        // The grid's out-of-fold figures with --sweep (the trainer always chooses from it; --sweep only prints it).
        // --settings EPOCHS,RATE,L2,CAP[,BITS]: one point instead of the grid (quick experiments; what ships is chosen from the grid).
        DetectorTrainer.Settings? fixedSettings = null;
        if (Array.IndexOf(args, "--settings") is var s and >= 0 && s + 1 < args.Length)
        {
            var v = args[s + 1].Split(',');
            fixedSettings = new DetectorTrainer.Settings(v.Length > 4 ? int.Parse(v[4], CultureInfo.InvariantCulture) : 16, int.Parse(v[0], CultureInfo.InvariantCulture),
                double.Parse(v[1], CultureInfo.InvariantCulture), double.Parse(v[2], CultureInfo.InvariantCulture), double.Parse(v[3], CultureInfo.InvariantCulture));
        }
        var result = DetectorTrainer.Train(rows, fixedSettings, args.Contains("--sweep") ? Console.Out : null);
        var outIndex = Array.IndexOf(args, "--out");
        var output = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : Path.Combine(root, ModelDirectory);
        Directory.CreateDirectory(output);
        File.WriteAllBytes(Path.Combine(output, ModelFile), result.Model);
        File.WriteAllText(Path.Combine(output, ReportFile), result.ReportJson());
        Console.WriteLine($"corpus: {string.Join(", ", directories)}: {rows.Count} turns ({result.TrainRows} train, {result.DevRows} dev; test not read)");
        Console.WriteLine($"model {result.Version}: {result.Model.Length / 1024.0:F0} KiB -> {Path.Combine(output, ModelFile)}");
        Console.WriteLine($"  settings (chosen by {DetectorTrainer.Folds}-fold cross-validation over train+dev sessions): {result.Settings}, objective {result.Objective:F4}");
        foreach (var f in result.OutOfFold)
            Console.WriteLine($"  out-of-fold {f.Lang}: threshold {f.Threshold:F3}{(Model(result).For(f.Lang).OrPatterns ? " or a pattern" : "")}, precision {f.Precision:F2}, recall {f.Recall:F2}, clear-only recall {f.ClearRecall:F2} ({f.Turns} turns, {f.Positives} corrections)");
        foreach (var (lang, recalls) in result.Curve.OrderBy(c => c.Key, StringComparer.Ordinal))
            Console.WriteLine($"  out-of-fold curve {lang}: " + string.Join(", ", DetectorTrainer.CurvePrecisions.Zip(recalls, (p, r) => $"P {p:F2} -> R {r:F3}")));
        foreach (var f in result.Dev)
            Console.WriteLine($"  dev {f.Lang} (in-sample: the weights are fitted on train+dev): precision {f.Precision:F2}, recall {f.Recall:F2}, clear-only recall {f.ClearRecall:F2}");
        var clear = Model(result).ClearPatterns;
        Console.WriteLine($"  clear patterns (a match is a correction whatever the score; precision >= {DetectorTrainer.ClearPrecision:F2} over >= {DetectorTrainer.ClearSupport} matches on train+dev, or a built-in candidate with no wrong match there): {(clear.Count == 0 ? "none" : string.Join(", ", clear.Order(StringComparer.Ordinal)))}");
        if (args.Contains("--patterns"))
        {
            var scorer = new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), DetectorModel.RegexOnly);
            foreach (var (id, matches, corrections) in DetectorTrainer.PatternPrecision(scorer, rows.Where(r => r.Split is "train" or "dev")))
                Console.WriteLine($"    {id}: {corrections}/{matches} ({(double)corrections / matches:F2})");
            var byCategory = rows.Where(r => r.Split is "train" or "dev" && !r.Gated)
                .Select(r => (Row: r, Done: DetectorFeatures.ClaimedDone(r.Previous), Asked: DetectorFeatures.AskedQuestion(r.Previous), Categories: scorer.Detect(r.Text, DetectorTrainer.Context(r)).Matches.Select(m => m.Category).Distinct().ToList()))
                .SelectMany(x => x.Categories.Select(c => (Key: $"{x.Row.Lang} {c} done={x.Done} asked={x.Asked}", x.Row.IsPositive)))
                .GroupBy(x => x.Key).OrderBy(g => g.Key, StringComparer.Ordinal);
            foreach (var g in byCategory)
                Console.WriteLine($"    {g.Key}: {g.Count(x => x.IsPositive)}/{g.Count()}");
            foreach (var lang in (string[])["en", "zh"])
            {
                var all = rows.Where(r => r.Split is "train" or "dev" && !r.Gated && r.Lang == lang).ToList();
                Console.WriteLine($"    {lang} done-claim: {all.Count(r => DetectorFeatures.ClaimedDone(r.Previous))}/{all.Count} turns; corrections among them {all.Count(r => DetectorFeatures.ClaimedDone(r.Previous) && r.IsPositive)}, among the rest {all.Count(r => !DetectorFeatures.ClaimedDone(r.Previous) && r.IsPositive)}");
            }
        }
        if (Array.IndexOf(args, "--errors") is var errors and >= 0 && errors + 1 < args.Length)
        {
            // Misses and false alarms on train+dev, out of fold (each row scored by a model that never saw its session).
            using var writer = new StreamWriter(args[errors + 1], false, new System.Text.UTF8Encoding(false)); // replaces a surrogate half a cut leaves
            foreach (var (row, score, detected) in result.OutOfFoldScores.Where(x => !x.Row.Gated).OrderBy(x => x.Row.Lang, StringComparer.Ordinal).ThenByDescending(x => x.Score))
            {
                var kind = detected == row.IsPositive ? (detected ? "tp" : "tn") : detected ? "FP" : "FN";
                static string Flat(string s, int n) => (s.Length <= n ? s : s[..n] + "…").ReplaceLineEndings(" ⏎ ").Replace('\t', ' ');
                writer.WriteLine($"{row.Lang}\t{kind}\t{row.Label}\t{score:F3}\t{Flat(row.Previous.Length > 120 ? row.Previous[^120..] : row.Previous, 120)}\t{Flat(row.Text, 300)}");
            }
            Console.WriteLine($"  out-of-fold scores of train+dev -> {args[errors + 1]}");
        }
        Console.WriteLine($"trained in {clock.Elapsed.TotalSeconds:F1} s; rebuild SkillLoop.Hooks to ship it");
        return 0;
    }

    private static DetectorModel Model(TrainingResult result) => DetectorModel.TryRead(result.Model, out var model) ? model : DetectorModel.RegexOnly;

    public static int Benchmark(string[] args, string root)
    {
        // --model FILE: weights other than the shipped ones (e.g. train-detector --out), for the probe and the figures.
        var modelPath = Array.IndexOf(args, "--model") is var m and >= 0 && m + 1 < args.Length ? args[m + 1] : null;
        var shipped = modelPath is null ? DetectorModel.Shipped : DetectorModel.TryRead(File.ReadAllBytes(modelPath), out var read) ? read : DetectorModel.RegexOnly;
        if (Array.IndexOf(args, "--probe") is var probe and >= 0 && probe + 2 < args.Length)
        {
            var d = new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), shipped).Detect(args[probe + 2], new TurnContext(args[probe + 1], int.Parse(args.ElementAtOrDefault(probe + 3) ?? "1", CultureInfo.InvariantCulture)));
            Console.WriteLine($"{d.IsCorrection} score {d.Score} threshold {d.Threshold:F3} patterns {string.Join(",", d.Matches.Select(x => x.PatternId))}");
            return 0;
        }
        var directories = CorrectionsCorpus.Directories(args, root);
        IReadOnlyList<CorpusRow> rows;
        try
        {
            rows = CorrectionsCorpus.Load(directories, Console.Out);
        }
        catch (DirectoryNotFoundException e)
        {
            Console.WriteLine($"detector: {e.Message}");
            return 1;
        }
        var patterns = new CorrectionDetector(DefaultPatterns.All);
        var detector = new TwoStageDetector(patterns, shipped);
        var test = rows.Where(r => r.Split == "test").ToList();
        Console.WriteLine($"corpus: {string.Join(", ", directories)}: {rows.Count} turns, held-out test split {test.Count} ({test.Count(r => r.IsPositive)} corrections)");
        Console.WriteLine($"learned detector {shipped.Version}; a session's opening message is never a correction for either detector (as in the client)");
        var learned = DetectorTrainer.Evaluate(detector, test);
        var regex = DetectorTrainer.EvaluateRegex(patterns, test);
        var goals = new Dictionary<string, (double P, double R)> { ["en"] = (0.90, 0.80), ["zh"] = (0.90, 0.70) };
        foreach (var lang in (string[])["en", "zh"])
        {
            var n = learned.FirstOrDefault(f => f.Lang == lang);
            var o = regex.FirstOrDefault(f => f.Lang == lang);
            if (n is null || o is null)
            {
                Console.WriteLine($"  {lang}: no test turns");
                continue;
            }
            var goal = goals[lang];
            var met = n.Precision >= goal.P && n.Recall >= goal.R ? "met" : "MISSED";
            Console.WriteLine($"  {lang} ({n.Turns} turns, {n.Positives} corrections, {n.Clear} clear):");
            var rule = shipped.For(lang).OrPatterns ? " or a pattern matches" : "";
            Console.WriteLine($"    learned: precision {n.Precision:F2}, recall {n.Recall:F2}, clear-only recall {n.ClearRecall:F2} (TP {n.TruePositives}, FP {n.FalsePositives}, FN {n.FalseNegatives}; score >= {n.Threshold:F3}{rule}; goal P >= {goal.P:F2}, R >= {goal.R:F2}: {met})");
            Console.WriteLine($"    regex:   precision {o.Precision:F2}, recall {o.Recall:F2}, clear-only recall {o.ClearRecall:F2} (TP {o.TruePositives}, FP {o.FalsePositives}, FN {o.FalseNegatives})");
        }

        // Cost per human turn: every corpus turn (any split: timing tunes nothing), with its previous agent turn.
        var turns = rows.Select(r => (r.Text, Context: DetectorTrainer.Context(r))).ToArray();
        var learnedCost = PerTurn(turns, t => detector.Detect(t.Text, t.Context).IsCorrection);
        var regexCost = PerTurn(turns, t => patterns.Match(t.Text) is not null);
        // Where the learned detector's time goes: the own-words split, then the patterns over the own words; the rest is features.
        var splitCost = PerTurn(turns, t => OwnWords.Split(t.Text, t.Context.Previous).PastedChars > 0);
        var matches = new List<CorrectionMatch>();
        var split = turns.Select(t => OwnWords.Split(t.Text, t.Context.Previous).Text).ToArray();
        var patternCost = PerTurn(split, s =>
        {
            matches.Clear();
            patterns.MatchAll(s.Length <= 750 ? s : string.Concat(s.AsSpan(0, 500), "\n", s.AsSpan(s.Length - 250)), matches);
            return matches.Count > 0;
        });
        var prepared = turns.Select((t, i) =>
        {
            var s = OwnWords.Split(t.Text, t.Context.Previous);
            var m = new List<CorrectionMatch>();
            patterns.MatchAll(s.Text.Length <= 750 ? s.Text : string.Concat(s.Text.AsSpan(0, 500), "\n", s.Text.AsSpan(s.Text.Length - 250)), m);
            return (Split: s, t.Context, Matches: m.ToArray());
        }).ToArray();
        var weights = shipped.Weights;
        var featureCost = PerTurn(prepared, p =>
        {
            var sink = new SumSink(weights);
            DetectorFeatures.Extract(ref sink, shipped.Bits, p.Split.Text, p.Split, p.Context, p.Matches);
            return sink.Sum > 0;
        });
        var contextCost = PerTurn(turns, t => DetectorFeatures.AskedQuestion(t.Context.Previous) | DetectorFeatures.ClaimedDone(t.Context.Previous));
        Console.WriteLine($"  learned detector's parts (µs CPU per turn): own-words split {splitCost.Cpu:F1}, patterns over the own words {patternCost.Cpu:F1}, features and score {featureCost.Cpu:F1} (of which reading the agent's previous turn {contextCost.Cpu:F1})");
        if (Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") != "0")
            Console.WriteLine("  (JIT tiering is on: on a busy machine the times below include unoptimised code the AOT-compiled client never runs; benchmarks/run sets DOTNET_TieredCompilation=0)");
        Console.WriteLine($"  cost per human turn ({turns.Length} corpus turns, mean {turns.Average(t => t.Text.Length):F0} chars, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}): learned {learnedCost.Wall:F1} µs wall, {learnedCost.Cpu:F1} µs CPU; regex detector {regexCost.Wall:F1} µs wall, {regexCost.Cpu:F1} µs CPU (goal <= 50 µs)");

        var model = Path.Combine(root, ModelDirectory, ModelFile);
        var client = Path.Combine(root, "SkillLoop.Hooks", "bin", "Release", "net10.0", "linux-x64", "publish", "skillloop-client");
        var modelBytes = File.Exists(model) ? new FileInfo(model).Length : 0;
        if (File.Exists(client))
        {
            var size = new FileInfo(client).Length;
            Console.WriteLine($"  client binary: {size / 1e6:F2} MB, {(size - ClientBytesBefore) / 1e6:+0.00;-0.00} MB against the client before the learned detector ({ClientBytesBefore / 1e6:F2} MB); weights {modelBytes / 1024.0:F0} KiB (goal growth <= 3 MB, weights <= 2 MB)");
        }
        else
        {
            Console.WriteLine($"  client binary: not published here; weights {modelBytes / 1024.0:F0} KiB");
        }
        return 0;
    }

    private struct SumSink(float[] weights) : IFeatureSink
    {
        public float Sum;

        public void Add(int index, float value) => Sum += weights[index] * value;
    }

    /// <summary>Mean wall-clock and CPU time per item: on a shared machine CPU time is the steadier figure.</summary>
    private static (double Wall, double Cpu) PerTurn<T>(T[] items, Func<T, bool> run)
    {
        if (items.Length == 0)
            return (double.NaN, double.NaN);
        // Warm up for a while, not one pass: on a busy machine the JIT's optimised code arrives late, and the client is
        // ahead-of-time compiled, so time spent in unoptimised code is not what a developer's hook pays.
        var warm = Stopwatch.StartNew();
        do
        {
            foreach (var item in items)
                run(item);
        }
        while (warm.Elapsed < TimeSpan.FromSeconds(1.5));
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var count = 0;
        var sink = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(2) || count < items.Length)
        {
            foreach (var item in items)
                sink += run(item) ? 1 : 0;
            count += items.Length;
        }
        GC.KeepAlive(sink);
        var wall = clock.Elapsed.TotalMicroseconds / count;
        process.Refresh();
        return (wall, (process.TotalProcessorTime - cpu).TotalMicroseconds / count);
    }

    public static string Invariant(double value) => value.ToString("F2", CultureInfo.InvariantCulture);
}
