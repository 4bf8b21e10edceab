using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LibGit2Sharp;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Benchmarks;

/// <summary>
/// Figures of the real server process, in the order that keeps each one clean: resident memory idle with the
/// embedding model loaded, time from a cluster's third signal to a proposal (on a quiet server), then ingest
/// throughput and latency under concurrent clients with the resident memory sampled throughout.
/// </summary>
internal static class ServerBenchmarks
{
    public sealed record Options(string WebDll, IReadOnlyList<int> Clients, TimeSpan Duration, TimeSpan Drain, int ProposalRuns, bool ProfileOnly = false, TimeSpan? Warmup = null,
        int FloodTurns = 2_400, int FloodCorrections = 400);

    private sealed record LoadResult(int Clients, TimeSpan Elapsed, long Requests, long Signals, long Errors, IReadOnlyList<double> LatenciesMs, TimeSpan ServerCpu, TimeSpan GeneratorCpu, ResidentMemory PeakRss);

    // One problem said three ways (the API test's wording: the heuristic extraction + MiniLM put them in one cluster).
    internal static readonly (string User, string Text)[] SameProblem =
    [
        ("ann@example.com", "No, the totals row has to be the last row of the table, not the first."),
        ("ben@example.com", "I said the totals row belongs at the bottom of the table, not the top."),
        ("cat@example.com", "No, the totals row has to be at the bottom of the table."),
    ];

    private static readonly string[] LoadTexts =
    [
        "No, use pnpm instead of npm in this repository.",
        "You forgot to run the tests before committing again.",
        "Don't force-push to main, open a pull request instead.",
        "That's wrong: the migration must be append-only, never edit a shipped one.",
        "I only asked you to fix the typo, not to refactor the whole module.",
        "Stop adding comments that restate the code.",
        "Please keep the public API unchanged and add an overload instead.",
        "不对，应该用 pnpm 而不是 npm。",
    ];

    private static readonly string[] LoadSkills = [.. Enumerable.Range(0, 8).Select(i => $"bench-load-{i}")];

    private static readonly string Pattern = SkillLoop.Hooks.Detection.DefaultPatterns.All.First(p => p is { Language: "en", Category: "rejection" }).Id;

