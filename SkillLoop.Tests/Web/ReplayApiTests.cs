using System.Net.Http.Json;
using System.Text.Json;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary>The <c>replay</c> field of <c>GET /api/v1/proposals/{id}</c> on the running server (no chat model configured).</summary>
[Collection(ServerCollection.Name)]
public sealed class ReplayApiTests(SkillLoopServer server)
{
    [Fact]
    public async Task A_proposal_read_through_the_api_says_replay_needs_a_chat_model_and_carries_no_score()
    {
        var skill = $"replay-skill-{Guid.NewGuid():N}";
        var path = $"skills/{skill}/SKILL.md";
        using var remote = new BareGitRemote(new Dictionary<string, string> { [path] = $"---\nname: {skill}\ndescription: Reports.\n---\n# Reports\n\nRender the table.\n" });
        using var admin = server.CreateAdminClient();
        using var ingest = server.CreateIngestClient();
        var registry = await (await admin.PostAsJsonAsync("/api/v1/registries", new { name = $"reg-{skill}", provider = "git", url = remote.Path, branch = "main" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var registryId = registry.GetProperty("registry").GetProperty("id").GetInt64();
        await Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement>($"/api/v1/registries/{registryId}/scan"), s => s.GetProperty("phase").GetString() == "done");
        foreach (var user in new[] { "ann@example.com", "ben@example.com", "cat@example.com" })
        {
            await PipelineTests.PostAsync(ingest, skill, user, "No, the totals row has to be the last row of the table, not the first.");
        }

        var proposal = await Poll.UntilAsync(
            async () => (await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/proposals"))!.FirstOrDefault(p => p.GetProperty("skill").GetString() == skill),
            p => p.ValueKind == JsonValueKind.Object && p.GetProperty("state").GetString() == "review");
        var id = proposal.GetProperty("id").GetInt64();

        var detail = await Poll.UntilAsync(() => admin.GetFromJsonAsync<JsonElement>($"/api/v1/proposals/{id}"),
            d => d.GetProperty("replay") is { ValueKind: JsonValueKind.Object } r && r.GetProperty("status").GetString() == "no-model");

        var replay = detail.GetProperty("replay");
        Assert.Equal("Replay needs a chat model; none is configured.", replay.GetProperty("message").GetString());
        Assert.Equal((0, 3, false), (replay.GetProperty("results").GetArrayLength(), replay.GetProperty("corrections").GetInt32(), replay.GetProperty("notImproving").GetBoolean()));
        Assert.DoesNotContain(detail.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("Replay", StringComparison.Ordinal));
    }
}
