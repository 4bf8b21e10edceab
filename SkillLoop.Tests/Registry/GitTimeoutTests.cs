using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using SkillLoop.Core;
using SkillLoop.Core.Registry;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Registry;

/// <summary>
/// libgit2's network timeouts are process-wide and every <see cref="GitMirror"/> sets them, so the tests that depend on
/// their values run on their own, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GitTimeoutCollection
{
    public const string Name = "libgit2 timeouts";
}

[Collection(GitTimeoutCollection.Name)]
public sealed class GitTimeoutTests
{
    /// <summary>How long a test waits before it fails; far above what the timeouts under test add up to.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_configured_timeouts_reach_the_libgit2_that_LibGit2Sharp_uses()
    {
        await using var core = await TestCore.StartAsync(Timeouts(connect: 7, read: 42));

        _ = core.Get<GitMirror>();

        Assert.Equal(new GitNetworkTimeouts(TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(42)), LibGit2Timeouts.Read());
    }

    [Fact]
    public async Task A_git_server_that_never_answers_fails_its_scans_with_a_timeout_and_frees_the_slots_for_the_next_registry()
    {
        await using var core = await TestCore.StartAsync(Timeouts(connect: 1, read: 1));
        using var silent = new SilentGitServer(); // closed before the core goes, so no fetch is left waiting on it
        using var remote = new BareGitRemote(RegistryScanTests.SkillRepository);
        var store = core.Get<RegistryStore>();
        var scans = core.Get<RegistryScans>();
        var hung = new List<RegistryRecord>();
        for (var i = 1; i <= 3; i++) // as many as scans run side by side: the registry behind them needs a slot to free up
        {
            hung.Add(await store.CreateAsync(new RegistryInput($"hung-{i}", "git", silent.Url, "main"), CancellationToken.None));
        }

        var healthy = await store.CreateAsync(new RegistryInput("healthy", "git", remote.Path, "main"), CancellationToken.None);
        var ended = WhenEnded(scans, [.. hung.Select(r => r.Id), healthy.Id]);
        foreach (var registry in hung.Append(healthy))
        {
            await scans.RequestAsync(registry.Id, CancellationToken.None);
        }

        await scans.StartAsync(CancellationToken.None);
        try
        {
            var results = await ended.WaitAsync(Guard);

            Assert.Equal("done", results[healthy.Id].Phase);
            Assert.NotEmpty(await core.Get<SkillCatalog>().ListSkillsAsync(healthy.Id, CancellationToken.None));
            Assert.True(silent.Connections >= hung.Count, $"{silent.Connections} connection(s)");
            foreach (var registry in hung)
            {
                Assert.Equal("failed", results[registry.Id].Phase);
                Assert.StartsWith($"Timed out: the git server at {silent.Url} did not answer for 1 s", results[registry.Id].Error, StringComparison.Ordinal);
                Assert.Equal(results[registry.Id].Error, (await store.GetAsync(registry.Id, CancellationToken.None))!.LastScanError);
            }
        }
        finally
        {
            await scans.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Cancelling_a_scan_that_waits_on_a_silent_server_returns_at_once_and_marks_the_scan_failed()
    {
        // Timeouts far beyond the guard: only the cancellation can end this scan in time.
        await using var core = await TestCore.StartAsync(Timeouts(connect: 300, read: 3600));
        using var silent = new SilentGitServer(); // closed before the core goes: the fetch left behind then ends
        var store = core.Get<RegistryStore>();
        var scans = core.Get<RegistryScans>();
        var registry = await store.CreateAsync(new RegistryInput("hung", "git", silent.Url, "main"), CancellationToken.None);
        using var cancel = new CancellationTokenSource();

        var scan = scans.ScanAsync(registry.Id, cancel.Token);
        await silent.Connected.WaitAsync(Guard);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => scan.WaitAsync(Guard));
        var progress = scans.Progress(registry.Id)!;
        Assert.Equal("failed", progress.Phase);
        Assert.Contains("cancelled", progress.Error, StringComparison.Ordinal);
        Assert.Equal(progress.Error, (await store.GetAsync(registry.Id, CancellationToken.None))!.LastScanError);
    }

    [Fact]
    public async Task A_registry_edited_while_its_scan_runs_is_scanned_again_with_the_new_settings()
    {
        await using var core = await TestCore.StartAsync(Timeouts(connect: 1, read: 2));
        using var silent = new SilentGitServer();
        using var remote = new BareGitRemote(RegistryScanTests.SkillRepository);
        var store = core.Get<RegistryStore>();
        var scans = core.Get<RegistryScans>();
        var registry = await store.CreateAsync(new RegistryInput("moved", "git", silent.Url, "main"), CancellationToken.None);
        var rescanned = new TaskCompletionSource<ScanProgress>(TaskCreationOptions.RunContinuationsAsynchronously);
        var failures = 0;
        scans.Changed += progress =>
        {
            if (progress.RegistryId == registry.Id && progress.Phase == "failed")
            {
                Interlocked.Increment(ref failures);
            }
            else if (progress.RegistryId == registry.Id && progress.Phase == "done")
            {
                rescanned.TrySetResult(progress);
            }
        };

        await scans.StartAsync(CancellationToken.None);
        try
        {
            await scans.RequestAsync(registry.Id, CancellationToken.None);
            await silent.Connected.WaitAsync(Guard); // the scan is fetching from the old URL, and hangs there
            await scans.UpdateAsync(registry.Id, new RegistryInput("moved", "git", remote.Path, "main"), CancellationToken.None);

            var done = await rescanned.Task.WaitAsync(Guard);

            Assert.Equal(1, failures); // the scan of the old URL timed out
            Assert.NotNull(done.SkillsFound);
            Assert.NotEmpty(await core.Get<SkillCatalog>().ListSkillsAsync(registry.Id, CancellationToken.None));
        }
        finally
        {
            await scans.StopAsync(CancellationToken.None);
        }
    }

    [Theory]
    [InlineData("SKILLLOOP_GIT_TIMEOUT", "0")]
    [InlineData("SKILLLOOP_GIT_TIMEOUT", "ten")]
    [InlineData("SKILLLOOP_GIT_CONNECT_TIMEOUT", "-1")]
    [InlineData("SKILLLOOP_GIT_CONNECT_TIMEOUT", "301")]
    public void A_git_timeout_that_is_not_a_sensible_number_of_seconds_is_refused_by_name(string setting, string value)
    {
        var options = new SkillLoopOptions();
        SkillLoopOptions.Bind(options, new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [setting] = value }).Build());
        var errors = new List<ValidationResult>();

