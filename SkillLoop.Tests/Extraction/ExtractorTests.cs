using System.Text.Json;
using Microsoft.Extensions.AI;
using SkillLoop.Core.Extraction;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Tests.Extraction;

public sealed class HeuristicIssueExtractorTests
{
    private static SignalIssue Extract(string correction, string? skill = "deploy-app", string? path = null) =>
        HeuristicIssueExtractor.Extract(new ExtractionRequest(correction, skill, path, []));

    [Fact]
    public void A_wrong_tool_correction_names_the_mistake_and_the_users_expectation()
    {
        var issue = Extract("No, use pnpm instead of npm in this repo.");

        Assert.Equal("Wrong tool or approach: use pnpm instead of npm in this repo.", issue.ProblemPattern);
        Assert.Equal("The agent should use pnpm instead of npm in this repo.", issue.ExpectedBehavior);
        Assert.Equal("No, use pnpm instead of npm in this repo.", issue.EvidenceQuote);
        Assert.Equal("heuristic", issue.ExtractedBy);
        Assert.Equal("deploy-app", issue.Skill);
        Assert.Equal(IssueSeverity.Medium, issue.Severity);
        Assert.InRange(issue.Confidence, 0.1, 0.6);
    }

    [Theory]
    [InlineData("I already told you to run the tests before committing.", "Ignored an earlier instruction: I already told you to run the tests before committing.", "medium")]
    [InlineData("Don't force-push to main!", "Unwanted action: Don't force-push to main!", "high")]
    [InlineData("You forgot to update the changelog.", "Skipped a step: You forgot to update the changelog.", "medium")]
    [InlineData("I only asked you to fix the typo, not refactor the module.", "Beyond the request: I only asked you to fix the typo", "low")]
    [InlineData("That's wrong, the build fails now.", "Incorrect result: the build fails now.", "medium")]
    [InlineData("Hmm, let's think about this differently.", "Unexpected result: let's think about this differently.", "medium")]
    [InlineData("不对，应该用 pnpm 而不是 npm", "Wrong tool or approach: 应该用 pnpm 而不是 npm", "medium")]
    [InlineData("You deleted the production database", "Unwanted action: You deleted the production database", "high")]
    public void Corrections_are_classified_by_kind_and_severity(string correction, string problemPart, string severity)
    {
        var issue = Extract(correction);
        Assert.Contains(problemPart, issue.ProblemPattern);
        Assert.Equal(severity, issue.Severity);
    }

    [Theory]
    [InlineData("No, read the config from the .env file. It has the keys.", "read the config from the .env file.")]
    [InlineData("no, that's wrong — set queue.url from config.yaml, version 1.2.3 needs it. Then restart.", "set queue.url from config.yaml, version 1.2.3 needs it.")]
    [InlineData("Wrong again: see https://docs.example.com/a.b?x=1 for the steps. Really.", "see https://docs.example.com/a.b?x=1 for the steps.")]
    [InlineData("不对，配置在 .env 文件里。别改 config.json", "配置在 .env 文件里。")]
    [InlineData("No. Use pnpm, e.g. pnpm install, not npm. Thanks", "Use pnpm, e.g. pnpm install, not npm.")]
    public void The_problem_is_the_persons_own_first_sentence_without_its_lead_in(string correction, string ownWords)
    {
        var issue = Extract(correction);

        Assert.EndsWith(": " + ownWords, issue.ProblemPattern);
        Assert.Equal(ownWords, CorrectionText.OwnWords(correction));
    }

    [Theory]
    [InlineData("No, read the config from the .env file.", "The agent should read the config from the .env file.")]
    [InlineData("You should put the key in queue.url, not in app.json.", "The agent should put the key in queue.url, not in app.json.")]
    [InlineData("Don't touch package-lock.json. It is generated.", "The agent should not touch package-lock.json.")]
    public void The_expected_behaviour_is_never_cut_inside_a_file_name(string correction, string expected) =>
        Assert.Equal(expected, Extract(correction).ExpectedBehavior);

    [Fact]
    public void Sentences_end_only_where_sentences_end()
    {
        Assert.Equal(
            ["Read the .env file first.", "Then run v2.1.0 of tool.py!", "好的。", "Done"],
            CorrectionText.Sentences("Read the .env file first. Then run v2.1.0 of tool.py! 好的。Done"));
        Assert.Equal("Read the config from the .env file.", CorrectionText.Title("no, that's wrong — read the config from the .env file. Then go."));
    }

    [Fact]
    public void The_same_correction_always_gives_the_same_issue()
    {
        Assert.Equal(Extract("Please run dotnet format before you commit."), Extract("Please run dotnet format before you commit."));
    }

    [Fact]
    public void Secrets_and_e_mail_addresses_never_reach_the_issue()
    {
        var issue = Extract("Don't paste my key sk-" + new string('a', 40) + " into the config, ask jane@example.com instead.");
        var all = string.Join(" ", issue.ProblemPattern, issue.RootCause, issue.ExpectedBehavior, issue.EvidenceQuote);
        Assert.DoesNotContain("aaaaaaaaaa", all);
        Assert.DoesNotContain("jane@example.com", all);
        Assert.Contains("[REDACTED:", issue.EvidenceQuote);
    }

