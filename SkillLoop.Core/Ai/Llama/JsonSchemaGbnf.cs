using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SkillLoop.Core.Ai.Llama;

/// <summary>
/// Turns a JSON schema into a llama.cpp GBNF grammar so the sampler can only produce matching JSON. Covers what
/// structured output needs: objects (every listed property, in order), strings with min/maxLength and enums,
/// numbers, integers, booleans, null, arrays, const, anyOf/oneOf and type unions. Anything else becomes "any JSON".
/// Strings are single-line valid Unicode (no surrogates, nothing past U+10FFFF, which byte-level vocabularies could
/// otherwise spell) and whitespace is limited to one space, so output length is bounded by the schema.
/// </summary>
public static class JsonSchemaGbnf
{
    private const string Primitives = """
        ws ::= [ ]?
        char ::= [^"\\\x7F\x00-\x1F\uD800-\uDFFF\U00110000-\U001FFFFF] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
        firstchar ::= [^"\\\x7F\x00-\x20\uD800-\uDFFF\U00110000-\U001FFFFF] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
        string ::= "\"" char* "\""
        integer ::= "-"? ("0" | [1-9] [0-9]{0,15})
        number ::= integer ("." [0-9]{1,8})? ([eE] [-+]? [0-9]{1,3})?
        unit ::= "0" ("." [0-9]{1,4})? | "1" (".0")?
        boolean ::= "true" | "false"
        null ::= "null"
        value ::= object | array | string | number | boolean | null
        object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
        array ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
        """;

    /// <summary>A grammar for any JSON object.</summary>
    public static string AnyObject { get; } = "root ::= object\n" + Primitives + "\n";

    public static string FromSchema(JsonElement schema)
    {
        var rules = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var root = Visit(schema, "root-value", rules, names);
        var grammar = new StringBuilder();
        grammar.Append("root ::= ").Append(root).Append('\n');
        foreach (var rule in rules)
        {
            grammar.Append(rule).Append('\n');
        }

        grammar.Append(Primitives).Append('\n');
        return grammar.ToString();
    }

    private static string Visit(JsonElement schema, string hint, List<string> rules, HashSet<string> names)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return "value";
        }

        if (schema.TryGetProperty("const", out var constant))
        {
            return Literal(constant.GetRawText());
        }

        if (schema.TryGetProperty("enum", out var values) && values.ValueKind == JsonValueKind.Array)
        {
            return "(" + string.Join(" | ", values.EnumerateArray().Select(v => Literal(Compact(v)))) + ")";
        }

        foreach (var keyword in (ReadOnlySpan<string>)["anyOf", "oneOf"])
        {
            if (schema.TryGetProperty(keyword, out var options) && options.ValueKind == JsonValueKind.Array)
            {
                return "(" + string.Join(" | ", options.EnumerateArray().Select((o, i) => Visit(o, $"{hint}-{i}", rules, names))) + ")";
            }
        }

        if (!schema.TryGetProperty("type", out var type))
        {
            return schema.TryGetProperty("properties", out _) ? VisitType(schema, "object", hint, rules, names) : "value";
        }

        if (type.ValueKind == JsonValueKind.Array)
        {
            return "(" + string.Join(" | ", type.EnumerateArray().Select(t => VisitType(schema, t.GetString() ?? "", hint, rules, names))) + ")";
        }

        return VisitType(schema, type.GetString() ?? "", hint, rules, names);
    }

    private static string VisitType(JsonElement schema, string type, string hint, List<string> rules, HashSet<string> names)
    {
        switch (type)
        {
            case "string":
                return StringRule(schema);
            case "integer":
                return "integer";
            case "number":
                return Number(schema, "minimum") >= 0 && Number(schema, "maximum") <= 1 ? "unit" : "number";
            case "boolean":
                return "boolean";
            case "null":
                return "null";
            case "array":
                if (!schema.TryGetProperty("items", out var items))
                {
                    return "array";
                }

                var item = Visit(items, hint + "-item", rules, names);
                var min = (int)(Number(schema, "minItems") ?? 0);
                var max = Number(schema, "maxItems") is { } m ? (int?)m : null;
                var more = max is { } mx ? $"( ws \",\" ws {item} ){{{Math.Max(0, min - 1)},{Math.Max(0, mx - 1)}}}" : $"( ws \",\" ws {item} )*";
                var list = $"{item} {more}";
                return AddRule(hint, min > 0 ? $"\"[\" ws {list} ws \"]\"" : $"\"[\" ws ( {list} )? ws \"]\"", rules, names);
            case "object":
                if (!schema.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object)
                {
                    return "object";
                }

                var parts = properties.EnumerateObject()
                    .Select(p => $"{Literal(JsonSerializer.Serialize(p.Name))} ws \":\" ws {Visit(p.Value, hint + "-" + p.Name, rules, names)}")
                    .ToList();
                return AddRule(hint, parts.Count == 0
                    ? "\"{\" ws \"}\""
                    : "\"{\" ws " + string.Join(" ws \",\" ws ", parts) + " ws \"}\"", rules, names);
            default:
                return "value";
        }
    }

    private static string StringRule(JsonElement schema)
    {
        var min = (int)(Number(schema, "minLength") ?? 0);
        var max = Number(schema, "maxLength") is { } m ? (int?)m : null;
        if (min == 0 && max is null)
        {
            return "string";
        }

        // A non-empty string starts with a non-space, so "minLength: 1" cannot be met with blanks.
        var body = min > 0
            ? $"firstchar char{{{min - 1},{(max is { } mx ? (mx - 1).ToString(CultureInfo.InvariantCulture) : "")}}}"
            : $"char{{0,{max}}}";
        return $"(\"\\\"\" {body} \"\\\"\")";
    }

    private static double? Number(JsonElement schema, string name) =>
        schema.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;

    private static string AddRule(string hint, string body, List<string> rules, HashSet<string> names)
    {
        var name = new string(hint.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());
        var unique = name;
        for (var i = 2; !names.Add(unique); i++)
        {
            unique = $"{name}{i}";
        }

        rules.Add($"{unique} ::= {body}");
        return unique;
    }

    private static string Compact(JsonElement value) => JsonSerializer.Serialize(value);

    /// <summary>A GBNF string literal matching exactly <paramref name="text"/>.</summary>
    private static string Literal(string text)
    {
        var builder = new StringBuilder("\"");
        foreach (var c in text)
        {
            builder.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => c.ToString(),
            });
        }

        return builder.Append('"').ToString();
    }
}
