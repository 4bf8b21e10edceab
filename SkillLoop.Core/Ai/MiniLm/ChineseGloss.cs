using System.IO.Compression;
using System.Text;

namespace SkillLoop.Core.Ai.MiniLm;

/// <summary>
/// Makes Chinese text readable to the English-only MiniLM: Han text is segmented by longest match over a
/// CC-CEDICT-derived word list and each word replaced by its short English gloss ("合计" → "add up the total");
/// Han characters without a gloss are split one per word, as BERT's basic tokenizer does, so each reaches the model
/// as its own token instead of a whole run becoming one [UNK]. Text without Han characters is returned unchanged.
/// The table (2 MB compressed, CC BY-SA 4.0, see Data/cedict-gloss.NOTICE.md) is loaded on first use.
/// </summary>
public static class ChineseGloss
{
    private const string Resource = "SkillLoop.Core.Ai.MiniLm.Data.cedict-gloss.tsv.gz";
    private static readonly Lazy<(Dictionary<string, string> Words, int Longest)> Table = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    public static bool ContainsHan(string text)
    {
        foreach (var c in text)
        {
            if (IsHan(c))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The text with its Han runs glossed in English (see the class remarks).</summary>
    public static string Prepare(string text)
    {
        if (!ContainsHan(text))
        {
            return text;
        }

        var (words, longest) = Table.Value;
        var result = new StringBuilder(text.Length * 3);
        var i = 0;
        while (i < text.Length)
        {
            if (!IsHan(text[i]))
            {
                result.Append(text[i++]);
                continue;
            }

            var run = i;
            while (run < text.Length && IsHan(text[run]))
            {
                run++;
            }

            // Longest match first, within the run of Han characters.
            while (i < run)
            {
                var matched = false;
                for (var length = Math.Min(longest, run - i); length >= 1; length--)
                {
                    if (words.TryGetValue(text.Substring(i, length), out var gloss))
                    {
                        result.Append(' ').Append(gloss).Append(' ');
                        i += length;
                        matched = true;
                        break;
                    }
                }

                if (!matched)
                {
                    result.Append(' ').Append(text[i]).Append(' ');
                    i++;
                }
            }
        }

        return result.ToString();
    }

    /// <summary>CJK Unified Ideographs and Extension A (what BERT's basic tokenizer splits, less the rare planes).</summary>
    private static bool IsHan(char c) => c is >= '\u4E00' and <= '\u9FFF' or >= '\u3400' and <= '\u4DBF' or >= '\uF900' and <= '\uFAFF';

    private static (Dictionary<string, string>, int) Load()
    {
        using var stream = typeof(ChineseGloss).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"The Chinese gloss table {Resource} is missing from SkillLoop.Core.");
        using var reader = new StreamReader(new GZipStream(stream, CompressionMode.Decompress), Encoding.UTF8);
        var words = new Dictionary<string, string>(200_000, StringComparer.Ordinal);
        var longest = 1;
        while (reader.ReadLine() is { } line)
        {
            var tab = line.IndexOf('\t', StringComparison.Ordinal);
            if (tab <= 0 || line[0] == '#')
            {
                continue;
            }

            var word = line[..tab];
            words[word] = line[(tab + 1)..];
            longest = Math.Max(longest, Math.Min(word.Length, 8));
        }

        return (words, longest);
    }
}
