using System.Diagnostics;
using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Hook;

namespace SkillLoop.Tests.Hooks;

public sealed class EnvironmentTests
{
    [Fact]
    public void SKILLLOOP_USER_overrides_the_reported_identity()
    {
        var env = new ClientEnvironment("/h", "/", "/x", new Dictionary<string, string> { ["SKILLLOOP_USER"] = "ci-bot@example.com" });

        Assert.Equal("ci-bot@example.com", Identity.Resolve(env));
    }

    [Fact]
    public void Without_an_override_some_identity_is_still_reported()
    {
        var env = new ClientEnvironment("/h", "/", "/x", new Dictionary<string, string>());

        Assert.False(string.IsNullOrWhiteSpace(Identity.Resolve(env)));
    }

    [Fact]
    public async Task The_real_executable_installs_into_the_HOME_it_is_given()
    {
        using var home = new TempDir();
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "skillloop-client.exe" : "skillloop-client"),
            ["install", "cursor", "--url", "http://127.0.0.1:9", "--token", "t", "--offline"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["HOME"] = home.Root;
        start.Environment["USERPROFILE"] = home.Root;
        using var process = Process.Start(start)!;
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Equal(0, process.ExitCode);
        Assert.True(File.Exists(Path.Combine(home.Root, ".cursor", "hooks.json")));
        Assert.Equal("http://127.0.0.1:9", ClientConfigFile.Load(home.Root)?.Url);
    }
}
