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
        if (await DebianPackages.EnsureAsync(() => File.Exists(ChromiumPath), "chromium") is { } failure)
        {
            throw new InvalidOperationException($"chromium is missing and {failure}");
        }
    }
}
