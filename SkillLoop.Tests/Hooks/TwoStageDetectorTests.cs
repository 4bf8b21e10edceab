using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Detection;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Tests.Hooks;

public sealed class TwoStageDetectorTests
{
    private static readonly TwoStageDetector Shipped = new(new CorrectionDetector(DefaultPatterns.All), DetectorModel.Shipped);

    [Fact]
    public void A_pasted_stack_trace_and_log_lines_are_not_the_persons_own_words()
    {
        var text = """
            this crashes when I open the page
            TypeError: Cannot read properties of undefined (reading 'map')
                at ProductList (webpack-internal:///./src/List.tsx:12:5)
                at renderWithHooks (react-dom.development.js:14985:18)
            2024-05-01 12:00:01 ERROR Did you forget to run `npm install`?
            npm ERR! code ELIFECYCLE
            what does it mean?
            """;

        var split = OwnWords.Split(text);

        Assert.Equal("this crashes when I open the page\nwhat does it mean?", split.Text);
        Assert.True(split.HasPaste);
        Assert.InRange(split.PastedFraction, 0.5, 1);
    }

    [Fact]
    public void Fenced_and_quoted_material_and_lines_copied_from_the_agent_are_removed()
    {
        const string previous = "I have updated the configuration so the server listens on port 8080 now.";
        var text = "> I have updated the configuration so the server listens on port 8080 now.\n```\nno, that's wrong\n```\nI have updated the configuration so the server listens on port 8080 now.\nbut it still listens on 3000";

        var split = OwnWords.Split(text, previous);

        Assert.Equal("but it still listens on 3000", split.Text);
    }

    [Fact]
    public void An_element_reference_cursor_pastes_and_an_inline_image_are_not_the_persons_own_words()
    {
        var text = "DOM Path: div#root > div.min-h-screen bg-white > div.flex h-screen overflow-hidden > button.flex items-center\n"
            + "Position: top=120px, left=40px, width=200px, height=32px\n"
            + "React Component: Sidebar\n"
            + "HTML Element: <button class=\"flex\">语言</button>\n"
            + "data:image/svg+xml;base64,PHN2ZyB3aWR0aD0iMTIzIiBoZWlnaHQ9IjMwIi\n"
            + "这个按钮放到右上角";

        var split = OwnWords.Split(text);

        Assert.Equal("这个按钮放到右上角", split.Text);
        Assert.True(split.HasPaste);
    }

    [Fact]
    public void Chinese_prose_with_code_words_stays_the_persons_own_words()
    {
        var split = OwnWords.Split("还是不行，useEffect 里面的 fetch 没有执行");

        Assert.Equal("还是不行，useEffect 里面的 fetch 没有执行", split.Text);
        Assert.False(split.HasPaste);
    }

    [Theory]
    [InlineData("Shall I also add tests?", true, false)]
    [InlineData("Would you like me to continue with option 2", true, false)]
    [InlineData("Done! All tests pass and the change is pushed.", false, true)]
    [InlineData("已完成，所有测试都通过了。", false, true)]
    [InlineData("要不要我顺便更新文档？", true, false)]
    [InlineData("Here is the file layout.", false, false)]
    [InlineData("", false, false)]
    public void The_agents_previous_turn_is_read_for_a_question_and_a_claim_of_being_done(string previous, bool asked, bool done)
    {
        Assert.Equal(asked, DetectorFeatures.AskedQuestion(previous));
        Assert.Equal(done, DetectorFeatures.ClaimedDone(previous));
    }

