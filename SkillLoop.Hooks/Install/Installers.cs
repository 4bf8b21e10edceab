namespace SkillLoop.Hooks.Install;

public static class Installers
{
    public static IReadOnlyList<IPlatformInstaller> All { get; } =
    [
        new ClaudeInstaller(),
        new CopilotInstaller(),
        new VsCodeInstaller(),
        new CursorInstaller(),
        new CodexInstaller(),
        new ClineInstaller(),
    ];

    public static IPlatformInstaller? For(string platform, bool codexNotify = false) =>
        codexNotify && platform == "codex"
            ? new CodexInstaller { PreferNotify = true }
            : All.FirstOrDefault(i => string.Equals(i.Platform, platform, StringComparison.OrdinalIgnoreCase));
}
