using System.Runtime.InteropServices;
using LibGit2Sharp;

namespace SkillLoop.Core.Registry;

/// <summary>What libgit2 reports back after its network timeouts were set (null where it could not be asked).</summary>
public sealed record GitNetworkTimeouts(TimeSpan? Connect, TimeSpan? Read);

/// <summary>
/// libgit2's network timeouts (<c>GIT_OPT_SET_SERVER_CONNECT_TIMEOUT</c>, <c>GIT_OPT_SET_SERVER_TIMEOUT</c>, libgit2
/// ≥ 1.7), which LibGit2Sharp 0.32 has no setter for. Without them a server that accepts the connection and never
/// answers blocks a fetch in <c>recv</c> for as long as the OS keeps the connection. They are process-wide, apply to
/// the socket streams libgit2 opens itself (http://, https:// through OpenSSL) and are read when a connection is opened.
/// </summary>
internal static unsafe class LibGit2Timeouts
{
    // git_libgit2_opt_t in the bundled libgit2 (include/git2/common.h); the values only ever grow at the end.
    private const int SetServerConnectTimeout = 39;
    private const int GetServerConnectTimeout = 40;
    private const int SetServerTimeout = 41;
    private const int GetServerTimeout = 42;

    /// <summary>
    /// Sets both timeouts (whole milliseconds) and reads them back from libgit2, which is the check that the call
    /// reached the library LibGit2Sharp uses with its arguments where libgit2 looked for them.
    /// </summary>
    public static GitNetworkTimeouts Apply(TimeSpan connect, TimeSpan read)
    {
        var opts = Resolve();
        Set(opts, SetServerConnectTimeout, (int)connect.TotalMilliseconds);
        Set(opts, SetServerTimeout, (int)read.TotalMilliseconds);
        return new GitNetworkTimeouts(Get(opts, GetServerConnectTimeout), Get(opts, GetServerTimeout));
    }

    /// <summary>Reads both timeouts as libgit2 has them now.</summary>
    public static GitNetworkTimeouts Read()
    {
        var opts = Resolve();
        return new GitNetworkTimeouts(Get(opts, GetServerConnectTimeout), Get(opts, GetServerTimeout));
    }

    private static nint Resolve()
    {
        // LibGit2Sharp loads and initialises its libgit2 (git2-<commit>) on its first native call; the same file
        // opened again gives the same handle, so the options set here are the ones its fetches read.
        _ = GlobalSettings.GetUserAgent();
        var name = $"git2-{GlobalSettings.Version.LibGit2CommitSha}";
        if (!NativeLibrary.TryLoad(name, typeof(Repository).Assembly, DllImportSearchPath.AssemblyDirectory | DllImportSearchPath.ApplicationDirectory | DllImportSearchPath.SafeDirectories, out var library))
        {
            throw new DllNotFoundException($"{name}, the libgit2 that LibGit2Sharp uses, could not be loaded.");
        }

        return NativeLibrary.GetExport(library, "git_libgit2_opts");
    }

    // git_libgit2_opts(int option, ...) is variadic. On x64 (System V and Windows) and Linux arm64 the variadic int and
    // pointer go in the same registers as a fixed argument would, so a fixed-arity call passes them where va_arg looks.
    // Apple arm64 passes variadic arguments on the stack: there the registers are filled first, as LibGit2Sharp does.
    private static readonly bool VariadicOnStack = OperatingSystem.IsMacOS() && RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    private static void Set(nint opts, int option, int milliseconds)
    {
        var result = VariadicOnStack
            ? ((delegate* unmanaged[Cdecl]<int, nint, nint, nint, nint, nint, nint, nint, int, int>)opts)(option, 0, 0, 0, 0, 0, 0, 0, milliseconds)
            : ((delegate* unmanaged[Cdecl]<int, int, int>)opts)(option, milliseconds);
        if (result != 0)
        {
            throw new InvalidOperationException($"libgit2 refused network option {option} = {milliseconds} ms ({result}).");
        }
    }

    private static TimeSpan? Get(nint opts, int option)
    {
        var value = -1;
        var result = VariadicOnStack
            ? ((delegate* unmanaged[Cdecl]<int, nint, nint, nint, nint, nint, nint, nint, int*, int>)opts)(option, 0, 0, 0, 0, 0, 0, 0, &value)
            : ((delegate* unmanaged[Cdecl]<int, int*, int>)opts)(option, &value);
        return result == 0 && value >= 0 ? TimeSpan.FromMilliseconds(value) : null;
    }
}
