using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using SkillLoop.Hooks.Hook;

namespace SkillLoop.Hooks.Cli;

/// <summary>One element of <c>detect --json</c>.</summary>
public sealed record DetectOutput(string Platform, string? SessionId, string TurnId, string Text, string Pattern, string? Skill);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(List<DetectOutput>))]
[JsonSerializable(typeof(ClientConfigFile))]
[JsonSerializable(typeof(SkillLoop.Hooks.Extraction.LocalExtractionResult))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(List<SkillLoop.Hooks.Install.InstalledHook>))]
internal sealed partial class ClientJsonContext : JsonSerializerContext
{
    /// <summary>Readable non-ASCII (Chinese corrections stay legible in output and config files).</summary>
    public static ClientJsonContext Readable { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    public static ClientJsonContext Indented { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = true,
    });
}
