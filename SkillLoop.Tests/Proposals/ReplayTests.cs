using System.Text.Json;
using Dapper;
using SkillLoop.Core.Data;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Ai.OpenAi;
using SkillLoop.Core.Proposals;
using SkillLoop.Core.Proposals.Replay;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Proposals;

/// <summary>
/// Replay before review, end to end: three users' corrections become a proposal on a bare git remote (no model), then
/// a chat model on an OpenAI-compatible stand-in (127.0.0.1, scripted answers) replays each correction against the
/// current and the proposed text.
/// </summary>
public sealed class ReplayTests
{
    private const string Context = """[{"role":"user","text":"Build the monthly PDF report."},{"role":"assistant","text":"Done: the totals row is the first row of the table."}]""";

    private static string Verdict(bool prevented, double confidence, string reason = "The file says where the totals row goes.") =>
        JsonSerializer.Serialize(new { prevented, confidence, reason });

    /// <summary>A proposal in review from three users' corrections, each with the turns before it stored.</summary>
    private static async Task<(ProposalWorld World, ProposalDetail Proposal)> ReviewAsync(IDictionary<string, string?>? settings = null)
    {
        var world = await ProposalWorld.StartAsync("github", settings: settings);
        await world.CorrectAsync("alice");
        await world.CorrectAsync("bob", "the totals row must stay at the bottom of the table please");
        await world.CorrectAsync("carol", "no, the totals row must stay at the bottom of the table");
        await world.RunAsync();
        await world.RunAsync();
        await using (var connection = await world.Core.Get<SqliteDb>().OpenAsync(CancellationToken.None))
        {
            await connection.ExecuteAsync("UPDATE signals SET context_json = @Context", new { Context });
        }

        var proposal = await world.OnlyProposalAsync();
        Assert.Equal("review", proposal.Proposal.State);
        return (world, proposal);
    }

    private static void UseModel(ProposalWorld world, FakeOpenAiServer endpoint) =>
        world.Core.Get<AiRuntime>().Apply(new AiConfiguration(new AiProviderConfig(AiProviders.OpenAi, "fake-model", endpoint.V1.ToString()), new AiProviderConfig(AiProviders.MiniLm)));

    private static Task<int> ReplayAsync(ProposalWorld world) => world.Core.Get<ReplayRunner>().RunOnceAsync(CancellationToken.None);

    private static async Task<ProposalDetail> DetailAsync(ProposalWorld world, long id) => (await world.Core.Get<ProposalStore>().GetAsync(id, CancellationToken.None))!;

