using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Detection;

namespace SkillLoop.Tests.Hooks;

public sealed class CorrectionDetectorTests
{
    private static readonly CorrectionDetector Detector = new(DefaultPatterns.All);

    [Theory]
    [InlineData("No, that's wrong", "en.reject.no-thats-wrong")]
    [InlineData("no that is not what I asked for", "en.reject.no-thats-wrong")]
    [InlineData("That's incorrect, the port is 8080", "en.reject.thats-wrong")]
    [InlineData("this is not what i wanted", "en.reject.not-what-i-asked")]
    [InlineData("Hmm, that's not quite what I had in mind", "en.reject.not-what-i-asked")]
    [InlineData("Nope, try the other table", "en.reject.no-leading")]
    [InlineData("you misunderstood the task", "en.reject.misunderstood")]
    [InlineData("It still doesn't work", "en.reject.doesnt-work")]
    [InlineData("Don't use regex for parsing HTML", "en.reject.dont-do")]
    [InlineData("You edited the wrong file", "en.reject.wrong-thing")]
    [InlineData("I said the config lives in appsettings.json", "en.redirect.i-said")]
    [InlineData("The default should be 30 seconds", "en.redirect.should-be")]
    [InlineData("Use pnpm instead", "en.redirect.instead")]
    [InlineData("I didn't ask you to refactor everything", "en.redirect.didnt-ask")]
    [InlineData("You forgot to update the README", "en.omit.forgot")]
    [InlineData("you didn't run the tests", "en.omit.didnt")]
    [InlineData("The migration is still missing", "en.omit.missing")]
    [InlineData("same error as before", "en.repeat.same-problem")]
    [InlineData("How many times do I have to say it", "en.repeat.how-many-times")]
    [InlineData("you keep adding comments everywhere", "en.repeat.you-keep")]
    [InlineData("Stop! That deletes production data", "en.stop.stop")]
    [InlineData("please undo that", "en.stop.undo")]
    [InlineData("put it back the way it was", "en.stop.put-back")]
    [InlineData("no problem, but you forgot the tests", "en.omit.forgot")]
    [InlineData("why didnt you run the tests", "en.reject.why-didnt-you")]
    [InlineData("why are you still running the whole suite", "en.reject.why-are-you")]
    [InlineData("that's not true, the file exists", "en.reject.not-true")]
    [InlineData("I disagree, keep the cache", "en.reject.disagree")]
    [InlineData("you're editing the main workspace", "en.reject.wrong-place")]
    [InlineData("I don't want a modal here", "en.redirect.dont-want")]
    [InlineData("did you push?", "en.omit.did-you")]
    [InlineData("still 404", "en.repeat.still-object")]
    public void English_corrections_are_detected(string text, string patternId)
    {
        var match = Detector.Match(text);

        Assert.NotNull(match);
        Assert.Equal(patternId, match.PatternId);
        Assert.InRange(match.Confidence, 0.05, 0.99);
    }

    [Theory]
    [InlineData("不对，应该是 UTF-8", "zh.reject.budui")]
    [InlineData("你又错了", "zh.reject.cuole")]
    [InlineData("不是这样写的", "zh.reject.bushi-zheyang")]
    [InlineData("这不是我要的结果", "zh.reject.bushi-wo-yao")]
    [InlineData("这样不行", "zh.reject.buxing")]
    [InlineData("你理解错我的意思了", "zh.reject.ni-gaocuo")]
    [InlineData("还是报错", "zh.reject.haishi-buxing")]
    [InlineData("谁让你删除这个文件的", "zh.reject.weishenme-ni")]
    [InlineData("你把我的注释删了", "zh.reject.ni-ba-shan")]
    [InlineData("我说的是后端接口", "zh.redirect.woshuo-deshi")]
    [InlineData("端口应该是 8080", "zh.redirect.yinggai")]
    [InlineData("用 pnpm 而不是 npm", "zh.redirect.erbushi")]
    [InlineData("我没让你改测试", "zh.redirect.wo-meirang")]
    [InlineData("你忘了更新文档", "zh.omit.wangle")]
    [InlineData("漏掉了一个参数", "zh.omit.loule")]
    [InlineData("你没有运行测试", "zh.omit.ni-meiyou")]
    [InlineData("怎么又失败", "zh.repeat.you")]
    [InlineData("说了多少次了，用 tab", "zh.repeat.duoshao-ci")]
    [InlineData("同样的问题又出现了", "zh.repeat.tongyang")]
    [InlineData("停下，先别提交", "zh.stop.tingxia")]
    [InlineData("撤销刚才的修改", "zh.stop.chexiao")]
    [InlineData("别改这个文件", "zh.stop.bie")]
    [InlineData("不要再加注释了", "zh.stop.buyaozai")]
    [InlineData("没问题，但是你忘了加测试", "zh.omit.wangle")]
    [InlineData("并没有,现在还是第一次无法修改状态", "zh.reject.bingmeiyou")]
    [InlineData("你根本就是在骗我", "zh.reject.pian")]
    [InlineData("但是 lit 的例子是错的哦", "zh.reject.shi-cuo")]
    [InlineData("我不需要 emoji 和中文说明", "zh.redirect.bu-xuyao")]
    [InlineData("现在还是没有变化", "zh.repeat.haishi-mei")]
    public void Chinese_corrections_are_detected(string text, string patternId)
    {
        var match = Detector.Match(text);

        Assert.NotNull(match);
        Assert.Equal(patternId, match.PatternId);
    }

