using SkillLoop.Core.Clustering;
using SkillLoop.Core.Proposals;

namespace SkillLoop.Tests.Proposals;

public sealed class ProposalFlowTests
{
    public static TheoryData<string> Providers => new() { "github", "gitlab", "gitea", "git" };

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Three_users_corrections_become_one_reviewed_pushed_branch_and_draft_pull_request_and_a_fourth_updates_it(string provider)
    {
        await using var world = await ProposalWorld.StartAsync(provider);
        await world.CorrectAsync("alice");
        await world.CorrectAsync("bob", "the totals row must stay at the bottom of the table please");
        await world.RunAsync();
        Assert.Empty(await world.Core.Get<ProposalStore>().ListAsync(null, CancellationToken.None)); // two users: below the threshold

        await world.CorrectAsync("carol", "no, the totals row must stay at the bottom of the table");
        await world.RunAsync();
        await world.RunAsync();

        var review = await world.OnlyProposalAsync();
        Assert.Equal("review", review.Proposal.State);
        Assert.Equal((3L, 3L), (review.Proposal.EvidenceSignals, review.Proposal.EvidenceUsers));
        Assert.Equal(ProposalWriter.Pitfalls, review.Proposal.GeneratedBy);
        Assert.Equal(ProposalWorld.SkillPath, review.Proposal.SkillPath);
        Assert.Contains("+## Known pitfalls", review.Diff, StringComparison.Ordinal);
        Assert.Contains("--- a/skills/pdf-report/SKILL.md", review.Diff, StringComparison.Ordinal);
        Assert.StartsWith("---\nname: pdf-report\n", review.ProposedText, StringComparison.Ordinal);
        Assert.Contains("3 corrections from 3 distinct users", review.Body, StringComparison.Ordinal);
        var cluster = (await world.Core.Get<ClusterStore>().GetAsync(review.Proposal.ClusterId, CancellationToken.None))!.Cluster;
        Assert.Equal((review.Proposal.Id, "review"), (cluster.ProposalId, cluster.ProposalState));
        // Nothing is pushed before approval.
        Assert.Equal(["main"], world.Remote.BranchNames());
        Assert.Empty(world.Forge.Calls);

        var edited = review.ProposedText!.Replace("Render the table, then the totals.", "Render the table, then the totals row as its last row.", StringComparison.Ordinal);
        await world.Core.Get<ProposalStore>().ApproveAsync(review.Proposal.Id, review.Version, "Looks right.", edited, "reviewer", CancellationToken.None);
        await world.RunAsync();

        var open = await world.OnlyProposalAsync();
        var branch = world.Branch(open.Proposal.ClusterId);
        Assert.Equal(branch, open.Proposal.Branch);
        Assert.Equal(edited, world.Remote.Read(branch, ProposalWorld.SkillPath));
        Assert.Equal(ProposalWorld.SkillText, world.Remote.Read("main", ProposalWorld.SkillPath));
        var tip = world.Remote.Tip(branch)!.Value;
        Assert.Equal("SkillLoop <skillloop@localhost>", tip.Author);
        Assert.Equal(1, tip.Parents);
        Assert.Equal(open.CommitSha, tip.Sha);
        Assert.Equal("open", open.Proposal.State);
        if (provider == "git")
        {
            Assert.Null(open.Proposal.PrUrl);
            Assert.Empty(world.Forge.Calls);
        }
        else
        {
            var pull = Assert.Single(world.Forge.Pulls);
            Assert.Equal((branch, "main", "open"), (pull.Head, pull.Base, pull.State));
            Assert.True(provider switch { "github" => pull.Draft, "gitlab" => pull.Title.StartsWith("Draft: ", StringComparison.Ordinal), _ => pull.Title.StartsWith("WIP: ", StringComparison.Ordinal) });
            Assert.Contains("## Problem pattern", pull.Body, StringComparison.Ordinal);
            Assert.Contains("approved by reviewer", open.Body, StringComparison.Ordinal);
            Assert.EndsWith($"{pull.Number}", open.Proposal.PrUrl, StringComparison.Ordinal);
            Assert.All(world.Forge.Calls, c => Assert.Equal("forge-token-123", provider switch
            {
                "github" => c.Authorization?.Replace("Token ", "", StringComparison.Ordinal),
                "gitlab" => c.PrivateToken,
                _ => c.Authorization?.Replace("token ", "", StringComparison.Ordinal),
            }));
            if (provider == "github")
            {
                Assert.Equal(["skillloop"], pull.Labels);
            }
        }

        // The registry's branch moves on (another file), then a fourth user: the same proposal, PR and branch, updated.
        var moved = world.Remote.Commit("Docs", new Dictionary<string, string> { ["README.md"] = "Skills, documented.\n" });
        await world.CorrectAsync("dave", "the totals row must stay at the bottom of the table, again");
        await world.RunAsync();
        await world.RunAsync();

        var updated = await world.OnlyProposalAsync();
        Assert.Equal(open.Proposal.Id, updated.Proposal.Id);
        Assert.Equal((4L, 4L), (updated.Proposal.EvidenceSignals, updated.Proposal.EvidenceUsers));
        Assert.Contains("4 corrections from 4 distinct users", updated.Body, StringComparison.Ordinal);
        Assert.Equal(1, await world.ScalarAsync("SELECT count(*) FROM proposals"));
        Assert.Equal(["main", branch], world.Remote.BranchNames());
        Assert.Equal(edited, world.Remote.Read(branch, ProposalWorld.SkillPath));
        Assert.Equal("Skills, documented.\n", world.Remote.Read(branch, "README.md")); // rebuilt on the moved branch
        Assert.Equal(moved, updated.BaseCommit);
        if (provider != "git")
        {
            var pull = Assert.Single(world.Forge.Pulls);
            Assert.Contains("4 corrections from 4 distinct users", pull.Body, StringComparison.Ordinal);
        }

        // Marked as noise: the proposal and its PR close.
        await world.Core.Get<ClusterStore>().SetNoiseAsync(updated.Proposal.ClusterId, noise: true, CancellationToken.None);
        await world.RunAsync();
        Assert.Equal("closed", (await world.OnlyProposalAsync()).Proposal.State);
        if (provider != "git")
        {
            Assert.Equal("closed", Assert.Single(world.Forge.Pulls).State);
        }

        var actions = (await world.Core.Get<ProposalStore>().AuditAsync(updated.Proposal.Id, CancellationToken.None)).Select(a => a.Action).Reverse().ToList();
        Assert.Equal(provider == "git"
            ? ["created", "drafted", "approved", "pushed", "opened", "evidence-updated", "branch-updated", "closed"]
            : ["created", "drafted", "approved", "pushed", "pr-opened", "opened", "evidence-updated", "branch-updated", "pr-updated", "closed"], actions);
    }

