using System.Runtime.InteropServices;
using LLama.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SkillLoop.Core.Ai.Llama;

/// <summary>What the process knows about llama.cpp (LLamaSharp.Backend.Cpu).</summary>
/// <param name="Library">The native build LLamaSharp chose for this CPU (noavx, avx, avx2 or avx512), or the reason it could not load one.</param>
public sealed record LlamaBackendInfo(bool IsAvailable, string? Library, string? SystemInfo, string? Error);

/// <summary>
/// llama.cpp as LLamaSharp loads it: once per process (native libraries and LLamaSharp's configuration are
/// process-wide). Routes llama.cpp's own log to <see cref="ILogger"/> at Debug (it is chatty, and says nothing an
/// operator acts on that our own errors do not say), and lets a model load collect the errors llama.cpp logged, so
/// the error shown on Settings can say why a GGUF was refused.
/// </summary>
public static partial class LlamaBackend
{
    private static readonly Lock Gate = new();
    private static LlamaBackendInfo? _info;
    private static ILogger _logger = NullLogger.Instance;

    /// <summary>llama.cpp errors logged on this thread while <see cref="CaptureErrors"/> is active (model loading runs on the caller's thread).</summary>
    [ThreadStatic]
    private static List<string>? _capturedErrors;

    /// <summary>The result of the first initialization, or null before any.</summary>
    public static LlamaBackendInfo? Current => _info;

    /// <summary>
    /// Loads llama.cpp once; never throws. Later calls return the first result; a logger given later replaces the
    /// one llama.cpp's log goes to (the process has one llama.cpp, and one log for it).
    /// </summary>
    public static LlamaBackendInfo TryInitialize(ILogger? logger = null)
    {
        lock (Gate)
        {
            if (logger is not null)
            {
                _logger = logger;
            }

            if (_info is not null)
            {
                return _info;
            }

            _info = Load();
            if (_info.IsAvailable)
            {
                LogLoaded(_logger, _info.Library ?? "?");
            }
            else
            {
                LogUnavailable(_logger, _info.Error ?? "?");
            }

            return _info;
        }
    }

    /// <summary>Throws a clear error when llama.cpp could not be loaded.</summary>
    public static LlamaBackendInfo EnsureInitialized(ILogger? logger = null)
    {
        var info = TryInitialize(logger);
        return info.IsAvailable ? info : throw new InvalidOperationException($"llama.cpp is not available: {info.Error}");
    }

    /// <summary>Collects the errors llama.cpp logs on this thread until disposed.</summary>
    internal static ErrorCapture CaptureErrors() => new();

    private static LlamaBackendInfo Load()
    {
        try
        {
            if (!NativeLibraryConfig.LLama.LibraryHasLoaded)
            {
                // Before the first native call: llama.cpp logs while it loads its CPU backend.
                NativeLibraryConfig.All.WithLogCallback(OnNativeLog);
            }

            // The first call loads the library LLamaSharp picks for this CPU and initialises the backend.
            var systemInfo = Marshal.PtrToStringUTF8(NativeApi.llama_print_system_info())?.Trim();
            var library = NativeApi.GetLoadedNativeLibrary(NativeLibraryName.LLama)?.Metadata is { } metadata
                ? "CPU " + metadata.AvxLevel.ToString().ToLowerInvariant()
                : null;
            return new(true, library, systemInfo, null);
        }
        catch (Exception ex) when (ex is TypeInitializationException or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or LLama.Exceptions.RuntimeError)
        {
            return new(false, null, null, (ex.InnerException ?? ex).Message.Split('\n')[0].Trim());
        }
    }

    private static void OnNativeLog(LLamaLogLevel level, string message)
    {
        try
        {
            message = message.TrimEnd();
            if (message.Length == 0)
            {
                return;
            }

            if (level == LLamaLogLevel.Error)
            {
                _capturedErrors?.Add(message);
            }

            LogNative(_logger, level.ToString(), message);
        }
        catch
        {
            // An exception must never unwind into native code.
        }
    }

    internal sealed class ErrorCapture : IDisposable
    {
        private readonly List<string>? _outer = _capturedErrors;
        private readonly List<string> _errors = [];

        public ErrorCapture() => _capturedErrors = _errors;

        public IReadOnlyList<string> Errors => _errors;

        public void Dispose() => _capturedErrors = _outer;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "llama.cpp loaded (LLamaSharp, {Library})")]
    private static partial void LogLoaded(ILogger logger, string library);

    [LoggerMessage(Level = LogLevel.Warning, Message = "llama.cpp unavailable: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "llama.cpp ({Level}): {Message}")]
    private static partial void LogNative(ILogger logger, string level, string message);
}
