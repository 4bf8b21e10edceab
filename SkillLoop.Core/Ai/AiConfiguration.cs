using System.Text;

namespace SkillLoop.Core.Ai;

/// <summary>The provider names used by the settings, the API and <c>/api/v1/status</c>.</summary>
public static class AiProviders
{
    public const string Heuristic = "heuristic";
    public const string Llama = "llama.cpp";
    public const string OpenAi = "openai";
    public const string MiniLm = "minilm";

    /// <summary>What extraction (and proposals) can use: none (heuristic), a local GGUF, an endpoint.</summary>
    public static readonly IReadOnlyList<string> Chat = [Heuristic, Llama, OpenAi];

    /// <summary>What clustering can embed with: the bundled MiniLM, a local GGUF, an endpoint.</summary>
    public static readonly IReadOnlyList<string> Embeddings = [MiniLm, Llama, OpenAi];
}

/// <summary>One role's provider as the runtime builds it, with the API key in memory. Its text form hides the key.</summary>
/// <param name="Provider">One of <see cref="AiProviders"/>.</param>
/// <param name="Model">The GGUF file (llama.cpp) or the endpoint's model name (openai); null for heuristic and minilm.</param>
/// <param name="Endpoint">The OpenAI-compatible endpoint (openai only).</param>
/// <param name="ApiKey">The endpoint's key (openai only); never logged, never returned.</param>
public sealed record AiProviderConfig(string Provider, string? Model = null, string? Endpoint = null, string? ApiKey = null)
{
    /// <summary>What error messages call this setting: an environment variable, or "Chat model" / "Embedding model".</summary>
    public string Origin { get; init; } = "";

    /// <summary>Set when the setting cannot work as given (from the environment only): reported, and the default is used.</summary>
    public string? Error { get; init; }

    // Records print their members (in logs, exceptions, the debugger): never the API key.
    private bool PrintMembers(StringBuilder builder) => AiProviderText.Print(builder, Provider, Model, Endpoint, ApiKey);
}

/// <summary>Which chat and embedding providers to run.</summary>
public sealed record AiConfiguration(AiProviderConfig Chat, AiProviderConfig Embeddings)
{
    /// <summary>Saved in the dashboard (settings table); GGUF names are relative to the models directory.</summary>
    public const string StoredSource = "stored";

    /// <summary>Nothing saved yet: the <c>SKILLLOOP_*</c> environment, as before settings existed.</summary>
    public const string EnvironmentSource = "environment";

    public string Source { get; init; } = StoredSource;

    /// <summary>
    /// From the environment only: when both <c>SKILLLOOP_CHAT_MODEL</c> and <c>SKILLLOOP_LLM_ENDPOINT</c> are set,
    /// a GGUF that fails to load falls back to the endpoint.
    /// </summary>
    public AiProviderConfig? ChatFallback { get; init; }

    /// <summary>
    /// The first-start defaults: chat = <c>SKILLLOOP_CHAT_MODEL</c> (GGUF), else <c>SKILLLOOP_LLM_ENDPOINT/MODEL/API_KEY</c>,
    /// else heuristic; embeddings = <c>SKILLLOOP_EMBEDDING_MODEL</c> (a GGUF, or a model of that endpoint), else MiniLM.
    /// </summary>
    public static AiConfiguration FromEnvironment(SkillLoopOptions options, AiOptions ai)
    {
        AiProviderConfig? endpointChat = options.LlmEndpoint is not { } endpoint ? null
            : options.LlmModel is { } model
                ? new(AiProviders.OpenAi, model, endpoint, options.LlmApiKey) { Origin = "SKILLLOOP_LLM_ENDPOINT" }
                : new(AiProviders.OpenAi, null, endpoint, options.LlmApiKey)
                {
                    Origin = "SKILLLOOP_LLM_ENDPOINT",
                    Error = "SKILLLOOP_LLM_ENDPOINT is set without SKILLLOOP_LLM_MODEL",
                };
        var chat = options.ChatModel is { } gguf
            ? new AiProviderConfig(AiProviders.Llama, gguf) { Origin = "SKILLLOOP_CHAT_MODEL" }
            : endpointChat ?? new AiProviderConfig(AiProviders.Heuristic);

        var embeddings = ai.EmbeddingModel switch
        {
            null => new AiProviderConfig(AiProviders.MiniLm),
            var name when name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) =>
                new AiProviderConfig(AiProviders.Llama, name) { Origin = "SKILLLOOP_EMBEDDING_MODEL" },
            var name when options.LlmEndpoint is { } embeddingEndpoint =>
                new AiProviderConfig(AiProviders.OpenAi, name, embeddingEndpoint, options.LlmApiKey) { Origin = "SKILLLOOP_EMBEDDING_MODEL" },
            var name => new AiProviderConfig(AiProviders.MiniLm)
            {
                Origin = "SKILLLOOP_EMBEDDING_MODEL",
                Error = $"SKILLLOOP_EMBEDDING_MODEL {name} is neither a .gguf file nor usable without SKILLLOOP_LLM_ENDPOINT",
            },
        };

