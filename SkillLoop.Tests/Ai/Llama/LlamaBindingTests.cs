using System.Runtime.CompilerServices;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Ai.Llama;
using SkillLoop.Core.Ai.Llama.Native;

namespace SkillLoop.Tests.Ai.Llama;

[Collection(LlamaCollection.Name)]
public sealed class LlamaBindingTests(LlamaFixture fixture)
{
    [Fact]
    public void The_bundled_native_library_passes_the_layout_self_check()
    {
        Assert.True(fixture.Runtime.IsAvailable, fixture.Runtime.Error);
        Assert.StartsWith(LlamaRuntime.ExpectedVersion, fixture.Runtime.Version);
        Assert.Contains("CPU", fixture.Runtime.SystemInfo);
        Assert.Equal(80, Unsafe.SizeOf<LlamaModelParams>());
        Assert.Equal(160, Unsafe.SizeOf<LlamaContextParams>());
        Assert.Equal(56, Unsafe.SizeOf<LlamaBatch>());
        Assert.Empty(LlamaSelfCheck.Run(fixture.Runtime.Version));
    }

    [Fact]
    public void The_self_check_notices_defaults_that_landed_in_the_wrong_fields()
    {
        var context = LlamaNative.ContextDefaultParams();
        Assert.Empty(LlamaSelfCheck.CheckContextDefaults(context));

        // What a layout shifted by one field would look like: n_ctx read from n_batch and so on.
        context.NCtx = context.NBatch;
        context.Embeddings = 7;
        Assert.NotEmpty(LlamaSelfCheck.CheckContextDefaults(context));

        var model = LlamaNative.ModelDefaultParams();
        model.LoadMode = model.SplitMode + 100;
        Assert.NotEmpty(LlamaSelfCheck.CheckModelDefaults(model));
        Assert.NotEmpty(LlamaSelfCheck.Run("0.4.9"));
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
        var path = TinyGguf.Write(Path.Combine(Path.GetDirectoryName(fixture.ModelPath)!, "no-template.gguf"), chatTemplate: null);
        using var model = LlamaModel.Load(path);
        Assert.Null(model.ChatTemplate);
        Assert.Contains("<|im_start|>user\nhi<|im_end|>", model.ApplyChatTemplate([("user", "hi")], addAssistant: true));
    }

    [Fact]
    public void Loading_a_file_that_is_not_a_model_fails_with_a_clear_error()
    {
        var path = Path.Combine(Path.GetDirectoryName(fixture.ModelPath)!, "broken.gguf");
        File.WriteAllText(path, "not a gguf");
        var error = Assert.Throws<InvalidDataException>(() => LlamaModel.Load(path));
        Assert.Contains("could not load", error.Message);
        Assert.Throws<FileNotFoundException>(() => LlamaModel.Load(path + ".missing"));
    }
}
