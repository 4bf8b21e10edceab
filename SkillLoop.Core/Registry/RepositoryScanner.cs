using System.Text;
using System.Text.Json;
using LibGit2Sharp;

namespace SkillLoop.Core.Registry;

/// <summary>One thing a scan found: a skill, plugin, agent, command, prompt file or instructions file.</summary>
/// <param name="Kind"><c>skill</c>, <c>codex-skill</c>, <c>plugin</c>, <c>agent</c>, <c>command</c>, <c>prompt</c>, <c>instructions</c> or <c>agents-md</c>.</param>
/// <param name="QualifiedName">How agents name a plugin's items (<c>plugin:item</c>); null outside plugins.</param>
/// <param name="Path">Repository-relative, forward slashes.</param>
public sealed record ScannedSkill(string Kind, string Name, string? QualifiedName, string? Description, string Path, string? Plugin);

/// <summary>What a scan found, and what it refused to follow (symlinks, paths leaving the repository) with why.</summary>
public sealed record ScanResult(IReadOnlyList<ScannedSkill> Skills, IReadOnlyList<string> Skipped);

/// <summary>
/// Finds skills in one commit of a repository. It reads git objects only — never a working tree — so nothing it
/// follows can leave the repository: symbolic links are blobs it refuses, entry names such as <c>..</c> are refused,
/// and paths named inside plugin manifests are resolved against the tree and refused when they climb out of it.
/// </summary>
public static class RepositoryScanner
{
    private const int MaxFileBytes = 512 * 1024;

    public static ScanResult Scan(Tree root, IReadOnlyList<string> pathFilters, Action<int>? progress = null)
    {
        var files = new List<(string Path, TreeEntry Entry)>();
        var skipped = new List<string>();
        Walk(root, "", files, skipped);

        var found = new Dictionary<string, ScannedSkill>(StringComparer.Ordinal);
        var done = 0;
        foreach (var (path, entry) in files)
        {
            progress?.Invoke(files.Count == 0 ? 100 : ++done * 100 / files.Count);
            if (pathFilters.Count > 0 && !pathFilters.Any(f => PathGlob.IsMatch(f, path)))
            {
                continue;
            }

            if (entry.Mode == Mode.SymbolicLink)
            {
                if (IsCandidate(path))
                {
                    skipped.Add($"{path}: a symbolic link, not followed");
                }

                continue;
            }

            if (Classify(path, entry) is { } skill)
            {
                found.TryAdd(skill.Path, skill);
            }
        }

        // Plugins: their manifest names the plugin and may point at other folders for skills, agents and commands.
        foreach (var (path, entry) in files.Where(f => f.Path.EndsWith(".claude-plugin/plugin.json", StringComparison.Ordinal) && f.Entry.Mode != Mode.SymbolicLink))
        {
            if (pathFilters.Count > 0 && !pathFilters.Any(f => PathGlob.IsMatch(f, path)))
            {
                continue;
            }

            ScanPlugin(root, path, entry, found, skipped);
        }

        return new ScanResult(found.Values.OrderBy(s => s.Path, StringComparer.Ordinal).ToList(), skipped);
    }

    private static void Walk(Tree tree, string prefix, List<(string, TreeEntry)> files, List<string> skipped)
    {
        foreach (var entry in tree)
        {
            if (!IsSafeName(entry.Name))
            {
                skipped.Add($"{prefix}{entry.Name}: an unsafe entry name, not read");
                continue;
            }

            var path = prefix + entry.Name;
            if (entry.TargetType == TreeEntryTargetType.Tree)
            {
                Walk((Tree)entry.Target, path + "/", files, skipped);
            }
            else if (entry.TargetType == TreeEntryTargetType.Blob)
            {
                files.Add((path, entry));
            }
        }
    }

    private static bool IsSafeName(string name) =>
        name.Length > 0 && name is not "." and not ".." && name.IndexOfAny(['/', '\\', '\0']) < 0 && !name.Equals(".git", StringComparison.OrdinalIgnoreCase);

    private static bool IsCandidate(string path) =>
        path.EndsWith("SKILL.md", StringComparison.Ordinal) || path.EndsWith(".md", StringComparison.Ordinal) || path.EndsWith("plugin.json", StringComparison.Ordinal);

