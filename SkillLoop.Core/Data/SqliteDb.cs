using System.Data;
using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace SkillLoop.Core.Data;

/// <summary>Opens connections to the server's SQLite file (WAL). Each operation opens its own pooled connection.</summary>
public sealed class SqliteDb
{
    private readonly string _connectionString;

    static SqliteDb()
    {
        // Dapper maps DateTimeOffset itself unless told otherwise; SQLite keeps it as ISO-8601 text.
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset));
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset?));
        SqlMapper.AddTypeHandler(new DateTimeOffsetHandler());
    }

    public SqliteDb(IOptions<SkillLoopOptions> options, SqliteVec vec)
    {
        Vec = vec;
        Path = options.Value.DatabasePath;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    // SQLite has one writer at a time. Writers that queue here wait for each other without spinning in SQLite's busy
    // handler, whose sleeps (up to 100 ms each) are what made ingest's p99 latency under concurrent writers.
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    /// <summary>
    /// Takes the process's write turn; dispose it after the write transaction commits. The hot writers (ingest,
    /// extraction, clustering) take it; others still write safely, through SQLite's own lock and busy timeout.
    /// Not re-entrant.
    /// </summary>
    public async Task<IDisposable> EnterWriteAsync(CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken);
        return new WriteTurn(_writeGate);
    }

    private sealed class WriteTurn(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }

    public SqliteVec Vec { get; }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    /// <summary>A connection with the vec0 extension loaded, when it is available.</summary>
    public async Task<SqliteConnection> OpenWithVectorsAsync(CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken);
        Vec.TryLoadInto(connection);
        // vec0's KNN scans every vector chunk of a partition. Through the page cache each chunk is copied first;
        // memory-mapped, it is read in place: 100k x 384-d goes from ~94 to ~42 ms. The pages are the OS's file
        // cache (shared, reclaimable), not heap.
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA mmap_size = 1073741824";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    private sealed class DateTimeOffsetHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTimeOffset d => d,
            string s => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
            long ms => DateTimeOffset.FromUnixTimeMilliseconds(ms),
            _ => throw new DataException($"Cannot read {value.GetType().Name} as a DateTimeOffset."),
        };

        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value)
        {
            parameter.DbType = DbType.String;
            parameter.Value = value.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
        }
    }
}
