namespace SkillLoop.Tests.Support;

/// <summary>One agent CLI from npm, or why it cannot run here.</summary>
public sealed record RealCli(string Name, string? Executable, string? Version, string? Unavailable);

/// <summary>
/// The real agent CLIs, pinned in <c>SkillLoop.Tests/RealCli/package.json</c> + lock and installed once per test run
/// with <c>npm ci</c> (or <c>npm install</c> of the same lock, see below) into <c>artifacts/real-cli</c> (reused while the lock file is unchanged). Where npm or the
/// registry is missing, each CLI reports why, and its tests skip with that reason instead of failing.
/// </summary>
public static class RealCliTools
{
    private static readonly Lazy<Task<string?>> Install = new(InstallAsync);

    public static string Folder => Path.Combine(PublishedClient.RepositoryRoot, "artifacts", "real-cli");

    /// <summary>Copilot unpacks ~235 MB on first start: one cache folder for every test (XDG_CACHE_HOME).</summary>
    public static string CacheFolder => Path.Combine(Folder, "cache");

    public static async Task<RealCli> GetAsync(string name)
    {
        if (await Install.Value is { } problem)
        {
            return new RealCli(name, null, null, problem);
        }

        var executable = Path.Combine(Folder, "node_modules", ".bin", name);
        if (!File.Exists(executable))
        {
            return new RealCli(name, null, null, $"{name} is missing from {Folder}/node_modules/.bin after npm ci");
        }

        var home = Directory.CreateTempSubdirectory("skillloop-version-home-");
        try
        {
            var run = await ProcessRunner.RunAsync(executable, ["--version"],
                new Dictionary<string, string?> { ["HOME"] = home.FullName, ["XDG_CACHE_HOME"] = CacheFolder }, timeout: TimeSpan.FromMinutes(3));
            var version = run.StandardOutput.Trim().Split('\n')[0].Trim();
            return run.ExitCode == 0 && version.Length > 0
                ? new RealCli(name, executable, version, null)
                : new RealCli(name, null, null, $"'{name} --version' failed ({run.ExitCode}): {run.StandardError.Trim()}");
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }

    private static async Task<string?> InstallAsync()
    {
        var source = Path.Combine(PublishedClient.RepositoryRoot, "SkillLoop.Tests", "RealCli");
        Directory.CreateDirectory(Folder);
        var lockFile = Path.Combine(Folder, "package-lock.json");
        var installed = Path.Combine(Folder, "node_modules", ".package-lock.json");
        if (File.Exists(installed) && File.Exists(lockFile)
            && File.ReadAllText(lockFile) == File.ReadAllText(Path.Combine(source, "package-lock.json")))
        {
            return null;
        }

        File.Copy(Path.Combine(source, "package.json"), Path.Combine(Folder, "package.json"), overwrite: true);
        File.Copy(Path.Combine(source, "package-lock.json"), lockFile, overwrite: true);
        ProcessResult run;
        try
        {
            run = await ProcessRunner.RunAsync("npm", ["ci", "--no-audit", "--no-fund"], timeout: TimeSpan.FromMinutes(15), workingDirectory: Folder);
            if (run.ExitCode != 0 && run.StandardError.Contains("are in sync", StringComparison.Ordinal))
            {
                // cline's per-platform binaries (@cline/cli-darwin-*, -windows-*, -linux-arm64) are optional and the
                // registry here serves only linux-x64, so the lock lacks the others and 'npm ci' calls it out of sync.
                // 'npm install' installs the same locked versions and skips the missing optional ones.
                run = await ProcessRunner.RunAsync("npm", ["install", "--no-audit", "--no-fund"], timeout: TimeSpan.FromMinutes(15), workingDirectory: Folder);
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "npm is not installed on this machine, so the agent CLIs cannot be installed";
        }

        return run.ExitCode == 0
            ? null
            : $"'npm ci' of the pinned agent CLIs failed ({run.ExitCode}; is the npm registry reachable?): {Tail(run.StandardError)}";
    }

    private static string Tail(string text) => text.Length <= 600 ? text.Trim() : text[^600..].Trim();
}
