namespace SkillLoop.Tests.Support;

/// <summary>
/// PowerShell 7 (the <c>PowerShell</c> .NET tool from NuGet, pinned), installed once per test run into
/// <c>artifacts/pwsh</c> so <c>install.ps1</c> is read and run by a real PowerShell. Where it cannot be installed
/// (no registry), <see cref="RealCli.Unavailable"/> says why and the tests skip with that reason.
/// </summary>
public static class PowerShellTool
{
    public const string Version = "7.6.9";

    private static readonly Lazy<Task<RealCli>> Install = new(InstallAsync);

    public static Task<RealCli> GetAsync() => Install.Value;

    /// <summary>What PowerShell needs to start offline and quietly in a temporary home.</summary>
    public static Dictionary<string, string?> Environment(string home) => new()
    {
        ["HOME"] = home,
        ["POWERSHELL_TELEMETRY_OPTOUT"] = "1",
        ["POWERSHELL_UPDATECHECK"] = "Off",
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["SKILLLOOP_TOKEN"] = null,
    };

    private static async Task<RealCli> InstallAsync()
    {
        var folder = Path.Combine(PublishedClient.RepositoryRoot, "artifacts", "pwsh");
        var executable = Path.Combine(folder, "pwsh");
        if (!File.Exists(executable))
        {
            var install = await ProcessRunner.RunAsync("dotnet", ["tool", "install", "--tool-path", folder, "PowerShell", "--version", Version],
                timeout: TimeSpan.FromMinutes(10));
            if (install.ExitCode != 0 || !File.Exists(executable))
            {
                var error = (install.StandardError + install.StandardOutput).Trim();
                return new RealCli("pwsh", null, null,
                    $"'dotnet tool install PowerShell {Version}' failed ({install.ExitCode}; is the NuGet registry reachable?): {(error.Length <= 600 ? error : error[^600..])}");
            }
        }

        var home = Directory.CreateTempSubdirectory("skillloop-pwsh-home-");
        try
        {
            var run = await ProcessRunner.RunAsync(executable, ["-NoProfile", "-NonInteractive", "-Command", "$PSVersionTable.PSVersion.ToString()"],
                Environment(home.FullName), timeout: TimeSpan.FromMinutes(2));
            return run.ExitCode == 0
                ? new RealCli("pwsh", executable, run.StandardOutput.Trim(), null)
                : new RealCli("pwsh", null, null, $"pwsh did not start ({run.ExitCode}): {run.StandardError.Trim()}");
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }
}
