using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Core.Access;
using SkillLoop.Core.Capture;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;
using SkillLoop.Web.Protection;

namespace SkillLoop.Tests.Web;

/// <summary>
/// Issue 16, item 13: a token flooding the server with large batches takes its turn, at lowered priority and paced to a
/// fair share of the time; other clients' posts are answered meanwhile and nothing of the large batches is lost.
/// </summary>
[Collection(FloodServerCollection.Name)]
public sealed class LargeBatchTests(SkillLoopServer server)
{
    [Fact]
    public async Task A_large_batch_is_stored_whole_from_the_lowered_threads_whether_its_length_is_declared_or_not()
    {
        var threads = server.Services.GetRequiredService<LargeBatchThreads>();
        using var ingest = server.CreateIngestClient();

        var handedOver = threads.HandedOver;
        // Of declared length, as the client sends it (a body of unknown length counts as large).
        using var small = await ingest.PostAsync("/api/v1/signals", Json(SignalIngestorTests.Batch("large-small", 0, 10, corrections: "no, that's wrong")));
        var afterSmall = threads.HandedOver;
        using var declared = await ingest.PostAsync("/api/v1/signals", Json(Body("large-declared")));
        var afterDeclared = threads.HandedOver;
        // No length: sent chunked, read into a buffer that grows.
        using var chunked = await ingest.PostAsync("/api/v1/signals", new StreamContent(new MemoryStream(Body("large-chunked"))) { Headers = { ContentType = new("application/json") } });

        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal(handedOver, afterSmall); // a small batch stays on the request thread
        Assert.Equal(handedOver + 1, afterDeclared);
        Assert.Equal(handedOver + 2, threads.HandedOver);
        foreach (var response in new[] { declared, chunked })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var result = (await response.Content.ReadFromJsonAsync<SignalBatchResult>())!;
            Assert.Equal((Corrections, 0, 9_000L), (result.Accepted, result.Duplicates, result.Cursor.Offset));
        }
    }

    [Fact]
    public async Task A_second_large_batch_from_the_same_token_waits_while_a_small_post_from_another_token_is_answered()
    {
        using var flood = (await NewTokenAsync("flooding laptop")).Client;
        using var other = server.CreateIngestClient();
        var held = new IngestInFlightTests.HeldBody(Body("large-held"));
        held.Headers.ContentType = new("application/json");

        var activity = server.Services.GetRequiredService<IngestActivity>();
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await IngestInFlightTests.UntilAsync(() => !activity.IsBusy, patience.Token); // whatever earlier tests posted is over

        var first = flood.PostAsync("/api/v1/signals", held);
        await held.FirstHalfSent;
        // Past the per-token limit (the post is in flight) and waiting for the rest of its body: it holds the token's turn.
        await IngestInFlightTests.UntilAsync(() => activity.IsBusy, patience.Token);
        var second = flood.PostAsync("/api/v1/signals", Json(Body("large-queued")));
        using var small = await other.PostAsync("/api/v1/signals", Json(SignalIngestorTests.Batch("large-other", 0, 10, corrections: "no, use pnpm")));
        await Task.Delay(TimeSpan.FromSeconds(1)); // ample for a 2 MB batch that did not wait
        var secondWaited = !second.IsCompleted;
        held.SendTheRest();
        using var firstResponse = await first;
        using var secondResponse = await second;

        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.True(secondWaited);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (firstResponse.StatusCode, secondResponse.StatusCode));
        Assert.Equal(Corrections, (await secondResponse.Content.ReadFromJsonAsync<SignalBatchResult>())!.Accepted);
    }

    [Fact]
    public async Task A_tokens_next_large_batch_waits_its_pause_while_its_small_posts_and_other_tokens_go_on()
    {
        var (keyId, client) = await NewTokenAsync("paced laptop");
        using var flood = client;
        using var other = server.CreateIngestClient();
        var pacing = server.Services.GetRequiredService<LargeBatchPacing>();
        var credential = $"key:{keyId}";

        using var first = await flood.PostAsync("/api/v1/signals", Json(Body("paced-first")));
        var pause = pacing.WaitFor(credential);
        var sincePause = System.Diagnostics.Stopwatch.StartNew();
        var second = flood.PostAsync("/api/v1/signals", Json(Body("paced-second")));
        // Answered during the pause: a small post of the same token, and another token's large batch.
        using var small = await flood.PostAsync("/api/v1/signals", Json(SignalIngestorTests.Batch("paced-small", 0, 10, corrections: "no, use pnpm")));
        var otherLarge = other.PostAsync("/api/v1/signals", Json(Body("paced-other")));
        using var secondResponse = await second;
        var secondAnswered = sincePause.Elapsed;
        using var otherResponse = await otherLarge;

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.True(pause > TimeSpan.Zero);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK), (small.StatusCode, secondResponse.StatusCode, otherResponse.StatusCode));
        Assert.True(secondAnswered >= pause, $"answered after {secondAnswered}, pause {pause}");
        Assert.Equal(Corrections, (await secondResponse.Content.ReadFromJsonAsync<SignalBatchResult>())!.Accepted);
    }

    /// <summary>A token of its own, so no other test's large batches share its turn or its pause.</summary>
    private async Task<(long KeyId, HttpClient Client)> NewTokenAsync(string name)
    {
        using var admin = server.CreateAdminClient();
        var created = (await (await admin.PostAsJsonAsync("/api/v1/keys", new { kind = "ingest", name })).Content.ReadFromJsonAsync<CreatedApiKey>())!;
        return (created.Key.Id, server.CreateClientWith(created.Secret));
    }

    private static ByteArrayContent Json(SignalBatch batch) => Json(JsonSerializer.SerializeToUtf8Bytes(batch, HooksJsonContext.Default.SignalBatch));

    private static ByteArrayContent Json(byte[] body) => new(body) { Headers = { ContentType = new("application/json") } };

    private const int Corrections = 300;

    /// <summary>A batch of about 2 MB: over the large-batch size, so the token posts one at a time.</summary>
    private static byte[] Body(string sessionId)
    {
        var text = string.Concat(Enumerable.Repeat("no, that's wrong: the report must use the company template, not the default. ", 40));
        var batch = SignalIngestorTests.Batch(sessionId, 0, 9_000, corrections: [.. Enumerable.Range(0, Corrections).Select(i => $"{i}: {text}")]);
        var body = JsonSerializer.SerializeToUtf8Bytes(batch, HooksJsonContext.Default.SignalBatch);
        Assert.True(body.Length > RateLimits.LargeBatchBytes, $"{body.Length} bytes");
        return body;
    }
}
