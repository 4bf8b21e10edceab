using System.Text.Json;

namespace SkillLoop.Hooks.Hook;

/// <summary>What a Stop-like hook event tells the worker: which transcript to read for which session.</summary>
/// <param name="Platform">Wire platform of the transcript (decides the reader and the server's cursor key).</param>
/// <param name="Product">The product that ran the hook, when it differs from the transcript's platform.</param>
public sealed record HookEvent(string Platform, string SessionId, string TranscriptPath, string? Product = null, string? Cwd = null)
{
    /// <summary>
    /// Reads a hook payload. The platform named on the command line is only a hint: the payload's shape decides,
    /// so one event delivered through two products' hook files maps to the same (platform, session) cursor and the
    /// server's offset check makes the second delivery a no-op.
    /// </summary>
    public static HookEvent? Parse(string payload, string platformHint, string home) =>
        Parse(payload, platformHint, Cli.AgentHomes.Default(home));

    public static HookEvent? Parse(string payload, string platformHint, Cli.AgentHomes homes)
    {
        if (string.IsNullOrWhiteSpace(payload))
            return null;
        try
        {
            using var doc = JsonDocument.Parse(payload);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                ? PayloadShapes.Identify(doc.RootElement, platformHint, homes)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
