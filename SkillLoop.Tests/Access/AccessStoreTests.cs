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
    public async Task An_admin_password_given_on_a_later_start_replaces_the_old_one_and_a_restart_with_it_changes_nothing()
    {
        await using var core = await TestCore.StartAsync(); // first start: a generated password, logged once
        var access = core.Get<AccessStore>();
        var admin = await AdminAsync(core);

        await SeedAsync(core, "chosen-later-1");
        var reset = await AdminAsync(core);
        await SeedAsync(core, "chosen-later-1");

        Assert.Equal(LoginOutcome.Succeeded, (await access.CheckPasswordAsync("admin", "chosen-later-1", CancellationToken.None)).Outcome);
        Assert.NotEqual(admin.SecurityStamp, reset.SecurityStamp); // sessions signed in with the old password end
        Assert.Equal(reset.SecurityStamp, (await AdminAsync(core)).SecurityStamp);
        Assert.Equal(1, await access.CountUsersAsync(CancellationToken.None));
    }

    [Fact]
    public async Task An_admin_password_given_later_restores_a_demoted_or_deleted_admin()
    {
        await using var core = await TestCore.StartAsync(new Dictionary<string, string?> { ["SKILLLOOP_ADMIN_PASSWORD"] = "first-pass" });
        var access = core.Get<AccessStore>();
        var admin = await AdminAsync(core);
        await core.Get<AccessAdmin>().CreateUserAsync("other", "other-password-1", Roles.Admin, CancellationToken.None);
        await core.Get<AccessAdmin>().SetRoleAsync(admin.Id, Roles.Reviewer, CancellationToken.None);

        await SeedAsync(core, "first-pass");

        Assert.Equal(Roles.Admin, (await AdminAsync(core)).Role);
        await core.Get<AccessAdmin>().DeleteUserAsync(admin.Id, CancellationToken.None);
        await SeedAsync(core, "second-pass");
        Assert.Equal(LoginOutcome.Succeeded, (await access.CheckPasswordAsync("admin", "second-pass", CancellationToken.None)).Outcome);
    }

    private static async Task<UserAccount> AdminAsync(TestCore core)
    {
        await using var connection = await core.Get<SkillLoop.Core.Data.SqliteDb>().OpenAsync(CancellationToken.None);
        var id = await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, "SELECT id FROM users WHERE name = 'admin'");
        return (await core.Get<AccessStore>().FindUserAsync(id, CancellationToken.None))!;
    }

    private static Task SeedAsync(TestCore core, string adminPassword) =>
        new AccessSeeder(core.Get<AccessStore>(), Microsoft.Extensions.Options.Options.Create(new SkillLoop.Core.SkillLoopOptions { AdminPassword = adminPassword }),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<AccessSeeder>.Instance).SeedAsync(CancellationToken.None);

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
    public async Task A_locked_out_user_is_listed_with_the_end_of_the_lock_and_an_admins_unlock_lets_them_sign_in_at_once()
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        await using var core = await TestCore.StartAsync(
            new Dictionary<string, string?> { ["SKILLLOOP_ADMIN_PASSWORD"] = "right-password-1" },
            services => services.Replace(ServiceDescriptor.Singleton<TimeProvider>(clock)));
        var access = core.Get<AccessStore>();
        var admin = core.Get<AccessAdmin>();
        var user = await admin.CreateUserAsync("rita", "rita-password-1", Roles.Reviewer, CancellationToken.None);
        for (var i = 0; i <= AccessStore.MaxFailedLogins; i++)
        {
            await access.CheckPasswordAsync("rita", "wrong", "10.0.0.9", CancellationToken.None);
        }

        Assert.Equal(LoginOutcome.LockedOut, (await access.CheckPasswordAsync("rita", "rita-password-1", "10.0.0.9", CancellationToken.None)).Outcome);
        Assert.Equal(clock.GetUtcNow() + AccessStore.LockoutDuration, (await admin.ListUsersAsync(CancellationToken.None)).Single(u => u.Name == "rita").LockedUntil);

        await admin.UnlockUserAsync(user.Id, CancellationToken.None);

        Assert.Null((await admin.ListUsersAsync(CancellationToken.None)).Single(u => u.Name == "rita").LockedUntil);
        Assert.Equal(LoginOutcome.Succeeded, (await access.CheckPasswordAsync("rita", "rita-password-1", "10.0.0.9", CancellationToken.None)).Outcome);
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
