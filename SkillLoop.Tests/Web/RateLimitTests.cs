using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Protection;

namespace SkillLoop.Tests.Web;

/// <summary>A server of its own allowing one request a minute per credential (the refill is a minute away).</summary>
public sealed class RateLimitTests : IAsyncLifetime
{
    private SkillLoopServer _server = null!;

    public Task InitializeAsync()
    {
        _server = SkillLoopServer.StartWith(new Dictionary<string, string?> { [RateLimits.Setting] = "1" });
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_token_over_its_limit_gets_429_problem_details_with_retry_after_and_stores_nothing_while_other_credentials_go_on()
    {
        using var ingest = _server.CreateIngestClient();
        using var admin = _server.CreateAdminClient();
        using var anonymous = _server.CreateClientWith(null);

        var first = await ingest.GetAsync("/api/v1/sessions/claude/rate-limited/cursor");
        var second = await ingest.PostAsJsonAsync("/api/v1/signals", SignalIngestorTests.Batch("rate-limited", 0, 10, corrections: "no, that's wrong"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal("application/problem+json", second.Content.Headers.ContentType?.MediaType);
        Assert.Equal(429, (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
        var retryAfter = second.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        Assert.Equal(0, await CountSignalsAsync("rate-limited"));

        // The admin key has a bucket of its own; requests without a credential share one per address.
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/status")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/status")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await anonymous.GetAsync("/api/v1/client/config")).StatusCode);
        // Health checks are not rate limited.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);
        }
    }

    private async Task<long> CountSignalsAsync(string sessionId)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_server.DataDirectory, "skillloop.db")};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM signals WHERE session_id = $session";
        command.Parameters.AddWithValue("$session", sessionId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();
}

public sealed class RateLimitSettingsTests
{
    [Fact]
    public async Task The_default_lets_one_shared_ingest_token_make_2000_requests_every_second()
    {
        var options = RateLimits.BucketFor(RateLimits.DefaultPerMinute);
        using var bucket = new TokenBucketRateLimiter(options);

        // Refilled by 2,000 every second, and a burst of that many is there at once.
        Assert.Equal(TimeSpan.FromSeconds(1), options.ReplenishmentPeriod);
        Assert.True(options.TokensPerPeriod >= 2_000, $"{options.TokensPerPeriod} a second");
        for (var i = 0; i < 2_000; i++)
        {
            using var lease = await bucket.AcquireAsync();
            Assert.True(lease.IsAcquired, $"request {i} was refused");
        }
    }

    [Theory]
    [InlineData(null, RateLimits.DefaultPerMinute)]
    [InlineData("", RateLimits.DefaultPerMinute)]
    [InlineData("0", 0)]
    [InlineData("600", 600)]
    public void The_rate_comes_from_SKILLLOOP_RATE_LIMIT_PER_MINUTE(string? value, int expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [RateLimits.Setting] = value }).Build();

        Assert.Equal(expected, RateLimits.PerMinute(configuration));
    }

    [Theory]
    [InlineData("-5")]
    [InlineData("lots")]
    [InlineData("1.5")]
    public void A_rate_that_is_not_a_whole_number_stops_the_start(string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [RateLimits.Setting] = value }).Build();

        Assert.Contains(RateLimits.Setting, Assert.Throws<InvalidOperationException>(() => RateLimits.PerMinute(configuration)).Message);
    }

    [Fact]
    public void Below_60_a_minute_the_bucket_refills_one_request_at_a_time()
    {
        var options = RateLimits.BucketFor(1);

        Assert.Equal((1, 1, TimeSpan.FromMinutes(1)), (options.TokenLimit, options.TokensPerPeriod, options.ReplenishmentPeriod));
    }
}
