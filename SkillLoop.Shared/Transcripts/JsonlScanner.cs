using System.Buffers;

namespace SkillLoop.Hooks.Transcripts;

/// <param name="line">One line without its line break.</param>
/// <param name="offset">Absolute byte offset of the line's first byte: a stable id for formats without line ids.</param>
public delegate void JsonlLineHandler(ReadOnlySpan<byte> line, long offset);

/// <summary>
/// Streams a JSONL file from a byte offset, handing each complete line to a callback without loading the file.
/// Only lines ended by '\n' count: a line still being written is left for the next read. Memory stays bounded
/// whatever the file holds: a line longer than <see cref="MaxLineBytes"/> (a pasted image, a runaway tool output)
/// is passed over without being buffered, and a read can stop after a window of bytes so a huge backlog is taken in
/// parts.
/// </summary>
public static class JsonlScanner
{
    /// <summary>Longest line handed on; longer ones cannot be a person's words and are skipped, never buffered.</summary>
    public const int MaxLineBytes = 16 << 20;

    private const int InitialBuffer = 1 << 20;

    /// <param name="untilOffset">No line starting at or after this offset is handed on (the read stops there).</param>
    /// <returns>The offset just past the last complete line (equal to <paramref name="fromOffset"/> if none).</returns>
    public static long Scan(string path, long fromOffset, JsonlLineHandler onLine, long untilOffset = long.MaxValue)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
            bufferSize: 1, FileOptions.SequentialScan);
        if (fromOffset > stream.Length)
            return fromOffset; // the file shrank (rewritten or truncated): nothing new we can trust
        stream.Position = fromOffset;
        return Scan(stream, fromOffset, onLine, untilOffset);
    }

    public static long Scan(Stream stream, long fromOffset, JsonlLineHandler onLine, long untilOffset = long.MaxValue)
    {
        var rented = ArrayPool<byte>.Shared.Rent(InitialBuffer);
        var buffer = rented;
        try
        {
            // The buffer holds the bytes [consumedOffset, consumedOffset + filled) of the file.
            var filled = 0;
            var consumedOffset = fromOffset;
            long dropped = -1; // >= 0 while passing over a line longer than MaxLineBytes: its bytes dropped so far
            while (consumedOffset < untilOffset)
            {
                if (dropped < 0 && filled == buffer.Length)
                {
                    if (buffer.Length >= MaxLineBytes)
                    {
                        // Too long to be anything we want: forget what we hold of it and look for its end. Its start
                        // stays the consumed offset, so a line never finished leaves the cursor before it.
                        dropped = filled;
                        filled = 0;
                    }
                    else
                    {
                        // One line longer than the buffer: grow (up to the cap) rather than split it. Not from the
                        // shared pool: it would keep every size up to 16 MB for the rest of the process.
                        var bigger = GC.AllocateUninitializedArray<byte>(Math.Min(buffer.Length * 2, MaxLineBytes));
                        buffer.AsSpan(0, filled).CopyTo(bigger);
                        buffer = bigger;
                    }
                }
                var read = stream.Read(buffer, filled, buffer.Length - filled);
                if (read == 0)
                    return consumedOffset;
                if (dropped >= 0)
                {
                    var end = buffer.AsSpan(0, read).IndexOf((byte)'\n');
                    if (end < 0)
                    {
                        dropped += read;
                        continue;
                    }
                    consumedOffset += dropped + end + 1; // step over the whole over-long line
                    dropped = -1;
                    buffer.AsSpan(end + 1, read - end - 1).CopyTo(buffer);
                    filled = read - end - 1;
                }
                else
                {
                    filled += read;
                }

                var start = 0;
                while (consumedOffset + start < untilOffset)
                {
                    var newline = buffer.AsSpan(start, filled - start).IndexOf((byte)'\n');
                    if (newline < 0)
                        break;
                    var line = buffer.AsSpan(start, newline);
                    if (line.Length > 0 && line[^1] == (byte)'\r')
                        line = line[..^1];
                    if (!line.IsEmpty)
                        onLine(line, consumedOffset + start);
                    start += newline + 1;
                }
                consumedOffset += start;
                // Keep the unfinished tail at the front of the buffer.
                buffer.AsSpan(start, filled - start).CopyTo(buffer);
                filled -= start;
            }
            return consumedOffset;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The offset of the first line that starts at or after <paramref name="offset"/> (0 stays 0).</summary>
    public static long LineStartAtOrAfter(string path, long offset)
    {
        if (offset <= 0)
            return 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
        if (offset >= stream.Length)
            return offset;
        stream.Position = offset - 1;
        Span<byte> chunk = stackalloc byte[8192];
        var position = offset - 1;
        while (true)
        {
            var n = stream.Read(chunk);
            if (n == 0)
                return stream.Length;
            var newline = chunk[..n].IndexOf((byte)'\n');
            if (newline >= 0)
                return position + newline + 1;
            position += n;
        }
    }

    /// <summary>
    /// The start of the line that ends just before <paramref name="offset"/> (a line start): searched backwards a block
    /// at a time, so a line of any length costs no memory.
    /// </summary>
    public static long LineStartBefore(string path, long offset)
    {
        if (offset <= 1)
            return 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
        Span<byte> block = stackalloc byte[8192];
        // The byte at offset - 1 ends the line itself; its start follows the newline before that.
        var end = Math.Min(offset - 1, stream.Length);
        while (end > 0)
        {
            var start = Math.Max(0, end - block.Length);
            stream.Position = start;
            var chunk = block[..(int)(end - start)];
            stream.ReadExactly(chunk);
            var newline = chunk.LastIndexOf((byte)'\n');
            if (newline >= 0)
                return start + newline + 1;
            end = start;
        }
        return 0;
    }
}
