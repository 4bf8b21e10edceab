using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SkillLoop.Core.Data;

/// <summary>
/// The sqlite-vec extension (vec0.so, fetched by the build). Probed once; where it cannot be loaded the server
/// keeps working with exact in-process vector search and reports that in /api/v1/status.
/// </summary>
public sealed partial class SqliteVec
{
    private readonly Lazy<(string? Path, string? Version, string? Error)> _probe;

    public SqliteVec(IOptions<SkillLoopOptions> options, ILogger<SqliteVec> logger)
    {
        _probe = new(() =>
        {
            var path = options.Value.SqliteVecPath ?? System.IO.Path.Combine(AppContext.BaseDirectory, "native", "vec0.so");
            if (!File.Exists(path))
            {
                var missing = $"vec0 not found at {path}";
                LogUnavailable(logger, missing);
                return (null, null, missing);
            }

            try
            {
                using var connection = new SqliteConnection("Data Source=:memory:");
                connection.Open();
                connection.EnableExtensions(true);
                connection.LoadExtension(path);
                connection.EnableExtensions(false);
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT vec_version()";
                var version = (string?)command.ExecuteScalar();
                LogLoaded(logger, version ?? "?", path);
                return (path, version, null);
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException or DllNotFoundException or EntryPointNotFoundException)
            {
                LogUnavailable(logger, ex.Message);
                return (null, null, ex.Message);
            }
        });
    }

    public bool IsAvailable => _probe.Value.Path is not null;

    public string? Version => _probe.Value.Version;

    public string? Error => _probe.Value.Error;

    /// <summary>What /api/v1/status and the dashboard show as the vector index in use.</summary>
    public string Description => IsAvailable ? $"sqlite-vec {Version}" : "exact (in-process)";

    /// <summary>Loads vec0 into a connection; false when the extension is unavailable.</summary>
    public bool TryLoadInto(SqliteConnection connection)
    {
        if (!IsAvailable)
        {
            return false;
        }

        connection.EnableExtensions(true);
        try
        {
            connection.LoadExtension(_probe.Value.Path!);
        }
        finally
        {
            connection.EnableExtensions(false);
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "sqlite-vec {Version} loaded from {Path}")]
    private static partial void LogLoaded(ILogger logger, string version, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "sqlite-vec unavailable ({Reason}); using exact in-process vector search")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}
