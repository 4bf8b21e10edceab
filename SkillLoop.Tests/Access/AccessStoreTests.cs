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
    public async Task Five_wrong_passwords_lock_the_account_until_the_lockout_ends()
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        await using var core = await TestCore.StartAsync(
            new Dictionary<string, string?> { ["SKILLLOOP_ADMIN_PASSWORD"] = "right" },
            services => services.Replace(ServiceDescriptor.Singleton<TimeProvider>(clock)));
        var access = core.Get<AccessStore>();

        for (var i = 0; i < AccessStore.MaxFailedLogins - 1; i++)
        {
            Assert.Equal(LoginOutcome.Failed, (await access.CheckPasswordAsync("admin", "wrong", CancellationToken.None)).Outcome);
        }

        Assert.Equal(LoginOutcome.LockedOut, (await access.CheckPasswordAsync("admin", "wrong", CancellationToken.None)).Outcome);
        Assert.Equal(LoginOutcome.LockedOut, (await access.CheckPasswordAsync("admin", "right", CancellationToken.None)).Outcome);

        clock.Advance(AccessStore.LockoutDuration + TimeSpan.FromSeconds(1));
        Assert.Equal(LoginOutcome.Succeeded, (await access.CheckPasswordAsync("admin", "right", CancellationToken.None)).Outcome);
    }
}
