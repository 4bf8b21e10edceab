using System.Text.Json.Serialization;

namespace SkillLoop.Hooks.Contracts;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(ClientConfig))]
[JsonSerializable(typeof(SessionCursor))]
[JsonSerializable(typeof(SignalBatch))]
[JsonSerializable(typeof(SignalBatchResult))]
public sealed partial class HooksJsonContext : JsonSerializerContext;
