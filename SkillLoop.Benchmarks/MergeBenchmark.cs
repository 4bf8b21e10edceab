using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using LibGit2Sharp;

namespace SkillLoop.Benchmarks;

/// <summary>
/// Issue 21: time from a merge on the remote to <c>merged</c> in SkillLoop, for a plain git registry. The real server
/// (its own process) with a bare repository on disk; per run three users' corrections, a proposal approved through the
/// API and pushed; then the branch is merged on the remote with a real merge commit, the clock starts, a scan is asked
/// for (as a webhook or the dashboard's button does) and the proposal is polled until it says merged.
/// </summary>
internal static class MergeBenchmark
{
    public static async Task RunAsync(string webDll, int runs)
    {
        var work = Directory.CreateTempSubdirectory("skillloop-bench-merge-");
        try
        {
            var data = Directory.CreateDirectory(Path.Combine(work.FullName, "data")).FullName;
            await using var server = await BenchServer.StartAsync(webDll, data);
            using var admin = server.CreateClient(BenchServer.AdminApiKey);
            using var ingest = server.CreateClient(BenchServer.IngestToken);
            var skills = Enumerable.Range(1, runs).Select(i => $"bench-merge-{i}").ToList();
            var remote = ServerBenchmarks.CreateSkillRepository(Path.Combine(work.FullName, "skills.git"), skills);
            var created = await admin.PostAsJsonAsync("/api/v1/registries", new { name = "bench", provider = "git", url = remote, branch = "main" });
            created.EnsureSuccessStatusCode();
            var registryId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("registry").GetProperty("id").GetInt64();
            await ServerBenchmarks.ScannedAsync(admin, registryId);

            var times = new List<double>();
            var scans = new List<double>();
            foreach (var skill in skills)
            {
                foreach (var (user, text) in ServerBenchmarks.SameProblem)
                {
                    await ServerBenchmarks.PostCorrectionAsync(ingest, skill, user, text);
                }

                long id = 0;
                await ServerBenchmarks.WaitAsync(async () =>
                {
                    var review = await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/proposals?state=review");
                    id = review!.Where(p => p.GetProperty("skill").GetString() == skill).Select(p => p.GetProperty("id").GetInt64()).FirstOrDefault();
                    return id != 0;
                }, $"a proposal for {skill}");
                var version = (await admin.GetFromJsonAsync<JsonElement>($"/api/v1/proposals/{id}")).GetProperty("version").GetInt32();
                (await admin.PostAsJsonAsync($"/api/v1/proposals/{id}/approve", new { version })).EnsureSuccessStatusCode();
                string? branch = null;
                await ServerBenchmarks.WaitAsync(async () =>
                {
                    var detail = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/proposals/{id}");
                    branch = detail.GetProperty("proposal").GetProperty("branch").GetString();
                    return detail.GetProperty("proposal").GetProperty("state").GetString() == "open";
                }, $"proposal {id} to be pushed");

                Merge(remote, branch!);
                var clock = Stopwatch.StartNew();
                (await admin.PostAsync($"/api/v1/registries/{registryId}/scan", null)).EnsureSuccessStatusCode();
                double? scanned = null;
                await ServerBenchmarks.WaitAsync(async () =>
                {
                    if (scanned is null && (await admin.GetFromJsonAsync<JsonElement>($"/api/v1/registries/{registryId}/scan")).GetProperty("phase").GetString() == "done")
                    {
                        scanned = clock.Elapsed.TotalSeconds;
                    }

                    var state = (await admin.GetFromJsonAsync<JsonElement>($"/api/v1/proposals/{id}")).GetProperty("proposal").GetProperty("state").GetString();
                    return state == "merged";
                }, $"proposal {id} to be merged", poll: TimeSpan.FromMilliseconds(20));
                times.Add(clock.Elapsed.TotalSeconds);
                scans.Add(scanned ?? clock.Elapsed.TotalSeconds);
            }

            var median = ServerBenchmarks.Median(times);
            Console.WriteLine(ServerBenchmarks.Invariant(
                $"merge on the remote -> merged in SkillLoop (plain git, POST …/scan then the proposal polled every 20 ms), {runs} runs: median {median:F2} s ({string.Join(", ", times.Select(t => t.ToString("F2", CultureInfo.InvariantCulture)))} s); scan reported done after a median {ServerBenchmarks.Median(scans):F2} s — goal <= 5 s: {ServerBenchmarks.Verdict(median <= 5)}"));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }


    /// <summary>What the skill owner does: a merge commit of the proposal's branch into main, in the bare remote.</summary>
    private static void Merge(string path, string branch)
    {
        using var repository = new Repository(path);
        var main = repository.Branches["main"].Tip;
        var theirs = repository.Branches[branch].Tip;
        var merged = repository.ObjectDatabase.MergeCommits(main, theirs, new MergeTreeOptions());
        if (merged.Status != MergeTreeStatus.Succeeded)
        {
            throw new InvalidOperationException($"{branch} does not merge cleanly.");
        }

        var owner = new Signature("Skill Owner", "owner@example.test", DateTimeOffset.UtcNow);
        var commit = repository.ObjectDatabase.CreateCommit(owner, owner, $"Merge {branch}", merged.Tree, [main, theirs], prettifyMessage: true);
        repository.Refs.UpdateTarget(repository.Refs["refs/heads/main"], commit.Id);
    }
}
