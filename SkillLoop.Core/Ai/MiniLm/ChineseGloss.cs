using System.IO.Compression;
using System.Text;

namespace SkillLoop.Core.Ai.MiniLm;

/// <summary>
/// Makes Chinese text readable to the English-only MiniLM: Han text is segmented by longest match (from the end of
/// each run) over a CC-CEDICT-derived word list and each word replaced by its short English gloss ("合计" → "total");
/// particles are dropped and function words read as the one English word they mean ("不要" → "don't"). Han
/// characters without a gloss are split one per word, as BERT's basic tokenizer does, so each reaches the model as
/// its own token instead of a whole run becoming one [UNK]. Latin text (code, English words in a Chinese sentence)
/// is kept as written. Text without Han characters is returned unchanged.
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

        var (table, longest) = Table.Value;
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

            // Longest match from the end of the run (backward maximum matching): it splits Chinese right more often than
            // matching from the start ("把总计" is 把 + 总计 "total", not 把总 "a Ming officer" + 计).
            var words = new List<string>();
            for (var end = run; end > i;)
            {
                var length = Math.Min(longest, end - i);
                while (length > 1 && !table.ContainsKey(text.Substring(end - length, length)))
                {
                    length--;
                }

                words.Add(text.Substring(end - length, length));
                end -= length;
            }

            for (var w = words.Count - 1; w >= 0; w--)
            {
                if (!table.TryGetValue(words[w], out var gloss))
                {
                    result.Append(' ').Append(words[w]).Append(' ');
                }
                else if (gloss.Length > 0)
                {
                    result.Append(' ').Append(gloss).Append(' ');
                }

                // An empty gloss is a particle (的, 了, 吗): dropped, as its dictionary note would only add noise.
            }

            i = run;
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