    public static async Task RunAsync(Options options)
    {
        var work = Directory.CreateTempSubdirectory("skillloop-bench-server-");
        try
        {
            Console.WriteLine("SkillLoop server benchmarks: the real server (dotnet SkillLoop.Web.dll, Production, rate limits off) as its own process");
            Console.WriteLine(Invariant($"machine: {Environment.ProcessorCount} cores, load average {LoadAverage()} at start; the load generator shares these cores"));
            Console.WriteLine();

            var data = Directory.CreateDirectory(Path.Combine(work.FullName, "data")).FullName;
            await using var server = await BenchServer.StartAsync(options.WebDll, data);
            using var admin = server.CreateClient(BenchServer.AdminApiKey);
            using var ingest = server.CreateClient(BenchServer.IngestToken);
            Console.WriteLine(Invariant($"start: healthy after {server.StartupTime.TotalSeconds:F1} s; RSS {server.Memory()} before the embedding model is loaded"));

            await IdleAsync(server, admin, ingest);
            if (options.ProposalRuns > 0)
            {
                await TimeToProposalAsync(work.FullName, admin, ingest, options.ProposalRuns);
            }

            await LoadAsync(server, admin, options);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Issue 16, item 13: one token floods the server with ~7.5 MB signal batches (from several connections at once) while
    /// another token posts the usual one-correction batches; the quiet client's latency is compared with its latency
    /// alone. Goal: its median at most 2x its median alone.
    /// </summary>
    public static async Task FloodAsync(Options options)
    {
        var work = Directory.CreateTempSubdirectory("skillloop-bench-flood-");
        try
        {
            Console.WriteLine(Invariant($"machine: {Environment.ProcessorCount} cores, load average {LoadAverage()} at start (compare the ratio, not the times, on a shared machine)"));
            await FloodProfile.RunAsync(FloodBody(options.FloodTurns, options.FloodCorrections));
            if (options.ProfileOnly)
            {
                return;
            }

            var data = Directory.CreateDirectory(Path.Combine(work.FullName, "data")).FullName;
            await using var server = await BenchServer.StartAsync(options.WebDll, data);
            using var admin = server.CreateClient(BenchServer.AdminApiKey);
            var created = await admin.PostAsJsonAsync("/api/v1/keys", new { kind = "ingest", name = "flood" });
            created.EnsureSuccessStatusCode();
            var floodToken = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;
            using var quiet = server.CreateClient(BenchServer.IngestToken);
            using var flood = server.CreateClient(floodToken);
            flood.Timeout = TimeSpan.FromMinutes(2);
            var big = FloodBody(options.FloodTurns, options.FloodCorrections);

            await QuietAsync(quiet, "warm-up", TimeSpan.FromSeconds(2));
            // A server that has run for a while has compiled the large-batch path: three batches of the flood's size with
            // a handful of corrections compile it (and leave the pipeline almost nothing to do), so the figures below
            // compare a flood with no flood, not the JIT's first pass over parsing and redaction with no flood.
            var warmBody = FloodBody(options.FloodTurns, corrections: Math.Min(4, options.FloodCorrections));
            for (var i = 0; i < 3; i++)
            {
                await FloodClientAsync(flood, warmBody, 90 + i, rounds: 1, CancellationToken.None);
            }

            // Until the JIT's tiering has settled (its thread under 0.03 cores for 2 s, 30 s at most): with a fixed 2 s
            // the alone phase still spent a third of a core on tier-1 compilation, which slowed the phase the flood is
            // compared with and so flattered the ratio.
            for (var settle = 0; settle < 15; settle++)
            {
                var before = ThreadCpu.Read(server.Id);
                await QuietAsync(quiet, "warm-up", TimeSpan.FromSeconds(2));
                if (ThreadCpu.Read(server.Id).Since(before).Where(t => t.Name.StartsWith(".NET Tiered", StringComparison.Ordinal)).Sum(t => t.Seconds) < 0.06)
                {
                    break;
                }
            }

            var (alone, aloneCpu) = await WithThreadCpuAsync(server.Id, () => QuietAsync(quiet, "alone", options.Duration));

            using var stop = new CancellationTokenSource();
            var beforeFlood = ThreadCpu.Read(server.Id);
            var floods = Enumerable.Range(0, 4).Select(i => FloodClientAsync(flood, big, i, stop.Token)).ToList();
            await Task.Delay(TimeSpan.FromSeconds(1)); // the flood is under way
            Console.WriteLine(Invariant($"  (flooding server process {server.Id} for {options.Duration.TotalSeconds:F0} s: a profiler can attach now)"));
            var (flooded, floodedCpu) = await WithThreadCpuAsync(server.Id, () => QuietAsync(quiet, "flooded", options.Duration));
            await stop.CancelAsync();
            var results = await Task.WhenAll(floods);
            var largeBatchCpu = ThreadCpu.Read(server.Id).Since(beforeFlood).Where(t => t.Name == "Ingest (low)").Sum(t => t.Seconds);

            var ratio = Percentile(flooded, 0.5) / Percentile(alone, 0.5);
            Console.WriteLine(Invariant($"flood: one token posts {big.Length / 1e6:F1} MB batches from 4 connections ({results.Sum(r => r.Accepted)} accepted, {results.Sum(r => r.Refused)} answered 429, {results.Sum(r => r.Failed)} failed{string.Concat(results.Select(r => r.LastFailure).Where(f => f is not null).Take(1).Select(f => ": " + (f!.Length > 200 ? f[..200] : f)))}) while another token posts one-correction batches, {options.Duration.TotalSeconds:F0} s each"));
            Console.WriteLine(Invariant($"  other client's latency alone: p50 {Percentile(alone, 0.5):F1} ms, p95 {Percentile(alone, 0.95):F1} ms ({alone.Count} posts); during the flood: p50 {Percentile(flooded, 0.5):F1} ms, p95 {Percentile(flooded, 0.95):F1} ms ({flooded.Count} posts)"));
            Console.WriteLine($"  CPU by thread alone: server {aloneCpu.Server}; load generator {aloneCpu.Generator}");
            Console.WriteLine($"  CPU by thread during the flood: server {floodedCpu.Server}; load generator {floodedCpu.Generator}");
            if (largeBatchCpu > 0)
            {
                // Parsing, validation and redaction of the large batches run on their own threads (the write turns on the
                // pool): their CPU time per batch holds better on a shared machine than wall times do.
                Console.WriteLine(Invariant($"  large-batch threads (Ingest (low), nice 10): {largeBatchCpu * 1000 / Math.Max(1, results.Sum(r => r.Accepted)):F0} ms CPU per accepted batch"));
            }

            // Issue #16 item 13 says "not slowed by more than 2x": the median is the goal this benchmark was built for; the
            // tail read the same way is printed beside it, so neither reading hides the other.
            var tailRatio = Percentile(flooded, 0.95) / Percentile(alone, 0.95);
            Console.WriteLine(Invariant($"  slow-down: p50 {ratio:F2}x, p95 {tailRatio:F2}x — goal: p50 <= 2x: {Verdict(ratio <= 2)}; p95 <= 2x: {Verdict(tailRatio <= 2)} (load average {LoadAverage()} at the end)"));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Runs <paramref name="phase"/> and says where the server's and this process's CPU went meanwhile, by thread name.</summary>
    private static async Task<(T Result, (string Server, string Generator) Cpu)> WithThreadCpuAsync<T>(int serverPid, Func<Task<T>> phase)
    {
        var server = ThreadCpu.Read(serverPid);
        var generator = ThreadCpu.Read(Environment.ProcessId);
        var clock = Stopwatch.StartNew();
        var result = await phase();
        var elapsed = clock.Elapsed;
        return (result, (ThreadCpu.Describe(ThreadCpu.Read(serverPid).Since(server), elapsed), ThreadCpu.Describe(ThreadCpu.Read(Environment.ProcessId).Since(generator), elapsed, top: 3)));
    }

    /// <summary>
    /// A batch shaped like an old client's first read of a long session: 2,400 turns and 400 corrections are just under
    /// the 8 MB limit; fewer make the smaller floods that must not slip under the large-batch pacing.
    /// </summary>
    private static byte[] FloodBody(int turns, int corrections)
    {
        var text = string.Concat(Enumerable.Repeat("no, that's wrong: the report must use the company template and not the default one. ", 22));
        var session = "flood-template";
        var batch = new SignalBatch("claude", session, "flood@example.com", 0, new SessionCursor("claude", session, 1_000_000, "pdf", null),
            [.. Enumerable.Range(0, turns).Select(i => new UserTurn($"t{i}", text, null))],
            [.. Enumerable.Range(0, corrections).Select(i => new DetectedCorrection($"t{i}", text, Pattern, "pdf", null, 0.9, null, [new ContextTurn("assistant", text)]))]);
        return JsonSerializer.SerializeToUtf8Bytes(batch, HooksJsonContext.Default.SignalBatch);
    }

    private static async Task<(long Accepted, long Refused, long Failed, string? LastFailure)> FloodClientAsync(HttpClient http, byte[] template, int index, CancellationToken stop) =>
        await FloodClientAsync(http, template, index, int.MaxValue, stop);

    private static async Task<(long Accepted, long Refused, long Failed, string? LastFailure)> FloodClientAsync(HttpClient http, byte[] template, int index, int rounds, CancellationToken stop)
    {
        long accepted = 0, refused = 0, failed = 0;
        string? lastFailure = null;
        var placeholder = Encoding.UTF8.GetBytes("flood-template");
        for (var round = 0; round < rounds && !stop.IsCancellationRequested; round++)
        {
            // A new session each time (same length as the template's id), so every batch is stored, not a cursor conflict.
            var body = (byte[])template.Clone();
            var id = Encoding.UTF8.GetBytes(Invariant($"f{index:D2}-{round:D10}"));
            for (var at = body.AsSpan().IndexOf(placeholder); at >= 0; at = body.AsSpan().IndexOf(placeholder))
            {
                id.CopyTo(body, at);
            }

            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            try
            {
                // Not cancelled at the stop: a batch under way is finished, so the large-batch threads' CPU divides by
                // whole batches.
                using var response = await http.PostAsync("/api/v1/signals", content, CancellationToken.None);
                if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    refused++;
                    await Task.Delay(TimeSpan.FromMilliseconds(50), stop); // a flood, not a busy loop on 429s
                }
                else if (response.IsSuccessStatusCode)
                {
                    accepted++;
                }
                else
                {
                    failed++;
                    lastFailure = Invariant($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (HttpRequestException ex)
            {
                failed++;
                lastFailure = ex.Message;
            }
        }

        return (accepted, refused, failed, lastFailure);
    }

    /// <summary>One client posting one-correction batches in a row; returns its latencies, sorted.</summary>
    private static async Task<List<double>> QuietAsync(HttpClient http, string run, TimeSpan duration)
    {
        var clock = Stopwatch.StartNew();
        var result = await ClientAsync(http, "quiet-" + run, 0, clock, duration);
        return [.. result.Latencies.Order()];
    }

    /// <summary>RSS of the idle server once MiniLM is loaded: it loads on first use, so a few signals are clustered first.</summary>
    private static async Task IdleAsync(BenchServer server, HttpClient admin, HttpClient ingest)
    {
        (await admin.GetAsync("/api/v1/status")).EnsureSuccessStatusCode();
        const string skill = "bench-warmup";
        const int signals = 5;
        for (var i = 0; i < signals; i++)
        {
            // One user: the warm-up cluster never reaches the evidence threshold, so no proposal work follows it.
            await PostCorrectionAsync(ingest, skill, "warmup@example.com", $"{LoadTexts[i]} (warm-up {i})");
        }

        var clock = Stopwatch.StartNew();
        await WaitAsync(async () => (await ClustersAsync(admin, skill)).Sum(c => c.GetProperty("signalCount").GetInt64()) == signals, "the warm-up signals to be clustered");
        var clustered = clock.Elapsed; // read now: the idle wait below is not part of it
        var status = await admin.GetFromJsonAsync<JsonElement>("/api/v1/status");
        var embeddings = status.GetProperty("embeddings");
        // Idle: nothing queued, and time for the runners to settle and the GC to give back what the first batch used.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var rss = server.Memory();
        Console.WriteLine(Invariant($"RSS idle: {rss} with {embeddings.GetProperty("provider").GetString()}/{embeddings.GetProperty("model").GetString()} loaded ({signals} warm-up signals clustered {clustered.TotalSeconds:F1} s after posting, the model's load included, then 5 s idle) — goal <= 300 MB: {Verdict(rss.Total <= 300)}"));
    }

    /// <summary>
    /// A registry with the skill, two users' corrections already clustered, then the clock runs from the third user's
    /// POST until the proposal is listed for review.
    /// </summary>
    private static async Task TimeToProposalAsync(string work, HttpClient admin, HttpClient ingest, int runs)
    {
        var skills = Enumerable.Range(1, runs).Select(i => $"bench-proposal-{i}").ToList();
        var remote = CreateSkillRepository(Path.Combine(work, "skills.git"), skills);
        var created = await admin.PostAsJsonAsync("/api/v1/registries", new { name = "bench", provider = "git", url = remote, branch = "main" });
        created.EnsureSuccessStatusCode();
        var registryId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("registry").GetProperty("id").GetInt64();
        await ScannedAsync(admin, registryId);

        var clustered = new List<double>();
        var ready = new List<double>();
        foreach (var skill in skills)
        {
            foreach (var (user, text) in SameProblem[..2])
            {
                await PostCorrectionAsync(ingest, skill, user, text);
            }

            await WaitAsync(async () => (await ClustersAsync(admin, skill)).Sum(c => c.GetProperty("signalCount").GetInt64()) == 2, "the first two signals to be clustered");
            var clock = Stopwatch.StartNew();
            await PostCorrectionAsync(ingest, skill, SameProblem[2].User, SameProblem[2].Text);
            double? clusteredAt = null;
            await WaitAsync(async () =>
            {
                if (clusteredAt is null && (await ClustersAsync(admin, skill)).Any(c => c.GetProperty("distinctUsers").GetInt64() >= 3))
                {
                    clusteredAt = clock.Elapsed.TotalSeconds;
                }

                var proposals = await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/proposals?state=review");
                return proposals!.Any(p => p.GetProperty("skill").GetString() == skill);
            }, $"a proposal for {skill}", poll: TimeSpan.FromMilliseconds(20));
            ready.Add(clock.Elapsed.TotalSeconds);
            clustered.Add(clusteredAt ?? clock.Elapsed.TotalSeconds);
        }

        Console.WriteLine(Invariant($"time to proposal: third user's correction POSTed -> proposal in review (heuristic extraction, MiniLM, git registry), {runs} runs: median {Median(ready):F2} s ({string.Join(", ", ready.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))} s); of which clustered after a median {Median(clustered):F2} s"));
    }

    private static async Task LoadAsync(BenchServer server, HttpClient admin, Options options)
    {
        using var handler = new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) };
        using var client = server.CreateClient(BenchServer.IngestToken, handler);
        var accepted = 0L;
        // The first seconds pay for JIT tiering and connection set-up: not counted.
        accepted += (await IngestAsync(server, client, 16, options.Warmup ?? TimeSpan.FromSeconds(2), "warm")).Signals;
        var overallPeak = default(ResidentMemory);
        foreach (var clients in options.Clients)
        {
            var result = await IngestAsync(server, client, clients, options.Duration, $"c{clients}");
            overallPeak = Max(overallPeak, result.PeakRss);
            accepted += result.Signals;
            var rate = result.Signals / result.Elapsed.TotalSeconds;
            var p99 = Percentile(result.LatenciesMs, 0.99);
            Console.WriteLine(Invariant($"ingest, {clients} concurrent clients x {result.Elapsed.TotalSeconds:F1} s (one signal per batch, keep-alive connections): {rate:N0} signals/s; latency p50 {Percentile(result.LatenciesMs, 0.5):F1} ms, p95 {Percentile(result.LatenciesMs, 0.95):F1} ms, p99 {p99:F1} ms, max {result.LatenciesMs.DefaultIfEmpty(0).Max():F0} ms; {result.Errors} errors of {result.Requests:N0} requests"));
            Console.WriteLine(Invariant($"  server CPU {result.ServerCpu.TotalSeconds / result.Elapsed.TotalSeconds:F2} cores on average (ingest + background extraction and clustering), load generator {result.GeneratorCpu.TotalSeconds / result.Elapsed.TotalSeconds:F2}; peak RSS {result.PeakRss.Total:F0} MB — goal >= 2,000 signals/s with p99 <= 50 ms: {Verdict(rate >= 2000 && p99 <= 50 && result.Errors == 0)}"));
        }

        // What was accepted is still being extracted and embedded: that work is part of "under load" too.
        using var sampler = new RssSampler(server);
        var cpu = server.CpuTime();
        var drain = Stopwatch.StartNew();
        var before = accepted - await ClusteredLoadSignalsAsync(admin);
        await Task.Delay(options.Drain);
        var after = accepted - await ClusteredLoadSignalsAsync(admin);
        overallPeak = Max(overallPeak, await sampler.StopAsync());
        var catchUp = (before - after) / drain.Elapsed.TotalSeconds;
        Console.WriteLine(Invariant($"pipeline: {before:N0} of the {accepted:N0} accepted signals were not yet extracted and clustered when the load stopped; {options.Drain.TotalSeconds:F0} s later {after:N0} ({catchUp:F0} signals/s extracted + clustered, server CPU {(server.CpuTime() - cpu).TotalSeconds / drain.Elapsed.TotalSeconds:F2} cores{(after > 0 && catchUp > 0 ? Invariant($"; about {after / catchUp:F0} s more to catch up") : "")})"));
        Console.WriteLine(Invariant($"RSS under load: peak {overallPeak} over the ingest runs and {options.Drain.TotalSeconds:F0} s of backlog processing; now {server.Memory()} — goal <= 500 MB: {Verdict(overallPeak.Total <= 500)}"));
    }

    /// <summary>
    /// <paramref name="clients"/> clients, each with its own user and sessions, each posting one correction per batch
    /// from its session's stored cursor (as the real client does after every Stop event), back to back.
    /// </summary>
    private static async Task<LoadResult> IngestAsync(BenchServer server, HttpClient http, int clients, TimeSpan duration, string run)
    {
        using var sampler = new RssSampler(server);
        var cpu = server.CpuTime();
        var ownCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var results = await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(() => ClientAsync(http, $"{run}-{c}", c, clock, duration))));
        var elapsed = clock.Elapsed;
        var serverCpu = server.CpuTime() - cpu;
        var generatorCpu = Process.GetCurrentProcess().TotalProcessorTime - ownCpu;
        var peak = await sampler.StopAsync();
        var latencies = results.SelectMany(r => r.Latencies).ToList();
        latencies.Sort();
        return new LoadResult(clients, elapsed, results.Sum(r => r.Requests), results.Sum(r => r.Signals), results.Sum(r => r.Errors), latencies, serverCpu, generatorCpu, peak);
    }

    private static async Task<(long Requests, long Signals, long Errors, List<double> Latencies)> ClientAsync(HttpClient http, string name, int index, Stopwatch clock, TimeSpan duration)
    {
        // A session is a few dozen Stop events; then the user starts another one.
        const int batchesPerSession = 25;
        var user = $"bench-{name}@example.com";
        var skill = LoadSkills[index % LoadSkills.Length];
        var latencies = new List<double>(4096);
        long requests = 0, signals = 0, errors = 0;
        var session = 0;
        var batch = 0;
        var offset = 0L;
        while (clock.Elapsed < duration)
        {
            if (batch == batchesPerSession)
            {
                session++;
                batch = 0;
                offset = 0;
            }

            var sessionId = $"bench-{name}-{session}";
            var turnId = $"t{batch}";
            var text = $"{LoadTexts[(index + batch) % LoadTexts.Length]} (client {name}, session {session}, turn {batch})";
            var next = offset + 200 + text.Length; // the bytes of the transcript lines this Stop event read
            var body = new SignalBatch("claude", sessionId, user, offset, new SessionCursor("claude", sessionId, next, skill, null),
                [new UserTurn(turnId, text, DateTimeOffset.UtcNow)],
                [new DetectedCorrection(turnId, text, Pattern, skill, null, 0.9, DateTimeOffset.UtcNow, [new ContextTurn("assistant", "Done, I ran npm install and committed.")])],
                Product: "claude-code", ClientVersion: "bench");
            using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, HooksJsonContext.Default.SignalBatch));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            var start = Stopwatch.GetTimestamp();
            requests++;
            try
            {
                using var response = await http.PostAsync("/api/v1/signals", content);
                var result = response.StatusCode == HttpStatusCode.OK
                    ? await response.Content.ReadFromJsonAsync(HooksJsonContext.Default.SignalBatchResult)
                    : null;
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (result is null)
                {
                    errors++;
                    session++; // a refused batch leaves the cursor where it was: start a fresh session rather than guess
                    batch = 0;
                    offset = 0;
                    continue;
                }

                signals += result.Accepted;
                offset = next;
                batch++;
            }
            catch (HttpRequestException)
            {
                errors++;
                session++;
                batch = 0;
                offset = 0;
            }
            catch (TaskCanceledException)
            {
                errors++;
                session++;
                batch = 0;
                offset = 0;
            }
        }

        return (requests, signals, errors, latencies);
    }

