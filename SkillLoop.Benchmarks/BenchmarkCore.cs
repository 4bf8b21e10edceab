using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkillLoop.Core;

namespace SkillLoop.Benchmarks;

/// <summary>
/// The real core services over a temporary database, started the way the server starts them (migrations, settings)
/// but without the web host: what the in-process benchmarks (clustering, replay) measure against.
/// </summary>
internal sealed class BenchmarkCore : IAsyncDisposable
{
    private readonly DirectoryInfo _directory;
    private readonly ServiceProvider _services;

    private BenchmarkCore(DirectoryInfo directory, ServiceProvider services) => (_directory, _services) = (directory, services);

    public IServiceProvider Services => _services;

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    /// <param name="prefix">The temporary folder's name prefix (which benchmark left it, should one be left).</param>
    /// <param name="settings">Configuration beside the data folder, e.g. a chat model.</param>
    public static async Task<BenchmarkCore> StartAsync(string prefix, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var directory = Directory.CreateTempSubdirectory(prefix);
        var values = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>()) { ["data"] = directory.FullName };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Error).AddSimpleConsole());
        services.AddSkillLoopCore(configuration);
        var core = new BenchmarkCore(directory, services.BuildServiceProvider());
        await core._services.GetServices<IHostedService>().OfType<SkillLoopStartup>().Single().StartAsync(CancellationToken.None);
        // The writers' connection leaves WAL checkpoints to this service: without it the benchmarks' writes would skip
        // the copy into the database file that the server pays.
        await core.Get<SkillLoop.Core.Data.WalCheckpointer>().StartAsync(CancellationToken.None);
        return core;
    }

    public async ValueTask DisposeAsync()
    {
        await Get<SkillLoop.Core.Data.WalCheckpointer>().StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _directory.Delete(recursive: true);
    }
}
