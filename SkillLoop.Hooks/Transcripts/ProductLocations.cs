namespace SkillLoop.Hooks.Transcripts;

/// <summary>Where Cursor keeps agent transcripts: <c>~/.cursor/projects/&lt;slug&gt;/agent-transcripts/…</c>.</summary>
public static class CursorLocations
{
    public static string? FindTranscript(string home, string conversationId)
    {
        var projects = Path.Combine(home, ".cursor", "projects");
        if (!Directory.Exists(projects) || conversationId.IndexOfAny(['/', '\\']) >= 0)
            return null;
        foreach (var project in Directory.EnumerateDirectories(projects))
        {
            var transcripts = Path.Combine(project, "agent-transcripts");
            foreach (var candidate in new[]
            {
                Path.Combine(transcripts, conversationId, conversationId + ".jsonl"),
                Path.Combine(transcripts, conversationId + ".jsonl"),
            })
                if (File.Exists(candidate))
                    return candidate;
        }
        return null;
    }
}

/// <summary>Where Cline keeps a task's <c>api_conversation_history.json</c> (CLI and each VS Code flavour).</summary>
public static class ClineLocations
{
    public static IEnumerable<string> TaskRoots(string home)
    {
        yield return Path.Combine(home, ".cline", "data", "tasks");
        foreach (var editor in new[] { "Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf" })
        {
            yield return Path.Combine(home, ".config", editor, "User", "globalStorage", "saoudrizwan.claude-dev", "tasks");
            yield return Path.Combine(home, "Library", "Application Support", editor, "User", "globalStorage", "saoudrizwan.claude-dev", "tasks");
            yield return Path.Combine(home, "AppData", "Roaming", editor, "User", "globalStorage", "saoudrizwan.claude-dev", "tasks");
        }
    }

    /// <summary>Cline 3's CLI: <c>~/.cline/data/sessions/&lt;id&gt;/&lt;id&gt;.messages.json</c>.</summary>
    public static string? FindSession(string home, string sessionId)
    {
        if (sessionId.IndexOfAny(['/', '\\']) >= 0 || sessionId is "." or ".." or "")
            return null;
        var path = Path.Combine(home, ".cline", "data", "sessions", sessionId, sessionId + ".messages.json");
        return File.Exists(path) ? path : null;
    }

    public static string? FindTask(string home, string taskId)
    {
        if (taskId.IndexOfAny(['/', '\\']) >= 0 || taskId is "." or "..")
            return null;
        return TaskRoots(home)
            .Select(root => Path.Combine(root, taskId, "api_conversation_history.json"))
            .FirstOrDefault(File.Exists);
    }
}

/// <summary>Where Codex keeps rollouts: <c>$CODEX_HOME/sessions/YYYY/MM/DD/rollout-…-&lt;thread id&gt;.jsonl</c>.</summary>
public static class CodexLocations
{
    /// <param name="codexHome"><c>CODEX_HOME</c>, by default <c>~/.codex</c>.</param>
    public static string? FindRollout(string codexHome, string threadId)
    {
        var sessions = Path.Combine(codexHome, "sessions");
        if (!Directory.Exists(sessions) || threadId.IndexOfAny(['/', '\\', '*', '?']) >= 0)
            return null;
        return Directory.EnumerateFiles(sessions, $"rollout-*{threadId}.jsonl", SearchOption.AllDirectories)
            .OrderByDescending(File.GetLastWriteTimeUtc)
            .FirstOrDefault();
    }
}

/// <summary>
/// Where VS Code Copilot Chat writes a session's transcript:
/// <c>&lt;user data&gt;/User/workspaceStorage/&lt;hash&gt;/GitHub.copilot-chat/transcripts/&lt;session&gt;.jsonl</c>.
/// </summary>
public static class VsCodeLocations
{
    public static IEnumerable<string> UserDataRoots(string home)
    {
        foreach (var editor in new[] { "Code", "Code - Insiders", "VSCodium" })
        {
            yield return Path.Combine(home, ".config", editor);
            yield return Path.Combine(home, "Library", "Application Support", editor);
            yield return Path.Combine(home, "AppData", "Roaming", editor);
        }
        yield return Path.Combine(home, ".vscode-server", "data");
    }

    public static string? FindTranscript(string home, string sessionId)
    {
        if (sessionId.IndexOfAny(['/', '\\', '*', '?']) >= 0 || sessionId is "." or "..")
            return null;
        foreach (var root in UserDataRoots(home))
        {
            var storage = Path.Combine(root, "User", "workspaceStorage");
            if (!Directory.Exists(storage))
                continue;
            foreach (var workspace in Directory.EnumerateDirectories(storage))
            {
                var candidate = Path.Combine(workspace, "GitHub.copilot-chat", "transcripts", sessionId + ".jsonl");
                if (File.Exists(candidate))
                    return candidate;
            }
        }
        return null;
    }
}
