using System.Text.Json.Serialization;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Core;

/// <summary>JSON kept inside the database (context turns and the like).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(IReadOnlyList<ContextTurn>))]
[JsonSerializable(typeof(Ai.StoredAiSettings))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(IReadOnlyList<Proposals.LineProvenance>))]
[JsonSerializable(typeof(Proposals.ProposalEvidence))]
[JsonSerializable(typeof(IReadOnlyList<Proposals.ProposalRound>))]
internal sealed partial class CoreJsonContext : JsonSerializerContext;