    [Fact]
    public void Long_corrections_are_quoted_shortly_and_the_skill_name_comes_from_its_path()
    {
        var issue = HeuristicIssueExtractor.Extract(new ExtractionRequest(
            "Stop " + string.Join(" ", Enumerable.Repeat("rewriting everything", 40)), null, "/home/u/.claude/skills/release-notes/SKILL.md", []));
        Assert.True(issue.EvidenceQuote.Length <= 160);
        Assert.Equal("release-notes", issue.Skill);
        Assert.True(issue.ProblemPattern.Length <= 240);
    }
}

public sealed class LlmIssueExtractorTests
{
    private const string Valid = """
        {"problemPattern":"The agent used npm where the project requires pnpm.","rootCause":"The skill never names the package manager.",
         "expectedBehavior":"Use pnpm for every install and script.","evidenceQuote":"use pnpm instead of npm","severity":"medium","confidence":0.82}
        """;

    private static readonly ExtractionRequest Request = new(
        "No, use pnpm instead of npm. My token is ghp_" + new string('x', 36),
        "node-setup",
        "/repo/.claude/skills/node-setup/SKILL.md",
        [new ContextTurn("user", "set up the project, mail bob@corp.example if stuck"), new ContextTurn("assistant", "Running npm install…")]);

    [Fact]
    public async Task A_valid_answer_becomes_an_issue_marked_with_the_model()
    {
        var chat = new ScriptedChatClient(Valid);
        var issue = await new LlmIssueExtractor(chat, "qwen2.5-7b").ExtractAsync(Request, CancellationToken.None);

        Assert.Equal("The agent used npm where the project requires pnpm.", issue.ProblemPattern);
        Assert.Equal("medium", issue.Severity);
        Assert.Equal(0.82, issue.Confidence);
        Assert.Equal("server:qwen2.5-7b", issue.ExtractedBy);
        Assert.Equal("node-setup", issue.Skill);
        Assert.Single(chat.Calls);
    }

    [Fact]
    public async Task The_model_is_asked_for_schema_constrained_json_and_sees_only_redacted_text()
    {
        var chat = new ScriptedChatClient(Valid);
        await new LlmIssueExtractor(chat, "m").ExtractAsync(Request, CancellationToken.None);

        var (messages, options) = chat.Calls.Single();
        var format = Assert.IsType<ChatResponseFormatJson>(options!.ResponseFormat);
        Assert.Equal("signal_issue", format.SchemaName);
        Assert.Contains("problemPattern", format.Schema!.Value.GetRawText());
        var sent = string.Join("\n", messages.Select(m => m.Text));
        Assert.Contains("use pnpm instead of npm", sent);
        Assert.Contains("Running npm install", sent);
        Assert.Contains("node-setup", sent);
        Assert.DoesNotContain("ghp_", sent);
        Assert.DoesNotContain("bob@corp.example", sent);
    }

    [Fact]
    public async Task An_invalid_answer_is_retried_once_with_the_reason()
    {
        var chat = new ScriptedChatClient("""{"problemPattern": "x" """, Valid);
        var issue = await new LlmIssueExtractor(chat, "m").ExtractAsync(Request, CancellationToken.None);

        Assert.Equal(2, chat.Calls.Count);
        Assert.Contains("not valid", chat.Calls[1].Messages[^1].Text);
        Assert.Equal("medium", issue.Severity);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("""{"problemPattern":"p","rootCause":"r","expectedBehavior":"e","evidenceQuote":"q","severity":"urgent","confidence":0.5}""")]
    [InlineData("""{"problemPattern":"p","rootCause":"r","expectedBehavior":"e","evidenceQuote":"q","severity":"low","confidence":7}""")]
    [InlineData("""{"problemPattern":"  ","rootCause":"r","expectedBehavior":"e","evidenceQuote":"q","severity":"low","confidence":0.5}""")]
    [InlineData("""["a list"]""")]
    public async Task Two_invalid_answers_fail_visibly_instead_of_returning_half_an_issue(string answer)
    {
        var chat = new ScriptedChatClient(answer, answer);
        var error = await Assert.ThrowsAsync<IssueExtractionException>(() => new LlmIssueExtractor(chat, "m").ExtractAsync(Request, CancellationToken.None));
        Assert.Contains("server:m", error.Message);
        Assert.Equal(2, chat.Calls.Count);
    }

    [Fact]
    public async Task Fenced_json_is_accepted_and_echoed_secrets_are_redacted()
    {
        var leaky = Valid.Replace("use pnpm instead of npm", "token ghp_" + new string('y', 36), StringComparison.Ordinal);
        var chat = new ScriptedChatClient("```json\n" + leaky + "\n```");
        var issue = await new LlmIssueExtractor(chat, "m").ExtractAsync(Request, CancellationToken.None);
        Assert.Equal("token [REDACTED:github-token]", issue.EvidenceQuote);
    }

