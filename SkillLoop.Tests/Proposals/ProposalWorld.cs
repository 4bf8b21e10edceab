using Dapper;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;
using SkillLoop.Core.Extraction;
using SkillLoop.Core.Proposals;
using SkillLoop.Core.Registry;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Proposals;

/// <summary>
/// Everything a proposal travels through, real: a bare git remote holding the skill, a fake forge on 127.0.0.1, and
/// the core services over a SQLite file. Tests drive each background step once at a time.
/// </summary>
internal sealed class ProposalWorld : IAsyncDisposable
{
    public const string Skill = "pdf-report";
    public const string SkillPath = "skills/pdf-report/SKILL.md";
    public const string SkillText = "---\nname: pdf-report\ndescription: Builds PDF reports from tables.\n---\n\n# PDF reports\n\nRender the table, then the totals.\n";

    private ProposalWorld(BareGitRemote remote, FakeForgeServer forge, TestCore core, ManualTimeProvider time)
    {
        Remote = remote;
        Forge = forge;
        Core = core;
        Time = time;
    }

    public BareGitRemote Remote { get; }

    public FakeForgeServer Forge { get; }

    public TestCore Core { get; }

    public ManualTimeProvider Time { get; }

    public RegistryRecord Registry { get; private set; } = null!;

    public static async Task<ProposalWorld> StartAsync(
        string provider, bool autoMerge = false, int? distinctUsers = null, IDictionary<string, string?>? settings = null, bool register = true)
    {
        var remote = new BareGitRemote(new Dictionary<string, string> { [SkillPath] = SkillText, ["README.md"] = "Skills.\n" });
        var forge = await FakeForgeServer.StartAsync();
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 11, 2, 9, 0, 0, TimeSpan.Zero));
        var core = await TestCore.StartAsync(settings, services =>
        {
            services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>, BagOfWordsEmbeddingGenerator>();
            services.AddSingleton<TimeProvider>(time);
        });
        await core.Get<ClusteringSettings>().SetAsync(new ClusteringThresholds(0.6f, ClusteringSettings.DefaultDistinctUsers), CancellationToken.None);
        var world = new ProposalWorld(remote, forge, core, time);
        if (register)
        {
            await world.RegisterAsync(provider, autoMerge, distinctUsers);
        }

        return world;
    }

    public async Task RegisterAsync(string provider, bool autoMerge = false, int? distinctUsers = null)
    {
        Registry = await Core.Get<RegistryStore>().CreateAsync(
            new RegistryInput("team-skills", provider, Remote.Path, "main", Token: "forge-token-123",
                ApiUrl: provider == "git" ? null : Forge.ApiUrl(provider), Repository: provider == "git" ? null : "acme/skills",
                DistinctUsers: distinctUsers, AutoMerge: autoMerge, AutoMergeMinConfidence: 0.1, AutoMergeMinUsers: 3),
            CancellationToken.None);
        Assert.Equal("done", (await Core.Get<RegistryScans>().ScanAsync(Registry.Id, CancellationToken.None)).Phase);
    }

    /// <summary>
    /// One user's correction, carried through extraction and clustering as the server does. A <paramref name="personalKey"/>
    /// sends it with that personal ingest token's id (one user, verified); without one the user is self-declared.
    /// </summary>
    public async Task<long> CorrectAsync(string user, string text = "the totals row must stay at the bottom of the table", string skill = Skill, long? personalKey = null)
    {
        var signal = await Clustering.ClustererTests.StoreAsync(Core, user, skill, text,
            credential: personalKey is { } key ? new SkillLoop.Core.Capture.IngestCredential(key, Shared: false) : null);
        Time.Advance(TimeSpan.FromMinutes(1));
        await Core.Get<ExtractionJobRunner>().RunOnceAsync(CancellationToken.None);
        await Core.Get<ClusteringJobRunner>().RunOnceAsync(CancellationToken.None);
        return signal;
    }

    public Task<int> RunAsync() => Core.Get<ProposalRunner>().RunOnceAsync(CancellationToken.None);

    public async Task<ProposalDetail> OnlyProposalAsync()
    {
        var proposal = Assert.Single(await Core.Get<ProposalStore>().ListAsync(null, CancellationToken.None));
        return (await Core.Get<ProposalStore>().GetAsync(proposal.Id, CancellationToken.None))!;
    }

    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = await Core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>(sql);
    }

    public string Branch(long clusterId) => $"skillloop/{Skill}-{clusterId}";

    public async ValueTask DisposeAsync()
    {
        await Core.DisposeAsync();
        await Forge.DisposeAsync();
        Remote.Dispose();
    }
}
