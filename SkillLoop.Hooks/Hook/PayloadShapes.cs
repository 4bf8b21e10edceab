using System.Text.Json;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Hooks.Hook;

/// <summary>
/// Recognises which product ran the hook from the payload's own shape, and where that product keeps the transcript.
/// The platform named on the command line is only the fallback: VS Code also runs hooks from Claude's settings
/// files, and one event seen through two hook files must land on one (platform, session) cursor.
/// </summary>
internal static class PayloadShapes
{
    public static HookEvent? Identify(JsonElement root, string platformHint, Cli.AgentHomes homes)
    {
        var home = homes.Home;
        var cwd = root.Str("cwd") ?? root.Arr("workspace_roots").Select(r => r.ValueKind == JsonValueKind.String ? r.GetString() : null).FirstOrDefault()
            ?? root.Arr("workspaceRoots").Select(r => r.ValueKind == JsonValueKind.String ? r.GetString() : null).FirstOrDefault();

        // Cline: {"clineVersion","hookName","taskId","workspaceRoots",…}; no transcript path, so find the conversation.
        // Cline 3's CLI starts a new taskId at every start of a session; sessionContext.rootSessionId is the session
        // and names its messages file. The extension keeps one task folder per taskId.
        if (root.Str("clineVersion") is not null || (root.Str("hookName") is not null && root.Str("taskId") is not null))
        {
            if (root.Obj("sessionContext")?.Str("rootSessionId") is { Length: > 0 } rootSession
                && ClineLocations.FindSession(home, rootSession) is { } messages)
                return new HookEvent("cline", rootSession, messages, null, cwd);
            var taskId = root.Str("taskId");
            if (taskId is null || ClineLocations.FindTask(home, taskId) is not { } history)
                return null;
            return new HookEvent("cline", taskId, history, null, cwd);
        }

        // Codex notify: {"type":"agent-turn-complete","thread-id","turn-id","cwd",…}; find the thread's rollout file.
        if (root.Str("thread-id") is { } thread)
        {
            var rollout = CodexLocations.FindRollout(homes.Codex, thread);
            return rollout is null ? null : new HookEvent("codex", thread, rollout, null, cwd);
        }

        // Cursor: {"conversation_id","generation_id","hook_event_name":"stop","workspace_roots",…}.
        if (root.Str("conversation_id") is { } conversation)
        {
            var transcript = root.Str("transcript_path") ?? CursorLocations.FindTranscript(home, conversation);
            return transcript is null ? null : new HookEvent("cursor", conversation, transcript, null, cwd);
        }

        // VS Code: camelCase sessionId/hookEventName with snake transcript_path.
        if (root.Str("hookEventName") is not null && root.Str("sessionId") is { } vsSession)
        {
            var transcript = root.Str("transcript_path") ?? root.Str("transcriptPath") ?? VsCodeLocations.FindTranscript(home, vsSession);
            if (transcript is null)
                return null;
            var platform = PlatformOfTranscript(transcript, homes) ?? "vscode";
            return new HookEvent(platform, vsSession, transcript, "vscode", cwd);
        }

        // Copilot CLI: camelCase sessionId/transcriptPath (agentStop). Sub-agent turns reuse a "toolu_…" id: skip them.
        if (root.Str("sessionId") is { } copilotSession)
        {
            if (copilotSession.StartsWith("toolu_", StringComparison.Ordinal))
                return null;
            var transcript = root.Str("transcriptPath") ?? root.Str("transcript_path")
                ?? Path.Combine(homes.Copilot, "session-state", copilotSession, "events.jsonl");
            return new HookEvent(PlatformOfTranscript(transcript, homes) ?? "copilot", copilotSession, transcript, "copilot", cwd);
        }

        // Claude Code and Codex: snake_case session_id/transcript_path/hook_event_name; Codex adds turn_id and model,
        // and its transcript_path may be null (then the rollout is found by the session id).
        var codexLike = root.TryGetProperty("turn_id", out _);
        if (root.Str("session_id") is { } codexSession && root.Str("transcript_path") is null && codexLike)
        {
            var rollout = CodexLocations.FindRollout(homes.Codex, codexSession);
            return rollout is null ? null : new HookEvent("codex", codexSession, rollout, null, cwd);
        }
        if (root.Str("session_id") is { } sessionId && root.Str("transcript_path") is { } path)
        {
            var platform = PlatformOfTranscript(path, homes) ?? (codexLike ? "codex" : platformHint);
            return new HookEvent(platform, sessionId, path, platform == platformHint ? null : platformHint, cwd);
        }
        return null;
    }

    /// <summary>The transcript's location says whose format it is, whichever product ran the hook.</summary>
    internal static string? PlatformOfTranscript(string path, Cli.AgentHomes? homes = null)
    {
        // An agent home moved elsewhere (CLAUDE_CONFIG_DIR, CODEX_HOME, COPILOT_HOME) says it first.
        if (homes is not null)
        {
            if (Cli.AgentHomes.Under(path, homes.Claude))
                return "claude";
            if (Cli.AgentHomes.Under(path, homes.Codex))
                return "codex";
            if (Cli.AgentHomes.Under(path, homes.Copilot))
                return "copilot";
        }
        var p = path.Replace('\\', '/');
        if (p.Contains("/.claude/", StringComparison.Ordinal))
            return "claude";
        if (p.Contains("/.codex/", StringComparison.Ordinal))
            return "codex";
        if (p.Contains("/.copilot/", StringComparison.Ordinal))
            return "copilot";
        if (p.Contains("GitHub.copilot-chat", StringComparison.OrdinalIgnoreCase))
            return "vscode";
        if (p.Contains("/.cursor/", StringComparison.Ordinal))
            return "cursor";
        if (p.EndsWith("api_conversation_history.json", StringComparison.Ordinal)
            || (p.Contains("/.cline/", StringComparison.Ordinal) && p.EndsWith(".messages.json", StringComparison.Ordinal)))
            return "cline";
        return null;
    }
}
