using System.Reflection.PortableExecutable;
using System.Text;

namespace SkillLoop.Tests.Support;

/// <summary>
/// Reads the manifest of a .NET single-file bundle (what <c>dotnet publish -p:PublishSingleFile=true</c> appends to the
/// app host), so a test can see how the clients handed out for macOS, Windows and linux-arm64 were built: whether their
/// files are compressed and whether their code is precompiled (ReadyToRun), which decide their start-up time.
/// Format: Microsoft.NET.HostModel's bundle manifest, version 6 (.NET 6 and later).
/// </summary>
public static class SingleFileBundle
{
    /// <summary>One file inside the bundle; <paramref name="CompressedSize"/> is 0 when it is stored as is.</summary>
    public sealed record Entry(string Path, long Offset, long Size, long CompressedSize);

    // SHA-256 of ".net core bundle": the app host's placeholder is this signature preceded by the header's offset.
    private static readonly byte[] Signature =
    [
        0x8b, 0x12, 0x02, 0xb9, 0x6a, 0x61, 0x20, 0x38, 0x72, 0x7b, 0x93, 0x02, 0x14, 0xd7, 0xa0, 0x32,
        0x13, 0xf5, 0xb9, 0xe6, 0xef, 0xae, 0x33, 0x18, 0xee, 0x3b, 0x2d, 0xce, 0x24, 0xb3, 0x6a, 0xae,
    ];

    public static IReadOnlyList<Entry> Read(byte[] bundle)
    {
        var marker = bundle.AsSpan().IndexOf(Signature);
        Assert.True(marker >= 8, "not a single-file bundle: the app host's bundle signature is missing");
        var headerOffset = BitConverter.ToInt64(bundle, marker - 8);
        Assert.True(headerOffset > 0 && headerOffset < bundle.Length, "not a single-file bundle: the app host has no bundle attached");

        using var reader = new BinaryReader(new MemoryStream(bundle, (int)headerOffset, bundle.Length - (int)headerOffset), Encoding.UTF8);
        var major = reader.ReadUInt32();
        _ = reader.ReadUInt32(); // minor
        Assert.True(major >= 6, $"bundle format {major}: this reader knows 6 and later");
        var count = reader.ReadInt32();
        _ = reader.ReadString(); // bundle id
        _ = reader.ReadBytes(5 * sizeof(long)); // deps.json and runtimeconfig.json offsets and sizes, flags
        var entries = new List<Entry>(count);
        for (var i = 0; i < count; i++)
        {
            var offset = reader.ReadInt64();
            var size = reader.ReadInt64();
            var compressedSize = reader.ReadInt64();
            _ = reader.ReadByte(); // type
            entries.Add(new Entry(reader.ReadString(), offset, size, compressedSize));
        }

        return entries;
    }

    /// <summary>Whether the (uncompressed) assembly <paramref name="entry"/> carries ReadyToRun code.</summary>
    public static bool IsReadyToRun(byte[] bundle, Entry entry)
    {
        Assert.Equal(0, entry.CompressedSize);
        using var pe = new PEReader(new MemoryStream(bundle, (int)entry.Offset, (int)entry.Size));
        return pe.PEHeaders.CorHeader is { ManagedNativeHeaderDirectory.Size: > 0 };
    }
}
