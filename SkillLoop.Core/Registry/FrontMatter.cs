namespace SkillLoop.Core.Registry;

/// <summary>
/// The YAML front matter of a skill or agent file (<c>---</c> … <c>---</c> at the very top). Only what skills use is
/// read: <c>key: value</c> pairs, quoted values and folded/literal blocks (<c>&gt;</c>, <c>|</c>); nested maps and
/// lists are kept as their raw text.
/// </summary>
public sealed record FrontMatter(IReadOnlyDictionary<string, string> Values, int BodyStart)
{
    public static readonly FrontMatter None = new(new Dictionary<string, string>(), 0);

    public string? this[string key] => Values.TryGetValue(key, out var value) && value.Length > 0 ? value : null;

    /// <summary>Whether the text starts with a front matter block at all (valid or not).</summary>
    public static bool StartsWithBlock(string text) => text.StartsWith("---\n", StringComparison.Ordinal) || text.StartsWith("---\r\n", StringComparison.Ordinal);

    /// <summary>Parses the block; <c>false</c> when the text has one that is not closed or has a line that is no key.</summary>
    public static bool TryParse(string text, out FrontMatter frontMatter)
    {
        frontMatter = None;
        if (!StartsWithBlock(text))
        {
            return true;
        }

        var lines = text.Split('\n');
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var offset = lines[0].Length + 1;
        string? blockKey = null;
        var block = new List<string>();
        var folded = false;
        for (var i = 1; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            offset += lines[i].Length + 1;
            if (line == "---")
            {
                Flush();
                frontMatter = new FrontMatter(values, Math.Min(offset, text.Length));
                return true;
            }

            if (blockKey is not null && (line.Length == 0 || char.IsWhiteSpace(line[0])))
            {
                block.Add(line.Trim());
                continue;
            }

            Flush();
            if (line.Length == 0 || line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            var colon = line.IndexOf(':');
            if (char.IsWhiteSpace(line[0]) || line.StartsWith("- ", StringComparison.Ordinal))
            {
                continue; // part of a nested map or list: not read
            }

            if (colon <= 0)
            {
                return false;
            }

            var key = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (value is ">" or ">-" or "|" or "|-")
            {
                blockKey = key;
                folded = value[0] == '>';
                continue;
            }

            values[key] = Unquote(value);
        }

        return false; // never closed

        void Flush()
        {
            if (blockKey is null)
            {
                return;
            }

            values[blockKey] = string.Join(folded ? " " : "\n", block.Where(l => l.Length > 0));
            blockKey = null;
            block.Clear();
        }
    }

    private static string Unquote(string value)
    {
        if (value.Length >= 2 && ((value[0] == '"' && value[^1] == '"') || (value[0] == '\'' && value[^1] == '\'')))
        {
            var inner = value[1..^1];
            return value[0] == '"' ? inner.Replace("\\\"", "\"", StringComparison.Ordinal) : inner.Replace("''", "'", StringComparison.Ordinal);
        }

        var comment = value.IndexOf(" #", StringComparison.Ordinal);
        return comment >= 0 ? value[..comment].TrimEnd() : value;
    }
}
