using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace SkillLoop.Hooks.Detection;

/// <summary>
/// The learned detector's weights: logistic regression over hashed features (<see cref="DetectorFeatures"/>), with a
/// decision threshold and a borderline band per language, chosen on the corpus's dev split by the trainer.
/// Binary format (little-endian): "SLDM", u16 format, u8 hash bits, u8 flags (bit 0: English turns are also corrections
/// when a pattern matches, bit 1: the same for Chinese; chosen on dev per language; bit 2: a list of clear patterns
/// follows the version id), f32 bias, f32 threshold en, f32 threshold zh, f32 band top en, f32 band top zh, u16 length +
/// UTF-8 version id, [u16 count, then per id u8 length + UTF-8 pattern id,] then 2^bits half-precision weights. The version id names the exact weights ("lr1-" + a SHA-256 prefix of everything after it), so a signal
/// can say which detector produced it.
/// </summary>
public sealed class DetectorModel
{
    public const string ResourceName = "SkillLoop.Hooks.Detection.detector-model.bin";
    public const ushort Format = 1;
    private static ReadOnlySpan<byte> Magic => "SLDM"u8;

    private static readonly Lazy<DetectorModel> ShippedModel = new(LoadShipped);

    public DetectorModel(int bits, float bias, float[] weights, LanguageThresholds en, LanguageThresholds zh, string version,
        IReadOnlyCollection<string>? clearPatterns = null)
    {
        if (bits is < 8 or > 24 || weights.Length != 1 << bits)
            throw new ArgumentException("The weight table must have 2^bits entries.", nameof(weights));
        Bits = bits;
        Bias = bias;
        Weights = weights;
        En = en;
        Zh = zh;
        Version = version;
        ClearPatterns = new HashSet<string>(clearPatterns ?? [], StringComparer.Ordinal);
    }

    /// <summary>
    /// Patterns whose match alone makes a correction whatever the score: the trainer picks the ones that were right at
    /// least <c>DetectorTrainer.ClearPrecision</c> of the time on the train and dev splits, with enough matches to tell.
    /// The classifier's precision-first threshold otherwise drops textbook omission checks ("you forgot the tests" after
    /// "Done."), whose few words give the n-grams little to go on.
    /// </summary>
    public IReadOnlySet<string> ClearPatterns { get; }

    public int Bits { get; }

    public float Bias { get; }

    public float[] Weights { get; }

    public LanguageThresholds En { get; }

    public LanguageThresholds Zh { get; }

    /// <summary>Names these exact weights; "regex" when no model could be loaded (the patterns alone decide).</summary>
    public string Version { get; }

    public bool IsRegexOnly => Version == RegexOnly.Version;

    public LanguageThresholds For(string language) => language == "zh" ? Zh : En;

    /// <summary>The weights shipped inside the client, loaded once; <see cref="RegexOnly"/> if they are missing or damaged.</summary>
    public static DetectorModel Shipped => ShippedModel.Value;

    /// <summary>No learned weights: a turn is a correction when a pattern matches (the detector before issue #15).</summary>
    public static DetectorModel RegexOnly { get; } = new(8, 0, new float[256], new(0.5f, 0.5f), new(0.5f, 0.5f), "regex");

    private static DetectorModel LoadShipped()
    {
        using var stream = typeof(DetectorModel).Assembly.GetManifestResourceStream(ResourceName);
        if (stream is null)
            return RegexOnly;
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return TryRead(memory.GetBuffer().AsSpan(0, (int)memory.Length), out var model) ? model : RegexOnly;
    }

