using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SkillLoop.Core.Clustering;

/// <summary>
/// The unit vectors of one large partition as int8 codes in one contiguous array (a scale per row), for a fast
/// first pass: candidates are ranked by the int8 dot product, then the caller re-ranks them exactly in float32.
/// 100k x 384-d takes 38 MB and is scanned in a few milliseconds, where vec0's brute-force float scan takes ~45 ms.
/// Not thread-safe: <see cref="VectorIndex"/> locks around it.
/// </summary>
internal sealed class QuantizedPartition(int dimensions)
{
    private sbyte[] _codes = new sbyte[dimensions * 256];
    private float[] _scales = new float[256];
    private long[] _ids = new long[256];
    private readonly Dictionary<long, int> _rows = [];

    public int Dimensions { get; } = dimensions;

    public int Count { get; private set; }

    public bool Contains(long id) => _rows.ContainsKey(id);

    /// <summary>Adds or replaces a unit vector.</summary>
    public void Set(long id, ReadOnlySpan<float> unit)
    {
        if (!_rows.TryGetValue(id, out var row))
        {
            row = Count++;
            if (row == _ids.Length)
            {
                Array.Resize(ref _ids, row * 2);
                Array.Resize(ref _scales, row * 2);
                Array.Resize(ref _codes, row * 2 * Dimensions);
            }

            _rows[id] = row;
            _ids[row] = id;
        }

        _scales[row] = Quantize(unit, _codes.AsSpan(row * Dimensions, Dimensions));
    }

    public void Remove(long id)
    {
        if (!_rows.Remove(id, out var row))
        {
            return;
        }

        // Swap-remove: the last row takes the freed place.
        var last = --Count;
        if (row != last)
        {
            _ids[row] = _ids[last];
            _scales[row] = _scales[last];
            _codes.AsSpan(last * Dimensions, Dimensions).CopyTo(_codes.AsSpan(row * Dimensions, Dimensions));
            _rows[_ids[row]] = row;
        }
    }

    /// <summary>The ids of the <paramref name="take"/> rows with the highest approximate similarity.</summary>
    public IReadOnlyList<long> Candidates(ReadOnlySpan<float> unitQuery, int take)
    {
        var query = new sbyte[Dimensions];
        Quantize(unitQuery, query);
        var best = new PriorityQueue<long, float>(take + 1);
        var floor = float.NegativeInfinity;
        for (var row = 0; row < Count; row++)
        {
            // The query's own scale is the same for every row, so it does not change the order.
            var score = Dot(query, _codes.AsSpan(row * Dimensions, Dimensions)) * _scales[row];
            if (best.Count < take)
            {
                best.Enqueue(_ids[row], score);
                if (best.Count == take)
                {
                    best.TryPeek(out _, out floor);
                }
            }
            else if (score > floor)
            {
                best.EnqueueDequeue(_ids[row], score);
                best.TryPeek(out _, out floor);
            }
        }

        var result = new List<long>(best.Count);
        while (best.TryDequeue(out var id, out _))
        {
            result.Add(id);
        }

        return result;
    }

    /// <summary>Symmetric int8 quantization with a per-vector scale; returns the scale (value = code x scale).</summary>
    private static float Quantize(ReadOnlySpan<float> vector, Span<sbyte> codes)
    {
        // MaxMagnitude returns the signed element: take its absolute value.
        var max = MathF.Abs(TensorPrimitives.MaxMagnitude(vector));
        if (max == 0 || !float.IsFinite(max))
        {
            codes.Clear();
            return 0;
        }

        var scale = max / 127f;
        for (var i = 0; i < vector.Length; i++)
        {
            codes[i] = (sbyte)Math.Clamp(MathF.Round(vector[i] / scale), -127, 127);
        }

        return scale;
    }

    internal static int Dot(ReadOnlySpan<sbyte> a, ReadOnlySpan<sbyte> b)
    {
        var i = 0;
        var sum = 0;
        if (Avx2.IsSupported && a.Length >= 32)
        {
            var acc = Vector256<int>.Zero;
            ref var ra = ref MemoryMarshal.GetReference(a);
            ref var rb = ref MemoryMarshal.GetReference(b);
            for (; i <= a.Length - 32; i += 32)
            {
                var va = Vector256.LoadUnsafe(ref ra, (nuint)i);
                var vb = Vector256.LoadUnsafe(ref rb, (nuint)i);
                // Widen to 16 bits, multiply, and add neighbouring pairs into 32-bit lanes.
                acc = Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(va.GetLower()), Avx2.ConvertToVector256Int16(vb.GetLower())));
                acc = Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(va.GetUpper()), Avx2.ConvertToVector256Int16(vb.GetUpper())));
            }

            sum = Vector256.Sum(acc);
        }

        for (; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }
}
