using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace SkillLoop.Tests.Fakes;

/// <summary>
/// A stand-in model API on 127.0.0.1 for the real agent CLIs: Anthropic Messages (<c>POST /v1/messages</c>, streamed
/// as server-sent events or plain JSON; Claude Code and Copilot's bring-your-own-model mode) and OpenAI Responses
/// (<c>POST /v1/responses</c>, streamed; Codex). Its "model" follows one script: a prompt naming
/// <see cref="SkillTrigger"/> makes it load the skill with the CLI's own tool (<c>Skill</c>, <c>skill</c>, or
/// <c>exec_command cat SKILL.md</c> for Codex), then answer <see cref="FirstAnswer"/>; anything else gets
/// <see cref="CorrectionAnswer"/> when it reads like a correction, else <see cref="FirstAnswer"/>.
/// </summary>
public sealed class StandInModelApi : IAsyncDisposable
{
    private WebApplication _app = null!;
    private int _ids;

    public const string SkillTrigger = "set up the project dependencies";
    public const string FirstAnswer = "Run `npm install` to install the dependencies, then `npm test`.";
    public const string CorrectionAnswer = "You're right, sorry: this project uses pnpm. Run `pnpm install`, then `pnpm test`.";

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The skill the model loads.</summary>
    public string SkillName { get; set; } = "pnpm-helper";

    /// <summary>For Codex, which reads skills with a shell command: the SKILL.md to <c>cat</c>.</summary>
    public string? SkillFile { get; set; }

    /// <summary>A prompt containing this is SkillLoop's own extraction run: it is answered <see cref="ExtractionAnswer"/>.</summary>
    public string? ExtractionMarker { get; set; }

    public string ExtractionAnswer { get; set; } = "";

    /// <summary>Every request: path and body (bodies of failed parses are null).</summary>
    public ConcurrentQueue<(string Path, JsonNode? Body)> Requests { get; } = new();

    public static async Task<StandInModelApi> StartAsync()
    {
        var api = new StandInModelApi();
        (api._app, api.BaseAddress) = await LoopbackApp.StartAsync(app =>
        {
            app.MapPost("/v1/messages/count_tokens", api.CountTokensAsync);
            app.MapPost("/v1/messages", api.MessagesAsync);
            app.MapPost("/messages", api.MessagesAsync);
            app.MapPost("/v1/responses", api.ResponsesAsync);
            app.MapPost("/responses", api.ResponsesAsync);
            app.MapPost("/v1/chat/completions", api.ChatCompletionsAsync);
            app.MapPost("/chat/completions", api.ChatCompletionsAsync);
            app.Map("/{**rest}", async context =>
            {
                api.Requests.Enqueue((context.Request.Path, null));
                context.Response.StatusCode = 404;
                await context.Response.WriteAsync("{}");
            });
        });
        return api;
    }

    /// <summary>The requests whose body contains <paramref name="text"/>, with the tool names each offered the model.</summary>
    public IReadOnlyList<IReadOnlyList<string>> ToolsOfferedWith(string text) => Requests
        .Where(r => r.Body is not null && r.Body.ToJsonString().Contains(JsonEncodedText.Encode(text).Value, StringComparison.Ordinal))
        .Select(r => (IReadOnlyList<string>)(r.Body!["tools"] as JsonArray ?? []).Select(t => t?["name"]?.GetValue<string>() ?? t?["function"]?["name"]?.GetValue<string>() ?? t?["type"]?.GetValue<string>() ?? "").ToList())
        .ToList();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private string NextId(string prefix) => $"{prefix}_stand_in_{Interlocked.Increment(ref _ids)}";

    private async Task<JsonNode?> ReadAsync(HttpContext context)
    {
        JsonNode? body;
        try
        {
            body = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        }
        catch (JsonException)
        {
            body = null;
        }

        Requests.Enqueue((context.Request.Path, body));
        return body;
    }

    private async Task CountTokensAsync(HttpContext context)
    {
        await ReadAsync(context);
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync("""{"input_tokens":12}""");
    }

    /// <summary>What the model does next: a tool call (name, JSON input) or a text.</summary>
    private (string? Tool, JsonObject? Input, string Text) Decide(IReadOnlyList<string> tools, bool afterToolResult, string lastUserText)
    {
        if (ExtractionMarker is not null && lastUserText.Contains(ExtractionMarker, StringComparison.Ordinal))
        {
            return (null, null, ExtractionAnswer);
        }

        if (afterToolResult)
        {
            return (null, null, FirstAnswer);
        }

        if (lastUserText.Contains(SkillTrigger, StringComparison.OrdinalIgnoreCase))
        {
            if (tools.Contains("Skill"))
            {
                return ("Skill", new JsonObject { ["skill"] = SkillName }, "");
            }

            if (tools.Contains("skill"))
            {
                return ("skill", new JsonObject { ["skill"] = SkillName }, "");
            }

            if (tools.Contains("skills"))
            {
                return ("skills", new JsonObject { ["skill"] = SkillName }, "");
            }

            if (tools.Contains("exec_command") && SkillFile is not null)
            {
                return ("exec_command", new JsonObject { ["cmd"] = $"cat {SkillFile}" }, "");
            }

            return (null, null, FirstAnswer);
        }

        var correction = lastUserText.Contains("wrong", StringComparison.OrdinalIgnoreCase) || lastUserText.Contains("不对", StringComparison.Ordinal);
        return (null, null, correction ? CorrectionAnswer : FirstAnswer);
    }

