using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Hooks.Detection;

/// <summary>
/// The built-in correction patterns: what the server seeds its pattern table with, and what the client falls back to
/// when the server cannot be reached. Patterns are data (regex strings, matched case-insensitively); category
/// "guard" marks look-alikes whose matched text is blanked out before the correction patterns run.
/// </summary>
public static class DefaultPatterns
{
    public const string Rejection = "rejection";
    public const string Redirection = "redirection";
    public const string Omission = "omission";
    public const string Repeat = "repeat";
    public const string Stop = "stop";
    public const string Guard = "guard";

    public static IReadOnlyList<CorrectionPattern> All { get; } = Build();

    /// <summary>
    /// Textbook corrections whose match alone should count, whatever the classifier's score: an accusation of an
    /// omission or a "why didn't you …" right after the agent's turn. The corpus holds too few of them for the
    /// classifier to learn (one "you forgot" in train+dev), so at its precision-first threshold it missed "you forgot
    /// the tests" after "Done.". The trainer keeps a candidate only while the corpus does not contradict it (no wrong
    /// match on train+dev, or precision ≥ 0.9 once it has enough matches) and ships the kept ids with the weights.
    /// </summary>
    public static IReadOnlyList<string> ClearCandidates { get; } = ["en.omit.forgot", "en.omit.didnt", "en.reject.why-didnt-you"];

    private static CorrectionPattern En(string id, string category, string regex) => new($"en.{id}", "en", category, regex);
    private static CorrectionPattern Zh(string id, string category, string regex) => new($"zh.{id}", "zh", category, regex);

