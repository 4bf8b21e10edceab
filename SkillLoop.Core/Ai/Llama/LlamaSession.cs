namespace SkillLoop.Core.Ai.Llama;

/// <summary>
/// One model, one llama.cpp context made on first use, and the gate that lets one request at a time use it. The chat
/// client and the embedding generator each hold one. Disposing waits for the request inside: freeing the context
/// under a running decode would crash the process.
/// </summary>
internal sealed class LlamaSession(LlamaModel model, bool ownsModel, Func<LlamaContextSettings> contextSettings) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private LlamaContext? _context;

    public LlamaModel Model => model;

    public bool IsDisposed { get; private set; }

    public Task EnterAsync(CancellationToken cancellationToken) => _gate.WaitAsync(cancellationToken);

    public void Exit() => _gate.Release();

    /// <summary>The context; only between <see cref="EnterAsync"/> and <see cref="Exit"/>.</summary>
    public LlamaContext Context => _context ??= new LlamaContext(model, contextSettings());

    public void Dispose()
    {
        if (IsDisposed)
            return;
        IsDisposed = true;
        _gate.Wait();
        _context?.Dispose();
        if (ownsModel)
            model.Dispose();
        _gate.Dispose();
    }
}
