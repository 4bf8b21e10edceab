using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Container;

/// <summary>
/// Our machines cannot run containers, so the image's content is built by the same script the Dockerfile runs
/// (<c>build/image.sh</c>) and started the way the image starts it: environment settings, then the health check.
/// </summary>
public sealed class ImageContentTests
{
    private static readonly string Root = PublishedClient.RepositoryRoot;

    [Fact]
    public void The_dockerfile_and_compose_file_build_with_the_tested_script_and_keep_the_documented_settings()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root, "Dockerfile"));
        var compose = File.ReadAllText(Path.Combine(Root, "docker-compose.yml"));

        Assert.Contains("RUN bash build/image.sh /out", dockerfile, StringComparison.Ordinal);
        Assert.Contains("USER $APP_UID", dockerfile, StringComparison.Ordinal);
        Assert.Contains("VOLUME [\"/data\", \"/models\"]", dockerfile, StringComparison.Ordinal);
        Assert.Contains("EXPOSE 8080", dockerfile, StringComparison.Ordinal);
        Assert.Contains("HEALTHCHECK", dockerfile, StringComparison.Ordinal);
        Assert.Contains("\"healthcheck\"]", dockerfile, StringComparison.Ordinal);
        Assert.Equal(2, dockerfile.Split('\n').Count(l => l.StartsWith("FROM ", StringComparison.Ordinal))); // multi-stage
        foreach (var expected in new[] { "\"8080:8080\"", "restart: unless-stopped", "mem_limit: 500m", "skillloop-data:/data", "/models", "healthcheck:" })
        {
            Assert.Contains(expected, compose, StringComparison.Ordinal);
        }

        foreach (var setting in new[] { "SKILLLOOP_ADMIN_PASSWORD", "SKILLLOOP_ADMIN_API_KEY", "SKILLLOOP_INGEST_TOKEN", "SKILLLOOP_CHAT_MODEL", "SKILLLOOP_LLM_ENDPOINT", "SKILLLOOP_LLM_MODEL", "SKILLLOOP_LLM_API_KEY" })
        {
            Assert.Contains($"{setting}: ${{{setting}:-}}", compose, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_server_references_only_libraries_so_a_plain_publish_works_as_documented()
    {
        // NETSDK1151: a project that references a self-contained executable (the Native AOT client) cannot be
        // published plainly. Every project the server pulls in, however indirectly, must be a library.
        var web = Path.Combine(Root, "SkillLoop.Web", "SkillLoop.Web.csproj");
        var closure = ProjectClosure(web).Where(p => p != web).ToList();
        Assert.Contains(Path.Combine(Root, "SkillLoop.Shared", "SkillLoop.Shared.csproj"), closure);
        foreach (var project in closure)
        {
            var properties = System.Xml.Linq.XDocument.Load(project).Descendants().Where(e => e.Parent?.Name.LocalName == "PropertyGroup").ToList();
            Assert.False(properties.Any(e => e.Name.LocalName == "OutputType" && e.Value.Trim() != "Library"), $"the server references an executable: {project}");
            Assert.False(properties.Any(e => e.Name.LocalName == "PublishAot" && e.Value.Trim() == "true"), $"the server references a Native AOT project: {project}");
        }

        // The image and the documentation publish the server the same plain way, with no property to hide a problem.
        const string plain = "dotnet publish SkillLoop.Web -c Release -o";
        var publish = File.ReadAllLines(Path.Combine(Root, "build", "image.sh")).Single(l => l.StartsWith("dotnet publish SkillLoop.Web", StringComparison.Ordinal));
        Assert.StartsWith(plain, publish, StringComparison.Ordinal);
        Assert.DoesNotContain("-p:", publish, StringComparison.Ordinal);
        Assert.Contains(plain + " DIR\n", File.ReadAllText(Path.Combine(Root, "docs", "deployment.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void The_library_the_client_shares_with_the_server_is_bcl_only_and_safe_for_native_aot()
    {
        var shared = System.Xml.Linq.XDocument.Load(Path.Combine(Root, "SkillLoop.Shared", "SkillLoop.Shared.csproj"));
        Assert.DoesNotContain(shared.Descendants(), e => e.Name.LocalName is "PackageReference" or "FrameworkReference" or "ProjectReference");
        Assert.Equal("true", shared.Descendants().Single(e => e.Name.LocalName == "IsAotCompatible").Value);

        // The client compiles the shared library into its one native file and carries nothing else but the BCL.
        var client = Path.Combine(Root, "SkillLoop.Hooks", "SkillLoop.Hooks.csproj");
        Assert.DoesNotContain(System.Xml.Linq.XDocument.Load(client).Descendants(), e => e.Name.LocalName is "PackageReference" or "FrameworkReference");
        Assert.Equal([Path.Combine(Root, "SkillLoop.Shared", "SkillLoop.Shared.csproj")], ProjectClosure(client).Where(p => p != client));
    }

    private static IEnumerable<string> ProjectClosure(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.GetFullPath(project)]);
        while (pending.TryPop(out var next))
        {
            if (!seen.Add(next))
            {
                continue;
            }

            foreach (var reference in System.Xml.Linq.XDocument.Load(next).Descendants().Where(e => e.Name.LocalName == "ProjectReference"))
            {
                var include = reference.Attribute("Include")!.Value.Replace('\\', Path.DirectorySeparatorChar);
                pending.Push(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(next)!, include)));
            }
        }

        return seen;
    }

    [Fact]
    public async Task The_image_content_starts_from_its_environment_serves_health_and_reports_its_native_parts()
    {
        using var image = new TempDirectory("skillloop-image");
        // Two client platforms of five: the Native AOT one and one self-contained single file (CI has 2 cores).
        var build = await RunAsync("bash", [Path.Combine(Root, "build", "image.sh"), image.Path], Root,
            new Dictionary<string, string> { ["SKILLLOOP_CLIENT_RIDS"] = "linux-x64 win-x64" }, TimeSpan.FromMinutes(25));
        Assert.True(build.ExitCode == 0, build.Output);
        var app = Path.Combine(image.Path, "app");
        Assert.False(Directory.Exists(Path.Combine(app, "runtimes", "win-x64")), "other platforms' native libraries are pruned");

        var port = Fakes.FakeSkillLoopServer.FreePort();
        var environment = new Dictionary<string, string>
        {
            // As the Dockerfile and compose file set them, with the volumes in a temp folder.
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["SKILLLOOP_DATA"] = Path.Combine(image.Path, "data"),
            ["SKILLLOOP_MODELS"] = Path.Combine(image.Path, "models"),
            ["SKILLLOOP_ADMIN_API_KEY"] = "image-admin-key-0001",
        };
        var server = Process.Start(Start("dotnet", [Path.Combine(app, "SkillLoop.Web.dll")], image.Path, environment))!;
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        server.OutputDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        server.ErrorDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            var health = new Dictionary<string, string>(environment);
            health["ASPNETCORE_URLS"] = $"http://+:{port}"; // as in the image: every address; the check asks loopback
            var deadline = DateTime.UtcNow.AddSeconds(90);
            (int ExitCode, string Output) check;
            do
            {
                await Task.Delay(200);
                check = await RunAsync("dotnet", [Path.Combine(app, "SkillLoop.Web.dll"), "healthcheck"], image.Path, health, TimeSpan.FromSeconds(30));
            }
            while (check.ExitCode != 0 && DateTime.UtcNow < deadline && !server.HasExited);

            Assert.True(check.ExitCode == 0, check.Output);
            using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "image-admin-key-0001");
            var status = await admin.GetFromJsonAsync<JsonElement>("/api/v1/status");
            Assert.StartsWith("sqlite-vec", status.GetProperty("vectorIndex").GetString(), StringComparison.Ordinal);
            Assert.Equal("minilm", status.GetProperty("embeddings").GetProperty("provider").GetString());
            Assert.True(File.Exists(Path.Combine(image.Path, "data", "skillloop.db")));
            // The dashboard's static assets are in the image (MudBlazor's from its package, fingerprinted).
            var login = await admin.GetStringAsync("/account/login");
            var css = System.Text.RegularExpressions.Regex.Match(login, "href=\"(/?_content/MudBlazor/[^\"]+\\.css)\"").Groups[1].Value;
            Assert.NotEmpty(css);
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/" + css.TrimStart('/'))).StatusCode);
            // The client binaries, as listed in the manifest (checksums of the files as built) and served to the installer.
            var manifest = await admin.GetFromJsonAsync<SkillLoop.Hooks.Contracts.ClientManifest>("/client/manifest.json");
            Assert.Equal(SkillLoop.Hooks.Hook.SignalWorker.Version, manifest!.Version);
            Assert.Equal([("linux-x64", "native-aot"), ("win-x64", "single-file")], manifest.Files.Select(f => (f.Platform, f.Build)));
            foreach (var file in manifest.Files)
            {
                var bytes = await admin.GetByteArrayAsync($"/client/{file.File}");
                Assert.Equal((file.Size, file.Sha256), (bytes.LongLength, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))));
            }

            var version = await RunAsync(Path.Combine(app, "clients", "linux-x64", "skillloop-client"), ["--version"], image.Path, new Dictionary<string, string>(), TimeSpan.FromSeconds(30));
            Assert.Equal(SkillLoop.Hooks.Hook.SignalWorker.Version, version.Output.Trim());
            var windows = await File.ReadAllBytesAsync(Path.Combine(app, "clients", "win-x64", "skillloop-client.exe"));
            Assert.Equal([0x4D, 0x5A], windows[..2]); // a Windows executable
            // Built to start fast without Native AOT (issue #17): nothing to inflate at each start, no JIT for the client's code.
            var bundled = SingleFileBundle.Read(windows);
            Assert.DoesNotContain(bundled, entry => entry.CompressedSize > 0);
            Assert.True(SingleFileBundle.IsReadyToRun(windows, bundled.Single(entry => entry.Path == "skillloop-client.dll")), "the Windows client is not ReadyToRun");
            var script = await admin.GetStringAsync("/install.sh");
            Assert.Contains($"linux-x64) file='linux-x64/skillloop-client'; sha256='{manifest.Files[0].Sha256}' ;;", script);

            // The published layout's libgit2 took the git timeouts (set at start, read back from libgit2).
            while (!log.Any(l => l.Contains("libgit2 network timeouts: 15 s to connect, 60 s", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.Contains(log, l => l.Contains("libgit2 network timeouts: 15 s to connect, 60 s", StringComparison.Ordinal));
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }

        var down = await RunAsync("dotnet", [Path.Combine(app, "SkillLoop.Web.dll"), "healthcheck"], image.Path,
            new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://+:{port}" }, TimeSpan.FromSeconds(30));
        Assert.Equal(1, down.ExitCode);
    }

    private static ProcessStartInfo Start(string file, string[] arguments, string directory, IDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return start;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] arguments, string directory, IDictionary<string, string> environment, TimeSpan timeout)
    {
        using var process = Process.Start(Start(file, arguments, directory, environment))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancel.Token);
        return (process.ExitCode, await output + await error);
    }
}