    private static ScannedSkill? Classify(string path, TreeEntry entry)
    {
        var name = path[(path.LastIndexOf('/') + 1)..];
        var directory = path.Length > name.Length ? path[..(path.Length - name.Length - 1)] : "";
        if (name == "SKILL.md")
        {
            var text = Read(entry);
            FrontMatter.TryParse(text, out var front);
            var kind = ("/" + directory + "/").Contains("/.codex/", StringComparison.Ordinal) ? "codex-skill" : "skill";
            var fallback = directory.Length == 0 ? "skill" : directory[(directory.LastIndexOf('/') + 1)..];
            return new ScannedSkill(kind, front["name"] ?? fallback, null, front["description"], path, null);
        }

        if (path == ".github/copilot-instructions.md")
        {
            return new ScannedSkill("instructions", "copilot-instructions", null, FirstLine(Read(entry)), path, null);
        }

        if (name == "AGENTS.md")
        {
            return new ScannedSkill("agents-md", directory.Length == 0 ? "AGENTS.md" : directory + "/AGENTS.md", null, FirstLine(Read(entry)), path, null);
        }

        (string Kind, string Suffix)? match =
            directory.EndsWith(".claude/agents", StringComparison.Ordinal) && name.EndsWith(".md", StringComparison.Ordinal) ? ("agent", ".md")
            : directory.EndsWith(".claude/commands", StringComparison.Ordinal) && name.EndsWith(".md", StringComparison.Ordinal) ? ("command", ".md")
            : directory.EndsWith(".github/agents", StringComparison.Ordinal) && name.EndsWith(".agent.md", StringComparison.Ordinal) ? ("agent", ".agent.md")
            : directory.EndsWith(".github/prompts", StringComparison.Ordinal) && name.EndsWith(".prompt.md", StringComparison.Ordinal) ? ("prompt", ".prompt.md")
            : directory.EndsWith(".github/instructions", StringComparison.Ordinal) && name.EndsWith(".instructions.md", StringComparison.Ordinal) ? ("instructions", ".instructions.md")
            : null;
        if (match is not { } m)
        {
            return null;
        }

        var content = Read(entry);
        FrontMatter.TryParse(content, out var frontMatter);
        return new ScannedSkill(m.Kind, frontMatter["name"] ?? name[..^m.Suffix.Length], null, frontMatter["description"] ?? FirstLine(content[frontMatter.BodyStart..]), path, null);
    }

