using System.Text.Json.Nodes;

namespace SkillLoop.Hooks.Install;

/// <summary>
/// The Claude Code hook layout (also read by VS Code and used by Codex): <c>hooks.&lt;Event&gt;[]</c> groups of
/// <c>{"matcher", "hooks":[{"type":"command","command"}]}</c>.
/// </summary>
internal static class NestedHooks
{
    public static ChangeResult Install(string path, string eventName, string command, int? timeoutSeconds = null, bool withMatcher = true)
    {
        var root = JsonConfigFile.Load(path);
        var groups = JsonConfigFile.ArrayProperty(JsonConfigFile.ObjectProperty(root, "hooks", path), eventName, path)!;
        var found = false;
        var changed = false;
        foreach (var hook in OurHooks(groups))
        {
            if (found)
                continue;
            found = true;
            if (JsonConfigFile.StringOf(hook, "command") != command)
            {
                hook["command"] = command; // the executable moved: point at the new one
                changed = true;
            }
        }
        if (!found)
        {
            var entry = new JsonObject { ["type"] = "command", ["command"] = command };
            if (timeoutSeconds is { } t)
                entry["timeout"] = t;
            var group = new JsonObject();
            if (withMatcher)
                group["matcher"] = "";
            group["hooks"] = new JsonArray(entry);
            groups.Add((JsonNode)group);
            changed = true;
        }
        if (!changed)
            return ChangeResult.Unchanged;
        JsonConfigFile.Save(path, root);
        return ChangeResult.Changed;
    }

    public static ChangeResult Uninstall(string path, string eventName)
    {
        if (!File.Exists(path))
            return ChangeResult.Unchanged;
        var root = JsonConfigFile.Load(path);
        if (root["hooks"] is not JsonObject hooks || hooks[eventName] is not JsonArray groups)
            return ChangeResult.Unchanged;
        var removed = false;
        foreach (var group in groups.OfType<JsonObject>().ToList())
        {
            if (group["hooks"] is not JsonArray inner)
                continue;
            foreach (var hook in inner.OfType<JsonObject>().Where(h => HookCommandLine.IsOurs(JsonConfigFile.StringOf(h, "command"))).ToList())
            {
                inner.Remove(hook);
                removed = true;
            }
            if (inner.Count == 0)
                groups.Remove(group);
        }
        if (!removed)
            return ChangeResult.Unchanged;
        // Containers left empty were ours.
        if (groups.Count == 0)
            hooks.Remove(eventName);
        if (hooks.Count == 0)
            root.Remove("hooks");
        JsonConfigFile.SaveAfterRemoval(path, root);
        return ChangeResult.Changed;
    }

    public static bool IsInstalled(string path, string eventName)
    {
        if (!File.Exists(path))
            return false;
        try
        {
            var root = JsonConfigFile.Load(path);
            return root["hooks"] is JsonObject hooks && hooks[eventName] is JsonArray groups && OurHooks(groups).Any();
        }
        catch (ConfigParseException)
        {
            return false;
        }
    }

    private static IEnumerable<JsonObject> OurHooks(JsonArray groups) =>
        groups.OfType<JsonObject>()
            .Select(g => g["hooks"]).OfType<JsonArray>()
            .SelectMany(inner => inner.OfType<JsonObject>())
            .Where(h => HookCommandLine.IsOurs(JsonConfigFile.StringOf(h, "command")))
            .ToList();
}
