using SkillLoop.Core.Ai.Llama;

namespace SkillLoop.Tests.Ai.Llama;

/// <summary>The llama.cpp tests share one tiny model and run one class at a time (they all use the same two cores).</summary>
[CollectionDefinition(Name)]
public sealed class LlamaCollection : ICollectionFixture<LlamaFixture>
{
    public const string Name = "llama.cpp";
}

/// <summary>Writes the tiny GGUF once and loads it with the real llama.cpp (LLamaSharp.Backend.Cpu) beside the tests.</summary>
public sealed class LlamaFixture : IDisposable
{
    private readonly string _directory = System.IO.Directory.CreateTempSubdirectory("skillloop-llama-").FullName;

    public LlamaFixture()
    {
        Backend = LlamaBackend.TryInitialize();
        Assert.True(Backend.IsAvailable, $"llama.cpp must load: {Backend.Error}");
        ModelPath = TinyGguf.Write(Path.Combine(_directory, "tiny-test.gguf"));
        Model = LlamaModel.Load(ModelPath);
    }

    public LlamaBackendInfo Backend { get; }

    public string Directory => _directory;

    public string ModelPath { get; }

    public LlamaModel Model { get; }

    public void Dispose()
    {
        Model.Dispose();
        try
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind is harmless.
        }
    }
}
