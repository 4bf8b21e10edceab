namespace SkillLoop.Hooks.Install;

public static class Installers
{
    public static IReadOnlyList<IPlatformInstaller> All { get; } =
    [
        new ClaudeInstaller(),
    ];

    public static IPlatformInstaller? For(string platform) =>
        All.FirstOrDefault(i => string.Equals(i.Platform, platform, StringComparison.OrdinalIgnoreCase));
}
