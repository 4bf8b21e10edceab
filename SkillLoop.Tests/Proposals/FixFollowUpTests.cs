using System.Security.Cryptography;
using System.Text;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Proposals;
using SkillLoop.Core.Registry;

namespace SkillLoop.Tests.Proposals;

/// <summary>After the push: forge state followed, merges detected, did the fix hold, the cap and queue, rebase on request.</summary>
public sealed class FixFollowUpTests
{
    private const string Problem = "the totals row must stay at the bottom of the table";

    [Fact]
    public async Task A_fix_merged_on_a_bare_remote_is_merged_after_a_scan_and_two_new_users_reopen_it_with_a_new_version_in_review()
    {
        await using var world = await ProposalWorld.StartAsync("git");
        var (review, open) = await ApprovedFixAsync(world);
        Assert.Equal("review", review.Proposal.State);
        Assert.Equal("open", open.Proposal.State);

        // The skill owner merges the branch on the remote: a real merge commit with both tips as parents.
        var merge = world.Remote.MergeBranch(open.Proposal.Branch!);
        Assert.Equal(2, world.Remote.Tip("main")!.Value.Parents);
        await world.RunAsync();
        Assert.Equal("open", (await world.OnlyProposalAsync()).Proposal.State); // nothing tells SkillLoop before a scan

        Assert.Equal("done", (await world.Core.Get<RegistryScans>().ScanAsync(world.Registry.Id, CancellationToken.None)).Phase);
        var merged = await world.OnlyProposalAsync();
        Assert.Equal("merged", merged.Proposal.State);
        Assert.Equal(merge, merged.Proposal.MergedCommit);
        Assert.Contains(merged.Audit, a => a.Action == "merged" && a.Detail.Contains(merge[..12], StringComparison.Ordinal));

        // A day later, one user new to the problem reports it: below the threshold (2), the fix still counts as holding.
        world.Time.Advance(TimeSpan.FromDays(1));
        await world.CorrectAsync("dave", Problem + " again");
        await world.RunAsync();
        Assert.Equal("merged", (await world.OnlyProposalAsync()).Proposal.State);
        var outcome = (await world.Core.Get<SkillVersions>().ForProposalAsync(merged.Proposal.Id, CancellationToken.None))!;
        Assert.Equal((3L, 3L, 3L, 1.0), (outcome.Before.Corrections, outcome.Before.Uses, outcome.Before.Users, outcome.Before.PerUse!.Value));
        Assert.Equal((1L, 1L, 1L), (outcome.After.Corrections, outcome.After.Uses, outcome.After.Users));
        Assert.Equal(merge, outcome.Commit);
        Assert.Equal(outcome.After.To - outcome.After.From, outcome.Before.To - outcome.Before.From);

        // A second new user: the cluster reopens, and round 2 goes to review with round 1's history.
        await world.CorrectAsync("erin", "no, " + Problem);
        await world.RunAsync();
        var reopened = await world.OnlyProposalAsync();
        Assert.Equal(("review", 2), (reopened.Proposal.State, reopened.Proposal.Round));
        var earlier = Assert.Single(reopened.History!);
        Assert.Equal((1, merge, open.CommitSha), (earlier.Round, earlier.MergedCommit, earlier.CommitSha));
        Assert.Contains("The merged fix did not hold", earlier.Outcome, StringComparison.Ordinal);
        Assert.Contains("## Earlier rounds", reopened.Body, StringComparison.Ordinal);
        Assert.EndsWith("-r2", reopened.Proposal.Branch, StringComparison.Ordinal);
        Assert.Contains(reopened.Audit, a => a.Action == "reopened" && a.Detail.Contains("did not hold", StringComparison.Ordinal));
        Assert.Equal((5L, 5L), (reopened.Proposal.EvidenceSignals, reopened.Proposal.EvidenceUsers));
        var cluster = (await world.Core.Get<ClusterStore>().GetAsync(reopened.Proposal.ClusterId, CancellationToken.None))!.Cluster;
        Assert.Equal("reopened", cluster.State);
        Assert.Equal([cluster.Id], (await world.Core.Get<ClusterStore>().ListAsync(null, "reopened", CancellationToken.None)).Select(c => c.Id));

        // The skill's versions: before SkillLoop's fix (3 corrections), and the merged one (2 since).
        var skill = (await world.Core.Get<SkillCatalog>().ListSkillsAsync(null, CancellationToken.None)).Single(s => s.Name == ProposalWorld.Skill);
        var versions = (await world.Core.Get<SkillVersions>().ForSkillAsync(skill.Id, CancellationToken.None))!;
        Assert.Equal([(null, 3L), (merge, 2L)], versions.Select(v => (v.Commit, v.Figures.Corrections)));
        Assert.Null(versions[^1].To);

        // Approved again, round 2 is a new branch beside the merged one.
        await world.Core.Get<ProposalStore>().ApproveAsync(reopened.Proposal.Id, reopened.Version, null, null, "reviewer", CancellationToken.None);
        await world.RunAsync();
        Assert.Equal("open", (await world.OnlyProposalAsync()).Proposal.State);
        Assert.Contains(reopened.Proposal.Branch!, world.Remote.BranchNames());
    }

