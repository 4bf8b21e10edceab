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

    /// <summary>Reads until <paramref name="done"/> holds, for up to 90 s (a server's pipeline on a loaded machine).</summary>
    public static Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done) => UntilAsync(read, done, TimeSpan.FromSeconds(90));

    /// <summary>
    /// Reads <paramref name="read"/> until <paramref name="done"/> holds for its value, and returns that value; fails
    /// with the last value read when it does not hold within <paramref name="within"/>.
    /// </summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var value = await read();
        while (!done(value))
        {
            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"the condition did not hold within {within.TotalSeconds:0} s; last value: {Describe(value)}");
            }

            await Task.Delay(100);
            value = await read();
        }

        return value;
    }

    private static string Describe<T>(T value) => value switch
    {
        System.Text.Json.JsonElement json => Raw(json),
        System.Text.Json.JsonElement[] array => "[" + string.Join(",", array.Select(Raw)) + "]",
        _ => value?.ToString() ?? "null",
    };

    private static string Raw(System.Text.Json.JsonElement json) => json.ValueKind == System.Text.Json.JsonValueKind.Undefined ? "(none)" : json.GetRawText();
}
