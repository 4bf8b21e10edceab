using System.Net;
using System.Text.RegularExpressions;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

[Collection(ServerCollection.Name)]
public sealed partial class DashboardSignInTests(SkillLoopServer server)
{
    [Fact]
    public async Task The_dashboard_sends_strangers_to_sign_in()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.BaseAddress };

        var response = await client.GetAsync("/signals");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/account/login", response.Headers.Location!.PathAndQuery);
    }

    [Fact]
    public async Task The_admin_signs_in_with_the_configured_password_and_sees_the_signals_page()
    {
        using var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = server.BaseAddress };

        var response = await SignInAsync(client, "admin", SkillLoopServer.AdminPassword, "/signals");

        Assert.Equal("/signals", response.RequestMessage!.RequestUri!.AbsolutePath);
        Assert.Contains("Live signals", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_wrong_password_shows_an_error_and_no_dashboard()
    {
        using var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = server.BaseAddress };

        var response = await SignInAsync(client, "admin", "wrong-password", "/signals");

        Assert.Equal("/account/login", response.RequestMessage!.RequestUri!.AbsolutePath);
        Assert.Contains("Wrong user name or password", await response.Content.ReadAsStringAsync());
    }

    private static async Task<HttpResponseMessage> SignInAsync(HttpClient client, string user, string password, string returnUrl)
    {
        var page = await client.GetStringAsync("/account/login");
        var token = AntiforgeryToken().Match(page).Groups[1].Value;
        Assert.NotEmpty(token);
        return await client.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token,
            ["userName"] = user,
            ["password"] = password,
            ["returnUrl"] = returnUrl,
        }));
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
