using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace SkillLoop.Benchmarks.DetectorTraining;

/// <summary>One labelled human turn of the corrections corpus (benchmarks/data/corrections, format in its README).</summary>
/// <param name="Next">The opening of the agent's answer to the turn ("" when it gave none), null where a row has no such field.</param>
public sealed record CorpusRow(string Id, string Session, int Turn, string Lang, string Previous, string Text, string Label, string Split, string? Next = null)
{
    public bool IsPositive => Label is "clear" or "mild";

    /// <summary>The client never scores a session's opening message (the agent has not answered yet): it is never a correction.</summary>
    public bool Gated => Turn == 0 && Previous.Length == 0;
}

/// <summary>Reads the corpus: every *.jsonl under each directory, rows ordered by id so file order never matters.</summary>
public static class CorrectionsCorpus
{
    public const string DefaultDirectory = "benchmarks/data/corrections";

    public static IReadOnlyList<CorpusRow> Load(IEnumerable<string> directories, TextWriter? log = null)
    {
        var rows = new Dictionary<string, CorpusRow>(StringComparer.Ordinal);
        var skipped = 0;
        foreach (var directory in directories)
        {
            if (!Directory.Exists(directory))
                throw new DirectoryNotFoundException($"No corpus directory {directory}");
            foreach (var file in Directory.EnumerateFiles(directory, "*.jsonl", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                foreach (var line in File.ReadLines(file))
                {
                    if (string.IsNullOrWhiteSpace(line))
                        continue;
                    if (Parse(line) is { } row)
                        rows[row.Id] = row; // a later directory (e.g. triage labels) overrides an earlier label of the same turn
                    else
                        skipped++;
                }
            }
        }
        if (skipped > 0)
            log?.WriteLine($"corpus: {skipped} line(s) skipped (not a complete row)");
        return [.. rows.Values.OrderBy(r => r.Id, StringComparer.Ordinal)];
    }

    private static CorpusRow? Parse(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            string? S(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var id = S("id");
            var session = S("session");
            var text = S("text");
            var label = S("label");
            var lang = S("lang");
            if (id is null || session is null || text is null || label is not ("clear" or "mild" or "none") || lang is not ("en" or "zh"))
                return null;
            var turn = root.TryGetProperty("turn", out var t) && t.ValueKind == JsonValueKind.Number ? t.GetInt32() : 0;
            return new CorpusRow(id, session, turn, lang, S("previous") ?? "", text, label, S("split") ?? SplitOf(session), S("next"));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The corpus's fixed split: first byte of SHA-256(session) mod 10: 0–5 train, 6–7 dev, 8–9 test.</summary>
    public static string SplitOf(string session) => (SHA256.HashData(Encoding.UTF8.GetBytes(session))[0] % 10) switch
    {
        <= 5 => "train",
        <= 7 => "dev",
        _ => "test",
    };

    /// <summary>Names the corpus content the weights were trained and tuned on (train and dev rows; test is not read).</summary>
    public static string Fingerprint(IEnumerable<CorpusRow> rows)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var row in rows.Where(r => r.Split != "test"))
        {
            foreach (var part in (ReadOnlySpan<string>)[row.Id, row.Lang, row.Label, row.Split, row.Turn.ToString(System.Globalization.CultureInfo.InvariantCulture), row.Previous, row.Text, row.Next ?? "\u0001"])
            {
                hash.AppendData(Encoding.UTF8.GetBytes(part));
                hash.AppendData([0]);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    /// <summary>The corpus directories named on the command line (arguments that are not options), else the default.</summary>
    public static IReadOnlyList<string> Directories(IEnumerable<string> args, string repositoryRoot)
    {
        var list = new List<string>();
        var skipNext = false;
        foreach (var arg in args)
        {
            if (skipNext)
            {
                skipNext = false;
                continue;
            }
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                skipNext = arg is "--out" or "--model" or "--errors" or "--settings";
                continue;
            }
            if (arg is "train-detector" or "detector" or "confirm-experiment")
                continue;
            list.Add(arg);
        }
        return list.Count > 0 ? list : [Path.Combine(repositoryRoot, DefaultDirectory)];
    }
}
