using SkillLoop.Hooks.Cli;
using SkillLoop.Hooks.Hook;

namespace SkillLoop.Hooks;

// Namespaced (not top-level statements): the server's tests load both executables, and two global
// `Program` types would collide.
public static class Program
{
    public static Task<int> Main(string[] args) =>
        // The hook runs at every agent turn and prints nothing: it skips Console's set-up (issue #17, return <= 15 ms).
        args is ["hook", ..]
            ? Task.FromResult(HookCommand.RunFromProcess(new Arguments(args), ClientEnvironment.FromProcess()))
            : ClientApp.RunAsync(args, Console.In, Console.Out, Console.Error, ClientEnvironment.FromProcess());
}
