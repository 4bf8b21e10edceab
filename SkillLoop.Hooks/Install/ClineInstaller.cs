using System.Text;

namespace SkillLoop.Hooks.Install;

/// <summary>
/// Cline: a <c>TaskComplete</c> hook script in <c>~/Documents/Cline/Hooks/</c> (user) or
/// <c>&lt;dir&gt;/.clinerules/hooks/</c> (project). Cline runs one script per hook name, so a script the user already
/// has is kept beside ours (<c>TaskComplete.skillloop-chained</c>) and ours passes each event on to it; uninstall puts
/// it back.
/// </summary>
public sealed class ClineInstaller : IPlatformInstaller
{
    public const string HookName = "TaskComplete";
    public const string ChainedSuffix = ".skillloop-chained";
    private const string Marker = "# skillloop-client hook cline";

    public string Platform => "cline";

    public string TargetPath(InstallContext context) => context.Scope == InstallScope.User
        ? Path.Combine(context.Home, "Documents", "Cline", "Hooks", HookName)
        : Path.Combine(context.ProjectDirectory, ".clinerules", "hooks", HookName);

    public ChangeResult Install(InstallContext context)
    {
        var path = TargetPath(context);
        var chained = path + ChainedSuffix;
        if (File.Exists(path) && !IsOurs(path))
        {
            JsonConfigFile.BackupOnce(path);
            File.Move(path, chained);
        }
        var script = Script(context.ExecutablePath, File.Exists(chained));
        if (File.Exists(path) && File.ReadAllText(path) == script)
            return ChangeResult.Unchanged;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        JsonConfigFile.WriteAtomically(path, Encoding.UTF8.GetBytes(script));
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return ChangeResult.Changed;
    }

    public ChangeResult Uninstall(InstallContext context)
    {
        var path = TargetPath(context);
        if (!File.Exists(path) || !IsOurs(path))
            return ChangeResult.Unchanged;
        File.Delete(path);
        var chained = path + ChainedSuffix;
        if (File.Exists(chained))
            File.Move(chained, path);
        return ChangeResult.Changed;
    }

    public bool IsInstalled(InstallContext context) => File.Exists(TargetPath(context)) && IsOurs(TargetPath(context));

    private static bool IsOurs(string path)
    {
        try
        {
            return File.ReadLines(path).Take(5).Any(l => l.StartsWith(Marker, StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    }

    internal static string Script(string executablePath, bool chain)
    {
        var exe = "'" + executablePath.Replace("'", "'\\''") + "'";
        var script = new StringBuilder()
            .Append("#!/bin/sh\n")
            .Append(Marker).Append(" (installed by `skillloop-client install cline`; remove with `skillloop-client uninstall cline`)\n");
        if (!chain)
            return script.Append("exec ").Append(exe).Append(" hook cline\n").ToString();
        // Ours first (it returns at once and prints nothing), then the user's own hook, whose output Cline reads.
        return script
            .Append("input=$(cat)\n")
            .Append("printf '%s' \"$input\" | ").Append(exe).Append(" hook cline\n")
            .Append("printf '%s' \"$input\" | \"$(dirname \"$0\")/").Append(HookName).Append(ChainedSuffix).Append("\"\n")
            .ToString();
    }
}
