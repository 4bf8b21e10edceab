using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Capture;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Web.Install;

namespace SkillLoop.Web.Endpoints;

/// <summary>
/// The one-line client install: <c>GET /install.sh</c> and <c>GET /install.ps1</c>, the manifest and the binaries
/// they download. No token is needed to fetch them (the binaries hold no secret; the token is passed to the script).
/// </summary>
public static class InstallEndpoints
{
    public const string ShellType = "text/x-shellscript; charset=utf-8";
    public const string PowerShellType = "text/plain; charset=utf-8";

    public static IEndpointRouteBuilder MapInstallEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/install.sh", GetShellInstaller).AllowAnonymous().WithTags("Install");
        app.MapGet("/install.ps1", GetPowerShellInstaller).AllowAnonymous().WithTags("Install");
        var client = app.MapGroup("/client").AllowAnonymous().WithTags("Install");
        client.MapGet("/manifest.json", GetManifest);
        client.MapGet("/{platform}/{file}", GetBinary);
        return app;
    }

    /// <summary>
    /// The shell installer, with this server's address as the default. A server without client binaries serves a
    /// script that says so and exits 1 (a 404 would reach <c>sh</c> as an empty script, which succeeds silently).
    /// </summary>
    public static Results<ContentHttpResult, ProblemHttpResult> GetShellInstaller(HttpRequest request, ClientDownloads downloads) =>
        Script(request, downloads, powerShell: false);

    public static Results<ContentHttpResult, ProblemHttpResult> GetPowerShellInstaller(HttpRequest request, ClientDownloads downloads) =>
        Script(request, downloads, powerShell: true);

    public static Results<Ok<ClientManifest>, ProblemHttpResult> GetManifest(ClientDownloads downloads) =>
        downloads.Load(out var reason) is { } manifest
            ? TypedResults.Ok(manifest)
            : TypedResults.Problem(detail: reason, statusCode: StatusCodes.Status404NotFound, title: "No client binaries");

    public static Results<PhysicalFileHttpResult, ProblemHttpResult> GetBinary(string platform, string file, ClientDownloads downloads) =>
        downloads.Find(platform, file) is var (_, path)
            ? TypedResults.PhysicalFile(path, "application/octet-stream", file)
            : TypedResults.Problem(
                detail: $"This server has no client binary {platform}/{file}; GET /client/manifest.json lists what it has.",
                statusCode: StatusCodes.Status404NotFound,
                title: "No such client binary");

    private static Results<ContentHttpResult, ProblemHttpResult> Script(HttpRequest request, ClientDownloads downloads, bool powerShell)
    {
        var url = $"{request.Scheme}://{request.Host}{request.PathBase}".TrimEnd('/');
        if (!InstallScripts.IsSafeUrl(url))
        {
            return TypedResults.Problem(
                detail: "The request's host is not a plain host name or address; ask for the installer by the server's address.",
                statusCode: StatusCodes.Status400BadRequest,
                title: "Unusable server address");
        }

        var type = powerShell ? PowerShellType : ShellType;
        var manifest = downloads.Load(out var reason);
        var script = manifest is null
            ? InstallScripts.Unavailable(reason, powerShell)
            : powerShell ? InstallScripts.ForPowerShell(url, manifest) : InstallScripts.ForShell(url, manifest);
        return TypedResults.Content(script, type);
    }
}
