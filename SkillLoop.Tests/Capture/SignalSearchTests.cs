using Dapper;
using Microsoft.Data.Sqlite;
using SkillLoop.Core.Capture;
using SkillLoop.Core.Data;
using SkillLoop.Tests.Fakes;
using SkillLoop.Tests.Support;

namespace SkillLoop.Tests.Capture;

/// <summary>
/// Issue #20, a year of data: Live signals' "Text contains" of 3+ characters is answered by the trigram index of
/// migration 16 (a search that matches nothing reads no signal), with exactly the rows the plain LIKE returned.
/// </summary>
public sealed class SignalSearchTests : IAsyncLifetime
{
    private static readonly string[] Texts =
    [
        "No, the TOTALS row goes last.",
        "totals row at the top again",
        "Use 100% width for the table",
        "rename totals_row to total_row",
        "totalsXrow is not a name",
        "不对，合计行应该放在最后",
        "表格的合计行放错了位置",
        "Él dijo: CAFÉ, not café",
        "a \"quoted\" AND OR NOT word",
        "back\\slash path C:\\tmp",
        "ab",
    ];

    private TestCore _core = null!;

    public async Task InitializeAsync()
    {
        _core = await TestCore.StartAsync();
        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        for (var i = 0; i < Texts.Length; i++)
        {
            await InsertAsync(connection, i + 1, Texts[i]);
        }
    }

    public async Task DisposeAsync() => await _core.DisposeAsync();

    private static Task InsertAsync(SqliteConnection connection, long id, string text) => connection.ExecuteAsync(
        """
        INSERT INTO signals (id, platform, session_id, turn_id, text, pattern, skill, confidence, user_hash, created_at)
        VALUES (@id, 'claude', 's', @turn, @text, 'en-reject-wrong', 'pdf-report', 0.9, 'u1', '2026-03-01')
        """, new { id, turn = $"t{id}", text });

    private async Task<IReadOnlyList<long>> SearchAsync(string text) =>
        (await _core.Get<SignalStore>().QueryAsync(new SignalQuery(TextContains: text, Limit: 500), CancellationToken.None)).Select(s => s.Id).ToArray();

    /// <summary>The search as it was before the index: LIKE over every row, wildcards escaped.</summary>
    private async Task<IReadOnlyList<long>> LikeAsync(string text)
    {
        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        var like = text.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_");
        return (await connection.QueryAsync<long>(@"SELECT id FROM signals WHERE text LIKE '%' || @like || '%' ESCAPE '\' ORDER BY id DESC", new { like })).ToArray();
    }

    public static TheoryData<string> Searches =>
    [
        "totals", "TOTALS ROW", "Totals Row", "100%", "0% w", "totals_row", "s_r", "合计行", "合计", "放错了", "CAFÉ", "café", "ÉL D",
        "\"quoted\"", "AND OR NOT", "\\slash", "C:\\tmp", "ab", "a", "nothing like this", "*", "row*", "NEAR(a b)",
    ];

    [Theory]
    [MemberData(nameof(Searches))]
    public async Task A_text_search_returns_exactly_what_the_plain_like_returned(string text)
    {
        Assert.Equal(await LikeAsync(text), await SearchAsync(text));
    }

    [Fact]
    public async Task Searches_find_what_they_should_so_the_comparison_with_like_is_not_empty_on_both_sides()
    {
        Assert.Equal([2L, 1L], await SearchAsync("TOTALS ROW"));
        Assert.Equal([7L, 6L], await SearchAsync("合计行"));
        Assert.Equal([4L], await SearchAsync("totals_row")); // the underscore is literal: "totalsXrow" is not found
        Assert.Equal([3L], await SearchAsync("100%"));
        Assert.Equal([8L], await SearchAsync("CAFÉ")); // LIKE folds ASCII only: "café" is another word, as before
        Assert.Empty(await SearchAsync("nothing like this"));
    }

    private async Task<long> PendingAsync()
    {
        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM signals_fts_pending");
    }

