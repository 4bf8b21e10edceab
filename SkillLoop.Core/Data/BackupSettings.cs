using System.Globalization;
using System.Text.Json.Serialization;

namespace SkillLoop.Core.Data;

/// <param name="KeepNewest">Backups kept in <c>&lt;data&gt;/backups/</c>: after each backup, older ones beyond this are deleted; 0 keeps all.</param>
// Every field is required in a PUT body: a missing one must not silently become 0 (keep all).
public sealed record BackupRetention([property: JsonRequired] int KeepNewest);

/// <summary>How many backups are kept, set in the dashboard (kept in the settings table).</summary>
public sealed class BackupSettings(SettingsStore settings)
{
    public const string KeepNewestKey = "backup.keep_newest";

    /// <summary>Ten daily backups is a week and a half of history at about ten times the database's size on disk.</summary>
    public const int DefaultKeepNewest = 10;

    public const int MaxKeepNewest = 10_000;

    public async Task<BackupRetention> GetAsync(CancellationToken cancellationToken) => new(
        int.TryParse(await settings.GetAsync(KeepNewestKey, cancellationToken), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0
            ? n
            : DefaultKeepNewest);

    public async Task SetAsync(BackupRetention retention, CancellationToken cancellationToken)
    {
        if (retention.KeepNewest is < 0 or > MaxKeepNewest)
        {
            throw new ArgumentOutOfRangeException(nameof(retention), $"Keep between 1 and {MaxKeepNewest} backups, or 0 for all.");
        }

        await settings.SetAsync(KeepNewestKey, retention.KeepNewest.ToString(CultureInfo.InvariantCulture), cancellationToken);
    }
}
