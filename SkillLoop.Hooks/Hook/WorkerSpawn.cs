using System.Runtime.InteropServices;
using System.Text;

namespace SkillLoop.Hooks.Hook;

/// <summary>
/// Starts the detached worker with <c>posix_spawn</c> on Linux and macOS, its stdin a private pipe holding the payload
/// and its stdout/stderr <c>/dev/null</c>. The hook's whole cost is its start-up and this spawn (issue #17: return
/// ≤ 15 ms), and <see cref="System.Diagnostics.Process"/> brings machinery the hook never uses: the signal-handling
/// thread, a SIGCHLD reaper, three pipes and the stream objects around them. The worker must not hold the agent's
/// pipes (the agent waits for them to close), so 0, 1 and 2 are always replaced.
/// </summary>
internal static class WorkerSpawn
{
    /// <summary>
    /// Spawns <paramref name="arguments"/> (argv[0] is the executable's path) with exactly <paramref name="environment"/>
    /// and writes <paramref name="stdin"/> to it. False when this platform or libc
    /// cannot (the caller then uses <see cref="System.Diagnostics.Process"/>); true once the worker has started, even
    /// if it then exited before reading everything.
    /// </summary>
    public static bool TryStart(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, string stdin)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            return false;
        try
        {
            return Start(arguments, environment, stdin);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private static bool Start(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, string stdin)
    {
        var fds = new int[2];
        if (pipe(fds) != 0)
            return false;
        var (readEnd, writeEnd) = (fds[0], fds[1]);
        // Neither end may leak into the worker beyond its stdin (the dup2 below clears close-on-exec on fd 0 only):
        // a copy of the write end in the worker would keep its stdin open forever.
        _ = fcntl(readEnd, FileDescriptorFlagsSet, CloseOnExec);
        _ = fcntl(writeEnd, FileDescriptorFlagsSet, CloseOnExec);

        var unmanaged = new List<IntPtr>();
        // posix_spawn_file_actions_t and posix_spawnattr_t are opaque: 80 and 336 bytes in glibc, a pointer on macOS.
        var actions = Marshal.AllocHGlobal(OpaqueSize);
        var attributes = Marshal.AllocHGlobal(OpaqueSize);
        var signals = Marshal.AllocHGlobal(OpaqueSize);
        var spawned = false;
        try
        {
            if (posix_spawn_file_actions_init(actions) != 0)
                return false;
            if (posix_spawnattr_init(attributes) != 0)
            {
                _ = posix_spawn_file_actions_destroy(actions);
                return false;
            }
            try
            {
                var devNull = Utf8(unmanaged, "/dev/null");
                if (posix_spawn_file_actions_adddup2(actions, readEnd, 0) != 0
                    || posix_spawn_file_actions_addopen(actions, 1, devNull, WriteOnly, 0) != 0
                    || posix_spawn_file_actions_adddup2(actions, 1, 2) != 0)
                    return false;
                // The worker starts with every signal unblocked, whatever this runtime's thread had blocked.
                if (sigemptyset(signals) == 0 && posix_spawnattr_setsigmask(attributes, signals) == 0)
                    _ = posix_spawnattr_setflags(attributes, SetSignalMask);

                var argv = NullTerminated(unmanaged, arguments);
                var envp = NullTerminated(unmanaged, environment.Select(variable => variable.Key + "=" + variable.Value));
                spawned = posix_spawn(out _, Marshal.ReadIntPtr(argv), actions, attributes, argv, envp) == 0;
            }
            finally
            {
                _ = posix_spawnattr_destroy(attributes);
                _ = posix_spawn_file_actions_destroy(actions);
            }
        }
        finally
        {
            foreach (var pointer in unmanaged)
                Marshal.FreeHGlobal(pointer);
            Marshal.FreeHGlobal(signals);
            Marshal.FreeHGlobal(attributes);
            Marshal.FreeHGlobal(actions);
            _ = close(readEnd);
            if (!spawned)
                _ = close(writeEnd);
        }

        // A worker that exits before reading must end the hook with an error from write, not with SIGPIPE: the agent
        // would see a hook killed by a signal. The worker is a .NET program, which ignores SIGPIPE anyway.
        _ = signal(BrokenPipe, IgnoreSignal);
        WriteAll(writeEnd, Encoding.UTF8.GetBytes(stdin));
        _ = close(writeEnd);
        return true;
    }

    private static void WriteAll(int fd, byte[] bytes)
    {
        var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        try
        {
            var start = handle.AddrOfPinnedObject();
            var written = 0;
            while (written < bytes.Length)
            {
                var n = write(fd, start + written, bytes.Length - written);
                if (n > 0)
                    written += (int)n;
                else if (n < 0 && Marshal.GetLastPInvokeError() == Interrupted)
                    continue;
                else
                    return; // the worker is gone: it reads what it reads, and the next Stop sends the rest
            }
        }
        finally
        {
            handle.Free();
        }
    }

    private static IntPtr NullTerminated(List<IntPtr> unmanaged, IEnumerable<string> strings)
    {
        var pointers = strings.Select(s => Utf8(unmanaged, s)).ToList();
        var array = Marshal.AllocHGlobal((pointers.Count + 1) * IntPtr.Size);
        unmanaged.Add(array);
        for (var i = 0; i < pointers.Count; i++)
            Marshal.WriteIntPtr(array, i * IntPtr.Size, pointers[i]);
        Marshal.WriteIntPtr(array, pointers.Count * IntPtr.Size, IntPtr.Zero);
        return array;
    }

    private static IntPtr Utf8(List<IntPtr> unmanaged, string text)
    {
        if (text.Contains('\0'))
            throw new ArgumentException("An argument or environment entry holds a NUL character.");
        var bytes = Encoding.UTF8.GetBytes(text);
        var pointer = Marshal.AllocHGlobal(bytes.Length + 1);
        unmanaged.Add(pointer);
        Marshal.Copy(bytes, 0, pointer, bytes.Length);
        Marshal.WriteByte(pointer, bytes.Length, 0);
        return pointer;
    }

    private const int OpaqueSize = 1024;
    private const int FileDescriptorFlagsSet = 2; // F_SETFD, Linux and macOS
    private const int CloseOnExec = 1; // FD_CLOEXEC
    private const int WriteOnly = 1; // O_WRONLY
    private const short SetSignalMask = 0x08; // POSIX_SPAWN_SETSIGMASK, Linux and macOS
    private const int BrokenPipe = 13; // SIGPIPE, Linux and macOS
    private static readonly IntPtr IgnoreSignal = 1; // SIG_IGN
    private const int Interrupted = 4; // EINTR

    // Blittable signatures: plain DllImports that need no marshalling under Native AOT.
    // An array of a blittable type is pinned and written in place, not copied.
    [DllImport("libc")]
    private static extern int pipe(int[] fds);

    [DllImport("libc")]
    private static extern int fcntl(int fd, int command, int argument);

    [DllImport("libc")]
    private static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern nint write(int fd, IntPtr buffer, nint count);

    [DllImport("libc")]
    private static extern IntPtr signal(int signal, IntPtr handler);

    [DllImport("libc")]
    private static extern int sigemptyset(IntPtr set);

    [DllImport("libc")]
    private static extern int posix_spawn(out int pid, IntPtr path, IntPtr fileActions, IntPtr attributes, IntPtr argv, IntPtr envp);

    [DllImport("libc")]
    private static extern int posix_spawn_file_actions_init(IntPtr actions);

    [DllImport("libc")]
    private static extern int posix_spawn_file_actions_destroy(IntPtr actions);

    [DllImport("libc")]
    private static extern int posix_spawn_file_actions_adddup2(IntPtr actions, int fd, int newFd);

    [DllImport("libc")]
    private static extern int posix_spawn_file_actions_addopen(IntPtr actions, int fd, IntPtr path, int flags, int mode);

    [DllImport("libc")]
    private static extern int posix_spawnattr_init(IntPtr attributes);

    [DllImport("libc")]
    private static extern int posix_spawnattr_destroy(IntPtr attributes);

    [DllImport("libc")]
    private static extern int posix_spawnattr_setflags(IntPtr attributes, short flags);

    [DllImport("libc")]
    private static extern int posix_spawnattr_setsigmask(IntPtr attributes, IntPtr signals);
}