    private async Task AssertIndexIntactAsync()
    {
        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        // Checked against the content table: every indexed row's trigrams, and no row the index should not hold.
        Assert.Equal("ok", await connection.ExecuteScalarAsync<string>("INSERT INTO signals_fts (signals_fts, rank) VALUES ('integrity-check', 1); SELECT 'ok'"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_index_follows_inserted_edited_and_deleted_signals_whether_indexed_yet_or_still_queued(bool indexedFirst)
    {
        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        await InsertAsync(connection, 100, "Put the legend under the chart");
        Assert.Equal([100L], await SearchAsync("legend"));
        if (indexedFirst)
        {
            Assert.Equal(Texts.Length + 1, await _core.Get<SignalSearchIndexer>().IndexPendingAsync(CancellationToken.None));
            Assert.Equal(0, await PendingAsync());
        }

        await connection.ExecuteAsync("UPDATE signals SET text = 'Put the caption under the chart' WHERE id = 100");
        Assert.Empty(await SearchAsync("legend"));
        Assert.Equal([100L], await SearchAsync("caption"));

        await connection.ExecuteAsync("DELETE FROM signals WHERE id = 100");
        Assert.Empty(await SearchAsync("caption"));
        await _core.Get<SignalSearchIndexer>().IndexPendingAsync(CancellationToken.None);
        await AssertIndexIntactAsync();
        Assert.Empty(await SearchAsync("caption"));
        Assert.Equal([2L, 1L], await SearchAsync("TOTALS ROW"));
    }

    [Fact]
    public async Task New_signals_are_searchable_at_once_and_indexed_in_bulk_later_with_the_same_results()
    {
        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        var rows = SignalSearchIndexer.RowsPerTurn + 500; // more than one write turn of the indexer
        for (var id = 1_000; id < 1_000 + rows; id++)
        {
            await InsertAsync(connection, id, id % 7 == 0 ? $"the legend overlaps the chart ({id})" : $"wrong colour ({id})");
        }

        var before = await SearchAsync("legend overlaps");
        Assert.Equal(rows + Texts.Length, await PendingAsync());

        Assert.Equal(rows + Texts.Length, await _core.Get<SignalSearchIndexer>().IndexPendingAsync(CancellationToken.None));

        Assert.Equal(0, await PendingAsync());
        Assert.Equal(before, await SearchAsync("legend overlaps"));
        Assert.Equal(await LikeAsync("legend overlaps"), before);
        Assert.Equal(Enumerable.Range(1_000, rows).Count(id => id % 7 == 0), before.Count);
        await AssertIndexIntactAsync();
    }

    [Fact]
    public async Task Long_signals_are_indexed_in_several_short_write_turns()
    {
        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        var indexer = _core.Get<SignalSearchIndexer>();
        await indexer.IndexPendingAsync(CancellationToken.None);
        const int rows = 25;
        const int length = 20_000; // the longest text a signal keeps
        for (var id = 2_000; id < 2_000 + rows; id++)
        {
            await InsertAsync(connection, id, string.Concat(Enumerable.Repeat($"the legend overlaps the chart {id}; ", length / 36)).PadRight(length, '.'));
        }

        var turns = indexer.Turns;
        Assert.Equal(rows, await indexer.IndexPendingAsync(CancellationToken.None));

        // CharactersPerTurn / length rows a turn at most: a turn never holds more than CharactersPerTurn of text.
        Assert.Equal((long)Math.Ceiling(rows / (double)(SignalSearchIndexer.CharactersPerTurn / length)), indexer.Turns - turns);
        Assert.Equal(rows, (await SearchAsync("legend overlaps")).Count);
        await AssertIndexIntactAsync();
    }

    [Fact]
    public async Task While_a_client_is_posting_the_indexer_takes_one_write_turn_and_waits_before_the_next()
    {
        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        await _core.Get<SignalSearchIndexer>().IndexPendingAsync(CancellationToken.None);
        const int length = 20_000;
        for (var id = 3_000; id < 3_008; id++)
        {
            await InsertAsync(connection, id, $"the legend overlaps the chart {id} ".PadRight(length, '.'));
        }

        var clock = new SteppedTimeProvider(new DateTimeOffset(2026, 12, 2, 9, 0, 0, TimeSpan.Zero));
        var ingest = new IngestActivity(clock);
        var indexer = new SignalSearchIndexer(_core.Get<SqliteDb>(), _core.Get<DatabaseState>(), _core.Get<SignalFeed>(), ingest, clock,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<SignalSearchIndexer>.Instance);
        var post = ingest.BeginPost(); // a large batch on its way in

        var indexing = indexer.IndexPendingAsync(CancellationToken.None);
        for (var waited = 0; indexer.Turns < 1; waited++)
        {
            Assert.True(waited < 1_000, "the first write turn did not happen within 10 s");
            await Task.Delay(10);
        }

        await Task.Delay(200);
        Assert.Equal(1, indexer.Turns); // the clock has not moved: the post is still in flight, the indexer still waits
        Assert.False(indexing.IsCompleted);

        post.Dispose();
        for (var waited = 0; !indexing.IsCompleted; waited++)
        {
            Assert.True(waited < 1_000, "the indexer did not finish within 10 s of the post's end");
            clock.Advance(IngestActivity.Quiet);
            await Task.Delay(10);
        }

        Assert.Equal(8, await indexing);
        Assert.Equal(8 / (SignalSearchIndexer.CharactersPerTurn / length), indexer.Turns); // 2 rows a turn
        Assert.Equal(0, await PendingAsync());
        await AssertIndexIntactAsync();
    }

    [Fact]
    public async Task The_server_indexes_what_ingest_queued_by_itself()
    {
        var indexer = _core.Get<SignalSearchIndexer>();
        await indexer.StartAsync(CancellationToken.None);
        try
        {
            await _core.Get<SignalIngestor>().IngestAsync(SignalIngestorTests.Batch("indexed", 0, 10, corrections: "no, the legend goes under the chart"), CancellationToken.None);
            for (var waited = 0; await PendingAsync() > 0; waited++)
            {
                Assert.True(waited < 1_000, "nothing indexed the queued signals within 10 s");
                await Task.Delay(10);
            }
        }
        finally
        {
            await indexer.StopAsync(CancellationToken.None);
        }

        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM signals_fts WHERE signals_fts MATCH '\"legend\"'"));
        await AssertIndexIntactAsync();
    }

    [Fact]
    public async Task Migration_16_indexes_the_signals_stored_before_it()
    {
        using var directory = new TempDirectory();
        await using var connection = await OldSchema.OpenAtAsync(directory, 15);

        await InsertAsync(connection, 1, "不对，合计行应该放在最后");
        await InsertAsync(connection, 2, "No, the totals row goes last");

        Assert.Equal(Migrations.Latest - 15, await Migrations.ApplyAsync(connection, CancellationToken.None));

        Assert.Equal([1L], await connection.QueryAsync<long>("SELECT rowid FROM signals_fts WHERE signals_fts MATCH '\"合计行\"'"));
        Assert.Equal([2L], await connection.QueryAsync<long>("SELECT rowid FROM signals_fts WHERE signals_fts MATCH '\"TOTALS\"'"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM signals_fts_pending"));
    }

    [Fact]
    public async Task Migration_18_keeps_what_was_indexed_and_queues_what_comes_after()
    {
        using var directory = new TempDirectory();
        await using var connection = await OldSchema.OpenAtAsync(directory, 17);

        await InsertAsync(connection, 1, "No, the totals row goes last"); // indexed by migration 16's trigger

        Assert.Equal(Migrations.Latest - 17, await Migrations.ApplyAsync(connection, CancellationToken.None));
        await InsertAsync(connection, 2, "the totals row is missing");
        await connection.ExecuteAsync("DELETE FROM signals WHERE id = 1");

        Assert.Equal([2L], await connection.QueryAsync<long>("SELECT id FROM signals_fts_pending"));
        Assert.Empty(await connection.QueryAsync<long>("SELECT rowid FROM signals_fts WHERE signals_fts MATCH '\"totals\"'"));
    }

    [Fact]
    public async Task A_search_of_three_or_more_characters_reads_the_trigram_index_and_a_shorter_one_keeps_the_bounded_scan()
    {
        await using var connection = await _core.Get<SqliteDb>().OpenAsync(CancellationToken.None);
        Assert.True(string.CompareOrdinal(await connection.ExecuteScalarAsync<string>("SELECT sqlite_version()"), "3.34.0") >= 0); // trigram since 3.34

        async Task<string> PlanAsync(SignalQuery query) => string.Join("\n",
            (await connection.QueryAsync("EXPLAIN QUERY PLAN " + SignalStore.Sql(query), SignalStore.Parameters(query))).Select(row => (string)row.detail));

        var indexed = await PlanAsync(new SignalQuery(TextContains: "nothing like this", Limit: 50));
        Assert.Contains("VIRTUAL TABLE INDEX", indexed);
        Assert.Contains("signals_fts", indexed);
        Assert.Matches(@"SEARCH signals USING INTEGER PRIMARY KEY \(rowid=\?\)", indexed);
        Assert.DoesNotMatch(@"SCAN signals\b(?!_)", indexed); // never the whole table

        var paged = await PlanAsync(new SignalQuery(TextContains: "合计行", BeforeId: 5, Skill: "pdf-report", Limit: 50));
        Assert.Contains("signals_fts", paged);

        var shortSearch = await PlanAsync(new SignalQuery(TextContains: "ab", Limit: 50));
        Assert.DoesNotContain("signals_fts", shortSearch);
    }
}