    public static bool TryRead(ReadOnlySpan<byte> data, out DetectorModel model)
    {
        model = RegexOnly;
        const int header = 4 + 2 + 2 + 4 * 5 + 2;
        if (data.Length < header || !data[..4].SequenceEqual(Magic) || BinaryPrimitives.ReadUInt16LittleEndian(data[4..]) != Format)
            return false;
        int bits = data[6];
        if (bits is < 8 or > 24)
            return false;
        int flags = data[7];
        if ((flags & ~7) != 0)
            return false;
        var bias = BinaryPrimitives.ReadSingleLittleEndian(data[8..]);
        var en = new LanguageThresholds(BinaryPrimitives.ReadSingleLittleEndian(data[12..]), BinaryPrimitives.ReadSingleLittleEndian(data[20..]), (flags & 1) != 0);
        var zh = new LanguageThresholds(BinaryPrimitives.ReadSingleLittleEndian(data[16..]), BinaryPrimitives.ReadSingleLittleEndian(data[24..]), (flags & 2) != 0);
        int versionLength = BinaryPrimitives.ReadUInt16LittleEndian(data[28..]);
        var weightsAt = header + versionLength;
        if (data.Length < weightsAt)
            return false;
        var version = Encoding.UTF8.GetString(data.Slice(header, versionLength));
        var clear = new List<string>();
        if ((flags & 4) != 0)
        {
            if (data.Length < weightsAt + 2)
                return false;
            int count = BinaryPrimitives.ReadUInt16LittleEndian(data[weightsAt..]);
            weightsAt += 2;
            for (var i = 0; i < count; i++)
            {
                if (data.Length <= weightsAt || data.Length < weightsAt + 1 + data[weightsAt])
                    return false;
                clear.Add(Encoding.UTF8.GetString(data.Slice(weightsAt + 1, data[weightsAt])));
                weightsAt += 1 + data[weightsAt];
            }
        }
        if (data.Length != weightsAt + (2 << bits))
            return false;
        var weights = new float[1 << bits];
        var raw = data[weightsAt..];
        for (var i = 0; i < weights.Length; i++)
            weights[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(raw[(2 * i)..]);
        model = new DetectorModel(bits, bias, weights, en, zh, version, clear);
        return true;
    }

    /// <summary>
    /// The file's bytes. Weights are stored as half floats (what is scored is exactly what is stored: call
    /// <see cref="Quantise"/> before choosing thresholds). The version id is derived from the content.
    /// </summary>
    public static byte[] Write(int bits, float bias, ReadOnlySpan<float> weights, LanguageThresholds en, LanguageThresholds zh,
        IReadOnlyList<string>? clearPatterns = null)
    {
        // Sorted: the same set always gives the same bytes and version id.
        var clear = (clearPatterns ?? []).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Select(Encoding.UTF8.GetBytes).ToList();
        if (clear.Count > ushort.MaxValue || clear.Any(id => id.Length is 0 or > 255))
            throw new ArgumentException("Clear pattern ids must be 1-255 UTF-8 bytes.", nameof(clearPatterns));
        using var list = new MemoryStream();
        if (clear.Count > 0)
        {
            Span<byte> count = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(count, (ushort)clear.Count);
            list.Write(count);
            foreach (var id in clear)
            {
                list.WriteByte((byte)id.Length);
                list.Write(id);
            }
        }
        var body = new byte[4 * 5 + (2 << bits)];
        BinaryPrimitives.WriteSingleLittleEndian(body, bias);
        BinaryPrimitives.WriteSingleLittleEndian(body.AsSpan(4), en.Threshold);
        BinaryPrimitives.WriteSingleLittleEndian(body.AsSpan(8), zh.Threshold);
        BinaryPrimitives.WriteSingleLittleEndian(body.AsSpan(12), en.BandTop);
        BinaryPrimitives.WriteSingleLittleEndian(body.AsSpan(16), zh.BandTop);
        for (var i = 0; i < weights.Length; i++)
            BinaryPrimitives.WriteHalfLittleEndian(body.AsSpan(20 + 2 * i), (Half)weights[i]);
        var flags = (byte)((en.OrPatterns ? 1 : 0) | (zh.OrPatterns ? 2 : 0) | (clear.Count > 0 ? 4 : 0));
        // Without clear patterns the id is computed as before, so older weights keep their version.
        var version = "lr1-" + Convert.ToHexStringLower(SHA256.HashData([.. body, flags, .. list.ToArray()]))[..12];
        var versionBytes = Encoding.UTF8.GetBytes(version);
        using var output = new MemoryStream();
        output.Write(Magic);
        Span<byte> small = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(small, Format);
        small[2] = (byte)bits;
        small[3] = flags;
        output.Write(small);
        output.Write(body.AsSpan(0, 20));
        BinaryPrimitives.WriteUInt16LittleEndian(small, (ushort)versionBytes.Length);
        output.Write(small[..2]);
        output.Write(versionBytes);
        list.WriteTo(output);
        output.Write(body.AsSpan(20));
        return output.ToArray();
    }

    /// <summary>Rounds weights to what the file stores.</summary>
    public static void Quantise(Span<float> weights)
    {
        for (var i = 0; i < weights.Length; i++)
            weights[i] = (float)(Half)weights[i];
    }
}

/// <param name="Threshold">Score at or above which a turn is a correction.</param>
/// <param name="BandTop">Scores in [Threshold, BandTop) are borderline: the server may ask a chat model to confirm them.</param>
/// <param name="OrPatterns">A turn whose own words match a correction pattern is a correction whatever its score (the
/// trainer sets it for a language when that finds more corrections on dev at the target precision).</param>
public readonly record struct LanguageThresholds(float Threshold, float BandTop, bool OrPatterns = false);
