using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SkillLoop.Core.Ai.Llama;

namespace SkillLoop.Tests.Ai.Llama;

[Collection(LlamaCollection.Name)]
public sealed class LlamaModelTests(LlamaFixture fixture)
{
    [Fact]
    public void The_cpu_backend_loads_with_a_build_chosen_for_this_cpu()
    {
        Assert.True(fixture.Backend.IsAvailable, fixture.Backend.Error);
        Assert.Contains("CPU", fixture.Backend.SystemInfo);
        Assert.StartsWith("CPU ", fixture.Backend.Library);
    }

    [Fact]
    public void The_tiny_model_loads_with_its_shape_and_chat_template()
    {
        var model = fixture.Model;
        Assert.Equal(TinyGguf.EmbeddingLength, model.EmbeddingLength);
        Assert.Equal(TinyGguf.VocabSize, model.VocabSize);
        Assert.Equal(TinyGguf.ContextLength, model.TrainContextLength);
        Assert.Equal("tiny-test", model.Name);
        Assert.Equal(TinyGguf.ChatMlTemplate, model.ChatTemplate);
    }

    [Fact]
    public void Text_survives_tokenizing_and_detokenizing_including_multibyte_characters()
    {
        const string text = "Use pnpm, not npm — 不对 ✓";
        var tokens = fixture.Model.Tokenize(text, addSpecial: false, parseSpecial: false);
        Assert.True(tokens.Length >= System.Text.Encoding.UTF8.GetByteCount(text));
        Assert.Equal(text, fixture.Model.Detokenize(tokens).TrimStart());
        Assert.Equal(1, fixture.Model.Tokenize("x", addSpecial: true, parseSpecial: false)[0]); // BOS
    }

    [Fact]
    public void A_conversation_is_formatted_with_the_models_own_template()
    {
        var prompt = fixture.Model.ApplyChatTemplate([("system", "Be brief."), ("user", "hi")], addAssistant: true);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", prompt);
    }

    [Fact]
    public void A_model_without_a_template_is_formatted_as_chatml()
    {
        var path = TinyGguf.Write(Path.Combine(fixture.Directory, "no-template.gguf"), chatTemplate: null);
        using var model = LlamaModel.Load(path);
        Assert.Null(model.ChatTemplate);
        Assert.Contains("<|im_start|>user\nhi<|im_end|>", model.ApplyChatTemplate([("user", "hi")], addAssistant: true));
    }

    [Fact]
    public void A_file_that_is_not_a_gguf_is_refused_with_a_clear_error()
    {
        var path = Path.Combine(fixture.Directory, "broken.gguf");
        File.WriteAllText(path, "not a gguf");
        var error = Assert.Throws<InvalidDataException>(() => LlamaModel.Load(path));
        Assert.Equal("broken.gguf is not a GGUF model (a GGUF file starts with the bytes 'GGUF').", error.Message);
        Assert.Throws<FileNotFoundException>(() => LlamaModel.Load(path + ".missing"));
    }

    [Fact]
    public void A_truncated_gguf_is_refused_as_truncated()
    {
        var path = Path.Combine(fixture.Directory, "cut.gguf");
        var bytes = File.ReadAllBytes(fixture.ModelPath);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<InvalidDataException>(() => LlamaModel.Load(path));

        Assert.StartsWith("cut.gguf is truncated or damaged", error.Message);
        Assert.Contains("(llama.cpp: ", error.Message);
    }

    [Fact]
    public void A_gguf_of_an_unknown_architecture_is_refused_naming_it()
    {
        var path = TinyGguf.Write(Path.Combine(fixture.Directory, "alien.gguf"), architecture: "alien9000");

        var error = Assert.Throws<InvalidDataException>(() => LlamaModel.Load(path));

        Assert.StartsWith("alien.gguf uses a model architecture this llama.cpp build does not support", error.Message);
        Assert.Contains("alien9000", error.Message);
    }

    [Fact]
    public void Llama_cpps_own_log_goes_to_the_logger_at_debug_only()
    {
        var logger = new RecordingLogger();
        LlamaBackend.TryInitialize(logger);
        try
        {
            using var model = LlamaModel.Load(fixture.ModelPath);
            Assert.Throws<InvalidDataException>(() => LlamaModel.Load(TinyGguf.Write(Path.Combine(fixture.Directory, "alien-log.gguf"), architecture: "alien9000")));
        }
        finally
        {
            LlamaBackend.TryInitialize(NullLogger.Instance);
        }

        var native = logger.Entries.Where(e => e.Message.StartsWith("llama.cpp (", StringComparison.Ordinal)).ToList();
        Assert.Contains(native, e => e.Message.Contains("alien9000", StringComparison.Ordinal)); // llama.cpp's error, kept for the log
        Assert.All(native, e => Assert.Equal(LogLevel.Debug, e.Level));
    }

    private sealed class RecordingLogger : ILogger
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<(LogLevel Level, string Message)> _entries = new();

        public IReadOnlyList<(LogLevel Level, string Message)> Entries => [.. _entries];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _entries.Enqueue((logLevel, formatter(state, exception)));
    }
}
