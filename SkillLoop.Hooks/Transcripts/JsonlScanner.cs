using System.Buffers;

namespace SkillLoop.Hooks.Transcripts;

/// <param name="line">One line without its line break.</param>
/// <param name="offset">Absolute byte offset of the line's first byte: a stable id for formats without line ids.</param>
public delegate void JsonlLineHandler(ReadOnlySpan<byte> line, long offset);

/// <summary>
/// Streams a JSONL file from a byte offset, handing each complete line to a callback without loading the file.
/// Only lines ended by '\n' count: a line still being written is left for the next read.
/// </summary>
public static class JsonlScanner
{
    /// <returns>The offset just past the last complete line (equal to <paramref name="fromOffset"/> if none).</returns>
    public static long Scan(string path, long fromOffset, JsonlLineHandler onLine)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
            bufferSize: 1, FileOptions.SequentialScan);
        if (fromOffset > stream.Length)
            return fromOffset; // the file shrank (rewritten or truncated): nothing new we can trust
        stream.Position = fromOffset;
        return Scan(stream, fromOffset, onLine);
    }

    public static long Scan(Stream stream, long fromOffset, JsonlLineHandler onLine)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            var filled = 0;
            var consumedOffset = fromOffset;
            while (true)
            {
                if (filled == buffer.Length)
                {
                    // One line longer than the buffer (e.g. a pasted image): grow rather than split it.
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, filled).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = stream.Read(buffer, filled, buffer.Length - filled);
                if (read == 0)
                    return consumedOffset;
                filled += read;

                var start = 0;
                while (true)
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
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
