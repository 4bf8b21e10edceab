using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Access;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Detection;
using SkillLoop.Core.Proposals;
using SkillLoop.Core.Proposals.Replay;
using SkillLoop.Core.Registry;

namespace SkillLoop.Core;

public static class CoreServiceCollectionExtensions
{
    public static IServiceCollection AddSkillLoopCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SkillLoopOptions>()
            .Configure(options => SkillLoopOptions.Bind(options, configuration))
            .ValidateDataAnnotations()
            .Validate(o => !string.IsNullOrWhiteSpace(o.LlmEndpoint) || (o.LlmModel is null && o.LlmApiKey is null),
                "SKILLLOOP_LLM_MODEL and SKILLLOOP_LLM_API_KEY need SKILLLOOP_LLM_ENDPOINT.")
            .Validate(o => o.LlmEndpoint is null || Uri.TryCreate(o.LlmEndpoint, UriKind.Absolute, out _),
                "SKILLLOOP_LLM_ENDPOINT must be an absolute URL.")
            .ValidateOnStart();

        services.AddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton(new Telemetry.SkillLoopMetrics.OwnMeter());
        services.AddSingleton<Telemetry.SkillLoopMetrics>();

        // Sign-in cookies and stored secrets (registry tokens, AI endpoint keys) stay readable across restarts: the key
        // ring lives in the data directory, beside the database.
        services.AddSkillLoopKeyRing(GetDataDirectory(configuration));

        // Data
        services.AddSingleton<SqliteVec>();
        services.AddSingleton<SqliteDb>();
        services.AddSingleton<DatabaseState>();
        services.AddSingleton<SettingsStore>();
        services.AddSingleton<BackupSettings>();
        services.AddSingleton<DatabaseBackup>();

        // Access
        services.AddSingleton<AccessStore>();
        services.AddSingleton<AccessSeeder>();
        services.AddSingleton<AccessAdmin>();

        // Capture and detection
        services.AddSingleton<SignalFeed>();
        services.AddSingleton<RefusedPosts>();
        services.AddSingleton<IngestActivity>();
        services.AddSingleton<SignalSearchIndexer>();
        services.AddSingleton<WalCheckpointer>();
        services.AddSingleton<PipelineScheduler>();
        services.AddSingleton<LargeBatchThreads>();
        services.AddSingleton<Extraction.ExtractionSettings>();
        services.AddSingleton<UserIdentityHasher>();
        services.AddSingleton<SignalIngestor>();
        services.AddSingleton<ClientDownloads>();
        services.AddSingleton<SignalStore>();
        services.AddSingleton<ActivityStats>();
        services.AddSingleton<PatternStore>();
        // The client's detector weights (the server references the client): the tester scores with them, and their
        // per-language band says which signals are borderline.
        services.AddSingleton(_ => SkillLoop.Hooks.Detection.DetectorModel.Shipped);
        services.AddSingleton<PatternTester>();
        services.AddSingleton<DetectionVerdicts>();
        services.AddSingleton<DetectionLabels>();
        services.AddSingleton<Retention>();

        // Clustering
        services.AddSingleton<ClusteringSettings>();
        services.AddSingleton<ClusterEvents>();
        services.AddSingleton<Clusterer>();
        services.AddSingleton<ClusterStore>();
        services.AddSingleton<ClusterConsolidator>();
        services.AddSingleton<ClusteringJobRunner>();
        services.AddSingleton<Reembedder>();

        // Registries and proposals
        services.AddHttpClient(ForgeProviders.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddSingleton<RegistrySettings>();
        services.AddSingleton<RegistryStore>();
        services.AddSingleton<SkillCatalog>();
        services.AddSingleton<GitMirror>();
        services.AddSingleton<RegistryScans>();
        services.AddSingleton<ForgeProviders>();
        services.AddSingleton<ProposalWriter>();
        services.AddSingleton<ProposalStore>();
        services.AddSingleton<ProposalWork>();
        services.AddSingleton<ProposalDrafter>();
        services.AddSingleton<ProposalPusher>();
        services.AddSingleton<ForgeSync>();
        services.AddSingleton<IRegistryScanObserver>(sp => sp.GetRequiredService<ForgeSync>());
        services.AddSingleton<SkillVersions>();
        services.AddSingleton<ProposalRunner>();

        services.AddHostedService<SkillLoopStartup>();
        // AI runtime and issue extraction (after start-up: extraction needs the migrated database)
        services.AddSkillLoopAi(configuration);
        services.AddHostedService(sp => sp.GetRequiredService<ClusteringJobRunner>());
        services.AddHostedService(sp => sp.GetRequiredService<Reembedder>());
        services.AddHostedService(sp => sp.GetRequiredService<Retention>());
        services.AddHostedService(sp => sp.GetRequiredService<SignalSearchIndexer>());
        services.AddHostedService(sp => sp.GetRequiredService<WalCheckpointer>());
        services.AddHostedService(sp => sp.GetRequiredService<RegistryScans>());
        services.AddHostedService(sp => sp.GetRequiredService<ProposalRunner>());
        services.AddProposalReplay(configuration);
        return services;
    }

    /// <summary>The data directory, for registrations that need it before the container is built.</summary>
    public static string GetDataDirectory(IConfiguration configuration)
    {
        var options = new SkillLoopOptions();
        SkillLoopOptions.Bind(options, configuration);
        return Path.GetFullPath(options.DataDirectory);
    }
}