        Assert.False(Validator.TryValidateObject(options, new ValidationContext(options), errors, validateAllProperties: true));
        Assert.Contains(errors, e => e.ErrorMessage!.StartsWith(setting + " must be", StringComparison.Ordinal));
    }

    [Fact]
    public void Git_timeouts_default_to_15_seconds_to_connect_and_60_to_answer()
    {
        var options = new SkillLoopOptions();
        SkillLoopOptions.Bind(options, new ConfigurationBuilder().Build());

        Assert.Equal((15, 60), (options.GitConnectTimeoutSeconds, options.GitTimeoutSeconds));
    }

    private static Dictionary<string, string?> Timeouts(int connect, int read) => new()
    {
        ["SKILLLOOP_GIT_CONNECT_TIMEOUT"] = connect.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["SKILLLOOP_GIT_TIMEOUT"] = read.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Completes with each registry's last progress once every one of them is done or failed.</summary>
    private static Task<Dictionary<long, ScanProgress>> WhenEnded(RegistryScans scans, IReadOnlyCollection<long> ids)
    {
        var ended = new Dictionary<long, ScanProgress>();
        var all = new TaskCompletionSource<Dictionary<long, ScanProgress>>(TaskCreationOptions.RunContinuationsAsynchronously);
        scans.Changed += progress =>
        {
            if (progress.Phase is not ("done" or "failed") || !ids.Contains(progress.RegistryId))
            {
                return;
            }

            lock (ended)
            {
                ended[progress.RegistryId] = progress;
                if (ended.Count == ids.Count)
                {
                    all.TrySetResult(new Dictionary<long, ScanProgress>(ended));
                }
            }
        };
        return all.Task;
    }
}
