namespace SkillLoop.Hooks.Install;

/// <summary>
/// Claude Code: a Stop hook in <c>~/.claude/settings.json</c> (user) or <c>&lt;dir&gt;/.claude/settings.json</c>
/// (project): <c>{"hooks":{"Stop":[{"matcher":"","hooks":[{"type":"command","command":"…"}]}]}}</c>.
/// VS Code reads these files too; the hook payload, not the file, decides the platform, so that is captured once.
/// </summary>
public sealed class ClaudeInstaller : IPlatformInstaller
{
    public string Platform => "claude";

    public string TargetPath(InstallContext context) => context.Scope == InstallScope.User
        ? Path.Combine(context.Homes.Claude, "settings.json")
        : Path.Combine(context.ProjectDirectory, ".claude", "settings.json");

    public ChangeResult Install(InstallContext context) =>
        NestedHooks.Install(TargetPath(context), "Stop", HookCommandLine.For(context.ExecutablePath, Platform));

    public ChangeResult Uninstall(InstallContext context) => NestedHooks.Uninstall(TargetPath(context), "Stop");

    public bool IsInstalled(InstallContext context) => NestedHooks.IsInstalled(TargetPath(context), "Stop");
}
