using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary>Webhooks, the after-merge settings, rebase, outcome and skill versions through the running server's API.</summary>
[Collection(ServerCollection.Name)]
public sealed class FixFollowUpApiTests(SkillLoopServer server)
{
    [Fact]
    public async Task A_webhook_delivery_needs_the_registrys_secret_and_then_queues_a_scan()
    {
        var skill = $"hook-skill-{Guid.NewGuid():N}";
        using var remote = new BareGitRemote(new Dictionary<string, string> { [$"skills/{skill}/SKILL.md"] = $"---\nname: {skill}\n---\nDo it.\n" });
        using var admin = server.CreateAdminClient();
        using var anonymous = server.CreateClientWith(null);
        const string secret = "hook-secret-0123456789abcdef";
        var created = await (await admin.PostAsJsonAsync("/api/v1/registries",
            new { name = $"reg-{skill}", provider = "github", url = "http://127.0.0.1:9/acme/skills.git", apiUrl = "http://127.0.0.1:9/", branch = "main", webhookSecret = secret, maxOpen = 2 }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var registry = created.GetProperty("registry");
        var id = registry.GetProperty("id").GetInt64();
        Assert.True(registry.GetProperty("hasWebhookSecret").GetBoolean());
        Assert.Equal(2, registry.GetProperty("maxOpen").GetInt32());
        Assert.DoesNotContain(secret, await admin.GetStringAsync($"/api/v1/registries/{id}"), StringComparison.Ordinal);

        var body = "{\"action\":\"closed\",\"number\":1}"u8.ToArray();
        var forged = await anonymous.SendAsync(Delivery(id, body, "sha256=" + new string('0', 64)));
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        Assert.Equal("application/problem+json", forged.Content.Headers.ContentType?.MediaType);

        var signed = await anonymous.SendAsync(Delivery(id, body, "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body))));
        Assert.Equal(HttpStatusCode.Accepted, signed.StatusCode);

        // A registry without a secret takes no deliveries (and answers as if there were no registry).
        var plain = await (await admin.PostAsJsonAsync("/api/v1/registries", new { name = $"plain-{skill}", provider = "git", url = remote.Path, branch = "main" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var none = await anonymous.SendAsync(Delivery(plain.GetProperty("registry").GetProperty("id").GetInt64(), body, "sha256=00"));
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.SendAsync(Delivery(999_999, body, "sha256=00"))).StatusCode);

        var tooShort = await admin.PostAsJsonAsync("/api/v1/registries", new { name = $"short-{skill}", provider = "git", url = remote.Path, branch = "main", webhookSecret = "short", maxOpen = 0 });
        Assert.Equal(HttpStatusCode.BadRequest, tooShort.StatusCode);
    }

    [Fact]
    public async Task The_after_merge_settings_are_read_validated_and_kept_and_unknown_ids_get_problem_details()
    {
        using var admin = server.CreateAdminClient();
        var current = await admin.GetFromJsonAsync<JsonElement>("/api/v1/settings/clustering");
        Assert.Equal(2, current.GetProperty("newUsersAfterMerge").GetInt32());
        Assert.Equal(14, current.GetProperty("reopenWindowDays").GetInt32());

        var invalid = await admin.PutAsJsonAsync("/api/v1/settings/clustering", new { similarity = 0.5, distinctUsers = 3, newUsersAfterMerge = 0, reopenWindowDays = 400 });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var errors = (await invalid.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("newUsersAfterMerge", out _));
        Assert.True(errors.TryGetProperty("reopenWindowDays", out _));
        Assert.Equal(2, (await admin.GetFromJsonAsync<JsonElement>("/api/v1/settings/clustering")).GetProperty("newUsersAfterMerge").GetInt32());

        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync("/api/v1/proposals/999999/rebase", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/proposals/999999/outcome")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/skills/999999/versions")).StatusCode);
    }

    private static HttpRequestMessage Delivery(long registryId, byte[] body, string signature)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/registries/{registryId}/webhook") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-GitHub-Event", "pull_request");
        request.Headers.Add("X-Hub-Signature-256", signature);
        return request;
    }
}