    [Fact]
    public async Task A_rejected_proposal_is_never_pushed_and_later_evidence_makes_no_second_one()
    {
        await using var world = await ProposalWorld.StartAsync("github");
        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            await world.CorrectAsync(user);
        }

        await world.RunAsync();
        var proposal = await world.OnlyProposalAsync();

        await world.Core.Get<ProposalStore>().RejectAsync(proposal.Proposal.Id, proposal.Version, "Not a skill problem.", "reviewer", CancellationToken.None);
        await world.CorrectAsync("dave");
        await world.RunAsync();

        var rejected = await world.OnlyProposalAsync();
        Assert.Equal(("rejected", "Not a skill problem.", "reviewer"), (rejected.Proposal.State, rejected.ReviewComment, rejected.ReviewedBy));
        Assert.Equal(["main"], world.Remote.BranchNames());
        Assert.Empty(world.Forge.Calls);
        await Assert.ThrowsAsync<ProposalActionException>(() => world.Core.Get<ProposalStore>().ApproveAsync(proposal.Proposal.Id, proposal.Version, null, null, "reviewer", CancellationToken.None));
    }

    [Theory]
    [InlineData("github")]
    [InlineData("gitlab")]
    [InlineData("gitea")]
    public async Task A_forge_that_is_down_is_shown_on_the_proposal_and_retried_without_pushing_or_opening_twice(string provider)
    {
        await using var world = await ProposalWorld.StartAsync(provider);
        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            await world.CorrectAsync(user);
        }

        await world.RunAsync();
        var proposal = await world.OnlyProposalAsync();
        await world.Core.Get<ProposalStore>().ApproveAsync(proposal.Proposal.Id, proposal.Version, null, null, "reviewer", CancellationToken.None);
        world.Forge.FailNext(1, 502);

        await world.RunAsync();

        var failed = await world.OnlyProposalAsync();
        Assert.Equal("approved", failed.Proposal.State);
        Assert.Contains("502", failed.Proposal.LastError, StringComparison.Ordinal);
        Assert.DoesNotContain("fake forge is down", failed.Proposal.LastError, StringComparison.Ordinal); // the body is not echoed
        Assert.Equal(1, failed.Attempts);
        var pushed = failed.CommitSha;
        Assert.NotNull(pushed);
        Assert.Empty(world.Forge.Pulls);
        await world.RunAsync(); // backing off: nothing happens yet
        Assert.Single(world.Forge.Calls);

        world.Time.Advance(TimeSpan.FromMinutes(1));
        await world.RunAsync();

        var open = await world.OnlyProposalAsync();
        Assert.Equal(("open", (string?)null), (open.Proposal.State, open.Proposal.LastError));
        Assert.Equal(pushed, open.CommitSha);
        Assert.Equal(pushed, world.Remote.Tip(open.Proposal.Branch!)!.Value.Sha);
        Assert.Single(world.Forge.Pulls);
        Assert.Contains(open.Audit, a => a.Action == "failed" && a.Detail.Contains("502", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("git")]
    [InlineData("github")]
    public async Task Auto_merge_above_the_bar_merges_without_review_and_logs_every_action(string provider)
    {
        await using var world = await ProposalWorld.StartAsync(provider, autoMerge: true);
        // Three developers, each with a personal token: verified users, the only ones auto-merge counts.
        foreach (var (user, key) in new[] { ("alice", 101L), ("bob", 102L), ("carol", 103L) })
        {
            await world.CorrectAsync(user, personalKey: key);
        }

        await world.RunAsync();
        await world.RunAsync();

        var merged = await world.OnlyProposalAsync();
        Assert.Equal("merged", merged.Proposal.State);
        Assert.True(merged.Proposal.AutoMerge);
        Assert.Equal("auto-merge", merged.ReviewedBy);
        if (provider == "git")
        {
            Assert.Equal(merged.CommitSha, world.Remote.Tip("main")!.Value.Sha);
            Assert.Contains(ProposalWriter.PitfallsHeading, world.Remote.Read("main", ProposalWorld.SkillPath), StringComparison.Ordinal);
        }
        else
        {
            var pull = Assert.Single(world.Forge.Pulls);
            Assert.False(pull.Draft);
            Assert.True(pull.Merged);
        }

        var audit = (await world.Core.Get<ProposalStore>().AuditAsync(null, CancellationToken.None)).Where(a => a.ProposalId == merged.Proposal.Id).ToList();
        Assert.Contains(audit, a => a is { Actor: "auto-merge", Action: "approved" });
        Assert.Contains(audit, a => a is { Actor: "auto-merge", Action: "merged" });
    }

    [Fact]
    public async Task An_open_branch_is_left_as_approved_when_the_skill_file_changed_upstream_and_the_log_says_so_once()
    {
        await using var world = await ProposalWorld.StartAsync("git");
        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            await world.CorrectAsync(user);
        }

        await world.RunAsync();
        var proposal = await world.OnlyProposalAsync();
        await world.Core.Get<ProposalStore>().ApproveAsync(proposal.Proposal.Id, proposal.Version, null, null, "reviewer", CancellationToken.None);
        await world.RunAsync();
        var approved = world.Remote.Read(proposal.Proposal.Branch!, ProposalWorld.SkillPath);

        world.Remote.Commit("Someone edits the skill", new Dictionary<string, string> { [ProposalWorld.SkillPath] = ProposalWorld.SkillText + "\nA new rule.\n" });
        await world.CorrectAsync("dave");
        await world.RunAsync();
        await world.CorrectAsync("erin");
        await world.RunAsync();

        var open = await world.OnlyProposalAsync();
        Assert.Equal(("open", 5L), (open.Proposal.State, open.Proposal.EvidenceUsers));
        Assert.Equal(approved, world.Remote.Read(proposal.Proposal.Branch!, ProposalWorld.SkillPath));
        Assert.Single(open.Audit, a => a.Action == "branch-stale");
        Assert.DoesNotContain(open.Audit, a => a.Action == "branch-updated");
    }

    [Fact]
    public async Task A_registry_threshold_overrides_the_global_one()
    {
        await using var world = await ProposalWorld.StartAsync("git", distinctUsers: 2);
        await world.CorrectAsync("alice");
        await world.CorrectAsync("bob");

        await world.RunAsync();

        Assert.Equal("review", (await world.OnlyProposalAsync()).Proposal.State);
    }

    [Fact]
    public async Task A_skill_in_no_registry_waits_visibly_until_an_admin_maps_it()
    {
        await using var world = await ProposalWorld.StartAsync("git");
        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            await world.CorrectAsync(user, skill: "reports-pdf");
        }

        await world.RunAsync();

        var waiting = await world.OnlyProposalAsync();
        Assert.Equal("drafting", waiting.Proposal.State);
        Assert.Contains("'reports-pdf' is in no registry", waiting.Proposal.LastError, StringComparison.Ordinal);
        var unmatched = Assert.Single(await world.Core.Get<Core.Registry.SkillCatalog>().ListUnmatchedAsync(CancellationToken.None));
        Assert.Equal(("reports-pdf", 3L), (unmatched.Skill, unmatched.Signals));

        var skill = (await world.Core.Get<Core.Registry.SkillCatalog>().ListSkillsAsync(null, CancellationToken.None)).Single(s => s.Name == ProposalWorld.Skill);
        await world.Core.Get<Core.Registry.SkillCatalog>().MapAsync("reports-pdf", skill.Id, CancellationToken.None);
        await world.Core.Get<ProposalRunner>().WakeAsync(CancellationToken.None);
        await world.RunAsync();

        var drafted = await world.OnlyProposalAsync();
        Assert.Equal(("review", ProposalWorld.SkillPath), (drafted.Proposal.State, drafted.Proposal.SkillPath));
        Assert.Empty(await world.Core.Get<Core.Registry.SkillCatalog>().ListUnmatchedAsync(CancellationToken.None));
        Assert.Equal(3, (await world.Core.Get<Core.Registry.SkillCatalog>().ListSkillsAsync(null, CancellationToken.None)).Single(s => s.Id == skill.Id).Corrections);
    }

    [Fact]
    public async Task An_edit_that_breaks_the_front_matter_is_refused_and_the_proposal_is_unchanged()
    {
        await using var world = await ProposalWorld.StartAsync("git");
        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            await world.CorrectAsync(user);
        }

        await world.RunAsync();
        var proposal = await world.OnlyProposalAsync();
        var store = world.Core.Get<ProposalStore>();

        await Assert.ThrowsAsync<ProposalActionException>(() => store.EditAsync(proposal.Proposal.Id, "---\nname: other\n---\nx\n", "reviewer", CancellationToken.None));
        await Assert.ThrowsAsync<ProposalActionException>(() => store.EditAsync(proposal.Proposal.Id, "no front matter at all\n", "reviewer", CancellationToken.None));
        await Assert.ThrowsAsync<ProposalActionException>(() => store.EditAsync(proposal.Proposal.Id, "  ", "reviewer", CancellationToken.None));
        var missing = await Assert.ThrowsAsync<ProposalActionException>(() => store.EditAsync(999, "x", "reviewer", CancellationToken.None));

        Assert.True(missing.NotFound);
        Assert.Equal(proposal.ProposedText, (await world.OnlyProposalAsync()).ProposedText);
        var edited = await store.EditAsync(proposal.Proposal.Id, proposal.ProposedText + "\nOne more line.\n", "reviewer", CancellationToken.None);
        Assert.True(edited.Edited);
        Assert.Contains("+One more line.", edited.Diff, StringComparison.Ordinal);
    }
}

