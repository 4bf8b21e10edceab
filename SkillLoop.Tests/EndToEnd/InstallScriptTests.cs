using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Hook;
using SkillLoop.Tests.Support;
using Xunit.Abstractions;

namespace SkillLoop.Tests.EndToEnd;

/// <summary>
/// The one-line install, for real: <c>curl -fsSL SERVER/install.sh | sh -s -- --token …</c> run by <c>sh</c> against the
/// server on loopback, with a temporary home. The server carries the published Native AOT client as
/// <c>build/clients.sh</c> lays it out (the image test runs that script itself).
/// </summary>
[Collection(ServerCollection.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class InstallScriptTests(SkillLoopServer shared, ITestOutputHelper output)
{
    [Fact]
    public async Task The_install_line_downloads_the_checked_client_onto_the_path_and_hooks_every_agent_found_under_home()
    {
        using var clients = await ClientsFolderAsync(version: SignalWorker.Version);
        using var server = SkillLoopServer.StartWith(new Dictionary<string, string?> { ["SKILLLOOP_CLIENTS"] = clients.Path });
        using var home = new TempDirectory("skillloop-install-home");
        Directory.CreateDirectory(home.Combine(".claude"));
        Directory.CreateDirectory(home.Combine(".cursor"));
        var url = server.BaseAddress.ToString().TrimEnd('/');

        var run = await InstallAsync(url, home.Path, $"--token {SkillLoopServer.IngestToken}");

        Assert.True(run.ExitCode == 0, run.StandardOutput + run.StandardError);
        var installed = home.Combine(".local", "bin", "skillloop-client");
        Assert.Equal(await File.ReadAllBytesAsync(clients.Combine("linux-x64", "skillloop-client")), await File.ReadAllBytesAsync(installed));
        Assert.True((File.GetUnixFileMode(installed) & UnixFileMode.UserExecute) != 0);
        Assert.Contains("checksum verified", run.StandardOutput);
        Assert.Contains("found: claude, cursor", run.StandardOutput);
        Assert.Contains($"{home.Combine(".local", "bin")} is not on your PATH", run.StandardOutput);
        // The hooks run the installed binary; the server URL came from where the script was served.
        Assert.StartsWith(installed + " hook claude", StopHookCommand(home.Combine(".claude", "settings.json")));
        Assert.Contains($"\"{installed} hook cursor\"", File.ReadAllText(home.Combine(".cursor", "hooks.json")));
        Assert.False(File.Exists(home.Combine(".copilot", "hooks", "skillloop.json")), "no Copilot under this home: not hooked");
        var config = ClientConfigFile.Load(home.Path)!;
        Assert.Equal((url, SkillLoopServer.IngestToken), (config.Url, config.Token));
        Assert.Empty(Directory.GetFiles(home.Combine(".local", "bin"), ".skillloop-client.*"));

        // Named agents only, into another folder; the installed client's status says it is up to date.
        using var second = new TempDirectory("skillloop-install-home");
        var named = await InstallAsync(url, second.Path, $"--token {SkillLoopServer.IngestToken} --agents copilot --bin {second.Combine("tools")}");
        Assert.True(named.ExitCode == 0, named.StandardOutput + named.StandardError);
        Assert.True(File.Exists(second.Combine("tools", "skillloop-client")));
        Assert.True(File.Exists(second.Combine(".copilot", "hooks", "skillloop.json")));
        Assert.False(File.Exists(second.Combine(".claude", "settings.json")));
        var status = await ProcessRunner.RunAsync(second.Combine("tools", "skillloop-client"), ["status"], Environment(second.Path));
        output.WriteLine(status.StandardOutput);
        Assert.Contains($"client: {SignalWorker.Version} (the server's is {SignalWorker.Version}: up to date)", status.StandardOutput);
    }

    [Fact]
    public async Task A_binary_changed_on_the_server_after_it_was_built_is_refused_and_nothing_is_installed()
    {
        using var clients = await ClientsFolderAsync(version: SignalWorker.Version);
        await File.AppendAllTextAsync(clients.Combine("linux-x64", "skillloop-client"), "tampered");
        using var server = SkillLoopServer.StartWith(new Dictionary<string, string?> { ["SKILLLOOP_CLIENTS"] = clients.Path });
        using var home = new TempDirectory("skillloop-install-home");
        Directory.CreateDirectory(home.Combine(".claude"));

        var run = await InstallAsync(server.BaseAddress.ToString().TrimEnd('/'), home.Path, $"--token {SkillLoopServer.IngestToken}");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("checksum mismatch", run.StandardError);
        Assert.False(File.Exists(home.Combine(".local", "bin", "skillloop-client")));
        Assert.Empty(Directory.GetFileSystemEntries(home.Combine(".local", "bin")));
        Assert.False(File.Exists(home.Combine(".claude", "settings.json")));
    }

    [Fact]
    public async Task A_server_run_from_source_without_client_binaries_says_so_and_the_install_line_fails()
    {
        using var home = new TempDirectory("skillloop-install-home");

        var run = await InstallAsync(shared.BaseAddress.ToString().TrimEnd('/'), home.Path, $"--token {SkillLoopServer.IngestToken}");
        using var anonymous = shared.CreateClientWith(null);
        var manifest = await anonymous.GetAsync("/client/manifest.json");
        var binary = await anonymous.GetAsync("/client/linux-x64/skillloop-client");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("carries no client binaries", run.StandardError);
        Assert.Contains("build/clients.sh", run.StandardError);
        Assert.Equal(HttpStatusCode.NotFound, manifest.StatusCode);
        Assert.Equal("application/problem+json", manifest.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, binary.StatusCode);
    }

    [Fact]
    public async Task The_scripts_carry_the_manifests_checksums_and_only_listed_files_are_served()
    {
        using var clients = await ClientsFolderAsync(version: "9.9.9");
        File.WriteAllText(clients.Combine("secret.txt"), "not for download");
        using var server = SkillLoopServer.StartWith(new Dictionary<string, string?> { ["SKILLLOOP_CLIENTS"] = clients.Path });
        using var anonymous = server.CreateClientWith(null);
        var sha = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(clients.Combine("linux-x64", "skillloop-client"))));

        var shell = await anonymous.GetAsync("/install.sh");
        var powerShell = await anonymous.GetStringAsync("/install.ps1");
        var manifest = await anonymous.GetFromJsonAsync<ClientManifest>("/client/manifest.json");

        Assert.Equal("text/x-shellscript", shell.Content.Headers.ContentType?.MediaType);
        var script = await shell.Content.ReadAsStringAsync();
        Assert.Contains($"linux-x64) file='linux-x64/skillloop-client'; sha256='{sha}' ;;", script);
        Assert.Contains($"url='{server.BaseAddress.ToString().TrimEnd('/')}'", script);
        Assert.DoesNotContain("\r", script);
        Assert.Contains("version='9.9.9'", script);
        Assert.Contains("(it has: linux-x64)", powerShell);
        Assert.Equal(("9.9.9", sha), (manifest!.Version, Assert.Single(manifest.Files).Sha256));
        foreach (var path in new[] { "/client/linux-x64/secret.txt", "/client/linux-x64/..%2Fsecret.txt", "/client/osx-arm64/skillloop-client", "/client/..%2F/manifest.json" })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync(path)).StatusCode);
        }

        // An installed client learns of the newer one from its status.
        using var home = new TempDirectory("skillloop-status-home");
        new ClientConfigFile(server.BaseAddress.ToString().TrimEnd('/'), SkillLoopServer.IngestToken).Save(home.Path);
        var stdout = new StringWriter();
        await ClientApp.RunAsync(["status"], TextReader.Null, stdout, TextWriter.Null,
            new ClientEnvironment(home.Path, home.Path, "/x/skillloop-client", new Dictionary<string, string>()));
        Assert.Contains($"client: {SignalWorker.Version}; the server has a newer client, 9.9.9: update with curl -fsSL {server.BaseAddress.ToString().TrimEnd('/')}/install.sh | sh -s -- --token <token>", stdout.ToString());
    }

    /// <summary>
    /// install.ps1 read and run by a real PowerShell 7 (Linux here, so its Windows download path is not run): the served
    /// script parses without an error, its binaries table is the manifest's (each platform's file and SHA-256), and on Linux it exits 1
    /// pointing to install.sh, or asking for the token first, having written nothing.
    /// </summary>
    [SkippableFact]
    public async Task The_powershell_installer_parses_carries_the_manifests_windows_binary_and_sends_linux_users_to_install_sh()
    {
        var pwsh = await PowerShellTool.GetAsync();
        Skip.If(pwsh.Unavailable is not null, $"PowerShell cannot run here: {pwsh.Unavailable}");
        output.WriteLine($"pwsh {pwsh.Version}");
        using var clients = await ClientsFolderAsync(version: "9.9.9", windows: true);
        using var server = SkillLoopServer.StartWith(new Dictionary<string, string?> { ["SKILLLOOP_CLIENTS"] = clients.Path });
        using var anonymous = server.CreateClientWith(null);
        var url = server.BaseAddress.ToString().TrimEnd('/');
        using var work = new TempDirectory("skillloop-ps1");
        File.WriteAllText(work.Combine("install.ps1"), await anonymous.GetStringAsync("/install.ps1"));
        File.WriteAllText(work.Combine("check.ps1"), """
            param([string]$Path)
            $tokens = $null; $errors = $null
            $ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref]$tokens, [ref]$errors)
            foreach ($e in $errors) { Write-Output "parse error: $($e.Message)" }
            $assignment = $ast.Find({ param($n) $n -is [System.Management.Automation.Language.AssignmentStatementAst] -and $n.Left.Extent.Text -eq '$binaries' }, $true)
            $table = $assignment.Right.Expression.SafeGetValue()
            foreach ($key in $table.Keys) { Write-Output "$key $($table[$key].File) $($table[$key].Sha256)" }
            """);
        var windowsSha = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(clients.Combine("win-x64", "skillloop-client.exe"))));
        var linuxSha = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(clients.Combine("linux-x64", "skillloop-client"))));

        var check = await ProcessRunner.RunAsync(pwsh.Executable!, ["-NoProfile", "-NonInteractive", "-File", work.Combine("check.ps1"), work.Combine("install.ps1")],
            PowerShellTool.Environment(work.Path), timeout: TimeSpan.FromMinutes(2));
        var onLinux = await ProcessRunner.RunAsync(pwsh.Executable!, ["-NoProfile", "-NonInteractive", "-File", work.Combine("install.ps1"), "-Token", SkillLoopServer.IngestToken],
            PowerShellTool.Environment(work.Path), timeout: TimeSpan.FromMinutes(2));
        var noToken = await ProcessRunner.RunAsync(pwsh.Executable!, ["-NoProfile", "-NonInteractive", "-File", work.Combine("install.ps1")],
            PowerShellTool.Environment(work.Path), timeout: TimeSpan.FromMinutes(2));

        Assert.True(check.ExitCode == 0, check.StandardOutput + check.StandardError);
        Assert.Equal(
            [$"linux-x64 linux-x64/skillloop-client {linuxSha}", $"win-x64 win-x64/skillloop-client.exe {windowsSha}"],
            check.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal));
        Assert.Equal(1, onLinux.ExitCode);
        // One plain line on stderr, not PowerShell's error view (script line, caret, a message wrapped in "|" lines).
        Assert.Equal($"skillloop install: on Linux and macOS, run: curl -fsSL {url}/install.sh | sh -s -- --token <token>", onLinux.StandardError.Trim());
        Assert.Equal(1, noToken.ExitCode);
        Assert.Equal($"skillloop install: -Token is required: make an ingest token in Settings -> Ingest tokens on {url}", noToken.StandardError.Trim());
        Assert.False(Directory.Exists(work.Combine(".local", "bin")), "nothing is installed where the script refuses");
    }

    /// <summary>A clients folder as build/clients.sh makes it, holding the published linux-x64 client
    /// (and, with <paramref name="windows"/>, the same bytes as a win-x64 entry: only the scripts read it).</summary>
    private static async Task<TempDirectory> ClientsFolderAsync(string version, bool windows = false)
    {
        var client = await PublishedClient.GetAsync();
        var folder = new TempDirectory("skillloop-clients");
        Directory.CreateDirectory(folder.Combine("linux-x64"));
        File.Copy(client, folder.Combine("linux-x64", "skillloop-client"));
        var bytes = await File.ReadAllBytesAsync(client);
        List<ClientBinary> files = [new("linux-x64", "linux-x64/skillloop-client", "native-aot", bytes.Length, Convert.ToHexStringLower(SHA256.HashData(bytes)))];
        if (windows)
        {
            var exe = bytes.Append((byte)'w').ToArray(); // other bytes than linux-x64's, so the test sees which entry the script took
            Directory.CreateDirectory(folder.Combine("win-x64"));
            await File.WriteAllBytesAsync(folder.Combine("win-x64", "skillloop-client.exe"), exe);
            files.Add(new("win-x64", "win-x64/skillloop-client.exe", "single-file", exe.Length, Convert.ToHexStringLower(SHA256.HashData(exe))));
        }

        var manifest = new ClientManifest(version, files);
        await File.WriteAllTextAsync(folder.Combine("manifest.json"), JsonSerializer.Serialize(manifest, HooksJsonContext.Default.ClientManifest));
        return folder;
    }

    private static Task<ProcessResult> InstallAsync(string url, string home, string arguments) =>
        ProcessRunner.RunAsync("/bin/sh", ["-c", $"curl -fsSL {url}/install.sh | sh -s -- {arguments}"], Environment(home), timeout: TimeSpan.FromMinutes(2));

    private static Dictionary<string, string?> Environment(string home) => new()
    {
        ["HOME"] = home,
        ["PATH"] = "/usr/local/bin:/usr/bin:/bin",
        ["SKILLLOOP_USER"] = "install@example.com",
        ["SKILLLOOP_INTERNAL"] = null,
        ["SKILLLOOP_TOKEN"] = null,
        ["SKILLLOOP_URL"] = null,
        ["CLAUDE_CONFIG_DIR"] = null,
        ["CODEX_HOME"] = null,
        ["COPILOT_HOME"] = null,
    };

    private static string StopHookCommand(string settingsPath)
    {
        var settings = JsonNode.Parse(File.ReadAllText(settingsPath))!;
        return Assert.Single(
            settings["hooks"]!["Stop"]!.AsArray().SelectMany(matcher => matcher!["hooks"]!.AsArray()).Select(hook => hook!["command"]!.GetValue<string>()),
            c => c.Contains("skillloop-client", StringComparison.Ordinal));
    }
}