    private async Task MessagesAsync(HttpContext context)
    {
        var body = await ReadAsync(context);
        var tools = (body?["tools"] as JsonArray ?? []).Select(t => t?["name"]?.GetValue<string>() ?? "").ToList();
        // The person's last turn (Claude Code puts a "system" message after it).
        var last = (body?["messages"] as JsonArray)?.LastOrDefault(m => m?["role"]?.GetValue<string>() == "user");
        var blocks = last?["content"] switch
        {
            JsonArray array => array.OfType<JsonObject>().ToList(),
            JsonValue plain => [new JsonObject { ["type"] = "text", ["text"] = plain.GetValue<string>() }],
            _ => [],
        };
        var afterTool = blocks.Any(b => b["type"]?.GetValue<string>() == "tool_result");
        var userText = string.Join("\n", blocks.Where(b => b["type"]?.GetValue<string>() == "text").Select(b => b["text"]?.GetValue<string>() ?? ""));
        var (tool, input, text) = Decide(tools, afterTool, userText);
        var model = body?["model"]?.GetValue<string>() ?? "claude-stand-in";
        var id = NextId("msg");
        var content = tool is null
            ? new JsonObject { ["type"] = "text", ["text"] = text }
            : new JsonObject { ["type"] = "tool_use", ["id"] = NextId("toolu"), ["name"] = tool, ["input"] = input };
        var stop = tool is null ? "end_turn" : "tool_use";

        if (body?["stream"]?.GetValue<bool>() != true)
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(new JsonObject
            {
                ["id"] = id, ["type"] = "message", ["role"] = "assistant", ["model"] = model,
                ["content"] = new JsonArray(content), ["stop_reason"] = stop, ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = 12, ["output_tokens"] = 9 },
            }.ToJsonString());
            return;
        }

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await SseAsync(context, "message_start", new JsonObject
        {
            ["type"] = "message_start",
            ["message"] = new JsonObject
            {
                ["id"] = id, ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = new JsonArray(),
                ["stop_reason"] = null, ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = 12, ["output_tokens"] = 1 },
            },
        });
        var start = tool is null
            ? new JsonObject { ["type"] = "text", ["text"] = "" }
            : new JsonObject { ["type"] = "tool_use", ["id"] = content["id"]!.GetValue<string>(), ["name"] = tool, ["input"] = new JsonObject() };
        await SseAsync(context, "content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = 0, ["content_block"] = start });
        var delta = tool is null
            ? new JsonObject { ["type"] = "text_delta", ["text"] = text }
            : new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = input!.ToJsonString() };
        await SseAsync(context, "content_block_delta", new JsonObject { ["type"] = "content_block_delta", ["index"] = 0, ["delta"] = delta });
        await SseAsync(context, "content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 });
        await SseAsync(context, "message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = stop, ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = 9 },
        });
        await SseAsync(context, "message_stop", new JsonObject { ["type"] = "message_stop" });
    }

    private async Task ResponsesAsync(HttpContext context)
    {
        var body = await ReadAsync(context);
        var tools = (body?["tools"] as JsonArray ?? []).Select(t => t?["name"]?.GetValue<string>() ?? "").ToList();
        var input = body?["input"] as JsonArray ?? [];
        var last = input.LastOrDefault(i => i?["role"]?.GetValue<string>() == "user" || i?["type"]?.GetValue<string>() is "function_call_output" or "custom_tool_call_output");
        var afterTool = last?["type"]?.GetValue<string>() is "function_call_output" or "custom_tool_call_output";
        var lastUser = input.LastOrDefault(i => i?["role"]?.GetValue<string>() == "user");
        var userText = lastUser?["content"] switch
        {
            JsonArray parts => string.Join("\n", parts.Select(p => p?["text"]?.GetValue<string>() ?? "")),
            JsonValue value => value.GetValue<string>(),
            _ => "",
        };
        var (tool, arguments, text) = Decide(tools, afterTool, userText);
        var responseId = NextId("resp");
        var model = body?["model"]?.GetValue<string>() ?? "gpt-stand-in";
        JsonObject item = tool is null
            ? new JsonObject
            {
                ["type"] = "message", ["id"] = NextId("msg"), ["status"] = "completed", ["role"] = "assistant",
                ["content"] = new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray() }),
            }
            : new JsonObject
            {
                ["type"] = "function_call", ["id"] = NextId("fc"), ["status"] = "completed", ["call_id"] = NextId("call"),
                ["name"] = tool, ["arguments"] = arguments!.ToJsonString(),
            };

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        JsonObject Response(string status, JsonArray output) => new()
        {
            ["id"] = responseId, ["object"] = "response", ["created_at"] = 1_796_000_000, ["status"] = status, ["model"] = model, ["output"] = output,
            ["usage"] = new JsonObject
            {
                ["input_tokens"] = 12, ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = 0 },
                ["output_tokens"] = 9, ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 }, ["total_tokens"] = 21,
            },
        };
        await SseAsync(context, "response.created", new JsonObject { ["type"] = "response.created", ["response"] = Response("in_progress", []) });
        await SseAsync(context, "response.output_item.added", new JsonObject { ["type"] = "response.output_item.added", ["output_index"] = 0, ["item"] = item.DeepClone() });
        if (tool is null)
        {
            await SseAsync(context, "response.output_text.delta", new JsonObject
            {
                ["type"] = "response.output_text.delta", ["item_id"] = item["id"]!.GetValue<string>(), ["output_index"] = 0, ["content_index"] = 0, ["delta"] = text,
            });
        }

        await SseAsync(context, "response.output_item.done", new JsonObject { ["type"] = "response.output_item.done", ["output_index"] = 0, ["item"] = item.DeepClone() });
        await SseAsync(context, "response.completed", new JsonObject { ["type"] = "response.completed", ["response"] = Response("completed", [item.DeepClone()]) });
    }

    private async Task ChatCompletionsAsync(HttpContext context)
    {
        var body = await ReadAsync(context);
        var tools = (body?["tools"] as JsonArray ?? []).Select(t => t?["function"]?["name"]?.GetValue<string>() ?? "").ToList();
        var messages = body?["messages"] as JsonArray ?? [];
        var last = messages.LastOrDefault(m => m?["role"]?.GetValue<string>() is "user" or "tool");
        var afterTool = last?["role"]?.GetValue<string>() == "tool";
        var lastUser = messages.LastOrDefault(m => m?["role"]?.GetValue<string>() == "user");
        var userText = lastUser?["content"] switch
        {
            JsonArray parts => string.Join("\n", parts.Select(p => p?["text"]?.GetValue<string>() ?? "")),
            JsonValue value => value.GetValue<string>(),
            _ => "",
        };
        var (tool, arguments, text) = Decide(tools, afterTool, userText);
        var id = NextId("chatcmpl");
        var model = body?["model"]?.GetValue<string>() ?? "gpt-stand-in";
        var finish = tool is null ? "stop" : "tool_calls";
        var callId = NextId("call");
        JsonArray ToolCalls(bool streamed)
        {
            var call = new JsonObject
            {
                ["id"] = callId, ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = tool, ["arguments"] = arguments!.ToJsonString() },
            };
            if (streamed)
            {
                call["index"] = 0;
            }

            return [call];
        }

        JsonObject Usage() => new() { ["prompt_tokens"] = 12, ["completion_tokens"] = 9, ["total_tokens"] = 21 };

        if (body?["stream"]?.GetValue<bool>() != true)
        {
            var message = new JsonObject { ["role"] = "assistant", ["content"] = tool is null ? text : null };
            if (tool is not null)
            {
                message["tool_calls"] = ToolCalls(streamed: false);
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(new JsonObject
            {
                ["id"] = id, ["object"] = "chat.completion", ["created"] = 1_796_000_000, ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = finish }),
                ["usage"] = Usage(),
            }.ToJsonString());
            return;
        }

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        JsonObject Chunk(JsonObject delta, string? finishReason) => new()
        {
            ["id"] = id, ["object"] = "chat.completion.chunk", ["created"] = 1_796_000_000, ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }),
        };
        await DataAsync(context, Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" }, null).ToJsonString());
        await DataAsync(context, Chunk(tool is null ? new JsonObject { ["content"] = text } : new JsonObject { ["tool_calls"] = ToolCalls(streamed: true) }, null).ToJsonString());
        var end = Chunk(new JsonObject(), finish);
        end["usage"] = Usage();
        await DataAsync(context, end.ToJsonString());
        await DataAsync(context, "[DONE]");
    }

    private static async Task DataAsync(HttpContext context, string data)
    {
        await context.Response.WriteAsync($"data: {data}\n\n", Encoding.UTF8, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static async Task SseAsync(HttpContext context, string name, JsonObject data)
    {
        await context.Response.WriteAsync($"event: {name}\ndata: {data.ToJsonString()}\n\n", Encoding.UTF8, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
}