    internal static async Task PostCorrectionAsync(HttpClient ingest, string skill, string user, string text)
    {
        var session = Guid.NewGuid().ToString("N");
        var batch = new SignalBatch("claude", session, user, 0, new SessionCursor("claude", session, 100, skill, null),
            [new UserTurn("t1", text, null)], [new DetectedCorrection("t1", text, Pattern, skill, null, 0.9, null, [])]);
        (await ingest.PostAsJsonAsync("/api/v1/signals", batch, HooksJsonContext.Default.SignalBatch)).EnsureSuccessStatusCode();
    }

    private static async Task<JsonElement[]> ClustersAsync(HttpClient admin, string skill) =>
        (await admin.GetFromJsonAsync<JsonElement[]>($"/api/v1/clusters?skill={Uri.EscapeDataString(skill)}"))!;

    // Extraction jobs are created as the runner reaches a signal, so the status's queue lengths undercount a backlog:
    // what is not yet in a cluster is counted instead.
    private static async Task<long> ClusteredLoadSignalsAsync(HttpClient admin)
    {
        var clustered = 0L;
        foreach (var skill in LoadSkills)
        {
            clustered += (await ClustersAsync(admin, skill)).Sum(c => c.GetProperty("signalCount").GetInt64());
        }

        return clustered;
    }