public sealed class ProposalConcurrencyTests
{
    [Fact]
    public async Task Concurrent_arrivals_of_one_problem_from_several_users_make_one_cluster_and_one_proposal()
    {
        await using var world = await ProposalWorld.StartAsync("git");
        var users = new[] { "alice", "bob", "carol", "dave", "erin", "frank" };

        await Task.WhenAll(users.Select(u => Task.Run(() => Clustering.ClustererTests.StoreAsync(world.Core, u, ProposalWorld.Skill, "the totals row must stay at the bottom of the table"))));
        await world.Core.Get<Core.Extraction.ExtractionJobRunner>().RunOnceAsync(CancellationToken.None);
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => world.Core.Get<ClusteringJobRunner>().RunOnceAsync(CancellationToken.None))));
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(world.RunAsync)));

        Assert.Equal(1, await world.ScalarAsync("SELECT count(*) FROM clusters WHERE signal_count > 0"));
        Assert.Equal(6, await world.ScalarAsync("SELECT user_count FROM clusters WHERE signal_count > 0"));
        Assert.Equal(1, await world.ScalarAsync("SELECT count(*) FROM proposals"));
        Assert.Equal(1, await world.ScalarAsync("SELECT count(*) FROM audit_log WHERE action = 'created'"));
    }
}
