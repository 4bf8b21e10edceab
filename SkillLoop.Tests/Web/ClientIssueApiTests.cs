using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SkillLoop.Core.Extraction;
using SkillLoop.Hooks.Contracts;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary><c>POST /api/v1/issues</c>: issues a client's local agent CLI extracted.</summary>
[Collection(ServerCollection.Name)]
public sealed class ClientIssueApiTests(SkillLoopServer server)
{
    private static readonly ExtractedIssue Issue = Fakes.SampleIssues.TotalsRow;

    private async Task<SignalBatch> PostBatchAsync(string session)
    {
        using var ingest = server.CreateIngestClient();
        var batch = SignalIngestorTests.Batch(session, 0, 100, corrections: "no, the totals row goes at the bottom") with { LocalExtractor = "claude" };
        (await ingest.PostAsJsonAsync("/api/v1/signals", batch)).EnsureSuccessStatusCode();
        return batch;
    }

    [Fact]
    public async Task A_clients_issue_is_stored_once_with_the_path_that_made_it_and_shown_on_the_signal()
    {
        var batch = await PostBatchAsync("client-issue-1");
        using var ingest = server.CreateIngestClient();
        var body = new ClientIssue("claude", "client-issue-1", batch.Corrections[0].TurnId, "client:claude", Issue);

        var first = await ingest.PostAsJsonAsync("/api/v1/issues", body);
        var again = await ingest.PostAsJsonAsync("/api/v1/issues", body with { Issue = Issue with { ProblemPattern = "Something else entirely happened here." } });

        Assert.True((await first.Content.ReadFromJsonAsync<ClientIssueResult>())!.Stored);
        Assert.False((await again.Content.ReadFromJsonAsync<ClientIssueResult>())!.Stored);
        using var admin = server.CreateAdminClient();
        var signal = Assert.Single((await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/signals?sessionId=client-issue-1"))!);
        var issue = signal.GetProperty("issue");
        Assert.Equal("client:claude", issue.GetProperty("extractedBy").GetString());
        Assert.Equal(Issue.ProblemPattern, issue.GetProperty("problemPattern").GetString());
    }

    [Fact]
    public async Task A_clients_issue_loses_its_secrets_and_invisible_characters_before_it_is_stored()
    {
        var batch = await PostBatchAsync("client-issue-hidden");
        using var ingest = server.CreateIngestClient();
        // A modified client's issue: a password in prose and in a command line, and hidden characters.
        const string hidden = InvisibleCharactersTests.Hidden;
        var issue = Issue with
        {
            ProblemPattern = $"The totals row{hidden} is placed at the top.",
            RootCause = "The skill runs mysql -pS3cretPassw0rd to read the totals.",
            ExpectedBehavior = $"Keep the totals row last.{hidden}",
            EvidenceQuote = "no, the totals row goes at the bottom; my password is Hunter2Hunter2",
        };

        var response = await ingest.PostAsJsonAsync("/api/v1/issues", new ClientIssue("claude", "client-issue-hidden", batch.Corrections[0].TurnId, "client:claude", issue));

        Assert.True((await response.Content.ReadFromJsonAsync<ClientIssueResult>())!.Stored);
        using var admin = server.CreateAdminClient();
        var stored = Assert.Single((await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/signals?sessionId=client-issue-hidden"))!).GetProperty("issue");
        var fields = new[] { "problemPattern", "rootCause", "expectedBehavior", "evidenceQuote" }.Select(f => stored.GetProperty(f).GetString()!).ToList();
        Assert.All(fields, f => Assert.False(SkillLoop.Core.Capture.InvisibleCharacters.Contains(f), f));
        Assert.Equal("The totals row is placed at the top.", fields[0]);
        Assert.Equal("Keep the totals row last.", fields[2]);
        Assert.DoesNotContain("S3cretPassw0rd", fields[1]);
        Assert.DoesNotContain("Hunter2Hunter2", fields[3]);
    }

    [Fact]
    public async Task A_client_whose_local_extraction_failed_hands_its_corrections_back_and_the_server_extracts_them_without_waiting()
    {
        var batch = await PostBatchAsync("client-declined-1");
        using var ingest = server.CreateIngestClient();

        var response = await ingest.PostAsJsonAsync("/api/v1/issues/declined",
            new LocalExtractionDeclined("claude", "client-declined-1", [batch.Corrections[0].TurnId], "copilot exited with 1: run /login"));
        var invalid = await ingest.PostAsJsonAsync("/api/v1/issues/declined", new LocalExtractionDeclined("claude", "../x", [], "x"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await response.Content.ReadFromJsonAsync<LocalExtractionDeclinedResult>())!.Released);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var errors = (await invalid.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("sessionId", out _) && errors.TryGetProperty("turnIds", out _), errors.ToString());
        // The grace period is 300 s: an issue within seconds was extracted because the client said so.
        using var admin = server.CreateAdminClient();
        var issue = await Poll.UntilAsync(
            async () => Assert.Single((await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/signals?sessionId=client-declined-1"))!).GetProperty("issue"),
            found => found.ValueKind == JsonValueKind.Object, TimeSpan.FromSeconds(30));
        Assert.DoesNotContain("client:", issue.GetProperty("extractedBy").GetString());
    }

    [Fact]
    public async Task Invalid_issues_get_400_problem_details_and_store_nothing()
    {
        var batch = await PostBatchAsync("client-issue-2");
        using var ingest = server.CreateIngestClient();
        var turn = batch.Corrections[0].TurnId;

        var badSeverity = await ingest.PostAsJsonAsync("/api/v1/issues", new ClientIssue("claude", "client-issue-2", turn, "client:claude", Issue with { Severity = "huge" }));
        var badPath = await ingest.PostAsJsonAsync("/api/v1/issues", new ClientIssue("claude", "client-issue-2", turn, "server:gpt", Issue));
        var badSession = await ingest.PostAsJsonAsync("/api/v1/issues", new ClientIssue("claude", "../etc", turn, "client:claude", Issue));
        var unknown = await ingest.PostAsJsonAsync("/api/v1/issues", new ClientIssue("claude", "client-issue-2", "no-such-turn", "client:claude", Issue));

        Assert.Equal(HttpStatusCode.BadRequest, badSeverity.StatusCode);
        Assert.Contains("severity", (await badSeverity.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("issue")[0].GetString());
        Assert.Equal(HttpStatusCode.BadRequest, badPath.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badSession.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        using var admin = server.CreateAdminClient();
        var signal = Assert.Single((await admin.GetFromJsonAsync<JsonElement[]>("/api/v1/signals?sessionId=client-issue-2"))!);
        Assert.True(signal.GetProperty("issue").ValueKind is JsonValueKind.Null or JsonValueKind.Undefined);
    }

    [Fact]
    public async Task With_local_extraction_turned_off_clients_are_told_so_and_their_issues_refused()
    {
        var batch = await PostBatchAsync("client-issue-3");
        using var admin = server.CreateAdminClient();
        using var ingest = server.CreateIngestClient();
        (await admin.PutAsJsonAsync("/api/v1/settings/extraction", new LocalExtractionSettings(false, 300))).EnsureSuccessStatusCode();
        try
        {
            var config = await ingest.GetFromJsonAsync<ClientConfig>("/api/v1/client/config");
            var refused = await ingest.PostAsJsonAsync("/api/v1/issues", new ClientIssue("claude", "client-issue-3", batch.Corrections[0].TurnId, "client:claude", Issue));

            Assert.False(config!.Settings.AllowLocalExtraction);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        finally
        {
            (await admin.PutAsJsonAsync("/api/v1/settings/extraction", new LocalExtractionSettings(true, ExtractionSettings.DefaultLocalGraceSeconds))).EnsureSuccessStatusCode();
        }

        Assert.True((await ingest.GetFromJsonAsync<ClientConfig>("/api/v1/client/config"))!.Settings.AllowLocalExtraction);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PutAsJsonAsync("/api/v1/settings/extraction", new LocalExtractionSettings(true, -1))).StatusCode);
    }
}
