using Microsoft.Playwright;

namespace SkillLoop.Tests.Support;

/// <summary>
/// Debian's chromium driven by Playwright. Playwright's own browser download cannot work on our networks, so the
/// test set-up installs the distribution package through apt where it is missing.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public static string ScreenshotDirectory => Path.Combine(PublishedClient.RepositoryRoot, "artifacts", "screenshots");

    public async Task InitializeAsync()
    {
        await EnsureChromiumAsync();
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // Our machines have no network but loopback: keep chromium from dialling out at every start.
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            ],
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
    }

    private static async Task EnsureChromiumAsync()
    {
        if (File.Exists(ChromiumPath))
        {
            return;
        }

        var environment = new Dictionary<string, string?> { ["DEBIAN_FRONTEND"] = "noninteractive" };
        var update = await ProcessRunner.RunAsync("apt-get", ["update", "-qq"], environment, timeout: TimeSpan.FromMinutes(5));
        var install = await ProcessRunner.RunAsync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"], environment, timeout: TimeSpan.FromMinutes(10));
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"chromium is missing and 'apt-get install chromium' failed (update {update.ExitCode}, install {install.ExitCode}):\n{install.StandardError}");
        }
    }
}
