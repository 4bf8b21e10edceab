using System.Globalization;
using System.Text.Json.Serialization;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Registry;

/// <summary>Registry-wide settings: how often registries are rescanned, and who SkillLoop's commits are by.</summary>
public sealed record RegistryOptions([property: JsonRequired] int RescanMinutes, [property: JsonRequired] string BotName, [property: JsonRequired] string BotEmail)
{
    [JsonIgnore]
    public BotIdentity Bot => new(BotName, BotEmail);
}

/// <summary>Kept in the settings table, set in the dashboard or with <c>PUT /api/v1/settings/registry</c>.</summary>
public sealed class RegistrySettings(SettingsStore settings)
{
    public const string RescanMinutesKey = "registry.rescan_minutes";
    public const string BotNameKey = "registry.bot_name";
    public const string BotEmailKey = "registry.bot_email";

    public static readonly RegistryOptions Defaults = new(60, "SkillLoop", "skillloop@localhost");

    public async Task<RegistryOptions> GetAsync(CancellationToken cancellationToken)
    {
        var minutes = await settings.GetAsync(RescanMinutesKey, cancellationToken);
        return new RegistryOptions(
            int.TryParse(minutes, NumberStyles.Integer, CultureInfo.InvariantCulture, out var m) ? m : Defaults.RescanMinutes,
            await settings.GetAsync(BotNameKey, cancellationToken) ?? Defaults.BotName,
            await settings.GetAsync(BotEmailKey, cancellationToken) ?? Defaults.BotEmail);
    }

    public async Task SetAsync(RegistryOptions options, CancellationToken cancellationToken)
    {
        if (options.RescanMinutes is < 0 or > 10_080)
        {
            throw new RegistryException("rescanMinutes", "Rescan every 1 to 10080 minutes, or 0 for never.");
        }

        if (string.IsNullOrWhiteSpace(options.BotName) || options.BotName.Length > 100 || options.BotName.IndexOfAny(['<', '>']) >= 0 || options.BotName.Any(char.IsControl))
        {
            throw new RegistryException("botName", "The bot's name must be 1 to 100 characters, without < > or control characters.");
        }

        if (string.IsNullOrWhiteSpace(options.BotEmail) || options.BotEmail.Length > 200 || !options.BotEmail.Contains('@') || options.BotEmail.IndexOfAny(['<', '>', ' ']) >= 0 || options.BotEmail.Any(char.IsControl))
        {
            throw new RegistryException("botEmail", "The bot's e-mail must look like name@host.");
        }

        await settings.SetAsync(RescanMinutesKey, options.RescanMinutes.ToString(CultureInfo.InvariantCulture), cancellationToken);
        await settings.SetAsync(BotNameKey, options.BotName.Trim(), cancellationToken);
        await settings.SetAsync(BotEmailKey, options.BotEmail.Trim(), cancellationToken);
    }
}
