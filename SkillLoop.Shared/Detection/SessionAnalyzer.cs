using SkillLoop.Hooks.Contracts;
using SkillLoop.Hooks.Transcripts;

namespace SkillLoop.Hooks.Detection;

/// <summary>The skill in use at some point of a session: carried across reads in the server's cursor.</summary>
public sealed record ActiveSkill(string? Name, string? Path)
{
    public static ActiveSkill None { get; } = new(null, null);
}

/// <summary>What one read of a session yields for the server.</summary>
/// <param name="PositionAtEnd">Where the conversation stands after these turns: the next read's start, when it follows on.</param>
public sealed record SessionAnalysis(
    IReadOnlyList<UserTurn> Turns,
    IReadOnlyList<DetectedCorrection> Corrections,
    ActiveSkill SkillAtEnd,
    ConversationPosition? PositionAtEnd = null);

/// <summary>
/// Walks a read's turns in order: keeps track of the active skill (the nearest preceding skill use in the main
/// conversation) and of the agent's last words, collects the human turns, and runs the two-stage detector over each
/// of them with its conversation context.
/// </summary>
public sealed class SessionAnalyzer(TwoStageDetector detector, int contextTurns = 4)
{
    public const int MaxCorrectionChars = 2000;
    public const int MaxContextChars = 500;
    public const int MaxTurnChars = 4000;

    /// <summary>How much of the agent's previous turn the detector looks at (as in the corpus it was trained on).</summary>
    public const int MaxPreviousChars = 1500;

    // A correction typed right after the user interrupted the agent is more likely a real one.
    private const double AfterInterruptionBoost = 0.1;

    /// <summary>The patterns alone (the detector before the learned one): the first match decides.</summary>
    public SessionAnalyzer(CorrectionDetector patterns, int contextTurns = 4) : this(new TwoStageDetector(patterns, DetectorModel.RegexOnly), contextTurns)
    {
    }

    /// <param name="conversationStarted">
    /// True when the agent has already answered before these turns (a read that starts past the beginning). A message
    /// before the agent's first answer has nothing to correct, so it is never a correction: this keeps specification
    /// language in the opening request ("it should be…", "don't use…") from counting.
    /// </param>
    /// <param name="before">
    /// Turns read earlier (just before these), read back from the transcript: they give the first corrections here
    /// their context (the agent answer being corrected is usually in the previous read) and the agent's last prose,
    /// and nothing else.
    /// </param>
    /// <param name="previousAssistant">The agent's last prose before these turns, when the caller knows it (a read past the beginning).</param>
    /// <param name="at">
    /// Where these turns start in the conversation (<see cref="PrecedingContext.PositionAt"/>): when given, it decides
    /// every context feature instead of <paramref name="conversationStarted"/> and <paramref name="previousAssistant"/>,
    /// so each turn is judged exactly as in a read of the whole session from its start.
    /// </param>
    /// <param name="after">
    /// The turns that follow these in the transcript, asked for only when the last human turn's answer has not opened
    /// far enough here (a backlog batch that ends between a turn and its answer): they finish that answer and nothing
    /// else, so the turn gets the verdict a read of the whole session gives it.
    /// </param>
    public SessionAnalysis Analyze(IReadOnlyList<ConversationTurn> turns, ActiveSkill skillAtStart, bool conversationStarted = false,
        IReadOnlyList<ConversationTurn>? before = null, string? previousAssistant = null, ConversationPosition? at = null,
        Func<IReadOnlyList<ConversationTurn>>? after = null)
    {
        var skill = skillAtStart;
        var agentHasAnswered = at?.AgentHasAnswered ?? conversationStarted;
        var pathPending = false;
        var userTurns = new List<UserTurn>();
        var corrections = new List<DetectedCorrection>();
        var context = new List<ContextTurn>();
        var interrupted = at?.AfterInterruption ?? false;
        // Mid-session reads that do not know how many human turns came before: "a few" is closer than "none".
        var humanIndex = at?.HumanTurns ?? (conversationStarted ? 3 : 0);
        var lastAssistant = at is null ? previousAssistant : at.LastAssistant;
        // Unknown ("null") only where a read starts mid-session without its position; else none yet is "".
        var started = at is null && conversationStarted;
        PendingTurn? pending = null;

        void Detect(PendingTurn? human)
        {
            if (human is null)
                return;
            var (turn, interrupted) = (human.Turn, human.Context.AfterInterruption);
            var detection = detector.Detect(turn.Text, human.Context with { Reply = human.Reply });
            if (!detection.IsCorrection)
                return;
            var confidence = detection.Match?.Confidence ?? detection.Score;
            if (interrupted)
                confidence = Math.Min(0.99, confidence + AfterInterruptionBoost);
            corrections.Add(new DetectedCorrection(turn.Id, Truncate(turn.Text, MaxCorrectionChars),
                detection.PatternId, human.Skill.Name, human.Skill.Path, Math.Round(confidence, 2), turn.Timestamp,
                human.ContextTurns, detection.Score, detection.DetectorVersion, human.Reply));
        }

        foreach (var turn in before ?? [])
        {
            if (turn.IsSidechain || turn.IsMeta || turn.IsInterruption || turn.Text.Length == 0)
                continue;
            context.Add(new ContextTurn(turn.Role == TurnRole.User ? "user" : "assistant", Truncate(turn.Text, MaxContextChars)));
            if (turn.Role != TurnRole.User && previousAssistant is null && at is null)
                lastAssistant = PreviousOf(turn.Text);
        }
        if (context.Count > contextTurns)
            context.RemoveRange(0, context.Count - contextTurns);

        foreach (var turn in turns)
        {
            // Sub-agent turns are the agent talking to itself: no human turns, and their skills do not change what
            // the main conversation is attributed to.
            if (turn.IsSidechain)
                continue;

            foreach (var use in turn.Skills)
                (skill, pathPending) = Apply(skill, pathPending, use);

            if (turn.IsInterruption)
            {
                interrupted = true;
                continue;
            }

            if (turn.IsHuman)
            {
                Detect(pending);
                pending = null;
                userTurns.Add(new UserTurn(turn.Id, Truncate(turn.Text, MaxTurnChars), turn.Timestamp));
                // Judged once the agent's answer is read (its opening is part of the context): the next human turn or
                // the end of this read, whichever comes first.
                if (agentHasAnswered)
                    pending = new PendingTurn(turn, new TurnContext(lastAssistant ?? (started ? null : ""), humanIndex, interrupted), skill,
                        [.. context.TakeLast(contextTurns)]);
                humanIndex++;
                interrupted = false;
            }

            if (turn.Role == TurnRole.Assistant && (turn.Text.Length > 0 || turn.ToolCalls.Count > 0))
                agentHasAnswered = true;
            if (turn.Role == TurnRole.Assistant && turn.Text.Length > 0)
            {
                lastAssistant = PreviousOf(turn.Text);
                pending?.Answer(turn.Text);
            }
            if (!turn.IsMeta && turn.Text.Length > 0)
                context.Add(new ContextTurn(turn.Role == TurnRole.User ? "user" : "assistant",
                    Truncate(turn.Text, MaxContextChars)));
            if (context.Count > contextTurns * 2 + 8)
                context.RemoveRange(0, context.Count - contextTurns);
        }

        if (pending is { AnswerOpened: false } && after is not null)
        {
            foreach (var turn in after())
            {
                if (turn.IsSidechain)
                    continue;
                if (turn.IsHuman)
                    break;
                if (turn.Role == TurnRole.Assistant && turn.Text.Length > 0)
                    pending.Answer(turn.Text);
            }
        }
        Detect(pending);
        return new SessionAnalysis(userTurns, corrections, skill,
            new ConversationPosition(lastAssistant, Math.Min(humanIndex, ConversationPosition.HumanTurnsThatMatter), interrupted, agentHasAnswered));
    }

