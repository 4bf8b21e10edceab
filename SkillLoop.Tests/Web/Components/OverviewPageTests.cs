using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SkillLoop.Core;
using SkillLoop.Core.Extraction;
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

    [Fact]
    public async Task Signals_the_chat_model_failed_on_are_shown_with_the_latest_error()
    {
        var context = await StartAsync(null);
        var db = context.Services.GetRequiredService<SkillLoop.Core.Data.SqliteDb>();
        long id;
        await using (var connection = await db.OpenAsync(CancellationToken.None))
        {
            id = await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection,
                """
                INSERT INTO signals (platform, session_id, turn_id, text, pattern, skill, skill_path, confidence, user_hash, context_json, created_at)
                VALUES ('claude', 's1', 't1', 'No, use pnpm.', 'en-reject-wrong', 'node', NULL, 0.9, 'u', '[]', '2026-01-01T00:00:00Z')
                RETURNING id
                """);
        }

        var error = "The prompt needs 1281 tokens even without the turns before the correction; the context of server:tiny holds 256 (85 kept for the answer).";
        var issue = HeuristicIssueExtractor.Extract(new ExtractionRequest("No, use pnpm.", "node", null, [])) with
        {
            ExtractedBy = HeuristicIssueExtractor.FallbackName("server:tiny", error),
        };
        var issues = context.Services.GetRequiredService<IssueStore>();
        await issues.EnqueueNewAsync(CancellationToken.None);
        await issues.CompleteAsync(id, issue, CancellationToken.None, modelError: error);

        var page = context.Render<Overview>();

        page.WaitForAssertion(() =>
        {
            var alert = page.Find("[data-testid=model-failures]").TextContent;
            Assert.Contains("failed on 1 signal(s)", alert);
            Assert.Contains("holds 256", alert);
            Assert.Contains("1 model failure(s)", page.Find("[data-testid=extraction-queue]").TextContent);
        });
    }

    [Fact]
    public async Task Without_model_failures_the_overview_shows_no_failure_alert()
    {
        var context = await StartAsync(null);

        var page = context.Render<Overview>();

        page.WaitForAssertion(() => Assert.Contains("0 model failure(s)", page.Find("[data-testid=extraction-queue]").TextContent));
        Assert.Empty(page.FindAll("[data-testid=model-failures]"));
    }

    private async Task<BunitContext> StartAsync(Dictionary<string, string?>? settings)
    {
        var context = new BunitContext();
        _contexts.Add(context);
        context.JSInterop.Mode = JSRuntimeMode.Loose;
        context.Services.AddMudServices();
        TestCore.Build(Path.Combine(_data.Path, _contexts.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)), settings, context.Services);
        context.Services.AddSingleton<ServerStatusReader>();
        context.Services.AddSingleton<Inbox>();
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
