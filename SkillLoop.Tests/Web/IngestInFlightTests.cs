using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SkillLoop.Core.Capture;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary>Issue 16, item 13: the pipeline holds back for the whole of a signal post, not only the moment it is stored.</summary>
[Collection(ServerCollection.Name)]
public sealed class IngestInFlightTests(SkillLoopServer server)
{
    [Fact]
    public async Task While_a_signal_post_is_still_uploading_the_pipeline_sees_a_client_posting()
    {
        var activity = server.Services.GetRequiredService<IngestActivity>();
        var body = JsonSerializer.SerializeToUtf8Bytes(SignalIngestorTests.Batch("in-flight", 0, 10, corrections: "no, that's wrong"), HooksJsonContext.Default.SignalBatch);
        var content = new HeldBody(body);
        content.Headers.ContentType = new("application/json");
        using var ingest = server.CreateIngestClient();

        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await UntilAsync(() => !activity.IsBusy, patience.Token); // whatever earlier tests posted is over

        var post = ingest.PostAsync("/api/v1/signals", content);
        await content.FirstHalfSent;
        // Nothing is stored before the whole body is in: only the post in flight can make the pipeline hold back.
        await UntilAsync(() => activity.IsBusy, patience.Token);
        await Task.Delay(IngestActivity.Quiet * 4); // longer than the quiet period after anything arrived
        var busyWhileUploading = activity.IsBusy;
        var answeredEarly = post.IsCompleted;
        content.SendTheRest();
        using var response = await post;

        Assert.False(answeredEarly);
        Assert.True(busyWhileUploading);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Waits until <paramref name="condition"/> holds (the large-batch tests wait the same way).</summary>
    internal static async Task UntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            await Task.Delay(10, cancellationToken);
        }
    }

    /// <summary>A JSON body of known length that sends its first half, then waits to be told to send the rest.</summary>
    internal sealed class HeldBody(byte[] body) : HttpContent
    {
        private readonly TaskCompletionSource _firstHalfSent = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _rest = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task FirstHalfSent => _firstHalfSent.Task;

        public void SendTheRest() => _rest.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(body.AsMemory(0, body.Length / 2));
            await stream.FlushAsync();
            _firstHalfSent.TrySetResult();
            await _rest.Task;
            await stream.WriteAsync(body.AsMemory(body.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }
}
