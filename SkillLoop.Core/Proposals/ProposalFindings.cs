using System.Globalization;
using System.Text.RegularExpressions;
using SkillLoop.Core.Capture;

namespace SkillLoop.Core.Proposals;

/// <summary>Where one added line of a proposal came from: the signals whose evidence it carries, and who extracted it.</summary>
/// <param name="Line">The line's number in the proposed text (1-based).</param>
/// <param name="SignalIds">The signals it traces to; every signal of the cluster when it rests on the evidence as a whole.</param>
/// <param name="Sources">How those signals' issues were extracted (<c>heuristic</c>, <c>model:…</c>, <c>client:…</c>) and whether their users are self-declared.</param>
/// <param name="Basis"><c>issue</c> (the line repeats an issue's words), or <c>cluster</c> (written from the cluster's evidence as a whole).</param>
public sealed record LineProvenance(int Line, string Text, IReadOnlyList<long> SignalIds, IReadOnlyList<string> Sources, string Basis);

/// <summary>One signal of a cluster as evidence: its correction and, once extracted, its issue.</summary>
public sealed record EvidenceSource(
    long SignalId,
    bool SelfDeclared,
    string Correction,
    string? ExtractedBy,
    string? ProblemPattern,
    string? RootCause,
    string? ExpectedBehavior,
    string? Quote)
{
    public bool ClientSupplied => ExtractedBy?.StartsWith("client:", StringComparison.Ordinal) == true;
}

/// <summary>What a reviewer must look at twice, and where each line came from.</summary>
/// <param name="NeedsPerson">True when something besides self-declared users was found: auto-merge then leaves it to a reviewer.</param>
public sealed record ProposalFindingsResult(IReadOnlyList<string> Warnings, IReadOnlyList<LineProvenance> Provenance, bool NeedsPerson = false);

/// <summary>
/// Reads a proposed skill file the way a careful reviewer would: links, shell command lines and text a client
/// supplied (rather than the server extracted) are never copied into a skill file silently — each becomes a warning
/// shown above the diff and in the PR body — and every added line is traced to the signals it came from.
/// </summary>
public static partial class ProposalFindings
{
    private static readonly string[] ShellWords =
    [
        "curl", "wget", "bash", "sh", "zsh", "fish", "pwsh", "powershell", "iex", "invoke-webrequest", "invoke-expression",
        "rm", "chmod", "chown", "sudo", "su", "dd", "mkfs", "nc", "ncat", "netcat", "eval", "exec", "source", "python", "python3",
        "node", "npx", "npm", "pnpm", "yarn", "pip", "pip3", "uv", "git", "docker", "kubectl", "ssh", "scp", "base64", "export",
        "set", "env", "cat", "echo", "mv", "cp", "tee", "xargs", "find", "apt", "apt-get", "brew", "dotnet", "cargo", "go", "make",
    ];

