namespace SkillLoop.Core.Ai;

/// <summary>One provider as /api/v1/status shows it.</summary>
/// <param name="Provider"><c>llama.cpp</c>, <c>openai</c>, <c>heuristic</c> (chat) or <c>minilm</c> (embeddings).</param>
/// <param name="Model">The model's name (GGUF file name, endpoint model, all-MiniLM-L6-v2); null for heuristic.</param>
/// <param name="Error">Why a configured provider is not in use (e.g. the GGUF could not be loaded).</param>
public sealed record AiProviderInfo(string Provider, string? Model, int? Dimensions = null, string? Error = null);

/// <summary>The AI providers in use: <c>chat.*</c> and <c>embeddings.*</c> of /api/v1/status.</summary>
public sealed record AiStatusInfo(AiProviderInfo Chat, AiProviderInfo Embeddings);
