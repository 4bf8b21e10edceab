using SkillLoop.Core.Ai.MiniLm;
using SkillLoop.Tests.Fakes;

namespace SkillLoop.Tests.Ai.MiniLm;

public sealed class TrimScheduleTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 2, 9, 0, 0, TimeSpan.Zero);

    private sealed class Harness : IDisposable
    {
        public SteppedTimeProvider Clock { get; } = new(Start);

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public int Trimmed { get; private set; }

        public TrimSchedule Schedule { get; }

        public Harness() => Schedule = new TrimSchedule(() => Trimmed++, Gate, Clock);

        /// <summary>A batch as the generator runs one: the gate held, the schedule told at its end.</summary>
        public void Batch()
        {
            Assert.True(Gate.Wait(0));
            Schedule.BatchEnded();
            Gate.Release();
        }

        public void Dispose()
        {
            Schedule.Dispose();
            Gate.Dispose();
        }
    }

    [Fact]
    public void Batches_in_a_row_do_not_trim_and_one_trim_follows_once_the_model_is_idle()
    {
        using var h = new Harness();
        for (var i = 0; i < 50; i++)
        {
            h.Batch();
            h.Clock.Advance(TimeSpan.FromMilliseconds(20));
        }

        Assert.Equal(0, h.Trimmed);

        h.Clock.Advance(TrimSchedule.IdleDelay);

        Assert.Equal(1, h.Trimmed);
        Assert.Equal(1, h.Schedule.Trims);
        h.Clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, h.Trimmed); // idle stays trimmed: nothing to give back twice
    }

    [Fact]
    public void A_backlog_that_never_pauses_is_still_trimmed_every_busy_interval()
    {
        using var h = new Harness();
        var step = TimeSpan.FromMilliseconds(100);
        var batches = (int)(3 * TrimSchedule.BusyInterval / step);
        for (var i = 0; i < batches; i++)
        {
            h.Batch();
            h.Clock.Advance(step);
        }

        Assert.Equal(2, h.Trimmed); // at 30 s and 60 s of the 90 s backlog

        h.Clock.Advance(TrimSchedule.IdleDelay);
        Assert.Equal(3, h.Trimmed); // and once it is worked off
    }

    [Fact]
    public void The_idle_trim_waits_while_a_batch_holds_the_model_and_comes_after_that_batch()
    {
        using var h = new Harness();
        h.Batch();
        Assert.True(h.Gate.Wait(0)); // the next batch starts just as the idle delay runs out

        h.Clock.Advance(TrimSchedule.IdleDelay);
        Assert.Equal(0, h.Trimmed);

        h.Schedule.BatchEnded();
        h.Gate.Release();
        h.Clock.Advance(TrimSchedule.IdleDelay);
        Assert.Equal(1, h.Trimmed);
    }

    [Fact]
    public void Nothing_is_trimmed_after_the_generator_is_disposed()
    {
        var h = new Harness();
        h.Batch();
        h.Dispose();

        h.Clock.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(0, h.Trimmed);
    }
}