    public static TheoryData<string> BadInput() => new()
    {
        "",
        "   \n\t  ",
        new string('x', 100_000),
        string.Concat(Enumerable.Repeat("no that's wrong 不对 ", 6_000)),
        "\0\u0001\u0002\u0003\u00ff\ufffd\ufffd\u0007binary\u0000\u0000",
        new string((char)0xD83D, 3), // lone surrogates
        "🙂🙂🙂🔥🔥",
        "Это неправильно, 不对, c'est faux, that's wrong",
        "```\nunclosed fence " + new string('{', 5_000),
        string.Join("\n", Enumerable.Repeat("    at Foo.Bar() in /x.cs:line 1", 3_000)),
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public void Odd_input_gets_a_score_and_never_an_exception(string text)
    {
        foreach (var context in new[] { TurnContext.Unknown, new TurnContext("", 0), new TurnContext(text, 7, AfterInterruption: true) })
        {
            var detection = Shipped.Detect(text, context);

            Assert.InRange(detection.Score, 0, 1);
            Assert.False(double.IsNaN(detection.Score));
            Assert.Contains(detection.Language, new[] { "en", "zh" });
            Assert.Equal(DetectorModel.Shipped.Version, detection.DetectorVersion);
        }
    }

    [Fact]
    public void A_null_text_is_scored_as_empty_and_is_never_a_correction()
    {
        var detection = Shipped.Detect(null, TurnContext.Unknown);

        Assert.False(detection.IsCorrection);
        Assert.InRange(detection.Score, 0, 1);
    }

    [Fact]
    public void A_force_include_pattern_makes_a_correction_whatever_the_score_and_force_exclude_wins_over_it()
    {
        var include = new CorrectionPattern("en.custom.pnpm", "en", "redirection", @"\bpnpm\b", Force: CorrectionPattern.ForceInclude);
        var exclude = new CorrectionPattern("en.custom.bot", "en", "rejection", @"^\[bot\]", Force: CorrectionPattern.ForceExclude);
        var detector = new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All.Append(include).Append(exclude)), DetectorModel.Shipped);

        var included = detector.Detect("please list the packages pnpm knows about", TurnContext.Unknown);
        var excluded = detector.Detect("[bot] no, that's wrong: you broke the build, revert that", TurnContext.Unknown);
        var both = detector.Detect("[bot] pnpm", TurnContext.Unknown);

