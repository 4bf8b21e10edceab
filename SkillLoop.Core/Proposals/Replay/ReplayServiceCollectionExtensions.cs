using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SkillLoop.Core.Proposals.Replay;

public static class ReplayServiceCollectionExtensions
{
    /// <summary>Replay before review: its options (validated at start), the store the API and page read, and the background runner.</summary>
    public static IServiceCollection AddProposalReplay(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ReplayOptions>()
            .Configure(options => ReplayOptions.Bind(options, configuration))
            .Validate(o => o.MaxCorrections is >= 0 and <= 500, "SKILLLOOP_REPLAY_MAX_CORRECTIONS must be between 0 (replay off) and 500.")
            .Validate(o => o.MaxSkillChars is >= 1_000 and <= 1_048_576, "SKILLLOOP_REPLAY_MAX_SKILL_CHARS must be between 1000 and 1048576.")
            .ValidateOnStart();
        services.AddSingleton<ReplayStore>();
        services.AddSingleton<ReplayRunner>();
        services.AddHostedService(sp => sp.GetRequiredService<ReplayRunner>());
        return services;
    }
}
