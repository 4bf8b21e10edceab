using System.Text.Json.Nodes;

namespace SkillLoop.Hooks.Install;

/// <summary>
/// Hook files of the form <c>{"version":1,"hooks":{"&lt;event&gt;":[{…command…}]}}</c>: Copilot CLI, VS Code
/// (<c>.github/hooks/*.json</c>, <c>~/.copilot/hooks</c>) and Cursor (<c>hooks.json</c>).
/// </summary>
public abstract class FlatHooksInstaller : IPlatformInstaller
{
    public abstract string Platform { get; }

    protected abstract string EventName { get; }

    /// <summary>The entry's properties that hold a command line (checked to recognise our entry).</summary>
    protected abstract string[] CommandKeys { get; }

    public abstract string TargetPath(InstallContext context);

    protected abstract JsonObject Entry(string executablePath);

    public ChangeResult Install(InstallContext context)
    {
        var path = TargetPath(context);
        var root = JsonConfigFile.Load(path);
        if (!root.ContainsKey("version"))
            root["version"] = 1;
        var entries = JsonConfigFile.ArrayProperty(JsonConfigFile.ObjectProperty(root, "hooks", path), EventName, path)!;
        var wanted = Entry(context.ExecutablePath);
        var ours = entries.OfType<JsonObject>().Where(IsOurs).ToList();
        if (ours.Count == 1 && JsonNode.DeepEquals(ours[0], wanted))
            return ChangeResult.Unchanged;
        foreach (var old in ours)
            entries.Remove(old); // an older install (moved executable): replace it
        entries.Add((JsonNode)wanted);
        JsonConfigFile.Save(path, root);
        return ChangeResult.Changed;
    }

    public ChangeResult Uninstall(InstallContext context)
    {
        var path = TargetPath(context);
        if (!File.Exists(path))
            return ChangeResult.Unchanged;
        var root = JsonConfigFile.Load(path);
        if (root["hooks"] is not JsonObject hooks || hooks[EventName] is not JsonArray entries)
            return ChangeResult.Unchanged;
        var ours = entries.OfType<JsonObject>().Where(IsOurs).ToList();
        if (ours.Count == 0)
            return ChangeResult.Unchanged;
        foreach (var entry in ours)
            entries.Remove(entry);
        if (entries.Count == 0)
            hooks.Remove(EventName);
        if (hooks.Count == 0)
            root.Remove("hooks");
        JsonConfigFile.SaveAfterRemoval(path, root, "version");
        return ChangeResult.Changed;
    }

    public bool IsInstalled(InstallContext context)
    {
        var path = TargetPath(context);
        if (!File.Exists(path))
            return false;
        try
        {
            return JsonConfigFile.Load(path)["hooks"] is JsonObject hooks && hooks[EventName] is JsonArray entries
                && entries.OfType<JsonObject>().Any(IsOurs);
        }
        catch (ConfigParseException)
        {
            return false;
        }
    }

    private bool IsOurs(JsonObject entry) => CommandKeys.Any(k => HookCommandLine.IsOurs(JsonConfigFile.StringOf(entry, k)));

    protected static string PowerShellCommand(string executablePath, string platform) =>
        $"& '{executablePath.Replace("'", "''")}' hook {platform}";
}

/// <summary>Copilot CLI: <c>agentStop</c> in <c>~/.copilot/hooks/skillloop.json</c> or the project's <c>.github/hooks/</c>.</summary>
public sealed class CopilotInstaller : FlatHooksInstaller
{
    public const string FileName = "skillloop.json";

    public override string Platform => "copilot";
    protected override string EventName => "agentStop";
    protected override string[] CommandKeys => ["bash", "powershell", "command"];

    public override string TargetPath(InstallContext context) => context.Scope == InstallScope.User
        ? Path.Combine(context.Homes.Copilot, "hooks", FileName)
        : Path.Combine(context.ProjectDirectory, ".github", "hooks", FileName);

    protected override JsonObject Entry(string executablePath) => new()
    {
        ["type"] = "command",
        ["bash"] = HookCommandLine.For(executablePath, Platform),
        ["powershell"] = PowerShellCommand(executablePath, Platform),
        ["timeoutSec"] = 10,
    };
}

/// <summary>
/// VS Code Copilot Chat: <c>Stop</c> in <c>.github/hooks/skillloop-vscode.json</c> (workspace) or in
/// <c>~/.copilot/hooks/</c>, the user-level folder VS Code reads. VS Code also runs the Stop hooks of Claude's
/// settings files; the payload identifies VS Code either way, so the event is captured once.
/// </summary>
public sealed class VsCodeInstaller : FlatHooksInstaller
{
    public const string FileName = "skillloop-vscode.json";

    public override string Platform => "vscode";
    protected override string EventName => "Stop";
    protected override string[] CommandKeys => ["command", "windows", "linux", "osx"];

    public override string TargetPath(InstallContext context) => context.Scope == InstallScope.User
        ? Path.Combine(context.Home, ".copilot", "hooks", FileName)
        : Path.Combine(context.ProjectDirectory, ".github", "hooks", FileName);

    protected override JsonObject Entry(string executablePath) => new()
    {
        ["type"] = "command",
        ["command"] = HookCommandLine.For(executablePath, Platform),
        ["timeout"] = 10,
    };
}

/// <summary>Cursor: <c>stop</c> in <c>~/.cursor/hooks.json</c> or the project's <c>.cursor/hooks.json</c>.</summary>
public sealed class CursorInstaller : FlatHooksInstaller
{
    public override string Platform => "cursor";
    protected override string EventName => "stop";
    protected override string[] CommandKeys => ["command"];

    public override string TargetPath(InstallContext context) => context.Scope == InstallScope.User
        ? Path.Combine(context.Home, ".cursor", "hooks.json")
        : Path.Combine(context.ProjectDirectory, ".cursor", "hooks.json");

    protected override JsonObject Entry(string executablePath) => new()
    {
        ["command"] = HookCommandLine.For(executablePath, Platform),
    };
}
