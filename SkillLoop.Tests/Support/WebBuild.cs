namespace SkillLoop.Tests.Support;

/// <summary>The server's build output of the tests' own configuration (the tests reference SkillLoop.Web, so it is built with them).</summary>
public static class WebBuild
{
    public static string Dll()
    {
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<Configuration>/net10.0
        var dll = Path.Combine(PublishedClient.RepositoryRoot, "SkillLoop.Web", "bin", configuration, "net10.0", "SkillLoop.Web.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build SkillLoop.Web first.", dll);
    }
}
