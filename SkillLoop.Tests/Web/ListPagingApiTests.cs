using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary>Issue #20: the clusters and proposals lists page (limit, page) and keep returning a plain JSON array.</summary>
[Collection(ServerCollection.Name)]
public sealed class ListPagingApiTests(SkillLoopServer server)
{
    [Fact]
    public async Task Clusters_come_a_page_at_a_time_with_the_total_and_a_link_to_the_next_page()
    {
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(server.DataDirectory, "skillloop.db")};Pooling=false"))
        {
            await connection.OpenAsync();
            for (var users = 1; users <= 5; users++)
            {
                await connection.ExecuteAsync(
                    """
                    INSERT INTO clusters (skill, title, state, centroid_sum, signal_count, user_count, first_seen, last_seen, created_at, updated_at)
                    VALUES ('paging-api', @title, 'noise', x'', 1, @users, '2026-01-01', '2026-01-01', '2026-01-01', '2026-01-01')
                    """, new { title = $"paging {users}", users });
            }
        }

        using var admin = server.CreateAdminClient();

        var response = await admin.GetAsync("/api/v1/clusters?skill=paging-api&limit=2&page=2");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await response.Content.ReadFromJsonAsync<JsonElement[]>();
        Assert.Equal(["paging 3", "paging 2"], page!.Select(c => c.GetProperty("title").GetString()));
        Assert.Equal("5", response.Headers.GetValues("X-Total-Count").Single());
        Assert.Equal("</api/v1/clusters?skill=paging-api&limit=2&page=3>; rel=\"next\"", response.Headers.GetValues("Link").Single());

        var last = await admin.GetAsync("/api/v1/clusters?skill=paging-api&limit=2&page=3");
        Assert.Single((await last.Content.ReadFromJsonAsync<JsonElement[]>())!);
        Assert.False(last.Headers.Contains("Link"));
    }

    [Theory]
    [InlineData("/api/v1/clusters?limit=0", "limit")]
    [InlineData("/api/v1/clusters?limit=501", "limit")]
    [InlineData("/api/v1/proposals?page=0", "page")]
    public async Task A_limit_or_page_out_of_range_is_a_validation_problem_naming_it(string path, string parameter)
    {
        using var admin = server.CreateAdminClient();

        var response = await admin.GetAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(parameter, out _));
    }

    [Fact]
    public async Task Proposals_are_limited_to_the_page_asked_for()
    {
        using var admin = server.CreateAdminClient();

        var response = await admin.GetAsync("/api/v1/proposals?limit=1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var total = long.Parse(response.Headers.GetValues("X-Total-Count").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Math.Min(1, total), (await response.Content.ReadFromJsonAsync<JsonElement[]>())!.Length);
        Assert.Equal(total > 1, response.Headers.Contains("Link"));
    }
}
