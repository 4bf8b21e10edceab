using System.Text.RegularExpressions;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Hooks.Detection;

/// <summary>A correction pattern that matched one text.</summary>
/// <param name="Force">The pattern's admin override (<see cref="CorrectionPattern.Force"/>), or null.</param>
public sealed record CorrectionMatch(string PatternId, string Category, double Confidence, int Index, int Length, string? Force = null);

/// <summary>
/// Decides whether one human message corrects the agent. Guard patterns (category "guard") blank out look-alikes
/// ("no problem", "没问题", "不对称", questions about errors) first, so "no problem, but you forgot the tests" still
/// matches on "you forgot". Patterns are compiled once per detector; invalid regexes are ignored, not fatal,
/// because patterns come from the server.
/// </summary>
public sealed class CorrectionDetector
{
    // Server-supplied regexes must not be able to hang a hook worker.
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);
    private const RegexOptions Options = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Multiline;

    // Long pastes (logs, files) are mostly not the user's words: look at the head and the tail.
    private const int HeadChars = 2000;
    private const int TailChars = 1000;

    private readonly (CorrectionPattern Pattern, Regex Regex)[] _guards;
    private readonly (CorrectionPattern Pattern, Regex Regex)[] _corrections;

    public CorrectionDetector(IEnumerable<CorrectionPattern> patterns) : this(patterns, linearPrefilter: true)
    {
    }

    /// <param name="linearPrefilter">
    /// Whether to build the linear-time prefilter (the same matches either way). A long-lived detector wants it. The
    /// hook's short-lived worker does not: building it costs ~0.4 s of CPU at every hook firing and keeps ~31 MB (the
    /// non-backtracking automata of ~100 case-insensitive patterns), growing past 60 MB as their DFA caches fill over
    /// a backlog (75,000 corrections: peak 99 MB with it, 58 MB without, the same CPU time), to save ~0.1 ms a turn.
    /// </param>
    public CorrectionDetector(IEnumerable<CorrectionPattern> patterns, bool linearPrefilter)
    {
        var guards = new List<(CorrectionPattern, Regex)>();
        var corrections = new List<(CorrectionPattern, Regex)>();
        foreach (var pattern in patterns)
        {
            if (!pattern.Enabled || string.IsNullOrWhiteSpace(pattern.Regex))
                continue;
            Regex regex;
            try
            {
                regex = new Regex(pattern.Regex, Options, MatchTimeout);
            }
            catch (ArgumentException)
            {
                continue;
            }
            (IsGuard(pattern) ? guards : corrections).Add((pattern, regex));
        }
        _guards = [.. guards];
        _corrections = [.. corrections];
        _chunks = linearPrefilter ? Chunk(_corrections) : null;
    }

    // Linear-time passes over the text for a dozen correction patterns at a time: most turns match none of them, and
    // running ~90 backtracking regexes one by one over every turn costs far more than the learned model. (All of them
    // in one automaton exceeds the engine's size limit.)
    private const int ChunkSize = 12;
    private readonly Regex?[]? _chunks; // null without the prefilter: every pattern runs

    private static Regex?[] Chunk((CorrectionPattern Pattern, Regex Regex)[] corrections)
    {
        var chunks = new Regex?[(corrections.Length + ChunkSize - 1) / ChunkSize];
        for (var i = 0; i < chunks.Length; i++)
        {
            var members = corrections.Skip(i * ChunkSize).Take(ChunkSize).Select(c => "(?:" + c.Pattern.Regex + ")");
            try
            {
                chunks[i] = new Regex(string.Join("|", members), Options | RegexOptions.NonBacktracking | RegexOptions.ExplicitCapture, MatchTimeout);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException)
            {
                chunks[i] = null; // a construct the linear engine lacks (look-arounds, back-references): run them one by one
            }
        }
        return chunks;
    }

    private static bool ChunkMayMatch(Regex? chunk, string text)
    {
        if (chunk is not { } regex)
            return true;
        try
        {
            return regex.IsMatch(text);
        }
        catch (RegexMatchTimeoutException)
        {
            return true;
        }
    }

    public int PatternCount => _corrections.Length;

    public int GuardCount => _guards.Length;

    /// <summary>The first correction pattern (in pattern order) matching <paramref name="text"/>, or null.</summary>
    public CorrectionMatch? Match(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        var prepared = Prepare(text);
        if (prepared.Length == 0)
            return null;
        for (var index = 0; index < _corrections.Length; index++)
        {
            if (TryMatch(index, prepared, text.Length) is { } match)
                return match;
        }
        return null;
    }

    /// <summary>
    /// Every correction pattern matching <paramref name="text"/> (after guards), in pattern order, added to
    /// <paramref name="into"/>: the learned detector uses them all as features, and forced patterns decide outright.
    /// </summary>
    public void MatchAll(string text, List<CorrectionMatch> into)
    {
        if (string.IsNullOrWhiteSpace(text))
            return;
        // Guards and quote stripping only blank text out, so a pattern that does not match the text as given does not
        // match it after them either: the chunk passes decide which patterns are worth running.
        var chunks = _chunks;
        Span<bool> candidates = stackalloc bool[chunks?.Length ?? 0];
        if (chunks is not null)
        {
            var any = false;
            for (var i = 0; i < chunks.Length; i++)
                any |= candidates[i] = ChunkMayMatch(chunks[i], text);
            if (!any)
                return;
        }
        var prepared = Prepare(text);
        if (prepared.Length == 0)
            return;
        for (var index = 0; index < _corrections.Length; index++)
        {
            if ((chunks is null || candidates[index / ChunkSize]) && TryMatch(index, prepared, text.Length) is { } match)
                into.Add(match);
        }
    }

    /// <summary>Pattern <paramref name="index"/> run over the prepared text; a pattern that times out does not match.</summary>
    private CorrectionMatch? TryMatch(int index, string prepared, int textLength)
    {
        var (pattern, regex) = _corrections[index];
        Match m;
        try
        {
            m = regex.Match(prepared);
        }
        catch (RegexMatchTimeoutException)
        {
            // The timeout is wall-clock time: on a busy machine a GC pause or a descheduled thread can stop a harmless
            // match, and the same turn would be judged differently from one run to the next. Only a pattern that is
            // slow a second time is taken as too slow for this text.
            try
            {
                m = regex.Match(prepared);
            }
            catch (RegexMatchTimeoutException)
            {
                return null;
            }
        }
        return m.Success
            ? new CorrectionMatch(pattern.Id, pattern.Category, Confidence(pattern.Category, m.Index, textLength), m.Index, m.Length, pattern.Force)
            : null;
    }

    /// <summary>How sure a match is: by category, higher when it opens the message, lower in a long message.</summary>
    public static double Confidence(string category, int index, int textLength)
    {
        var confidence = category switch
        {
            DefaultPatterns.Rejection => 0.85,
            DefaultPatterns.Omission => 0.75,
            DefaultPatterns.Redirection => 0.7,
            DefaultPatterns.Repeat => 0.7,
            DefaultPatterns.Stop => 0.65,
            _ => 0.6,
        };
        if (index <= 2)
            confidence += 0.1;
        if (textLength > 500)
            confidence -= 0.2;
        return Math.Round(Math.Clamp(confidence, 0.05, 0.99), 2);
    }

    private string Prepare(string text)
    {
        text = StripQuotedMaterial(text);
        if (text.Length > HeadChars + TailChars)
            text = string.Concat(text.AsSpan(0, HeadChars), "\n", text.AsSpan(text.Length - TailChars));
        foreach (var (_, guard) in _guards)
        {
            try
            {
                text = guard.Replace(text, static m => new string(' ', m.Length));
            }
            catch (RegexMatchTimeoutException)
            {
                try
                {
                    text = guard.Replace(text, static m => new string(' ', m.Length)); // once more, as for patterns
                }
                catch (RegexMatchTimeoutException)
                {
                    // A slow guard simply does not apply.
                }
            }
        }
        return text.Trim();
    }

    // Code blocks, inline code and quoted lines are someone else's words (pasted code, logs, the agent's text).
    private static string StripQuotedMaterial(string text)
    {
        if (!text.Contains('`') && !text.Contains('>'))
            return text;
        var result = new System.Text.StringBuilder(text.Length);
        var inFence = false;
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.TrimStart();
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inFence = !inFence;
                continue;
            }
            if (inFence || line.StartsWith('>'))
                continue;
            result.Append(StripInlineCode(rawLine)).Append('\n');
        }
        return result.ToString();
    }

    private static string StripInlineCode(string line)
    {
        var first = line.IndexOf('`');
        if (first < 0)
            return line;
        var result = new System.Text.StringBuilder(line.Length);
        var inCode = false;
        foreach (var c in line)
        {
            if (c == '`')
                inCode = !inCode;
            else
                result.Append(inCode ? ' ' : c);
        }
        return result.ToString();
    }

    private static bool IsGuard(CorrectionPattern pattern) =>
        string.Equals(pattern.Category, DefaultPatterns.Guard, StringComparison.OrdinalIgnoreCase);
}
