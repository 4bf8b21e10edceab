using System.Text;

namespace SkillLoop.Hooks.Detection;

/// <summary>A human turn split into the person's own words and what they pasted.</summary>
/// <param name="Text">The person's own words: pasted lines removed, one line per kept line.</param>
/// <param name="PastedChars">Characters of the turn judged pasted (fenced or quoted blocks, logs, stack traces, tool output).</param>
/// <param name="TotalChars">Characters of the whole turn.</param>
public readonly record struct OwnWordsSplit(string Text, int PastedChars, int TotalChars)
{
    public bool HasPaste => PastedChars > 0;

    public double PastedFraction => TotalChars == 0 ? 0 : (double)PastedChars / TotalChars;
}

/// <summary>
/// Separates what a person typed from what they pasted, line by line, before anything is scored: error text pasted
/// without fences ("Did you forget to run …" from a tool, stack traces, log lines, an error page) must not read as
/// the person blaming the agent. Hand-written checks rather than regexes: this runs on every human turn.
/// </summary>
public static class OwnWords
{
    // Very long turns are almost all paste: only the head and the tail can hold the person's words.
    private const int HeadChars = 4000;
    private const int TailChars = 2000;

    public static OwnWordsSplit Split(string? text, string? previous = null)
    {
        if (string.IsNullOrEmpty(text))
            return new OwnWordsSplit("", 0, 0);
        var total = text.Length;
        var source = text.Length > HeadChars + TailChars
            ? string.Concat(text.AsSpan(0, HeadChars), "\n", text.AsSpan(text.Length - TailChars))
            : text;
        var pasted = total - source.Length + 1;
        if (source.Length == text.Length)
            pasted = 0;

        var own = new StringBuilder(Math.Min(source.Length, 1024));
        var inFence = false;
        var lines = source.AsSpan();
        var pasteRun = 0; // consecutive paste-like lines: a short line inside a paste block is paste too
        while (lines.Length > 0)
        {
            var end = lines.IndexOf('\n');
            var line = end < 0 ? lines : lines[..end];
            lines = end < 0 ? [] : lines[(end + 1)..];
            var trimmed = line.Trim();
            if (trimmed.StartsWith("```") || trimmed.StartsWith("~~~"))
            {
                inFence = !inFence;
                pasted += line.Length + 1;
                continue;
            }
            if (inFence || IsPasted(line, trimmed, previous, pasteRun > 0))
            {
                pasted += line.Length + 1;
                pasteRun = trimmed.Length == 0 ? pasteRun : pasteRun + 1;
                continue;
            }
            pasteRun = 0;
            if (trimmed.Length == 0)
                continue;
            AppendWithoutInlineCode(own, trimmed);
            own.Append('\n');
        }
        if (own.Length > 0)
            own.Length--;
        return new OwnWordsSplit(own.ToString(), Math.Min(total, Math.Max(0, pasted)), total);
    }

    /// <summary>Whether one line reads as pasted material rather than something the person typed.</summary>
    internal static bool IsPasted(ReadOnlySpan<char> line, ReadOnlySpan<char> trimmed, string? previous, bool insidePaste)
    {
        if (trimmed.Length == 0)
            return insidePaste;
        var first = trimmed[0];
        if (first == '>' || first == '│' || first == '┃' || first == '╭' || first == '╰' || first == '⎿' || first == '●' || first == '⏺')
            return true; // quoted text, terminal UI boxes and agent transcript glyphs pasted back
        if (line.Length >= 4 && (line.StartsWith("    ") || line[0] == '\t') && LooksLikeCode(trimmed))
            return true;
        if (IsStackFrame(trimmed) || IsLogLine(trimmed) || IsShellLine(trimmed) || IsMarkupLine(trimmed))
            return true;
        if (LooksLikeCode(trimmed) && (insidePaste || trimmed.Length > 12))
            return true;
        if (IsErrorHeadline(trimmed))
            return true;
        // What Cursor pastes when the person points at an element, and inline images: the page's words, not the person's.
        if (trimmed.StartsWith("DOM Path:") || trimmed.StartsWith("data:image/") || trimmed.StartsWith("Position: top=")
            || trimmed.StartsWith("React Component:") || trimmed.StartsWith("HTML Element:"))
            return true;
        // A line the agent wrote, pasted back: quoting is not blaming.
        if (previous is { Length: > 0 } && trimmed.Length >= 24 && previous.AsSpan().IndexOf(trimmed, StringComparison.Ordinal) >= 0)
            return true;
        // Inside a paste block, short fragments without sentence shape belong to it (a log's "Done." or "}").
        return insidePaste && trimmed.Length < 40 && Letters(trimmed) < trimmed.Length / 2;
    }

