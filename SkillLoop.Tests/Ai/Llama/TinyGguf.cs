using System.Text;

namespace SkillLoop.Tests.Ai.Llama;

/// <summary>
/// Writes a tiny llama-architecture GGUF (random F32 weights, a byte-fallback vocabulary of 260 tokens) so the
/// tests run the real llama.cpp loading, tokenizing, embedding and sampling code without downloading a model.
/// Its text is random; only the structure is real.
/// </summary>
public static class TinyGguf
{
    public const int EmbeddingLength = 64;
    public const int VocabSize = 260;
    public const int ContextLength = 4096;
    private const int Blocks = 2;
    private const int Heads = 4;
    private const int FeedForward = 128;
    private const int Alignment = 32;

    public const string ChatMlTemplate =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>Writes the model to <paramref name="path"/> and returns the path.</summary>
    /// <param name="contextLength">The context the model says it was trained for (a small one shows prompts that do not fit).</param>
    /// <param name="architecture">What <c>general.architecture</c> says (another name makes a model llama.cpp refuses).</param>
    public static string Write(string path, string? chatTemplate = ChatMlTemplate, int seed = 1234, int contextLength = ContextLength, string architecture = "llama")
    {
        var random = new Random(seed);
        var tensors = new List<(string Name, long[] Shape)>
        {
            ("token_embd.weight", [EmbeddingLength, VocabSize]),
            ("output_norm.weight", [EmbeddingLength]),
            ("output.weight", [EmbeddingLength, VocabSize]),
        };
        for (var b = 0; b < Blocks; b++)
        {
            tensors.Add(($"blk.{b}.attn_norm.weight", [EmbeddingLength]));
            tensors.Add(($"blk.{b}.attn_q.weight", [EmbeddingLength, EmbeddingLength]));
            tensors.Add(($"blk.{b}.attn_k.weight", [EmbeddingLength, EmbeddingLength]));
            tensors.Add(($"blk.{b}.attn_v.weight", [EmbeddingLength, EmbeddingLength]));
            tensors.Add(($"blk.{b}.attn_output.weight", [EmbeddingLength, EmbeddingLength]));
            tensors.Add(($"blk.{b}.ffn_norm.weight", [EmbeddingLength]));
            tensors.Add(($"blk.{b}.ffn_gate.weight", [EmbeddingLength, FeedForward]));
            tensors.Add(($"blk.{b}.ffn_up.weight", [EmbeddingLength, FeedForward]));
            tensors.Add(($"blk.{b}.ffn_down.weight", [FeedForward, EmbeddingLength]));
        }

        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<int> { 2, 3, 3 };
        for (var i = 0; i < 256; i++)
        {
            tokens.Add($"<0x{i:X2}>");
            types.Add(6);
        }

        tokens.Add("\u2581");
        types.Add(1);

        using var stream = File.Create(path);
        using var w = new BinaryWriter(stream, Encoding.UTF8);
        var kvs = new List<Action>
        {
            () => { Key("general.architecture"); Str(architecture); },
            () => { Key("general.name"); Str("tiny-test"); },
            () => { Key("llama.context_length"); U32((uint)contextLength); },
            () => { Key("llama.embedding_length"); U32(EmbeddingLength); },
            () => { Key("llama.block_count"); U32(Blocks); },
            () => { Key("llama.feed_forward_length"); U32(FeedForward); },
            () => { Key("llama.attention.head_count"); U32(Heads); },
            () => { Key("llama.attention.layer_norm_rms_epsilon"); F32(1e-5f); },
            () => { Key("tokenizer.ggml.model"); Str("llama"); },
            () => { Key("tokenizer.ggml.bos_token_id"); U32(1); },
            () => { Key("tokenizer.ggml.eos_token_id"); U32(2); },
            () => { Key("tokenizer.ggml.unknown_token_id"); U32(0); },
            () =>
            {
                Key("tokenizer.ggml.tokens");
                w.Write(9u);
                w.Write(8u);
                w.Write((ulong)tokens.Count);
                tokens.ForEach(RawStr);
            },
            () =>
            {
                Key("tokenizer.ggml.token_type");
                w.Write(9u);
                w.Write(5u);
                w.Write((ulong)types.Count);
                types.ForEach(w.Write);
            },
        };
        if (chatTemplate is not null)
        {
            kvs.Add(() => { Key("tokenizer.chat_template"); Str(chatTemplate); });
        }

        w.Write("GGUF"u8);
        w.Write(3u);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)kvs.Count);
        kvs.ForEach(kv => kv());

        long offset = 0;
        foreach (var (name, shape) in tensors)
        {
            RawStr(name);
            w.Write((uint)shape.Length);
            foreach (var dim in shape)
            {
                w.Write((ulong)dim);
            }

            w.Write(0u); // GGML_TYPE_F32
            w.Write((ulong)offset);
            offset += Align(Count(shape) * 4);
        }

        Pad();
        foreach (var (name, shape) in tensors)
        {
            var isNorm = name.EndsWith("norm.weight", StringComparison.Ordinal);
            for (long i = 0; i < Count(shape); i++)
            {
                w.Write(isNorm ? 1f : (float)((random.NextDouble() * 2 - 1) * 0.2));
            }

            Pad();
        }

        return path;

        void Key(string key) => RawStr(key);
        void RawStr(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            w.Write((ulong)bytes.Length);
            w.Write(bytes);
        }

        void Str(string s)
        {
            w.Write(8u);
            RawStr(s);
        }

        void U32(uint v)
        {
            w.Write(4u);
            w.Write(v);
        }

        void F32(float v)
        {
            w.Write(6u);
            w.Write(v);
        }

        void Pad()
        {
            w.Flush();
            while (stream.Position % Alignment != 0)
            {
                w.Write((byte)0);
            }
        }
    }

    private static long Count(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    private static long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;
}
