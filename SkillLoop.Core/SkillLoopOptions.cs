using System.ComponentModel.DataAnnotations;

namespace SkillLoop.Core;

/// <summary>
/// Server settings from the command line (<c>--data</c>, <c>--models</c>) and the environment (<c>SKILLLOOP_*</c>).
/// Everything else is set in the dashboard and kept in the database.
/// </summary>
public sealed class SkillLoopOptions
{
    [Required]
    public string DataDirectory { get; set; } = "./data";

    [Required]
    public string ModelsDirectory { get; set; } = "./models";

    /// <summary>Password of the <c>admin</c> user created on first start; unset: a random one is generated and logged once.</summary>
    public string? AdminPassword { get; set; }

    /// <summary>
    /// Where the client binaries and their <c>manifest.json</c> are (<c>--clients</c> or <c>SKILLLOOP_CLIENTS</c>,
    /// made by <c>build/clients.sh</c>); default <c>clients</c> beside the server, where the image has them.
    /// </summary>
    public string? ClientsDirectory { get; set; }

    public string? AdminApiKey { get; set; }

    public string? IngestToken { get; set; }

    public string? ChatModel { get; set; }

    public string? LlmEndpoint { get; set; }

    public string? LlmModel { get; set; }

    public string? LlmApiKey { get; set; }

    /// <summary>Overrides where vec0.so is looked for (default: <c>native/vec0.so</c> beside the server).</summary>
    public string? SqliteVecPath { get; set; }

    /// <summary>
    /// Seconds libgit2 waits for a registry's git server to accept a connection (<c>SKILLLOOP_GIT_CONNECT_TIMEOUT</c>),
    /// so an unreachable host fails its scan instead of waiting for the OS (often minutes).
    /// </summary>
    [Range(1, 300, ErrorMessage = "SKILLLOOP_GIT_CONNECT_TIMEOUT must be 1 to 300 seconds.")]
    public int GitConnectTimeoutSeconds { get; set; } = 15;

    /// <summary>
    /// Seconds libgit2 waits for a git server to send anything, or to take what it sends (<c>SKILLLOOP_GIT_TIMEOUT</c>):
    /// a server that accepts the connection and then never answers fails the scan and frees its slot.
    /// </summary>
    [Range(1, 3600, ErrorMessage = "SKILLLOOP_GIT_TIMEOUT must be 1 to 3600 seconds.")]
    public int GitTimeoutSeconds { get; set; } = 60;

    public string DatabasePath => Path.Combine(Path.GetFullPath(DataDirectory), "skillloop.db");

    /// <summary>Reads the documented command-line and environment names from configuration.</summary>
    public static void Bind(SkillLoopOptions options, Microsoft.Extensions.Configuration.IConfiguration config)
    {
        options.DataDirectory = config["data"] ?? config["SKILLLOOP_DATA"] ?? options.DataDirectory;
        options.ModelsDirectory = config["models"] ?? config["SKILLLOOP_MODELS"] ?? options.ModelsDirectory;
        options.ClientsDirectory = NullIfEmpty(config["clients"] ?? config["SKILLLOOP_CLIENTS"]);
        options.AdminPassword = NullIfEmpty(config["SKILLLOOP_ADMIN_PASSWORD"]);
        options.AdminApiKey = NullIfEmpty(config["SKILLLOOP_ADMIN_API_KEY"]);
        options.IngestToken = NullIfEmpty(config["SKILLLOOP_INGEST_TOKEN"]);
        options.ChatModel = NullIfEmpty(config["SKILLLOOP_CHAT_MODEL"]);
        options.LlmEndpoint = NullIfEmpty(config["SKILLLOOP_LLM_ENDPOINT"]);
        options.LlmModel = NullIfEmpty(config["SKILLLOOP_LLM_MODEL"]);
        options.LlmApiKey = NullIfEmpty(config["SKILLLOOP_LLM_API_KEY"]);
        options.SqliteVecPath = NullIfEmpty(config["SKILLLOOP_SQLITE_VEC"]);
        options.GitConnectTimeoutSeconds = Seconds(config["SKILLLOOP_GIT_CONNECT_TIMEOUT"], options.GitConnectTimeoutSeconds);
        options.GitTimeoutSeconds = Seconds(config["SKILLLOOP_GIT_TIMEOUT"], options.GitTimeoutSeconds);
    }

    // Not a whole number: 0, which the range check refuses at start with the variable's name.
    private static int Seconds(string? value, int unset) =>
        string.IsNullOrWhiteSpace(value) ? unset
        : int.TryParse(value.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) ? seconds
        : 0;

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
