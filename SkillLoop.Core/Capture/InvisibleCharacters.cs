using System.Buffers;
using System.Globalization;
using System.Text;

namespace SkillLoop.Core.Capture;

/// <summary>
/// Characters a reader cannot see but a model reads: Unicode tags (U+E0000–E007F, "ASCII smuggling"), bidi controls,
/// zero-width and other format characters, variation selectors, Hangul fillers and control characters. They are
/// stripped from everything that can reach a proposal, so no instruction hides in a correction, an issue or a
/// model's answer.
/// </summary>
public static class InvisibleCharacters
{
    /// <summary>True for a character (or surrogate pair's code point) that renders as nothing or reorders text.</summary>
    public static bool IsInvisible(int codePoint) =>
        codePoint is (>= 0xE0000 and <= 0xE007F) // tags
            or (>= 0xE0100 and <= 0xE01EF) // variation selectors supplement
            or (>= 0xFE00 and <= 0xFE0F) // variation selectors
            or 0x115F or 0x1160 or 0x3164 or 0xFFA0 // Hangul fillers
            or 0x034F or 0x180E or 0x00AD // combining grapheme joiner, Mongolian vowel separator, soft hyphen
            || (codePoint < 0x10FFFF && !IsSurrogate(codePoint) && Category(codePoint) == UnicodeCategory.Format)
            || (codePoint is < 0x20 or (>= 0x7F and < 0xA0) && codePoint is not ('\n' or '\t' or '\r'));

    /// <summary>The text without invisible characters (null stays null).</summary>
    public static string? Strip(string? text) => text is null ? null : Strip(text, out _);

    /// <summary>The text without invisible characters; <paramref name="removed"/> counts what was taken out.</summary>
    public static string Strip(string text, out int removed)
    {
        removed = 0;
        if (!Contains(text))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (IsInvisible(rune.Value))
            {
                removed++;
                continue;
            }

            builder.Append(rune.ToString());
        }

        return builder.ToString();
    }

    /// <summary>True when the text holds at least one invisible character.</summary>
    public static bool Contains(string text)
    {
        // Most text is printable ASCII: one vectorised scan passes over it (the rune walk costs a few ns a character,
        // tens of milliseconds for an 8 MB batch), and only the rest is looked at rune by rune.
        var first = text.AsSpan().IndexOfAnyExcept(PlainAscii);
        if (first < 0)
        {
            return false;
        }

        foreach (var rune in text.AsSpan(first).EnumerateRunes())
        {
            if (IsInvisible(rune.Value))
            {
                return true;
            }
        }

        return false;
    }

    private static readonly SearchValues<char> PlainAscii = SearchValues.Create("\t\n\r" + new string([.. Enumerable.Range(0x20, 0x7F - 0x20).Select(c => (char)c)]));

    private static bool IsSurrogate(int codePoint) => codePoint is >= 0xD800 and <= 0xDFFF;

    private static UnicodeCategory Category(int codePoint) => CharUnicodeInfo.GetUnicodeCategory(codePoint);
}
