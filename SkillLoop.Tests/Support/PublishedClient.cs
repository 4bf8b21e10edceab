using System.Diagnostics;

namespace SkillLoop.Tests.Support;

/// <summary>
/// The real Native AOT <c>skillloop-client</c>, published once per test run from this checkout
/// (<c>dotnet publish SkillLoop.Hooks -c Release -r linux-x64</c>), exactly as users build it.
/// </summary>
public static class PublishedClient
{
    private static readonly Lazy<Task<string>> Executable = new(PublishAsync);

    public static Task<string> GetAsync() => Executable.Value;

    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "SkillLoop.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("SkillLoop.sln not found above the test output folder.");
        }
    }

    private static async Task<string> PublishAsync()
    {
        var output = Path.Combine(RepositoryRoot, "artifacts", "test-client");
        var result = await ProcessRunner.RunAsync(
            "dotnet",
            ["publish", Path.Combine(RepositoryRoot, "SkillLoop.Hooks", "SkillLoop.Hooks.csproj"), "-c", "Release", "-r", "linux-x64", "-o", output, "--nologo"],
            timeout: TimeSpan.FromMinutes(8));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"Publishing skillloop-client failed ({result.ExitCode}):\n{result.StandardOutput}\n{result.StandardError}");
        }

        var executable = Path.Combine(output, "skillloop-client");
        return File.Exists(executable) ? executable : throw new FileNotFoundException("Published client missing.", executable);
    }
}

public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError, TimeSpan Elapsed);

public static class ProcessRunner
{
    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        IDictionary<string, string?>? environment = null,
        string? standardInput = null,
        TimeSpan? timeout = null,
        string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[key] = value;
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
        }

        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(1));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish within {timeout}.");
        }

        var elapsed = stopwatch.Elapsed;
        try
        {
            // A child that inherited our pipes would keep them open after the process exits: that is a failure
            // (an agent waiting on its hook's output would hang the same way).
            await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{fileName} exited but its output pipes stayed open: a child process inherited them.");
        }

        return new ProcessResult(process.ExitCode, await stdout, await stderr, elapsed);
    }
}
