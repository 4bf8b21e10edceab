using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary>Issue 16, item 10, over HTTP: a server of its own, since these tests fail sign-ins on purpose.</summary>
public sealed partial class SignInThrottleTests
{
    /// <summary>A client whose connections come from <paramref name="source"/> (any 127.x address is this machine).</summary>
    private static HttpClient ClientFrom(SkillLoopServer server, string source) =>
        new(new SocketsHttpHandler
        {
            CookieContainer = new CookieContainer(),
            AllowAutoRedirect = true,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        { BaseAddress = server.BaseAddress };

    private static async Task<string> SignInAsync(HttpClient client, string user, string password)
    {
        var page = await client.GetStringAsync("/account/login");
        var token = AntiforgeryToken().Match(page).Groups[1].Value;
        var response = await client.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token),
            ["userName"] = user,
            ["password"] = password,
            ["returnUrl"] = "/signals",
        }));
        var html = await response.Content.ReadAsStringAsync();
        return response.RequestMessage!.RequestUri!.AbsolutePath == "/signals" ? "signed in" : Error().Match(html).Groups[1].Value;
    }

    [Fact]
    public async Task A_stranger_guessing_passwords_is_paused_with_the_same_message_as_an_unknown_name_and_the_owner_still_signs_in()
    {
        using var server = SkillLoopServer.StartWith(new Dictionary<string, string?>());
        using var stranger = ClientFrom(server, "127.0.0.2");
        using var owner = ClientFrom(server, "127.0.0.1");

        var unknown = await SignInAsync(stranger, "nobody-by-this-name", "whatever-1");
        var guesses = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            guesses.Add(await SignInAsync(stranger, "admin", $"guess-{i}"));
        }

        var strangerWithTheRightPassword = await SignInAsync(stranger, "admin", SkillLoopServer.AdminPassword);
        var ownerElsewhere = await SignInAsync(owner, "admin", SkillLoopServer.AdminPassword);

        Assert.StartsWith("Wrong user name or password", unknown);
        Assert.All(guesses, g => Assert.Equal(unknown, g)); // wrong, then paused: one message, nothing to tell them apart
        Assert.Equal(unknown, strangerWithTheRightPassword);
        Assert.Equal("signed in", ownerElsewhere);
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();

    [GeneratedRegex("<p class=\"login-error\" role=\"alert\">([^<]*)</p>")]
    private static partial Regex Error();
}