    private static bool IsStackFrame(ReadOnlySpan<char> t) =>
        (t.StartsWith("at ") && (t.Contains('(') || t.Contains(':') || t.Contains('.')) && !ContainsFrom(t, ' ', 3))
        || (t.StartsWith("at ") && t.EndsWith(")") && t.Contains(':'))
        || t.StartsWith("File \"")
        || t.StartsWith("Traceback (")
        || t.StartsWith("Caused by:")
        || t.StartsWith("--- End of")
        || t.StartsWith("... ") && t.EndsWith("more")
        || t.StartsWith("#0 ") || t.StartsWith("#1 ")
        || (t.StartsWith("at <") || t.StartsWith("at async "));

    private static bool ContainsFrom(ReadOnlySpan<char> s, char c, int from) => s.Length > from && s[from..].IndexOf(c) >= 0;

    private static bool IsLogLine(ReadOnlySpan<char> t)
    {
        // 2024-05-01…, 12:03:44, [INFO], INFO:, npm ERR!, warning CS…, error TS…
        if (t.Length >= 10 && char.IsAsciiDigit(t[0]) && char.IsAsciiDigit(t[1]) && char.IsAsciiDigit(t[2]) && char.IsAsciiDigit(t[3]) && (t[4] == '-' || t[4] == '/'))
            return true;
        if (t.Length >= 8 && char.IsAsciiDigit(t[0]) && char.IsAsciiDigit(t[1]) && t[2] == ':' && char.IsAsciiDigit(t[3]) && char.IsAsciiDigit(t[4]) && t[5] == ':')
            return true;
        if (t[0] == '[' && t.Length > 3)
        {
            var close = t.IndexOf(']');
            if (close > 1 && close < 32)
            {
                var tag = t[1..close];
                if (tag.Length >= 3 && (Upper(tag) || tag.Contains(':') || char.IsAsciiDigit(tag[0])))
                    return true;
            }
        }
        foreach (var prefix in LogPrefixes)
            if (t.StartsWith(prefix, StringComparison.Ordinal))
                return true;
        var colon = t.IndexOf(':');
        if (colon > 0 && colon < 40)
        {
            var head = t[..colon];
            // "TypeError: …", "ModuleNotFoundError: …", "System.InvalidOperationException: …", "error[E0382]: …"
            if (head.IndexOf(' ') < 0 && (head.EndsWith("Error") || head.EndsWith("Exception") || head.EndsWith("Warning") || head.StartsWith("error[") || head.StartsWith("warning[")))
                return true;
            if (head.IndexOf(' ') < 0 && head.Length > 3 && (head.EndsWith(".ts") || head.EndsWith(".js") || head.EndsWith(".py") || head.EndsWith(".cs") || head.EndsWith(".go") || head.EndsWith(".rs") || head.EndsWith(".tsx") || head.EndsWith(".java") || head.EndsWith(".rb")))
                return true; // file.ts:12:5 - error …
        }
        return false;
    }

    private static readonly string[] LogPrefixes =
    [
        "npm ERR!", "npm WARN", "npm error", "npm warn", "ERR!", "ERROR ", "ERROR:", "WARN ", "WARN:", "WARNING:", "INFO ", "INFO:",
        "DEBUG ", "DEBUG:", "TRACE ", "FATAL", "PANIC", "panic:", "error:", "warning:", "Error:", "Warning:", "fatal:", "hint:", "note:",
        "error TS", "error CS", "warning CS", "Error TS", "Uncaught ", "Unhandled ", "Exception in thread", "Exception:", "Failed to compile",
        "Module not found", "GET /", "POST /", "PUT /", "DELETE /", "HTTP/", "✓ ", "✗ ", "✔ ", "✖ ", "× ", "⨯ ", "❯ ", "➜ ", "▲ ", "⚠ ",
        "PASS ", "FAIL ", "Tests:", "Test Suites:", "Snapshots:", "Ran all", "warning: unused",
        "Command failed", "Process exited", "exit code", "Exit code", "STDERR", "stderr:", "stdout:", "Build FAILED", "Build succeeded",
        "  at ", "Stack trace:", "Call Stack", "Call stack", "Server Error", "Internal Server Error", "404 Not Found", "500 Internal",
        "Unexpected token", "SyntaxError", "ReferenceError", "TypeError",
    ];

