using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SkillLoop.Core.Extraction;

/// <summary>
/// Plain-text handling of a user's correction for the model-free paths (heuristic issues, cluster titles, the
/// "Known pitfalls" entry): sentences split only where a sentence ends, and the lead-in that only says "wrong"
/// dropped, so what is left is the problem in the person's own words.
/// </summary>
public static partial class CorrectionText
{
    // Words that end with a full stop without ending a sentence ("e.g. the .env file").
    private static readonly HashSet<string> Abbreviations = new(StringComparer.OrdinalIgnoreCase)
    {
        "e.g", "i.e", "eg", "ie", "etc", "vs", "cf", "approx", "incl", "esp", "mr", "mrs", "ms", "dr", "no",
    };

    /// <summary>
    /// The sentences of <paramref name="text"/>. A sentence ends at <c>. ! ? …</c> followed by white space or the end
    /// (so not inside <c>.env</c>, <c>queue.url</c>, <c>v1.2.3</c>, file names or URLs, nor after "e.g."), at
    /// <c>。！？</c>, and at a line break.
    /// </summary>
    public static IReadOnlyList<string> Sentences(string text)
    {
        var sentences = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var end = -1;
            if (c is '\n' or '\r')
            {
                end = i;
            }
            else if (c is '。' or '！' or '？' or '；')
            {
                end = ConsumeClosers(text, i + 1);
            }
            else if (c is '.' or '!' or '?' or '…')
            {
                var after = i + 1;
                while (after < text.Length && text[after] is '.' or '!' or '?' or '…')
                {
                    after++;
                }

                after = ConsumeClosers(text, after);
                if ((after == text.Length || char.IsWhiteSpace(text[after])) && !(c == '.' && after == i + 1 && IsAbbreviation(text, i)))
                {
                    end = after;
                }
                else
                {
                    i = after - 1;
                }
            }

            if (end >= 0)
            {
                Add(text[start..end]);
                start = end;
                i = Math.Max(i, end - 1);
            }
        }

        Add(text[start..]);
        return sentences;

        void Add(string sentence)
        {
            sentence = sentence.Trim();
            if (sentence.Length > 0)
            {
                sentences.Add(sentence);
            }
        }
    }

    /// <summary>The first sentence, with the next ones added while it is shorter than <paramref name="minLength"/> ("No. Use pnpm.").</summary>
    public static string FirstSentence(string text, int minLength = 12)
    {
        var result = new StringBuilder();
        foreach (var sentence in Sentences(text))
        {
            if (result.Length > 0)
            {
                result.Append(' ');
            }

            result.Append(sentence);
            if (result.Length >= minLength)
            {
                break;
            }
        }

        return result.ToString();
    }

    /// <summary>
    /// The correction without its lead-in: "no, that's wrong — read it from .env" → "read it from .env";
    /// "不对，应该用 pnpm" → "应该用 pnpm". Text that is all lead-in is returned as it was.
    /// </summary>
    public static string StripLeadIn(string text)
    {
        var trimmed = Whitespace().Replace(text, " ").Trim();
        var stripped = LeadIn().Replace(trimmed, "", 1).Trim();
        return stripped.Length >= 3 ? stripped : trimmed;
    }

    /// <summary>The problem in the person's own words: the first real sentence after the lead-in, cut to <paramref name="max"/>.</summary>
    public static string OwnWords(string correction, int max = 200) =>
        Cut(FirstSentence(StripLeadIn(correction)), max);

    /// <summary>A short title: the person's own words with a capital letter, at most <paramref name="max"/> characters.</summary>
    public static string Title(string correction, int max = 90) => Capitalize(OwnWords(correction, max));

    public static string Capitalize(string text) =>
        text.Length > 0 && char.IsLower(text[0]) ? char.ToUpper(text[0], CultureInfo.InvariantCulture) + text[1..] : text;

    public static string Cut(string text, int length) =>
        text.Length <= length ? text : text[..(length - 1)].TrimEnd() + "…";

    private static int ConsumeClosers(string text, int index)
    {
        while (index < text.Length && text[index] is '"' or '\'' or ')' or ']' or '”' or '’' or '」' or '）' or '*' or '_' or '`')
        {
            index++;
        }

        return index;
    }

    private static bool IsAbbreviation(string text, int dot)
    {
        var start = dot;
        while (start > 0 && (char.IsLetter(text[start - 1]) || text[start - 1] == '.'))
        {
            start--;
        }

        var word = text[start..dot];
        // "No." alone opens many corrections ("No. Use pnpm."): only an abbreviation when a number follows ("No. 5").
        if (word.Equals("no", StringComparison.OrdinalIgnoreCase))
        {
            var next = dot + 1;
            while (next < text.Length && text[next] == ' ')
            {
                next++;
            }

            return next < text.Length && char.IsDigit(text[next]);
        }

        return word.Length > 0 && Abbreviations.Contains(word);
    }

    // Repeated: "No, no. That's wrong —", "wrong again:", "不对，不是这样。". The separators are required so a word
    // that starts the real sentence ("no tests were run") is kept.
    [GeneratedRegex(@"^(?:(?:(?:no+|nope|nah|wrong|incorrect|not (?:quite|right|correct)|that'?s (?:not (?:right|correct|it|what i (?:asked|wanted))|wrong|incorrect)|this is (?:wrong|incorrect|not right)|(?:wrong|no) again|ugh+|hmm+|argh+|oops|actually|wait|come on)\s*[,.!:;—–-]+|不对|不是这样|不是的|错了|不行|不正确)[\s,.!?:;，。！？：；、—–-]*)+", RegexOptions.IgnoreCase)]
    private static partial Regex LeadIn();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
