namespace SkillLoop.Tests.Support;

/// <summary>
/// Installs Debian packages a test needs (a browser, a cross toolchain) with apt-get, as the CI machine allows: one
/// install at a time in this process, and apt waits for another process's lock instead of failing on it.
/// </summary>
public static class DebianPackages
{
    private static readonly SemaphoreSlim OneAtATime = new(1, 1);

    /// <summary>
    /// Runs <c>apt-get install</c> for <paramref name="packages"/> unless <paramref name="installed"/> already holds.
    /// Null when it holds afterwards, else what apt-get said (for a skip reason or an exception).
    /// </summary>
    public static async Task<string?> EnsureAsync(Func<bool> installed, params string[] packages)
    {
        if (installed())
        {
            return null;
        }

        await OneAtATime.WaitAsync();
        try
        {
            if (installed())
            {
                return null;
            }

            var environment = new Dictionary<string, string?> { ["DEBIAN_FRONTEND"] = "noninteractive" };
            string[] waitForLock = ["-o", "DPkg::Lock::Timeout=600"];
            var update = await ProcessRunner.RunAsync("apt-get", [.. waitForLock, "update", "-qq"], environment, timeout: TimeSpan.FromMinutes(5));
            var install = await ProcessRunner.RunAsync("apt-get", [.. waitForLock, "install", "-y", "-qq", "--no-install-recommends", .. packages], environment,
                timeout: TimeSpan.FromMinutes(10));
            return installed()
                ? null
                : $"'apt-get install {string.Join(' ', packages)}' failed (update {update.ExitCode}, install {install.ExitCode}):\n{install.StandardError}";
        }
        finally
        {
            OneAtATime.Release();
        }
    }
}
