using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Ai.OpenAi;
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

    private const int MaxModelNameLength = 256;
    private const int MaxApiKeyLength = 4096;
    private const int MaxReplyLength = 200;

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
    public IReadOnlyDictionary<string, string[]> Validate(AiSettingsInput? input, bool bothRoles = true)
    {
        var errors = new Dictionary<string, string[]>();
        if (input?.Chat is null && input?.Embeddings is null)
        {
            errors["chat"] = ["A chat provider, an embeddings provider, or both."];
            return errors;
        }

        if (input.Chat is { } chat)
        {
            Validate("chat", chat, AiProviders.Chat, errors);
        }
        else if (bothRoles)
        {
            errors["chat"] = ["The chat provider is required."];
        }

        if (input.Embeddings is { } embeddings)
        {
            Validate("embeddings", embeddings, AiProviders.Embeddings, errors);
        }
        else if (bothRoles)
        {
            errors["embeddings"] = ["The embeddings provider is required."];
        }

        return errors;
    }

    /// <summary>Stores the settings and switches to them at once; throws <see cref="ArgumentException"/> on what <see cref="Validate"/> refuses.</summary>
    public async Task<AiSettingsView> SaveAsync(AiSettingsInput input, CancellationToken cancellationToken)
    {
        ThrowIfInvalid(input, bothRoles: true);
        await _saving.WaitAsync(cancellationToken);
        try
        {
            var current = await LoadAsync(cancellationToken) ?? runtime.Defaults;
            var next = new AiConfiguration(
                ToConfig(input.Chat!, current.Chat, input.Embeddings, current.Embeddings, "Chat model"),
                ToConfig(input.Embeddings!, current.Embeddings, input.Chat, current.Chat, "Embedding model"));
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
        ThrowIfInvalid(input, bothRoles: false);
        var current = await LoadAsync(cancellationToken) ?? runtime.Defaults;
        var chat = input.Chat is null ? null
            : await TestChatAsync(ToConfig(input.Chat, current.Chat, input.Embeddings, current.Embeddings, "Chat model"), cancellationToken);
        var embeddings = input.Embeddings is null ? null
            : await TestEmbeddingsAsync(ToConfig(input.Embeddings, current.Embeddings, input.Chat, current.Chat, "Embedding model"), cancellationToken);
        return new AiTestReport(chat, embeddings);
    }

    private void ThrowIfInvalid(AiSettingsInput input, bool bothRoles)
    {
        var errors = Validate(input, bothRoles);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")), nameof(input));
        }
    }

    private void Validate(string role, AiProviderInput input, IReadOnlyList<string> allowed, Dictionary<string, string[]> errors)
    {
        if (input.Provider is null || !allowed.Contains(input.Provider))
        {
            errors[$"{role}.provider"] = [$"One of {string.Join(", ", allowed)}."];
            return;
        }

        if (input.Provider == AiProviders.Llama && !ModelFiles.TryResolve(ModelsDirectory, input.Model, out _, out var modelError))
        {
            errors[$"{role}.model"] = [modelError];
        }

        if (input.Provider != AiProviders.OpenAi)
        {
            return;
        }

        if (EndpointError(input.Endpoint) is { } endpointError)
        {
            errors[$"{role}.endpoint"] = [endpointError];
        }

        if (string.IsNullOrWhiteSpace(input.Model))
        {
            errors[$"{role}.model"] = ["The endpoint's model name is needed (e.g. qwen2.5:3b, text-embedding-3-small)."];
        }
        else if (input.Model.Length > MaxModelNameLength || input.Model.Any(char.IsControl))
        {
            errors[$"{role}.model"] = [$"A model name of at most {MaxModelNameLength} printable characters."];
        }

        if (input.ApiKey is { Length: > 0 } key && (key.Length > MaxApiKeyLength || key.Any(char.IsControl)))
        {
            errors[$"{role}.apiKey"] = [$"An API key of at most {MaxApiKeyLength} printable characters."];
        }
    }

    private static string? EndpointError(string? endpoint)
    {
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return "The endpoint's URL is needed, e.g. http://localhost:11434/v1.";
        }

        if (!Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host is "")
        {
            return "An absolute http:// or https:// URL is expected, e.g. http://localhost:11434/v1.";
        }

        if (uri.UserInfo is not "")
        {
            return "Put credentials in the API key field, not in the URL.";
        }

        return uri.Query is not "" || uri.Fragment is not "" ? "The URL takes no query or fragment." : null;
    }

    /// <summary>
    /// The configuration to run for one role. A key left empty (null) is kept from a known configuration of the same
    /// endpoint (this role's or the other's, saved or just typed): a changed endpoint never receives the old key.
    /// </summary>
    private static AiProviderConfig ToConfig(AiProviderInput input, AiProviderConfig saved, AiProviderInput? other, AiProviderConfig otherSaved, string origin)
    {
        switch (input.Provider)
        {
            case AiProviders.OpenAi:
                var endpoint = input.Endpoint!.Trim();
                string? key;
                if (input.ApiKey is { } typed)
                {
                    key = string.IsNullOrWhiteSpace(typed) ? null : typed.Trim();
                }
                else
                {
                    (string? Endpoint, string? Key)[] known =
                    [
                        (saved.Endpoint, saved.ApiKey),
                        (other?.Endpoint, string.IsNullOrWhiteSpace(other?.ApiKey) ? null : other.ApiKey.Trim()),
                        (otherSaved.Endpoint, otherSaved.ApiKey),
                    ];
                    key = known.FirstOrDefault(k => k.Key is not null && SameEndpoint(k.Endpoint, endpoint)).Key;
                }

                return new AiProviderConfig(AiProviders.OpenAi, input.Model!.Trim(), endpoint, key) { Origin = origin };
            case AiProviders.Llama:
                return new AiProviderConfig(AiProviders.Llama, input.Model!.Trim().Replace('\\', '/')) { Origin = origin };
            default:
                return new AiProviderConfig(input.Provider!) { Origin = origin };
        }
    }

    private static bool SameEndpoint(string? a, string? b)
    {
        if (a is null || b is null || EndpointError(a) is not null || EndpointError(b) is not null)
        {
            return false;
        }

        return OpenAiEndpoint.NormalizeEndpoint(a) == OpenAiEndpoint.NormalizeEndpoint(b);
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

    private async Task<AiTestResult> TestChatAsync(AiProviderConfig config, CancellationToken cancellationToken)
    {
        if (config.Provider == AiProviders.Heuristic)
        {
            return new AiTestResult(true, AiProviders.Heuristic, null, 0, Reply: "The heuristic extractor needs no model.");
        }

        using var lease = runtime.Lease();
        // The GGUF in use already: ask it rather than load it a second time.
        var loaded = lease.Chat?.GetService<LlamaModel>()?.Path;
        var reuse = config.Provider == AiProviders.Llama && loaded is not null
            && ModelFiles.TryResolve(ModelsDirectory, config.Model, out var path, out _) && path == loaded;
        using var probe = reuse ? null : await Task.Run(() => runtime.StartChatProbe(config, AiConfiguration.StoredSource), cancellationToken);
        var chat = reuse ? lease.Chat : probe!.Chat;
        var model = reuse ? lease.Status.Chat.Model : probe!.Info.Model ?? config.Model;
        if (chat is null)
        {
            return new AiTestResult(false, config.Provider, config.Model, 0, Error: probe?.Info.Error ?? "The provider could not start.");
        }

        var started = time.GetTimestamp();
        try
        {
            var response = await chat.GetResponseAsync(
                [new ChatMessage(ChatRole.User, TestPrompt)],
                new ChatOptions { MaxOutputTokens = 16, Temperature = 0 },
                cancellationToken);
            var reply = response.Text.Trim();
            return new AiTestResult(true, config.Provider, model, Elapsed(started), Reply: reply.Length > MaxReplyLength ? reply[..MaxReplyLength] + "…" : reply);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var error = Scrub(ex.Message, config);
            LogTestFailed(logger, "chat", config.Provider, error);
            return new AiTestResult(false, config.Provider, model, Elapsed(started), Error: error);
        }
    }

    private async Task<AiTestResult> TestEmbeddingsAsync(AiProviderConfig config, CancellationToken cancellationToken)
    {
        using var lease = runtime.Lease();
        // The bundled MiniLM in use already: a second copy would cost ~400 MB for a moment.
        var reuse = config.Provider == AiProviders.MiniLm && lease.Status.Embeddings.Provider == AiProviders.MiniLm;
        using var probe = reuse ? null : await Task.Run(() => runtime.StartEmbeddingsProbe(config, AiConfiguration.StoredSource), cancellationToken);
        var generator = reuse ? lease.Embeddings : probe!.Embeddings;
        var model = reuse ? lease.Status.Embeddings.Model : probe!.Info.Model ?? config.Model;
        if (generator is null)
        {
            return new AiTestResult(false, config.Provider, config.Model, 0, Error: probe?.Info.Error ?? "The provider could not start.");
        }

        var started = time.GetTimestamp();
        try
        {
            var embeddings = await generator.GenerateAsync([TestSentence], cancellationToken: cancellationToken);
            var dimensions = embeddings.Count > 0 ? embeddings[0].Vector.Length : 0;
            return dimensions > 0
                ? new AiTestResult(true, config.Provider, model, Elapsed(started), Dimensions: dimensions)
                : new AiTestResult(false, config.Provider, model, Elapsed(started), Error: "The provider answered without a vector.");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var error = Scrub(ex.Message, config);
            LogTestFailed(logger, "embeddings", config.Provider, error);
            return new AiTestResult(false, config.Provider, model, Elapsed(started), Error: error);
        }
    }

    private long Elapsed(long started) => (long)time.GetElapsedTime(started).TotalMilliseconds;

    /// <summary>An endpoint may quote the key it refused in its error body: never pass it on, nor log it.</summary>
    private static string Scrub(string message, AiProviderConfig config) =>
        SecretRedactor.Redact(string.IsNullOrEmpty(config.ApiKey) ? message : message.Replace(config.ApiKey, "***", StringComparison.Ordinal));

    [LoggerMessage(Level = LogLevel.Information, Message = "AI settings saved: chat {ChatProvider} ({ChatModel}), embeddings {EmbeddingProvider} ({EmbeddingModel})")]
    private static partial void LogSaved(ILogger logger, string chatProvider, string chatModel, string embeddingProvider, string embeddingModel);

    [LoggerMessage(Level = LogLevel.Information, Message = "AI provider test ({Role}, {Provider}) failed: {Error}")]
    private static partial void LogTestFailed(ILogger logger, string role, string provider, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "The saved AI settings cannot be read; the environment's defaults apply until they are saved again")]
    private static partial void LogUnreadable(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The stored {Role} API key cannot be decrypted (was the key ring in the data directory replaced?); enter it again in Settings")]
    private static partial void LogKeyUnreadable(ILogger logger, string role);
}

/// <summary>The settings row's JSON: API keys only as Data Protection ciphertext.</summary>
internal sealed record StoredAiSettings(StoredAiProvider? Chat, StoredAiProvider? Embeddings);

internal sealed record StoredAiProvider(string Provider, string? Model, string? Endpoint, string? ProtectedApiKey);

/// <summary>Puts the saved providers in place at start-up, before extraction and clustering start (nothing is loaded yet).</summary>
public sealed class AiSettingsStartup(AiSettings settings, AiRuntime runtime) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (await settings.LoadAsync(cancellationToken) is { } saved)
        {
            runtime.UseConfiguration(saved);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
