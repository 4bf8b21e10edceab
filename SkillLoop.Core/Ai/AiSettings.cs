using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Clustering;
using SkillLoop.Core.Data;

namespace SkillLoop.Core.Ai;

/// <summary>
/// The AI providers chosen in the dashboard, kept in the settings table (<see cref="Key"/>, JSON). API keys are
/// stored only encrypted with ASP.NET Core Data Protection (key ring in the data directory) and never returned.
/// Saving rebuilds the providers at once (<see cref="AiRuntime.Apply"/>) and asks for re-embedding, which runs when
/// the embedding model changed. While nothing is saved, the environment's defaults apply.
/// </summary>
public sealed partial class AiSettings(
    SettingsStore store,
    AiRuntime runtime,
    Reembedder reembedder,
    IDataProtectionProvider protection,
    IOptions<SkillLoopOptions> options,
    TimeProvider time,
    ILogger<AiSettings> logger)
{
    public const string Key = "ai.providers";

    /// <summary>What a provider test embeds.</summary>
    public const string TestSentence = "The agent ran npm although the skill says to use pnpm.";

    /// <summary>What a provider test asks a chat model.</summary>
    public const string TestPrompt = "Reply with the single word: ok";

    private readonly IDataProtector _protector = protection.CreateProtector("SkillLoop.AiSettings.ApiKey.v1");
    private readonly SemaphoreSlim _saving = new(1, 1);

    public string ModelsDirectory => Path.GetFullPath(options.Value.ModelsDirectory);

    /// <summary>The GGUF files a llama.cpp provider can use.</summary>
    public IReadOnlyList<ModelFile> ListModels() => ModelFiles.List(ModelsDirectory);

    /// <summary>The settings (saved, else the environment's) and what runs now; never an API key.</summary>
    public async Task<AiSettingsView> GetAsync(CancellationToken cancellationToken)
    {
        var configuration = await LoadAsync(cancellationToken) ?? runtime.Defaults;
        var status = await Task.Run(() => runtime.Status, cancellationToken); // the first read may load a model
        return new AiSettingsView(configuration.Source, View(configuration, configuration.Chat), View(configuration, configuration.Embeddings), status);
    }

    /// <summary>The saved configuration (API keys decrypted), or null when none has been saved.</summary>
    public async Task<AiConfiguration?> LoadAsync(CancellationToken cancellationToken)
    {
        var json = await store.GetAsync(Key, cancellationToken);
        if (json is null)
        {
            return null;
        }

        StoredAiSettings? stored;
        try
        {
            stored = JsonSerializer.Deserialize(json, CoreJsonContext.Default.StoredAiSettings);
        }
        catch (JsonException ex)
        {
            LogUnreadable(logger, ex);
            return null;
        }

        return stored is { Chat: not null, Embeddings: not null }
            ? new AiConfiguration(FromStored(stored.Chat, "chat", "Chat model"), FromStored(stored.Embeddings, "embeddings", "Embedding model"))
            : null;
    }
    /// <summary>
    /// Problems with <paramref name="input"/>, by field (<c>chat.endpoint</c>, <c>embeddings.model</c>, …); empty
    /// when it can be saved. <paramref name="bothRoles"/>: saving needs both roles, a test either.
    /// </summary>
    public IReadOnlyDictionary<string, string[]> Validate(AiSettingsInput? input, bool bothRoles = true) =>
        AiSettingsRules.Validate(input, ModelsDirectory, bothRoles);

    /// <summary>Stores the settings and switches to them at once; throws <see cref="ArgumentException"/> on what <see cref="Validate"/> refuses.</summary>
    public async Task<AiSettingsView> SaveAsync(AiSettingsInput input, CancellationToken cancellationToken)
    {
        AiSettingsRules.ThrowIfInvalid(input, ModelsDirectory, bothRoles: true);
        await _saving.WaitAsync(cancellationToken);
        try
        {
            var current = await LoadAsync(cancellationToken) ?? runtime.Defaults;
            var next = new AiConfiguration(
                AiSettingsRules.ToConfig(input.Chat!, current.Chat, input.Embeddings, current.Embeddings, "Chat model"),
                AiSettingsRules.ToConfig(input.Embeddings!, current.Embeddings, input.Chat, current.Chat, "Embedding model"));
            await store.SetAsync(Key, Serialize(next), cancellationToken);
            LogSaved(logger, next.Chat.Provider, next.Chat.Model ?? "-", next.Embeddings.Provider, next.Embeddings.Model ?? "-");
            // Stored: apply it whatever happens to the request now. Loading a GGUF blocks for a while: not on the request's thread.
            await Task.Run(() => runtime.Apply(next), CancellationToken.None);
        }
        finally
        {
            _saving.Release();
        }

        reembedder.RequestRun();
        return await GetAsync(cancellationToken);
    }

    /// <summary>
    /// Tries an unsaved configuration: one tiny chat request, one embedded sentence. Whatever the provider does,
    /// the answer is a result (<c>ok</c>, latency, error), never an exception; a key left empty is the stored one
    /// when the endpoint is the same.
    /// </summary>
    public async Task<AiTestReport> TestAsync(AiSettingsInput input, CancellationToken cancellationToken)
    {
        AiSettingsRules.ThrowIfInvalid(input, ModelsDirectory, bothRoles: false);
        var current = await LoadAsync(cancellationToken) ?? runtime.Defaults;
        var tester = new AiProviderTester(runtime, time, logger, ModelsDirectory);
        var chat = input.Chat is null ? null
            : await tester.TestChatAsync(AiSettingsRules.ToConfig(input.Chat, current.Chat, input.Embeddings, current.Embeddings, "Chat model"), cancellationToken);
        var embeddings = input.Embeddings is null ? null
            : await tester.TestEmbeddingsAsync(AiSettingsRules.ToConfig(input.Embeddings, current.Embeddings, input.Chat, current.Chat, "Embedding model"), cancellationToken);
        return new AiTestReport(chat, embeddings);
    }
    private AiProviderView View(AiConfiguration configuration, AiProviderConfig config)
    {
        var model = config.Model;
        if (config.Provider == AiProviders.Llama && model is not null && configuration.Source == AiConfiguration.EnvironmentSource)
        {
            // SKILLLOOP_CHAT_MODEL=/models/x.gguf with --models /models shows as x.gguf, the name the dashboard offers.
            model = ModelFiles.RelativeName(ModelsDirectory, runtime.ResolveEnvironmentModelPath(model)) ?? model;
        }

        var endpoint = config.Provider == AiProviders.OpenAi;
        return new AiProviderView(config.Provider, model, endpoint ? config.Endpoint : null, endpoint && !string.IsNullOrEmpty(config.ApiKey));
    }

    private string Serialize(AiConfiguration configuration) => JsonSerializer.Serialize(
        new StoredAiSettings(ToStored(configuration.Chat), ToStored(configuration.Embeddings)),
        CoreJsonContext.Default.StoredAiSettings);

    private StoredAiProvider ToStored(AiProviderConfig config) =>
        new(config.Provider, config.Model, config.Endpoint, string.IsNullOrEmpty(config.ApiKey) ? null : _protector.Protect(config.ApiKey));

    private AiProviderConfig FromStored(StoredAiProvider stored, string role, string origin) =>
        new(stored.Provider, stored.Model, stored.Endpoint, Unprotect(stored.ProtectedApiKey, role)) { Origin = origin };

    private string? Unprotect(string? protectedKey, string role)
    {
        if (protectedKey is null)
        {
            return null;
        }

        try
        {
            return _protector.Unprotect(protectedKey);
        }
        catch (CryptographicException)
        {
            // The key ring (data directory, keys/) was lost or replaced: the endpoint is used without a key until one is entered again.
            LogKeyUnreadable(logger, role);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "AI settings saved: chat {ChatProvider} ({ChatModel}), embeddings {EmbeddingProvider} ({EmbeddingModel})")]
    private static partial void LogSaved(ILogger logger, string chatProvider, string chatModel, string embeddingProvider, string embeddingModel);

    [LoggerMessage(Level = LogLevel.Error, Message = "The saved AI settings cannot be read; the environment's defaults apply until they are saved again")]
    private static partial void LogUnreadable(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The stored {Role} API key cannot be decrypted (was the key ring in the data directory replaced?); enter it again in Settings")]
    private static partial void LogKeyUnreadable(ILogger logger, string role);
}

/// <summary>The settings row's JSON: API keys only as Data Protection ciphertext.</summary>
internal sealed record StoredAiSettings(StoredAiProvider? Chat, StoredAiProvider? Embeddings);

internal sealed record StoredAiProvider(string Provider, string? Model, string? Endpoint, string? ProtectedApiKey);
