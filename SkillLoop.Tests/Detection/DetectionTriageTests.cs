using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SkillLoop.Benchmarks.DetectorTraining;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Data;
using SkillLoop.Core.Detection;
using SkillLoop.Core.Extraction;
using SkillLoop.Hooks.Detection;
using SkillLoop.Tests.Extraction;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Detection;

public sealed class DetectionTriageTests
{
    private readonly SkillLoop.Tests.Fakes.ManualTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    // Threshold 0.5 and band top 0.7 in both languages: 0.6 is borderline, 0.9 is not.
    private static readonly DetectorModel Model = Read(DetectorModel.Write(8, 0, new float[256], new(0.5f, 0.7f), new(0.5f, 0.7f)));

    private static DetectorModel Read(byte[] bytes) => DetectorModel.TryRead(bytes, out var model) ? model : throw new InvalidOperationException();

    private static async Task<long> AddSignalAsync(TestDatabase database, string text, double? score, string turnId = "t1", string contextJson = "[]",
        string? reply = null)
    {
        await using var connection = await database.Db.OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>(
            """
            INSERT INTO signals (platform, session_id, turn_id, text, pattern, skill, skill_path, confidence, user_hash, context_json, created_at, score, detector_version, reply)
            VALUES ('claude', 's1', @turnId, @text, 'classifier', 'deploy', NULL, 0.6, 'u', @contextJson, '2026-01-01T00:00:00Z', @score, 'lr1-test', @reply)
            RETURNING id
            """, new { turnId, text, score, contextJson, reply });
    }

    private static async Task AddTurnAsync(TestDatabase database, string turnId, string text)
    {
        await using var connection = await database.Db.OpenAsync(CancellationToken.None);
        await connection.ExecuteAsync(
            """
            INSERT INTO turns (platform, session_id, turn_id, text, user_hash, created_at)
            VALUES ('claude', 's1', @turnId, @text, 'u', '2026-01-01T00:00:00Z')
            """, new { turnId, text });
    }

    private ExtractionJobRunner Runner(TestDatabase database, IIssueExtractor extractor) => new(
        new IssueStore(database.Db, _time),
        new Source(extractor),
        new DatabaseState(),
        new SignalFeed(),
        new IngestActivity(_time),
        _time,
        Options.Create(new ExtractionOptions()),
        NullLogger<ExtractionJobRunner>.Instance,
        verdicts: new DetectionVerdicts(database.Db, Model, _time));

    private sealed class Source(IIssueExtractor extractor) : IIssueExtractorSource
    {
        public IIssueExtractor GetExtractor() => extractor;
    }

    [Fact]
    public async Task The_model_reads_the_opening_of_the_agents_answer_redacted_when_confirming_and_extracting()
    {
        await using var database = await TestDatabase.CreateAsync();
        var key = "sk-ant-api03-" + new string('a', 40);
        await AddSignalAsync(database, "hmm, there should only be one", 0.6, reply: $"You're absolutely right, I apologize. Retrying with {key}.");
        var chat = new JudgingChatClient { IsCorrection = true };

        await Runner(database, new LlmIssueExtractor(chat, "judge")).RunOnceAsync(CancellationToken.None);

        Assert.Equal(2, chat.Calls.Count); // the borderline confirmation, then the extraction
        Assert.All(chat.Calls, c =>
        {
            var prompt = c.Messages[1].Text;
            Assert.Contains("The opening of the agent's answer to it:\nYou're absolutely right, I apologize. Retrying with [REDACTED:", prompt);
            Assert.DoesNotContain(key, prompt);
        });
    }

    [Fact]
    public async Task A_borderline_signal_the_model_rejects_gets_a_verdict_by_the_model_and_no_issue()
    {
        await using var database = await TestDatabase.CreateAsync();
        var borderline = await AddSignalAsync(database, "hmm, there should only be one", 0.6);
        var chat = new JudgingChatClient { IsCorrection = false };

        await Runner(database, new LlmIssueExtractor(chat, "judge")).RunOnceAsync(CancellationToken.None);

        var signal = Assert.Single(await new SignalStore(database.Db).QueryAsync(new SignalQuery(), CancellationToken.None));
        Assert.Equal(("rejected", "model:judge"), (signal.Verdict, signal.VerdictBy));
        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM issues"));
        Assert.Equal("done", await database.ScalarAsync<string>("SELECT state FROM extraction_jobs WHERE signal_id = @borderline", new { borderline }));
        Assert.Contains("not a correction (model:judge)", await database.ScalarAsync<string>("SELECT last_error FROM extraction_jobs WHERE signal_id = @borderline", new { borderline }));
        var confirmation = chat.Calls.Single();
        Assert.Contains("hmm, there should only be one", confirmation.Messages[1].Text);
        Assert.NotNull(confirmation.Options?.ResponseFormat); // constrained to the JSON schema
    }

