using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace SkillLoop.Hooks.Hook;

/// <summary>
/// Reads the hook's payload from file descriptor 0 on Linux and macOS without another thread: poll(2) bounds each
/// wait, so an agent that never closes stdin (or never writes) costs at most the timeout. Reading stops at end of
/// input or at the end of the first complete JSON value, whichever comes first.
/// </summary>
internal static class PayloadInput
{
    /// <summary>False when this platform cannot (the caller reads on a task instead).</summary>
    public static bool TryRead(int maxBytes, TimeSpan timeout, out string payload)
    {
        payload = "";
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            return false;
        try
        {
            payload = Read(maxBytes, timeout);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>True when <paramref name="utf8"/> holds one whole JSON value (and nothing but whitespace after it).</summary>
    public static bool IsCompleteJson(ReadOnlySpan<byte> utf8)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8, isFinalBlock: true, state: default);
            if (!reader.Read())
                return false;
            reader.Skip();
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Read(int maxBytes, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var buffer = new byte[16 * 1024];
        var length = 0;
        while (length < maxBytes)
        {
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
                return ""; // as before: an unfinished payload is no payload
            var descriptor = new PollDescriptor(StandardInput, PollIn);
            var ready = poll(ref descriptor, 1, (int)Math.Ceiling(left.TotalMilliseconds));
            if (ready < 0 && Marshal.GetLastPInvokeError() == Interrupted)
                continue;
            if (ready == 0)
                return "";
            if (ready < 0)
                break;
            if (length == buffer.Length)
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, maxBytes));
            var handle = GCHandle.Alloc(buffer, GCHandleType.Pinned);
            nint n;
            try
            {
                n = read(StandardInput, handle.AddrOfPinnedObject() + length, buffer.Length - length);
            }
            finally
            {
                handle.Free();
            }
            if (n < 0 && Marshal.GetLastPInvokeError() == Interrupted)
                continue;
            if (n <= 0)
                break; // end of input (or an unreadable stdin: whatever arrived is all there is)
            length += (int)n;
            // Some agents never close stdin: stop at the end of the first complete JSON value.
            if (buffer[length - 1] is (byte)'}' or (byte)'\n' or (byte)'\r' && IsCompleteJson(buffer.AsSpan(0, length)))
                break;
        }
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    private const int StandardInput = 0;
    private const short PollIn = 1; // POLLIN, Linux and macOS
    private const int Interrupted = 4; // EINTR

    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor(int fd, short events)
    {
        public int Fd = fd;
        public short Events = events;
        public short ReturnedEvents = 0;
    }

    // Blittable signatures: plain DllImports that need no marshalling under Native AOT (bound at link time there).
    [DllImport("libc", SetLastError = true)]
    private static extern int poll(ref PollDescriptor descriptors, nuint count, int timeoutMilliseconds);

    [DllImport("libc", SetLastError = true)]
    private static extern nint read(int fd, IntPtr buffer, nint count);
}
