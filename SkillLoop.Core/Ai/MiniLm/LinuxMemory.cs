using System.Runtime.InteropServices;

namespace SkillLoop.Core.Ai.MiniLm;

/// <summary>
/// Keeps the server's resident memory to what it uses (one small container: 300 MB idle, 500 MB under load).
/// ONNX Runtime allocates each batch's tensors with glibc's malloc; by default freed blocks stay in the process.
/// Linux with glibc only; elsewhere, and if libc cannot be called, everything here does nothing.
/// </summary>
internal static partial class LinuxMemory
{
    private const int TrimThreshold = -1; // M_TRIM_THRESHOLD
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD
    private const int DontNeed = 4; // MADV_DONTNEED

    // SKILLLOOP_MEMORY_TUNING=0 leaves glibc's defaults (faster batches, higher peak memory).
    private static readonly bool Available = OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("SKILLLOOP_MEMORY_TUNING") != "0";

    /// <summary>Blocks of 128 KB and more are mapped and unmapped on their own (not kept in the heap); the heap's top is returned above 1 MB free.</summary>
    public static void ReturnLargeBlocks() => Try(() =>
    {
        _ = Mallopt(MmapThreshold, 128 * 1024);
        _ = Mallopt(TrimThreshold, 1024 * 1024);
    });

    /// <summary>Gives the free memory of every malloc arena back to the OS.</summary>
    public static void Trim() => Try(() => _ = MallocTrim(0));

    /// <summary>
    /// Drops the resident pages of read-only data mapped from a file (they are read again if touched). Only whole
    /// pages inside the range are dropped, so nothing next to it is affected.
    /// </summary>
    public static unsafe void DropPages(byte* start, long length) => Try(() =>
    {
        var page = Environment.SystemPageSize;
        var first = ((nint)start + page - 1) / page * page;
        var end = ((nint)start + (nint)length) / page * page;
        if (end > first)
        {
            _ = Madvise(first, (nuint)(end - first), DontNeed);
        }
    });

    private static void Try(Action call)
    {
        if (!Available)
        {
            return;
        }

        try
        {
            call();
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl, say): memory stays as the allocator keeps it.
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "mallopt")]
    private static partial int Mallopt(int param, int value);

    [LibraryImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    [LibraryImport("libc.so.6", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
