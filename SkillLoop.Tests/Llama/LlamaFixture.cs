using SkillLoop.Core.Llama;

namespace SkillLoop.Tests.Llama;

/// <summary>Writes the tiny GGUF once per test class and loads it with the real llama.cpp libraries beside the tests.</summary>
public sealed class LlamaFixture : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("skillloop-llama-").FullName;

    public LlamaFixture()
    {
        Runtime = LlamaRuntime.TryInitialize();
        Assert.True(Runtime.IsAvailable, $"llama.cpp must load from {Runtime.Directory}: {Runtime.Error}");
        ModelPath = TinyGguf.Write(Path.Combine(_directory, "tiny-test.gguf"));
        Model = LlamaModel.Load(ModelPath);
    }

    public LlamaRuntimeInfo Runtime { get; }

    public string ModelPath { get; }

    public LlamaModel Model { get; }

    public void Dispose()
    {
        Model.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind is harmless.
        }
    }
}
