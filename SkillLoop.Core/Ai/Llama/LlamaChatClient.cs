using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SkillLoop.Core.Ai;
using LLama.Native;

namespace SkillLoop.Core.Ai.Llama;

/// <summary>Settings of the local llama.cpp chat and embedding clients.</summary>
public sealed record LlamaClientOptions
{
    /// <summary>Context (prompt + answer) in tokens; capped at what the model was trained for.</summary>
    public int ContextLength { get; init; } = 4096;

    public int EmbeddingContextLength { get; init; } = 512;

    /// <summary>
    /// Threads per generated token. llama.cpp's threads spin while waiting for each other, which collapses (measured:
    /// 40x slower) when another process wants the same cores, so one core is left free by default.
    /// </summary>
    public int Threads { get; init; } = Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>Threads for prompt processing and embeddings (larger batches, where the spinning matters less).</summary>
    public int BatchThreads { get; init; } = Math.Max(1, Environment.ProcessorCount);

    public int DefaultMaxOutputTokens { get; init; } = 1024;
}

/// <summary>
/// <see cref="IChatClient"/> over a local GGUF model. Prompts are formatted with the model's own chat template;
/// <see cref="ChatOptions.ResponseFormat"/> JSON (with or without a schema) constrains the output through a GBNF
/// grammar (<see cref="JsonSchemaGbnf"/>). One context is shared: requests queue on a semaphore, so any number of
/// callers is safe; cancellation is honoured while queued, during the prompt and between tokens. The decoding loop is
/// ours, over LLamaSharp's context and sampler chain: LLamaSharp's own chat client neither maps the response format
/// to a grammar nor reports token usage or why generation stopped, which extraction and prompt fitting rely on.
/// </summary>
public sealed partial class LlamaChatClient : IChatClient, IPromptTokenCounter
{
    private readonly LlamaModel _model;
    private readonly LlamaClientOptions _options;
    private readonly ILogger _logger;
    private readonly LlamaSession _session;

    public LlamaChatClient(LlamaModel model, LlamaClientOptions? options = null, ILogger<LlamaChatClient>? logger = null, bool ownsModel = false)
    {
        _model = model;
        _options = options ?? new LlamaClientOptions();
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _session = new LlamaSession(model, ownsModel, () => new LlamaContextSettings((uint)ContextLength, _options.Threads, _options.BatchThreads));
        Metadata = new ChatClientMetadata("llama.cpp", null, model.Name);
    }

    public ChatClientMetadata Metadata { get; }

    public LlamaModel Model => _model;

    /// <summary>The context a request gets: the configured length, capped at what the model was trained for.</summary>
    public int ContextLength => Math.Min(_options.ContextLength, _model.TrainContextLength > 0 ? _model.TrainContextLength : _options.ContextLength);

    public int CountPromptTokens(IEnumerable<ChatMessage> messages)
    {
        ObjectDisposedException.ThrowIf(_session.IsDisposed, this);
        var turns = messages.Select(m => (Role: m.Role.Value, Content: m.Text)).ToList();
        return PromptTokens(_model.ApplyChatTemplate(turns, addAssistant: true)).Length;
    }

    public int CountTokens(string text)
    {
        ObjectDisposedException.ThrowIf(_session.IsDisposed, this);
        return _model.Tokenize(text, addSpecial: false, parseSpecial: false).Length;
    }

