using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SkillLoop.Core;
using MudBlazor.Services;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Components.Pages.Overview;
using SkillLoop.Web.Endpoints;

namespace SkillLoop.Tests.Web.Components;

public sealed class OverviewPageTests : IAsyncLifetime
{
    private readonly TempDirectory _data = new("skillloop-bunit");
    private readonly List<BunitContext> _contexts = [];

    [Fact]
    public async Task Without_sqlite_vec_the_overview_warns_that_search_is_exact()
    {
        var context = await StartAsync(new Dictionary<string, string?> { ["SKILLLOOP_SQLITE_VEC"] = "/nonexistent/vec0.so" });

        var page = context.Render<Overview>();

        page.WaitForAssertion(() =>
        {
            Assert.Contains("exact in-process search", page.Find("[data-testid=vector-fallback]").TextContent);
            Assert.Equal("exact (in-process)", page.Find("[data-testid=vector-index]").TextContent);
        });
    }

    [Fact]
    public async Task With_sqlite_vec_the_overview_names_it_and_shows_no_warning()
    {
        var context = await StartAsync(null);

        var page = context.Render<Overview>();

        page.WaitForAssertion(() => Assert.Equal("sqlite-vec v0.1.9", page.Find("[data-testid=vector-index]").TextContent));
        Assert.Empty(page.FindAll("[data-testid=vector-fallback]"));
    }

    private async Task<BunitContext> StartAsync(Dictionary<string, string?>? settings)
    {
        var context = new BunitContext();
        _contexts.Add(context);
        context.JSInterop.Mode = JSRuntimeMode.Loose;
        context.Services.AddMudServices();
        TestCore.Build(Path.Combine(_data.Path, _contexts.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)), settings, context.Services);
        context.Services.AddSingleton<ServerStatusReader>();
        foreach (var hosted in context.Services.GetServices<IHostedService>().OfType<SkillLoopStartup>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        return context;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            await context.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _data.Dispose();
    }
}