    /// <summary>A bare repository with <c>skills/&lt;name&gt;/SKILL.md</c> per skill on <c>main</c>: the registry's remote.</summary>
    internal static string CreateSkillRepository(string path, IEnumerable<string> skills)
    {
        Repository.Init(path, isBare: true);
        using var repository = new Repository(path);
        var tree = new TreeDefinition();
        foreach (var skill in skills)
        {
            var text = $"---\nname: {skill}\ndescription: Reports with a totals row.\n---\n# Reports\n\nRender the table, then the totals row.\n";
            tree.Add($"skills/{skill}/SKILL.md", repository.ObjectDatabase.CreateBlob(new MemoryStream(Encoding.UTF8.GetBytes(text))), Mode.NonExecutableFile);
        }

        var author = new Signature("Skill Author", "author@example.test", DateTimeOffset.UtcNow);
        var commit = repository.ObjectDatabase.CreateCommit(author, author, "Skills", repository.ObjectDatabase.CreateTree(tree), [], prettifyMessage: true);
        repository.Refs.Add("refs/heads/main", commit.Id);
        repository.Refs.UpdateTarget("HEAD", "refs/heads/main");
        return path;
    }

    internal static async Task WaitAsync(Func<Task<bool>> done, string what, TimeSpan? poll = null)
    {
        var deadline = Stopwatch.StartNew();
        while (!await done())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(120))
            {
                throw new TimeoutException($"Gave up waiting for {what} after 120 s.");
            }

            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(50));
        }
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    internal static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    internal static string Verdict(bool met) => met ? "met" : "MISSED";

    internal static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";

    internal static string Invariant(FormattableString text) => FormattableString.Invariant(text);

    private static ResidentMemory Max(ResidentMemory a, ResidentMemory b) => b.Total > a.Total ? b : a;

    /// <summary>The server's resident set every 100 ms until stopped; the sample with the largest VmRSS.</summary>
    private sealed class RssSampler : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<ResidentMemory> _sampling;

        public RssSampler(BenchServer server) => _sampling = Task.Run(async () =>
        {
            var peak = server.Memory();
            while (!_stop.IsCancellationRequested)
            {
                peak = Max(peak, server.Memory());
                try
                {
                    await Task.Delay(100, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }

            return Max(peak, server.Memory());
        });

        public async Task<ResidentMemory> StopAsync()
        {
            await _stop.CancelAsync();
            return await _sampling;
        }

        public void Dispose() => _stop.Dispose();
    }

    /// <summary>Waits for the registry's scan to finish; a failed scan ends the benchmark with its message.</summary>
    internal static async Task ScannedAsync(HttpClient admin, long registryId) =>
        await WaitAsync(async () =>
        {
            var scan = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/registries/{registryId}/scan");
            return scan.GetProperty("phase").GetString() switch
            {
                "done" => true,
                "failed" => throw new InvalidOperationException($"The registry scan failed: {scan}"),
                _ => false,
            };
        }, "the registry scan");
}
