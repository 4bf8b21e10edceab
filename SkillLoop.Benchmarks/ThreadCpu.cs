using System.Globalization;

namespace SkillLoop.Benchmarks;

/// <summary>
/// CPU time per thread of a Linux process (<c>/proc/PID/task/*/stat</c>), grouped by thread name, so a benchmark can say
/// where a server's cores went during a phase: request handling runs on the thread pool (".NET TP Worker"), the
/// background pipeline's CPU work on its own named threads.
/// </summary>
internal sealed class ThreadCpu
{
    private static readonly double TicksPerSecond = 100; // USER_HZ: 100 on every Linux the benchmarks run on

    private readonly Dictionary<int, (string Name, long Ticks)> _threads;

    private ThreadCpu(Dictionary<int, (string Name, long Ticks)> threads) => _threads = threads;

    public static ThreadCpu Read(int pid)
    {
        var threads = new Dictionary<int, (string, long)>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                // "tid (comm) state ppid …": the name may hold spaces and parentheses; utime and stime are fields 14 and 15.
                var open = stat.IndexOf('(');
                var close = stat.LastIndexOf(')');
                var fields = stat[(close + 2)..].Split(' ');
                var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                threads[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = (stat[(open + 1)..close], ticks);
            }
            catch (IOException)
            {
                // The thread ended between the listing and the read.
            }
        }

        return new ThreadCpu(threads);
    }

    /// <summary>CPU seconds per thread name since <paramref name="before"/>, largest first.</summary>
    public IReadOnlyList<(string Name, double Seconds)> Since(ThreadCpu before) =>
    [
        .. _threads
            .GroupBy(t => t.Value.Name)
            .Select(g => (g.Key, g.Sum(t => t.Value.Ticks - (before._threads.TryGetValue(t.Key, out var b) && b.Name == t.Value.Name ? b.Ticks : 0)) / TicksPerSecond))
            .Where(g => g.Item2 > 0)
            .OrderByDescending(g => g.Item2),
    ];

    /// <summary>"1.23 cores: .NET TP Worker 0.80, …" over <paramref name="elapsed"/>.</summary>
    public static string Describe(IReadOnlyList<(string Name, double Seconds)> byName, TimeSpan elapsed, int top = 6) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{byName.Sum(t => t.Seconds) / elapsed.TotalSeconds:F2} cores: {string.Join(", ", byName.Take(top).Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Name.Trim()} {t.Seconds / elapsed.TotalSeconds:F2}")))}");
}
