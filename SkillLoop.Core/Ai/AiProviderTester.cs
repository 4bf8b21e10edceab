using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using SkillLoop.Core.Ai.Llama;

namespace SkillLoop.Core.Ai;

/// <summary>
/// Tries one role's unsaved provider: one tiny chat request or one embedded sentence. Whatever the provider does, the
/// answer is a result (<c>ok</c>, latency, error), never an exception, and never quotes the API key.
/// </summary>
internal sealed partial class AiProviderTester(AiRuntime runtime, TimeProvider time, ILogger logger, string modelsDirectory)
{
    private const int MaxReplyLength = 200;

    public async Task<AiTestResult> TestChatAsync(AiProviderConfig config, CancellationToken cancellationToken)
    {
        if (config.Provider == AiProviders.Heuristic)
        {
            return new AiTestResult(true, AiProviders.Heuristic, null, 0, Reply: "The heuristic extractor needs no model.");
        }

        using var lease = runtime.Lease();
        // The GGUF in use already: ask it rather than load it a second time.
        var loaded = lease.Chat?.GetService<LlamaModel>()?.Path;
        var reuse = config.Provider == AiProviders.Llama && loaded is not null
            && ModelFiles.TryResolve(modelsDirectory, config.Model, out var path, out _) && path == loaded;
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
                [new ChatMessage(ChatRole.User, AiSettings.TestPrompt)],
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

    public async Task<AiTestResult> TestEmbeddingsAsync(AiProviderConfig config, CancellationToken cancellationToken)
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
            var embeddings = await generator.GenerateAsync([AiSettings.TestSentence], cancellationToken: cancellationToken);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "AI provider test ({Role}, {Provider}) failed: {Error}")]
    private static partial void LogTestFailed(ILogger logger, string role, string provider, string error);
}
