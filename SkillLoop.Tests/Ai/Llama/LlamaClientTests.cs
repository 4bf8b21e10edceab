using System.Text.Json;
using Microsoft.Extensions.AI;
using SkillLoop.Core.Ai;
using SkillLoop.Core.Ai.Llama;

namespace SkillLoop.Tests.Ai.Llama;

[Collection(LlamaCollection.Name)]
public sealed class LlamaClientTests(LlamaFixture fixture)
{
    private static readonly JsonElement Schema = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": {
            "problem": { "type": "string", "minLength": 1, "maxLength": 24 },
            "severity": { "type": "string", "enum": ["low", "medium", "high"] },
            "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
            "tags": { "type": "array", "items": { "type": "string", "maxLength": 8 }, "maxItems": 3 },
            "fixed": { "type": "boolean" },
            "count": { "type": "integer" }
          },
          "required": ["problem", "severity", "confidence", "tags", "fixed", "count"]
        }
        """).RootElement;

    private static ChatOptions JsonOptions(int seed = 7) => new()
    {
        ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "issue"),
        MaxOutputTokens = 400,
        Temperature = 0.8f,
        Seed = seed,
    };

    [Fact]
    public async Task Embeddings_have_the_models_width_are_normalised_and_repeatable()
    {
        using var generator = new LlamaEmbeddingGenerator(fixture.Model);
        var embeddings = await generator.GenerateAsync(["use pnpm not npm", "use pnpm not npm", "the tests are failing"]);

        Assert.Equal(3, embeddings.Count);
        Assert.All(embeddings, e => Assert.Equal(TinyGguf.EmbeddingLength, e.Vector.Length));
        Assert.All(embeddings, e => Assert.Equal(1.0, Math.Sqrt(e.Vector.Span.ToArray().Sum(x => (double)x * x)), 3));
        Assert.Equal(embeddings[0].Vector.ToArray(), embeddings[1].Vector.ToArray());
        Assert.NotEqual(embeddings[0].Vector.ToArray(), embeddings[2].Vector.ToArray());
        Assert.Equal("llama.cpp", generator.Metadata.ProviderName);
        Assert.Equal(TinyGguf.EmbeddingLength, generator.Metadata.DefaultModelDimensions);
    }

    [Fact]
    public async Task Schema_constrained_generation_always_parses_as_matching_json()
    {
        using var client = new LlamaChatClient(fixture.Model);
        for (var seed = 1; seed <= 5; seed++)
        {
            var response = await client.GetResponseAsync([new(ChatRole.User, "Describe the issue as JSON.")], JsonOptions(seed));

            using var json = JsonDocument.Parse(response.Text);
            var root = json.RootElement;
            // llama.cpp's grammar counts code points and accepts overlong UTF-8, which random weights do spell and .NET
            // decodes as U+FFFD per byte: bound by bytes, not characters.
            Assert.InRange(root.GetProperty("problem").GetString()!.Length, 1, 24 * 4);
            Assert.Contains(root.GetProperty("severity").GetString(), new[] { "low", "medium", "high" });
            Assert.InRange(root.GetProperty("confidence").GetDouble(), 0, 1);
            Assert.True(root.GetProperty("tags").GetArrayLength() <= 3);
            Assert.Contains(root.GetProperty("fixed").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
            _ = root.GetProperty("count").GetInt64();
            Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        }
    }

    [Fact]
    public async Task Streamed_pieces_add_up_to_the_answer_and_report_usage()
    {
        using var client = new LlamaChatClient(fixture.Model);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync([new(ChatRole.User, "Stream JSON.")], JsonOptions(11)))
        {
            updates.Add(update);
        }

        Assert.True(updates.Count > 5);
        var text = string.Concat(updates.Select(u => u.Text));
        using var _ = JsonDocument.Parse(text);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details;
        Assert.True(usage.InputTokenCount > 10);
        Assert.True(usage.OutputTokenCount >= text.Length / 4);
    }

    [Fact]
    public async Task Unconstrained_generation_stops_at_the_token_limit()
    {
        using var client = new LlamaChatClient(fixture.Model);
        var response = await client.GetResponseAsync([new(ChatRole.User, "Say anything.")], new ChatOptions { MaxOutputTokens = 16, Seed = 5 });
        Assert.True(response.Usage!.OutputTokenCount <= 16);
        Assert.Contains(response.FinishReason, new ChatFinishReason?[] { ChatFinishReason.Length, ChatFinishReason.Stop });
    }

    [Fact]
    public async Task Cancelling_a_stream_stops_it_and_frees_the_model_for_the_next_request()
    {
        using var client = new LlamaChatClient(fixture.Model);
        using var cts = new CancellationTokenSource();
        var received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync([new(ChatRole.User, "Long answer.")], new ChatOptions { MaxOutputTokens = 200 }, cts.Token))
            {
                received++;
                await cts.CancelAsync();
                cts.Token.ThrowIfCancellationRequested();
            }
        });
        Assert.Equal(1, received);

        // An already-cancelled token never reaches the model.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync([new(ChatRole.User, "x")], JsonOptions(), cts.Token));

        var response = await client.GetResponseAsync([new(ChatRole.User, "Now JSON.")], JsonOptions());
        using var _ = JsonDocument.Parse(response.Text);
    }

    [Fact]
    public async Task A_reader_that_stops_early_frees_the_model_without_cancelling()
    {
        using var client = new LlamaChatClient(fixture.Model);
        await foreach (var update in client.GetStreamingResponseAsync([new(ChatRole.User, "Long answer.")], new ChatOptions { MaxOutputTokens = 300 }))
        {
            break;
        }

        var response = await client.GetResponseAsync([new(ChatRole.User, "Now JSON.")], JsonOptions(4));
        using var _ = JsonDocument.Parse(response.Text);
    }

    [Fact]
    public async Task Concurrent_requests_share_the_model_safely_and_all_complete()
    {
        using var client = new LlamaChatClient(fixture.Model);
        using var embeddings = new LlamaEmbeddingGenerator(fixture.Model);
        var chats = Enumerable.Range(1, 8).Select(i => Task.Run(() => client.GetResponseAsync([new(ChatRole.User, $"Request {i}")], JsonOptions(i))));
        var embeds = Enumerable.Range(1, 8).Select(i => Task.Run(() => embeddings.GenerateAsync([$"text {i}", $"other {i}"])));

        var responses = await Task.WhenAll(chats);
        var vectors = await Task.WhenAll(embeds);

        Assert.All(responses, r => JsonDocument.Parse(r.Text).Dispose());
        Assert.All(vectors, v => Assert.Equal(2, v.Count));
    }

    [Fact]
    public void The_json_schema_grammar_lists_properties_in_order_and_bounds_strings()
    {
        var grammar = JsonSchemaGbnf.FromSchema(Schema);
        Assert.StartsWith("root ::= root-value", grammar);
        Assert.True(grammar.IndexOf("\\\"problem\\\"", StringComparison.Ordinal) < grammar.IndexOf("\\\"severity\\\"", StringComparison.Ordinal));
        Assert.Contains("firstchar char{0,23}", grammar);
        Assert.Contains("(\"\\\"low\\\"\" | \"\\\"medium\\\"\" | \"\\\"high\\\"\")", grammar);
        Assert.Contains("unit", grammar);
    }
}
