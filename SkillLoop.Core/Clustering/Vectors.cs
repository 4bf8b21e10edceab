using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace SkillLoop.Core.Clustering;

/// <summary>Float32 vectors as sqlite-vec stores them: little-endian blobs, compared by cosine.</summary>
public static class Vectors
{
    public static byte[] ToBlob(ReadOnlySpan<float> vector) => MemoryMarshal.AsBytes(vector).ToArray();

    public static float[] FromBlob(byte[] blob) => MemoryMarshal.Cast<byte, float>(blob).ToArray();

    /// <summary>A unit-length copy, so that cosine similarity is a dot product.</summary>
    public static float[] Normalize(ReadOnlySpan<float> vector)
    {
        var norm = TensorPrimitives.Norm(vector);
        var result = vector.ToArray();
        if (norm > 0)
        {
            TensorPrimitives.Divide(result, norm, result);
        }

        return result;
    }

    public static float CosineSimilarity(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => TensorPrimitives.CosineSimilarity(a, b);
}
