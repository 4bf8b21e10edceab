using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Protection;

namespace SkillLoop.Tests.Web;

/// <summary>Request body limits: 8 MB for signal batches, 1 MB for every other body; 413 problem details beyond.</summary>
[Collection(ServerCollection.Name)]
public sealed class RequestLimitTests(SkillLoopServer server)
{
    private const int ThirtyMegabytes = 30 << 20;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_30_MB_signal_batch_gets_413_problem_details_not_a_cut_connection(bool expectContinue)
    {
        using var ingest = server.CreateIngestClient();
        ingest.DefaultRequestHeaders.ExpectContinue = expectContinue;
        using var content = new ByteArrayContent(new byte[ThirtyMegabytes]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        var response = await ingest.PostAsync("/api/v1/signals", content);

        await AssertTooLargeAsync(response, RequestLimits.SignalsMaxBodyBytes);
    }

    [Fact]
    public async Task A_chunked_body_that_grows_past_the_limit_gets_413_problem_details()
    {
        using var ingest = server.CreateIngestClient();
        // No length (so it goes chunked) and a string that never ends: the body is read until Kestrel stops it at the limit.
        using var content = new StreamContent(new ChunkedJson(Encoding.UTF8.GetBytes("{\"platform\":\""), (byte)'a', ThirtyMegabytes));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        var response = await ingest.PostAsync("/api/v1/signals", content);

        await AssertTooLargeAsync(response, RequestLimits.SignalsMaxBodyBytes);
    }

    [Fact]
    public async Task Other_endpoints_refuse_bodies_over_1_MB()
    {
        using var admin = server.CreateAdminClient();
        var pattern = new CorrectionPattern("en.custom.too-large", "en", "redirection", new string('a', 2 << 20));

        var response = await admin.PostAsJsonAsync("/api/v1/patterns", pattern);

        await AssertTooLargeAsync(response, RequestLimits.DefaultMaxBodyBytes);
    }

    [Fact]
    public async Task A_signal_batch_of_a_few_megabytes_is_accepted()
    {
        using var ingest = server.CreateIngestClient();
        var batch = SignalIngestorTests.Batch("limits-large", 0, 5_000_000, corrections: "no, that's wrong");
        batch = batch with { Turns = [.. batch.Turns, .. Enumerable.Range(0, 1_000).Select(i => new UserTurn($"long-{i}", new string('x', 4_000), DateTimeOffset.UnixEpoch))] };

        var response = await ingest.PostAsJsonAsync("/api/v1/signals", batch);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await response.Content.ReadFromJsonAsync<SignalBatchResult>())!.Accepted);
    }

    private async Task AssertTooLargeAsync(HttpResponseMessage response, long limit)
    {
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(413, problem.GetProperty("status").GetInt32());
        Assert.Contains(limit.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), problem.GetProperty("detail").GetString());
        using var health = server.CreateClientWith(null);
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync("/healthz")).StatusCode); // the server is fine
    }

    /// <summary>A body of unknown length (so HttpClient sends it chunked): a prefix, then one byte repeated.</summary>
    private sealed class ChunkedJson(byte[] prefix, byte fill, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - _position);
            for (var i = 0; i < n; i++)
            {
                var at = _position + i;
                buffer[offset + i] = at < prefix.Length ? prefix[at] : fill;
            }

            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
