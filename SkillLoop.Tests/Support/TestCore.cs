using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SkillLoop.Core;

namespace SkillLoop.Tests.Support;

/// <summary>
/// The real core services over a real SQLite file in a temp directory, migrated and seeded as at start. Background
/// runners are not started: tests drive them one step at a time.
/// </summary>
public sealed class TestCore : IAsyncDisposable
{
    private readonly TempDirectory _directory = new("skillloop-core");

    private TestCore(ServiceProvider services) => Services = services;

    public ServiceProvider Services { get; private set; }

    public string DataDirectory => _directory.Path;

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public static async Task<TestCore> StartAsync(IDictionary<string, string?>? settings = null, Action<IServiceCollection>? configure = null)
    {
        var core = new TestCore(null!);
        var services = Build(core._directory.Path, settings);
        configure?.Invoke(services);
        core.Services = services.BuildServiceProvider(validateScopes: true);
        foreach (var hosted in core.Services.GetServices<IHostedService>().OfType<SkillLoopStartup>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        return core;
    }

    /// <summary>Registers the core services on an existing collection (used by bUnit contexts).</summary>
    public static IServiceCollection Build(string dataDirectory, IDictionary<string, string?>? settings = null, IServiceCollection? services = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["data"] = dataDirectory })
            .AddInMemoryCollection(settings ?? new Dictionary<string, string?>())
            .Build();
        services ??= new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddSkillLoopCore(configuration);
        return services;
    }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }
}
