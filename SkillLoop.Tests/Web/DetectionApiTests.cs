using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

[Collection(ServerCollection.Name)]
public sealed class DetectionApiTests(SkillLoopServer server)
{
    [Fact]
    public async Task Signals_record_the_detector_version_score_and_answer_and_an_old_client_without_them_is_still_accepted()
    {
        using var ingest = server.CreateIngestClient();
        var batch = SignalIngestorTests.Batch("detector-api-new", 0, 10, corrections: ["there should only be one"]);
        // The client cuts the answer to 300 characters, then redacts it: a redaction mark can make it longer than that.
        var reply = new string('x', 290) + " PGPASSWORD=[REDACTED:secret] and key sk-ant-api03-" + new string('a', 40);
        batch = batch with
        {
            Corrections = [batch.Corrections[0] with { Pattern = "classifier", Score = 0.8123, DetectorVersion = "lr1-abcdef123456", Reply = reply }],
        };
        (await ingest.PostAsJsonAsync("/api/v1/signals", batch)).EnsureSuccessStatusCode();
        // An old client's JSON has neither field.
        var old = """
            {"platform":"claude","sessionId":"detector-api-old","user":"dev@example.com","fromOffset":0,
             "cursor":{"platform":"claude","sessionId":"detector-api-old","offset":5,"activeSkill":null,"activeSkillPath":null},
             "turns":[],"corrections":[{"turnId":"t1","text":"no, that's wrong","pattern":"en.reject.no-thats-wrong","skill":null,
             "skillPath":null,"confidence":0.9,"timestamp":null,"context":[]}]}
            """;
        (await ingest.PostAsync("/api/v1/signals", new StringContent(old, System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        var bad = batch with { SessionId = "detector-api-bad", Corrections = [batch.Corrections[0] with { Score = 1.5 }] };
        Assert.Equal(HttpStatusCode.BadRequest, (await ingest.PostAsJsonAsync("/api/v1/signals", bad)).StatusCode);
        var huge = batch with { SessionId = "detector-api-huge", Corrections = [batch.Corrections[0] with { Reply = new string('x', 20_001) }] };
        var refused = await ingest.PostAsJsonAsync("/api/v1/signals", huge);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("corrections[0].reply", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name));

        using var admin = server.CreateAdminClient();
        var fresh = Assert.Single(await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/signals?sessionId=detector-api-new") ?? []);
        var older = Assert.Single(await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/signals?sessionId=detector-api-old") ?? []);
        Assert.Equal("lr1-abcdef123456", fresh.GetProperty("detectorVersion").GetString());
        Assert.Equal(0.8123, fresh.GetProperty("score").GetDouble(), 4);
        Assert.StartsWith(new string('x', 290) + " PGPASSWORD=[REDACTED:secret] and key [REDACTED:", fresh.GetProperty("reply").GetString()); // redacted again at ingest
        Assert.DoesNotContain("sk-ant-api03", fresh.GetProperty("reply").GetString());
        Assert.Equal(JsonValueKind.Null, older.GetProperty("reply").ValueKind);
        Assert.Equal(JsonValueKind.Null, older.GetProperty("detectorVersion").ValueKind);
        Assert.Equal(JsonValueKind.Null, older.GetProperty("score").ValueKind);
    }

    [Fact]
    public async Task Admins_label_noise_and_missed_corrections_and_export_them_and_clients_cannot()
    {
        using var ingest = server.CreateIngestClient();
        var batch = SignalIngestorTests.Batch("detector-api-triage", 0, 10, corrections: ["No."]);
        batch = batch with { Turns = [.. batch.Turns, new UserTurn("turn-missed", "did you push?", null)] };
        (await ingest.PostAsJsonAsync("/api/v1/signals", batch)).EnsureSuccessStatusCode();
        using var admin = server.CreateAdminClient();
        var signal = Assert.Single(await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/signals?sessionId=detector-api-triage") ?? []);
        var id = signal.GetProperty("id").GetInt64();

        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.PostAsync($"/api/v1/signals/{id}/noise", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.GetAsync("/api/v1/detection/labels/export")).StatusCode);
        var noise = await admin.PostAsync($"/api/v1/signals/{id}/noise", null);
        var missed = await admin.PostAsync("/api/v1/sessions/claude/detector-api-triage/turns/turn-missed/missed", null);
        var unknown = await admin.PostAsync("/api/v1/signals/99999999/noise", null);
        var unknownTurn = await admin.PostAsync("/api/v1/sessions/claude/detector-api-triage/turns/nope/missed", null);

        Assert.Equal(HttpStatusCode.OK, noise.StatusCode);
        Assert.Equal(HttpStatusCode.OK, missed.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, unknownTurn.StatusCode);
        var turns = await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/sessions/claude/detector-api-triage/turns") ?? [];
        Assert.Equal(["noise", "correction"], turns.Select(t => t.GetProperty("label").GetString()));
        var export = await admin.GetStringAsync("/api/v1/detection/labels/export");
        var rows = export.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(r => r.GetProperty("session").GetString() == "skillloop:claude/detector-api-triage").ToList();
        Assert.Equal([("No.", "none"), ("did you push?", "clear")], rows.Select(r => (r.GetProperty("text").GetString(), r.GetProperty("label").GetString())));
        var after = Assert.Single(await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/signals?sessionId=detector-api-triage") ?? []);
        Assert.Equal("rejected", after.GetProperty("verdict").GetString());
        Assert.StartsWith("admin:", after.GetProperty("verdictBy").GetString());
    }
}
