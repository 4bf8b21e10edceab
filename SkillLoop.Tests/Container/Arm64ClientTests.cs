using System.Buffers.Binary;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Hook;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Container;

/// <summary>
/// Issue #17, "hook return ≤ 15 ms on every platform": the linux-arm64 client the server hands out is Native AOT, like the
/// linux-x64 one, when <c>build/clients.sh</c> finds an arm64 cross toolchain (clang, lld and Debian's arm64 cross
/// libraries, which the Dockerfile installs). It is checked by running it: under qemu's user-mode emulation (there is no
/// arm64 machine here) it prints its version and finds the same correction in a transcript as the linux-x64 client.
/// </summary>
public sealed class Arm64ClientTests
{
    private const string Arm64Libraries = "/usr/aarch64-linux-gnu";

    [SkippableFact]
    public async Task The_linux_arm64_client_is_native_aot_and_finds_the_same_corrections_as_the_linux_x64_client()
    {
        var missing = await DebianPackages.EnsureAsync(
            () => new[] { "/usr/bin/clang", "/usr/bin/ld.lld", "/usr/bin/aarch64-linux-gnu-gcc", "/usr/aarch64-linux-gnu/lib/crt1.o", "/usr/bin/qemu-aarch64" }.All(File.Exists),
            "clang", "lld", "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "qemu-user");
        Skip.If(missing is not null, $"no arm64 cross toolchain here: {missing}");
        using var clients = new TempDirectory("skillloop-arm64");

        var build = await ProcessRunner.RunAsync("bash", [Path.Combine(PublishedClient.RepositoryRoot, "build", "clients.sh"), clients.Path, "linux-arm64"],
            timeout: TimeSpan.FromMinutes(20));

        Assert.True(build.ExitCode == 0, build.StandardError);
        var manifest = JsonSerializer.Deserialize(File.ReadAllText(clients.Combine("manifest.json")), HooksJsonContext.Default.ClientManifest)!;
        Assert.Equal([("linux-arm64", "native-aot")], manifest.Files.Select(f => (f.Platform, f.Build)));
        var client = clients.Combine("linux-arm64", "skillloop-client");
        var elf = File.ReadAllBytes(client);
        // A 64-bit ELF executable for AArch64 (e_machine 183), not a .NET single-file bundle.
        Assert.Equal((0x7F, (byte)'E', (byte)'L', (byte)'F', 2), (elf[0], elf[1], elf[2], elf[3], elf[4]));
        Assert.Equal(183, BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(18)));

        var version = await ProcessRunner.RunAsync("qemu-aarch64", ["-L", Arm64Libraries, client, "--version"], timeout: TimeSpan.FromMinutes(2));
        Assert.Equal(SignalWorker.Version, version.StandardOutput.Trim());

        using var work = new TempDirectory("skillloop-arm64-transcript");
        var transcript = work.Combine("session.jsonl");
        File.WriteAllLines(transcript,
        [
            """{"type":"user","uuid":"u1","sessionId":"s1","message":{"role":"user","content":"write the quarterly report"}}""",
            """{"type":"assistant","uuid":"a1","sessionId":"s1","message":{"role":"assistant","content":[{"type":"text","text":"Done: the report uses the default template."}]}}""",
            """{"type":"user","uuid":"u2","sessionId":"s1","message":{"role":"user","content":"no, that's wrong: use the company template, not the default one"}}""",
            """{"type":"user","uuid":"u3","sessionId":"s1","message":{"role":"user","content":"不对，应该用公司的模板"}}""",
        ]);
        var arm64 = await ProcessRunner.RunAsync("qemu-aarch64", ["-L", Arm64Libraries, client, "detect", transcript, "--json"], timeout: TimeSpan.FromMinutes(2));
        var x64 = await ProcessRunner.RunAsync(await PublishedClient.GetAsync(), ["detect", transcript, "--json"]);

        Assert.True(arm64.ExitCode == 0, arm64.StandardError);
        Assert.Equal(x64.StandardOutput, arm64.StandardOutput);
        var found = JsonSerializer.Deserialize<JsonElement[]>(arm64.StandardOutput)!;
        Assert.Equal(["u2", "u3"], found.Select(c => c.GetProperty("turnId").GetString()));
    }
}
