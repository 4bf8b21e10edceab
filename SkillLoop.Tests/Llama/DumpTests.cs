using SkillLoop.Core.Llama;
using SkillLoop.Core.Llama.Native;
using Xunit.Abstractions;

namespace SkillLoop.Tests.Llama;

public sealed class DumpTests(LlamaFixture fixture, ITestOutputHelper output) : IClassFixture<LlamaFixture>
{
    [Fact]
    public void Dump()
    {
        output.WriteLine(fixture.Runtime.ToString());
        var m = LlamaNative.ModelDefaultParams();
        var c = LlamaNative.ContextDefaultParams();
        output.WriteLine(string.Join(" ", typeof(LlamaModelParams).GetFields().Select(f => f.Name + "=" + f.GetValue(m))));
        output.WriteLine(string.Join(" ", typeof(LlamaContextParams).GetFields().Select(f => f.Name + "=" + f.GetValue(c))));
        output.WriteLine(fixture.Model.Description + " " + fixture.Model.ChatTemplate);
        output.WriteLine(string.Join(",", fixture.Model.Tokenize("Hello wörld", true, false)));
        output.WriteLine(fixture.Model.Detokenize(fixture.Model.Tokenize("Hello wörld", false, false)));
        output.WriteLine(fixture.Model.ApplyChatTemplate([("system", "be nice"), ("user", "hi")], true));
    }
}
