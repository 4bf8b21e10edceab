using System.Text.RegularExpressions;
using Markdig;
using Markdig.Renderers;
using Markdig.Renderers.Html;
using Markdig.Renderers.Html.Inlines;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace SkillLoop.Web.Components.Shared;

/// <summary>
/// Markdown to HTML for text that users, clients and models wrote (proposals, pull request bodies). Nothing in the
/// source can add markup of its own: no generic attributes (<c>{onerror=…}</c>), no raw HTML (shown as text, except a
/// few attribute-less inline tags such as <c>&lt;sub&gt;</c>), HTML comments hidden, and links and images only to
/// http, https, mailto or relative addresses (anything else keeps its text and loses the link). The page's
/// Content-Security-Policy is the second wall, not the first.
/// </summary>
public static partial class SafeMarkdown
{
    // Chosen one by one instead of UseAdvancedExtensions: that bundle includes generic attributes, custom containers
    // (classes from the source) and auto-identifiers (element ids from the source, which can clobber the page's own).
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .UseAlertBlocks()
        .UseEmphasisExtras()
        .UsePipeTables()
        .UseGridTables()
        .UseListExtras()
        .UseTaskLists()
        .UseFootnotes()
        .UseAutoLinks()
        .UseReferralLinks("noopener", "noreferrer", "nofollow")
        .Build();

    private static readonly HashSet<string> SafeSchemes = new(StringComparer.OrdinalIgnoreCase) { "http", "https", "mailto" };

    public static string ToHtml(string? markdown)
    {
        var document = Markdown.Parse(markdown ?? "", Pipeline);
        Unlink(document);

        using var writer = new StringWriter();
        var renderer = new HtmlRenderer(writer);
        Pipeline.Setup(renderer);
        renderer.ObjectRenderers.Replace<HtmlBlockRenderer>(new HtmlBlockAsText());
        renderer.ObjectRenderers.Replace<HtmlInlineRenderer>(new HtmlInlineAsText());
        renderer.Render(document);
        writer.Flush();
        return writer.ToString();
    }

    /// <summary>
    /// Whether a link may point at <paramref name="url"/>: no scheme (relative, fragment, query) or http, https, mailto.
    /// Browsers drop tabs, newlines and leading control characters and spaces before they read a scheme, so those are
    /// dropped here too ("java&#9;script:" is "javascript:").
    /// </summary>
    public static bool IsSafeUrl(string? url)
    {
        if (string.IsNullOrEmpty(url))
            return true;
        var compact = string.Concat(url.Where(c => c > ' ' && c != '\u007f'));
        var colon = compact.IndexOf(':');
        if (colon < 0)
            return true;
        var pathStart = compact.IndexOfAny(['/', '?', '#', '\\']);
        if (pathStart >= 0 && pathStart < colon)
            return true; // "docs/a:b.md" is a relative path, not a scheme
        return SafeSchemes.Contains(compact[..colon]);
    }

    /// <summary>Links and images to other schemes are replaced by their text (an image by its description).</summary>
    private static void Unlink(MarkdownDocument document)
    {
        foreach (var link in document.Descendants<LinkInline>().Where(l => !IsSafeUrl(l.Url)).ToList())
        {
            var inner = link.FirstChild;
            while (inner is not null)
            {
                var next = inner.NextSibling;
                inner.Remove();
                link.InsertBefore(inner);
                inner = next;
            }

            link.Remove();
        }

        foreach (var autolink in document.Descendants<AutolinkInline>().Where(l => !IsSafeUrl(l.Url)).ToList())
        {
            autolink.ReplaceBy(new LiteralInline(autolink.Url));
        }
    }

    /// <summary>An HTML block is shown as text; its comments are hidden.</summary>
    private sealed class HtmlBlockAsText : HtmlObjectRenderer<HtmlBlock>
    {
        protected override void Write(HtmlRenderer renderer, HtmlBlock block)
        {
            var text = Comment().Replace(string.Join('\n', block.Lines.Lines.Take(block.Lines.Count).Select(l => l.Slice.ToString())), "");
            if (string.IsNullOrWhiteSpace(text))
                return;
            renderer.Write("<p>").WriteEscape(text.Trim()).Write("</p>").WriteLine();
        }
    }

    /// <summary>Inline HTML is shown as text, except attribute-less formatting tags; comments are hidden.</summary>
    private sealed class HtmlInlineAsText : HtmlObjectRenderer<HtmlInline>
    {
        protected override void Write(HtmlRenderer renderer, HtmlInline inline)
        {
            var tag = inline.Tag ?? "";
            if (tag.StartsWith("<!--", StringComparison.Ordinal))
                return;
            var plain = PlainTag().Match(tag);
            if (plain.Success)
            {
                renderer.Write('<').Write(plain.Groups[1].Value).Write(plain.Groups[2].Value.ToLowerInvariant()).Write('>');
                return;
            }

            renderer.WriteEscape(tag);
        }
    }

    [GeneratedRegex("<!--.*?(-->|$)", RegexOptions.Singleline)]
    private static partial Regex Comment();

    [GeneratedRegex(@"^<(/?)(sub|sup|kbd|br|b|i|em|strong|s|del|ins|mark|small|code)\s*/?>$", RegexOptions.IgnoreCase)]
    private static partial Regex PlainTag();
}