    [Fact]
    public async Task A_borderline_signal_the_model_confirms_is_extracted_and_confident_or_old_signals_are_not_asked_about()
    {
        await using var database = await TestDatabase.CreateAsync();
        var borderline = await AddSignalAsync(database, "there should only be one", 0.6, "t1");
        var confident = await AddSignalAsync(database, "no, that's wrong", 0.9, "t2");
        var older = await AddSignalAsync(database, "you forgot the tests", null, "t3");
        var chat = new JudgingChatClient { IsCorrection = true };

        await Runner(database, new LlmIssueExtractor(chat, "judge")).RunOnceAsync(CancellationToken.None);

        Assert.Equal(1, chat.Confirmations);
        var signals = (await new SignalStore(database.Db).QueryAsync(new SignalQuery(), CancellationToken.None)).ToDictionary(s => s.Id);
        Assert.Equal(("confirmed", "model:judge"), (signals[borderline].Verdict, signals[borderline].VerdictBy));
        Assert.Null(signals[confident].Verdict);
        Assert.Null(signals[older].Verdict);
        Assert.Equal(3, await database.ScalarAsync<long>("SELECT count(*) FROM issues"));
    }

    [Fact]
    public async Task Without_a_chat_model_or_with_an_unusable_answer_a_borderline_signal_is_kept_and_extracted()
    {
        await using var database = await TestDatabase.CreateAsync();
        await AddSignalAsync(database, "there should only be one", 0.6, "t1");
        await Runner(database, new HeuristicIssueExtractor()).RunOnceAsync(CancellationToken.None);
        await AddSignalAsync(database, "this isn't markdown", 0.55, "t2");
        var chat = new JudgingChatClient { ConfirmationAnswer = "I think so?" };
        await Runner(database, new LlmIssueExtractor(chat, "judge")).RunOnceAsync(CancellationToken.None);

        Assert.Equal(1, chat.Confirmations);
        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM signals WHERE verdict IS NOT NULL"));
        Assert.Equal(2, await database.ScalarAsync<long>("SELECT count(*) FROM issues"));
    }

    [Fact]
    public async Task Not_a_correction_and_a_missed_correction_are_stored_as_labels_and_exported_in_the_corpus_format()
    {
        await using var database = await TestDatabase.CreateAsync();
        var noise = await AddSignalAsync(database, "No.", 0.8, "t1",
            """[{"role":"user","text":"fix it"},{"role":"assistant","text":"Shall I delete the cache?"}]""", reply: "Understood, I'll leave it.");
        await AddTurnAsync(database, "t2", "还是显示不全");
        var labels = new DetectionLabels(database.Db, _time);

        Assert.True(await labels.MarkNoiseAsync(noise, "admin:alice", CancellationToken.None));
        Assert.True(await labels.MarkMissedAsync("claude", "s1", "t2", "admin:bob", CancellationToken.None));
        Assert.False(await labels.MarkNoiseAsync(999, "admin:alice", CancellationToken.None));
        Assert.False(await labels.MarkMissedAsync("claude", "s1", "nope", "admin:bob", CancellationToken.None));

        var signal = Assert.Single(await new SignalStore(database.Db).QueryAsync(new SignalQuery(), CancellationToken.None));
        Assert.Equal(("rejected", "admin:alice"), (signal.Verdict, signal.VerdictBy));
        var stored = await labels.ListAsync(CancellationToken.None);
        Assert.Equal([("t1", DetectionLabel.Noise, "admin:alice"), ("t2", DetectionLabel.Correction, "admin:bob")],
            stored.Select(l => (l.TurnId, l.Label, l.DecidedBy)));

        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.Combine("triage.jsonl"), await labels.ExportJsonlAsync(CancellationToken.None));
        var rows = CorrectionsCorpus.Load([dir.Path]);
        Assert.Equal(2, rows.Count);
        var no = rows.Single(r => r.Text == "No.");
        Assert.Equal(("none", "en", "Shall I delete the cache?", "Understood, I'll leave it."), (no.Label, no.Lang, no.Previous, no.Next));
        var missed = rows.Single(r => r.Text == "还是显示不全");
        // No signal, so the agent's answer is unknown (absent), not "no prose" ("").
        Assert.Equal(("clear", "zh", false, (string?)null), (missed.Label, missed.Lang, missed.Gated, missed.Next));
        Assert.Equal(CorrectionsCorpus.SplitOf("skillloop:claude/s1"), missed.Split);
    }

    [Fact]
    public async Task The_latest_triage_decision_about_a_turn_wins()
    {
        await using var database = await TestDatabase.CreateAsync();
        var id = await AddSignalAsync(database, "there should only be one", 0.6, "t1", reply: "");
        await AddTurnAsync(database, "t1", "there should only be one");
        var labels = new DetectionLabels(database.Db, _time);

        await labels.MarkNoiseAsync(id, "admin:alice", CancellationToken.None);
        await labels.MarkMissedAsync("claude", "s1", "t1", "admin:bob", CancellationToken.None);

        var label = Assert.Single(await labels.ListAsync(CancellationToken.None));
        Assert.Equal((DetectionLabel.Correction, "admin:bob", (long?)id), (label.Label, label.DecidedBy, label.SignalId));
        var exported = JsonDocument.Parse((await labels.ExportJsonlAsync(CancellationToken.None)).Trim()).RootElement;
        Assert.Equal("clear", exported.GetProperty("label").GetString());
        Assert.Equal("", exported.GetProperty("next").GetString()); // the signal's answer: the agent gave no prose
    }
}
