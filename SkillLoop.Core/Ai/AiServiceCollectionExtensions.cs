using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Core.Extraction;

namespace SkillLoop.Core.Ai;

public static class AiServiceCollectionExtensions
{
    /// <summary>
    /// The AI layer: <see cref="AiRuntime"/> (providers from the saved <see cref="AiSettings"/>, else the environment;
    /// <see cref="AiRuntime.Status"/> for /api/v1/status), the embedding generator in use as
    /// <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> (it follows changes of settings), <see cref="IssueStore"/>,
    /// and the background <see cref="ExtractionJobRunner"/>. Register after the database start-up service, so the
    /// saved settings are read and extraction starts on a migrated database. Needs Data Protection (API keys).
    /// </summary>
    public static IServiceCollection AddSkillLoopAi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AiOptions>()
            .Configure(options => AiOptions.Bind(options, configuration))
            .Validate(o => o.ChatContextLength is >= 256 and <= 1_048_576, "SKILLLOOP_CHAT_CONTEXT must be between 256 and 1048576 tokens.")
            .Validate(o => o.LlmTimeoutSeconds is >= 1 and <= 3600, "SKILLLOOP_LLM_TIMEOUT_SECONDS must be between 1 and 3600.")
            .Validate(o => o.LlmRetries is >= 0 and <= 10, "SKILLLOOP_LLM_RETRIES must be between 0 and 10.")
            .Validate(o => o.LlamaThreads is null or (>= 1 and <= 512), "SKILLLOOP_LLAMA_THREADS must be between 1 and 512.")
            .ValidateOnStart();
        services.AddOptions<ExtractionOptions>();

        services.AddSingleton<AiRuntime>();
        services.AddSingleton<AiSettings>();
        services.AddHostedService<AiSettingsStartup>();
        services.AddSingleton<IIssueExtractorSource>(sp => sp.GetRequiredService<AiRuntime>());
        services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(sp => sp.GetRequiredService<AiRuntime>().Embeddings);
        services.AddSingleton<IssueStore>();
        services.AddSingleton<ExtractionJobRunner>();
        services.AddHostedService(sp => sp.GetRequiredService<ExtractionJobRunner>());
        return services;
    }
}