    [Fact]
    public async Task A_prompt_longer_than_the_models_context_is_fitted_by_shortening_the_oldest_turns_first()
    {
        // One token per character; six 800-character turns do not fit beside the instructions in 3000 tokens.
        var turns = Enumerable.Range(1, 8).Select(i => new ContextTurn(i % 2 == 0 ? "assistant" : "user", $"turn{i} " + new string((char)('a' + i), 790))).ToList();
        var chat = new ScriptedChatClient(Valid) { ContextLength = 3000 };

        var issue = await new LlmIssueExtractor(chat, "small", maxOutputTokens: 700).ExtractAsync(
            new ExtractionRequest("No, use pnpm instead of npm.", "node-setup", null, turns), CancellationToken.None);

        Assert.Equal("server:small", issue.ExtractedBy);
        var (messages, options) = chat.Calls.Single();
        var promptTokens = chat.CountPromptTokens(messages);
        Assert.InRange(promptTokens, 1, 3000 - 700);
        Assert.Equal(Math.Min(700, 3000 - promptTokens), options!.MaxOutputTokens);
        var sent = messages[1].Text;
        Assert.Contains("No, use pnpm instead of npm.", sent);
        Assert.Contains("turn8 ", sent); // the turn just before the correction is whole
        Assert.Contains(new string('i', 790), sent);
        Assert.DoesNotContain("turn3 ", sent); // the oldest shown turns went first
        Assert.DoesNotContain("turn1 ", sent); // beyond the six latest: never shown
    }

    [Fact]
    public async Task On_a_small_context_the_agents_answer_goes_after_the_turns_and_before_the_correction_is_shortened()
    {
        const string correction = "No, use pnpm instead of npm.";
        var turns = new List<ContextTurn> { new("assistant", "Installed with npm. " + new string('a', 400)) };
        var reply = "You're right, I apologize. " + new string('r', 270);
        var bare = new ScriptedChatClient(Valid);
        await new LlmIssueExtractor(bare, "m").ExtractAsync(new ExtractionRequest(correction, "node-setup", null, []), CancellationToken.None);
        var bareTokens = bare.CountPromptTokens(bare.Calls.Single().Messages);
        // Room for the correction and 100 tokens more: neither the turn nor the 300-character answer fits.
        var chat = new ScriptedChatClient(Valid) { ContextLength = bareTokens + 100 + 64 };

        await new LlmIssueExtractor(chat, "small", maxOutputTokens: 64).ExtractAsync(
            new ExtractionRequest(correction, "node-setup", null, turns, reply), CancellationToken.None);

        var sent = chat.Calls.Single().Messages[1].Text;
        Assert.Contains(correction, sent); // whole
        Assert.DoesNotContain("You're right", sent);
        Assert.DoesNotContain("Installed with npm", sent);
        Assert.Contains("The opening of the agent's answer to it:\n" + reply,
            LlmIssueExtractor.FormatRequest(new ExtractionRequest(correction, "node-setup", null, turns, reply)));
    }

    [Fact]
    public async Task A_model_whose_context_cannot_hold_the_instructions_fails_at_once_with_the_sizes()
    {
        var chat = new ScriptedChatClient(Valid) { ContextLength = 256 };

        var error = await Assert.ThrowsAsync<IssueExtractionException>(() => new LlmIssueExtractor(chat, "tiny").ExtractAsync(Request, CancellationToken.None));

        Assert.Contains("The prompt needs", error.Message);
        Assert.Contains("holds 256", error.Message);
        Assert.Empty(chat.Calls);
    }

    [Fact]
    public async Task Without_a_known_context_the_prompt_is_sent_whole()
    {
        var chat = new ScriptedChatClient(Valid);
        var turns = Enumerable.Range(1, 6).Select(i => new ContextTurn("user", $"turn{i} " + new string('x', 790))).ToList();

        await new LlmIssueExtractor(chat, "endpoint").ExtractAsync(new ExtractionRequest("No.", null, null, turns), CancellationToken.None);

        Assert.Contains("turn1 ", chat.Calls.Single().Messages[1].Text);
    }

    /// <summary>A chat client that answers from a script and records what it was asked.</summary>
    private sealed class ScriptedChatClient(params string[] answers) : IChatClient, SkillLoop.Core.Ai.IPromptTokenCounter
    {
        private int _next;

        /// <summary>When set, the client offers a token counter (one token per character) for this context.</summary>
        public int? ContextLength { get; init; }

        int SkillLoop.Core.Ai.IPromptTokenCounter.ContextLength => ContextLength!.Value;

        public int CountPromptTokens(IEnumerable<ChatMessage> messages) => messages.Sum(m => m.Text.Length + 10);

        public int CountTokens(string text) => text.Length;

        public List<(List<ChatMessage> Messages, ChatOptions? Options)> Calls { get; } = [];

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Calls.Add((messages.ToList(), options));
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answers[Math.Min(_next++, answers.Length - 1)])));
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            ContextLength is not null && serviceType.IsInstanceOfType(this) ? this : null;

        public void Dispose()
        {
        }
    }
}
