using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Core.Registry;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary><c>GET/PUT /api/v1/settings/registry</c>: the rescan interval and the bot identity, as on the Skills page.</summary>
[Collection(ServerCollection.Name)]
public sealed class RegistrySettingsApiTests(SkillLoopServer server)
{
    [Fact]
    public async Task The_rescan_interval_and_bot_identity_round_trip_through_the_settings_api()
    {
        using var admin = server.CreateAdminClient();
        var before = (await admin.GetFromJsonAsync<RegistryOptions>("/api/v1/settings/registry"))!;
        try
        {
            var put = await admin.PutAsJsonAsync("/api/v1/settings/registry", new RegistryOptions(15, "Skill Bot", "bot@example.test"));

            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            var stored = await admin.GetFromJsonAsync<JsonElement>("/api/v1/settings/registry");
            Assert.Equal(15, stored.GetProperty("rescanMinutes").GetInt32());
            Assert.Equal("Skill Bot", stored.GetProperty("botName").GetString());
            Assert.Equal("bot@example.test", stored.GetProperty("botEmail").GetString());
            Assert.False(stored.TryGetProperty("bot", out _)); // the computed identity is not part of the contract
            Assert.Equal(new RegistryOptions(15, "Skill Bot", "bot@example.test"), await server.Services.GetRequiredService<RegistrySettings>().GetAsync(CancellationToken.None));
        }
        finally
        {
            (await admin.PutAsJsonAsync("/api/v1/settings/registry", before)).EnsureSuccessStatusCode();
        }
    }

    [Theory]
    [InlineData(-1, "SkillLoop", "skillloop@localhost", "rescanMinutes")]
    [InlineData(60, "Skill\u0000Bot", "skillloop@localhost", "botName")]
    [InlineData(60, "SkillLoop", "no-at-sign", "botEmail")]
    [InlineData(60, "SkillLoop", "bot@host\r\nBcc: x@y", "botEmail")]
    public async Task A_bad_value_gets_400_problem_details_naming_it_and_changes_nothing(int minutes, string name, string email, string field)
    {
        using var admin = server.CreateAdminClient();
        var before = await admin.GetStringAsync("/api/v1/settings/registry");

        var response = await admin.PutAsJsonAsync("/api/v1/settings/registry", new RegistryOptions(minutes, name, email));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
        Assert.Equal(before, await admin.GetStringAsync("/api/v1/settings/registry"));
    }

    [Fact]
    public async Task Only_admins_change_the_registry_settings()
    {
        using var ingest = server.CreateIngestClient();
        using var anonymous = server.CreateClientWith(null);
        var body = new RegistryOptions(5, "x", "x@y");

        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.PutAsJsonAsync("/api/v1/settings/registry", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PutAsJsonAsync("/api/v1/settings/registry", body)).StatusCode);
    }
}
