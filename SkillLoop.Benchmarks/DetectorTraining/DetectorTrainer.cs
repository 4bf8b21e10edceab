using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SkillLoop.Hooks.Detection;

namespace SkillLoop.Benchmarks.DetectorTraining;

/// <summary>Precision/recall of one detector on one language of one split.</summary>
public sealed record LanguageFigures(string Lang, int Turns, int Positives, int Clear, int TruePositives, int FalsePositives, int ClearFound, double Threshold)
{
    public int FalseNegatives => Positives - TruePositives;

    public double Precision => TruePositives + FalsePositives == 0 ? 0 : (double)TruePositives / (TruePositives + FalsePositives);

    public double Recall => Positives == 0 ? 0 : (double)TruePositives / Positives;

    public double ClearRecall => Clear == 0 ? 0 : (double)ClearFound / Clear;
}

/// <summary>
/// What one training run produced: the model file's bytes, the figures of the shipped weights on the dev split (rows
/// they were trained on, so in-sample: the freshness test recomputes them) and the out-of-fold figures over train+dev
/// (each row scored by a model that never saw its session: the honest estimate, and what the thresholds were chosen on).
/// </summary>
public sealed record TrainingResult(byte[] Model, string Version, IReadOnlyList<LanguageFigures> Dev, int TrainRows, int DevRows, string CorpusFingerprint,
    IReadOnlyList<LanguageFigures> OutOfFold, DetectorTrainer.Settings Settings)
{
    /// <summary>Every train+dev row's out-of-fold score, for reading what is missed and what fires wrongly (never test rows).</summary>
    public IReadOnlyList<(CorpusRow Row, double Score, bool Detected)> OutOfFoldScores { get; init; } = [];

    /// <summary>Per language, the out-of-fold recall at precision 0.80, 0.85 and 0.90 (clear patterns counted as matches; 0 where a precision is never reached).</summary>
    public IReadOnlyDictionary<string, double[]> Curve { get; init; } = new Dictionary<string, double[]>();

    /// <summary>What the settings were chosen by (<c>DetectorTrainer.Objective</c>): mean out-of-fold recall over several precisions, summed over languages.</summary>
    public double Objective { get; init; }

    /// <summary>The sidecar the weight-freshness test checks: what these weights scored on the dev split.</summary>
    public string ReportJson()
    {
        static JsonObject Block(IReadOnlyList<LanguageFigures> figures)
        {
            var block = new JsonObject();
            foreach (var f in figures)
            {
                block[f.Lang] = new JsonObject
                {
                    ["threshold"] = Math.Round(f.Threshold, 6),
                    ["turns"] = f.Turns,
                    ["positives"] = f.Positives,
                    ["truePositives"] = f.TruePositives,
                    ["falsePositives"] = f.FalsePositives,
                    ["clear"] = f.Clear,
                    ["clearFound"] = f.ClearFound,
                    ["precision"] = Math.Round(f.Precision, 4),
                    ["recall"] = Math.Round(f.Recall, 4),
                };
            }
            return block;
        }
        var root = new JsonObject
        {
            ["version"] = Version,
            ["corpusFingerprint"] = CorpusFingerprint,
            ["trainRows"] = TrainRows,
            ["devRows"] = DevRows,
            ["settings"] = new JsonObject
            {
                ["bits"] = Settings.Bits,
                ["epochs"] = Settings.Epochs,
                ["learningRate"] = Settings.LearningRate,
                ["l2"] = Settings.L2,
                ["positiveWeightCap"] = Settings.PositiveWeightCap,
            },
            ["outOfFold"] = Block(OutOfFold),
            ["dev"] = Block(Dev),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}

/// <summary>
/// Trains the learned detector: logistic regression with AdaGrad over the features the client computes, on the
/// corpus's train and dev splits (the test split is never read). Every choice is made by cross-validation over
/// train+dev, folds by session: the settings (from a small grid) by out-of-fold recall at the target precision, then
/// the thresholds per language on the out-of-fold scores (highest recall at precision ≥ the target, else best F1).
/// Dev alone (80 English, 62 Chinese corrections) made a noisy threshold; the out-of-fold scores cover every
/// labelled row. The shipped weights are then fitted on all of train+dev. Deterministic: rows in id order, folds by a
/// hash of the session, a fixed-seed shuffle, one thread, no clock.
/// </summary>
public static class DetectorTrainer
{
    /// <summary>
    /// The out-of-fold precision each language's threshold must reach. Not the 0.90: on train+dev that point
    /// finds only about a third of English and a quarter of Chinese corrections, and the loop needs recall more (a
    /// problem must be heard from 3 distinct users; at recall 0.3 that happens for 1 problem in 5 that five people
    /// hit, at 0.55 for 3 in 5). What precision costs is bounded downstream: borderline scores (one logit above the
    /// threshold) are confirmed by the server's chat model when one is configured, and a stray signal must still
    /// cluster with two other users' before anything is proposed.
    /// </summary>
    public const double TargetPrecision = 0.85;
    public const int Folds = 5;
    private const ulong Seed = 0x5EED_0015UL;

    /// <summary>One point of the settings grid.</summary>
    public sealed record Settings(int Bits = 16, int Epochs = 2, double LearningRate = 0.05, double L2 = 1e-4, double PositiveWeightCap = 4);

    /// <summary>The grid the trainer chooses from by out-of-fold figures (order breaks ties: the first best wins).</summary>
    public static IReadOnlyList<Settings> Grid { get; } =
    [
        .. from epochs in (int[])[2, 3, 5]
           from rate in (double[])[0.05, 0.1]
           from l2 in (double[])[1e-5, 1e-4, 1e-3]
           from cap in (double[])[1, 2, 4]
           select new Settings(16, epochs, rate, l2, cap),
    ];

    /// <summary>A labelled row with everything the fitting needs, computed once.</summary>
    private sealed record Example(CorpusRow Row, (int Index, float Value)[] Features, bool AnyMatch, string[] PatternIds, int Fold)
    {
        public bool Scored => !Row.Gated;
    }

    public static TrainingResult Train(IReadOnlyList<CorpusRow> rows) => Train(rows, null, null);

    /// <param name="settings">Fixed settings; null chooses them from <see cref="Grid"/> by cross-validation.</param>
    /// <param name="log">Where the grid's out-of-fold figures are written, if anywhere.</param>
    public static TrainingResult Train(IReadOnlyList<CorpusRow> rows, Settings? settings, TextWriter? log)
    {
        var patterns = new CorrectionDetector(DefaultPatterns.All);
        var labelled = rows.Where(r => r.Split is "train" or "dev").ToList();
        if (!labelled.Any(r => r.Split == "train"))
            throw new InvalidOperationException("The corpus has no train rows.");

        var featurizer = new TwoStageDetector(patterns, DetectorModel.RegexOnly);
        var cache = new Dictionary<int, Example[]>();
        Example[] ExamplesFor(int bits)
        {
            if (!cache.TryGetValue(bits, out var examples))
            {
                examples = [.. labelled.Select(r =>
                {
                    var ids = featurizer.Detect(r.Text, Context(r)).Matches.Select(m => m.PatternId).Distinct().ToArray();
                    return new Example(r, Features(featurizer, r, bits), ids.Length > 0, ids, FoldOf(r.Session));
                })];
                cache[bits] = examples;
            }
            return examples;
        }

        // Clear patterns: pattern precision on train+dev (a count, not a fit: no fold needed).
        var clearPatterns = ChooseClearPatterns(featurizer, rows);
        var clearSet = clearPatterns.ToHashSet(StringComparer.Ordinal);

        Settings chosen;
        double[] oof;
        double bestScore;
        if (settings is not null)
        {
            chosen = settings;
            oof = OutOfFold(ExamplesFor(chosen.Bits), chosen);
            bestScore = Objective(ExamplesFor(chosen.Bits), oof, clearSet);
        }
        else
        {
            (chosen, oof, bestScore) = (Grid[0], Array.Empty<double>(), double.NegativeInfinity);
            foreach (var candidate in Grid)
            {
                var examples = ExamplesFor(candidate.Bits);
                var scores = OutOfFold(examples, candidate);
                var objective = Objective(examples, scores, clearSet);
                var decided = Decide(examples, scores, clearSet);
                log?.WriteLine($"  grid {candidate}: objective {objective:F4}; " + string.Join("; ", decided.OrderBy(d => d.Key, StringComparer.Ordinal)
                    .Select(d => $"{d.Key} out-of-fold P {d.Value.Precision:F2} R {d.Value.Recall:F2}")));
                if (objective > bestScore + 1e-9)
                    (chosen, oof, bestScore) = (candidate, scores, objective);
            }
        }

        var all = ExamplesFor(chosen.Bits);
        var (weights, bias) = Fit(all, chosen, _ => true);
        var choice = Decide(all, oof, clearSet);
        var thresholds = choice.ToDictionary(c => c.Key, c => new LanguageThresholds((float)c.Value.Threshold, (float)BandTop(c.Value.Threshold), c.Value.OrPatterns));
        foreach (var lang in (string[])["en", "zh"])
            thresholds.TryAdd(lang, new(0.5f, (float)BandTop(0.5), false));
        var bytes = DetectorModel.Write(chosen.Bits, (float)bias, weights, thresholds["en"], thresholds["zh"], clearPatterns);
        DetectorModel.TryRead(bytes, out var model);
        var dev = rows.Where(r => r.Split == "dev").ToList();
        var figures = Evaluate(new TwoStageDetector(patterns, model), dev);
        var oofFigures = Evaluate(labelled, r => !r.Gated && IndexOf(all, r) is var i && Decides(all[i], oof[i], thresholds[r.Lang], clearSet),
            lang => thresholds[lang].Threshold);
        return new TrainingResult(bytes, model.Version, figures, labelled.Count(r => r.Split == "train"), dev.Count, CorrectionsCorpus.Fingerprint(rows),
            oofFigures, chosen)
        {
            Objective = bestScore,
            Curve = CurveOf(all, oof, clearSet),
            OutOfFoldScores = [.. all.Select((e, i) => (e.Row, Math.Round(oof[i], 4), !e.Row.Gated && Decides(e, oof[i], thresholds[e.Row.Lang], clearSet)))],
        };
    }

    private static int IndexOf(Example[] examples, CorpusRow row)
    {
        // Rows are unique by id and in id order.
        var lo = 0;
        var hi = examples.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            var c = string.CompareOrdinal(examples[mid].Row.Id, row.Id);
            if (c == 0)
                return mid;
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
        throw new InvalidOperationException($"Row {row.Id} was not featurised.");
    }

    private static bool Decides(Example example, double score, LanguageThresholds limits, HashSet<string> clear) =>
        score >= limits.Threshold || (limits.OrPatterns && example.AnyMatch) || example.PatternIds.Any(clear.Contains);

    /// <summary>Fold of a session, from a hash of its name (the split uses the hash's first byte; the fold its second).</summary>
    public static int FoldOf(string session) => SHA256.HashData(Encoding.UTF8.GetBytes(session))[1] % Folds;

    /// <summary>Every row's score from the model fitted on the other folds' sessions.</summary>
    private static double[] OutOfFold(Example[] examples, Settings settings)
    {
        var scores = new double[examples.Length];
        for (var fold = 0; fold < Folds; fold++)
        {
            var held = fold;
            if (!examples.Any(e => e.Fold == held))
                continue;
            var (weights, bias) = Fit(examples, settings, e => e.Fold != held);
            for (var i = 0; i < examples.Length; i++)
            {
                if (examples[i].Fold != held)
                    continue;
                var z = (double)bias;
                foreach (var (f, v) in examples[i].Features)
                    z += weights[f] * v;
                scores[i] = 1 / (1 + Math.Exp(-z));
            }
        }
        return scores;
    }

    /// <summary>Precisions around the target at which <see cref="Objective"/> averages recall.</summary>
    private static readonly double[] ObjectivePrecisions = [0.80, 0.825, 0.85, 0.875, 0.90, 0.925];

    /// <summary>
    /// What the settings are chosen by: per language, the out-of-fold recall at each of several precisions around the
    /// target, averaged, summed over languages. Recall at the one target precision alone is a step function of a few
    /// top-scored rows (it moved by ±0.03 between settings that differ by noise); the average is steadier.
    /// </summary>
    private static double Objective(Example[] examples, double[] scores, HashSet<string> clear)
    {
        var total = 0.0;
        foreach (var lang in (string[])["en", "zh"])
        {
            var scored = Enumerable.Range(0, examples.Length).Where(i => examples[i].Scored && examples[i].Row.Lang == lang)
                .Select(i => (examples[i].PatternIds.Any(clear.Contains) ? 1.0 : scores[i], examples[i].Row.IsPositive)).ToList();
            if (!scored.Any(s => s.IsPositive))
                continue;
            total += ObjectivePrecisions.Average(p => RecallAt(scored, p));
        }
        return total;
    }

    /// <summary>The precisions <see cref="TrainingResult.Curve"/> reports recall at.</summary>
    public static readonly double[] CurvePrecisions = [0.80, 0.85, 0.90];

    private static Dictionary<string, double[]> CurveOf(Example[] examples, double[] scores, HashSet<string> clear)
    {
        var result = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var lang in (string[])["en", "zh"])
        {
            var scored = Enumerable.Range(0, examples.Length).Where(i => examples[i].Scored && examples[i].Row.Lang == lang)
                .Select(i => (examples[i].PatternIds.Any(clear.Contains) ? 1.0 : scores[i], examples[i].Row.IsPositive)).ToList();
            result[lang] = [.. CurvePrecisions.Select(p => RecallAt(scored, p))];
        }
        return result;
    }

    /// <summary>Per language: the threshold, and whether "a matching pattern is enough" pays, on out-of-fold scores.</summary>
    private static Dictionary<string, (double Threshold, bool OrPatterns, double Precision, double Recall)> Decide(Example[] examples, double[] scores, HashSet<string> clear)
    {
        var result = new Dictionary<string, (double, bool, double, double)>(StringComparer.Ordinal);
        foreach (var lang in (string[])["en", "zh"])
        {
            var rows = Enumerable.Range(0, examples.Length).Where(i => examples[i].Scored && examples[i].Row.Lang == lang).ToList();
            if (rows.Count == 0)
                continue;
            // A clear pattern's match is a correction whatever the score: it scores above every threshold.
            var scored = rows.Select(i => (examples[i].PatternIds.Any(clear.Contains) ? 1.0 : scores[i], examples[i].Row.IsPositive)).ToList();
            // The same choice with "a matching pattern is enough".
            var orScored = rows.Select(i => (examples[i].AnyMatch ? 1.0 : scores[i], examples[i].Row.IsPositive)).ToList();
            var threshold = ChooseThreshold(scored, TargetPrecision);
            var orThreshold = ChooseThreshold(orScored, TargetPrecision);
            var plain = At(scored, threshold);
            var or = At(orScored, orThreshold);
            result[lang] = Better(or, plain, TargetPrecision) ? (orThreshold, true, or.Precision, or.Recall) : (threshold, false, plain.Precision, plain.Recall);
        }
        return result;
    }

    /// <summary>Logistic regression by AdaGrad over the examples <paramref name="use"/> keeps; weights rounded to half floats as shipped.</summary>
    private static (float[] Weights, float Bias) Fit(Example[] examples, Settings settings, Func<Example, bool> use)
    {
        double[]? sum = null;
        var biasSum = 0.0;
        for (var k = 0; k < Shuffles; k++)
        {
            var (w, b) = FitOne(examples, settings, use, Seed + (ulong)k * 0x1234567UL);
            sum ??= new double[w.Length];
            for (var i = 0; i < w.Length; i++)
                sum[i] += w[i];
            biasSum += b;
        }
        var weights = sum!.Select(x => (float)(x / Shuffles)).ToArray();
        // What is tuned is what ships: thresholds are chosen on scores of the stored (half-precision) weights.
        DetectorModel.Quantise(weights);
        return (weights, (float)(biasSum / Shuffles));
    }

    /// <summary>
    /// How many fits, each on its own shuffle of the rows, are averaged into the shipped weights (an average of linear
    /// models is one linear model: the client's cost does not change). One fit's weights depend on the order it saw the
    /// rows in, by more than most feature changes move them; the average is steadier. Out of fold over train+dev, three
    /// shuffles against one: recall at precision 0.85 0.49 → 0.53 (English), 0.50 → 0.51 (Chinese); five did no better.
    /// </summary>
    public const int Shuffles = 3;

    private static (double[] Weights, double Bias) FitOne(Example[] examples, Settings settings, Func<Example, bool> use, ulong seed)
    {
        var (bits, epochs, learningRate, l2, cap) = settings;
        var chosen = examples.Where(use).ToArray();
        var positives = chosen.Count(e => e.Row.IsPositive);
        var positiveWeight = positives == 0 ? 1 : Math.Clamp((double)(chosen.Length - positives) / positives, 1, cap);
        var size = 1 << bits;
        var w = new double[size];
        var g2 = new double[size];
        double bias = 0, biasG2 = 0;
        var order = Enumerable.Range(0, chosen.Length).ToArray();
        var random = new SplitMix(seed);
        for (var epoch = 0; epoch < epochs; epoch++)
        {
            for (var i = order.Length - 1; i > 0; i--)
            {
                var j = (int)(random.Next() % (ulong)(i + 1));
                (order[i], order[j]) = (order[j], order[i]);
            }
            foreach (var index in order)
            {
                var example = chosen[index];
                var label = example.Row.IsPositive ? 1.0 : 0.0;
                var z = bias;
                foreach (var (f, v) in example.Features)
                    z += w[f] * v;
                var p = 1 / (1 + Math.Exp(-z));
                var g = (p - label) * (label > 0 ? positiveWeight : 1);
                biasG2 += g * g;
                bias -= learningRate * g / Math.Sqrt(biasG2 + 1e-8);
                foreach (var (f, v) in example.Features)
                {
                    var gf = g * v + l2 * w[f];
                    g2[f] += gf * gf;
                    w[f] -= learningRate * gf / Math.Sqrt(g2[f] + 1e-8);
                }
            }
        }
        return (w, bias);
    }

    /// <summary>A pattern is clear when at least this share of its matches on train and dev are corrections …</summary>
    public const double ClearPrecision = 0.9;

    /// <summary>… over at least this many matches (fewer say little about its precision).</summary>
    public const int ClearSupport = 5;

    /// <summary>
    /// The patterns whose match alone makes a correction (<see cref="DetectorModel.ClearPatterns"/>): precision on the
    /// train and dev splits (never test) of the pattern matching the person's own words, in turns after the opening one.
    /// Besides those, the <see cref="DefaultPatterns.ClearCandidates"/> the corpus does not contradict: no wrong match
    /// while they have fewer than <see cref="ClearSupport"/> matches, the same precision bar once they have more.
    /// </summary>
    public static IReadOnlyList<string> ChooseClearPatterns(TwoStageDetector scorer, IReadOnlyList<CorpusRow> rows)
    {
        var counts = PatternPrecision(scorer, rows.Where(r => r.Split is "train" or "dev")).ToDictionary(p => p.PatternId, p => (p.Matches, p.Corrections));
        var measured = counts.Where(c => c.Value.Matches >= ClearSupport && (double)c.Value.Corrections / c.Value.Matches >= ClearPrecision).Select(c => c.Key);
        var declared = DefaultPatterns.ClearCandidates.Where(id => counts.GetValueOrDefault(id) is var (matches, corrections)
            && (matches < ClearSupport ? corrections == matches : (double)corrections / matches >= ClearPrecision));
        return [.. measured.Union(declared).Order(StringComparer.Ordinal)];
    }

    /// <summary>How often each pattern matched the person's own words and how many of those turns were corrections.</summary>
    public static IReadOnlyList<(string PatternId, int Matches, int Corrections)> PatternPrecision(TwoStageDetector scorer, IEnumerable<CorpusRow> rows)
    {
        var counts = new SortedDictionary<string, (int Matches, int Corrections)>(StringComparer.Ordinal);
        foreach (var row in rows.Where(r => !r.Gated))
        {
            foreach (var id in scorer.Detect(row.Text, Context(row)).Matches.Where(m => m.Category != DefaultPatterns.Guard).Select(m => m.PatternId).Distinct())
            {
                var (matches, corrections) = counts.GetValueOrDefault(id);
                counts[id] = (matches + 1, corrections + (row.IsPositive ? 1 : 0));
            }
        }
        return [.. counts.Select(c => (c.Key, c.Value.Matches, c.Value.Corrections))];
    }

    public static TurnContext Context(CorpusRow row) => new(row.Previous, row.Turn, Reply: row.Next);

    /// <summary>Figures of a detector on rows, per language; the session's opening message is never a correction (as in the client).</summary>
    public static IReadOnlyList<LanguageFigures> Evaluate(TwoStageDetector detector, IEnumerable<CorpusRow> rows) =>
        Evaluate(rows, r => !r.Gated && detector.Detect(r.Text, Context(r)).IsCorrection, lang => detector.Model.For(lang).Threshold);

    /// <summary>Today's regex detector as the client ran it before the learned one: the first matching pattern decides.</summary>
    public static IReadOnlyList<LanguageFigures> EvaluateRegex(CorrectionDetector detector, IEnumerable<CorpusRow> rows) =>
        Evaluate(rows, r => !r.Gated && detector.Match(r.Text) is not null, _ => double.NaN);

    public static IReadOnlyList<LanguageFigures> Evaluate(IEnumerable<CorpusRow> rows, Func<CorpusRow, bool> detected, Func<string, double> threshold)
    {
        var result = new List<LanguageFigures>();
        foreach (var group in rows.GroupBy(r => r.Lang).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            int turns = 0, positives = 0, clear = 0, tp = 0, fp = 0, clearFound = 0;
            foreach (var row in group)
            {
                turns++;
                var hit = detected(row);
                positives += row.IsPositive ? 1 : 0;
                clear += row.Label == "clear" ? 1 : 0;
                if (hit && row.IsPositive)
                    tp++;
                if (hit && !row.IsPositive)
                    fp++;
                if (hit && row.Label == "clear")
                    clearFound++;
            }
            result.Add(new LanguageFigures(group.Key, turns, positives, clear, tp, fp, clearFound, threshold(group.Key)));
        }
        return result;
    }

    /// <summary>Highest recall whose precision reaches the target; if none does, the best F1. Halfway to the next score down.</summary>
    public static double ChooseThreshold(IReadOnlyList<(double Score, bool Positive)> scored, double targetPrecision)
    {
        if (scored.Count == 0 || !scored.Any(s => s.Positive))
            return 0.5;
        var sorted = scored.OrderByDescending(s => s.Score).ThenBy(s => s.Positive).ToList();
        var total = sorted.Count(s => s.Positive);
        int tp = 0, fp = 0;
        double bestRecall = -1, bestF1 = -1, atRecall = 0.5, atF1 = 0.5;
        for (var i = 0; i < sorted.Count; i++)
        {
            if (sorted[i].Positive)
                tp++;
            else
                fp++;
            // Only cut between different scores.
            if (i + 1 < sorted.Count && sorted[i + 1].Score == sorted[i].Score)
                continue;
            var cut = i + 1 < sorted.Count ? (sorted[i].Score + sorted[i + 1].Score) / 2 : sorted[i].Score - 1e-6;
            var precision = (double)tp / (tp + fp);
            var recall = (double)tp / total;
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            if (precision >= targetPrecision && recall > bestRecall)
                (bestRecall, atRecall) = (recall, cut);
            if (f1 > bestF1)
                (bestF1, atF1) = (f1, cut);
        }
        return Math.Clamp(bestRecall >= 0 ? atRecall : atF1, 0.01, 0.99);
    }

    /// <summary>The recall at the threshold chosen for <paramref name="precision"/>, or 0 when no threshold reaches it.</summary>
    public static double RecallAt(IReadOnlyList<(double Score, bool Positive)> scored, double precision) =>
        At(scored, ChooseThreshold(scored, precision)) is var (reached, recall) && reached >= precision ? recall : 0;

    /// <summary>Precision and recall of a cut over scored rows.</summary>
    public static (double Precision, double Recall) At(IReadOnlyList<(double Score, bool Positive)> scored, double threshold)
    {
        int tp = 0, fp = 0, positives = 0;
        foreach (var (score, positive) in scored)
        {
            positives += positive ? 1 : 0;
            if (score < threshold)
                continue;
            tp += positive ? 1 : 0;
            fp += positive ? 0 : 1;
        }
        return (tp + fp == 0 ? 0 : (double)tp / (tp + fp), positives == 0 ? 0 : (double)tp / positives);
    }

    /// <summary>Whether decision a beats b: reaching the target precision first, then recall; below it, F1.</summary>
    public static bool Better((double Precision, double Recall) a, (double Precision, double Recall) b, double targetPrecision)
    {
        var aMeets = a.Precision >= targetPrecision;
        var bMeets = b.Precision >= targetPrecision;
        if (aMeets != bMeets)
            return aMeets;
        if (aMeets)
            return a.Recall > b.Recall;
        static double F1((double P, double R) x) => x.P + x.R == 0 ? 0 : 2 * x.P * x.R / (x.P + x.R);
        return F1(a) > F1(b);
    }

    /// <summary>The borderline band: from the threshold to one logit above it.</summary>
    public static double BandTop(double threshold)
    {
        var logit = Math.Log(threshold / (1 - threshold));
        return 1 / (1 + Math.Exp(-(logit + 1.0)));
    }

    private static (int Index, float Value)[] Features(TwoStageDetector featurizer, CorpusRow row, int bits)
    {
        var sink = new ListSink(new List<(int, float)>(256));
        featurizer.ExtractFeatures(row.Text, Context(row), bits, ref sink);
        return [.. sink.Items];
    }

    private readonly struct ListSink(List<(int, float)> items) : IFeatureSink
    {
        public List<(int, float)> Items => items;

        public void Add(int index, float value) => items.Add((index, value));
    }

    /// <summary>A fixed PRNG (System.Random's sequence is not promised across .NET versions).</summary>
    private sealed class SplitMix(ulong state)
    {
        public ulong Next()
        {
            var z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    public static string Format(double value) => double.IsNaN(value) ? "—" : value.ToString("F2", CultureInfo.InvariantCulture);
}
