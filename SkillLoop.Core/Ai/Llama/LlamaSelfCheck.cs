using System.Runtime.CompilerServices;
using SkillLoop.Core.Ai.Llama.Native;

namespace SkillLoop.Core.Ai.Llama;

/// <summary>
/// Asserts that the loaded llama.cpp matches the struct layouts this binding passes by value: sizes, the version,
/// and canary values from <c>llama_*_default_params()</c> that land in the wrong field when a layout moves.
/// </summary>
internal static class LlamaSelfCheck
{
    public const int ModelParamsSize = 80;
    public const int ContextParamsSize = 160;
    public const int BatchSize = 56;

    public static IReadOnlyList<string> Run(string? version)
    {
        var problems = new List<string>();
        Expect(problems, Unsafe.SizeOf<LlamaModelParams>() == ModelParamsSize, $"sizeof(llama_model_params) is {Unsafe.SizeOf<LlamaModelParams>()}, expected {ModelParamsSize}");
        Expect(problems, Unsafe.SizeOf<LlamaContextParams>() == ContextParamsSize, $"sizeof(llama_context_params) is {Unsafe.SizeOf<LlamaContextParams>()}, expected {ContextParamsSize}");
        Expect(problems, Unsafe.SizeOf<LlamaBatch>() == BatchSize, $"sizeof(llama_batch) is {Unsafe.SizeOf<LlamaBatch>()}, expected {BatchSize}");
        Expect(problems, version is not null && version.StartsWith(LlamaRuntime.ExpectedVersion, StringComparison.Ordinal),
            $"llama_version() is '{version}', the binding was verified against {LlamaRuntime.ExpectedVersion}");

        problems.AddRange(CheckModelDefaults(LlamaNative.ModelDefaultParams()));
        problems.AddRange(CheckContextDefaults(LlamaNative.ContextDefaultParams()));
        return problems;
    }

    internal static IEnumerable<string> CheckModelDefaults(LlamaModelParams p)
    {
        var problems = new List<string>();
        Expect(problems, p.Devices == 0 && p.TensorBuftOverrides == 0 && p.TensorSplit == 0 && p.ProgressCallback == 0 && p.KvOverrides == 0,
            "llama_model_default_params: pointer fields are not null");
        Expect(problems, p.LoadMode is >= -1 and <= 4, $"llama_model_default_params: load_mode {p.LoadMode} out of range");
        Expect(problems, p.SplitMode is >= 0 and <= 2, $"llama_model_default_params: split_mode {p.SplitMode} out of range");
        Expect(problems, p.MainGpu == 0, $"llama_model_default_params: main_gpu {p.MainGpu}");
        Expect(problems, AllBools(p.VocabOnly, p.CheckTensors, p.UseExtraBufts, p.NoHost, p.NoAlloc, p.LoadMtp),
            "llama_model_default_params: bool fields hold non-bool bytes");
        Expect(problems, p.VocabOnly == 0 && p.CheckTensors == 0 && p.NoAlloc == 0, "llama_model_default_params: vocab_only/check_tensors/no_alloc set");
        // Exact defaults of the verified build: -1 GPU layers (all), split by layer, load mode auto, extra buffers on.
        Expect(problems, p.NGpuLayers == -1 && p.SplitMode == 1 && p.LoadMode == -1 && p.UseExtraBufts == 1,
            $"llama_model_default_params: n_gpu_layers/split_mode/load_mode/use_extra_bufts are {p.NGpuLayers}/{p.SplitMode}/{p.LoadMode}/{p.UseExtraBufts}, expected -1/1/-1/1");
        return problems;
    }

    internal static IEnumerable<string> CheckContextDefaults(LlamaContextParams p)
    {
        var problems = new List<string>();
        Expect(problems, p.NCtx == 512 && p.NBatch == 2048 && p.NUbatch == 512 && p.NSeqMax == 1,
            $"llama_context_default_params: n_ctx/n_batch/n_ubatch/n_seq_max are {p.NCtx}/{p.NBatch}/{p.NUbatch}/{p.NSeqMax}, expected 512/2048/512/1");
        Expect(problems, p.PoolingType == -1 && p.AttentionType == -1 && p.RopeScalingType == -1,
            $"llama_context_default_params: rope_scaling/pooling/attention types are {p.RopeScalingType}/{p.PoolingType}/{p.AttentionType}, expected -1");
        // This build marks every YaRN factor "take the model's value" (-1); rope base/scale 0 means the same.
        Expect(problems, p.YarnExtFactor == -1f && p.YarnAttnFactor == -1f && p.YarnBetaFast == -1f && p.YarnBetaSlow == -1f,
            $"llama_context_default_params: yarn factors are {p.YarnExtFactor}/{p.YarnAttnFactor}/{p.YarnBetaFast}/{p.YarnBetaSlow}, expected -1");
        Expect(problems, p.RopeFreqBase == 0f && p.RopeFreqScale == 0f,
            $"llama_context_default_params: rope_freq_base/scale are {p.RopeFreqBase}/{p.RopeFreqScale}, expected 0");
        Expect(problems, p.TypeK == 1 && p.TypeV == 1, $"llama_context_default_params: type_k/type_v are {p.TypeK}/{p.TypeV}, expected F16 (1)");
        Expect(problems, p.CbEval == 0 && p.AbortCallback == 0 && p.Samplers == 0 && p.NSamplers == 0 && p.CtxOther == 0,
            "llama_context_default_params: pointer fields are not null");
        Expect(problems, AllBools(p.Embeddings, p.OffloadKqv, p.NoPerf, p.OpOffload, p.SwaFull, p.KvUnified),
            "llama_context_default_params: bool fields hold non-bool bytes");
        Expect(problems, p.Embeddings == 0 && p.OffloadKqv == 1 && p.OpOffload == 1 && p.SwaFull == 1,
            $"llama_context_default_params: embeddings/offload_kqv/op_offload/swa_full are {p.Embeddings}/{p.OffloadKqv}/{p.OpOffload}/{p.SwaFull}, expected 0/1/1/1");
        Expect(problems, p.NOutputsMaxPerSeq == 1 && p.DefragThold == -1f && p.NThreads > 0 && p.NThreadsBatch > 0,
            $"llama_context_default_params: n_outputs_max_per_seq/defrag_thold/n_threads are {p.NOutputsMaxPerSeq}/{p.DefragThold}/{p.NThreads}, expected 1/-1/>0");
        return problems;
    }

    private static bool AllBools(params ReadOnlySpan<byte> values)
    {
        foreach (var value in values)
        {
            if (value > 1)
            {
                return false;
            }
        }

        return true;
    }

    private static void Expect(List<string> problems, bool condition, string problem)
    {
        if (!condition)
        {
            problems.Add(problem);
        }
    }
}
