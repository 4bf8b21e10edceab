using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Proposals;
using SkillLoop.Core.Registry;

namespace SkillLoop.Web.Endpoints;

/// <summary>
/// Forge webhooks: a delivery verified with the registry's webhook secret makes its open pull requests due for a poll
/// now and queues a scan (a push to the branch may have merged a proposal). The payload itself is never trusted: the
/// forge's API and the git branch are read as usual, so a replayed or forged delivery can only cause an early check.
/// </summary>
public static class WebhookEndpoints
{
    private const int MaxBody = 1024 * 1024;

    public static IEndpointRouteBuilder MapWebhookEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/registries/{id:long}/webhook", Receive).AllowAnonymous().WithTags("Registries");
        return app;
    }

    public static async Task<Results<Accepted, ProblemHttpResult>> Receive(
        long id, HttpRequest request, RegistryStore registries, RegistryScans scans, ForgeSync forgeSync, CancellationToken cancellationToken)
    {
        var registry = await registries.GetAsync(id, cancellationToken);
        var secret = registry is null ? null : await registries.WebhookSecretAsync(id, cancellationToken);
        if (registry is null || secret is null)
        {
            // The same answer either way: a caller learns nothing about which registries exist.
            return TypedResults.Problem("No webhook is configured here.", statusCode: StatusCodes.Status404NotFound, title: "Not found");
        }

        using var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            if (body.Length + read > MaxBody)
            {
                return TypedResults.Problem("The delivery is larger than 1 MB.", statusCode: StatusCodes.Status413PayloadTooLarge, title: "Too large");
            }

            body.Write(buffer, 0, read);
        }

        if (!WebhookVerifier.Verify(registry.Provider, secret, name => request.Headers[name].FirstOrDefault(), body.GetBuffer().AsSpan(0, (int)body.Length)))
        {
            return TypedResults.Problem("The delivery's signature or token does not match this registry's webhook secret.", statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized");
        }

        await forgeSync.WakeAsync(id, cancellationToken);
        await scans.RequestAsync(id, cancellationToken);
        return TypedResults.Accepted((string?)null);
    }
}
