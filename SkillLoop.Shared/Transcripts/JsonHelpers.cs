using System.Globalization;
using System.Text.Json;

namespace SkillLoop.Hooks.Transcripts;

/// <summary>Tolerant accessors: a field of an unexpected kind reads as absent, never as an exception.</summary>
internal static class JsonHelpers
{
    public static string? Str(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    public static JsonElement? Obj(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            && value.ValueKind == JsonValueKind.Object
            ? value
            : null;

    public static IEnumerable<JsonElement> Arr(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray()
            : [];

    public static DateTimeOffset? Time(this JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out var value))
            return null;
        if (value.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
            return t;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var ms) && ms > 0 && ms < 253402300799999)
            return DateTimeOffset.FromUnixTimeMilliseconds(ms);
        return null;
    }

    /// <summary>Text of a message content that is a string or an array of {type:"text"|"input_text"|"output_text", text} blocks.</summary>
    public static string ContentText(JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String)
            return content.GetString() ?? "";
        if (content.ValueKind != JsonValueKind.Array)
            return "";
        var parts = new List<string>();
        foreach (var block in content.EnumerateArray())
        {
            if (block.ValueKind == JsonValueKind.String)
                parts.Add(block.GetString() ?? "");
            else if (block.Str("type") is "text" or "input_text" or "output_text" && block.Str("text") is { } t)
                parts.Add(t);
        }
        return string.Join("\n", parts);
    }
}
