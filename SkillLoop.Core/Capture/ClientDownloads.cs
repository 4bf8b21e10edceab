using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Core.Capture;

/// <summary>
/// The client binaries this server hands out: <c>manifest.json</c> and the files it names, in the clients folder
/// (<c>SKILLLOOP_CLIENTS</c>, default <c>clients</c> beside the server, where <c>build/image.sh</c> puts them).
/// The manifest is read on each request (it is small), so binaries rebuilt in place are served at once. Its SHA-256
/// values were computed when the binaries were built, never here: a binary changed on disk afterwards is served as it
/// is, and the installer refuses it.
/// </summary>
public sealed partial class ClientDownloads(IOptions<SkillLoopOptions> options)
{
    public const string ManifestName = "manifest.json";

    /// <summary>The platforms a manifest may name (what <c>build/clients.sh</c> builds).</summary>
    public static IReadOnlyList<string> KnownPlatforms { get; } = ["linux-x64", "linux-arm64", "osx-arm64", "osx-x64", "win-x64"];

    public string Directory => Path.GetFullPath(options.Value.ClientsDirectory ?? Path.Combine(AppContext.BaseDirectory, "clients"));

    /// <summary>The manifest, or null with the reason when this server has no (usable) client binaries.</summary>
    public ClientManifest? Load(out string reason)
    {
        var path = Path.Combine(Directory, ManifestName);
        ClientManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(File.ReadAllBytes(path), HooksJsonContext.Default.ClientManifest);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            reason = $"this SkillLoop server carries no client binaries ({path} is missing): it was started from source. "
                + "Build them with 'bash build/clients.sh DIR' and start the server with SKILLLOOP_CLIENTS=DIR, or run the container image, which has them.";
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            reason = $"the client manifest {path} cannot be read: {e.Message}";
            return null;
        }

        var files = (manifest?.Files ?? []).Where(IsValid).ToList();
        if (manifest is null || string.IsNullOrWhiteSpace(manifest.Version) || files.Count == 0)
        {
            reason = $"the client manifest {path} lists no valid binaries";
            return null;
        }

        reason = "";
        return manifest with { Files = files };
    }

    /// <summary>The file of one binary the manifest lists, or null.</summary>
    public (ClientBinary Binary, string Path)? Find(string platform, string fileName)
    {
        var binary = Load(out _)?.Files.FirstOrDefault(f => f.Platform == platform && f.File == platform + "/" + fileName);
        if (binary is null)
        {
            return null;
        }

        var path = Path.Combine(Directory, binary.Platform, fileName);
        return File.Exists(path) ? (binary, path) : null;
    }

    /// <summary>
    /// Only what build/clients.sh writes: a known platform, the executable's name under that platform's folder (no
    /// path can leave the clients folder), a SHA-256 in hex. Anything else is ignored rather than served.
    /// </summary>
    private static bool IsValid(ClientBinary? binary) =>
        binary is not null
        && KnownPlatforms.Contains(binary.Platform)
        && binary.File == binary.Platform + "/" + ExecutableName(binary.Platform)
        && Sha256Hex().IsMatch(binary.Sha256 ?? "");

    public static string ExecutableName(string platform) =>
        platform.StartsWith("win-", StringComparison.Ordinal) ? "skillloop-client.exe" : "skillloop-client";

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Hex();
}
