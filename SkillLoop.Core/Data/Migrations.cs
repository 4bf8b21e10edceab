using Dapper;
using Microsoft.Data.Sqlite;

namespace SkillLoop.Core.Data;

/// <summary>
/// Versioned schema migrations, applied in order at start inside one transaction each.
/// <c>PRAGMA user_version</c> records the last applied version. Never edit a shipped migration: add a new one.
/// </summary>
public static class Migrations
{
    public static readonly IReadOnlyList<(int Version, string Name, string Sql)> All =
    [
        (1, "initial schema", """
            CREATE TABLE settings (
                key   TEXT PRIMARY KEY,
                value TEXT NOT NULL
            );

            CREATE TABLE users (
                id              INTEGER PRIMARY KEY,
                name            TEXT NOT NULL UNIQUE COLLATE NOCASE,
                password_hash   TEXT NOT NULL,
                role            TEXT NOT NULL CHECK (role IN ('admin', 'reviewer')),
                failed_logins   INTEGER NOT NULL DEFAULT 0,
                locked_until    TEXT NULL,
                created_at      TEXT NOT NULL
            );

            -- Ingest tokens and admin API keys; only a SHA-256 of the secret is stored.
            CREATE TABLE api_keys (
                id          INTEGER PRIMARY KEY,
                kind        TEXT NOT NULL CHECK (kind IN ('ingest', 'admin')),
                name        TEXT NOT NULL,
                secret_hash TEXT NOT NULL UNIQUE,
                prefix      TEXT NOT NULL,
                created_at  TEXT NOT NULL,
                last_used_at TEXT NULL,
                revoked_at  TEXT NULL
            );

            CREATE TABLE patterns (
                id         TEXT PRIMARY KEY,
                language   TEXT NOT NULL,
                category   TEXT NOT NULL,
                regex      TEXT NOT NULL,
                enabled    INTEGER NOT NULL DEFAULT 1,
                builtin    INTEGER NOT NULL DEFAULT 0,
                updated_at TEXT NOT NULL
            );

            CREATE TABLE sessions (
                platform          TEXT NOT NULL,
                session_id        TEXT NOT NULL,
                cursor_offset     INTEGER NOT NULL DEFAULT 0,
                active_skill      TEXT NULL,
                active_skill_path TEXT NULL,
                user_hash         TEXT NOT NULL,
                product           TEXT NULL,
                created_at        TEXT NOT NULL,
                updated_at        TEXT NOT NULL,
                PRIMARY KEY (platform, session_id)
            );

            -- Human turns as read by the clients, kept so patterns can be tested against the past.
            CREATE TABLE turns (
                id          INTEGER PRIMARY KEY,
                platform    TEXT NOT NULL,
                session_id  TEXT NOT NULL,
                turn_id     TEXT NOT NULL,
                text        TEXT NOT NULL,
                user_hash   TEXT NOT NULL,
                occurred_at TEXT NULL,
                created_at  TEXT NOT NULL,
                UNIQUE (platform, session_id, turn_id)
            );

            CREATE TABLE signals (
                id           INTEGER PRIMARY KEY,
                platform     TEXT NOT NULL,
                session_id   TEXT NOT NULL,
                turn_id      TEXT NOT NULL,
                text         TEXT NOT NULL,
                pattern      TEXT NOT NULL,
                skill        TEXT NULL,
                skill_path   TEXT NULL,
                confidence   REAL NOT NULL,
                user_hash    TEXT NOT NULL,
                context_json TEXT NOT NULL DEFAULT '[]',
                occurred_at  TEXT NULL,
                created_at   TEXT NOT NULL,
                cluster_id   INTEGER NULL,
                UNIQUE (platform, session_id, turn_id)
            );
            CREATE INDEX ix_signals_created ON signals (id DESC);
            CREATE INDEX ix_signals_skill ON signals (skill);
            """),
        (2, "issues and extraction jobs", """
            -- The structured issue behind a signal; at most one per signal, written once.
            CREATE TABLE issues (
                signal_id         INTEGER PRIMARY KEY REFERENCES signals (id) ON DELETE CASCADE,
                skill             TEXT NULL,
                problem_pattern   TEXT NOT NULL,
                root_cause        TEXT NOT NULL,
                expected_behavior TEXT NOT NULL,
                evidence_quote    TEXT NOT NULL,
                severity          TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
                confidence        REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
                extracted_by      TEXT NOT NULL,
                created_at        TEXT NOT NULL
            );
            CREATE INDEX ix_issues_skill ON issues (skill);

            -- Durable extraction work: pending -> running -> done | failed. A job left running by a crash is
            -- set back to pending at start; attempts count every claim; last_error says why it failed.
            CREATE TABLE extraction_jobs (
                signal_id  INTEGER PRIMARY KEY REFERENCES signals (id) ON DELETE CASCADE,
                state      TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
                attempts   INTEGER NOT NULL DEFAULT 0,
                last_error TEXT NULL,
                extractor  TEXT NULL,
                not_before TEXT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            CREATE INDEX ix_extraction_jobs_state ON extraction_jobs (state, signal_id);
            """),
        (3, "vectors", """
            -- Source of truth for every embedding; sqlite-vec's vec0 tables (made at run time, per dimension) mirror it.
            CREATE TABLE vectors (
                kind       TEXT NOT NULL,
                id         INTEGER NOT NULL,
                partition  TEXT NOT NULL,
                dimensions INTEGER NOT NULL,
                vector     BLOB NOT NULL,
                PRIMARY KEY (kind, id)
            );
            CREATE INDEX ix_vectors_partition ON vectors (kind, partition);

            -- One cluster per underlying problem of one skill ('' = no skill). The centroid is the normalized
            -- centroid_sum (the sum of the members' unit vectors), mirrored into the 'clusters' vector index.
            CREATE TABLE clusters (
                id                   INTEGER PRIMARY KEY,
                skill                TEXT NOT NULL DEFAULT '',
                title                TEXT NOT NULL,
                state                TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'noise', 'merged')),
                merged_into          INTEGER NULL REFERENCES clusters (id),
                centroid_sum         BLOB NOT NULL,
                signal_count         INTEGER NOT NULL DEFAULT 0,
                user_count           INTEGER NOT NULL DEFAULT 0,
                first_seen           TEXT NOT NULL,
                last_seen            TEXT NOT NULL,
                threshold_reached_at TEXT NULL,
                created_at           TEXT NOT NULL,
                updated_at           TEXT NOT NULL
            );
            CREATE INDEX ix_clusters_skill ON clusters (skill, state);
            CREATE INDEX ix_signals_cluster ON signals (cluster_id);
            """),
        (4, "registries, skills, proposals and the audit log", """
            -- Git repositories that hold skills. The access token is kept encrypted (ASP.NET Core Data Protection).
            -- distinct_users overrides the global evidence threshold for this registry's skills; auto_merge_* set
            -- the bar above which a proposal is merged without review (off by default).
            CREATE TABLE registries (
                id                        INTEGER PRIMARY KEY,
                name                      TEXT NOT NULL UNIQUE COLLATE NOCASE,
                provider                  TEXT NOT NULL CHECK (provider IN ('github', 'gitlab', 'gitea', 'git')),
                url                       TEXT NOT NULL,
                branch                    TEXT NOT NULL,
                token_protected           TEXT NULL,
                api_url                   TEXT NULL,
                repository                TEXT NULL,
                path_filters              TEXT NOT NULL DEFAULT '',
                distinct_users            INTEGER NULL,
                auto_merge                INTEGER NOT NULL DEFAULT 0,
                auto_merge_min_confidence REAL NOT NULL DEFAULT 0.9,
                auto_merge_min_users      INTEGER NOT NULL DEFAULT 5,
                last_scan_at              TEXT NULL,
                last_scan_commit          TEXT NULL,
                last_scan_error           TEXT NULL,
                created_at                TEXT NOT NULL,
                updated_at                TEXT NOT NULL
            );

            -- What a scan found. qualified_name is how agents name plugin items ("plugin:skill").
            CREATE TABLE skills (
                id             INTEGER PRIMARY KEY,
                registry_id    INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
                kind           TEXT NOT NULL,
                name           TEXT NOT NULL,
                qualified_name TEXT NULL,
                description    TEXT NULL,
                path           TEXT NOT NULL,
                plugin         TEXT NULL,
                updated_at     TEXT NOT NULL,
                UNIQUE (registry_id, path)
            );
            CREATE INDEX ix_skills_name ON skills (name COLLATE NOCASE);
            CREATE INDEX ix_skills_qualified ON skills (qualified_name COLLATE NOCASE);

            -- An admin's mapping of a skill name seen in signals to a registered skill (wins over name matching).
            CREATE TABLE skill_mappings (
                signal_skill TEXT PRIMARY KEY COLLATE NOCASE,
                skill_id     INTEGER NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
                created_at   TEXT NOT NULL
            );

            -- One proposal per cluster, ever. State: drafting -> review -> approved -> open -> merged,
            -- or rejected / closed. Work waits on not_before after a failure; last_error says why.
            CREATE TABLE proposals (
                id                 INTEGER PRIMARY KEY,
                cluster_id         INTEGER NOT NULL UNIQUE REFERENCES clusters (id),
                skill              TEXT NOT NULL DEFAULT '',
                registry_id        INTEGER NULL REFERENCES registries (id) ON DELETE SET NULL,
                skill_path         TEXT NULL,
                base_commit        TEXT NULL,
                original_text      TEXT NULL,
                proposed_text      TEXT NULL,
                edited             INTEGER NOT NULL DEFAULT 0,
                generated_by       TEXT NULL,
                title              TEXT NOT NULL,
                summary            TEXT NULL,
                body               TEXT NULL,
                confidence         REAL NOT NULL DEFAULT 0,
                evidence_signals   INTEGER NOT NULL DEFAULT 0,
                evidence_users     INTEGER NOT NULL DEFAULT 0,
                state              TEXT NOT NULL CHECK (state IN ('drafting', 'review', 'approved', 'open', 'merged', 'rejected', 'closed')),
                auto_merge         INTEGER NOT NULL DEFAULT 0,
                branch             TEXT NULL,
                commit_sha         TEXT NULL,
                pushed_sha         TEXT NULL,
                pr_number          INTEGER NULL,
                pr_url             TEXT NULL,
                pr_synced_signals  INTEGER NOT NULL DEFAULT 0,
                review_comment     TEXT NULL,
                reviewed_by        TEXT NULL,
                reviewed_at        TEXT NULL,
                attempts           INTEGER NOT NULL DEFAULT 0,
                last_error         TEXT NULL,
                not_before         TEXT NULL,
                created_at         TEXT NOT NULL,
                updated_at         TEXT NOT NULL
            );
            CREATE INDEX ix_proposals_state ON proposals (state);

            CREATE TABLE audit_log (
                id          INTEGER PRIMARY KEY,
                at          TEXT NOT NULL,
                actor       TEXT NOT NULL,
                action      TEXT NOT NULL,
                proposal_id INTEGER NULL,
                registry_id INTEGER NULL,
                detail      TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX ix_audit_proposal ON audit_log (proposal_id);
            """),
        (5, "proposals remember a branch head they could not follow", """
            -- The registry branch head at which the skill file had changed under an open proposal (logged once).
            ALTER TABLE proposals ADD COLUMN stale_base TEXT NULL;
            """),
        (6, "distinct users of a cluster by index", """
            -- A join asks "is this user in the cluster already?": (cluster_id, user_hash) answers it from the index.
            CREATE INDEX ix_signals_cluster_user ON signals (cluster_id, user_hash);
            DROP INDEX ix_signals_cluster;
            """),
        (7, "an admin's split stands against consolidation", """
            -- A signal an admin moved out of its cluster: consolidation never moves it again.
            ALTER TABLE signals ADD COLUMN cluster_pinned INTEGER NOT NULL DEFAULT 0;
            -- Two clusters an admin separated (by moving a signal out): consolidation never merges them or trades
            -- members between them. Stored both ways round; a merge carries the pairs over to the surviving cluster.
            CREATE TABLE cluster_separations (
                cluster_id INTEGER NOT NULL REFERENCES clusters (id),
                other_id   INTEGER NOT NULL REFERENCES clusters (id),
                PRIMARY KEY (cluster_id, other_id)
            ) WITHOUT ROWID;
            """),
    ];

    public static int Latest => All[^1].Version;

    /// <summary>Applies every migration newer than the database; returns how many were applied.</summary>
    public static async Task<int> ApplyAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        // WAL is a property of the file: set once, it stays.
        await connection.ExecuteAsync(new CommandDefinition("PRAGMA journal_mode = WAL;", cancellationToken: cancellationToken));
        var current = await connection.ExecuteScalarAsync<int>(new CommandDefinition("PRAGMA user_version;", cancellationToken: cancellationToken));
        if (current > Latest)
        {
            throw new InvalidOperationException(
                $"The database is at schema version {current}, newer than this server knows ({Latest}). Use a newer SkillLoop or restore a backup.");
        }

        var applied = 0;
        foreach (var (version, _, sql) in All.Where(m => m.Version > current))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(sql, transaction: transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition($"PRAGMA user_version = {version};", transaction: transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            applied++;
        }

        return applied;
    }
}
