using System.Text.Json;

namespace SkillLoop.Hooks.Hook;

/// <summary>Recognises each product's hook payload.</summary>
internal static class PayloadShapes
{
    public static HookEvent? Identify(JsonElement root, string platformHint)
    {
        var sessionId = Str(root, "session_id") ?? Str(root, "sessionId") ?? Str(root, "conversation_id");
        var transcript = Str(root, "transcript_path") ?? Str(root, "transcriptPath");
        var cwd = Str(root, "cwd");
        if (sessionId is null || transcript is null)
            return null;
        var platform = PlatformOfTranscript(transcript) ?? platformHint;
        return new HookEvent(platform, sessionId, transcript, platform == platformHint ? null : platformHint, cwd);
    }

    /// <summary>The transcript's location says whose format it is, whichever product ran the hook.</summary>
    internal static string? PlatformOfTranscript(string path)
    {
        var p = path.Replace('\\', '/');
        if (p.Contains("/.claude/", StringComparison.Ordinal))
            return "claude";
        if (p.Contains("/.codex/", StringComparison.Ordinal))
            return "codex";
        if (p.Contains("/.copilot/", StringComparison.Ordinal))
            return "copilot";
        if (p.Contains("/.cursor/", StringComparison.Ordinal))
            return "cursor";
        return null;
    }

    internal static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : null;
}