    private static CorrectionPattern[] Build() =>
    [
        // ── English: rejections ──
        En("reject.no-thats-wrong", Rejection, @"^\W*no+\b[\s,.!:;-]*(that'?s|that is|this is|it'?s|it is)\s+(not\s+(right|correct|it|what)|wrong|incorrect)"),
        En("reject.thats-wrong", Rejection, @"\b(that'?s|that is|this is|it'?s|it is|this was|that was)\s+(still\s+)?(wrong|incorrect|not right|not correct|broken)\b"),
        En("reject.not-what-i-asked", Rejection, @"\bnot (quite |exactly |really )?what i\s+(asked|wanted|meant|said|need(ed)?|requested|had in mind|expected)\b"),
        En("reject.no-leading", Rejection, @"^\W*(no|nope|nah)\s*[,.!:;—-]"),
        En("reject.wrong-leading", Rejection, @"^\W*(wrong|incorrect|not quite|not really|that'?s not it)\b"),
        En("reject.you-are-wrong", Rejection, @"\byou(\s+are|'re|\s+were)\s+(wrong|mistaken|incorrect)\b"),
        En("reject.misunderstood", Rejection, @"\byou\s+(misunderstood|misread|misinterpreted|got (it|that|this) wrong)\b"),
        En("reject.doesnt-work", Rejection, @"\b(it|this|that)\s+(still\s+)?(doesn'?t|does not|didn'?t|did not)\s+work\b"),
        En("reject.not-working", Rejection, @"\b(is|are|still)\s+(broken|failing|not working)\b"),
        En("reject.dont-do", Rejection, @"\b(don'?t|do not|never)\s+(do|use|add|change|touch|modify|delete|remove|create|write|call|run|rename|move|edit)\b"),
        En("reject.why-did-you", Rejection, @"\bwhy (did|would|are) you\s+(do|change|delete|remove|add|use|touch|modify|rewrite|create|break|ignore)"),
        En("reject.makes-no-sense", Rejection, @"\b(makes? no sense|doesn'?t make (any )?sense)\b"),
        En("reject.wrong-thing", Rejection, @"\bwrong\s+(file|function|method|place|directory|folder|branch|approach|answer|one|name|path|variable|class|test|command|version|api|library|package|language|format|order)s?\b"),
        En("reject.not-correct", Rejection, @"\b(isn'?t|is not|aren'?t|are not|wasn'?t|was not)\s+(right|correct|what i)\b"),
        En("reject.you-broke", Rejection, @"\byou\s+(broke|deleted|removed|overwrote|messed up|screwed up)\b"),
        En("reject.made-up", Rejection, @"\b(you\s+)?(hallucinat\w*|made (that|it|this) up|invented (that|it|this))\b"),
        En("reject.thats-not-how", Rejection, @"\bthat'?s not (how|what|why|where|the (right|correct))\b"),
        En("reject.bad", Rejection, @"\b(that|this)\s+is\s+(bad|terrible|awful|nonsense|garbage|useless)\b"),
        En("reject.why-didnt-you", Rejection, @"\bwhy\s+(didn'?t|did not|dont|don'?t|haven'?t|havent|aren'?t|arent|wasn'?t|isn'?t|would)\s+(you|it)\b"),
        En("reject.why-are-you", Rejection, @"\bwhy\s+(are|r)\s+(you|u)\s+(still\s+)?\w+ing\b"),
        En("reject.not-true", Rejection, @"\b(that'?s|thats|that is|this is|it'?s|its|it is)\s+not\s+(true|accurate|the case)\b"),
        En("reject.disagree", Rejection, @"\bi\s+(disagree|don'?t agree|do not agree)\b"),
        En("reject.wrong-place", Rejection, @"\byou('re| are|re)\s+(editing|changing|working (in|on)|modifying|writing to|looking at)\s+the\s+(wrong|main|old|other)\b"),
        // ── English: redirections ──
        En("redirect.i-said", Redirection, @"\bi\s+(said|told you|asked (you )?(to|for)|meant|specifically (said|asked))\b"),
        En("redirect.should-be", Redirection, @"\bshould\s+(be|have been|have used|use|return|call)\b"),
        En("redirect.instead", Redirection, @"\binstead\b"),
        En("redirect.what-i-meant", Redirection, @"\bwhat i (meant|mean|want(ed)?|asked for) (is|was)\b"),
        En("redirect.actually", Redirection, @"^\W*actually\b"),
        En("redirect.use-x-not-y", Redirection, @"\buse\s+\S+(\s+\S+)?\s*,?\s+not\s+\S+"),
        En("redirect.supposed-to", Redirection, @"\b(was|is|were|are)\s+supposed\s+to\b"),
        En("redirect.didnt-ask", Redirection, @"\bi\s+(didn'?t|did not|never)\s+(ask|say|tell|want|request)\b"),
        En("redirect.not-x-but-y", Redirection, @"\bnot\s+\S+\s*,\s*but\b"),
        En("redirect.no-need", Redirection, @"\b(no need to|you don'?t need to|there'?s no need|unnecessary)\b"),
        En("redirect.please-use", Redirection, @"\bplease\s+(just\s+)?(use|keep|follow|stick to)\b"),
        En("redirect.dont-want", Redirection, @"\bi\s+(don'?t|dont|do not)\s+(want|need|like)\b"),
        // ── English: omissions ──
        En("omit.forgot", Omission, @"\byou\s+(forgot|forget|missed|skipped|left out|ignored|overlooked|dropped)\b"),
        En("omit.didnt", Omission, @"\byou\s+(didn'?t|did not|haven'?t|have not|never)\s+(update|add|include|handle|run|test|fix|change|implement|follow|read|check|remove|commit|call|use|finish|do)\b"),
        En("omit.missing", Omission, @"\b(is|are)\s+(still\s+)?missing\b"),
        En("omit.also-need", Omission, @"\byou\s+(also need|need to also|should also)\b"),
        En("omit.not-done", Omission, @"\b(isn'?t|is not|wasn'?t|was not|aren'?t|are not|not)\s+(done|finished|complete|completed|fixed)(\s+yet)?\b"),
        En("omit.what-about", Omission, @"^\W*what about\b"),
        En("omit.did-you", Omission, @"^\W*(and\s+)?(did|have|has)\s+(you|u)\s+(actually\s+|really\s+|even\s+)?(push|pushed|commit|committed|run|ran|test|tested|implement|implemented|update|updated|check|checked|deploy|deployed|build|built|save|saved|restart|restarted|verify|verified|read)\b"),
        // ── English: repeats ──
        En("repeat.again", Repeat, @"\b(failing|broken|wrong|happen(ed|ing|s)?|fails?|error)\s+again\b"),
        En("repeat.same-problem", Repeat, @"\b(same|identical)\s+(error|issue|problem|mistake|bug|result|thing|failure)\b"),
        En("repeat.still", Repeat, @"\b(still|keeps?)\s+(fails?|failing|getting|showing|happening|broken|wrong|doing|the same|there)\b"),
        En("repeat.still-object", Repeat, @"(^|[.!?]\s*)\W*(it'?s\s+|its\s+|it\s+is\s+|i'?m\s+|im\s+)?still\s+(\d{3}\b|not\b|no\b|nothing\b|empty\b|blank\b|null\b|undefined\b|crash|error|seeing\b|see\b|get\b|getting\b|have\b|having\b|shows?\b|showing\b|same\b)"),
        En("repeat.how-many-times", Repeat, @"\bhow many times\b"),
        En("repeat.already-told", Repeat, @"\b(i('ve| have)?\s+already\s+(told|said|asked)|as i (said|told you|mentioned)|like i said)\b"),
        En("repeat.you-keep", Repeat, @"\byou\s+keep\s+\w+ing\b"),
        En("repeat.try-again", Repeat, @"^\W*(try|do it) again\b"),
        // ── English: stop and undo ──
        En("stop.stop", Stop, @"^\W*(stop|wait|hold on|halt)\b"),
        En("stop.undo", Stop, @"\b(undo|revert|roll ?back)\s+(that|this|it|the|your|those|these|everything|all|what)\b"),
        En("stop.undo-leading", Stop, @"^\W*(undo|revert)\b"),
        En("stop.put-back", Stop, @"\b(put|change|set|switch) (it|that|this|them) back\b"),
        En("stop.leave-alone", Stop, @"\b(leave|keep) (it|that|this|them) (alone|as (it|they) (was|were)|as is)\b"),
        // ── English: guards (look-alikes) ──
        En("guard.no-problem", Guard, @"\bno\s+(problem|problems|worries|thanks|thank you|rush|pressure|doubt|offense|big deal)\b"),
        En("guard.not-bad", Guard, @"\bnot\s+(bad|too bad|a problem|an issue|that bad)\b"),
        En("guard.nothing-wrong", Guard, @"\b(nothing|not anything)\s+(is\s+)?wrong\b"),
        En("guard.error-question", Guard, @"\b(why|what|how|where|when|which)\b[^.!?\n]{0,80}\b(error|errors|exception|throw|throws|fail|fails|failing|wrong|broken)\b[^.!?\n]*\?"),
        En("guard.error-noun", Guard, @"\b(error|exception)\s+(handling|handler|message|messages|code|codes|log|logs|type|types|class|classes|path|page|boundary)\b"),
        En("guard.stop-noun", Guard, @"\bstop\s+(words?|conditions?|buttons?|signs?|signals?|loss|the (server|service|process|container|daemon|timer|watcher|job))\b"),
        En("guard.wait-for", Guard, @"\bwait(ing)?\s+(for|until|till)\b"),
        En("guard.undo-noun", Guard, @"\bundo\s+(stack|history|button|feature|support|functionality|/ ?redo|and redo)\b"),
        En("guard.dont-worry", Guard, @"\bdon'?t\s+(worry|forget to|hesitate)\b"),
        En("guard.instead-neutral", Guard, @"\binstead of (asking|waiting)\b"),
        En("guard.works-now", Guard, @"^\W*(no|nope)\s*,?\s*(it|that)\s+works\b"),

        // ── Chinese: rejections ──
        Zh("reject.budui", Rejection, @"不对"),
        Zh("reject.cuole", Rejection, @"错了"),
        Zh("reject.bushi-zheyang", Rejection, @"不是这样"),
        Zh("reject.bushi-wo-yao", Rejection, @"不是我(要|想要|说|想|的意思|需要)"),
        Zh("reject.buxing", Rejection, @"不(正确|准确|合理|行|可以|能这样)"),
        Zh("reject.shi-cuo-de", Rejection, @"(这|那|你)(个|样|么)?(是)?错(的|误的)"),
        Zh("reject.ni-gaocuo", Rejection, @"(搞|弄|写|改|理解|看|用|删|放)错"),
        Zh("reject.meiyong", Rejection, @"(没用|不管用|没效果|不起作用|没有效果|没起作用)"),
        Zh("reject.haishi-buxing", Rejection, @"(还是|依然|仍然|依旧)(不行|不对|报错|失败|有问题|错)"),
        Zh("reject.luangai", Rejection, @"(胡说|瞎改|乱改|乱写|瞎写|胡扯|编造|瞎编|乱来)"),
        Zh("reject.genben-meiyou", Rejection, @"(根本没有|根本不存在|并不存在|压根没有)"),
        Zh("reject.zenme-huishi", Rejection, @"(搞什么|什么鬼|怎么搞的)"),
        Zh("reject.weishenme-ni", Rejection, @"(为什么|为啥|干嘛|谁让)你?(要|又|把|会|擅自)?(删|改|加|动|重写|换)"),
        Zh("reject.bushi-zhege", Rejection, @"不是(这个|那个|这里|那里|这种|这么)"),
        Zh("reject.bufuhe", Rejection, @"不(符合|满足)(要求|需求|预期)"),
        Zh("reject.ni-ba-shan", Rejection, @"你(怎么|为什么|干嘛)?(把|将).{0,20}(删|改|弄|覆盖|搞)(了|掉|坏|乱)"),
        Zh("reject.you-wenti", Rejection, @"(还是|还|又|都)有问题"),
        Zh("reject.bingmeiyou", Rejection, @"^\W*(并没有|并没|没有啊|根本没有|完全没有|还是没有)"),
        Zh("reject.pian", Rejection, @"(骗我|忽悠我|别骗|在骗|开玩笑)"),
        Zh("reject.shi-cuo", Rejection, @"是错(的|误的)"),
        // ── Chinese: redirections ──
        Zh("redirect.woshuo-deshi", Redirection, @"我(说|讲|指|要|想要)的是"),
        Zh("redirect.yinggai", Redirection, @"应该(是|用|改成|改为|为|放在|在|调用|返回)"),
        Zh("redirect.erbushi", Redirection, @"而不是"),
        Zh("redirect.wo-yisi", Redirection, @"我(是说|的意思是|意思是)"),
        Zh("redirect.bushi-ershi", Redirection, @"不是.{1,20}而是"),
        Zh("redirect.wo-meirang", Redirection, @"我(没|没有|并没有|从来没|从没)(让|叫|要|说|要求)"),
        Zh("redirect.gangcai-shuo", Redirection, @"我(刚才|刚刚|之前|前面)(说|讲|告诉你|提到)"),
        Zh("redirect.anzhao-wo", Redirection, @"(按照|按)我(说|讲)的"),
        Zh("redirect.buyong", Redirection, @"不(用|需要|必)(这样|这么|加|改|写|创建|动)"),
        Zh("redirect.huancheng", Redirection, @"(换成|改用|换用)"),
        Zh("redirect.qing-yong", Redirection, @"请(用|使用|保持|遵循|按照)"),
        Zh("redirect.bu-xuyao", Redirection, @"我(并)?不(需要|想要|想让|希望)"),
        // ── Chinese: omissions ──
        Zh("omit.wangle", Omission, @"忘(了|记)"),
        Zh("omit.loule", Omission, @"(漏了|漏掉|遗漏|落下了|少了)"),
        Zh("omit.ni-meiyou", Omission, @"你(没|没有|还没|还没有|并没有)(改|加|处理|更新|运行|跑|测试|修|实现|删|提交|写|考虑|检查|看|按)"),
        Zh("omit.hai-mei-hao", Omission, @"(还是|依然|仍然)?没(修好|改好|解决|生效|处理好|弄好)"),
        Zh("omit.hulue", Omission, @"(忽略了|无视了|没注意到|没看到)"),
        Zh("omit.haiyou", Omission, @"还有.{0,10}没(改|处理|加|修|删)"),
        // ── Chinese: repeats ──
        Zh("repeat.you", Repeat, @"又(错|报错|失败|出错|来了|是这样|犯|忘|改错|弄|搞|删|不对|加|改)"),
        Zh("repeat.haishi-yiyang", Repeat, @"(还是|仍然|依然|依旧)(一样|同样|老样子|这个错|没变|这样)"),
        Zh("repeat.haishi-mei", Repeat, @"(还是|依然|仍然|依旧)(没有?(变化|反应|效果|显示|用|解决|修复|办法)|无法|不能|不会|显示不|报错|出现|卡)"),
        Zh("repeat.duoshao-ci", Repeat, @"(说了|讲了|告诉你|提醒你)(多少|几)(次|遍)"),
        Zh("repeat.zai-shuo", Repeat, @"(再说一遍|再说一次|我再说一次|重复一遍|再强调一次)"),
        Zh("repeat.tongyang", Repeat, @"(同样的|一样的|相同的)(错误|问题|错)"),
        Zh("repeat.yijing-shuo", Repeat, @"(已经|早就)(说|讲|告诉你|提醒)(过|了)"),
        Zh("repeat.zaici", Repeat, @"(又一次|再一次)(出错|失败|报错)"),
        // ── Chinese: stop and undo ──
        Zh("stop.tingxia", Stop, @"^\W*(停下|停止|停一下|先停|住手|打住|等一下|等等|停)"),
        Zh("stop.chexiao", Stop, @"(撤销|撤回|回滚|恢复原样|改回去|改回来|退回去|还原回去)"),
        Zh("stop.biedong", Stop, @"(别动|不要动|不要碰|别碰|别乱)"),
        Zh("stop.suanle", Stop, @"(^|[，,。！!\s])算了"),
        Zh("stop.buyaozai", Stop, @"(不要再|别再|不许再)"),
        Zh("stop.bie", Stop, @"别(这样|这么|改|删|加|用|碰|写|换)"),
        Zh("stop.buyao", Stop, @"不要(这样|这么|用|改|加|删|写|换|擅自)"),
        // ── Chinese: guards (look-alikes) ──
        Zh("guard.meiwenti", Guard, @"没(问题|关系|事儿?|错)"),
        Zh("guard.bucuo", Guard, @"不错"),
        Zh("guard.budui-words", Guard, @"(不对称|不对应|不对外|对不对|不对等)"),
        Zh("guard.cuowu-noun", Guard, @"错误(处理|信息|码|日志|提示|类型|消息|页面|边界|率|检查|捕获)"),
        Zh("guard.error-question", Guard, @"(为什么|为啥|怎么|什么|哪里|是不是|会不会|如何)[^。！？!?\n]{0,30}(报错|出错|错误|异常|失败|错)[^。！？!\n]*[？?吗]"),
        Zh("guard.question-forms", Guard, @"(是不是|可不可以|行不行|能不能|要不要|可以不|好不好)"),
        Zh("guard.bie-words", Guard, @"(别人|别的|别处|别名|区别|类别|级别|分别|特别|差别|告别|识别|性别|个别|鉴别|辨别|判别|离别|派别|别致|别墅|甄别)"),
        Zh("guard.buyaojin", Guard, @"(不要紧|要不要)"),
        Zh("guard.tingzhi-noun", Guard, @"停止(条件|按钮|信号|服务|词|运行的)"),
        Zh("guard.ting-fuwu", Guard, @"先?停(一下|止|掉)?\s*(服务器|服务|进程|容器|程序|数据库)"),
        Zh("guard.suan-words", Guard, @"(计|结|打|合|清|估|核|换|运|推|预|演|盘|就)算了"),
        Zh("guard.shao-words", Guard, @"(减|缩|很|多|不|稀)少了"),
        Zh("guard.bie-wang", Guard, @"(别忘了|别忘记|不要忘了|不要忘记|记得)"),
        Zh("guard.you-you", Guard, @"又(快|好|大|小|多|高|长|短|简单|便宜)又"),
        Zh("guard.yinggai-question", Guard, @"应该(是|用)[^。！!\n]{0,30}(吗|呢|吧)?[？?]"),
    ];
}
