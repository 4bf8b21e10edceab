using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using SkillLoop.Core.Access;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Data;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Components.Pages.Settings;

namespace SkillLoop.Tests.Web.Components;

/// <summary>Settings → AI providers, rendered with bUnit over the real core (SQLite file) and the fake endpoint.</summary>
public sealed class AiProviderSettingsTests : IAsyncLifetime
{
    private const string Secret = "sk-bunit-7f3a9c21e4";

    private DashboardContext _dashboard = null!;
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync();
        _dashboard = await DashboardContext.StartAsync("admin", Roles.Admin, data => new Dictionary<string, string?> { ["models"] = Path.Combine(data, "models") });
    }

    public async Task DisposeAsync()
    {
        await _dashboard.DisposeAsync();
        await _fake.DisposeAsync();
    }

    private IRenderedComponent<AiProviderSettings> Render()
    {
        var section = _dashboard.Render<AiProviderSettings>();
        section.WaitForAssertion(() => Assert.Contains("In use: chat heuristic", section.Find("[data-testid=ai-in-use]").TextContent));
        return section;
    }

    private static Task ChooseAsync(IRenderedComponent<AiProviderSettings> section, string label, string value)
    {
        var select = section.FindComponents<MudSelect<string>>().Single(s => s.Instance.Label == label);
        return section.InvokeAsync(() => select.Instance.ValueChanged.InvokeAsync(value));
    }

    private static Task TypeAsync(IRenderedComponent<AiProviderSettings> section, string label, string value)
    {
        var field = section.FindComponents<MudTextField<string>>().Single(f => f.Instance.Label == label);
        return section.InvokeAsync(() => field.Instance.ValueChanged.InvokeAsync(value));
    }

    [Fact]
    public async Task The_section_tests_an_endpoint_then_saves_it_and_shows_it_in_use_without_ever_showing_the_key()
    {
        var section = Render();
        await ChooseAsync(section, "Chat provider", "openai");
        await TypeAsync(section, "Chat endpoint URL", _fake.V1.ToString());
        await TypeAsync(section, "Chat model name", "fake-chat");
        await TypeAsync(section, "Chat API key", Secret);
        await ChooseAsync(section, "Embeddings provider", "openai");
        await TypeAsync(section, "Embeddings endpoint URL", _fake.V1.ToString());
        await TypeAsync(section, "Embeddings model name", "fake-embed");

        // Every field has a label a screen reader announces.
        foreach (var name in new[] { "Chat endpoint URL", "Chat model name", "Chat API key", "Embeddings endpoint URL" })
        {
            var label = section.FindAll("label").Single(l => l.TextContent.Trim() == name);
            Assert.Equal("INPUT", section.Find($"#{label.GetAttribute("for")}").TagName);
        }

        section.Find("[data-testid=ai-test]").Click();

        section.WaitForAssertion(() => Assert.Contains("works", section.Find("[data-testid=ai-test-chat]").TextContent), TimeSpan.FromSeconds(30));
        Assert.Contains("3 dimensions", section.Find("[data-testid=ai-test-embeddings]").TextContent);
        Assert.Equal("status", section.Find("[data-testid=ai-test-result]").GetAttribute("role"));
        var runtime = _dashboard.Get<AiRuntime>();
        Assert.Equal("heuristic", runtime.Status.Chat.Provider); // tried, not saved

        section.Find("[data-testid=ai-save]").Click();

        section.WaitForAssertion(() => Assert.Contains("chat openai (fake-chat)", section.Find("[data-testid=ai-in-use]").TextContent), TimeSpan.FromSeconds(30));
        Assert.Contains("embeddings openai (fake-embed)", section.Find("[data-testid=ai-in-use]").TextContent);
        Assert.Equal(new AiProviderInfo("openai", "fake-chat"), runtime.Status.Chat);
        Assert.DoesNotContain(Secret, section.Markup, StringComparison.Ordinal);
        Assert.Contains("A key is stored", section.Markup);
        var stored = await _dashboard.Get<SettingsStore>().GetAsync(AiSettings.Key, CancellationToken.None);
        Assert.DoesNotContain(Secret, stored, StringComparison.Ordinal);
        Assert.Contains(_fake.Requests, r => r.Path == "/v1/chat/completions" && r.Authorization == $"Bearer {Secret}");
    }

    [Fact]
    public async Task The_section_says_why_a_setting_is_refused_and_saves_nothing()
    {
        var section = Render();
        await ChooseAsync(section, "Chat provider", "openai");
        await TypeAsync(section, "Chat endpoint URL", "not a url");

        // Awaited: the click returns once the handler (validation, nothing saved) has finished, however busy the machine.
        await section.Find("[data-testid=ai-save]").ClickAsync(new());

        section.WaitForAssertion(() => Assert.Contains("An absolute http:// or https:// URL is expected", section.Find("[data-testid=ai-errors]").TextContent));
        Assert.Contains("model name is needed", section.Find("[data-testid=ai-errors]").TextContent);
        Assert.Null(await _dashboard.Get<SettingsStore>().GetAsync(AiSettings.Key, CancellationToken.None));

        await ChooseAsync(section, "Chat provider", "llama.cpp");
        Assert.Contains("No .gguf file in", section.Markup);
        await section.Find("[data-testid=ai-test]").ClickAsync(new());

        section.WaitForAssertion(() => Assert.Contains("Choose a GGUF file", section.Find("[data-testid=ai-errors]").TextContent));
        Assert.Empty(section.FindAll("[data-testid=ai-test-chat]"));
        Assert.Empty(_fake.Requests);
    }
}
