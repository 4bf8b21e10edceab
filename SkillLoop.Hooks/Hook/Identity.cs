using System.Diagnostics;
using SkillLoop.Hooks.Cli;

namespace SkillLoop.Hooks.Hook;

/// <summary>Who the client reports: <c>SKILLLOOP_USER</c>, else <c>git config user.email</c>, else the OS user.</summary>
public static class Identity
{
    public static string Resolve(ClientEnvironment env)
    {
        if (env.Variable("SKILLLOOP_USER") is { Length: > 0 } user)
            return user;
        return GitEmail() ?? Environment.UserName;
    }

    private static string? GitEmail()
    {
        try
        {
            var start = new ProcessStartInfo("git", ["config", "user.email"])
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                CreateNoWindow = true,
            };
            using var git = Process.Start(start);
            if (git is null)
                return null;
            git.StandardInput.Close();
            var output = git.StandardOutput.ReadToEndAsync();
            if (!git.WaitForExit(2000))
            {
                git.Kill();
                return null;
            }
            var email = output.Result.Trim();
            return git.ExitCode == 0 && email.Length > 0 ? email : null;
        }
        catch
        {
            return null;
        }
    }
}
