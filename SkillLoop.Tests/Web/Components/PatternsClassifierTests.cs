using Bunit;
using MudBlazor;
using SkillLoop.Core.Access;
using SkillLoop.Core.Detection;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Detection;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Components.Pages.Patterns;

namespace SkillLoop.Tests.Web.Components;

/// <summary>The Patterns page's live tester shows the learned classifier's score beside the patterns that matched.</summary>
public sealed class PatternsClassifierTests : IAsyncLifetime
{
    private DashboardContext _dashboard = null!;

    public async Task InitializeAsync() => _dashboard = await DashboardContext.StartAsync("admin", Roles.Admin);

    public async Task DisposeAsync() => await _dashboard.DisposeAsync();

    [Fact]
    public async Task The_tester_shows_the_classifier_score_threshold_version_and_every_matching_pattern()
    {
        const string sample = "No, that's wrong. You forgot the quokka tests again";
        var page = await NewQuokkaPatternAsync();
        await TypeAsync(page, "A user's message", sample);

        var expected = (await DetectorWithQuokkaAsync()).Detect(sample, TurnContext.Unknown);
        page.WaitForAssertion(() =>
        {
            var result = page.Find("[data-testid=pattern-sample-score]").TextContent;
            Assert.Equal(expected.Score.ToString("0.00"), page.Find("[data-testid=classifier-score]").TextContent);
            Assert.Contains(DetectorModel.Shipped.Version, result);
            Assert.Contains($"threshold {expected.Threshold:0.00}", result);
            Assert.Contains("en.reject.no-thats-wrong", result);
            Assert.Contains("en.omit.forgot", result);
            Assert.Contains("en.custom.", result); // the candidate pattern is among the matches
            Assert.Contains(expected.IsCorrection ? "a correction" : "not a correction", result);
        });
    }

    [Fact]
    public async Task The_tester_scores_the_message_with_the_agents_words_before_it_and_its_answer_when_given()
    {
        const string sample = "the totals row goes at the bottom";
        const string previous = "Done: the report now puts the totals row first.";
        const string reply = "You're absolutely right, I apologize. Moving it.";
        var page = await NewQuokkaPatternAsync();
        var detector = await DetectorWithQuokkaAsync();
        var alone = detector.Detect(sample, TurnContext.Unknown).Score.ToString("0.00");
        var inContext = detector.Detect(sample, TurnContext.Unknown with { Previous = previous, Reply = reply }).Score.ToString("0.00");
        Assert.NotEqual(alone, inContext);

        await TypeAsync(page, "A user's message", sample);
        page.WaitForAssertion(() => Assert.Equal(alone, page.Find("[data-testid=classifier-score]").TextContent));
        await TypeAsync(page, "The agent's words before it (optional)", previous);
        await TypeAsync(page, "The agent's answer to it (optional)", reply);

        page.WaitForAssertion(() => Assert.Equal(inContext, page.Find("[data-testid=classifier-score]").TextContent));
    }

    [Fact]
    public async Task A_forced_pattern_is_saved_and_the_tester_says_it_decided()
    {
        var page = _dashboard.Render<Patterns>();
        page.WaitForAssertion(() => Assert.Contains("en.guard.dont-worry", page.Markup));
        page.Find("[data-testid=new-pattern]").Click();
        var id = page.FindComponents<MudTextField<string>>().Single(f => f.Instance.Label == "Id");
        await page.InvokeAsync(() => id.Instance.ValueChanged.InvokeAsync("en.custom.bot-echo"));
        var regex = page.FindComponents<MudTextField<string>>().Single(f => f.Instance.Label == "Regular expression");
        await page.InvokeAsync(() => regex.Instance.ValueChanged.InvokeAsync(@"^\[bot\]"));
        var force = page.FindComponents<MudSelect<string>>().Single(f => f.Instance.Label == "Decides");
        await page.InvokeAsync(() => force.Instance.ValueChanged.InvokeAsync(CorrectionPattern.ForceExclude));
        var text = page.FindComponents<MudTextField<string>>().Single(f => f.Instance.Label == "A user's message");
        await page.InvokeAsync(() => text.Instance.ValueChanged.InvokeAsync("[bot] no, that's wrong, you broke it"));

        page.WaitForAssertion(() => Assert.Contains("not a correction, decided by pattern-exclude en.custom.bot-echo",
            page.Find("[data-testid=pattern-sample-score]").TextContent));
        page.Find("[data-testid=pattern-save]").Click();
        page.WaitForAssertion(() => Assert.Equal(CorrectionPattern.ForceExclude,
            _dashboard.Get<PatternStore>().ListAsync(CancellationToken.None).GetAwaiter().GetResult().SingleOrDefault(p => p.Id == "en.custom.bot-echo")?.Force));
    }

    /// <summary>The Patterns page with a new, unsaved pattern matching "quokka" in the editor.</summary>
    private async Task<IRenderedComponent<Patterns>> NewQuokkaPatternAsync()
    {
        var page = _dashboard.Render<Patterns>();
        page.WaitForAssertion(() => Assert.Contains("en.guard.dont-worry", page.Markup));
        page.Find("[data-testid=new-pattern]").Click();
        await TypeAsync(page, "Regular expression", @"\bquokka\b");
        return page;
    }

    private static Task TypeAsync(IRenderedComponent<Patterns> page, string label, string value)
    {
        var field = page.FindComponents<MudTextField<string>>().Single(f => f.Instance.Label == label);
        return page.InvokeAsync(() => field.Instance.ValueChanged.InvokeAsync(value));
    }

    /// <summary>The detector the tester runs: the stored patterns plus the new, unsaved quokka pattern, in the clients' order.</summary>
    private async Task<TwoStageDetector> DetectorWithQuokkaAsync() => new(
        new CorrectionDetector((await _dashboard.Get<PatternStore>().ListAsync(CancellationToken.None))
            .Append(new CorrectionPattern("en.custom.", "en", "rejection", @"\bquokka\b"))
            .OrderBy(p => p.Language, StringComparer.Ordinal).ThenBy(p => p.Category, StringComparer.Ordinal).ThenBy(p => p.Id, StringComparer.Ordinal)),
        DetectorModel.Shipped);
}
