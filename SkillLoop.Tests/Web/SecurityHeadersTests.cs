using System.Net;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary>Every response carries the Content-Security-Policy and its companions: pages, API answers, errors, assets.</summary>
[Collection(ServerCollection.Name)]
public sealed class SecurityHeadersTests(SkillLoopServer server)
{
    [Theory]
    [InlineData("/account/login")]
    [InlineData("/signals")] // a redirect to sign in
    [InlineData("/no-such-page")]
    [InlineData("/healthz")]
    [InlineData("/api/v1/status")] // 401 problem details
    [InlineData("/app.css")]
    public async Task Every_response_carries_a_script_src_self_policy_and_its_companions(string path)
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.BaseAddress };

        using var response = await client.GetAsync(path);

        var policy = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        var directives = policy.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .ToDictionary(d => d.Split(' ')[0], d => d.Split(' ')[1..]);
        Assert.Equal(["'self'"], directives["script-src"]);
        Assert.Equal(["'self'"], directives["default-src"]);
        Assert.Equal(["'none'"], directives["object-src"]);
        Assert.Equal(["'none'"], directives["frame-ancestors"]);
        Assert.Equal(["'self'"], directives["base-uri"]);
        Assert.DoesNotContain(directives.Values.SelectMany(v => v), v => v is "*" or "'unsafe-eval'" || v.StartsWith("http", StringComparison.Ordinal));
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
    }

    [Fact]
    public async Task The_sign_in_page_has_no_inline_script_for_the_policy_to_block()
    {
        using var client = new HttpClient { BaseAddress = server.BaseAddress };

        var html = await client.GetStringAsync("/account/login");

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/account/login")).StatusCode);
        foreach (System.Text.RegularExpressions.Match script in System.Text.RegularExpressions.Regex.Matches(html, "<script[^>]*>"))
        {
            Assert.Contains("src=", script.Value, StringComparison.Ordinal);
        }
    }
}
