using SkillLoop.Core.Ai.OpenAi;

namespace SkillLoop.Core.Ai;

/// <summary>
/// What the dashboard and the API may send as AI settings (<see cref="Validate"/>, by field), and how a form becomes
/// the configuration to run (<see cref="ToConfig"/>: an API key left empty is kept only for the same endpoint).
/// </summary>
internal static class AiSettingsRules
{
    private const int MaxModelNameLength = 256;
    private const int MaxApiKeyLength = 4096;

    /// <summary>
    /// Problems with <paramref name="input"/>, by field (<c>chat.endpoint</c>, <c>embeddings.model</c>, …); empty
    /// when it can be saved. <paramref name="bothRoles"/>: saving needs both roles, a test either.
    /// </summary>
    public static IReadOnlyDictionary<string, string[]> Validate(AiSettingsInput? input, string modelsDirectory, bool bothRoles = true)
    {
        var errors = new Dictionary<string, string[]>();
        if (input?.Chat is null && input?.Embeddings is null)
        {
            errors["chat"] = ["A chat provider, an embeddings provider, or both."];
            return errors;
        }

        if (input.Chat is { } chat)
        {
            Validate("chat", chat, AiProviders.Chat, modelsDirectory, errors);
        }
        else if (bothRoles)
        {
            errors["chat"] = ["The chat provider is required."];
        }

        if (input.Embeddings is { } embeddings)
        {
            Validate("embeddings", embeddings, AiProviders.Embeddings, modelsDirectory, errors);
        }
        else if (bothRoles)
        {
            errors["embeddings"] = ["The embeddings provider is required."];
        }

        return errors;
    }

    public static void ThrowIfInvalid(AiSettingsInput input, string modelsDirectory, bool bothRoles)
    {
        var errors = Validate(input, modelsDirectory, bothRoles);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")), nameof(input));
        }
    }

    private static void Validate(string role, AiProviderInput input, IReadOnlyList<string> allowed, string modelsDirectory, Dictionary<string, string[]> errors)
    {
        if (input.Provider is null || !allowed.Contains(input.Provider))
        {
            errors[$"{role}.provider"] = [$"One of {string.Join(", ", allowed)}."];
            return;
        }

        if (input.Provider == AiProviders.Llama && !ModelFiles.TryResolve(modelsDirectory, input.Model, out _, out var modelError))
        {
            errors[$"{role}.model"] = [modelError];
        }

        if (input.Provider != AiProviders.OpenAi)
        {
            return;
        }

        if (EndpointError(input.Endpoint) is { } endpointError)
        {
            errors[$"{role}.endpoint"] = [endpointError];
        }

        if (string.IsNullOrWhiteSpace(input.Model))
        {
            errors[$"{role}.model"] = ["The endpoint's model name is needed (e.g. qwen2.5:3b, text-embedding-3-small)."];
        }
        else if (input.Model.Length > MaxModelNameLength || input.Model.Any(char.IsControl))
        {
            errors[$"{role}.model"] = [$"A model name of at most {MaxModelNameLength} printable characters."];
        }

        if (input.ApiKey is { Length: > 0 } key && (key.Length > MaxApiKeyLength || key.Any(char.IsControl)))
        {
            errors[$"{role}.apiKey"] = [$"An API key of at most {MaxApiKeyLength} printable characters."];
        }
    }

    private static string? EndpointError(string? endpoint)
    {
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return "The endpoint's URL is needed, e.g. http://localhost:11434/v1.";
        }

        if (!Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host is "")
        {
            return "An absolute http:// or https:// URL is expected, e.g. http://localhost:11434/v1.";
        }

        if (uri.UserInfo is not "")
        {
            return "Put credentials in the API key field, not in the URL.";
        }

        return uri.Query is not "" || uri.Fragment is not "" ? "The URL takes no query or fragment." : null;
    }

    /// <summary>
    /// The configuration to run for one role. A key left empty (null) is kept from a known configuration of the same
    /// endpoint (this role's or the other's, saved or just typed): a changed endpoint never receives the old key.
    /// </summary>
    public static AiProviderConfig ToConfig(AiProviderInput input, AiProviderConfig saved, AiProviderInput? other, AiProviderConfig otherSaved, string origin)
    {
        switch (input.Provider)
        {
            case AiProviders.OpenAi:
                var endpoint = input.Endpoint!.Trim();
                string? key;
                if (input.ApiKey is { } typed)
                {
                    key = string.IsNullOrWhiteSpace(typed) ? null : typed.Trim();
                }
                else
                {
                    (string? Endpoint, string? Key)[] known =
                    [
                        (saved.Endpoint, saved.ApiKey),
                        (other?.Endpoint, string.IsNullOrWhiteSpace(other?.ApiKey) ? null : other.ApiKey.Trim()),
                        (otherSaved.Endpoint, otherSaved.ApiKey),
                    ];
                    key = known.FirstOrDefault(k => k.Key is not null && SameEndpoint(k.Endpoint, endpoint)).Key;
                }

                return new AiProviderConfig(AiProviders.OpenAi, input.Model!.Trim(), endpoint, key) { Origin = origin };
            case AiProviders.Llama:
                return new AiProviderConfig(AiProviders.Llama, input.Model!.Trim().Replace('\\', '/')) { Origin = origin };
            default:
                return new AiProviderConfig(input.Provider!) { Origin = origin };
        }
    }

    private static bool SameEndpoint(string? a, string? b)
    {
        if (a is null || b is null || EndpointError(a) is not null || EndpointError(b) is not null)
        {
            return false;
        }

        return OpenAiEndpoint.NormalizeEndpoint(a) == OpenAiEndpoint.NormalizeEndpoint(b);
    }
}
