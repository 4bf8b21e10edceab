using SkillLoop.Tests.Fakes;
using SkillLoop.Web.Protection;

namespace SkillLoop.Tests.Web;

/// <summary>Issue 16, item 13: a credential's large batches take at most a fifth of the time, and only its own wait.</summary>
public sealed class LargeBatchPacingTests
{
    private readonly SteppedTimeProvider _clock = new(new DateTimeOffset(2026, 12, 2, 9, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task The_next_large_batch_of_a_credential_waits_four_times_as_long_as_the_last_one_took()
    {
        var pacing = new LargeBatchPacing(_clock);
        Assert.Equal(TimeSpan.Zero, pacing.WaitFor("key:1"));
        await pacing.WaitTurnAsync("key:1", CancellationToken.None); // the first one does not wait

        await pacing.ProcessAsync("key:1", () =>
        {
            _clock.Advance(TimeSpan.FromSeconds(2));
            return Task.CompletedTask;
        });

        Assert.Equal(TimeSpan.FromSeconds(8), pacing.WaitFor("key:1"));
        Assert.Equal(TimeSpan.Zero, pacing.WaitFor("key:2")); // another credential's batches are not held back
        var next = pacing.WaitTurnAsync("key:1", CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(7.9));
        Assert.False(next.IsCompleted);
        _clock.Advance(TimeSpan.FromSeconds(0.1));
        await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.Zero, pacing.WaitFor("key:1"));
    }

    [Fact]
    public async Task A_refused_batch_costs_its_pause_too()
    {
        var pacing = new LargeBatchPacing(_clock);

        await Assert.ThrowsAsync<InvalidOperationException>(() => pacing.ProcessAsync("key:1", () =>
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            throw new InvalidOperationException("not JSON");
        }));

        Assert.Equal(TimeSpan.FromSeconds(4), pacing.WaitFor("key:1"));
    }

    [Fact]
    public async Task A_client_that_hangs_up_while_waiting_stops_waiting()
    {
        var pacing = new LargeBatchPacing(_clock);
        await pacing.ProcessAsync("key:1", () =>
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            return Task.CompletedTask;
        });
        using var hangUp = new CancellationTokenSource();

        var waiting = pacing.WaitTurnAsync("key:1", hangUp.Token);
        await hangUp.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }

    [Fact]
    public async Task The_credentials_remembered_stay_few_however_many_have_posted()
    {
        var pacing = new LargeBatchPacing(_clock);
        for (var i = 0; i < 1_000; i++)
        {
            await pacing.ProcessAsync($"key:{i}", () =>
            {
                _clock.Advance(TimeSpan.FromMilliseconds(10));
                return Task.CompletedTask;
            });
        }

        _clock.Advance(TimeSpan.FromMinutes(1));
        await pacing.ProcessAsync("key:last", () =>
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            return Task.CompletedTask;
        });

        Assert.InRange(pacing.Remembered, 1, 64);
        Assert.Equal(TimeSpan.FromSeconds(4), pacing.WaitFor("key:last"));
    }
}
