using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Data;
using SkillLoop.Tests.Capture;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Web;

/// <summary><c>POST /api/v1/backup</c> and <c>GET /api/v1/backup/{name}</c>.</summary>
[Collection(ServerCollection.Name)]
public sealed class BackupApiTests(SkillLoopServer server)
{
    [Fact]
    public async Task An_admin_backs_up_the_live_database_and_downloads_a_copy_that_opens_with_the_same_signals()
    {
        using var ingest = server.CreateIngestClient();
        (await ingest.PostAsJsonAsync("/api/v1/signals", SignalIngestorTests.Batch("backup-api", 0, 10, corrections: "no, that's wrong"))).EnsureSuccessStatusCode();
        using var admin = server.CreateAdminClient();

        var created = await admin.PostAsync("/api/v1/backup", null);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var backup = (await created.Content.ReadFromJsonAsync<BackupFile>())!;
        Assert.Matches(@"^skillloop-\d{8}T\d{6}Z(-\d+)?\.db$", backup.Name);
        Assert.Equal($"/api/v1/backup/{backup.Name}", created.Headers.Location?.OriginalString);
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "backups", backup.Name)));
        Assert.Contains(backup, (await admin.GetFromJsonAsync<BackupFile[]>("/api/v1/backup"))!);

        var download = await admin.GetAsync($"/api/v1/backup/{backup.Name}");

        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("application/vnd.sqlite3", download.Content.Headers.ContentType?.MediaType);
        var bytes = await download.Content.ReadAsByteArrayAsync();
        Assert.Equal(backup.Bytes, bytes.Length);
        Assert.Equal("SQLite format 3\0", Encoding.ASCII.GetString(bytes, 0, 16));
        using var copy = new TempDirectory("skillloop-backup-download");
        var path = copy.Combine("copy.db");
        await File.WriteAllBytesAsync(path, bytes);
        await using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM signals WHERE session_id = 'backup-api'";
        Assert.Equal(1L, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Only_admins_back_up_or_download()
    {
        using var ingest = server.CreateIngestClient();
        using var anonymous = server.CreateClientWith(null);

        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.PostAsync("/api/v1/backup", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/api/v1/backup", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/backup/skillloop-20261129T045301Z.db")).StatusCode);
    }

    [Fact]
    public async Task The_number_of_backups_kept_round_trips_through_the_settings_api()
    {
        using var admin = server.CreateAdminClient();
        var before = (await admin.GetFromJsonAsync<BackupRetention>("/api/v1/settings/backup"))!;
        try
        {
            var put = await admin.PutAsJsonAsync("/api/v1/settings/backup", new BackupRetention(3));

            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            Assert.Equal(new BackupRetention(3), await put.Content.ReadFromJsonAsync<BackupRetention>());
            Assert.Equal(3, (await admin.GetFromJsonAsync<JsonElement>("/api/v1/settings/backup")).GetProperty("keepNewest").GetInt32());
        }
        finally
        {
            (await admin.PutAsJsonAsync("/api/v1/settings/backup", before)).EnsureSuccessStatusCode();
        }
    }

    [Fact]
    public async Task A_negative_number_of_backups_kept_gets_400_problem_details_and_changes_nothing()
    {
        using var admin = server.CreateAdminClient();
        var before = await admin.GetStringAsync("/api/v1/settings/backup");

        var response = await admin.PutAsJsonAsync("/api/v1/settings/backup", new { keepNewest = -1 });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("keepNewest", out _));
        Assert.Equal(before, await admin.GetStringAsync("/api/v1/settings/backup"));
    }

    [Fact]
    public async Task Only_admins_change_the_number_of_backups_kept()
    {
        using var ingest = server.CreateIngestClient();
        using var anonymous = server.CreateClientWith(null);

        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.PutAsJsonAsync("/api/v1/settings/backup", new BackupRetention(1))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PutAsJsonAsync("/api/v1/settings/backup", new BackupRetention(1))).StatusCode);
    }

    [Theory]
    [InlineData("..%2Fskillloop.db")]
    [InlineData("..%2F..%2F..%2Fetc%2Fpasswd")]
    [InlineData("%2e%2e%2fskillloop.db")]
    [InlineData("skillloop.db")]
    [InlineData("keys")]
    [InlineData("skillloop-20261129T045301Z.db%00")]
    [InlineData("skillloop-20000101T000000Z.db")]
    public async Task Download_names_that_are_not_an_existing_backup_get_4xx_problem_details(string name)
    {
        using var admin = server.CreateAdminClient();

        var response = await admin.GetAsync($"/api/v1/backup/{name}");

        Assert.InRange((int)response.StatusCode, 400, 404);
        if (response.Content.Headers.ContentLength is not 0)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).TryGetProperty("status", out _));
        }
    }
}
