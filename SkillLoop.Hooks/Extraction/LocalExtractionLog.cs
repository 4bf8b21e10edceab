using System.Text.Json;
using SkillLoop.Hooks.Cli;

namespace SkillLoop.Hooks.Extraction;

/// <summary>What the last local extraction did, for <c>status</c>: <c>Outcome</c> is <c>extracted</c>, <c>failed</c> or <c>skipped</c>.</summary>
public sealed record LocalExtractionResult(DateTimeOffset At, string? Cli, string Outcome, int Extracted, int HandedBack, string Message);

/// <summary><c>~/.skillloop/local-extraction.json</c>: the last local extraction's result (one small file, replaced each time).</summary>
public static class LocalExtractionLog
{
    public static string PathIn(string home) => Path.Combine(home, ".skillloop", "local-extraction.json");

    public static void Write(string home, LocalExtractionResult result)
    {
        try
        {
            var path = PathIn(home);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = path + "." + Environment.ProcessId + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(result, ClientJsonContext.Indented.LocalExtractionResult) + "\n");
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only status reads it: a full disk must not fail the worker.
        }
    }

    public static LocalExtractionResult? Read(string home)
    {
        try
        {
            var path = PathIn(home);
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllText(path), ClientJsonContext.Default.LocalExtractionResult) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }
}
