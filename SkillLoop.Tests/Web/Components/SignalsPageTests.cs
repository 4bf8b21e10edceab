using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SkillLoop.Core;
using MudBlazor;
using MudBlazor.Services;
using SkillLoop.Core.Capture;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Components.Pages.Signals;

namespace SkillLoop.Tests.Web.Components;

public sealed class SignalsPageTests : BunitContext, IAsyncLifetime
{
    private readonly TempDirectory _data = new("skillloop-bunit");

    public SignalsPageTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        TestCore.Build(_data.Path, services: Services);
        // The page shows admins its triage actions (AuthorizeView): a signed-in reviewer sees the list without them.
        AddAuthorization().SetAuthorized("reviewer");
        // As in a live circuit: the page shows its "Live" indicator only when interactive.
        Renderer.SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Server", isInteractive: true));
    }

    public async Task InitializeAsync()
    {
        foreach (var hosted in Services.GetServices<IHostedService>().OfType<SkillLoopStartup>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Stored_signals_are_listed_newest_first()
    {
        var ingestor = Services.GetRequiredService<SignalIngestor>();
        await ingestor.IngestAsync(SignalIngestorTests.Batch("page-1", 0, 10, corrections: "no, that's wrong"), CancellationToken.None);
        await ingestor.IngestAsync(SignalIngestorTests.Batch("page-2", 0, 10, corrections: "不对，应该是表格"), CancellationToken.None);
        Render<MudPopoverProvider>();

        var page = Render<Signals>();

        page.WaitForAssertion(() => Assert.Equal(
            ["不对，应该是表格", "no, that's wrong"],
            page.FindAll(".signal-text").Select(e => e.TextContent)));
    }

    [Fact]
    public async Task A_signals_detail_shows_the_turns_before_it_and_the_opening_of_the_agents_answer()
    {
        var batch = SignalIngestorTests.Batch("page-detail", 0, 10, corrections: "no, the totals go at the bottom");
        batch = batch with { Corrections = [batch.Corrections[0] with { Reply = "You're absolutely right, I apologize. Moving them." }] };
        await Services.GetRequiredService<SignalIngestor>().IngestAsync(batch, CancellationToken.None);
        var id = Assert.Single(await Services.GetRequiredService<SignalStore>().QueryAsync(new SignalQuery(), CancellationToken.None)).Id;
        Render<MudPopoverProvider>();
        Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>().NavigateTo($"/signals?signal={id}");

        var page = Render<Signals>();

        page.WaitForAssertion(() => Assert.Equal(
            ["assistant: Here is the report.", "user (correction): no, the totals go at the bottom",
             "assistant (its answer, opening): You're absolutely right, I apologize. Moving them."],
            page.FindAll(".context-turn").Select(e => e.TextContent.Trim())));
    }

    [Fact]
    public async Task A_signal_stored_while_the_page_is_open_appears_without_reload()
    {
        Render<MudPopoverProvider>();
        var page = Render<Signals>();
        page.WaitForAssertion(() => Assert.Contains("No signals yet", page.Markup));
        Assert.NotNull(page.Find("[data-testid=live-indicator]"));

        await Services.GetRequiredService<SignalIngestor>().IngestAsync(
            SignalIngestorTests.Batch("page-live", 0, 10, corrections: "you forgot the header again"), CancellationToken.None);

        page.WaitForAssertion(() =>
        {
            var row = Assert.Single(page.FindAll(".signal-text"));
            Assert.Equal("you forgot the header again", row.TextContent);
        }, TimeSpan.FromSeconds(5));
        Assert.Contains("signal-new", page.Markup);
    }

    [Fact]
    public async Task Closing_the_page_stops_its_live_subscription()
    {
        Render<MudPopoverProvider>();
        var page = Render<Signals>();
        var feed = Services.GetRequiredService<SignalFeed>();
        page.WaitForAssertion(() => Assert.Equal(1, feed.SubscriberCount));

        await DisposeComponentsAsync();

        Assert.Equal(0, feed.SubscriberCount);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        // MudBlazor's services dispose only asynchronously.
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _data.Dispose();
    }
}
