using System.Text;

namespace SkillLoop.Core.Ai.MiniLm;

/// <summary>
/// One field of a protocol-buffers message as it is on the wire: varints decoded, every other kind kept as its raw
/// bytes. Enough to read and rewrite an ONNX model without its generated classes: fields that are not touched are
/// copied through unchanged.
/// </summary>
internal readonly record struct ProtoField(int Number, int WireType, ulong Varint, ReadOnlyMemory<byte> Payload)
{
    public const int VarintType = 0;
    public const int Fixed64Type = 1;
    public const int LengthType = 2;
    public const int Fixed32Type = 5;

    public string Text => Encoding.UTF8.GetString(Payload.Span);

    public static IEnumerable<ProtoField> Read(ReadOnlyMemory<byte> message)
    {
        var position = 0;
        while (position < message.Length)
        {
            var key = ReadVarint(message.Span, ref position);
            var number = (int)(key >> 3);
            var wireType = (int)(key & 7);
            switch (wireType)
            {
                case VarintType:
                    yield return new(number, wireType, ReadVarint(message.Span, ref position), default);
                    break;
                case Fixed64Type or Fixed32Type:
                    var size = wireType == Fixed64Type ? 8 : 4;
                    Check(size <= message.Length - position);
                    yield return new(number, wireType, 0, message.Slice(position, size));
                    position += size;
                    break;
                case LengthType:
                    var length = ReadVarint(message.Span, ref position);
                    Check(length <= (ulong)(message.Length - position));
                    yield return new(number, wireType, 0, message.Slice(position, (int)length));
                    position += (int)length;
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type {wireType} (field {number}).");
            }
        }
    }

    /// <summary>The values of a packed repeated varint field.</summary>
    public static IEnumerable<ulong> ReadPackedVarints(ReadOnlyMemory<byte> payload)
    {
        var position = 0;
        while (position < payload.Length)
        {
            yield return ReadVarint(payload.Span, ref position);
        }
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            Check(position < data.Length);
            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new InvalidDataException("Malformed protobuf varint.");
    }

    private static void Check(bool condition)
    {
        if (!condition)
        {
            throw new InvalidDataException("Truncated protobuf message.");
        }
    }
}

/// <summary>Writes protocol-buffers fields, in the order they are given.</summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _stream = new();

    public byte[] ToArray() => _stream.ToArray();

    /// <summary>Copies a field read by <see cref="ProtoField.Read"/>.</summary>
    public ProtoWriter Field(ProtoField field)
    {
        Key(field.Number, field.WireType);
        if (field.WireType == ProtoField.VarintType)
        {
            Varint(field.Varint);
            return this;
        }

        if (field.WireType == ProtoField.LengthType)
        {
            Varint((ulong)field.Payload.Length);
        }

        _stream.Write(field.Payload.Span);
        return this;
    }

    /// <summary>Appends bytes that are already encoded fields.</summary>
    public ProtoWriter Raw(ReadOnlySpan<byte> fields)
    {
        _stream.Write(fields);
        return this;
    }

    public ProtoWriter Int(int number, long value)
    {
        Key(number, ProtoField.VarintType);
        Varint((ulong)value);
        return this;
    }

    public ProtoWriter Bytes(int number, ReadOnlySpan<byte> value)
    {
        Key(number, ProtoField.LengthType);
        Varint((ulong)value.Length);
        _stream.Write(value);
        return this;
    }

    public ProtoWriter String(int number, string value) => Bytes(number, Encoding.UTF8.GetBytes(value));

    private void Key(int number, int wireType) => Varint(((ulong)number << 3) | (uint)wireType);

    private void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            _stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        _stream.WriteByte((byte)value);
    }
}
