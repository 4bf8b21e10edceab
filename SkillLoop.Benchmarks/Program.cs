using System.Diagnostics;
using System.Globalization;
using SkillLoop.Benchmarks;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Transcripts;

// Usage: dotnet run -c Release --project SkillLoop.Benchmarks [-- --mb 200 --runs 25 --exe path/to/skillloop-client --single-file path/to/skillloop-client]
//        … -- train-detector [CORPUS_DIR…] [--out DIR]   (trains the learned detector; default benchmarks/data/corrections)
//        … -- detector [CORPUS_DIR…]                     (its held-out test-split figures beside the regex detector)
//        … -- knn [--knn 100000] | clustering | backlog [--mb 250 --exe path/to/skillloop-client | --in-process] | server [--clients 16,64 --seconds 10 --drain 10 --proposals 3 --web path/to/SkillLoop.Web.dll]
//        … -- flood [--seconds 10 --turns 2400 --corrections 400 (the flood's batch: ~6.5 MB) --web path/to/SkillLoop.Web.dll] [--profile: only the in-process CPU and allocation profile of one batch]
//        … -- ingest-write [--writers 1,16,64 --seconds 5]   (ingest's write path in process: signals/s, CPU µs per signal)
//        … -- replay [--corrections 8 --proposals 50]          (replay before review: cost per correction, tiny GGUF and no model)
//        … -- pages [--runs 20 --signals 100000 --clusters 10000 --proposals 500 --data DIR (seed once, reuse) --web path/to/SkillLoop.Web.dll]
//        … -- merge [--runs 5 --web path/to/SkillLoop.Web.dll]   (merge on a plain git remote -> merged after a scan)
//        … -- pooling-experiment [--grid] [--set FILE]   (experiment: MiniLM token pooling, plain mean vs SIF/IDF, on a set to choose on: the labelled set by default)
//        … -- confirm-experiment [CORPUS_DIR…]          (experiment: MiniLM vectors beside the client's score as a server-side confirmation, out of fold on train+dev)
//        … -- ai [--quick] [--redactor | --llama]         (MiniLM, redactor, heuristic extraction, llama.cpp on the tiny GGUF)
// `bash benchmarks/run` runs every mode in turn.
var options = args.Select((a, i) => (a, i)).Where(x => x.a.StartsWith("--")).ToDictionary(x => x.a[2..], x => x.i + 1 < args.Length ? args[x.i + 1] : "");
var megabytes = int.Parse(options.GetValueOrDefault("mb", "200"));
var runs = int.Parse(options.GetValueOrDefault("runs", "25"));
var exe = options.GetValueOrDefault("exe") ?? FindPublishedClient();

if (args.FirstOrDefault() == "train-detector")
{
    Environment.Exit(SkillLoop.Benchmarks.DetectorTraining.DetectorCommands.Train(args, FindRepositoryRoot()));
}

if (args.FirstOrDefault() == "confirm-experiment")
{
    Environment.Exit(await SkillLoop.Benchmarks.DetectorTraining.ConfirmExperiment.RunAsync(args, FindRepositoryRoot()));
}

if (args.FirstOrDefault() == "detector")
{
    Environment.Exit(SkillLoop.Benchmarks.DetectorTraining.DetectorCommands.Benchmark(args, FindRepositoryRoot()));
}

if (args.FirstOrDefault() == "pooling-experiment")
{
    PoolingExperiment.Run(FindRepositoryRoot(), args.Contains("--grid"), options.GetValueOrDefault("set") is { Length: > 0 } set ? set : "labelled-issues.json");
    return;
}

if (args.FirstOrDefault() == "ai")
{
    await AiBenchmarks.RunAsync(args);
    return;
}

if (args.Contains("knn"))
{
    await ClusteringBenchmarks.KnnAsync(int.Parse(options.GetValueOrDefault("knn", "100000")));
    return;
}

if (args.Contains("server"))
{
    await ServerBenchmarks.RunAsync(new ServerBenchmarks.Options(
        options.GetValueOrDefault("web") ?? FindWebDll(),
        options.GetValueOrDefault("clients", "16,64").Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToList(),
        TimeSpan.FromSeconds(double.Parse(options.GetValueOrDefault("seconds", "10"), CultureInfo.InvariantCulture)),
        TimeSpan.FromSeconds(double.Parse(options.GetValueOrDefault("drain", "10"), CultureInfo.InvariantCulture)),
        int.Parse(options.GetValueOrDefault("proposals", "3"), CultureInfo.InvariantCulture),
        Warmup: TimeSpan.FromSeconds(double.Parse(options.GetValueOrDefault("warmup", "2"), CultureInfo.InvariantCulture))));
    return;
}