        Assert.True(included.IsCorrection);
        Assert.Equal(global::SkillLoop.Hooks.Detection.Detection.ByIncludePattern, included.Decision);
        Assert.Equal("en.custom.pnpm", included.PatternId);
        Assert.False(excluded.IsCorrection);
        Assert.Equal(global::SkillLoop.Hooks.Detection.Detection.ByExcludePattern, excluded.Decision);
        Assert.False(both.IsCorrection);
        Assert.Equal("en.custom.bot", both.PatternId);
    }

    [Fact]
    public void Without_learned_weights_the_patterns_alone_decide_as_before()
    {
        var detector = new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), DetectorModel.RegexOnly);

        var hit = detector.Detect("You forgot to update the README", TurnContext.Unknown);
        var miss = detector.Detect("Please write a function that parses dates", TurnContext.Unknown);

        Assert.True(hit.IsCorrection);
        Assert.Equal("en.omit.forgot", hit.PatternId);
        Assert.Equal("regex", hit.DetectorVersion);
        Assert.False(miss.IsCorrection);
        Assert.Equal("classifier", miss.PatternId);
    }

    [Fact]
    public void Every_matching_pattern_is_a_feature_not_only_the_first()
    {
        var matches = new List<CorrectionMatch>();
        new CorrectionDetector(DefaultPatterns.All).MatchAll("No, that's wrong. You forgot the tests again", matches);

        Assert.Contains(matches, m => m.PatternId == "en.reject.no-thats-wrong");
        Assert.Contains(matches, m => m.PatternId == "en.omit.forgot");
        Assert.True(matches.Count >= 3);
    }

    [Fact]
    public void The_chunked_shortcut_finds_exactly_what_running_every_pattern_finds()
    {
        var detector = new CorrectionDetector(DefaultPatterns.All);
        string[] texts = ["no problem, but you forgot the tests", "这不是我要的结果", "Why did the build fail?", "stop", "", "ok 👍",
            "Use pnpm instead", "怎么又失败", "wait for the build to finish and then deploy", "you keep adding comments everywhere"];
        foreach (var text in texts)
        {
            var all = new List<CorrectionMatch>();
            detector.MatchAll(text, all);

            Assert.Equal(detector.Match(text)?.PatternId, all.FirstOrDefault()?.PatternId);
        }
    }

    [Fact]
    public void The_model_file_round_trips_and_a_damaged_file_is_refused()
    {
        var weights = Enumerable.Range(0, 1 << 10).Select(i => (float)Math.Sin(i)).ToArray();
        DetectorModel.Quantise(weights);

        var bytes = DetectorModel.Write(10, 0.25f, weights, new(0.6f, 0.8f), new(0.55f, 0.7f));

        Assert.True(DetectorModel.TryRead(bytes, out var model));
        Assert.Equal(weights, model.Weights);
        Assert.Equal(0.25f, model.Bias);
        Assert.Equal(new LanguageThresholds(0.6f, 0.8f), model.En);
        Assert.Equal(new LanguageThresholds(0.55f, 0.7f), model.Zh);
        Assert.StartsWith("lr1-", model.Version);
        Assert.Equal(model.Version, (DetectorModel.TryRead(DetectorModel.Write(10, 0.25f, weights, new(0.6f, 0.8f), new(0.55f, 0.7f)), out var again) ? again : null)?.Version);
        Assert.False(DetectorModel.TryRead(bytes.AsSpan(0, bytes.Length - 1), out _));
        Assert.False(DetectorModel.TryRead([], out _));
        var wrongMagic = bytes.ToArray();
        wrongMagic[0] = (byte)'X';
        Assert.False(DetectorModel.TryRead(wrongMagic, out var refused));
        Assert.True(refused.IsRegexOnly);
    }

    [Fact]
    public void A_language_whose_rule_is_score_or_pattern_counts_a_matching_turn_whatever_its_score()
    {
        var weights = new float[1 << 10];
        var bytes = DetectorModel.Write(10, -8f, weights, new(0.5f, 0.7f, OrPatterns: true), new(0.5f, 0.7f));
        Assert.True(DetectorModel.TryRead(bytes, out var model));
        Assert.True(model.En.OrPatterns);
        Assert.False(model.Zh.OrPatterns);
        var detector = new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), model);
        var context = new TurnContext("Done: the page is updated.", 3);

        var english = detector.Detect("No, that's wrong", context);
        var chinese = detector.Detect("不对，你改错了", context);
        var plain = detector.Detect("thanks, now add a footer", context);

        Assert.True(english.IsCorrection);
        Assert.True(english.Borderline); // its score is low: the server may ask a chat model
        Assert.False(chinese.IsCorrection); // Chinese still needs the score
        Assert.NotEmpty(chinese.Matches);
        Assert.False(plain.IsCorrection);
        Assert.NotEqual(model.Version, (DetectorModel.TryRead(DetectorModel.Write(10, -8f, weights, new(0.5f, 0.7f), new(0.5f, 0.7f)), out var without) ? without : null)?.Version);
        var unknownFlags = bytes.ToArray();
        unknownFlags[7] = 0x80;
        Assert.False(DetectorModel.TryRead(unknownFlags, out _));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("learned", false)]
    [InlineData("regex", true)]
    [InlineData("REGEX", true)]
    public void The_hook_runs_the_learned_detector_unless_told_to_run_the_patterns_alone(string? setting, bool regexOnly)
    {
        var variables = new Dictionary<string, string>();
        if (setting is not null)
            variables[DetectorChoice.Variable] = setting;
        var env = new SkillLoop.Hooks.Cli.ClientEnvironment("/nonexistent-home", "/", "/x/skillloop-client", variables);

        var model = DetectorChoice.For(env);

        Assert.Equal(regexOnly, model.IsRegexOnly);
        if (!regexOnly)
            Assert.Same(DetectorModel.Shipped, model);
    }

    [Fact]
    public void The_shipped_weights_are_embedded_loaded_once_and_at_most_two_megabytes()
    {
        using var stream = typeof(DetectorModel).Assembly.GetManifestResourceStream(DetectorModel.ResourceName);

        Assert.NotNull(stream);
        Assert.InRange(stream.Length, 1, 2 * 1024 * 1024);
        Assert.False(DetectorModel.Shipped.IsRegexOnly);
        Assert.Same(DetectorModel.Shipped, DetectorModel.Shipped);
        Assert.InRange(DetectorModel.Shipped.En.Threshold, 0.01f, 0.99f);
        Assert.InRange(DetectorModel.Shipped.Zh.Threshold, 0.01f, 0.99f);
    }

    [Theory]
    [InlineData("you forgot the tests")]
    [InlineData("you forgot to add the tests")]
    [InlineData("why didn't you add the tests?")]
    public void Textbook_omission_checks_after_the_agent_says_done_are_corrections(string text)
    {
        var turns = new[]
        {
            new ConversationTurn("u0", TurnRole.User, "Add a retry option to the HTTP client, with tests.", null),
            new ConversationTurn("a0", TurnRole.Assistant, "Done.", null),
            new ConversationTurn("u1", TurnRole.User, text, null),
        };

        var analysis = new SessionAnalyzer(Shipped).Analyze(turns, ActiveSkill.None);

        var correction = Assert.Single(analysis.Corrections);
        Assert.Equal("u1", correction.TurnId);
        // The classifier alone scores these short turns below its threshold: the shipped clear patterns decide.
        var detection = Shipped.Detect(text, new TurnContext("Done.", 1));
        Assert.Contains(detection.Matches, m => DetectorModel.Shipped.ClearPatterns.Contains(m.PatternId));
    }

    [Fact]
    public void A_plain_you_forgot_in_a_brand_new_request_is_not_a_correction()
    {
        var turns = new[]
        {
            new ConversationTurn("u0", TurnRole.User, "Write a reminder bot that says you forgot your keys when I leave without them.", null),
            new ConversationTurn("a0", TurnRole.Assistant, "Done.", null),
        };

        var analysis = new SessionAnalyzer(Shipped).Analyze(turns, ActiveSkill.None);

        Assert.Empty(analysis.Corrections);
        Assert.Contains(Shipped.Detect(turns[0].Text, new TurnContext("", 0)).Matches, m => m.PatternId == "en.omit.forgot");
    }

    [Fact]
    public void A_clear_pattern_in_the_weights_file_counts_whatever_the_score()
    {
        var weights = new float[1 << 10];
        var bytes = DetectorModel.Write(10, -8f, weights, new(0.5f, 0.7f), new(0.5f, 0.7f), ["en.omit.forgot", "zh.omit.wangle"]);
        Assert.True(DetectorModel.TryRead(bytes, out var model));
        Assert.Equal(["en.omit.forgot", "zh.omit.wangle"], model.ClearPatterns.Order(StringComparer.Ordinal));
        var detector = new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), model);
        var context = new TurnContext("Done.", 1);

        var forgot = detector.Detect("you forgot the tests", context);
        var other = detector.Detect("No, that's wrong", context);

        Assert.True(forgot.IsCorrection);
        Assert.True(forgot.Borderline); // its score is low: the server may ask a chat model
        Assert.False(other.IsCorrection); // a pattern that is not clear still needs the score
        Assert.NotEmpty(other.Matches);
        var without = DetectorModel.Write(10, -8f, weights, new(0.5f, 0.7f), new(0.5f, 0.7f));
        Assert.True(DetectorModel.TryRead(without, out var plain));
        Assert.Empty(plain.ClearPatterns);
        Assert.NotEqual(model.Version, plain.Version);
        Assert.False(DetectorModel.TryRead(bytes.AsSpan(0, bytes.Length - 1), out _));
        Assert.False(DetectorModel.TryRead(bytes.AsSpan(0, 50), out _));
    }

    [Fact]
    public void Signals_carry_the_score_and_detector_version_and_the_agents_previous_words_are_used()
    {
        var turns = new[]
        {
            new ConversationTurn("u0", TurnRole.User, "Add a login page", null),
            new ConversationTurn("a0", TurnRole.Assistant, "Done! The login page is implemented and all tests pass.", null),
            new ConversationTurn("u1", TurnRole.User, "No, that's wrong: you broke the build and you forgot the tests", null),
        };

        var analysis = new SessionAnalyzer(Shipped).Analyze(turns, ActiveSkill.None);

        var correction = Assert.Single(analysis.Corrections);
        Assert.Equal("u1", correction.TurnId);
        Assert.Equal(DetectorModel.Shipped.Version, correction.DetectorVersion);
        Assert.InRange(correction.Score!.Value, DetectorModel.Shipped.En.Threshold, 1);
    }

    [Fact]
    public void The_agent_turn_before_the_cursor_is_read_back_from_a_jsonl_transcript()
    {
        using var dir = new SkillLoop.Tests.Support.TempDirectory();
        var path = Path.Combine(dir.Path, "t.jsonl");
        var first = """
            {"type":"user","uuid":"u1","sessionId":"s","message":{"role":"user","content":"add a login page"}}
            {"type":"assistant","uuid":"a1","sessionId":"s","message":{"role":"assistant","content":[{"type":"text","text":"Done: the login page is in place."}]}}

            """.ReplaceLineEndings("\n");
        File.WriteAllText(path, first);
        var cursor = new FileInfo(path).Length;
        File.AppendAllText(path, """{"type":"user","uuid":"u2","sessionId":"s","message":{"role":"user","content":"did you run the tests?"}}""" + "\n");
        var reader = new ClaudeTranscriptReader();

        var previous = PrecedingContext.LastAssistantProse(reader, path, cursor);

        Assert.Equal("Done: the login page is in place.", previous);
        Assert.Null(PrecedingContext.LastAssistantProse(reader, path, 0));
    }
    [Fact]
    public void Reading_back_the_agent_turn_before_the_cursor_reads_nothing_after_it()
    {
        // A backlog of 75,000 corrections is sent in ~80 batches: re-reading to the end of the file for each held the
        // whole rest of the session's turns in memory every time.
        using var dir = new SkillLoop.Tests.Support.TempDirectory();
        var path = Path.Combine(dir.Path, "t.jsonl");
        File.WriteAllText(path, """
            {"type":"user","uuid":"u1","sessionId":"s","message":{"role":"user","content":"add a login page"}}
            {"type":"assistant","uuid":"a1","sessionId":"s","message":{"role":"assistant","content":[{"type":"text","text":"Done: the login page is in place."}]}}

            """.ReplaceLineEndings("\n"));
        var cursor = new FileInfo(path).Length;
        File.AppendAllText(path, string.Concat(Enumerable.Range(0, 50).Select(i =>
            $$$"""{"type":"user","uuid":"u{{{i + 2}}}","sessionId":"s","message":{"role":"user","content":"no, use pnpm ({{{i}}})"}}""" + "\n"
            + $$$"""{"type":"assistant","uuid":"b{{{i}}}","sessionId":"s","message":{"role":"assistant","content":"Later answer {{{i}}}."}}""" + "\n")));
        var reader = new RecordingReader(new ClaudeTranscriptReader());

        var previous = PrecedingContext.LastAssistantProse(reader, path, cursor);

        Assert.Equal("Done: the login page is in place.", previous);
        Assert.NotEmpty(reader.Reads);
        Assert.All(reader.Reads, r => Assert.True(r.Until <= cursor, $"read until {r.Until}, past the cursor at {cursor}"));
        Assert.All(reader.Reads, r => Assert.True(r.Turns <= 2, $"{r.Turns} turns materialised for the two before the cursor"));
    }

    [Fact]
    public void An_english_turns_features_depend_on_the_words_it_shares_with_the_agents_last_turn_a_chinese_turns_do_not()
    {
        // The agent's closing 200 characters are the same in both; only earlier prose (read by the overlap cue, not by
        // the closing-words features or the asked/done word lists) mentions, or not, what the person talks about.
        var closing = " " + string.Concat(Enumerable.Repeat("Take a look at the screen when you have a moment. ", 5));
        static string Features(string text, string previous)
        {
            var sink = new ListSink([]);
            new TwoStageDetector(new CorrectionDetector(DefaultPatterns.All), DetectorModel.RegexOnly).ExtractFeatures(text, new TurnContext(previous, 3), 16, ref sink);
            return string.Join(",", sink.Items.Order());
        }

        var english = "the dropdown selection list renders empty";
        Assert.NotEqual(
            Features(english, "The dropdown component renders the selection list from the query." + closing),
            Features(english, "The weather forecast mentions heavy rainfall over the valley tonight." + closing));
        var chinese = "下拉菜单的选项列表是空的";
        Assert.Equal(
            Features(chinese, "下拉菜单的选项列表来自查询结果。" + closing),
            Features(chinese, "天气预报说今晚山谷里有大雨。" + closing));
    }

    private readonly struct ListSink(List<(int, float)> items) : IFeatureSink
    {
        public List<(int, float)> Items => items;

        public void Add(int index, float value) => items.Add((index, value));
    }

    [Theory]
    [InlineData(null, 0u)]
    [InlineData("", 1u)]
    [InlineData("  \n ", 1u)]
    [InlineData("Sure, here is the login page with a responsive layout.", 2u)]
    [InlineData("I see the issue: the totals row is rendered first.", 3u)]
    [InlineData("明白了，我来调整布局。", 3u)]
    [InlineData("You\u2019re absolutely right, the totals row belongs at the bottom.", 4u)]
    [InlineData("I apologize for the confusion.", 4u)]
    [InlineData("你说得对，合计行应该放在最后。", 4u)]
    [InlineData("抱歉，我漏掉了这一步。", 4u)]
    public void The_agents_answer_is_read_for_an_admission_or_an_acknowledgment_in_its_opening(string? reply, uint kind) =>
        Assert.Equal(kind, DetectorFeatures.ReplyKind(reply));

    [Fact]
    public void An_admission_after_the_opening_is_not_read()
    {
        var late = new string('x', DetectorFeatures.ReplyChars) + " You're absolutely right.";

        Assert.Equal(2u, DetectorFeatures.ReplyKind(late));
    }

    private sealed class RecordingReader(ITranscriptReader inner) : ITranscriptReader
    {
        public List<(long From, long Until, int Turns)> Reads { get; } = [];

        public string Platform => inner.Platform;

        public TranscriptRead Read(string path, long fromOffset, long untilOffset = long.MaxValue)
        {
            var read = inner.Read(path, fromOffset, untilOffset);
            Reads.Add((fromOffset, untilOffset, read.Turns.Count));
            return read;
        }
    }
}