    public static ProposalFindingsResult Review(string? original, string? proposed, ProposalEvidence? evidence)
    {
        var warnings = new List<string>();
        var provenance = new List<LineProvenance>();
        if (proposed is null)
        {
            return new(warnings, provenance);
        }

        var sources = evidence?.Sources ?? [];
        // Each signal's words once, not once per added line: a busy cluster has thousands of signals.
        var sourceWords = sources.Select(source => (source, Words(string.Join(' ', source.ProblemPattern, source.RootCause, source.ExpectedBehavior, source.Quote, source.Correction)))).ToList();
        var inCode = false;
        string? fenceLanguage = null;
        var added = LineDiff.Compute(original ?? "", proposed)
            .Where(l => l.Kind == '+' && l.NewNumber is not null)
            .ToDictionary(l => l.NewNumber!.Value, l => l.Text);
        var lines = proposed.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var clientLines = new List<int>();
        for (var i = 0; i < lines.Length; i++)
        {
            var number = i + 1;
            var line = lines[i];
            var fence = Fence().Match(line);
            if (fence.Success)
            {
                inCode = !inCode;
                fenceLanguage = inCode ? fence.Groups[1].Value.ToLowerInvariant() : null;
            }

            if (!added.ContainsKey(number) || line.Trim().Length == 0)
            {
                continue;
            }

            if (InvisibleCharacters.Contains(line))
            {
                warnings.Add($"Line {number} holds invisible characters (they can hide instructions from a reader).");
            }

            foreach (Match url in Url().Matches(line))
            {
                warnings.Add($"Line {number} adds a link: `{Fragment(url.Value)}`");
            }

            if (ShellCommand(line, inCode && !fence.Success, fenceLanguage) is { } command)
            {
                warnings.Add($"Line {number} adds a shell command: `{Fragment(command)}`");
            }

            var traced = Trace(line, sourceWords, evidence);
            provenance.Add(traced with { Line = number });
            if (traced.SignalIds.Count > 0 && traced.Basis == "issue"
                && traced.SignalIds.All(id => sources.FirstOrDefault(s => s.SignalId == id)?.ClientSupplied == true))
            {
                clientLines.Add(number);
            }
        }

        if (evidence is { ClientSupplied: true })
        {
            var clients = sources.Where(s => s.ClientSupplied).ToList();
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"The problem, cause and expected behaviour come from issues a client extracted itself ({string.Join(", ", clients.Select(s => s.ExtractedBy).Distinct())}; signals {Ids(clients.Select(s => s.SignalId))}), not from the server's extraction."));
        }
        else if (clientLines.Count > 0)
        {
            warnings.Add($"Lines {string.Join(", ", clientLines)} repeat text a client supplied rather than the server extracted.");
        }

        var needsPerson = warnings.Count > 0;
        if (evidence is { SelfDeclaredUsers: > 0 })
        {
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"{evidence.SelfDeclaredUsers} of the users are self-declared (identities reported by clients of a shared team token, not checked by the server); auto-merge counts only the {evidence.VerifiedUsers} with personal tokens."));
        }

        return new(warnings.Distinct().ToList(), provenance, needsPerson);
    }

    /// <summary>The shell command a line carries, or null: a fenced shell block's line, a <c>$ </c> prompt, an inline code span or a line that starts with a command, or a pipe into a shell.</summary>
    internal static string? ShellCommand(string line, bool inFence, string? fenceLanguage)
    {
        var text = line.Trim();
        if (inFence && fenceLanguage is "" or "sh" or "bash" or "shell" or "console" or "zsh" or "powershell" or "ps1" or "pwsh" or "cmd" or "bat" or "fish")
        {
            return text;
        }

        foreach (Match span in InlineCode().Matches(text))
        {
            if (StartsWithCommand(span.Groups[1].Value) || PipeToShell().IsMatch(span.Groups[1].Value))
            {
                return span.Groups[1].Value;
            }
        }

        if (Prompt().Match(text) is { Success: true } prompt)
        {
            return prompt.Groups[1].Value;
        }

        if (PipeToShell().IsMatch(text))
        {
            return text;
        }

        var bare = ListMarker().Replace(text, "");
        return StartsWithCommand(bare) && bare.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: > 1 } words
            && words.Skip(1).Any(w => w.StartsWith('-') || w.Contains('/') || w.Contains('=') || w is "|" or "&&" or ";")
            ? bare
            : null;
    }

    private static bool StartsWithCommand(string text)
    {
        var first = text.TrimStart().Split([' ', '\t'], 2)[0].ToLowerInvariant();
        first = first.StartsWith("./", StringComparison.Ordinal) ? "./" : first;
        return first == "./" || ShellWords.Contains(first);
    }

    private const int MaxTracedSignals = 100;

    private static LineProvenance Trace(string line, IReadOnlyList<(EvidenceSource Source, HashSet<string> Words)> sources, ProposalEvidence? evidence)
    {
        var words = Words(line);
        var matched = new List<EvidenceSource>();
        foreach (var (source, theirs) in sources)
        {
            var shared = words.Count(theirs.Contains);
            if (shared >= 3 || (words.Count > 0 && shared * 2 >= words.Count && shared >= 1))
            {
                matched.Add(source);
            }
        }

        var basis = matched.Count > 0 ? "issue" : "cluster";
        var from = matched.Count > 0 ? matched : sources.Select(s => s.Source).ToList();
        var described = from.Select(s => (s.ExtractedBy ?? "no issue yet") + (s.SelfDeclared ? " (self-declared user)" : ""))
            .Distinct().Order(StringComparer.Ordinal).ToList();
        if (from.Count == 0 && evidence is not null)
        {
            described = [$"cluster #{evidence.ClusterId}"];
        }

        var ids = from.Select(s => s.SignalId).Distinct().Order().ToList();
        if (ids.Count > MaxTracedSignals)
        {
            // The first ones name the evidence; the count says how much more there is.
            described.Add(string.Create(CultureInfo.InvariantCulture, $"and {ids.Count - MaxTracedSignals} more signals"));
            ids = ids[..MaxTracedSignals];
        }

        return new LineProvenance(0, line, ids, described, basis);
    }

    private static HashSet<string> Words(string text) =>
        WordPattern().Matches(text.ToLowerInvariant()).Select(m => m.Value).Where(w => w.Length >= 4 || w.Any(c => c > 0x2E7F)).ToHashSet();

    private static string Ids(IEnumerable<long> ids) => string.Join(", ", ids.Distinct().Order().Select(id => "#" + id.ToString(CultureInfo.InvariantCulture)));

    /// <summary>The suspicious part as a reviewer sees it: one line, no backticks to break out of the code span, bounded.</summary>
    private static string Fragment(string text)
    {
        text = text.Replace('`', '\'').Replace('\n', ' ').Replace('\r', ' ').Trim();
        return text.Length <= 200 ? text : text[..199] + "…";
    }

    [GeneratedRegex(@"(?i)(?:\b[a-z][a-z0-9+.\-]{1,20}://|\bwww\.|\bmailto:|\bjavascript:|\bdata:|\bvbscript:|\bfile:)[^\s<>""'`\)\]]*")]
    private static partial Regex Url();

    [GeneratedRegex(@"^\s*(?:`{3,}|~{3,})\s*([A-Za-z0-9_+-]*)")]
    private static partial Regex Fence();

    [GeneratedRegex(@"^(?:[-*+]\s+|\d+[.)]\s+|>\s*)*(?:\$|PS>)\s+(\S.*)$")]
    private static partial Regex Prompt();

    [GeneratedRegex(@"`([^`]+)`")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"^(?:[-*+]\s+|\d+[.)]\s+|>\s*)+")]
    private static partial Regex ListMarker();

    [GeneratedRegex(@"\|\s*(?:sudo\s+)?(?:ba|z|da|fi)?sh\b|\|\s*(?:iex|python3?|node|pwsh|powershell)\b")]
    private static partial Regex PipeToShell();

    [GeneratedRegex(@"[\p{L}\p{N}]+")]
    private static partial Regex WordPattern();
}
