using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SkillLoop.Core.Data;

/// <summary>
/// The Data Protection key ring (sign-in cookies, stored registry tokens and AI endpoint keys) in <c>&lt;data&gt;/keys</c>,
/// so they stay readable across restarts. On Windows the keys are encrypted with DPAPI. Linux and macOS have no
/// key-encryption facility that needs no second secret (a certificate would sit in the same folder), so there the keys
/// are protected by permissions: the folder 0700 and each key file 0600, set again whenever a key is written. The
/// framework's "No XML encryptor configured" warning, logged for every key, is replaced by one plain line at start
/// (<see cref="Describe"/>).
/// </summary>
public static class KeyRing
{
    private const string KeyManagerCategory = "Microsoft.AspNetCore.DataProtection.KeyManagement.XmlKeyManager";

    public static IServiceCollection AddSkillLoopKeyRing(this IServiceCollection services, string dataDirectory)
    {
        var folder = new DirectoryInfo(Path.Combine(dataDirectory, "keys"));
        var builder = services.AddDataProtection().SetApplicationName("SkillLoop");
        if (OperatingSystem.IsWindows())
        {
            builder.PersistKeysToFileSystem(folder).ProtectKeysWithDpapi();
            return services;
        }

        services.AddOptions<KeyManagementOptions>().Configure<ILoggerFactory>((options, loggers) =>
            options.XmlRepository = new PrivateFileXmlRepository(folder, loggers));
        services.AddLogging(logging => logging.AddFilter(KeyManagerCategory, LogLevel.Error));
        return services;
    }

    /// <summary>What protects the keys, in the words the start-up log uses.</summary>
    public static string Describe(string dataDirectory) =>
        OperatingSystem.IsWindows()
            ? $"Key ring {Path.Combine(dataDirectory, "keys")}: keys encrypted at rest with Windows DPAPI."
            : $"Key ring {Path.Combine(dataDirectory, "keys")}: keys are not encrypted at rest (this platform has no key store " +
              "that needs no second secret); they are protected by file permissions (folder 0700, files 0600). Keep the data " +
              "directory private, and back up keys/ apart from the database.";

    /// <summary>The file system repository, with owner-only permissions on the folder and every key file.</summary>
    private sealed class PrivateFileXmlRepository(DirectoryInfo folder, ILoggerFactory loggers) : IXmlRepository
    {
        private readonly FileSystemXmlRepository _inner = new(Restrict(folder), loggers);

        public IReadOnlyCollection<XElement> GetAllElements() => _inner.GetAllElements();

        public void StoreElement(XElement element, string friendlyName)
        {
            _inner.StoreElement(element, friendlyName);
            Restrict(folder);
        }

        private static DirectoryInfo Restrict(DirectoryInfo folder)
        {
            PrivateFiles.EnsureDirectory(folder.FullName);
            foreach (var file in Directory.EnumerateFiles(folder.FullName))
            {
                PrivateFiles.Restrict(file);
            }

            return folder;
        }
    }
}