    /// <summary>
    /// A human turn waiting for the agent's answer: its context, skill and context turns as they were when it was
    /// typed, and the answer's prose as it arrives (the agent's turns up to the next human turn, as the corpus keeps it).
    /// </summary>
    private sealed class PendingTurn(ConversationTurn turn, TurnContext context, ActiveSkill skill, IReadOnlyList<ContextTurn> contextTurns)
    {
        private string _reply = "";

        public ConversationTurn Turn => turn;
        public TurnContext Context => context;
        public ActiveSkill Skill => skill;
        public IReadOnlyList<ContextTurn> ContextTurns => contextTurns;
        public string Reply => _reply;

        /// <summary>
        /// Whether the answer is all that is kept of it (<see cref="MaxReplyChars"/>, what the worker reads on for): the
        /// detector reads its first <see cref="DetectorFeatures.ReplyChars"/>, the correction carries all of it.
        /// </summary>
        public bool AnswerOpened => _reply.Length >= MaxReplyChars;

        public void Answer(string text)
        {
            if (_reply.Length < MaxReplyChars)
                _reply = Truncate(_reply.Length == 0 ? text : _reply + "\n\n" + text, MaxReplyChars);
        }
    }

    /// <summary>How much of the agent's answer to a turn is kept for the detector (the corpus keeps as much).</summary>
    public const int MaxReplyChars = 300;

    /// <summary>What the detector keeps of an agent turn as the previous one: its last <see cref="MaxPreviousChars"/> characters.</summary>
    public static string PreviousOf(string text) => text.Length <= MaxPreviousChars ? text : text[^MaxPreviousChars..];

    /// <summary>
    /// A named use (Skill tool, slash command) starts a skill whose path may follow on the next "Base directory for
    /// this skill" line; a path-only use names the skill after its directory.
    /// </summary>
    private static (ActiveSkill, bool PathPending) Apply(ActiveSkill current, bool pathPending, SkillUse use)
    {
        if (use.Name is not null)
            return use.Path is not null ? (new ActiveSkill(use.Name, use.Path), false) : (new ActiveSkill(use.Name, null), true);
        if (use.Path is null)
            return (current, pathPending);
        if (pathPending && current.Name is not null)
            return (current with { Path = use.Path }, false);
        var name = System.IO.Path.GetFileName(use.Path.TrimEnd('/', '\\'));
        return (new ActiveSkill(name.Length == 0 ? use.Path : name, use.Path), false);
    }

    public static string Truncate(string text, int max) =>
        text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 1), "…");
}