if (args.FirstOrDefault() == "ingest-write")
{
    await IngestWriteBenchmark.RunAsync(
        options.GetValueOrDefault("writers", "1,16,64").Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToList(),
        TimeSpan.FromSeconds(double.Parse(options.GetValueOrDefault("seconds", "5"), CultureInfo.InvariantCulture)));
    return;
}

if (args.Contains("pages"))
{
    await PagesBenchmark.RunAsync(new PagesBenchmark.Options(
        options.GetValueOrDefault("web") ?? FindWebDll(),
        int.Parse(options.GetValueOrDefault("runs", "20"), CultureInfo.InvariantCulture),
        int.Parse(options.GetValueOrDefault("signals", "100000"), CultureInfo.InvariantCulture),
        int.Parse(options.GetValueOrDefault("clusters", "10000"), CultureInfo.InvariantCulture),
        int.Parse(options.GetValueOrDefault("proposals", "500"), CultureInfo.InvariantCulture),
        options.GetValueOrDefault("data")));
    return;
}

if (args.Contains("backlog"))
{
    // The published AOT client's worker as its own process (what users run); in this process only without one.
    await BacklogBenchmark.RunAsync(int.Parse(options.GetValueOrDefault("mb", "250"), CultureInfo.InvariantCulture),
        args.Contains("--in-process") ? null : options.GetValueOrDefault("exe") ?? FindPublishedClient());
    return;
}

if (args.Contains("flood"))
{
    await ServerBenchmarks.FloodAsync(new ServerBenchmarks.Options(
        options.GetValueOrDefault("web") ?? FindWebDll(), [],
        TimeSpan.FromSeconds(double.Parse(options.GetValueOrDefault("seconds", "10"), CultureInfo.InvariantCulture)), TimeSpan.Zero, 0,
        ProfileOnly: args.Contains("--profile"),
        FloodTurns: int.Parse(options.GetValueOrDefault("turns", "2400"), CultureInfo.InvariantCulture),
        FloodCorrections: int.Parse(options.GetValueOrDefault("corrections", "400"), CultureInfo.InvariantCulture)));
    return;
}

if (args.FirstOrDefault() == "replay")
{
    await ReplayBenchmark.RunAsync(int.Parse(options.GetValueOrDefault("corrections", "8"), CultureInfo.InvariantCulture),
        int.Parse(options.GetValueOrDefault("proposals", "50"), CultureInfo.InvariantCulture));
    return;
}

if (args.Contains("merge"))
{
    await MergeBenchmark.RunAsync(options.GetValueOrDefault("web") ?? FindWebDll(), int.Parse(options.GetValueOrDefault("runs", "5"), CultureInfo.InvariantCulture));
    return;
}

if (args.Contains("clustering"))
{
    // --knn 0: the quality figures only (threshold sweep, arrival order), without the KNN and throughput runs.
    await ClusteringBenchmarks.RunAsync(FindRepositoryRoot(), int.Parse(options.GetValueOrDefault("knn", "100000")), int.Parse(options.GetValueOrDefault("issues", "10000")));
    return;
}

var work = Directory.CreateTempSubdirectory("skillloop-bench-");
try
{
    Console.WriteLine("SkillLoop client benchmarks");
    Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
    Console.WriteLine();
    Detection(work.FullName, megabytes);
    Console.WriteLine();
    HookStartup(work.FullName, exe, runs, options.GetValueOrDefault("single-file"));
}
finally
{
    work.Delete(recursive: true);
}

