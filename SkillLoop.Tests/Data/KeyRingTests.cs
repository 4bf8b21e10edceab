using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Data;

/// <summary>The key ring that signs cookies and encrypts stored tokens: owner-only files, and a quiet, plain start.</summary>
[Collection(ServerCollection.Name)]
public sealed class KeyRingTests(SkillLoopServer server)
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Keys_are_written_owner_only_and_survive_as_the_same_ring()
    {
        var protector = server.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("key-ring-test");
        var secret = protector.Protect("registry token");

        var folder = Path.Combine(server.DataDirectory, "keys");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        var keys = Directory.GetFiles(folder, "*.xml");
        Assert.NotEmpty(keys);
        Assert.All(keys, key => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key)));
        Assert.Equal("registry token", protector.Unprotect(secret));
    }

    [Fact]
    public void The_framework_warning_about_unencrypted_keys_is_replaced_by_the_start_up_line()
    {
        var logger = server.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Microsoft.AspNetCore.DataProtection.KeyManagement.XmlKeyManager");

        Assert.False(logger.IsEnabled(LogLevel.Warning));
        Assert.True(logger.IsEnabled(LogLevel.Error));
        Assert.Contains("protected by file permissions", SkillLoop.Core.Data.KeyRing.Describe(server.DataDirectory), StringComparison.Ordinal);
    }
}
