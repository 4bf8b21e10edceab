using Microsoft.Extensions.Configuration;

namespace SkillLoop.Core.Ai;

/// <summary>AI settings beyond <see cref="SkillLoopOptions"/>, read from the environment.</summary>
public sealed class AiOptions
{
    /// <summary>
    /// <c>SKILLLOOP_EMBEDDING_MODEL</c>: a GGUF path (local llama.cpp embeddings) or, with an endpoint, a model name
    /// there. Unset: the embedded MiniLM.
    /// </summary>
    public string? EmbeddingModel { get; set; }

    /// <summary><c>SKILLLOOP_CHAT_CONTEXT</c>: context length of the local chat model in tokens.</summary>
    public int ChatContextLength { get; set; } = 4096;

    /// <summary><c>SKILLLOOP_LLAMA_THREADS</c>: threads per generated token (default: all cores but one).</summary>
    public int? LlamaThreads { get; set; }

    /// <summary><c>SKILLLOOP_LLM_TIMEOUT_SECONDS</c>: per request to the endpoint.</summary>
    public int LlmTimeoutSeconds { get; set; } = 120;

    /// <summary><c>SKILLLOOP_LLM_RETRIES</c>.</summary>
    public int LlmRetries { get; set; } = 2;

    public static void Bind(AiOptions options, IConfiguration config)
    {
        options.EmbeddingModel = NullIfEmpty(config["SKILLLOOP_EMBEDDING_MODEL"]);
        options.ChatContextLength = int.TryParse(config["SKILLLOOP_CHAT_CONTEXT"], out var context) ? context : options.ChatContextLength;
        options.LlamaThreads = int.TryParse(config["SKILLLOOP_LLAMA_THREADS"], out var threads) ? threads : options.LlamaThreads;
        options.LlmTimeoutSeconds = int.TryParse(config["SKILLLOOP_LLM_TIMEOUT_SECONDS"], out var timeout) ? timeout : options.LlmTimeoutSeconds;
        options.LlmRetries = int.TryParse(config["SKILLLOOP_LLM_RETRIES"], out var retries) ? retries : options.LlmRetries;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
