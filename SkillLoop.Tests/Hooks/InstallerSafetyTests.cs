using System.Diagnostics;
using System.Text.Json.Nodes;
using SkillLoop.Hooks.Install;

namespace SkillLoop.Tests.Hooks;

/// <summary>Install edits other programs' settings files: it must never be tricked into writing elsewhere or losing bytes.</summary>
public sealed class InstallerSafetyTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ClientRunner _client;

    public InstallerSafetyTests() => _client = new ClientRunner(_dir);

    public void Dispose() => _dir.Dispose();

    private string Settings => Path.Combine(_client.Home, ".claude", "settings.json");

    [Fact]
    public async Task A_planted_temporary_file_symlink_does_not_redirect_the_write()
    {
        if (OperatingSystem.IsWindows())
            return;
        Directory.CreateDirectory(Path.GetDirectoryName(Settings)!);
        File.WriteAllText(Settings, "{\"model\":\"opus\"}\n");
        var victim = _dir.Write("victim.txt", "precious\n");
        File.CreateSymbolicLink(Settings + ".skillloop-tmp", victim);

        var (code, _, err) = await _client.InstallAsync("claude");

        Assert.True(code == 0, err);
        Assert.Equal("precious\n", File.ReadAllText(victim));
        Assert.Contains("hook claude", File.ReadAllText(Settings));
        Assert.Equal("opus", JsonNode.Parse(File.ReadAllText(Settings))!["model"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_install_folder_named_like_a_command_substitution_is_never_run_by_sh()
    {
        if (OperatingSystem.IsWindows())
            return;
        var marker = _dir.File("pwned");
        _client.ExecutablePath = Path.Combine(_dir.Root, $"bin $(touch {marker}) `touch {marker}` 'x'", "skillloop-client");

        await _client.InstallAsync("claude");
        var command = JsonNode.Parse(File.ReadAllText(Settings))!["hooks"]!["Stop"]![0]!["hooks"]![0]!["command"]!.GetValue<string>();
        using var sh = Process.Start(new ProcessStartInfo("sh", ["-c", command + " </dev/null"]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var stderr = await sh.StandardError.ReadToEndAsync();
        await sh.WaitForExitAsync();

        Assert.False(File.Exists(marker), $"the shell ran a substitution from the install path: {command}");
        Assert.Contains(_client.ExecutablePath, stderr); // sh looked for the executable under its literal name
    }

    [Fact]
    public async Task A_symlinked_settings_file_is_edited_at_its_target_and_stays_a_link()
    {
        if (OperatingSystem.IsWindows())
            return;
        var target = _dir.Write("dotfiles/claude-settings.json", "{\"model\":\"opus\"}\n");
        Directory.CreateDirectory(Path.GetDirectoryName(Settings)!);
        File.CreateSymbolicLink(Settings, target);

        await _client.InstallAsync("claude");

        Assert.NotNull(new FileInfo(Settings).LinkTarget);
        Assert.Contains("hook claude", File.ReadAllText(target));
        Assert.Contains("opus", File.ReadAllText(target));
    }

    [Fact]
    public async Task A_read_only_settings_file_is_refused_with_a_clear_message()
    {
        if (OperatingSystem.IsWindows())
            return;
        Directory.CreateDirectory(Path.GetDirectoryName(Settings)!);
        File.WriteAllText(Settings, "{\"model\":\"opus\"}\n");
        File.SetUnixFileMode(Settings, UnixFileMode.UserRead | UnixFileMode.GroupRead);

        var (code, _, err) = await _client.InstallAsync("claude");

        Assert.Equal(1, code);
        Assert.Contains("read-only", err);
        Assert.Contains(Settings, err);
        Assert.Equal("{\"model\":\"opus\"}\n", File.ReadAllText(Settings));
    }

    [Fact]
    public async Task Duplicate_keys_give_a_clear_error_not_a_crash()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Settings)!);
        const string original = "{\"hooks\":{},\"model\":\"a\",\"hooks\":{\"Stop\":[]}}\n";
        File.WriteAllText(Settings, original);

        var (code, _, err) = await _client.InstallAsync("claude");

        Assert.Equal(1, code);
        Assert.Contains("appears twice", err);
        Assert.Equal(original, File.ReadAllText(Settings));
    }

    [Fact]
    public async Task Invalid_utf8_in_a_settings_file_is_refused_and_kept_byte_for_byte()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Settings)!);
        byte[] original = [.. "{\"model\":\"op"u8, 0xFF, 0xFE, .. "us\"}\n"u8];
        File.WriteAllBytes(Settings, original);
        var toml = Path.Combine(_client.Home, ".codex", "config.toml");
        Directory.CreateDirectory(Path.GetDirectoryName(toml)!);
        byte[] tomlBytes = [.. "model = \"g"u8, 0xC3, .. "\"\n"u8];
        File.WriteAllBytes(toml, tomlBytes);

        var claude = await _client.InstallAsync("claude");
        var codex = await _client.InstallAsync("codex", "--notify");

        Assert.Equal(1, claude.Code);
        Assert.Contains("not valid UTF-8", claude.Err);
        Assert.Equal(original, File.ReadAllBytes(Settings));
        Assert.Equal(1, codex.Code);
        Assert.Contains("not valid UTF-8", codex.Err);
        Assert.Equal(tomlBytes, File.ReadAllBytes(toml));
    }

    [Fact]
    public void Temporary_files_never_remain_beside_the_settings_file()
    {
        var path = _dir.Write("settings.json", "{}");

        JsonConfigFile.WriteAtomically(path, "{\"a\":1}"u8.ToArray());

        Assert.Equal(["settings.json"], Directory.GetFiles(_dir.Root).Select(Path.GetFileName));
    }
}
