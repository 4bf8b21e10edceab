using System.Diagnostics;
using System.Net.Http.Json;
using Microsoft.Playwright;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;
using Xunit.Abstractions;

namespace SkillLoop.Tests.Browser;

/// <summary>The dashboard in a real browser against the real server.</summary>
[Collection(ServerCollection.Name)]
public sealed class LiveSignalsBrowserTests(SkillLoopServer server, BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task An_admin_signs_in_and_watches_a_signal_arrive_live_without_reload()
    {
        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString() });
        var page = await context.NewPageAsync();

        await page.GotoAsync("/signals");
        Assert.EndsWith("/account/login", new Uri(page.Url).AbsolutePath);
        await page.GetByLabel("User name").FillAsync("admin");
        await page.GetByLabel("Password").FillAsync(SkillLoopServer.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync("**/signals");
        await page.GetByRole(AriaRole.Heading, new() { Name = "Live signals" }).WaitForAsync();
        // The "Live" indicator renders only once the page's circuit is interactive (and subscribed).
        await page.GetByTestId("live-indicator").WaitForAsync();
        await page.EvaluateAsync("() => window.__sameDocument = true");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "signals-before.png"), FullPage = true });

        var text = $"不对，应该保留表头 {Guid.NewGuid():N}";
        var stopwatch = Stopwatch.StartNew();
        using var ingest = server.CreateIngestClient();
        (await ingest.PostAsJsonAsync("/api/v1/signals", SignalIngestorTests.Batch($"browser-{Guid.NewGuid():N}", 0, 10, corrections: text))).EnsureSuccessStatusCode();

        var row = page.Locator(".signal-text", new() { HasTextString = text });
        await row.WaitForAsync(new() { Timeout = 15_000 });
        output.WriteLine($"signal visible in the browser {stopwatch.ElapsedMilliseconds} ms after it was posted");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "signals-live.png"), FullPage = true });

        Assert.Equal(text, await row.InnerTextAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded");
        Assert.EndsWith("/signals", page.Url);
    }

    [Fact]
    public async Task The_live_chip_says_reconnecting_while_the_circuit_is_down_and_live_again_once_it_is_back()
    {
        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString() });
        var page = await context.NewPageAsync();
        // The circuit's WebSocket passes through the test: it can be cut, and reconnections refused while it is down.
        var down = false;
        var live = new List<IWebSocketRoute>();
        await page.RouteWebSocketAsync("**/_blazor**", async socket =>
        {
            if (down)
            {
                await socket.CloseAsync();
                return;
            }

            live.Add(socket.ConnectToServer());
        });
        // While it is down, SignalR's other transports (server-sent events, long polling: plain HTTP requests) must fail
        // too: a reconnection through one of them hid the circuit-down state again before it could be read.
        await page.RouteAsync("**/_blazor**", async route =>
        {
            if (down)
                await route.AbortAsync();
            else
                await route.ContinueAsync();
        });
        await page.GotoAsync("/account/login?ReturnUrl=%2Fsignals");
        await page.GetByLabel("User name").FillAsync("admin");
        await page.GetByLabel("Password").FillAsync(SkillLoopServer.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync("**/signals");
        var chip = page.GetByTestId("live-indicator");
        await chip.WaitForAsync();
        const string After = "el => getComputedStyle(el.querySelector('.mud-chip-content'), '::after').content";
        Assert.Equal("none", await chip.EvaluateAsync<string>(After));

        down = true;
        foreach (var socket in live.ToList())
        {
            await socket.CloseAsync();
        }

        await page.WaitForFunctionAsync("() => document.documentElement.classList.contains('circuit-down')", null, new() { Timeout = 15_000 });
        Assert.Contains("reconnecting", await chip.EvaluateAsync<string>(After), StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "signals-reconnecting.png") });

        down = false;
        await page.EvaluateAsync("() => Blazor.reconnect()");
        // Blazor's own retry loop, still running from the outage, can report one more "retrying" after this reconnect
        // succeeded (seen on a loaded machine: the chip said reconnecting again for a moment), then "hide": the chip
        // must come back to live, whichever reconnect wins.
        await page.WaitForFunctionAsync(
            "() => !document.documentElement.classList.contains('circuit-down') && getComputedStyle(document.querySelector('[data-testid=live-indicator] .mud-chip-content'), '::after').content === 'none'",
            null, new() { Timeout = 30_000 });
    }
}
