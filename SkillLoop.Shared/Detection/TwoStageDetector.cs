namespace SkillLoop.Hooks.Detection;

/// <summary>What the detector decided about one human turn.</summary>
/// <param name="IsCorrection">Whether the turn is sent as a correction.</param>
/// <param name="Score">The classifier's probability that the turn is a correction (0–1).</param>
/// <param name="Threshold">The score at or above which a turn of <paramref name="Language"/> is a correction.</param>
/// <param name="BandTop">Scores in [Threshold, BandTop) are borderline (the server may ask a chat model).</param>
/// <param name="Language">"en" or "zh", from the person's own words.</param>
/// <param name="Decision">"model" (the score, or a clear pattern the model's trainer vouched for), or "pattern-include"/"pattern-exclude" when an admin-forced pattern decided.</param>
/// <param name="Match">The deciding pattern, else the first pattern that matched, else null.</param>
/// <param name="Matches">Every pattern that matched the person's own words.</param>
public sealed record Detection(
    bool IsCorrection,
    double Score,
    double Threshold,
    double BandTop,
    string Language,
    string Decision,
    CorrectionMatch? Match,
    IReadOnlyList<CorrectionMatch> Matches,
    string DetectorVersion)
{
    public const string ByModel = "model";
    public const string ByIncludePattern = "pattern-include";
    public const string ByExcludePattern = "pattern-exclude";

    /// <summary>The pattern id a signal records: the deciding or first matching pattern, else "classifier".</summary>
    public string PatternId => Match?.PatternId ?? "classifier";

    public bool Borderline => IsCorrection && Decision == ByModel && Score < BandTop;
}

/// <summary>
/// The two-stage detector: first the conversation (own words split from pasted material, the agent's previous turn,
/// the turn's position), then a compact learned classifier over hashed character and word n-grams, conversation cues
/// and the editable patterns' matches. Admin-forced patterns decide outright; without shipped weights the patterns
/// alone decide, as before. Never throws on odd input: every string gets a score.
/// </summary>
public sealed class TwoStageDetector(CorrectionDetector patterns, DetectorModel model)
{
    [ThreadStatic] private static List<CorrectionMatch>? _scratch;

    public TwoStageDetector(CorrectionDetector patterns) : this(patterns, DetectorModel.Shipped)
    {
    }

    public CorrectionDetector Patterns => patterns;

    public DetectorModel Model => model;

    public Detection Detect(string? text, in TurnContext context)
    {
        text ??= "";
        var split = OwnWords.Split(text, context.Previous);
        var own = split.Text;
        var matches = _scratch ??= [];
        matches.Clear();
        patterns.MatchAll(PatternWindow(own), matches);
        var language = DetectorFeatures.CjkShare(own.Length > 0 ? own : text) > 0.2 ? "zh" : "en";
        var limits = model.For(language);

        double score;
        if (model.IsRegexOnly)
        {
            score = matches.Count > 0 ? matches[0].Confidence : 0;
        }
        else
        {
            var sink = new ScoreSink(model.Weights);
            DetectorFeatures.Extract(ref sink, model.Bits, own, split, context, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(matches));
            score = 1 / (1 + Math.Exp(-(model.Bias + sink.Sum)));
            if (!double.IsFinite(score))
                score = 0;
        }

        var decision = Detection.ByModel;
        // Where the trainer found it pays on dev, a matching pattern is enough; its low score still marks it borderline.
        var isCorrection = own.Length > 0 && (score >= limits.Threshold || (limits.OrPatterns && matches.Count > 0) || AnyClear(matches));
        CorrectionMatch? deciding = null;
        foreach (var match in matches)
        {
            if (match.Force == Contracts.CorrectionPattern.ForceExclude)
            {
                (isCorrection, decision, deciding) = (false, Detection.ByExcludePattern, match);
                break;
            }
            if (match.Force == Contracts.CorrectionPattern.ForceInclude && decision == Detection.ByModel)
                (isCorrection, decision, deciding) = (true, Detection.ByIncludePattern, match);
        }
        if (model.IsRegexOnly && decision == Detection.ByModel)
            isCorrection = matches.Count > 0;

        return new Detection(isCorrection, Math.Round(score, 4), limits.Threshold, limits.BandTop, language, decision,
            deciding ?? (matches.Count > 0 ? matches[0] : null), matches.Count == 0 ? [] : [.. matches], model.Version);
    }

    private bool AnyClear(List<CorrectionMatch> matches)
    {
        if (model.ClearPatterns.Count == 0)
            return false;
        foreach (var match in matches)
            if (model.ClearPatterns.Contains(match.PatternId))
                return true;
        return false;
    }

    /// <summary>
    /// The exact features <see cref="Detect"/> scores, for the trainer: the same split, patterns and hashing, so what
    /// is trained is what the client runs.
    /// </summary>
    public void ExtractFeatures<TSink>(string? text, in TurnContext context, int bits, ref TSink sink) where TSink : struct, IFeatureSink
    {
        text ??= "";
        var split = OwnWords.Split(text, context.Previous);
        var matches = new List<CorrectionMatch>();
        patterns.MatchAll(PatternWindow(split.Text), matches);
        DetectorFeatures.Extract(ref sink, bits, split.Text, split, context, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(matches));
    }

    // Regexes cost per character per pattern: in a long message the person's correction is at its start or its end.
    private const int PatternHead = 500;
    private const int PatternTail = 250;

    private static string PatternWindow(string own) =>
        own.Length <= PatternHead + PatternTail ? own : string.Concat(own.AsSpan(0, PatternHead), "\n", own.AsSpan(own.Length - PatternTail));

    private struct ScoreSink(float[] weights) : IFeatureSink
    {
        public float Sum;

        public void Add(int index, float value) => Sum += weights[index] * value;
    }
}
