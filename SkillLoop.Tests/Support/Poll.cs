namespace SkillLoop.Tests.Support;

/// <summary>Waits for background work a test started (a hosted service's loop) to reach a state, within a bound.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"the condition did not hold within {within.TotalSeconds:0} s");
            await Task.Delay(10);
        }
    }
}
