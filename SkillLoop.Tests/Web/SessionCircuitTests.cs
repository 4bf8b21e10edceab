using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.Logging.Abstractions;
using SkillLoop.Core.Access;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Auth;

namespace SkillLoop.Tests.Web;

/// <summary>Issue 16, item 5: an open dashboard circuit follows the database as the cookie does.</summary>
public sealed class SessionCircuitTests
{
    [Theory]
    [InlineData("role")]
    [InlineData("password")]
    [InlineData("delete")]
    public async Task An_open_circuit_turns_anonymous_at_once_when_an_admin_changes_the_user(string change)
    {
        await using var core = await TestCore.StartAsync(new Dictionary<string, string?> { ["SKILLLOOP_ADMIN_PASSWORD"] = "right-password" });
        var admin = core.Get<AccessAdmin>();
        await admin.CreateUserAsync("rob", "first-password-1", Roles.Reviewer, CancellationToken.None);
        await admin.CreateUserAsync("other", "first-password-1", Roles.Reviewer, CancellationToken.None);
        var rob = (await core.Get<AccessStore>().CheckPasswordAsync("rob", "first-password-1", CancellationToken.None)).User!;
        var other = (await core.Get<AccessStore>().CheckPasswordAsync("other", "first-password-1", CancellationToken.None)).User!;
        using var circuit = new SessionAuthenticationStateProvider(NullLoggerFactory.Instance, core.Get<AccessStore>(), admin);
        circuit.SetAuthenticationState(Task.FromResult(new AuthenticationState(SessionValidation.PrincipalFor(rob))));
        var changed = new TaskCompletionSource<AuthenticationState>(TaskCreationOptions.RunContinuationsAsynchronously);
        circuit.AuthenticationStateChanged += async state => changed.TrySetResult(await state);

        // Someone else's change leaves this circuit alone.
        await admin.SetRoleAsync(other.Id, Roles.Admin, CancellationToken.None);
        Assert.True((await circuit.GetAuthenticationStateAsync()).User.Identity!.IsAuthenticated);
        Assert.False(changed.Task.IsCompleted);

        switch (change)
        {
            case "role":
                await admin.SetRoleAsync(rob.Id, Roles.Admin, CancellationToken.None);
                break;
            case "password":
                await admin.ResetPasswordAsync(rob.Id, "second-password-2", CancellationToken.None);
                break;
            default:
                await admin.DeleteUserAsync(rob.Id, CancellationToken.None);
                break;
        }

        var state = await changed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(state.User.Identity?.IsAuthenticated ?? false);
    }

    [Fact]
    public async Task A_session_signed_in_before_security_stamps_is_not_current()
    {
        await using var core = await TestCore.StartAsync(new Dictionary<string, string?> { ["SKILLLOOP_ADMIN_PASSWORD"] = "right-password" });
        var access = core.Get<AccessStore>();
        var user = (await access.CheckPasswordAsync("admin", "right-password", CancellationToken.None)).User!;

        Assert.True(await SessionValidation.IsCurrentAsync(access, SessionValidation.PrincipalFor(user), CancellationToken.None));
        Assert.False(await SessionValidation.IsCurrentAsync(access, SessionValidation.PrincipalFor(user with { SecurityStamp = "" }), CancellationToken.None));
        Assert.False(await SessionValidation.IsCurrentAsync(access, SessionValidation.PrincipalFor(user with { Role = Roles.Reviewer }), CancellationToken.None));
    }
}
