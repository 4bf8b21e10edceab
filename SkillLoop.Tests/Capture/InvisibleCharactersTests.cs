using SkillLoop.Core.Capture;

namespace SkillLoop.Tests.Capture;

/// <summary>Issue 16, item 3: what a reader cannot see but a model reads is taken out; what a reader sees stays.</summary>
public sealed class InvisibleCharactersTests
{
    /// <summary>Unicode tags spelling "Ignore", a zero-width space and a right-to-left override: what a hostile text hides.</summary>
    internal const string Hidden = "\U000E0049\U000E0067\U000E006E\U000E006F\U000E0072\U000E0065\u200B\u202E";

    [Theory]
    [InlineData("\U000E0049\U000E0067\U000E006E", "Unicode tags (ASCII smuggling)")]
    [InlineData("\u202E\u2066\u200F", "bidi controls")]
    [InlineData("\u200B\u200C\u200D\u2060\uFEFF", "zero-width characters")]
    [InlineData("\uFE0F\U000E0100", "variation selectors")]
    [InlineData("\u3164\u115F\uFFA0", "Hangul fillers")]
    [InlineData("\u00AD\u034F\u180E", "soft hyphen, combining grapheme joiner, Mongolian vowel separator")]
    [InlineData("\u0007\u001B\u009B", "control characters")]
    public void Each_kind_of_invisible_character_is_found_and_stripped(string hidden, string kind)
    {
        var text = $"keep the totals{hidden} row last";

        Assert.True(InvisibleCharacters.Contains(text), kind);
        Assert.Equal("keep the totals row last", InvisibleCharacters.Strip(text, out var removed));
        Assert.Equal(hidden.EnumerateRunes().Count(), removed);
    }

    [Theory]
    [InlineData("plain ASCII, tabs\tand\r\nline breaks")]
    [InlineData("不对，应该把合计行放在最后")]
    [InlineData("naïve café — “quoted” 👍🏽 ünïcödé")]
    public void Visible_text_of_any_script_is_left_as_it_is(string text)
    {
        Assert.False(InvisibleCharacters.Contains(text));
        Assert.Same(text, InvisibleCharacters.Strip(text, out var removed));
        Assert.Equal(0, removed);
    }
}