    public static TheoryData<string> Forges => new() { "github", "gitlab", "gitea" };

    [Theory]
    [MemberData(nameof(Forges))]
    public async Task A_pull_request_merged_on_the_forge_is_followed_by_polling_with_backoff(string provider)
    {
        await using var world = await OpenAsync(provider);

        // New evidence while open: the same pull request, updated in place.
        await world.CorrectAsync("dave", Problem + " again");
        world.Time.Advance(TimeSpan.FromSeconds(11));
        await world.RunAsync();
        await world.RunAsync();
        var pull = Assert.Single(world.Forge.Pulls);
        Assert.Contains("4 corrections from 4 distinct users", pull.Body, StringComparison.Ordinal);
        var mergeCommit = new string('a', 40);
        world.Forge.MergeOnForge(pull.Number, mergeCommit);

        // Polled right after opening and again after the evidence: the next poll waits (backoff), so nothing changes yet.
        await world.RunAsync();
        Assert.Equal("open", (await world.OnlyProposalAsync()).Proposal.State);

        // The wait has doubled with each quiet poll, up to MaxPoll.
        world.Time.Advance(ForgeSync.MaxPoll);
        await world.RunAsync();
        var merged = await world.OnlyProposalAsync();
        Assert.Equal(("merged", mergeCommit), (merged.Proposal.State, merged.Proposal.MergedCommit));
        Assert.Contains(merged.Audit, a => a.Action == "merged" && a.Detail.Contains($"#{pull.Number} merged on {provider}", StringComparison.Ordinal));
        Assert.Contains(world.Forge.Calls, c => c.Method == "GET" && c.Path.EndsWith($"/{pull.Number}", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Forges))]
    public async Task A_pull_request_closed_without_merge_silences_the_cluster_until_new_users_bring_it_back_to_review(string provider)
    {
        await using var world = await OpenAsync(provider);
        var settings = await world.Core.Get<ClusteringSettings>().GetAsync(CancellationToken.None);
        await world.Core.Get<ClusteringSettings>().SetAsync(settings with { NewUsersAfterRejection = 2 }, CancellationToken.None);
        world.Forge.CloseOnForge(Assert.Single(world.Forge.Pulls).Number);
        world.Time.Advance(ForgeSync.PollWait(1) + TimeSpan.FromSeconds(1));
        await world.RunAsync();
        var closed = await world.OnlyProposalAsync();
        Assert.Equal("closed", closed.Proposal.State);
        Assert.Contains(closed.Audit, a => a.Action == "pr-closed");

        // Old users and one new user: still silent.
        await world.CorrectAsync("alice", Problem + " still");
        await world.CorrectAsync("dave", Problem + " please");
        await world.RunAsync();
        Assert.Equal("closed", (await world.OnlyProposalAsync()).Proposal.State);

        await world.CorrectAsync("erin", "no, " + Problem);
        await world.RunAsync();
        var back = await world.OnlyProposalAsync();
        Assert.Equal("review", back.Proposal.State);
        Assert.Equal(provider, back.PreviousRejection!.By);
        Assert.Contains("closed without merge", back.PreviousRejection.Comment, StringComparison.Ordinal);
        Assert.Null(back.Proposal.PrUrl);
        Assert.Contains(back.Audit, a => a.Action == "reopened" && a.Detail.Contains("pull request was closed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Approved_proposals_beyond_the_registrys_cap_wait_in_a_visible_queue_and_go_out_when_one_merges()
    {
        await using var world = await ProposalWorld.StartAsync("github");
        await world.ScalarAsync("UPDATE registries SET max_open = 1");
        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            await world.CorrectAsync(user, Problem);
            await world.CorrectAsync(user, "never use red in the chart legend colours");
        }

        await world.RunAsync();
        var store = world.Core.Get<ProposalStore>();
        var proposals = await store.ListAsync("review", CancellationToken.None);
        Assert.Equal(2, proposals.Count);
        foreach (var proposal in proposals.OrderBy(p => p.Id))
        {
            var detail = (await store.GetAsync(proposal.Id, CancellationToken.None))!;
            await store.ApproveAsync(proposal.Id, detail.Version, null, null, "reviewer", CancellationToken.None);
            world.Time.Advance(TimeSpan.FromSeconds(1));
        }

        await world.RunAsync();
        var pull = Assert.Single(world.Forge.Pulls);
        var waiting = Assert.Single(await store.ListAsync("approved", CancellationToken.None));
        Assert.True(waiting.Queued);
        Assert.Equal(1, await store.QueuedCountAsync(CancellationToken.None));
        Assert.Contains(await store.AuditAsync(waiting.Id, CancellationToken.None), a => a.Action == "queued");
        await world.RunAsync();
        Assert.Single(world.Forge.Pulls); // still waiting, and queued only once in the audit log
        Assert.Single(await store.AuditAsync(waiting.Id, CancellationToken.None), a => a.Action == "queued");

        world.Forge.MergeOnForge(pull.Number, new string('b', 40));
        world.Time.Advance(ForgeSync.PollWait(1) + TimeSpan.FromSeconds(1));
        await world.RunAsync();
        await world.RunAsync();
        Assert.Equal(2, world.Forge.Pulls.Count);
        var released = (await store.GetAsync(waiting.Id, CancellationToken.None))!;
        Assert.Equal(("open", false), (released.Proposal.State, released.Proposal.Queued));
    }

    [Fact]
    public async Task A_stale_branch_is_rebuilt_on_request_keeping_the_upstream_change_and_the_fix()
    {
        await using var world = await ProposalWorld.StartAsync("git");
        var (review, open) = await ApprovedFixAsync(world);

        // The skill's description changes upstream (the first lines; the fix adds a section at the end).
        var upstream = ProposalWorld.SkillText.Replace("Builds PDF reports from tables.", "Builds PDF reports from tables and charts.", StringComparison.Ordinal);
        var head = world.Remote.Commit("Describe charts", new Dictionary<string, string> { [ProposalWorld.SkillPath] = upstream });
        await Assert.ThrowsAsync<ProposalActionException>(() => world.Core.Get<ProposalStore>().RequestRebaseAsync(review.Proposal.Id + 100, "reviewer", CancellationToken.None));
        await world.Core.Get<ProposalStore>().RequestRebaseAsync(open.Proposal.Id, "reviewer", CancellationToken.None);
        await world.RunAsync();

        var rebased = await world.OnlyProposalAsync();
        var text = world.Remote.Read(open.Proposal.Branch!, ProposalWorld.SkillPath)!;
        Assert.Contains("tables and charts", text, StringComparison.Ordinal);
        Assert.Contains("## Known pitfalls", text, StringComparison.Ordinal);
        Assert.Equal(text, rebased.ProposedText);
        Assert.Equal(head, rebased.BaseCommit);
        Assert.NotEqual(open.CommitSha, rebased.CommitSha);
        Assert.Equal(rebased.CommitSha, world.Remote.Tip(open.Proposal.Branch!)!.Value.Sha);
        Assert.Equal(["rebase-requested", "rebased"], rebased.Audit.Select(a => a.Action).Where(a => a.StartsWith("rebase", StringComparison.Ordinal)).Reverse());
    }

    [Fact]
    public async Task A_rebase_that_meets_a_conflicting_upstream_change_pushes_nothing_and_says_so()
    {
        await using var world = await ProposalWorld.StartAsync("git");
        var (review, open) = await ApprovedFixAsync(world);

        // Upstream adds its own section at the very end, where the fix adds its pitfall.
        world.Remote.Commit("Own pitfalls", new Dictionary<string, string> { [ProposalWorld.SkillPath] = ProposalWorld.SkillText + "\n## Notes\n\nKeep it short.\n" });
        await world.Core.Get<ProposalStore>().RequestRebaseAsync(open.Proposal.Id, "reviewer", CancellationToken.None);
        await world.RunAsync();

        var after = await world.OnlyProposalAsync();
        Assert.Equal(open.CommitSha, world.Remote.Tip(open.Proposal.Branch!)!.Value.Sha);
        Assert.Equal((open.ProposedText, open.BaseCommit, "open"), (after.ProposedText, after.BaseCommit, after.Proposal.State));
        Assert.Contains(after.Audit, a => a.Action == "rebase-failed");
        await world.RunAsync();
        Assert.Single(after.Audit, a => a.Action == "rebase-failed"); // asked once, tried once
    }

    [Theory]
    [InlineData("github", "X-Hub-Signature-256", "sha256=")]
    [InlineData("gitea", "X-Gitea-Signature", "")]
    public void A_webhook_delivery_is_accepted_only_with_the_forges_hmac_of_the_body(string provider, string header, string prefix)
    {
        const string secret = "a-webhook-secret-of-some-length";
        var body = Encoding.UTF8.GetBytes("{\"action\":\"closed\"}");
        var signature = prefix + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
        Assert.True(WebhookVerifier.Verify(provider, secret, name => name == header ? signature : null, body));
        Assert.False(WebhookVerifier.Verify(provider, secret, name => name == header ? signature : null, Encoding.UTF8.GetBytes("{\"action\":\"opened\"}")));
        Assert.False(WebhookVerifier.Verify(provider, "another-secret-of-some-length", name => name == header ? signature : null, body));
        Assert.False(WebhookVerifier.Verify(provider, secret, _ => null, body));
        Assert.True(WebhookVerifier.Verify("gitlab", secret, name => name == "X-Gitlab-Token" ? secret : null, body));
        Assert.False(WebhookVerifier.Verify("gitlab", secret, name => name == "X-Gitlab-Token" ? secret + "x" : null, body));
    }

    /// <summary>Three users, reviewed and approved: an open draft pull request on the stand-in forge.</summary>
    private static async Task<ProposalWorld> OpenAsync(string provider)
    {
        var world = await ProposalWorld.StartAsync(provider);
        var (_, open) = await ApprovedFixAsync(world);
        Assert.Equal("open", open.Proposal.State);
        Assert.Equal("open", Assert.Single(world.Forge.Pulls).State);
        return world;
    }

    /// <summary>Three users report <see cref="Problem"/>; the proposal is approved and pushed. The proposal in review, then as pushed.</summary>
    private static async Task<(ProposalDetail Review, ProposalDetail Open)> ApprovedFixAsync(ProposalWorld world)
    {
        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            await world.CorrectAsync(user, Problem);
        }

        await world.RunAsync();
        var review = await world.OnlyProposalAsync();
        await world.Core.Get<ProposalStore>().ApproveAsync(review.Proposal.Id, review.Version, null, null, "reviewer", CancellationToken.None);
        await world.RunAsync();
        return (review, await world.OnlyProposalAsync());
    }
}