    private static bool IsShellLine(ReadOnlySpan<char> t) =>
        t.StartsWith("$ ") || t.StartsWith("> ") || t.StartsWith("PS ") && t.Contains('>') || t.StartsWith("C:\\") || t.StartsWith("~/") && t.Contains('$')
        || (t.IndexOf('@') > 0 && t.IndexOf('@') < 30 && t.IndexOf(":~") > 0);

    private static bool IsMarkupLine(ReadOnlySpan<char> t) =>
        (t[0] == '<' && t.Length > 2 && (char.IsAsciiLetter(t[1]) || t[1] == '/' || t[1] == '!') && t.IndexOf('>') > 0)
        || (t[0] == '{' || t[0] == '}' || t[0] == ']') && t.Length < 200 && Letters(t) * 3 < t.Length * 2
        || (t[0] == '"' && t.IndexOf("\":") > 0);

    private static bool IsErrorHeadline(ReadOnlySpan<char> t) =>
        t.Length > 20 && Upper(t[..Math.Min(t.Length, 12)]) && t[..Math.Min(t.Length, 12)].IndexOf(' ') < 0 && t.IndexOf(':') > 0;

    /// <summary>Code or machine output: a high share of symbols, or the shape of a statement.</summary>
    internal static bool LooksLikeCode(ReadOnlySpan<char> t)
    {
        if (t.Length < 4)
            return false;
        int symbols = 0, letters = 0, spaces = 0, cjk = 0;
        foreach (var c in t)
        {
            if (char.IsLetter(c))
            {
                letters++;
                if (c >= '\u2E80')
                    cjk++;
            }
            else if (c == ' ')
                spaces++;
            else if (c is '{' or '}' or '(' or ')' or ';' or '=' or '<' or '>' or '[' or ']' or '/' or '\\' or '|' or '_' or '$' or '#' or '&' or '*' or ':' or '"')
                symbols++;
        }
        if (cjk * 2 > letters && letters > 0)
            return false; // Chinese prose with code words in it is the person's own words
        var last = t[^1];
        if ((last == ';' || last == '{' || last == '}') && spaces < t.Length / 3)
            return true;
        if (t.StartsWith("import ") && t.IndexOf(" from ") > 0 || t.StartsWith("const ") && t.Contains('=') || t.StartsWith("function ")
            || t.StartsWith("def ") && last == ':' || t.StartsWith("return ") && last == ';' || t.StartsWith("using ") && last == ';')
            return true;
        // A long run with no spaces (paths, URLs, minified text) or symbol-dense text.
        if (spaces == 0 && t.Length > 40)
            return true;
        return symbols * 4 > t.Length && symbols >= 4;
    }

    private static bool Upper(ReadOnlySpan<char> s)
    {
        var any = false;
        foreach (var c in s)
        {
            if (char.IsAsciiLetterLower(c))
                return false;
            any |= char.IsAsciiLetterUpper(c);
        }
        return any;
    }

    private static int Letters(ReadOnlySpan<char> s)
    {
        var n = 0;
        foreach (var c in s)
            if (char.IsLetter(c))
                n++;
        return n;
    }

    // Inline code is the agent's or the codebase's vocabulary, not the person's words: replaced by a placeholder so the
    // sentence shape ("rename `x` to `y`") survives.
    private static void AppendWithoutInlineCode(StringBuilder sb, ReadOnlySpan<char> line)
    {
        if (line.IndexOf('`') < 0)
        {
            sb.Append(line);
            return;
        }
        var inCode = false;
        foreach (var c in line)
        {
            if (c == '`')
            {
                if (!inCode)
                    sb.Append('§');
                inCode = !inCode;
            }
            else if (!inCode)
                sb.Append(c);
        }
    }
}
