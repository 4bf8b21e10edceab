using System.Text.Json.Serialization;
using System.Globalization;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Extraction;

/// <param name="AllowLocal">Clients may extract with a local agent CLI (<c>claude -p</c>, <c>copilot -p</c>) and send the issue.</param>
/// <param name="LocalGraceSeconds">How long the server waits for such an issue before extracting the signal itself.</param>
// Every field is required in a PUT body: a missing one must not silently become false or 0.
public sealed record LocalExtractionSettings([property: JsonRequired] bool AllowLocal, [property: JsonRequired] int LocalGraceSeconds);

/// <summary>Extraction settings, tunable in the dashboard (kept in the settings table).</summary>
public sealed class ExtractionSettings(SettingsStore settings)
{
    public const string AllowLocalKey = "extraction.allow_local";
    public const string LocalGraceKey = "extraction.local_grace_seconds";

    /// <summary>
    /// Longer than the client's whole local-extraction budget (30 s for the signals plus 3 min for its agent CLI),
    /// so the server extracts only what a client gave up on.
    /// </summary>
    public const int DefaultLocalGraceSeconds = 300;

    public async Task<LocalExtractionSettings> GetAsync(CancellationToken cancellationToken)
    {
        var allow = await settings.GetAsync(AllowLocalKey, cancellationToken);
        var grace = await settings.GetAsync(LocalGraceKey, cancellationToken);
        return new LocalExtractionSettings(
            !bool.TryParse(allow, out var a) || a,
            int.TryParse(grace, NumberStyles.Integer, CultureInfo.InvariantCulture, out var g) ? g : DefaultLocalGraceSeconds);
    }

    public async Task SetAsync(LocalExtractionSettings value, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value.LocalGraceSeconds, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value.LocalGraceSeconds, 86_400);
        await settings.SetAsync(AllowLocalKey, value.AllowLocal ? "true" : "false", cancellationToken);
        await settings.SetAsync(LocalGraceKey, value.LocalGraceSeconds.ToString(CultureInfo.InvariantCulture), cancellationToken);
    }
}
