using SkillLoop.Hooks.Cli;

namespace SkillLoop.Hooks;

// Namespaced (not top-level statements): the server's tests load both executables, and two global
// `Program` types would collide.
public static class Program
{
    public static Task<int> Main(string[] args) =>
        ClientApp.RunAsync(args, Console.In, Console.Out, Console.Error, ClientEnvironment.FromProcess());
}
