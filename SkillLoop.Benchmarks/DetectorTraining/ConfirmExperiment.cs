using System.Diagnostics;
using System.Globalization;
using SkillLoop.Core.Ai.MiniLm;
using SkillLoop.Hooks.Detection;

namespace SkillLoop.Benchmarks.DetectorTraining;

/// <summary>
/// EXPERIMENT (issue #15, item 3): would the server's embedded sentence model confirm the client's candidates better
/// than the client's score alone? Out of fold on train+dev only (test never read): the client's out-of-fold score
/// and MiniLM vectors of the person's own words and of the agent's closing words go into a logistic regression
/// fitted on the other folds' rows (the client's folds), and recall at precision 0.80 / 0.85 / 0.90 is printed per
/// language for the client alone and for the stack.
/// </summary>
internal static class ConfirmExperiment
{
    public static async Task<int> RunAsync(string[] args, string root)
    {
        var clock = Stopwatch.StartNew();
        var rows = CorrectionsCorpus.Load(CorrectionsCorpus.Directories(args, root), Console.Out);
        // The grid point the shipped weights used when this was measured (lr1-9b52c6314094); one fit, no grid.
        var result = DetectorTrainer.Train(rows, new DetectorTrainer.Settings(16, 5, 0.1, 1e-4, 1), null);
        var scored = result.OutOfFoldScores.Where(x => !x.Row.Gated).ToList();
        Console.WriteLine($"client out of fold: {scored.Count} turns in {clock.Elapsed.TotalSeconds:F0} s");

        using var generator = new MiniLmEmbeddingGenerator(batchSize: 1);
        static string Cut(string s, int n) => s.Length <= n ? s : s[..n];
        var own = scored.Select(x => Cut(OwnWords.Split(x.Row.Text, x.Row.Previous).Text is { Length: > 0 } t ? t : x.Row.Text, 600)).ToList();
        var closing = scored.Select(x => x.Row.Previous.Length <= 300 ? x.Row.Previous : x.Row.Previous[^300..]).ToList();
        var ownVectors = await EmbedAsync(generator, own, clock);
        var closingVectors = await EmbedAsync(generator, [.. closing.Select(c => c.Length == 0 ? "(none)" : c)], clock);
        Console.WriteLine($"embedded in {clock.Elapsed.TotalSeconds:F0} s");

        var variants = new (string Name, Func<int, float[]> Features)[]
        {
            ("score only", i => Base(scored[i])),
            ("score + own", i => [.. Base(scored[i]), .. ownVectors[i]]),
            ("score + own + closing", i => [.. Base(scored[i]), .. ownVectors[i], .. closingVectors[i]]),
            ("score + own + own*closing", i => [.. Base(scored[i]), .. ownVectors[i], .. ownVectors[i].Zip(closingVectors[i], (a, b) => a * b)]),
        };
        Report("client score (no clear patterns)", scored, [.. scored.Select(x => x.Score)]);
        foreach (var l2 in (double[])[1e-3, 1e-2, 3e-2, 1e-1])
        {
            foreach (var (name, features) in variants)
            {
                if (name == "score only" && l2 != 1e-2)
                    continue;
                var x = Enumerable.Range(0, scored.Count).Select(features).ToArray();
                var oof = new double[scored.Count];
                for (var fold = 0; fold < DetectorTrainer.Folds; fold++)
                {
                    var train = Enumerable.Range(0, scored.Count).Where(i => DetectorTrainer.FoldOf(scored[i].Row.Session) != fold).ToArray();
                    var model = Fit(x, scored, train, l2);
                    foreach (var i in Enumerable.Range(0, scored.Count).Where(i => DetectorTrainer.FoldOf(scored[i].Row.Session) == fold))
                        oof[i] = model(x[i]);
                }
                Report($"{name}, L2 {l2:G2}", scored, oof);
            }
        }
        Console.WriteLine($"done in {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    private static async Task<List<float[]>> EmbedAsync(MiniLmEmbeddingGenerator generator, List<string> texts, Stopwatch clock)
    {
        var vectors = new List<float[]>();
        foreach (var chunk in texts.Chunk(250))
        {
            vectors.AddRange((await generator.GenerateAsync(chunk)).Select(e => e.Vector.ToArray()));
            Console.WriteLine($"  {vectors.Count} embedded at {clock.Elapsed.TotalSeconds:F0} s");
        }
        return vectors;
    }

    private static float[] Base((CorpusRow Row, double Score, bool Detected) x)
    {
        var p = Math.Clamp(x.Score, 1e-4, 1 - 1e-4);
        var zh = x.Row.Lang == "zh" ? 1f : 0f;
        var logit = (float)Math.Log(p / (1 - p));
        return [logit, zh, logit * zh];
    }

    private static void Report(string name, List<(CorpusRow Row, double Score, bool Detected)> scored, double[] scores)
    {
        var parts = new List<string>();
        foreach (var lang in (string[])["en", "zh"])
        {
            var s = Enumerable.Range(0, scored.Count).Where(i => scored[i].Row.Lang == lang).Select(i => (scores[i], scored[i].Row.IsPositive)).ToList();
            var recalls = DetectorTrainer.CurvePrecisions.Select(p => DetectorTrainer.RecallAt(s, p));
            parts.Add(lang + " " + string.Join(" / ", recalls.Select(r => r.ToString("F3", CultureInfo.InvariantCulture))));
        }
        Console.WriteLine($"  {name,-45} | {string.Join(" | ", parts)}");
    }

    /// <summary>L2-regularised logistic regression, standardised features, full-batch Adam.</summary>
    private static Func<float[], double> Fit(float[][] x, List<(CorpusRow Row, double Score, bool Detected)> rows, int[] train, double l2)
    {
        var d = x[0].Length;
        var mean = new double[d];
        var std = new double[d];
        foreach (var i in train)
            for (var j = 0; j < d; j++)
                mean[j] += x[i][j];
        for (var j = 0; j < d; j++)
            mean[j] /= train.Length;
        foreach (var i in train)
            for (var j = 0; j < d; j++)
                std[j] += (x[i][j] - mean[j]) * (x[i][j] - mean[j]);
        for (var j = 0; j < d; j++)
            std[j] = Math.Sqrt(std[j] / train.Length) + 1e-6;
        var z = train.Select(i => Enumerable.Range(0, d).Select(j => (x[i][j] - mean[j]) / std[j]).ToArray()).ToArray();
        var y = train.Select(i => rows[i].Row.IsPositive ? 1.0 : 0.0).ToArray();
        var w = new double[d];
        double b = 0;
        var (mw, vw) = (new double[d], new double[d]);
        double mb = 0, vb = 0;
        const double Rate = 0.02, B1 = 0.9, B2 = 0.999;
        var grad = new double[d];
        for (var step = 1; step <= 400; step++)
        {
            Array.Clear(grad);
            double gb = 0;
            for (var n = 0; n < z.Length; n++)
            {
                var s = b;
                var row = z[n];
                for (var j = 0; j < d; j++)
                    s += w[j] * row[j];
                var e = 1 / (1 + Math.Exp(-s)) - y[n];
                gb += e;
                for (var j = 0; j < d; j++)
                    grad[j] += e * row[j];
            }
            for (var j = 0; j < d; j++)
            {
                var g = grad[j] / z.Length + l2 * w[j];
                mw[j] = B1 * mw[j] + (1 - B1) * g;
                vw[j] = B2 * vw[j] + (1 - B2) * g * g;
                w[j] -= Rate * (mw[j] / (1 - Math.Pow(B1, step))) / (Math.Sqrt(vw[j] / (1 - Math.Pow(B2, step))) + 1e-8);
            }
            gb /= z.Length;
            mb = B1 * mb + (1 - B1) * gb;
            vb = B2 * vb + (1 - B2) * gb * gb;
            b -= Rate * (mb / (1 - Math.Pow(B1, step))) / (Math.Sqrt(vb / (1 - Math.Pow(B2, step))) + 1e-8);
        }
        return v =>
        {
            var s = b;
            for (var j = 0; j < d; j++)
                s += w[j] * (v[j] - mean[j]) / std[j];
            return 1 / (1 + Math.Exp(-s));
        };
    }
}
