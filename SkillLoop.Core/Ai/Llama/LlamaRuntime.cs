using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SkillLoop.Core.Ai.Llama.Native;

namespace SkillLoop.Core.Ai.Llama;

/// <summary>What the process knows about its llama.cpp libraries.</summary>
public sealed record LlamaRuntimeInfo(bool IsAvailable, string Directory, string? Version, string? SystemInfo, string? Error);

/// <summary>
/// Loads llama.cpp's libraries (from the npm package the build copies to <c>native/llama/</c>) once per process,
/// loads its CPU backend and runs <see cref="LlamaSelfCheck"/>. Native libraries and the import resolver are
/// process-wide, so this is static: the first directory given wins.
/// </summary>
public static unsafe partial class LlamaRuntime
{
    /// <summary>The versioned file names of npm @node-llama-cpp/linux-x64 3.22.1; default probing cannot find them.</summary>
    public const string LlamaFileName = "libllama.v0.5.0.so";

    public const string GgmlFileName = "libggml.v0.5.0.so";

    /// <summary>The llama.cpp build the binding's struct layouts were verified against.</summary>
    public const string ExpectedVersion = "0.5.0";

    private static readonly Lock Gate = new();
    private static LlamaRuntimeInfo? _info;
    private static nint _llama;
    private static nint _ggml;
    private static ILogger _logger = NullLogger.Instance;

    public static string DefaultDirectory => Path.Combine(AppContext.BaseDirectory, "native", "llama");

    /// <summary>The result of the first initialization, or null before any.</summary>
    public static LlamaRuntimeInfo? Current => _info;

    /// <summary>Loads the libraries once; never throws. Later calls return the first result.</summary>
    public static LlamaRuntimeInfo TryInitialize(string? directory = null, ILogger? logger = null)
    {
        lock (Gate)
        {
            if (_info is not null)
            {
                return _info;
            }

            directory = Path.GetFullPath(directory ?? DefaultDirectory);
            _logger = logger ?? NullLogger.Instance;
            _info = Load(directory);
            if (_info.IsAvailable)
            {
                LogLoaded(_logger, _info.Version ?? "?", directory);
            }
            else
            {
                LogUnavailable(_logger, directory, _info.Error ?? "?");
            }

            return _info;
        }
    }

    /// <summary>Throws a clear error when llama.cpp could not be loaded.</summary>
    public static LlamaRuntimeInfo EnsureInitialized(string? directory = null, ILogger? logger = null)
    {
        var info = TryInitialize(directory, logger);
        return info.IsAvailable
            ? info
            : throw new InvalidOperationException($"llama.cpp is not available from {info.Directory}: {info.Error}");
    }

    private static LlamaRuntimeInfo Load(string directory)
    {
        var llamaPath = Path.Combine(directory, LlamaFileName);
        var ggmlPath = Path.Combine(directory, GgmlFileName);
        if (!File.Exists(llamaPath) || !File.Exists(ggmlPath))
        {
            return new(false, directory, null, null, $"{LlamaFileName} not found (the build fetches it with npm; was npm unavailable?)");
        }

        try
        {
            // ggml first: libllama's RUNPATH ($ORIGIN) finds it anyway, but the handle is needed for the resolver.
            _ggml = NativeLibrary.Load(ggmlPath);
            _llama = NativeLibrary.Load(llamaPath);
            NativeLibrary.SetDllImportResolver(typeof(LlamaRuntime).Assembly, Resolve);

            LlamaNative.LogSet(&OnNativeLog, 0);
            // No CPU backend is registered by itself: without this, model loads fail with "no backends are loaded".
            LlamaNative.GgmlBackendLoadAllFromPath(directory);
            LlamaNative.BackendInit();

            var version = Marshal.PtrToStringUTF8(LlamaNative.Version());
            var systemInfo = Marshal.PtrToStringUTF8(LlamaNative.PrintSystemInfo())?.Trim();
            var problems = LlamaSelfCheck.Run(version);
            if (problems.Count > 0)
            {
                return new(false, directory, version, systemInfo,
                    "native library does not match the binding (refusing to call it): " + string.Join("; ", problems));
            }

            if (string.IsNullOrEmpty(systemInfo) || !systemInfo.Contains("CPU", StringComparison.Ordinal))
            {
                return new(false, directory, version, systemInfo, "no CPU backend could be loaded (libggml-cpu-*.so missing?)");
            }

            return new(true, directory, version, systemInfo, null);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or InvalidOperationException)
        {
            return new(false, directory, null, null, ex.Message);
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) => name switch
    {
        LlamaNative.Llama => _llama,
        LlamaNative.Ggml => _ggml,
        _ => 0,
    };

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static void OnNativeLog(int level, byte* text, nint userData)
    {
        try
        {
            // ggml levels: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continuation. Model loading is chatty at
            // info level; only errors are worth more than Debug.
            var message = Marshal.PtrToStringUTF8((nint)text)?.TrimEnd();
            if (string.IsNullOrEmpty(message))
            {
                return;
            }

            if (level == 4)
            {
                LogNativeError(_logger, message);
            }
            else
            {
                LogNative(_logger, message);
            }
        }
        catch
        {
            // An exception must never unwind into native code.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "llama.cpp {Version} loaded from {Directory}")]
    private static partial void LogLoaded(ILogger logger, string version, string directory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "llama.cpp unavailable from {Directory}: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string directory, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "llama.cpp: {Message}")]
    private static partial void LogNativeError(ILogger logger, string message);

    [LoggerMessage(Level = LogLevel.Debug, Message = "llama.cpp: {Message}")]
    private static partial void LogNative(ILogger logger, string message);
}