    private static void ScanPlugin(Tree root, string manifestPath, TreeEntry manifest, Dictionary<string, ScannedSkill> found, List<string> skipped)
    {
        var pluginRoot = manifestPath[..^".claude-plugin/plugin.json".Length].TrimEnd('/');
        string pluginName;
        JsonElement json;
        try
        {
            using var document = JsonDocument.Parse(Read(manifest));
            json = document.RootElement.Clone();
            pluginName = json.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() is { Length: > 0 } s
                ? s
                : (pluginRoot.Length == 0 ? "plugin" : pluginRoot[(pluginRoot.LastIndexOf('/') + 1)..]);
        }
        catch (JsonException ex)
        {
            skipped.Add($"{manifestPath}: not valid JSON ({ex.Message})");
            return;
        }

        var description = json.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
        found[manifestPath] = new ScannedSkill("plugin", pluginName, pluginName, description, manifestPath, pluginName);

        foreach (var (kind, property, defaultDirectory) in new[] { ("skill", "skills", "skills"), ("agent", "agents", "agents"), ("command", "commands", "commands") })
        {
            var directories = new List<string> { defaultDirectory };
            if (json.TryGetProperty(property, out var value))
            {
                directories.AddRange(value.ValueKind switch
                {
                    JsonValueKind.String => [value.GetString()!],
                    JsonValueKind.Array => value.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!),
                    _ => [],
                });
            }

            foreach (var declared in directories.Distinct(StringComparer.Ordinal))
            {
                if (PathGlob.Combine(pluginRoot, declared) is not { } resolved)
                {
                    skipped.Add($"{manifestPath}: '{declared}' leaves the repository, not followed");
                    continue;
                }

                var target = resolved.Length == 0 ? null : root[resolved];
                if (target is null)
                {
                    continue;
                }

                if (target.Mode == Mode.SymbolicLink)
                {
                    skipped.Add($"{resolved}: a symbolic link, not followed");
                    continue;
                }

                foreach (var item in PluginItems(kind, resolved, target))
                {
                    var existing = found.GetValueOrDefault(item.Path);
                    var name = existing?.Name ?? item.Name;
                    found[item.Path] = item with { Name = name, QualifiedName = $"{pluginName}:{name}", Plugin = pluginName, Description = existing?.Description ?? item.Description };
                }
            }
        }
    }

    private static IEnumerable<ScannedSkill> PluginItems(string kind, string path, TreeEntry target)
    {
        if (target.TargetType == TreeEntryTargetType.Blob)
        {
            // A manifest may name one file.
            if (path.EndsWith(".md", StringComparison.Ordinal) && kind != "skill")
            {
                yield return Item(kind, path, target);
            }

            yield break;
        }

        foreach (var entry in (Tree)target.Target)
        {
            if (!IsSafeName(entry.Name) || entry.Mode == Mode.SymbolicLink)
            {
                continue;
            }

            if (kind == "skill" && entry.TargetType == TreeEntryTargetType.Tree && ((Tree)entry.Target)["SKILL.md"] is { Mode: not Mode.SymbolicLink } skillFile)
            {
                yield return Item(kind, $"{path}/{entry.Name}/SKILL.md", skillFile, entry.Name);
            }
            else if (kind != "skill" && entry.TargetType == TreeEntryTargetType.Blob && entry.Name.EndsWith(".md", StringComparison.Ordinal))
            {
                yield return Item(kind, $"{path}/{entry.Name}", entry);
            }
        }
    }

    private static ScannedSkill Item(string kind, string path, TreeEntry entry, string? fallbackName = null)
    {
        var text = Read(entry);
        FrontMatter.TryParse(text, out var front);
        var fileName = path[(path.LastIndexOf('/') + 1)..];
        var name = front["name"] ?? fallbackName ?? (fileName.EndsWith(".md", StringComparison.Ordinal) ? fileName[..^3] : fileName);
        return new ScannedSkill(kind, name, null, front["description"] ?? FirstLine(text[front.BodyStart..]), path, null);
    }

    /// <summary>A blob's text (UTF-8), cut at a size no skill file reaches.</summary>
    internal static string Read(TreeEntry entry)
    {
        var blob = (Blob)entry.Target;
        using var stream = blob.GetContentStream();
        var buffer = new byte[Math.Min(blob.Size, MaxFileBytes)];
        stream.ReadExactly(buffer);
        return Encoding.UTF8.GetString(buffer);
    }

    private static string? FirstLine(string text)
    {
        var line = text.Split('\n').Select(l => l.Trim().TrimStart('#').Trim()).FirstOrDefault(l => l.Length > 0);
        return line is null ? null : line.Length <= 200 ? line : line[..197] + "…";
    }
}

/// <summary>Repository-relative paths: globs for path filters, and joining without leaving the repository.</summary>
public static class PathGlob
{
    /// <summary><c>**</c> matches any run of folders, <c>*</c> any characters within one name, <c>?</c> one character.</summary>
    public static bool IsMatch(string glob, string path)
    {
        var pattern = "^" + System.Text.RegularExpressions.Regex.Escape(glob.Trim().TrimStart('/'))
            .Replace(@"\*\*/", "(.*/)?", StringComparison.Ordinal)
            .Replace(@"\*\*", ".*", StringComparison.Ordinal)
            .Replace(@"\*", "[^/]*", StringComparison.Ordinal)
            .Replace(@"\?", "[^/]", StringComparison.Ordinal) + "(/.*)?$";
        return System.Text.RegularExpressions.Regex.IsMatch(path, pattern, System.Text.RegularExpressions.RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
    }

    /// <summary>Joins <paramref name="relative"/> to <paramref name="baseDirectory"/>; null when it is absolute or climbs out.</summary>
    public static string? Combine(string baseDirectory, string relative)
    {
        if (relative.Length == 0 || relative.StartsWith('/') || relative.StartsWith('\\') || relative.Contains('\0') || (relative.Length > 1 && relative[1] == ':'))
        {
            return null;
        }

        var parts = new List<string>(baseDirectory.Split('/', StringSplitOptions.RemoveEmptyEntries));
        foreach (var part in relative.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count == 0)
                {
                    return null;
                }

                parts.RemoveAt(parts.Count - 1);
                continue;
            }

            parts.Add(part);
        }

        return string.Join('/', parts);
    }
}