    /// <summary>The tokens a formatted prompt is decoded as (tokenizing only reads the vocabulary: safe beside a running generation).</summary>
    private int[] PromptTokens(string prompt)
    {
        var tokens = _model.Tokenize(prompt, addSpecial: true, parseSpecial: true);
        return tokens.Length > 1 && tokens[0] == tokens[1] && tokens[0] == _model.BeginningOfSequence
            ? tokens[1..] // the template already starts with BOS
            : tokens;
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_session.IsDisposed, this);
        var request = Prepare(messages, options);
        var responseId = Guid.NewGuid().ToString("N");
        var channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var generation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        await _session.EnterAsync(cancellationToken);
        Task<GenerationResult> producer;
        try
        {
            // A dedicated thread: decoding is long, blocking native work that must not starve the thread pool.
            producer = Task.Factory.StartNew(() => Generate(request, channel.Writer, generation.Token),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        catch
        {
            _session.Exit();
            throw;
        }

        _ = producer.ContinueWith(t =>
        {
            _ = t.Exception; // surfaced to the caller through the channel; observed here so it is not reported twice
            _session.Exit();
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            await foreach (var piece in channel.Reader.ReadAllAsync(CancellationToken.None))
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ResponseId = responseId, ModelId = _model.Name };
            }

            var result = await producer;
            LogGenerated(_logger, _model.Name, result.PromptTokens, result.OutputTokens, result.FinishReason.Value);
            yield return new ChatResponseUpdate
            {
                Role = ChatRole.Assistant,
                ResponseId = responseId,
                ModelId = _model.Name,
                FinishReason = result.FinishReason,
                Contents = [new UsageContent(new UsageDetails
                {
                    InputTokenCount = result.PromptTokens,
                    OutputTokenCount = result.OutputTokens,
                    TotalTokenCount = result.PromptTokens + result.OutputTokens,
                })],
            };
        }
        finally
        {
            // The caller stopped reading (or failed): stop generating so the next request gets the model.
            await generation.CancelAsync();
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? Metadata
        : serviceType == typeof(LlamaModel) ? _model
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose() => _session.Dispose();

    private GenerationRequest Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var turns = messages
            .Select(m => (Role: m.Role.Value, Content: m.Text))
            .ToList();
        if (turns.Count == 0)
        {
            throw new ArgumentException("At least one message is needed.", nameof(messages));
        }

        var grammar = options?.ResponseFormat is ChatResponseFormatJson json
            ? json.Schema is { } schema ? JsonSchemaGbnf.FromSchema(schema) : JsonSchemaGbnf.AnyObject
            : null;

        return new GenerationRequest(
            _model.ApplyChatTemplate(turns, addAssistant: true),
            grammar,
            options?.MaxOutputTokens ?? _options.DefaultMaxOutputTokens,
            options?.Temperature ?? 0.7f,
            options?.TopK ?? 40,
            options?.TopP ?? 0.95f,
            options?.Seed is { } seed ? (uint)seed : 0xFFFFFFFF,
            options?.StopSequences ?? []);
    }

    private GenerationResult Generate(GenerationRequest request, ChannelWriter<string> writer, CancellationToken cancellationToken)
    {
        Exception? failure = null;
        try
        {
            var context = _session.Context;
            context.Clear();

            var prompt = PromptTokens(request.Prompt);

            if (prompt.Length >= context.ContextLength)
            {
                throw new InvalidOperationException(
                    $"The prompt has {prompt.Length} tokens; the context of {_model.Name} holds {context.ContextLength}.");
            }

            var maxTokens = Math.Min(request.MaxOutputTokens, context.ContextLength - prompt.Length);
            using var sampler = CreateSampler(request);
            {
                context.Decode(prompt, cancellationToken);
                var decoder = Encoding.UTF8.GetDecoder();
                var text = new StringBuilder();
                var chars = new char[64];
                var finish = ChatFinishReason.Length;
                var produced = 0;
                Span<int> next = stackalloc int[1];
                while (produced < maxTokens)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var token = context.Sample(sampler);
                    if (_model.IsEndOfGeneration(token))
                    {
                        finish = ChatFinishReason.Stop;
                        break;
                    }

                    produced++;
                    var bytes = _model.TokenToBytes(token);
                    var count = decoder.GetChars(bytes, chars, flush: false);
                    if (count > 0)
                    {
                        var piece = new string(chars, 0, count);
                        text.Append(piece);
                        writer.TryWrite(piece);
                        if (request.StopSequences.Any(s => s.Length > 0 && text.ToString().EndsWith(s, StringComparison.Ordinal)))
                        {
                            finish = ChatFinishReason.Stop;
                            break;
                        }
                    }

                    next[0] = token;
                    context.Decode(next, cancellationToken);
                }

                return new GenerationResult(prompt.Length, produced, finish);
            }
        }
        catch (Exception ex)
        {
            failure = ex;
            throw;
        }
        finally
        {
            writer.TryComplete(failure);
        }
    }

    private SafeLLamaSamplerChainHandle CreateSampler(GenerationRequest request)
    {
        var chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        try
        {
            if (request.Grammar is not null)
            {
                // Only grammars written by JsonSchemaGbnf get here: LLamaSharp adds llama.cpp's grammar sampler
                // without checking it (a grammar that does not parse would be a null sampler that crashes the process).
                chain.AddGrammar(_model.Vocab, request.Grammar, "root");
            }

            if (request.Temperature <= 0)
            {
                chain.AddGreedySampler();
            }
            else
            {
                chain.AddTopK(request.TopK);
                chain.AddTopP(request.TopP, 1);
                chain.AddTemperature(request.Temperature);
                chain.AddDistributionSampler(request.Seed);
            }

            return chain;
        }
        catch
        {
            chain.Dispose();
            throw;
        }
    }

    private sealed record GenerationRequest(
        string Prompt,
        string? Grammar,
        int MaxOutputTokens,
        float Temperature,
        int TopK,
        float TopP,
        uint Seed,
        IList<string> StopSequences);

    private sealed record GenerationResult(int PromptTokens, int OutputTokens, ChatFinishReason FinishReason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "llama.cpp {Model}: {PromptTokens} prompt tokens, {OutputTokens} generated ({FinishReason})")]
    private static partial void LogGenerated(ILogger logger, string model, int promptTokens, int outputTokens, string finishReason);
}
