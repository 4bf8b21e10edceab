using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MudBlazor;
using MudBlazor.Services;
using SkillLoop.Core;

namespace SkillLoop.Tests.Support;

/// <summary>
/// bUnit for dashboard components (the MudBlazor recipe: loose JS interop, providers rendered) over the real core on a
/// SQLite file in a temp folder, migrated and seeded as at start, with a signed-in user of one role.
/// </summary>
public sealed class DashboardContext : IAsyncDisposable
{
    private readonly TempDirectory _data;

    private DashboardContext(TempDirectory data, BunitContext context) => (_data, Context) = (data, context);

    public BunitContext Context { get; }

    public IServiceProvider Services => Context.Services;

    public string DataDirectory => _data.Path;

    public T Get<T>() where T : notnull => Context.Services.GetRequiredService<T>();

    /// <param name="settings">Configuration from the data directory's path (e.g. a models folder inside it).</param>
    public static async Task<DashboardContext> StartAsync(string user, string role, Func<string, IDictionary<string, string?>>? settings = null)
    {
        var data = new TempDirectory("skillloop-bunit");
        // WaitForAssertion ends as soon as the page shows what is awaited; bUnit's 1 s ceiling failed on a busy 2-core
        // machine (a database read behind other tests' work), so the ceiling is one only a real hang reaches.
        BunitContext.DefaultWaitTimeout = TimeSpan.FromSeconds(30);
        var context = new BunitContext();
        context.JSInterop.Mode = JSRuntimeMode.Loose;
        context.Services.AddMudServices();
        TestCore.Build(data.Path, settings?.Invoke(data.Path), context.Services);
        context.Services.AddSingleton<SkillLoop.Web.Components.Pages.Overview.Inbox>();
        context.Services.AddSingleton<SkillLoop.Web.Endpoints.ServerStatusReader>();
        var auth = context.AddAuthorization();
        auth.SetAuthorized(user);
        auth.SetRoles(role);
        foreach (var hosted in context.Services.GetServices<IHostedService>().OfType<SkillLoopStartup>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        return new DashboardContext(data, context);
    }

    /// <summary>MudBlazor's dialog provider as rendered by <see cref="Render{T}"/>: confirmation dialogs appear in it.</summary>
    public IRenderedComponent<MudDialogProvider> Dialogs { get; private set; } = null!;

    /// <summary>Renders MudBlazor's popover, dialog and snackbar providers, then the component.</summary>
    public IRenderedComponent<T> Render<T>(Action<ComponentParameterCollectionBuilder<T>>? parameters = null) where T : IComponent
    {
        Context.Render<MudPopoverProvider>();
        Dialogs = Context.Render<MudDialogProvider>();
        Context.Render<MudSnackbarProvider>();
        return Context.Render(parameters);
    }

    /// <summary>Waits for the confirmation dialog and presses its confirm button.</summary>
    public void Confirm()
    {
        Dialogs.WaitForAssertion(() => Assert.NotNull(Dialogs.Find("[data-testid=confirm-ok]")));
        Dialogs.Find("[data-testid=confirm-ok]").Click();
    }

    public async ValueTask DisposeAsync()
    {
        await Context.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _data.Dispose();
    }
}