        return new AiConfiguration(chat, embeddings)
        {
            Source = EnvironmentSource,
            ChatFallback = options.ChatModel is not null ? endpointChat : null,
        };
    }
}

/// <summary>One role's provider as <c>GET /api/v1/settings/ai</c> shows it: never the key, only whether there is one.</summary>
public sealed record AiProviderView(string Provider, string? Model, string? Endpoint, bool HasApiKey);

/// <param name="Source"><c>stored</c> (saved in the dashboard) or <c>environment</c> (nothing saved: the SKILLLOOP_* defaults).</param>
/// <param name="InUse">What runs now, with the error of a provider that could not start.</param>
public sealed record AiSettingsView(string Source, AiProviderView Chat, AiProviderView Embeddings, AiStatusInfo InUse);

/// <summary>One role's provider as the dashboard and <c>PUT /api/v1/settings/ai</c> send it.</summary>
/// <param name="Model">A GGUF file in the models directory (llama.cpp), or the endpoint's model name (openai).</param>
/// <param name="ApiKey">A new key; <c>""</c> removes the stored one; null keeps it while the endpoint stays the same.</param>
public sealed record AiProviderInput(string? Provider, string? Model = null, string? Endpoint = null, string? ApiKey = null)
{
    // Records print their members (in logs, exceptions, the debugger): never the API key.
    private bool PrintMembers(StringBuilder builder) => AiProviderText.Print(builder, Provider, Model, Endpoint, ApiKey);
}

/// <summary>Both roles (saving needs both; a test takes either or both).</summary>
public sealed record AiSettingsInput(AiProviderInput? Chat, AiProviderInput? Embeddings);

/// <summary>A GGUF file of the models directory; <paramref name="Name"/> is relative to it (with '/').</summary>
public sealed record ModelFile(string Name, long SizeBytes);

/// <summary>The answer of one provider test: never an exception, whatever the endpoint does.</summary>
/// <param name="LatencyMs">The request's round trip (for llama.cpp: after the model is loaded).</param>
/// <param name="Dimensions">Embeddings only: the length of the vector returned.</param>
/// <param name="Reply">Chat only: the start of the model's answer.</param>
public sealed record AiTestResult(bool Ok, string Provider, string? Model, long LatencyMs, int? Dimensions = null, string? Reply = null, string? Error = null);

public sealed record AiTestReport(AiTestResult? Chat, AiTestResult? Embeddings);

/// <summary>How provider settings print: everything but the API key, which shows only whether there is one.</summary>
internal static class AiProviderText
{
    public static bool Print(StringBuilder builder, string? provider, string? model, string? endpoint, string? apiKey)
    {
        builder.Append("Provider = ").Append(provider)
            .Append(", Model = ").Append(model)
            .Append(", Endpoint = ").Append(endpoint)
            .Append(", ApiKey = ").Append(apiKey is null ? "null" : "***");
        return true;
    }
}
