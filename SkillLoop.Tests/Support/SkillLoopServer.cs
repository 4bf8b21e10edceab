using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace SkillLoop.Tests.Support;

/// <summary>
/// The one server fixture: the real SkillLoop.Web app on Kestrel at 127.0.0.1 (a real port, so out-of-process
/// clients such as the published skillloop-client can reach it), over a real SQLite file in a temp directory.
/// Tests share it, so each uses its own session ids.
/// </summary>
public sealed class SkillLoopServer : WebApplicationFactory<Program>
{
    public const string IngestToken = "test-ingest-token-5f2c9a71";
    public const string AdminApiKey = "test-admin-key-8d41b6e0";
    public const string AdminPassword = "test-admin-password-1";

    private readonly TempDirectory _data = new("skillloop-server");
    private readonly IReadOnlyDictionary<string, string?> _settings;

    public SkillLoopServer()
        : this(new Dictionary<string, string?>())
    {
    }

    private SkillLoopServer(IReadOnlyDictionary<string, string?> settings)
    {
        _settings = settings;
        Directory.CreateDirectory(ModelsDirectory);
        UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseAddress = new Uri(addresses.First());
    }

    /// <summary>A server of its own with extra settings (a small rate limit, say), for the test that disposes it.</summary>
    public static SkillLoopServer StartWith(IReadOnlyDictionary<string, string?> settings) => new(settings);

    /// <summary>The server's real address, e.g. http://127.0.0.1:41234.</summary>
    public Uri BaseAddress { get; }

    public string DataDirectory => _data.Path;

    /// <summary>The server's <c>--models</c> directory (empty; inside the data directory, so <c>../x.gguf</c> names a real file).</summary>
    public string ModelsDirectory => _data.Combine("models");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("data", _data.Path);
        builder.UseSetting("models", ModelsDirectory);
        builder.UseSetting("urls", "http://127.0.0.1:0");
        builder.UseSetting("SKILLLOOP_INGEST_TOKEN", IngestToken);
        builder.UseSetting("SKILLLOOP_ADMIN_API_KEY", AdminApiKey);
        builder.UseSetting("SKILLLOOP_ADMIN_PASSWORD", AdminPassword);
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }

    public HttpClient CreateClientWith(string? bearer)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }

    public HttpClient CreateIngestClient() => CreateClientWith(IngestToken);

    public HttpClient CreateAdminClient() => CreateClientWith(AdminApiKey);

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            _data.Dispose();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<SkillLoopServer>
{
    public const string Name = "server";
}

/// <summary>
/// A server of its own for tests that flood it (thousands of corrections): on the shared server their backlog of
/// extraction and clustering would hold up every later test that waits for the pipeline, by tens of seconds on a
/// loaded two-core CI machine.
/// </summary>
[CollectionDefinition(Name)]
public sealed class FloodServerCollection : ICollectionFixture<SkillLoopServer>
{
    public const string Name = "flood server";
}
