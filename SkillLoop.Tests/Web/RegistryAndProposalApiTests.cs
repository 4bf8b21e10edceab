using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary>Registries, skills and proposals through the admin API of the running server, against a bare git remote on disk.</summary>
[Collection(ServerCollection.Name)]
public sealed class RegistryAndProposalApiTests(SkillLoopServer server)
{
    [Fact]
    public async Task A_registry_is_added_scanned_with_progress_and_its_skills_listed_without_ever_showing_the_token()
    {
        var skill = $"api-skill-{Guid.NewGuid():N}";
        using var remote = new BareGitRemote(new Dictionary<string, string> { [$"skills/{skill}/SKILL.md"] = $"---\nname: {skill}\ndescription: Test skill.\n---\nDo it.\n" });
        using var admin = server.CreateAdminClient();
        const string token = "glpat-verySecretToken0123456789";

        var created = await admin.PostAsJsonAsync("/api/v1/registries", new { name = $"reg-{skill}", provider = "git", url = remote.Path, branch = "main", token });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var text = await created.Content.ReadAsStringAsync();
        Assert.DoesNotContain(token, text, StringComparison.Ordinal);
        var id = JsonDocument.Parse(text).RootElement.GetProperty("registry").GetProperty("id").GetInt64();
        Assert.True(JsonDocument.Parse(text).RootElement.GetProperty("registry").GetProperty("hasToken").GetBoolean());
        var scan = await Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement>($"/api/v1/registries/{id}/scan"), s => s.GetProperty("phase").GetString() is "done" or "failed");
        Assert.Equal("done", scan.GetProperty("phase").GetString());
        Assert.Equal(1, scan.GetProperty("skillsFound").GetInt32());

