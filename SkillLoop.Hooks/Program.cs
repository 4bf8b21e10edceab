namespace SkillLoop.Hooks;

// Namespaced (not top-level statements): the server's tests load both executables, and two global
// `Program` types would collide.
public static class Program
{
    public static int Main(string[] args) => 0;
}
