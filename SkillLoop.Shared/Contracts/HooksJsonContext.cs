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
[JsonSerializable(typeof(ExtractedIssue))]
[JsonSerializable(typeof(ClientIssue))]
[JsonSerializable(typeof(ClientIssueResult))]
[JsonSerializable(typeof(LocalExtractionDeclined))]
[JsonSerializable(typeof(LocalExtractionDeclinedResult))]
[JsonSerializable(typeof(ClientManifest))]
public sealed partial class HooksJsonContext : JsonSerializerContext;