    [Fact]
    public async Task Each_correction_is_scored_against_the_current_and_the_proposed_text_and_the_pull_request_body_sums_it_up()
    {
        var (world, review) = await ReviewAsync();
        await using var _ = world;
        await using var endpoint = await FakeOpenAiServer.StartAsync();
        UseModel(world, endpoint);
        foreach (var confidence in new[] { 0.8, 0.7, 0.9 })
        {
            endpoint.EnqueueChat(Verdict(false, confidence, "The file does not say where the totals row goes."));
            endpoint.EnqueueChat(Verdict(true, 0.9));
        }

        Assert.Equal(1, await ReplayAsync(world));

        var detail = await DetailAsync(world, review.Proposal.Id);
        var replay = detail.Replay!;
        Assert.Equal(("done", "fake-model", 3, 3, 0, 3, 0, false), (replay.Status, replay.Model, replay.Corrections, replay.Replayed, replay.PreventedByCurrent, replay.PreventedByProposed, replay.Failed, replay.NotImproving));
        Assert.Equal("Replayed 3 of 3 corrections with fake-model: the proposed text would have prevented 3, the current text 0.", replay.Message);
        Assert.Equal([0.2, 0.3, 0.1], replay.Results.Select(r => r.Current!.Score));
        Assert.All(replay.Results, r => Assert.Equal(("improved", 0.9, 17L), (r.Outcome, r.Proposed!.Score, r.Tokens!.Value / 2)));
        Assert.Equal(review.Version, replay.Version);
        Assert.DoesNotContain(detail.Warnings, w => w.Contains("Replay", StringComparison.Ordinal));

        // What reached the model: the schema, the stored turns before the correction, and each text in turn.
        var requests = endpoint.Requests.Select(r => r.Body).ToList();
        Assert.Equal(6, requests.Count);
        Assert.All(requests, r => Assert.Equal("json_schema", r.GetProperty("response_format").GetProperty("type").GetString()));
        Assert.All(requests, r => Assert.Contains("the totals row is the first row of the table", r.GetRawText(), StringComparison.Ordinal));
        Assert.DoesNotContain("Known pitfalls", requests[0].GetRawText(), StringComparison.Ordinal);
        Assert.Contains("Known pitfalls", requests[1].GetRawText(), StringComparison.Ordinal);

        // Nothing is due again for the same version; the audit log says what the replay found.
        Assert.Equal(0, await ReplayAsync(world));
        Assert.Equal(6, endpoint.Requests.Count);
        Assert.Contains(await world.Core.Get<ProposalStore>().AuditAsync(review.Proposal.Id, CancellationToken.None), a => a.Action == "replayed" && a.Detail.Contains("prevented 3", StringComparison.Ordinal));

        await world.Core.Get<ProposalStore>().ApproveAsync(review.Proposal.Id, (await DetailAsync(world, review.Proposal.Id)).Version, null, null, "reviewer", CancellationToken.None);
        await world.RunAsync();
        var pull = Assert.Single(world.Forge.Pulls);
        Assert.Contains("## Replay before review\n\nReplayed 3 of 3 corrections with fake-model: the proposed text would have prevented 3, the current text 0.", pull.Body, StringComparison.Ordinal);
        Assert.EndsWith("approved by reviewer.</sub>\n", pull.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_proposal_that_prevents_no_more_than_the_current_text_is_flagged_and_a_malformed_answer_fails_only_its_correction()
    {
        var (world, review) = await ReviewAsync();
        await using var _ = world;
        await using var endpoint = await FakeOpenAiServer.StartAsync();
        UseModel(world, endpoint);
        endpoint.EnqueueChat(Verdict(true, 0.8));
        endpoint.EnqueueChat(Verdict(true, 0.8));
        endpoint.EnqueueChat(Verdict(false, 0.6));
        endpoint.EnqueueChat("The proposed file is better, I think.");
        endpoint.EnqueueChat(Verdict(false, 0.9));
        endpoint.EnqueueChat(Verdict(false, 0.9));

        await ReplayAsync(world);

        var detail = await DetailAsync(world, review.Proposal.Id);
        var replay = detail.Replay!;
        Assert.Equal(["both", "failed", "neither"], replay.Results.Select(r => r.Outcome));
        Assert.Contains("not valid", replay.Results[1].Error, StringComparison.Ordinal);
        Assert.Equal((2, 1, 1, 1, true), (replay.Replayed, replay.Failed, replay.PreventedByCurrent, replay.PreventedByProposed, replay.NotImproving));
        Assert.EndsWith("; 1 could not be replayed.", replay.Message, StringComparison.Ordinal);
        // Flagged, not hidden: a warning on the proposal, and it stays in review.
        Assert.Contains(detail.Warnings, w => w.StartsWith("Replay does not improve on the current text", StringComparison.Ordinal));
        Assert.Equal("review", detail.Proposal.State);
        Assert.Contains(await world.Core.Get<ProposalStore>().AuditAsync(review.Proposal.Id, CancellationToken.None), a => a.Action == "replay-flagged");

        // Not again for the same version; the next version tries the failed correction once more (its current side kept).
        Assert.Equal(0, await ReplayAsync(world));
        await using (var connection = await world.Core.Get<SqliteDb>().OpenAsync(CancellationToken.None))
        {
            await connection.ExecuteAsync("UPDATE proposals SET confidence = confidence + 0.01 WHERE id = @Id", new { review.Proposal.Id });
        }

        endpoint.EnqueueChat(Verdict(true, 0.7));
        await ReplayAsync(world);
        var retried = (await DetailAsync(world, review.Proposal.Id)).Replay!;
        Assert.Equal(7, endpoint.Requests.Count);
        Assert.Equal(["both", "improved", "neither"], retried.Results.Select(r => r.Outcome));
        Assert.False(retried.NotImproving);
    }

    [Fact]
    public async Task A_reviewers_edit_is_replayed_again_against_the_proposed_side_only_and_a_version_that_keeps_the_texts_costs_no_call()
    {
        var (world, review) = await ReviewAsync();
        await using var _ = world;
        await using var endpoint = await FakeOpenAiServer.StartAsync();
        UseModel(world, endpoint);
        for (var i = 0; i < 3; i++)
        {
            endpoint.EnqueueChat(Verdict(false, 0.9));
            endpoint.EnqueueChat(Verdict(false, 0.7, "Still silent about the totals row."));
        }

        await ReplayAsync(world);
        Assert.True((await DetailAsync(world, review.Proposal.Id)).Replay!.NotImproving);

        // A version bump that changes neither text (new confidence): the results carry over, no model call.
        await using (var connection = await world.Core.Get<SqliteDb>().OpenAsync(CancellationToken.None))
        {
            await connection.ExecuteAsync("UPDATE proposals SET confidence = confidence + 0.01 WHERE id = @Id", new { review.Proposal.Id });
        }

        Assert.Equal(1, await ReplayAsync(world));
        Assert.Equal(6, endpoint.Requests.Count);
        var bumped = await DetailAsync(world, review.Proposal.Id);
        Assert.Equal((review.Version + 1, bumped.Version), (bumped.Version, bumped.Replay!.Version));

        // The reviewer edits the text: a new version, replayed against the proposed text; the current side is reused.
        var edited = bumped.ProposedText!.Replace("Render the table, then the totals.", "Render the table, then the totals row as its last row.", StringComparison.Ordinal);
        await world.Core.Get<ProposalStore>().EditAsync(review.Proposal.Id, edited, "reviewer", CancellationToken.None, bumped.Version);
        Assert.Equal("pending", (await DetailAsync(world, review.Proposal.Id)).Replay!.Status);
        for (var i = 0; i < 3; i++)
        {
            endpoint.EnqueueChat(Verdict(true, 0.95, "The file now says the totals row is last."));
        }

        await ReplayAsync(world);

        var after = await DetailAsync(world, review.Proposal.Id);
        Assert.Equal(9, endpoint.Requests.Count);
        Assert.Contains("totals row as its last row", endpoint.Requests.Last().Body.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(("done", after.Version, 3, 0, false), (after.Replay!.Status, after.Replay.Version!.Value, after.Replay.PreventedByProposed, after.Replay.PreventedByCurrent, after.Replay.NotImproving));
        Assert.All(after.Replay.Results, r => Assert.Equal(("improved", 0.1, 0.95), (r.Outcome, r.Current!.Score, r.Proposed!.Score)));
        Assert.DoesNotContain(after.Warnings, w => w.Contains("Replay", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_chat_model_the_proposal_and_its_pull_request_say_so_and_a_model_configured_later_replays_up_to_the_cap()
    {
        var (world, review) = await ReviewAsync(new Dictionary<string, string?> { ["SKILLLOOP_REPLAY_MAX_CORRECTIONS"] = "2" });
        await using var _ = world;

        Assert.Equal(1, await ReplayAsync(world));

        var replay = (await DetailAsync(world, review.Proposal.Id)).Replay!;
        Assert.Equal(("no-model", "Replay needs a chat model; none is configured.", 0), (replay.Status, replay.Message, replay.Results.Count));
        Assert.False(replay.NotImproving);
        Assert.Equal(0, await ReplayAsync(world));

        // A model arrives: the same version is replayed now, two corrections of three (the cap).
        await using var endpoint = await FakeOpenAiServer.StartAsync();
        UseModel(world, endpoint);
        for (var i = 0; i < 2; i++)
        {
            endpoint.EnqueueChat(Verdict(false, 0.8));
            endpoint.EnqueueChat(Verdict(true, 0.8));
        }

        Assert.Equal(1, await ReplayAsync(world));
        var capped = (await DetailAsync(world, review.Proposal.Id)).Replay!;
        Assert.Equal(("done", 3, 2, 2), (capped.Status, capped.Corrections, capped.Selected, capped.Replayed));
        Assert.Equal(4, endpoint.Requests.Count);
        Assert.StartsWith("Replayed 2 of 3 corrections", capped.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_pull_request_body_says_plainly_when_no_model_could_replay()
    {
        var (world, review) = await ReviewAsync();
        await using var _ = world;
        await ReplayAsync(world);

        await world.Core.Get<ProposalStore>().ApproveAsync(review.Proposal.Id, (await DetailAsync(world, review.Proposal.Id)).Version, null, null, "reviewer", CancellationToken.None);
        await world.RunAsync();

        var pull = Assert.Single(world.Forge.Pulls);
        Assert.Contains("## Replay before review\n\nReplay needs a chat model; none is configured.\n", pull.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("prevented", pull.Body, StringComparison.Ordinal);
    }
}