static void Detection(string dir, int megabytes)
{
    var path = Path.Combine(dir, "large.jsonl");
    var bytes = TranscriptGenerator.Write(path, megabytes * 1_000_000L);
    var detector = new CorrectionDetector(DefaultPatterns.All);
    var reader = new ClaudeTranscriptReader();
    var rates = new List<double>();
    var corrections = 0;
    var humanTurns = 0;
    for (var run = 0; run < 5; run++)
    {
        var clock = Stopwatch.StartNew();
        var read = reader.Read(path, 0);
        var analysis = new SessionAnalyzer(new TwoStageDetector(detector)).Analyze(read.Turns, ActiveSkill.None);
        clock.Stop();
        corrections = analysis.Corrections.Count;
        humanTurns = analysis.Turns.Count;
        rates.Add(bytes / 1e6 / clock.Elapsed.TotalSeconds);
    }
    rates.Sort();
    Console.WriteLine($"detection: {bytes / 1e6:F0} MB generated Claude transcript, {humanTurns} human turns, {corrections} corrections");
    Console.WriteLine($"  read + detect, one core: median {rates[rates.Count / 2]:F0} MB/s (best {rates[^1]:F0}, worst {rates[0]:F0}; goal >= 100 MB/s)");

    // What the worker adds before posting: the secret redactor over every free-text field of what is sent. The
    // redactor alone is timed over every turn's text (what the server redacts at most: an old client's whole session).
    var withRedaction = new List<double>();
    var texts = reader.Read(path, 0).Turns.Select(t => t.Text).Where(t => t.Length > 0).ToList();
    var textBytes = texts.Sum(t => (long)System.Text.Encoding.UTF8.GetByteCount(t));
    var redactor = new List<double>();
    for (var run = 0; run < 5; run++)
    {
        var clock = Stopwatch.StartNew();
        var read = reader.Read(path, 0);
        var analysis = new SessionAnalyzer(detector).Analyze(read.Turns, ActiveSkill.None);
        SkillLoop.Hooks.Extraction.BatchRedaction.Redact(new SkillLoop.Hooks.Contracts.SignalBatch(
            "claude", "bench", "bench@example.com", 0, new SkillLoop.Hooks.Contracts.SessionCursor("claude", "bench", bytes, null, null), [], analysis.Corrections));
        clock.Stop();
        withRedaction.Add(bytes / 1e6 / clock.Elapsed.TotalSeconds);

        clock.Restart();
        foreach (var text in texts)
        {
            SkillLoop.Hooks.Extraction.SecretRedactor.Redact(text);
        }

        redactor.Add(textBytes / 1e6 / clock.Elapsed.TotalSeconds);
    }
    withRedaction.Sort();
    redactor.Sort();
    Console.WriteLine($"  read + detect + redact what is sent, one core: median {withRedaction[withRedaction.Count / 2]:F0} MB/s");
    Console.WriteLine($"  the redactor alone over every turn's text ({textBytes / 1e6:F0} MB): median {redactor[redactor.Count / 2]:F1} MB/s (best {redactor[^1]:F1})");
}

static void HookStartup(string dir, string? exe, int runs, string? singleFile)
{
    if (exe is null || !File.Exists(exe))
    {
        Console.WriteLine("hook: no published client found; run `dotnet publish SkillLoop.Hooks -c Release -r linux-x64` or pass --exe");
        return;
    }
    var transcript = Path.Combine(dir, "hook.jsonl");
    File.WriteAllText(transcript, """{"type":"user","uuid":"u1","sessionId":"s1","message":{"role":"user","content":"no, that's wrong"}}""" + "\n");
    var payload = $$"""{"session_id":"s1","transcript_path":"{{transcript}}","cwd":"{{dir}}","hook_event_name":"Stop","stop_hook_active":false}""";
    // A loopback stand-in that refuses the token: each detached worker stops at its first request and nothing leaves the
    // machine. (A closed port made them retry for the worker's 10-minute window, dozens at once, after the benchmark.)
    using var refusing = RefusingServer.Start();
    string[] hookArgs = ["hook", "claude", "--url", $"http://127.0.0.1:{refusing.Port}/", "--token", "bench"];

    var hook = new List<double>();
    var python = new List<double>();
    for (var run = 0; run < runs + 2; run++)
    {
        var h = Time(exe, hookArgs, payload, dir);
        var p = Time("python3", ["-c", "import json,sys,urllib.request,subprocess,re"], "", dir);
        if (run < 2)
            continue; // warm the page cache for both
        hook.Add(h);
        if (p >= 0)
            python.Add(p);
    }
    hook.Sort();
    python.Sort();
    var hookMedian = hook[hook.Count / 2];
    Console.WriteLine($"hook: `skillloop-client hook claude` (AOT) with a Stop payload on stdin, {runs} runs");
    Console.WriteLine($"  median {hookMedian:F1} ms (min {hook[0]:F1}, max {hook[^1]:F1}; goal <= 15 ms)");
    // Every agent's hook as its installer writes it, with a payload of its shape: the goal holds for each of them.
    var url = $"http://127.0.0.1:{refusing.Port}/";
    (string Agent, string[] Arguments, string Stdin)[] agents =
    [
        ("copilot", ["hook", "copilot", "--url", url, "--token", "bench"], """{"sessionId":"s1","timestamp":1,"cwd":"/tmp","stopReason":"end_turn"}"""),
        ("vscode", ["hook", "vscode", "--url", url, "--token", "bench"], $$"""{"sessionId":"s1","transcript_path":"{{transcript}}","hookEventName":"Stop","cwd":"{{dir}}"}"""),
        ("cursor", ["hook", "cursor", "--url", url, "--token", "bench"], $$"""{"conversation_id":"c1","generation_id":"g1","hook_event_name":"stop","workspace_roots":["{{dir}}"]}"""),
        ("cline", ["hook", "cline", "--url", url, "--token", "bench"], """{"taskId":"t1","hookName":"TaskComplete","sessionContext":{"rootSessionId":"s1"}}"""),
        ("codex (notify, JSON as an argument)", ["hook", "codex", "--notify", "--url", url, "--token", "bench",
            """{"type":"agent-turn-complete","thread-id":"t1","turn-id":"u1","cwd":"/tmp"}"""], ""),
    ];
    foreach (var (agent, arguments, stdin) in agents)
    {
        Console.WriteLine($"  {agent}: {Spaced(exe, arguments, stdin)}");
    }
    // What macOS and Windows users get (build/clients.sh cannot build Native AOT for them): the same kind of build for
    // this host, made by `SKILLLOOP_CLIENT_SINGLE_FILE=1 build/clients.sh DIR linux-x64` (benchmarks/run does).
    if (singleFile is not null)
    {
        Console.WriteLine($"  claude, single file (ReadyToRun, uncompressed: how clients.sh builds the macOS and Windows clients): {Spaced(singleFile, hookArgs, payload)}");
    }

    string Spaced(string client, string[] arguments, string stdin)
    {
        var times = new List<double>();
        for (var run = 0; run < runs + 2; run++)
        {
            var t = Time(client, arguments, stdin, dir);
            if (run >= 2)
                times.Add(t);
            // The detached worker each hook starts runs on after it returns; timed back to back, the next hook would
            // share the cores with it (the claude runs above have python's start-up between them).
            Thread.Sleep(400);
        }
        times.Sort();
        return $"median {times[times.Count / 2]:F1} ms (min {times[0]:F1}, max {times[^1]:F1})";
    }
    if (python.Count == 0)
    {
        Console.WriteLine("  python3 not found: no comparison");
        return;
    }
    var pythonMedian = python[python.Count / 2];
    Console.WriteLine($"  python3 -c \"import json,sys,urllib.request,subprocess,re\": median {pythonMedian:F1} ms (min {python[0]:F1})");
    Console.WriteLine($"  ratio hook / python start-up: {hookMedian / pythonMedian:F2} (goal <= 0.1)");
}

