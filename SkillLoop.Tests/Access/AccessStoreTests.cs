using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SkillLoop.Core.Access;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Access;

public sealed class AccessStoreTests
{
    [Fact]
    public async Task First_start_creates_the_admin_and_registers_keys_from_the_environment()
    {
        await using var core = await TestCore.StartAsync(new Dictionary<string, string?>
        {
            ["SKILLLOOP_ADMIN_PASSWORD"] = "s3cret-pass",
            ["SKILLLOOP_INGEST_TOKEN"] = "ingest-abc",
            ["SKILLLOOP_ADMIN_API_KEY"] = "admin-xyz",
        });
        var access = core.Get<AccessStore>();

        Assert.Equal(LoginOutcome.Succeeded, (await access.CheckPasswordAsync("admin", "s3cret-pass", CancellationToken.None)).Outcome);
        Assert.Equal(ApiKeyKinds.Ingest, (await access.FindKeyAsync("ingest-abc", CancellationToken.None))?.Kind);
        Assert.Equal(ApiKeyKinds.Admin, (await access.FindKeyAsync("admin-xyz", CancellationToken.None))?.Kind);
        Assert.Null(await access.FindKeyAsync("ingest-abd", CancellationToken.None));
    }

    [Fact]
    public async Task Five_wrong_passwords_pause_that_address_until_the_lockout_ends()
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        await using var core = await TestCore.StartAsync(
            new Dictionary<string, string?> { ["SKILLLOOP_ADMIN_PASSWORD"] = "right" },
            services => services.Replace(ServiceDescriptor.Singleton<TimeProvider>(clock)));
        var access = core.Get<AccessStore>();

        for (var i = 0; i < AccessStore.MaxFailedLogins; i++)
        {
            Assert.Equal(LoginOutcome.Failed, (await access.CheckPasswordAsync("admin", "wrong", "10.0.0.9", CancellationToken.None)).Outcome);
        }

        Assert.Equal(LoginOutcome.LockedOut, (await access.CheckPasswordAsync("admin", "wrong", "10.0.0.9", CancellationToken.None)).Outcome);
        Assert.Equal(LoginOutcome.LockedOut, (await access.CheckPasswordAsync("admin", "right", "10.0.0.9", CancellationToken.None)).Outcome);

        clock.Advance(AccessStore.LockoutDuration + TimeSpan.FromSeconds(1));
        Assert.Equal(LoginOutcome.Succeeded, (await access.CheckPasswordAsync("admin", "right", "10.0.0.9", CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task Forty_parallel_wrong_passwords_check_exactly_five_and_lock_only_that_address()
    {
        await using var core = await TestCore.StartAsync(new Dictionary<string, string?> { ["SKILLLOOP_ADMIN_PASSWORD"] = "right-password" });
        var access = core.Get<AccessStore>();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ =>
            Task.Run(() => access.CheckPasswordAsync("admin", "wrong", "203.0.113.7", CancellationToken.None))));

        Assert.Equal(AccessStore.MaxFailedLogins, outcomes.Count(o => o.Outcome == LoginOutcome.Failed));
        Assert.Equal(40 - AccessStore.MaxFailedLogins, outcomes.Count(o => o.Outcome == LoginOutcome.LockedOut));
        Assert.Equal(LoginOutcome.LockedOut, (await access.CheckPasswordAsync("admin", "right-password", "203.0.113.7", CancellationToken.None)).Outcome);
        // Not locked for everyone: the owner, elsewhere, signs in.
        Assert.Equal(LoginOutcome.Succeeded, (await access.CheckPasswordAsync("admin", "right-password", "198.51.100.20", CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task Unknown_names_are_paused_like_real_ones_and_spraying_many_names_pauses_the_address()
    {
        await using var core = await TestCore.StartAsync(new Dictionary<string, string?> { ["SKILLLOOP_ADMIN_PASSWORD"] = "right-password" });
        var access = core.Get<AccessStore>();

        var unknown = new List<LoginOutcome>();
        for (var i = 0; i < 6; i++)
        {
            unknown.Add((await access.CheckPasswordAsync("nobody", "x", "203.0.113.8", CancellationToken.None)).Outcome);
        }

        var sprayed = new List<LoginOutcome>();
        for (var i = 0; i < LoginThrottle.MaxFailuresPerAddress; i++)
        {
            sprayed.Add((await access.CheckPasswordAsync($"name-{i}", "x", "203.0.113.9", CancellationToken.None)).Outcome);
        }

        Assert.Equal([.. Enumerable.Repeat(LoginOutcome.Failed, 5), LoginOutcome.LockedOut], unknown);
        Assert.All(sprayed, o => Assert.Equal(LoginOutcome.Failed, o));
        Assert.Equal(LoginOutcome.LockedOut, (await access.CheckPasswordAsync("admin", "right-password", "203.0.113.9", CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task A_password_reset_by_an_admin_lifts_the_pause_and_changes_the_security_stamp()
    {
        await using var core = await TestCore.StartAsync(new Dictionary<string, string?> { ["SKILLLOOP_ADMIN_PASSWORD"] = "right-password" });
        var access = core.Get<AccessStore>();
        var admin = core.Get<AccessAdmin>();
        await admin.CreateUserAsync("rita", "first-password-1", Roles.Reviewer, CancellationToken.None);
        var before = (await access.CheckPasswordAsync("rita", "first-password-1", CancellationToken.None)).User!;
        for (var i = 0; i < AccessStore.MaxFailedLogins; i++)
        {
            await access.CheckPasswordAsync("rita", "wrong", "203.0.113.10", CancellationToken.None);
        }

        await admin.ResetPasswordAsync(before.Id, "second-password-2", CancellationToken.None);

        var after = (await access.CheckPasswordAsync("rita", "second-password-2", "203.0.113.10", CancellationToken.None)).User;
        Assert.NotNull(after);
        Assert.NotEqual(before.SecurityStamp, after.SecurityStamp);
        Assert.Equal(32, after.SecurityStamp.Length);
    }
}
