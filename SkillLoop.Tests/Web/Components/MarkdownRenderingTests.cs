using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using SkillLoop.Web.Components.Shared;

namespace SkillLoop.Tests.Web.Components;

/// <summary>
/// Proposal previews and pull request bodies render text that users, clients and models wrote. Each hostile input
/// below was a way to run script in a reviewer's session (or is a close variant); none may leave an element, an
/// attribute or a link that can.
/// </summary>
public sealed class MarkdownRenderingTests
{
    public static TheoryData<string> HostileMarkdown =>
    [
        "![x](x){onerror=alert(1)}",
        "text {onclick=alert(1)}\n\n# Heading {onmouseover=alert(1) .evil #main}",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](java&#09;script:alert(1))",
        "[click](&#106;avascript:alert(1))",
        "[click](\njavascript:alert(1))",
        "<javascript:alert(1)>",
        "[click][evil]\n\n[evil]: javascript:alert(1)",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[click](vbscript:msgbox(1))",
        "![pic](javascript:alert(1))",
        "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
        "inline <span onclick=\"alert(1)\">text</span> here",
        "<svg onload=alert(1)></svg>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<iframe src=\"https://example.com\"></iframe>",
        "<sub onclick=alert(1)>x</sub>",
        "<details open ontoggle=alert(1)><summary>x</summary></details>",
        "::: evil {onclick=alert(1)}\ncontainer\n:::",
        "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
        "- [ ] task <img src=x onerror=alert(1)>",
        "Footnote[^1]\n\n[^1]: [x](javascript:alert(1))",
    ];

    private static readonly HashSet<string> AllowedElements =
    [
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "a", "img", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote",
        "table", "thead", "tbody", "tr", "th", "td", "hr", "br", "sub", "sup", "del", "ins", "mark", "input", "div",
        "section", "span", "s", "kbd", "b", "i", "small",
    ];

    [Theory]
    [MemberData(nameof(HostileMarkdown))]
    public void Hostile_markdown_renders_no_script_no_event_handler_and_no_unsafe_link(string markdown)
    {
        var html = SafeMarkdown.ToHtml(markdown);
        var body = Parse(html);

        foreach (var element in body.QuerySelectorAll("*"))
        {
            Assert.Contains(element.LocalName, AllowedElements);
            foreach (var attribute in element.Attributes)
            {
                Assert.False(attribute.LocalName.StartsWith("on", StringComparison.OrdinalIgnoreCase), $"event handler in {html}");
                Assert.NotEqual("style", attribute.LocalName);
                if (attribute.LocalName is "href" or "src" or "action" or "formaction" or "xlink:href")
                {
                    Assert.True(SafeMarkdown.IsSafeUrl(attribute.Value), $"unsafe {attribute.LocalName}=\"{attribute.Value}\" in {html}");
                    Assert.DoesNotContain("script:", attribute.Value.Replace("\t", "").Replace("\n", ""), StringComparison.OrdinalIgnoreCase);
                }
            }
        }
    }

    [Fact]
    public void A_link_to_another_scheme_keeps_its_text_and_loses_the_link()
    {
        var body = Parse(SafeMarkdown.ToHtml("Read [the guide](javascript:alert(1)) first."));

        Assert.Empty(body.QuerySelectorAll("a"));
        Assert.Equal("Read the guide first.", body.TextContent.Trim());
    }

