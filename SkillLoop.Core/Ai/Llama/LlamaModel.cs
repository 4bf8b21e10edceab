using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using SkillLoop.Core.Ai.Llama.Native;

namespace SkillLoop.Core.Ai.Llama;

/// <summary>
/// A GGUF model loaded by llama.cpp, memory-mapped (the OS pages weights in and shares them; nothing is copied).
/// Thread-safe for reading (tokenize, template); contexts built on it keep it alive until they are freed.
/// </summary>
public sealed unsafe class LlamaModel : IDisposable
{
    private readonly ModelHandle _handle;

    private LlamaModel(string path, ModelHandle handle)
    {
        _handle = handle;
        Path = path;
        Name = System.IO.Path.GetFileNameWithoutExtension(path);
        Vocab = LlamaNative.ModelGetVocab(handle.DangerousGetHandle());
        EmbeddingLength = LlamaNative.ModelNEmbd(Handle);
        TrainContextLength = LlamaNative.ModelNCtxTrain(Handle);
        VocabSize = LlamaNative.VocabNTokens(Vocab);
        ChatTemplate = Marshal.PtrToStringUTF8(LlamaNative.ModelChatTemplate(Handle, 0));
        var buffer = stackalloc byte[256];
        var length = LlamaNative.ModelDesc(Handle, buffer, 256);
        Description = length > 0 ? Encoding.UTF8.GetString(buffer, Math.Min(length, 255)) : Name;
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

    internal nint Handle => _handle.DangerousGetHandle();

    internal nint Vocab { get; }

    internal ModelHandle SafeHandle => _handle;

    /// <summary>Loads a GGUF file; llama.cpp must be initialized (see <see cref="LlamaRuntime"/>).</summary>
    public static LlamaModel Load(string path, string? nativeDirectory = null)
    {
        LlamaRuntime.EnsureInitialized(nativeDirectory);
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"GGUF model not found: {path}", path);
        }

        var parameters = LlamaNative.ModelDefaultParams();
        parameters.NGpuLayers = 0;
        // Memory-mapped where the platform can; one copy of the weights however many contexts share it.
        parameters.LoadMode = LlamaNative.SupportsMmap() ? 1 : 0;
        var handle = new ModelHandle(LlamaNative.ModelLoadFromFile(path, parameters));
        if (handle.IsInvalid)
        {
            throw new InvalidDataException($"llama.cpp could not load {path} (not a GGUF model, or an architecture this build does not know; see the log).");
        }

        return new LlamaModel(path, handle);
    }

    /// <summary>Tokenizes UTF-8 text; <paramref name="parseSpecial"/> turns special-token text (e.g. &lt;|im_start|&gt;) into those tokens.</summary>
    public int[] Tokenize(string text, bool addSpecial, bool parseSpecial)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        // A byte-fallback vocabulary can need several tokens per byte; retry with the exact count when told.
        var tokens = new int[bytes.Length + 8];
        while (true)
        {
            int count;
            fixed (byte* b = bytes)
            fixed (int* t = tokens)
            {
                count = LlamaNative.Tokenize(Vocab, b, bytes.Length, t, tokens.Length, addSpecial, parseSpecial);
            }

            if (count >= 0)
            {
                return tokens[..count];
            }

            if (-count <= tokens.Length)
            {
                throw new InvalidOperationException("llama_tokenize failed.");
            }

            tokens = new int[-count];
        }
    }

    /// <summary>The bytes one token stands for (may be part of a UTF-8 character).</summary>
    public byte[] TokenToBytes(int token, bool special = false)
    {
        Span<byte> buffer = stackalloc byte[64];
        int length;
        fixed (byte* b = buffer)
        {
            length = LlamaNative.TokenToPiece(Vocab, token, b, buffer.Length, 0, special);
        }

        if (length >= 0)
        {
            return buffer[..length].ToArray();
        }

        var large = new byte[-length];
        fixed (byte* b = large)
        {
            length = LlamaNative.TokenToPiece(Vocab, token, b, large.Length, 0, special);
        }

        return large[..Math.Max(length, 0)];
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

    public bool IsEndOfGeneration(int token) => LlamaNative.VocabIsEog(Vocab, token);

    /// <summary>
    /// Formats a conversation with the model's own chat template (llama.cpp recognises the common template families
    /// from the Jinja text); a model without a template, or with one llama.cpp does not recognise, gets ChatML.
    /// </summary>
    public string ApplyChatTemplate(IReadOnlyList<(string Role, string Content)> messages, bool addAssistant)
    {
        return Apply(ChatTemplate) ?? Apply("chatml")
            ?? throw new InvalidOperationException("llama_chat_apply_template failed for ChatML.");

        string? Apply(string? template)
        {
            if (template is null)
            {
                return null;
            }

            var pinned = new List<GCHandle>();
            try
            {
                var templateBytes = Utf8Z(template, pinned);
                var chat = new LlamaChatMessage[messages.Count];
                var totalLength = 0;
                for (var i = 0; i < messages.Count; i++)
                {
                    chat[i] = new LlamaChatMessage { Role = Utf8Z(messages[i].Role, pinned), Content = Utf8Z(messages[i].Content, pinned) };
                    totalLength += messages[i].Content.Length + messages[i].Role.Length;
                }

                var buffer = new byte[Math.Max(256, totalLength * 2 + 256)];
                fixed (LlamaChatMessage* m = chat)
                {
                    for (var attempt = 0; attempt < 2; attempt++)
                    {
                        int length;
                        fixed (byte* b = buffer)
                        {
                            length = LlamaNative.ChatApplyTemplate((byte*)templateBytes, m, (nuint)chat.Length, addAssistant, b, buffer.Length);
                        }

                        if (length < 0)
                        {
                            return null;
                        }

                        if (length <= buffer.Length)
                        {
                            return Encoding.UTF8.GetString(buffer, 0, length);
                        }

                        buffer = new byte[length];
                    }
                }

                return null;
            }
            finally
            {
                pinned.ForEach(h => h.Free());
            }
        }

        static nint Utf8Z(string s, List<GCHandle> pinned)
        {
            var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
            Encoding.UTF8.GetBytes(s, bytes);
            var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
            pinned.Add(handle);
            return handle.AddrOfPinnedObject();
        }
    }

    public void Dispose() => _handle.Dispose();

    /// <summary>Frees the model once the last context that references it (DangerousAddRef) is gone.</summary>
    internal sealed class ModelHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public ModelHandle(nint handle)
            : base(ownsHandle: true) => SetHandle(handle);

        protected override bool ReleaseHandle()
        {
            LlamaNative.ModelFree(handle);
            return true;
        }
    }
}
