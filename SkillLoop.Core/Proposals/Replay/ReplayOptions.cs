using Microsoft.Extensions.Configuration;

namespace SkillLoop.Core.Proposals.Replay;

/// <summary>How much a replay may cost: read from the environment at start.</summary>
public sealed class ReplayOptions
{
    /// <summary>
    /// <c>SKILLLOOP_REPLAY_MAX_CORRECTIONS</c>: corrections replayed per proposal text (two model calls each, one when
    /// only the proposed text changed). One per distinct user first, those with context first. 0 turns replay off.
    /// </summary>
    public int MaxCorrections { get; set; } = 8;

    /// <summary>
    /// <c>SKILLLOOP_REPLAY_MAX_SKILL_CHARS</c>: a skill file longer than this is not replayed against a model whose
    /// context size is unknown here (an endpoint); a local model's own context decides instead.
    /// </summary>
    public int MaxSkillChars { get; set; } = 32_000;

    public static void Bind(ReplayOptions options, IConfiguration configuration)
    {
        options.MaxCorrections = int.TryParse(configuration["SKILLLOOP_REPLAY_MAX_CORRECTIONS"], out var max) ? max : options.MaxCorrections;
        options.MaxSkillChars = int.TryParse(configuration["SKILLLOOP_REPLAY_MAX_SKILL_CHARS"], out var chars) ? chars : options.MaxSkillChars;
    }
}
