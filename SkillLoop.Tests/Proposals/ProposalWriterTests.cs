using System.Text.Json;
using SkillLoop.Core.Proposals;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Proposals;

public sealed class ProposalWriterTests
{
    private static readonly ProposalEvidence Evidence = new(
        7, "pdf-report", "Totals row at the bottom", 3, 3, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(2),
        "The totals row is rendered above the table.", "The skill says nothing about where totals go.", "Render the totals row as the table's last row.",
        ["no, the totals go at the bottom"], 0.8);

    /// <summary>A core whose chat model is the fake endpoint's "fake-model".</summary>
    private static Task<Support.TestCore> WithModelAsync(FakeOpenAiServer endpoint) => Support.TestCore.StartAsync(new Dictionary<string, string?>
    {
        ["SKILLLOOP_LLM_ENDPOINT"] = endpoint.V1.ToString(),
        ["SKILLLOOP_LLM_MODEL"] = "fake-model",
    });

    [Fact]
    public void The_pitfalls_entry_goes_into_an_existing_section_and_is_replaced_not_repeated()
    {
        const string original = "---\nname: pdf\n---\n# PDF\n\n## Known pitfalls\n\n- **Old** problem.\n\n## Usage\n\nRun it.\n";

        var first = ProposalWriter.WritePitfall(original, Evidence);
        var again = ProposalWriter.WritePitfall(first.Text, Evidence with { ExpectedBehavior = "Totals go last." });

        Assert.Equal(
            "---\nname: pdf\n---\n# PDF\n\n## Known pitfalls\n\n- **Old** problem.\n- Render the totals row as the table's last row. (reported by 3 users) <!-- skillloop:cluster-7 -->\n\n## Usage\n\nRun it.\n",
            first.Text);
        Assert.Single(again.Text.Split('\n'), l => l.Contains("skillloop:cluster-7", StringComparison.Ordinal));
        Assert.Contains("Totals go last.", again.Text, StringComparison.Ordinal);
        Assert.Equal(ProposalWriter.Pitfalls, first.GeneratedBy);
        Assert.True(first.Confidence <= 0.6);
    }