        var rescan = await admin.PostAsync($"/api/v1/registries/{id}/scan", null);
        Assert.Equal(HttpStatusCode.Accepted, rescan.StatusCode);
        var skills = await admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/skills?registryId={id}");
        var found = Assert.Single(skills!);
        Assert.Equal((skill, "skill", $"skills/{skill}/SKILL.md"), (found.GetProperty("name").GetString(), found.GetProperty("kind").GetString(), found.GetProperty("path").GetString()));
        Assert.DoesNotContain(token, await admin.GetStringAsync("/api/v1/registries"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_registry_changed_with_put_keeps_its_token_unless_told_and_is_rescanned_when_its_filters_change()
    {
        var skill = $"put-skill-{Guid.NewGuid():N}";
        using var remote = new BareGitRemote(new Dictionary<string, string> { [$"skills/{skill}/SKILL.md"] = $"---\nname: {skill}\n---\nDo it.\n" });
        using var admin = server.CreateAdminClient();
        var created = await (await admin.PostAsJsonAsync("/api/v1/registries", new { name = $"reg-{skill}", provider = "git", url = remote.Path, branch = "main", token = "glpat-putToken0123456789" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("registry").GetProperty("id").GetInt64();
        await Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement>($"/api/v1/registries/{id}/scan"), s => s.GetProperty("phase").GetString() == "done");

        var changed = await admin.PutAsJsonAsync($"/api/v1/registries/{id}", new { name = $"reg-{skill}", provider = "git", url = remote.Path, branch = "main", pathFilters = new[] { "docs/**" } });

        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var view = await changed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(view.GetProperty("registry").GetProperty("hasToken").GetBoolean());
        Assert.Contains(view.GetProperty("scan").GetProperty("phase").GetString(), new[] { "queued", "fetching", "scanning" });
        await Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement>($"/api/v1/registries/{id}/scan"), s => s.GetProperty("phase").GetString() == "done");
        Assert.Empty((await admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/skills?registryId={id}"))!); // the filter leaves it out now

        var removed = await admin.PutAsJsonAsync($"/api/v1/registries/{id}", new { name = $"reg-{skill}", provider = "git", url = remote.Path, branch = "main", pathFilters = new[] { "docs/**" }, token = "" });
        Assert.False((await removed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("registry").GetProperty("hasToken").GetBoolean());
    }

    [Theory]
    [InlineData("""{"name":"x","provider":"svn","url":"/tmp/x.git","branch":"main"}""", "provider")]
    [InlineData("""{"name":"x","provider":"git","url":"relative/path","branch":"main"}""", "url")]
    [InlineData("""{"name":"x","provider":"git","url":"/tmp/x.git","branch":"a..b"}""", "branch")]
    [InlineData("""{"name":"x","provider":"gitea","url":"/tmp/x.git","branch":"main"}""", "repository")]
    [InlineData("""{"name":"x","provider":"git","url":"/tmp/x.git","apiUrl":"ftp://x"}""", "apiUrl")]
    public async Task Invalid_registries_get_a_validation_problem_naming_the_field(string body, string field)
    {
        using var admin = server.CreateAdminClient();

        var response = await admin.PostAsync("/api/v1/registries", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task Unknown_proposals_and_registries_are_404_problems_and_clients_without_a_key_are_refused()
    {
        using var admin = server.CreateAdminClient();
        using var anonymous = server.CreateClientWith(null);
        using var ingest = server.CreateIngestClient();

        foreach (var response in new[]
        {
            await admin.GetAsync("/api/v1/proposals/987654"),
            await admin.PostAsJsonAsync("/api/v1/proposals/987654/approve", new { comment = "x" }),
            await admin.PostAsJsonAsync("/api/v1/proposals/987654/reject", new { comment = "x" }),
            await admin.PutAsJsonAsync("/api/v1/proposals/987654", new { proposedText = "x" }),
            await admin.PostAsync("/api/v1/registries/987654/scan", null),
            await admin.DeleteAsync("/api/v1/registries/987654"),
        })
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/proposals")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.GetAsync("/api/v1/skills")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.PostAsJsonAsync("/api/v1/registries", new { name = "x" })).StatusCode);
    }

    [Fact]
    public async Task Three_users_through_the_api_give_a_proposal_that_is_pushed_only_after_approval()
    {
        var skill = $"flow-skill-{Guid.NewGuid():N}";
        var path = $"skills/{skill}/SKILL.md";
        using var remote = new BareGitRemote(new Dictionary<string, string> { [path] = $"---\nname: {skill}\ndescription: Reports.\n---\n# Reports\n\nRender the table.\n" });
        using var admin = server.CreateAdminClient();
        using var ingest = server.CreateIngestClient();
        var registry = await (await admin.PostAsJsonAsync("/api/v1/registries", new { name = $"reg-{skill}", provider = "git", url = remote.Path, branch = "main" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var registryId = registry.GetProperty("registry").GetProperty("id").GetInt64();
        await Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement>($"/api/v1/registries/{registryId}/scan"), s => s.GetProperty("phase").GetString() == "done");

        foreach (var (user, text) in new[]
        {
            ("ann@example.com", "No, the totals row has to be the last row of the table, not the first."),
            ("ben@example.com", "I said the totals row belongs at the bottom of the table, not the top."),
            ("cat@example.com", "No, the totals row has to be at the bottom of the table."),
        })
        {
            await PipelineTests.PostAsync(ingest, skill, user, text);
        }

        var proposal = await Poll.UntilAsync(
            async () => (await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/proposals"))!.FirstOrDefault(p => p.GetProperty("skill").GetString() == skill),
            p => p.ValueKind == JsonValueKind.Object && p.GetProperty("state").GetString() == "review");
        var id = proposal.GetProperty("id").GetInt64();
        var detail = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/proposals/{id}");
        Assert.Contains("+## Known pitfalls", detail.GetProperty("diff").GetString(), StringComparison.Ordinal);
        Assert.Equal(3, detail.GetProperty("evidence").GetProperty("distinctUsers").GetInt32());
        Assert.Equal(["main"], remote.BranchNames());

        var version = detail.GetProperty("version").GetInt32();
        Assert.Equal(JsonValueKind.Array, detail.GetProperty("warnings").ValueKind);

        // No version, or one the reviewer did not read: 409 with the current version, and nothing changes.
        var unversioned = await admin.PostAsJsonAsync($"/api/v1/proposals/{id}/approve", new { comment = "Ship it." });
        var stale = await admin.PostAsJsonAsync($"/api/v1/proposals/{id}/approve", new { comment = "Ship it.", version = version - 1 });
        Assert.Equal((HttpStatusCode.Conflict, HttpStatusCode.Conflict), (unversioned.StatusCode, stale.StatusCode));
        Assert.Equal(version, (await stale.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt32());
        Assert.Equal("review", (await admin.GetFromJsonAsync<JsonElement>($"/api/v1/proposals/{id}")).GetProperty("proposal").GetProperty("state").GetString());

        // The reviewer's own text, CRLF line endings and all, is what gets pushed: byte for byte.
        var approvedText = detail.GetProperty("proposedText").GetString()!.Replace("\n", "\r\n", StringComparison.Ordinal) + "Ünïcode stays as typed.\r\n";
        var approved = await admin.PostAsJsonAsync($"/api/v1/proposals/{id}/approve", new { comment = "Ship it.", version, proposedText = approvedText });
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        var again = await admin.PostAsJsonAsync($"/api/v1/proposals/{id}/approve", new { comment = "Twice?", version });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);

        var open = await Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement>($"/api/v1/proposals/{id}"), p => p.GetProperty("proposal").GetProperty("state").GetString() == "open");
        var branch = open.GetProperty("proposal").GetProperty("branch").GetString()!;
        Assert.Equal(approvedText, open.GetProperty("proposedText").GetString());
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(approvedText), remote.ReadBytes(branch, path));
        var audit = await admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/audit?proposalId={id}");
        // The audit names the key that acted, marked as a key (never a bare "admin" or "api").
        Assert.Contains(audit!, a => a.GetProperty("action").GetString() == "approved"
            && a.GetProperty("actor").GetString()!.StartsWith("api key SKILLLOOP_ADMIN_API_KEY (#", StringComparison.Ordinal));
    }
}
