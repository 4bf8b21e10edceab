using System.Runtime.InteropServices;

namespace SkillLoop.Core.Ai.Llama.Native;

/// <summary>
/// The slice of llama.cpp's C API the server uses. The library names are mapped to the versioned files of the npm
/// package by <see cref="LlamaRuntime"/> (NativeLibrary.SetDllImportResolver); nothing here may be called before
/// <see cref="LlamaRuntime.TryInitialize"/> succeeded.
/// </summary>
internal static unsafe partial class LlamaNative
{
    public const string Llama = "skillloop-llama";
    public const string Ggml = "skillloop-ggml";

    // ggml

    [LibraryImport(Ggml, EntryPoint = "ggml_backend_load_all_from_path", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgmlBackendLoadAllFromPath(string directory);

    // Process

    [LibraryImport(Llama, EntryPoint = "llama_backend_init")]
    public static partial void BackendInit();

    [LibraryImport(Llama, EntryPoint = "llama_version")]
    public static partial nint Version();

    [LibraryImport(Llama, EntryPoint = "llama_print_system_info")]
    public static partial nint PrintSystemInfo();

    [LibraryImport(Llama, EntryPoint = "llama_log_set")]
    public static partial void LogSet(delegate* unmanaged[Cdecl]<int, byte*, nint, void> callback, nint userData);

    [LibraryImport(Llama, EntryPoint = "llama_supports_mmap")]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool SupportsMmap();

    // Parameters

    [LibraryImport(Llama, EntryPoint = "llama_model_default_params")]
    public static partial LlamaModelParams ModelDefaultParams();

    [LibraryImport(Llama, EntryPoint = "llama_context_default_params")]
    public static partial LlamaContextParams ContextDefaultParams();

    [LibraryImport(Llama, EntryPoint = "llama_sampler_chain_default_params")]
    public static partial LlamaSamplerChainParams SamplerChainDefaultParams();

    // Model

    [LibraryImport(Llama, EntryPoint = "llama_model_load_from_file", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint ModelLoadFromFile(string path, LlamaModelParams parameters);

    [LibraryImport(Llama, EntryPoint = "llama_model_free")]
    public static partial void ModelFree(nint model);

    [LibraryImport(Llama, EntryPoint = "llama_model_get_vocab")]
    public static partial nint ModelGetVocab(nint model);

    [LibraryImport(Llama, EntryPoint = "llama_model_n_embd")]
    public static partial int ModelNEmbd(nint model);

    [LibraryImport(Llama, EntryPoint = "llama_model_n_ctx_train")]
    public static partial int ModelNCtxTrain(nint model);

    [LibraryImport(Llama, EntryPoint = "llama_model_chat_template")]
    public static partial nint ModelChatTemplate(nint model, nint name);

    [LibraryImport(Llama, EntryPoint = "llama_model_desc")]
    public static partial int ModelDesc(nint model, byte* buffer, nuint size);

    [LibraryImport(Llama, EntryPoint = "llama_model_has_encoder")]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool ModelHasEncoder(nint model);

    // Vocabulary

    [LibraryImport(Llama, EntryPoint = "llama_vocab_n_tokens")]
    public static partial int VocabNTokens(nint vocab);

    [LibraryImport(Llama, EntryPoint = "llama_vocab_bos")]
    public static partial int VocabBos(nint vocab);

    [LibraryImport(Llama, EntryPoint = "llama_vocab_is_eog")]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool VocabIsEog(nint vocab, int token);

    [LibraryImport(Llama, EntryPoint = "llama_tokenize")]
    public static partial int Tokenize(nint vocab, byte* text, int textLength, int* tokens, int maxTokens,
        [MarshalAs(UnmanagedType.U1)] bool addSpecial, [MarshalAs(UnmanagedType.U1)] bool parseSpecial);

    [LibraryImport(Llama, EntryPoint = "llama_token_to_piece")]
    public static partial int TokenToPiece(nint vocab, int token, byte* buffer, int length, int lstrip,
        [MarshalAs(UnmanagedType.U1)] bool special);

    [LibraryImport(Llama, EntryPoint = "llama_chat_apply_template")]
    public static partial int ChatApplyTemplate(byte* template, LlamaChatMessage* messages, nuint count,
        [MarshalAs(UnmanagedType.U1)] bool addAssistant, byte* buffer, int length);

    // Context

    [LibraryImport(Llama, EntryPoint = "llama_init_from_model")]
    public static partial nint InitFromModel(nint model, LlamaContextParams parameters);

    [LibraryImport(Llama, EntryPoint = "llama_free")]
    public static partial void Free(nint context);

    [LibraryImport(Llama, EntryPoint = "llama_n_ctx")]
    public static partial uint NCtx(nint context);

    [LibraryImport(Llama, EntryPoint = "llama_n_batch")]
    public static partial uint NBatch(nint context);

    [LibraryImport(Llama, EntryPoint = "llama_get_memory")]
    public static partial nint GetMemory(nint context);

    [LibraryImport(Llama, EntryPoint = "llama_memory_clear")]
    public static partial void MemoryClear(nint memory, [MarshalAs(UnmanagedType.U1)] bool data);

    [LibraryImport(Llama, EntryPoint = "llama_batch_get_one")]
    public static partial LlamaBatch BatchGetOne(int* tokens, int count);

    [LibraryImport(Llama, EntryPoint = "llama_batch_init")]
    public static partial LlamaBatch BatchInit(int tokens, int embd, int seqMax);

    [LibraryImport(Llama, EntryPoint = "llama_batch_free")]
    public static partial void BatchFree(LlamaBatch batch);

    [LibraryImport(Llama, EntryPoint = "llama_decode")]
    public static partial int Decode(nint context, LlamaBatch batch);

    [LibraryImport(Llama, EntryPoint = "llama_encode")]
    public static partial int Encode(nint context, LlamaBatch batch);

    [LibraryImport(Llama, EntryPoint = "llama_get_embeddings_seq")]
    public static partial float* GetEmbeddingsSeq(nint context, int seqId);

    [LibraryImport(Llama, EntryPoint = "llama_set_abort_callback")]
    public static partial void SetAbortCallback(nint context, delegate* unmanaged[Cdecl]<nint, byte> callback, nint data);

    // Sampling

    [LibraryImport(Llama, EntryPoint = "llama_sampler_chain_init")]
    public static partial nint SamplerChainInit(LlamaSamplerChainParams parameters);

    [LibraryImport(Llama, EntryPoint = "llama_sampler_chain_add")]
    public static partial void SamplerChainAdd(nint chain, nint sampler);

    [LibraryImport(Llama, EntryPoint = "llama_sampler_init_grammar", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint SamplerInitGrammar(nint vocab, string grammar, string root);

    [LibraryImport(Llama, EntryPoint = "llama_sampler_init_top_k")]
    public static partial nint SamplerInitTopK(int k);

    [LibraryImport(Llama, EntryPoint = "llama_sampler_init_top_p")]
    public static partial nint SamplerInitTopP(float p, nuint minKeep);

    [LibraryImport(Llama, EntryPoint = "llama_sampler_init_temp")]
    public static partial nint SamplerInitTemp(float temperature);

    [LibraryImport(Llama, EntryPoint = "llama_sampler_init_dist")]
    public static partial nint SamplerInitDist(uint seed);

    [LibraryImport(Llama, EntryPoint = "llama_sampler_init_greedy")]
    public static partial nint SamplerInitGreedy();

    [LibraryImport(Llama, EntryPoint = "llama_sampler_sample")]
    public static partial int SamplerSample(nint sampler, nint context, int index);

    [LibraryImport(Llama, EntryPoint = "llama_sampler_free")]
    public static partial void SamplerFree(nint sampler);
}