    [Theory]
    [InlineData("The agent should use pnpm instead of npm in this repo.", 3, "- Use pnpm instead of npm in this repo. (reported by 3 users)")]
    [InlineData("The agent should not touch package-lock.json.", 2, "- Do not touch package-lock.json. (reported by 2 users)")]
    [InlineData("The agent should follow the user's correction: \"the config lives in .env\"", 1, "- Users corrected the agent here: “The config lives in .env” Do what they asked. (reported by 1 user)")]
    [InlineData("Keep the totals row last", 4, "- Keep the totals row last. (reported by 4 users)")]
    public void The_model_free_entry_is_an_instruction_with_how_many_users_reported_it(string expected, int users, string bullet)
    {
        var evidence = Evidence with { ProblemPattern = "Wrong tool or approach: use pnpm instead of npm in this repo.", ExpectedBehavior = expected, DistinctUsers = users };

        var change = ProposalWriter.WritePitfall("# Node\n", evidence);

        Assert.Equal("# Node\n\n## Known pitfalls\n\n" + bullet + " <!-- skillloop:cluster-7 -->\n", change.Text);
        Assert.Contains("written without a model", change.Summary, StringComparison.Ordinal);
        Assert.DoesNotContain("Wrong tool or approach", change.Text, StringComparison.Ordinal);
        Assert.Contains("_Written without a model", ProposalWriter.Body(evidence, change, null), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_chat_model_the_model_writes_the_change_and_an_invalid_answer_is_retried_once()
    {
        await using var endpoint = await FakeOpenAiServer.StartAsync();
        await using var core = await WithModelAsync(endpoint);
        const string original = "---\nname: pdf\ndescription: PDFs.\n---\n# PDF\n\nRender the table.\n";
        const string improved = "---\nname: pdf\ndescription: PDFs.\n---\n# PDF\n\nRender the table, then the totals row as its last row.\n";
        endpoint.EnqueueChat(JsonSerializer.Serialize(new { improvedFile = "---\nname: renamed\n---\nx\n", summary = "Renamed.", confidence = 0.9 }));
        endpoint.EnqueueChat(JsonSerializer.Serialize(new { improvedFile = improved, summary = "Says where the totals row goes.", confidence = 0.85 }));

        var change = await core.Get<ProposalWriter>().WriteAsync(original, "skills/pdf/SKILL.md", Evidence, CancellationToken.None);

        Assert.Equal((improved, "Says where the totals row goes.", "model:fake-model", 0.85), (change.Text, change.Summary, change.GeneratedBy, change.Confidence));
        var requests = endpoint.Requests.ToList();
        Assert.Equal(2, requests.Count);
        Assert.Contains("front matter's name must stay 'pdf'", requests[1].Body.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_models_new_lines_and_summary_lose_invisible_characters_and_the_lines_it_kept_stay_byte_for_byte()
    {
        await using var endpoint = await FakeOpenAiServer.StartAsync();
        await using var core = await WithModelAsync(endpoint);
        // The file already holds a zero-width joiner (an emoji sequence someone wrote): kept lines are not the model's.
        const string original = "---\nname: pdf\ndescription: PDFs.\n---\n# PDF\n\nRender the table. 👩\u200D💻\n";
        const string hidden = Capture.InvisibleCharactersTests.Hidden;
        endpoint.EnqueueChat(JsonSerializer.Serialize(new
        {
            improvedFile = $"---\nname: pdf\ndescription: PDFs.\n---\n# PDF\n\nRender the table. 👩\u200D💻\nPut the totals row last.{hidden}\n",
            summary = $"Says where{hidden} the totals row goes.",
            confidence = 0.85,
        }));

        var change = await core.Get<ProposalWriter>().WriteAsync(original, "skills/pdf/SKILL.md", Evidence, CancellationToken.None);

        Assert.Equal("model:fake-model", change.GeneratedBy);
        Assert.Equal("---\nname: pdf\ndescription: PDFs.\n---\n# PDF\n\nRender the table. 👩\u200D💻\nPut the totals row last.\n", change.Text);
        Assert.Equal("Says where the totals row goes.", change.Summary);
    }

    [Fact]
    public async Task A_model_that_answers_badly_twice_or_is_down_leaves_the_deterministic_entry_marked_as_such()
    {
        await using var endpoint = await FakeOpenAiServer.StartAsync();
        await using var core = await Support.TestCore.StartAsync(new Dictionary<string, string?>
        {
            ["SKILLLOOP_LLM_ENDPOINT"] = endpoint.V1.ToString(),
            ["SKILLLOOP_LLM_MODEL"] = "fake-model",
            ["SKILLLOOP_LLM_RETRIES"] = "0",
        });
        const string original = "---\nname: pdf\n---\n# PDF\n";
        endpoint.EnqueueChat("not json");
        endpoint.EnqueueChat(JsonSerializer.Serialize(new { improvedFile = original, summary = "Nothing.", confidence = 0.9 }));

        var invalid = await core.Get<ProposalWriter>().WriteAsync(original, "SKILL.md", Evidence, CancellationToken.None);
        endpoint.Enqueue(500, """{"error":{"message":"down"}}""");
        var down = await core.Get<ProposalWriter>().WriteAsync(original, "SKILL.md", Evidence, CancellationToken.None);

        Assert.Equal(ProposalWriter.Pitfalls, invalid.GeneratedBy);
        Assert.Equal(ProposalWriter.Pitfalls, down.GeneratedBy);
        Assert.Contains(ProposalWriter.PitfallsHeading, down.Text, StringComparison.Ordinal);
        Assert.Contains("Written without a model", ProposalWriter.Body(Evidence, down, null), StringComparison.Ordinal);
    }
}
