using System.Diagnostics;
using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Hook;

namespace SkillLoop.Tests.Hooks;

/// <summary>Codex's notify program gets the JSON as its last argument, not on stdin.</summary>
public sealed class CodexNotifyHookTests : IDisposable
{
    private const string Payload = """{"type":"agent-turn-complete","thread-id":"t1","turn-id":"1","cwd":"/w"}""";
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private ClientEnvironment Env() => new(_dir.Root, _dir.Root, "/x/skillloop-client", new Dictionary<string, string>());

    [Fact]
    public void The_notify_argument_is_the_payload_handed_to_the_worker()
    {
        var payloads = new List<string>();

        var code = HookCommand.Run(new Arguments(["hook", "codex", "--notify", Payload]), TextReader.Null, Env(),
            (_, platform, payload, _, _) => payloads.Add(platform + " " + payload));

        Assert.Equal(0, code);
        Assert.Equal("codex " + Payload, Assert.Single(payloads));
    }

    [Fact]
    public async Task The_users_previous_notify_program_still_receives_every_notification()
    {
        if (OperatingSystem.IsWindows())
            return;
        var received = Path.Combine(_dir.Root, "received.json");
        var script = _dir.Write("notify.sh", $"#!/bin/sh\nprintf '%s' \"$1\" > '{received}.tmp' && mv '{received}.tmp' '{received}'\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _dir.Write(".skillloop/codex-notify-previous.json", $"[\"{script}\"]");

        HookCommand.Run(new Arguments(["hook", "codex", "--notify", Payload]), TextReader.Null, Env(), (_, _, _, _, _) => { });

        // The chained program runs detached; wait (bounded) for the file it writes atomically.
        var clock = Stopwatch.StartNew();
        while (!File.Exists(received) && clock.Elapsed < TimeSpan.FromSeconds(20))
            await Task.Delay(20);
        Assert.Equal(Payload, File.ReadAllText(received));
    }
}
