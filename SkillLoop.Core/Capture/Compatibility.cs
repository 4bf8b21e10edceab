using System.Text;

namespace SkillLoop.Core.Capture;

/// <summary>
/// Unicode compatibility folding (NFKC) that works in this build: the server runs with invariant globalization, where
/// <see cref="string.Normalize(NormalizationForm)"/> leaves non-ASCII text as it is. The lookalike forms people use to
/// pass for someone else are folded by hand: full-width forms, mathematical alphanumerics, circled and enclosed
/// letters, ligatures, super- and subscript digits, the Kelvin and Ångström signs, and odd spaces.
/// </summary>
public static class Compatibility
{
    public static string Fold(string text)
    {
        try
        {
            text = text.Normalize(NormalizationForm.FormKC); // complete where ICU is present
        }
        catch (ArgumentException)
        {
            // ill-formed UTF-16: folded rune by rune below
        }

        var builder = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            builder.Append(FoldRune(rune.Value));
        }

        return builder.ToString();
    }

    private static string FoldRune(int c) => c switch
    {
        >= 0xFF01 and <= 0xFF5E => ((char)(c - 0xFEE0)).ToString(), // full-width ASCII
        0x3000 or 0x00A0 or (>= 0x2000 and <= 0x200A) or 0x202F or 0x205F => " ",
        >= 0x1D400 and <= 0x1D6A3 => Letter((c - 0x1D400) % 52), // mathematical bold, italic, script, fraktur, double-struck, sans, mono
        >= 0x1D7CE and <= 0x1D7FF => ((char)('0' + ((c - 0x1D7CE) % 10))).ToString(),
        >= 0x24B6 and <= 0x24CF => ((char)('A' + (c - 0x24B6))).ToString(), // circled capitals
        >= 0x24D0 and <= 0x24E9 => ((char)('a' + (c - 0x24D0))).ToString(),
        >= 0x1F130 and <= 0x1F149 => ((char)('A' + (c - 0x1F130))).ToString(), // squared capitals
        >= 0x1F150 and <= 0x1F169 => ((char)('A' + (c - 0x1F150))).ToString(), // negative circled
        >= 0x1F170 and <= 0x1F189 => ((char)('A' + (c - 0x1F170))).ToString(), // negative squared
        >= 0x2460 and <= 0x2468 => ((char)('1' + (c - 0x2460))).ToString(), // circled digits
        0x2070 => "0", 0x00B9 => "1", 0x00B2 => "2", 0x00B3 => "3",
        >= 0x2074 and <= 0x2079 => ((char)('4' + (c - 0x2074))).ToString(),
        >= 0x2080 and <= 0x2089 => ((char)('0' + (c - 0x2080))).ToString(),
        0xFB00 => "ff", 0xFB01 => "fi", 0xFB02 => "fl", 0xFB03 => "ffi", 0xFB04 => "ffl", 0xFB05 or 0xFB06 => "st",
        0x212A => "K", 0x212B => "Å", 0x2102 => "C", 0x210A => "g", 0x210B or 0x210C or 0x210D => "H", 0x210E => "h", 0x2110 or 0x2111 => "I",
        0x2112 => "L", 0x2113 => "l", 0x2115 => "N", 0x2119 => "P", 0x211A => "Q", 0x211B or 0x211C or 0x211D => "R", 0x2124 => "Z",
        0x212C => "B", 0x212D => "C", 0x212F => "e", 0x2130 => "E", 0x2131 => "F", 0x2133 => "M", 0x2134 => "o", 0x2139 => "i",
        0xFE6B or 0xFF20 => "@", 0xFE52 => ".", 0xFE63 => "-", 0xFE62 => "+",
        _ => char.ConvertFromUtf32(c),
    };

    private static string Letter(int index) => ((char)(index < 26 ? 'A' + index : 'a' + index - 26)).ToString();
}
