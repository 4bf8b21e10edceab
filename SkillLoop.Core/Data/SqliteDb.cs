using System.Data;
using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace SkillLoop.Core.Data;

/// <summary>
/// Opens connections to the server's SQLite file (WAL). Each operation opens its own pooled connection, except the hot
/// writers, which share one inside the write turn (<see cref="EnterWriteAsync"/>).
/// </summary>
public sealed class SqliteDb : IDisposable
{
    private readonly string _connectionString;
    private readonly string _writerConnectionString;

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
        // Its own, never returned to the pool: it lives as long as this object.
        _writerConnectionString = new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString();
    }

    public string Path { get; }

    // SQLite has one writer at a time. Writers that queue here wait for each other without spinning in SQLite's busy
    // handler, whose sleeps (up to 100 ms each) are what made ingest's p99 latency under concurrent writers.
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    // The hot writers share one connection, used only inside the write turn. In WAL mode a connection drops its whole
    // page cache whenever another connection has written since its last transaction, so with a pooled connection per
    // write every ingest re-read the B-tree pages it needs (system calls and copies: a third of ingest's CPU time).
    // Guarded by _writeGate.
    private SqliteConnection? _writer;
    private bool _disposed;
    private int _writersWaiting;

    /// <summary>Writers queued for the write turn (the gate hands it over in arrival order); tests order writers by it.</summary>
    internal int WritersWaiting => Volatile.Read(ref _writersWaiting);

    private long _writeTurnsEnded;

    /// <summary>Write turns ended so far: the <see cref="WalCheckpointer"/> checkpoints only after new ones.</summary>
    internal long WriteTurnsEnded => Interlocked.Read(ref _writeTurnsEnded);

    /// <summary>
    /// Takes the process's write turn; write through <see cref="WriteTurn.Connection"/> and dispose the turn after the
    /// write transaction commits. The hot writers (ingest, extraction, clustering) take it; others still write safely,
    /// through SQLite's own lock and busy timeout. Not re-entrant.
    /// </summary>
    public async Task<WriteTurn> EnterWriteAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _writersWaiting);
        try
        {
            await _writeGate.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _writersWaiting);
        }

        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer ??= await OpenWriterAsync(cancellationToken);
            return new WriteTurn(this, _writer);
        }
        catch
        {
            _writeGate.Release();
            throw;
        }
    }

    /// <summary>The write turn and the connection that goes with it (vec0 loaded when available).</summary>
    public sealed class WriteTurn : IDisposable
    {
        private readonly SqliteDb _db;
        private int _released;

        internal WriteTurn(SqliteDb db, SqliteConnection connection) => (_db, Connection) = (db, connection);

        public SqliteConnection Connection { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
            {
                return;
            }

            // A holder that failed half-way may leave the connection broken or inside a transaction: start afresh
            // rather than hand that to the next writer (closing rolls the transaction back).
            if (Connection.State != ConnectionState.Open || SQLitePCL.raw.sqlite3_get_autocommit(Connection.Handle) == 0)
            {
                Connection.Dispose();
                _db._writer = null;
            }

            Interlocked.Increment(ref _db._writeTurnsEnded);
            _db._writeGate.Release();
        }
    }

    /// <summary>Closes the writers' connection (the pooled ones close with the pool).</summary>
    public void Dispose()
    {
        _writeGate.Wait();
        try
        {
            _disposed = true;
            _writer?.Dispose();
            _writer = null;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public SqliteVec Vec { get; }

    public Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => OpenAsync(_connectionString, cancellationToken);

    /// <summary>A connection with the vec0 extension loaded, when it is available.</summary>
    public Task<SqliteConnection> OpenWithVectorsAsync(CancellationToken cancellationToken) => OpenWithVectorsAsync(_connectionString, cancellationToken);

    /// <summary>
    /// The hot writers' connection. Its temporary files are kept in memory: group commit gives every queued post its own
    /// savepoint, and SQLite keeps what a savepoint may have to undo in a statement journal that spills to a temporary
    /// file past 64 KB: one <c>pwrite</c> of each page it holds plus one of its number, about three times the writes of
    /// the WAL itself (strace of <c>-- ingest-write</c>). A transaction on this connection is one write turn (at most
    /// 16 small posts or 16 rows of a large one), so what it keeps in memory stays small. Migrations and maintenance
    /// open their own connections and keep SQLite's default.
    /// It never checkpoints the WAL itself: SQLite's automatic checkpoint runs inside the commit that takes the WAL past
    /// 1,000 pages, copying them into the database file and syncing both files while the write turn is still held, so
    /// every few megabytes one post, and every writer queued behind it, waited for the disk (a flood of large batches:
    /// another client's p95 14–16 ms, 9.4–9.7 ms without). The <see cref="WalCheckpointer"/> does it on its own
    /// connection, which does not hold the write lock.
    /// </summary>
    private async Task<SqliteConnection> OpenWriterAsync(CancellationToken cancellationToken)
    {
        var connection = await OpenWithVectorsAsync(_writerConnectionString, cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 0";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    private static async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    private async Task<SqliteConnection> OpenWithVectorsAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(connectionString, cancellationToken);
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
