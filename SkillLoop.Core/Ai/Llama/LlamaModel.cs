using System.Text;
using LLama;
using LLama.Common;
using LLama.Exceptions;
using LLama.Native;

namespace SkillLoop.Core.Ai.Llama;

/// <summary>
/// A GGUF model loaded by llama.cpp (through LLamaSharp), memory-mapped: the OS pages the weights in and shares
/// them; nothing is copied. Thread-safe for reading (tokenize, template); contexts built on it hold a reference to
/// its native handle, so the weights outlive them.
/// </summary>
public sealed class LlamaModel : IDisposable
{
    private static readonly byte[] GgufMagic = "GGUF"u8.ToArray();

    private readonly LLamaWeights _weights;

    private LlamaModel(string path, LLamaWeights weights)
    {
        _weights = weights;
        Path = path;
        Name = System.IO.Path.GetFileNameWithoutExtension(path);
        Description = weights.NativeHandle.Description;
        EmbeddingLength = weights.EmbeddingSize;
        TrainContextLength = weights.ContextSize;
        VocabSize = weights.Vocab.Count;
        ChatTemplate = weights.NativeHandle.GetTemplate(null, strict: false);
    }

    public string Path { get; }

    /// <summary>The file name without extension; what status and <c>extractedBy</c> show.</summary>
    public string Name { get; }

    public string Description { get; }

    public int EmbeddingLength { get; }

    public int TrainContextLength { get; }

    public int VocabSize { get; }

    /// <summary>The model's own chat template (GGUF <c>tokenizer.chat_template</c>), or null.</summary>
    public string? ChatTemplate { get; }

    internal LLamaWeights Weights => _weights;

    internal SafeLlamaModelHandle.Vocabulary Vocab => _weights.Vocab;

    /// <summary>
    /// Loads a GGUF file. A file that is not a GGUF, is cut short, or names an architecture this llama.cpp does not
    /// know is refused with an <see cref="InvalidDataException"/> that says which (llama.cpp's own words included).
    /// </summary>
    public static LlamaModel Load(string path)
    {
        LlamaBackend.EnsureInitialized();
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"GGUF model not found: {path}", path);
        }

        CheckHeader(path);
        var parameters = new ModelParams(path)
        {
            GpuLayerCount = 0,
            // One copy of the weights however many contexts share it, paged in by the OS.
            LoadMode = LLamaLoadMode.MemoryMap,
        };
        using var capture = LlamaBackend.CaptureErrors();
        try
        {
            return new LlamaModel(path, LLamaWeights.LoadFromFile(parameters));
        }
        catch (LoadWeightsFailedException)
        {
            throw new InvalidDataException(Explain(System.IO.Path.GetFileName(path), capture.Errors));
        }
    }

    /// <summary>Tokenizes text; <paramref name="parseSpecial"/> turns special-token text (e.g. &lt;|im_start|&gt;) into those tokens.</summary>
    public int[] Tokenize(string text, bool addSpecial, bool parseSpecial) =>
        Array.ConvertAll(_weights.NativeHandle.Tokenize(text, addSpecial, parseSpecial, Encoding.UTF8), t => (int)t);

    /// <summary>The bytes one token stands for (may be part of a UTF-8 character).</summary>
    public byte[] TokenToBytes(int token, bool special = false)
    {
        Span<byte> buffer = stackalloc byte[64];
        var length = (int)_weights.NativeHandle.TokenToSpan(token, buffer, special: special);
        if (length <= buffer.Length)
        {
            return buffer[..length].ToArray();
        }

        var large = new byte[length];
        length = (int)_weights.NativeHandle.TokenToSpan(token, large, special: special);
        return large[..Math.Min(length, large.Length)];
    }

    public string Detokenize(IEnumerable<int> tokens)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            bytes.AddRange(TokenToBytes(token));
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    public bool IsEndOfGeneration(int token) => ((LLamaToken)token).IsEndOfGeneration(_weights.Vocab);

    internal int? BeginningOfSequence => _weights.Vocab.BOS is { } bos ? (int)bos : null;

    /// <summary>
    /// Formats a conversation with the model's own chat template (llama.cpp recognises the common template families
    /// from the Jinja text); a model without a template, or with one llama.cpp does not recognise, gets ChatML.
    /// </summary>
    public string ApplyChatTemplate(IReadOnlyList<(string Role, string Content)> messages, bool addAssistant)
    {
        return Apply(ChatTemplate) ?? Apply("chatml")
            ?? throw new InvalidOperationException("llama.cpp could not format the conversation as ChatML.");

        string? Apply(string? template)
        {
            if (template is null)
            {
                return null;
            }

            var formatter = new LLamaTemplate(template) { AddAssistant = addAssistant };
            foreach (var (role, content) in messages)
            {
                formatter.Add(role, content);
            }

            try
            {
                return Encoding.UTF8.GetString(formatter.Apply());
            }
            catch (MissingTemplateException)
            {
                return null;
            }
        }
    }

    public void Dispose() => _weights.Dispose();

    /// <summary>Refuses what is plainly not a GGUF before llama.cpp sees it (its error for that is the least clear).</summary>
    private static void CheckHeader(string path)
    {
        Span<byte> header = stackalloc byte[4];
        using (var stream = File.OpenRead(path))
        {
            if (stream.ReadAtLeast(header, 4, throwOnEndOfStream: false) < 4 || !header.SequenceEqual(GgufMagic))
            {
                throw new InvalidDataException($"{System.IO.Path.GetFileName(path)} is not a GGUF model (a GGUF file starts with the bytes 'GGUF').");
            }
        }
    }

    /// <summary>The refusal in words an operator can act on, from what llama.cpp logged while loading.</summary>
    internal static string Explain(string file, IReadOnlyList<string> errors)
    {
        var said = errors.FirstOrDefault(e => e.Contains("error loading model", StringComparison.OrdinalIgnoreCase)) ?? errors.FirstOrDefault();
        var detail = said is null ? "" : $" (llama.cpp: {said.Trim()})";
        if (said is null)
        {
            return $"llama.cpp could not load {file}; see the log.";
        }

        if (said.Contains("architecture", StringComparison.OrdinalIgnoreCase))
        {
            return $"{file} uses a model architecture this llama.cpp build does not support{detail}.";
        }

        if (said.Contains("file bounds", StringComparison.OrdinalIgnoreCase) || said.Contains("failed to read", StringComparison.OrdinalIgnoreCase)
            || said.Contains("truncated", StringComparison.OrdinalIgnoreCase) || said.Contains("incomplete", StringComparison.OrdinalIgnoreCase)
            || said.Contains("unexpectedly reached end", StringComparison.OrdinalIgnoreCase))
        {
            return $"{file} is truncated or damaged: it ends before the data its header describes (was the download or copy complete?){detail}.";
        }

        return $"llama.cpp could not load {file}{detail}.";
    }
}
