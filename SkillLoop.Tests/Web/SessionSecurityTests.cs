using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Protection;

namespace SkillLoop.Tests.Web;

/// <summary>Issue 16, items 5, 10, 11 and 14: sessions follow the database, sign-in, cross-site requests, local registries.</summary>
[Collection(ServerCollection.Name)]
public sealed partial class SessionSecurityTests(SkillLoopServer server)
{
    private HttpClient CookieClient() =>
        new(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = server.BaseAddress };

    private static async Task<HttpResponseMessage> SignInAsync(HttpClient client, string user, string password, string returnUrl = "/")
    {
        var page = await client.GetStringAsync("/account/login");
        var token = AntiforgeryToken().Match(page).Groups[1].Value;
        Assert.NotEmpty(token);
        return await client.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token),
            ["userName"] = user,
            ["password"] = password,
            ["returnUrl"] = returnUrl,
        }));
    }

    /// <summary>A new user signed in with a cookie; returns the user's id and the signed-in client.</summary>
    private async Task<(long Id, HttpClient Client)> NewSignedInUserAsync(string role)
    {
        using var admin = server.CreateAdminClient();
        var name = $"{role}-{Guid.NewGuid():N}"[..24];
        var created = await admin.PostAsJsonAsync("/api/v1/users", new { name, password = "a-long-password-1", role });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        var client = CookieClient();
        var signedIn = await SignInAsync(client, name, "a-long-password-1");
        Assert.Equal("/", signedIn.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/proposals")).StatusCode);
        return (id, client);
    }

    [Theory]
    [InlineData("role")]
    [InlineData("password")]
    [InlineData("delete")]
    public async Task A_role_change_password_reset_or_deletion_ends_the_session_on_its_next_request(string change)
    {
        // The role case demotes an admin: promoting a reviewer would leave a second admin behind for the other tests.
        var (id, client) = await NewSignedInUserAsync(change == "role" ? "admin" : "reviewer");
        using var admin = server.CreateAdminClient();

        var changed = change switch
        {
            "role" => await admin.PutAsJsonAsync($"/api/v1/users/{id}/role", new { role = "reviewer" }),
            "password" => await admin.PutAsJsonAsync($"/api/v1/users/{id}/password", new { password = "another-password-2" }),
            _ => await admin.DeleteAsync($"/api/v1/users/{id}"),
        };

        Assert.True(changed.IsSuccessStatusCode, change);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/proposals")).StatusCode);
        // Also on pages: back to sign-in, and the cookie is gone.
        var page = await client.GetAsync("/signals");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith("/account/login", page.Headers.Location!.PathAndQuery);
        client.Dispose();
    }

    [Theory]
    [InlineData("https://evil.example/")]
    [InlineData("//evil.example/x")]
    [InlineData("/\\evil.example")]
    [InlineData("/\u0001evil")]
    [InlineData("/é-page")]
    [InlineData("/ok\r\nSet-Cookie: a=b")]
    [InlineData("/a\\..\\b")]
    [InlineData("javascript:alert(1)")]
    public async Task A_crafted_return_url_never_fails_the_sign_in_nor_leaves_the_site(string returnUrl)
    {
        using var client = CookieClient();

        var response = await SignInAsync(client, "admin", SkillLoopServer.AdminPassword, returnUrl);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task A_local_return_url_is_followed()
    {
        using var client = CookieClient();

        var response = await SignInAsync(client, "admin", SkillLoopServer.AdminPassword, "/signals?skill=pdf");

        Assert.Equal("/signals?skill=pdf", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task A_cookie_post_without_the_custom_header_is_refused_and_with_it_or_an_api_key_works()
    {
        using var client = CookieClient();
        await SignInAsync(client, "admin", SkillLoopServer.AdminPassword);

        var forged = await client.PostAsync("/api/v1/backup", null);
        var forgedScan = await client.PostAsync("/api/v1/registries/999999/scan", null);
        using var withHeader = new HttpRequestMessage(HttpMethod.Post, "/api/v1/backup");
        withHeader.Headers.Add(CookieRequestGuard.HeaderName, "1");
        var allowed = await client.SendAsync(withHeader);
        using var apiKey = server.CreateAdminClient();
        var byKey = await apiKey.PostAsync("/api/v1/backup", null);

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Contains(CookieRequestGuard.HeaderName, await forged.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, forgedScan.StatusCode);
        Assert.Equal(HttpStatusCode.Created, allowed.StatusCode);
        Assert.Equal(HttpStatusCode.Created, byKey.StatusCode);
    }

    [Fact]
    public async Task Sign_out_without_the_antiforgery_token_is_refused_and_the_session_stays()
    {
        var (_, client) = await NewSignedInUserAsync("reviewer");

        var forged = await client.PostAsync("/account/logout", null);

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/proposals")).StatusCode);
        client.Dispose();
    }

    [Fact]
    public async Task The_dashboards_own_sign_out_form_still_signs_out()
    {
        var (_, client) = await NewSignedInUserAsync("reviewer");
        var page = await client.GetStringAsync("/signals");
        var token = AntiforgeryToken().Match(page).Groups[1].Value;
        Assert.Contains("action=\"/account/logout\"", page);

        var signedOut = await client.PostAsync("/account/logout", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token),
        }));

        Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
        Assert.Equal("/account/login", signedOut.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/proposals")).StatusCode);
        client.Dispose();
    }

    [Theory]
    [InlineData("file:///etc")]
    [InlineData("/srv/git/skills.git")]
    public async Task Local_path_registries_can_be_added_by_admins_only(string url)
    {
        var (_, reviewer) = await NewSignedInUserAsync("reviewer");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/registries")
        {
            Content = JsonContent.Create(new { name = "local-" + Guid.NewGuid().ToString("N")[..8], provider = "git", url, branch = "main" }),
        };
        request.Headers.Add(CookieRequestGuard.HeaderName, "1");
        using var ingest = server.CreateIngestClient();

        var byReviewer = await reviewer.SendAsync(request);
        var byIngestToken = await ingest.PostAsJsonAsync("/api/v1/registries", new { name = "local-x", provider = "git", url, branch = "main" });

        Assert.Equal(HttpStatusCode.Forbidden, byReviewer.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, byIngestToken.StatusCode);
        reviewer.Dispose();
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