    [Theory]
    [InlineData("no problem, thanks!")]
    [InlineData("Not bad at all, ship it")]
    [InlineData("why does it throw an error?")]
    [InlineData("What is the error handling strategy here?")]
    [InlineData("Add error handling to the parser")]
    [InlineData("Please write a function that parses dates")]
    [InlineData("Great, now add a README")]
    [InlineData("Please stop the dev server and restart it")]
    [InlineData("Can you wait until the migration finishes before deploying?")]
    [InlineData("Why did the build fail?")]
    [InlineData("wait for the build to finish and then deploy")]
    [InlineData("Implement the undo stack for the editor")]
    [InlineData("Don't worry about performance yet")]
    [InlineData("There's nothing wrong with the old code, just add logging")]
    [InlineData("Here is the code:\n```\n// no, that's wrong\nthrow new Exception(\"you forgot\");\n```\nplease review it")]
    [InlineData("")]
    public void English_look_alikes_are_not_corrections(string text) => Assert.Null(Detector.Match(text));

    [Theory]
    [InlineData("没问题，谢谢")]
    [InlineData("不错，继续")]
    [InlineData("这个布局不对称，能调整一下吗")]
    [InlineData("加上错误处理")]
    [InlineData("为什么会报错？")]
    [InlineData("帮我写一个解析日期的函数")]
    [InlineData("它们有什么区别")]
    [InlineData("计算了总数之后输出")]
    [InlineData("别忘了加测试")]
    [InlineData("请实现用户登录功能")]
    [InlineData("这两个参数是不是对应的")]
    [InlineData("先停一下服务器再部署")]
    [InlineData("好的，下一步实现导出功能")]
    public void Chinese_look_alikes_are_not_corrections(string text) => Assert.Null(Detector.Match(text));

    [Fact]
    public void The_default_set_has_at_least_forty_patterns_per_language_and_guards()
    {
        var corrections = DefaultPatterns.All.Where(p => p.Category != DefaultPatterns.Guard).ToList();

        Assert.True(corrections.Count(p => p.Language == "en") >= 40);
        Assert.True(corrections.Count(p => p.Language == "zh") >= 40);
        Assert.Contains(DefaultPatterns.All, p => p.Category == DefaultPatterns.Guard && p.Language == "en");
        Assert.Contains(DefaultPatterns.All, p => p.Category == DefaultPatterns.Guard && p.Language == "zh");
        Assert.Equal(DefaultPatterns.All.Count, DefaultPatterns.All.Select(p => p.Id).Distinct().Count());
        Assert.Equal(corrections.Count, new CorrectionDetector(DefaultPatterns.All).PatternCount); // all compile
    }

    [Fact]
    public void Invalid_and_disabled_patterns_are_ignored()
    {
        var detector = new CorrectionDetector(
        [
            new CorrectionPattern("bad", "en", "rejection", "(unclosed"),
            new CorrectionPattern("off", "en", "rejection", "wrong", Enabled: false),
            new CorrectionPattern("on", "en", "rejection", "nope"),
        ]);

        Assert.Equal(1, detector.PatternCount);
        Assert.Null(detector.Match("that's wrong"));
        Assert.Equal("on", detector.Match("nope")?.PatternId);
    }

    [Fact]
    public void A_match_opening_a_short_message_is_more_confident_than_one_deep_in_a_long_message()
    {
        var opening = Detector.Match("You forgot the tests")!;
        var buried = Detector.Match(new string('a', 50) + " ok. " + string.Join(" ", Enumerable.Repeat("context", 80)) + " you forgot the tests")!;

        Assert.True(opening.Confidence > buried.Confidence);
    }

    [Fact]
    public void Without_the_linear_prefilter_every_turn_of_the_corpus_gets_the_same_matches()
    {
        // The hook's worker runs without it (cheaper for a short run); the server and benchmarks with it.
        var corpus = Path.Combine(SkillLoop.Tests.Support.PublishedClient.RepositoryRoot, "benchmarks", "data", "corrections");
        var texts = Directory.GetFiles(corpus, "*.jsonl", SearchOption.AllDirectories)
            .SelectMany(File.ReadLines)
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("text").GetString() ?? "")
            .ToList();
        var plain = new CorrectionDetector(DefaultPatterns.All, linearPrefilter: false);
        var matched = 0;

        foreach (var text in texts)
        {
            var with = new List<CorrectionMatch>();
            var without = new List<CorrectionMatch>();
            Detector.MatchAll(text, with);
            plain.MatchAll(text, without);
            Assert.Equal(with, without);
            matched += with.Count > 0 ? 1 : 0;
        }
        Assert.True(texts.Count > 2_000 && matched > 300, $"{texts.Count} turns, {matched} with a match");
    }
}