    [Fact]
    public void Generic_attributes_are_text_not_attributes()
    {
        var body = Parse(SafeMarkdown.ToHtml("![x](x.png){onerror=alert(1)}"));

        var image = Assert.Single(body.QuerySelectorAll("img"));
        Assert.Equal(["src", "alt"], image.Attributes.Select(a => a.LocalName).Order().Reverse().ToArray());
        Assert.Contains("{onerror=alert(1)}", body.TextContent, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[site](https://example.com/a?b=1)", "https://example.com/a?b=1")]
    [InlineData("[site](http://example.com)", "http://example.com")]
    [InlineData("[mail](mailto:team@example.com)", "mailto:team@example.com")]
    [InlineData("[doc](docs/setup.md)", "docs/setup.md")]
    [InlineData("[doc](../a:b.md)", "../a:b.md")]
    [InlineData("[top](#known-pitfalls)", "#known-pitfalls")]
    [InlineData("see https://example.com/x", "https://example.com/x")]
    public void Http_https_mailto_and_relative_links_stay_links_without_referrer(string markdown, string href)
    {
        var link = Assert.Single(Parse(SafeMarkdown.ToHtml(markdown)).QuerySelectorAll("a"));

        Assert.Equal(href, link.GetAttribute("href"));
        Assert.Contains("noopener", link.GetAttribute("rel") ?? "", StringComparison.Ordinal);
        Assert.Contains("noreferrer", link.GetAttribute("rel") ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public void Html_comments_are_hidden_not_shown_as_text()
    {
        var body = Parse(SafeMarkdown.ToHtml(
            "Before <!-- reviewer: ignore this --> after.\n\n<!--\nskillloop:evidence 1,2,3\n-->\n\n## Known pitfalls\n\n<!-- a --> <b>x</b>"));

        Assert.DoesNotContain("reviewer: ignore this", body.TextContent, StringComparison.Ordinal);
        Assert.DoesNotContain("skillloop:evidence", body.TextContent, StringComparison.Ordinal);
        Assert.DoesNotContain("<!--", body.InnerHtml, StringComparison.Ordinal);
        Assert.Contains("Before", body.TextContent, StringComparison.Ordinal);
        Assert.Contains("after.", body.TextContent, StringComparison.Ordinal);
        Assert.Equal("Known pitfalls", body.QuerySelector("h2")!.TextContent);
    }

    [Fact]
    public void Plain_formatting_tags_render_and_other_html_is_shown_as_text()
    {
        var body = Parse(SafeMarkdown.ToHtml("H<sub>2</sub>O and x<sup>2</sup>, <kbd>Ctrl</kbd>.\n\n<div class=\"x\">block</div>\n\nend <span>span</span>"));

        Assert.Equal("2", body.QuerySelector("sub")!.TextContent);
        Assert.Equal("2", body.QuerySelector("sup")!.TextContent);
        Assert.Equal("Ctrl", body.QuerySelector("kbd")!.TextContent);
        Assert.Null(body.QuerySelector("div.x"));
        Assert.Null(body.QuerySelector("span"));
        Assert.Contains("<div class=\"x\">block</div>", body.TextContent, StringComparison.Ordinal);
        Assert.Contains("<span>span</span>", body.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void Ordinary_skill_markdown_renders_as_before()
    {
        var body = Parse(SafeMarkdown.ToHtml("# Reports\n\nRender **the table**.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n\n```sh\necho hi\n```"));

        Assert.Equal("Reports", body.QuerySelector("h1")!.TextContent);
        Assert.Equal("the table", body.QuerySelector("strong")!.TextContent);
        Assert.Equal(2, body.QuerySelectorAll("td").Length);
        Assert.NotNull(body.QuerySelector("input[type=checkbox][checked]"));
        Assert.Equal("echo hi\n", body.QuerySelector("pre code")!.TextContent);
    }

    [Theory]
    [InlineData("javascript:alert(1)", false)]
    [InlineData(" \tjava\nscript:alert(1)", false)]
    [InlineData("\u0001javascript:alert(1)", false)]
    [InlineData("data:text/html,x", false)]
    [InlineData("file:///etc/passwd", false)]
    [InlineData("HTTPS://example.com", true)]
    [InlineData("/proposals/1", true)]
    [InlineData("?a=b:c", true)]
    [InlineData("", true)]
    public void Only_http_https_mailto_and_relative_addresses_are_safe(string url, bool safe) =>
        Assert.Equal(safe, SafeMarkdown.IsSafeUrl(url));

    [Fact]
    public void The_example_corrections_of_a_pull_request_body_render_as_separate_quoted_paragraphs()
    {
        var evidence = new SkillLoop.Core.Proposals.ProposalEvidence(
            7, "pdf-report", "Totals row at the bottom", 3, 3, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(2),
            "The totals row is rendered above the table.", "Nothing says where totals go.", "Totals last.",
            ["no, the totals go at the bottom", "totals belong under the table"], 0.8);
        var change = SkillLoop.Core.Proposals.ProposalWriter.WritePitfall("# PDF\n", evidence);

        var body = Parse(SafeMarkdown.ToHtml(SkillLoop.Core.Proposals.ProposalWriter.Body(evidence, change, null)));

        Assert.Equal(["no, the totals go at the bottom", "totals belong under the table"],
            body.QuerySelectorAll("blockquote p").Select(p => p.TextContent.Trim()));
    }

    private static IElement Parse(string html) => new HtmlParser().ParseDocument($"<html><body>{html}</body></html>").Body!;
}
