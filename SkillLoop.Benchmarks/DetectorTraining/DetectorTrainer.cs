using System.Globalization;
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

/// <summary>What one training run produced: the model file's bytes and its dev-split figures.</summary>
public sealed record TrainingResult(byte[] Model, string Version, IReadOnlyList<LanguageFigures> Dev, int TrainRows, int DevRows, string CorpusFingerprint)
{
    /// <summary>The sidecar the weight-freshness test checks: what these weights scored on the dev split.</summary>
    public string ReportJson()
    {
        var dev = new JsonObject();
        foreach (var f in Dev)
        {
            dev[f.Lang] = new JsonObject
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
        var root = new JsonObject
        {
            ["version"] = Version,
            ["corpusFingerprint"] = CorpusFingerprint,
            ["trainRows"] = TrainRows,
            ["devRows"] = DevRows,
            ["dev"] = dev,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}

/// <summary>
/// Trains the learned detector: logistic regression with AdaGrad over the features the client computes, on the
/// corpus's train split only; thresholds per language chosen on the dev split (highest recall at precision ≥ the
/// target, else best F1). Deterministic: rows in id order, a fixed-seed shuffle, one thread, no clock.
/// </summary>
public static class DetectorTrainer
{
    public const double TargetPrecision = 0.92; // a margin over the 0.90 goal: dev is small, test must still reach 0.90
    private const ulong Seed = 0x5EED_0015UL;

    /// <summary>The training settings (chosen by <c>train-detector --sweep</c> on the dev split, never on test).</summary>
    public sealed record Settings(int Bits = 16, int Epochs = 2, double LearningRate = 0.05, double L2 = 1e-4);

    public static TrainingResult Train(IReadOnlyList<CorpusRow> rows) => Train(rows, new Settings());

    public static TrainingResult Train(IReadOnlyList<CorpusRow> rows, Settings settings)
    {
        var (Bits, Epochs, LearningRate, L2) = settings;
        var patterns = new CorrectionDetector(DefaultPatterns.All);
        var train = rows.Where(r => r.Split == "train").ToList();
        var dev = rows.Where(r => r.Split == "dev").ToList();
        if (train.Count == 0)
            throw new InvalidOperationException("The corpus has no train rows.");

        var featurizer = new TwoStageDetector(patterns, DetectorModel.RegexOnly);
        var examples = train.Select(r => (Features: Features(featurizer, r, Bits), Label: r.IsPositive ? 1.0 : 0.0)).ToArray();
        var positives = examples.Count(e => e.Label > 0);
        var positiveWeight = positives == 0 ? 1 : Math.Clamp((double)(examples.Length - positives) / positives, 1, 4);

        var size = 1 << Bits;
        var w = new double[size];
        var g2 = new double[size];
        double bias = 0, biasG2 = 0;
        var order = Enumerable.Range(0, examples.Length).ToArray();
        var random = new SplitMix(Seed);
        for (var epoch = 0; epoch < Epochs; epoch++)
        {
            for (var i = order.Length - 1; i > 0; i--)
            {
                var j = (int)(random.Next() % (ulong)(i + 1));
                (order[i], order[j]) = (order[j], order[i]);
            }
            foreach (var index in order)
            {
                var (features, label) = examples[index];
                var z = bias;
                foreach (var (f, v) in features)
                    z += w[f] * v;
                var p = 1 / (1 + Math.Exp(-z));
                var g = (p - label) * (label > 0 ? positiveWeight : 1);
                biasG2 += g * g;
                bias -= LearningRate * g / Math.Sqrt(biasG2 + 1e-8);
                foreach (var (f, v) in features)
                {
                    var gf = g * v + L2 * w[f];
                    g2[f] += gf * gf;
                    w[f] -= LearningRate * gf / Math.Sqrt(g2[f] + 1e-8);
                }
            }
        }

        var weights = w.Select(x => (float)x).ToArray();
        DetectorModel.Quantise(weights);
        // Thresholds are chosen with the stored (half-precision) weights: what is tuned is what ships.
        var draft = DetectorModel.Write(Bits, (float)bias, weights, new(0.5f, 0.75f), new(0.5f, 0.75f));
        DetectorModel.TryRead(draft, out var draftModel);
        var scorer = new TwoStageDetector(patterns, draftModel);
        var clearPatterns = ChooseClearPatterns(scorer, rows);
        var thresholds = new Dictionary<string, LanguageThresholds>();
        foreach (var lang in (string[])["en", "zh"])
        {
            var detections = dev.Where(r => r.Lang == lang && !r.Gated).Select(r => (Detection: scorer.Detect(r.Text, Context(r)), r.IsPositive)).ToList();
            // A clear pattern's match is a correction whatever the score: it scores above every threshold.
            var scored = detections.Select(d => (d.Detection.Matches.Any(m => clearPatterns.Contains(m.PatternId)) ? 1.0 : d.Detection.Score, d.IsPositive)).ToList();
            // The same choice with "a matching pattern is enough": a hit scores above every threshold.
            var orScored = detections.Select(d => (d.Detection.Matches.Count > 0 ? 1.0 : d.Detection.Score, d.IsPositive)).ToList();
            var threshold = ChooseThreshold(scored, TargetPrecision);
            var orThreshold = ChooseThreshold(orScored, TargetPrecision);
            var orPatterns = Better(At(orScored, orThreshold), At(scored, threshold), TargetPrecision);
            var chosen = orPatterns ? orThreshold : threshold;
            thresholds[lang] = new((float)chosen, (float)BandTop(chosen), orPatterns);
        }
        var bytes = DetectorModel.Write(Bits, (float)bias, weights, thresholds["en"], thresholds["zh"], clearPatterns);
        DetectorModel.TryRead(bytes, out var model);
        var figures = Evaluate(new TwoStageDetector(patterns, model), dev);
        return new TrainingResult(bytes, model.Version, figures, train.Count, dev.Count, CorrectionsCorpus.Fingerprint(rows));
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

    public static TurnContext Context(CorpusRow row) => new(row.Previous, row.Turn);

    /// <summary>Figures of a detector on rows, per language; the session's opening message is never a correction (as in the client).</summary>
    public static IReadOnlyList<LanguageFigures> Evaluate(TwoStageDetector detector, IEnumerable<CorpusRow> rows) =>
        Evaluate(rows, r => !r.Gated && detector.Detect(r.Text, Context(r)).IsCorrection, lang => detector.Model.For(lang).Threshold);

    /// <summary>Today's regex detector as the client ran it before the learned one: the first matching pattern decides.</summary>
    public static IReadOnlyList<LanguageFigures> EvaluateRegex(CorrectionDetector detector, IEnumerable<CorpusRow> rows) =>
        Evaluate(rows, r => !r.Gated && detector.Match(r.Text) is not null, _ => double.NaN);

    private static IReadOnlyList<LanguageFigures> Evaluate(IEnumerable<CorpusRow> rows, Func<CorpusRow, bool> detected, Func<string, double> threshold)
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