static double Time(string file, string[] arguments, string stdin, string dir)
{
    var start = new ProcessStartInfo(file, arguments)
    {
        RedirectStandardInput = true,
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        UseShellExecute = false,
        WorkingDirectory = dir,
    };
    start.Environment["HOME"] = dir;
    try
    {
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return clock.Elapsed.TotalMilliseconds;
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return -1;
    }
}

static string? FindPublishedClient()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "SkillLoop.Hooks", "bin", "Release", "net10.0", "linux-x64", "publish", "skillloop-client");
        if (File.Exists(candidate))
            return candidate;
    }
    return null;
}

// The server of this benchmark's own configuration; the project reference builds it with the benchmark.
static string FindWebDll()
{
    var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<Configuration>/net10.0
    var dll = Path.Combine(FindRepositoryRoot(), "SkillLoop.Web", "bin", configuration, "net10.0", "SkillLoop.Web.dll");
    return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build the server first: dotnet build -c {configuration} SkillLoop.Web", dll);
}

static string FindRepositoryRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "SkillLoop.sln")))
            return dir.FullName;
    }
    throw new InvalidOperationException("SkillLoop.sln not found above the benchmark's folder.");
}

/// <summary>Answers every HTTP request on a loopback port with 401 and closes the connection.</summary>
sealed class RefusingServer : IDisposable
{
    private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);

    private RefusingServer() => _listener.Start();

    public int Port => ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;

    public static RefusingServer Start()
    {
        var server = new RefusingServer();
        _ = Task.Run(server.AcceptAsync);
        return server;
    }

    private async Task AcceptAsync()
    {
        var answer = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray();
        while (true)
        {
            System.Net.Sockets.TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync();
            }
            catch (Exception e) when (e is ObjectDisposedException or System.Net.Sockets.SocketException)
            {
                return; // disposed
            }

            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        var stream = client.GetStream();
                        var buffer = new byte[8192];
                        _ = await stream.ReadAsync(buffer); // the request line and headers; the answer does not depend on them
                        await stream.WriteAsync(answer);
                    }
                    catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                    {
                        // The worker went away first.
                    }
                }
            });
        }
    }

    public void Dispose() => _listener.Stop();
}
