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
        (7, "users carry a security stamp", """
            -- Changes with the user's role or password; a session cookie signed in with another stamp is refused.
            ALTER TABLE users ADD COLUMN security_stamp TEXT NOT NULL DEFAULT '';
            UPDATE users SET security_stamp = lower(hex(randomblob(16)));
            """),
        (8, "signals and extraction jobs remember the credential that sent them", """
            -- The api_keys row of the ingest token (0: unknown, e.g. rows from before). Extraction and clustering take
            -- work round-robin across credentials, so one token's flood cannot starve everybody else.
            ALTER TABLE signals ADD COLUMN credential_id INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE extraction_jobs ADD COLUMN credential_id INTEGER NOT NULL DEFAULT 0;
            CREATE INDEX ix_extraction_jobs_fair ON extraction_jobs (credential_id, signal_id) WHERE state = 'pending';
            """),
        (9, "trusted evidence, proposal versions, warnings and rejections that can return", """
            -- Ingest tokens are personal (one user, whatever identity the client reports) unless shared. Every token
            -- made before this version was handed around as the team's token, so existing ones become shared.
            ALTER TABLE api_keys ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
            UPDATE api_keys SET shared = 1 WHERE kind = 'ingest';

            -- Whether a signal's user is only the identity the client reported (a shared token; credential_id, from
            -- version 8, names the token). Signals stored before this version came through shared tokens: self-declared.
            ALTER TABLE signals ADD COLUMN self_declared INTEGER NOT NULL DEFAULT 1;

            -- A proposal's version changes with anything a reviewer reads: approve and reject must name it.
            -- The trigger makes that hold for every writer, present and future.
            ALTER TABLE proposals ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
            ALTER TABLE proposals ADD COLUMN warnings_json TEXT NOT NULL DEFAULT '[]';
            ALTER TABLE proposals ADD COLUMN provenance_json TEXT NOT NULL DEFAULT '[]';
            ALTER TABLE proposals ADD COLUMN evidence_json TEXT NULL;
            ALTER TABLE proposals ADD COLUMN verified_users INTEGER NOT NULL DEFAULT 0;
            CREATE TRIGGER tr_proposals_version AFTER UPDATE ON proposals
            WHEN old.proposed_text IS NOT new.proposed_text OR old.original_text IS NOT new.original_text
              OR old.body IS NOT new.body OR old.summary IS NOT new.summary OR old.title IS NOT new.title
              OR old.evidence_signals IS NOT new.evidence_signals OR old.evidence_users IS NOT new.evidence_users
              OR old.verified_users IS NOT new.verified_users OR old.warnings_json IS NOT new.warnings_json
              OR old.provenance_json IS NOT new.provenance_json OR old.evidence_json IS NOT new.evidence_json
              OR old.confidence IS NOT new.confidence OR old.state IS NOT new.state
            BEGIN
                UPDATE proposals SET version = old.version + 1 WHERE id = new.id;
            END;

            -- A rejection silences its cluster until enough users not counted before it report the problem again;
            -- the proposal then returns to review with the last rejection shown.
            CREATE TABLE proposal_rejected_users (
                proposal_id INTEGER NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
                user_hash   TEXT NOT NULL,
                PRIMARY KEY (proposal_id, user_hash)
            );
            ALTER TABLE proposals ADD COLUMN rejected_comment TEXT NULL;
            ALTER TABLE proposals ADD COLUMN rejected_by TEXT NULL;
            ALTER TABLE proposals ADD COLUMN rejected_at TEXT NULL;
            -- Proposals rejected before this version: everyone who had reported the problem by now counts as seen.
            INSERT OR IGNORE INTO proposal_rejected_users (proposal_id, user_hash)
            SELECT p.id, s.user_hash FROM proposals p JOIN signals s ON s.cluster_id = p.cluster_id WHERE p.state = 'rejected';
            UPDATE proposals SET rejected_comment = review_comment, rejected_by = reviewed_by, rejected_at = reviewed_at WHERE state = 'rejected';
            """),
        (10, "learned detector: score, version and verdict per signal, forced patterns, triage labels", """
            -- Which detector produced a signal and how sure it was (null from clients older than the learned detector).
            ALTER TABLE signals ADD COLUMN score REAL NULL;
            ALTER TABLE signals ADD COLUMN detector_version TEXT NULL;
            -- A second opinion: 'confirmed' or 'rejected' (not a correction), and who decided ('model:<name>', 'admin:<name>').
            ALTER TABLE signals ADD COLUMN verdict TEXT NULL CHECK (verdict IN ('confirmed', 'rejected'));
            ALTER TABLE signals ADD COLUMN verdict_by TEXT NULL;
            ALTER TABLE signals ADD COLUMN verdict_at TEXT NULL;
            -- An admin override of the classifier for turns a pattern matches: 'include' or 'exclude'.
            ALTER TABLE patterns ADD COLUMN force TEXT NULL CHECK (force IN ('include', 'exclude'));

            -- Triage labels for retraining the detector: 'noise' (a signal that is not a correction) and 'correction'
            -- (a human turn the detector missed). One label per turn; the latest decision wins.
            CREATE TABLE detection_labels (
                id          INTEGER PRIMARY KEY,
                platform    TEXT NOT NULL,
                session_id  TEXT NOT NULL,
                turn_id     TEXT NOT NULL,
                label       TEXT NOT NULL CHECK (label IN ('noise', 'correction')),
                text        TEXT NOT NULL,
                previous    TEXT NOT NULL DEFAULT '',
                signal_id   INTEGER NULL REFERENCES signals (id) ON DELETE SET NULL,
                decided_by  TEXT NOT NULL,
                created_at  TEXT NOT NULL,
                UNIQUE (platform, session_id, turn_id)
            );
            """),
        (11, "an admin's split stands against consolidation", """
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
        (12, "the fix after the push: forge state, merge commit, rounds, the open cap, webhooks", """
            -- When the fix merged and the registry commit that carries it (the skill's new version from then on).
            ALTER TABLE proposals ADD COLUMN merged_at TEXT NULL;
            ALTER TABLE proposals ADD COLUMN merged_commit TEXT NULL;
            -- Pull request state is polled: next poll at pr_poll_at; pr_poll_idle counts polls in a row that saw
            -- nothing new (the wait doubles with each, so quiet PRs cost little).
            ALTER TABLE proposals ADD COLUMN pr_poll_at TEXT NULL;
            ALTER TABLE proposals ADD COLUMN pr_poll_idle INTEGER NOT NULL DEFAULT 0;
            -- Closed without merge on the forge: silent, like a rejection, until new users report the problem.
            ALTER TABLE proposals ADD COLUMN silenced INTEGER NOT NULL DEFAULT 0;
            -- A merged fix that did not hold starts the next round of the same proposal; earlier rounds are kept.
            ALTER TABLE proposals ADD COLUMN round INTEGER NOT NULL DEFAULT 1;
            ALTER TABLE proposals ADD COLUMN history_json TEXT NOT NULL DEFAULT '[]';
            -- Approved but waiting: the registry has as many open SkillLoop pull requests as it allows.
            ALTER TABLE proposals ADD COLUMN queued_at TEXT NULL;
            -- A reviewer asked to rebuild the branch on the registry branch's head.
            ALTER TABLE proposals ADD COLUMN rebase_requested INTEGER NOT NULL DEFAULT 0;
            -- The cluster's merged fix did not hold (shown as state 'reopened' while the cluster is open).
            ALTER TABLE clusters ADD COLUMN reopened_at TEXT NULL;
            ALTER TABLE registries ADD COLUMN max_open INTEGER NOT NULL DEFAULT 5;
            ALTER TABLE registries ADD COLUMN webhook_secret_protected TEXT NULL;
            CREATE INDEX ix_proposals_registry_state ON proposals (registry_id, state);
            """),
        (13, "replay before review: would the proposed text have prevented each correction?", """
            -- One row per proposal: which version and texts (SHA-256 of the current and the proposed text) the replay
            -- covers, and how far it got: 'no-model' (none configured: nothing to score), 'off', 'running' or 'done'.
            CREATE TABLE proposal_replay_runs (
                proposal_id   INTEGER PRIMARY KEY REFERENCES proposals (id) ON DELETE CASCADE,
                version       INTEGER NOT NULL,
                original_hash TEXT NOT NULL,
                proposed_hash TEXT NOT NULL,
                status        TEXT NOT NULL CHECK (status IN ('no-model', 'off', 'running', 'done')),
                model         TEXT NULL,
                corrections   INTEGER NOT NULL,
                selected      INTEGER NOT NULL,
                updated_at    TEXT NOT NULL
            );

            -- The model's verdict per correction and text pair: against the current and the proposed text. Keyed by the
            -- texts, so a version that changes neither (new evidence, a state change) reuses them, and an edit of the
            -- proposed text replays only that side. A failure is kept with its reason and blocks nothing.
            CREATE TABLE proposal_replay_results (
                proposal_id         INTEGER NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
                original_hash       TEXT NOT NULL,
                proposed_hash       TEXT NOT NULL,
                signal_id           INTEGER NOT NULL REFERENCES signals (id) ON DELETE CASCADE,
                version             INTEGER NOT NULL,
                model               TEXT NOT NULL,
                state               TEXT NOT NULL CHECK (state IN ('done', 'failed')),
                current_prevented   INTEGER NULL,
                current_confidence  REAL NULL,
                current_reason      TEXT NULL,
                proposed_prevented  INTEGER NULL,
                proposed_confidence REAL NULL,
                proposed_reason     TEXT NULL,
                error               TEXT NULL,
                elapsed_ms          REAL NOT NULL,
                tokens              INTEGER NULL,
                created_at          TEXT NOT NULL,
                PRIMARY KEY (proposal_id, original_hash, proposed_hash, signal_id)
            );
            CREATE INDEX ix_proposal_replay_results_signal ON proposal_replay_results (signal_id);
            """),
        (14, "indexes for the dashboard's filters, sorts and figures on a year of data", """
            -- Signal rows are large (text, context): each figure below reads an index, never the table.
            -- Overview: signals per day and top skills of the last days. (ix_signals_created was on id, the rowid itself:
            -- it served nothing and cost every insert.)
            DROP INDEX ix_signals_created;
            CREATE INDEX ix_signals_created_at ON signals (created_at, skill, user_hash);
            -- Skills: corrections per skill, this week and last, and the unmatched skill names with an example path.
            CREATE INDEX ix_signals_skill_stats ON signals (skill, created_at, skill_path);
            -- Patterns: signals and noise per pattern (aggregated per cluster first).
            CREATE INDEX ix_signals_pattern ON signals (pattern, cluster_id);
            -- Live signals filtered by user (a hash prefix); newest first within one cluster (cluster detail).
            CREATE INDEX ix_signals_user ON signals (user_hash);
            CREATE INDEX ix_signals_cluster_id ON signals (cluster_id, id);
            -- Clusters: by state in rank order (distinct users, then latest), and in rank order across states.
            CREATE INDEX ix_clusters_rank ON clusters (state, user_count DESC, last_seen DESC, signal_count);
            CREATE INDEX ix_clusters_rank_all ON clusters (user_count DESC, last_seen DESC);
            -- Skills: sessions (uses) per active skill.
            CREATE INDEX ix_sessions_active_skill ON sessions (active_skill);
            -- Proposals: the list's sort key without reading the rows (they carry whole skill files).
            CREATE INDEX ix_proposals_list ON proposals (state, updated_at);
            -- Overview: how many signals the heuristic extracted because the model failed, and the latest one.
            -- (The extractor names are written by the server, lower case: a range on them is the LIKE 'heuristic (%' it means.)
            CREATE INDEX ix_extraction_jobs_extractor ON extraction_jobs (state, extractor, updated_at);
            """),
        (15, "the commit message a reviewer confirmed", """
            -- What the reviewer saw (and perhaps edited) in the approval dialog is pushed as written; NULL: the default.
            ALTER TABLE proposals ADD COLUMN commit_message TEXT NULL;
            """),
        (16, "a trigram index for Live signals' text search", """
            -- "Text contains" on a year of signals: a search that matched nothing read every row. A trigram FTS5 index
            -- answers any substring of 3+ characters (Chinese too, no word breaking). External content: the text is
            -- stored once, in signals; the triggers keep the index in step with every insert, edit and delete.
            CREATE VIRTUAL TABLE signals_fts USING fts5 (text, content = 'signals', content_rowid = 'id', tokenize = 'trigram');
            INSERT INTO signals_fts (signals_fts) VALUES ('rebuild');
            CREATE TRIGGER signals_fts_insert AFTER INSERT ON signals BEGIN
                INSERT INTO signals_fts (rowid, text) VALUES (new.id, new.text);
            END;
            CREATE TRIGGER signals_fts_delete AFTER DELETE ON signals BEGIN
                INSERT INTO signals_fts (signals_fts, rowid, text) VALUES ('delete', old.id, old.text);
            END;
            CREATE TRIGGER signals_fts_update AFTER UPDATE OF text ON signals BEGIN
                INSERT INTO signals_fts (signals_fts, rowid, text) VALUES ('delete', old.id, old.text);
                INSERT INTO signals_fts (rowid, text) VALUES (new.id, new.text);
            END;
            """),
        (17, "a cluster's members settled by consolidation", """
            -- 0 while a cluster holds signals that joined it as they arrived (greedy, at the similarity threshold) and
            -- no consolidation pass has re-clustered its skill since; 1 after one has. A proposal is only made for a
            -- settled cluster, so a cluster that crossed the distinct-user threshold by an unlucky join is split
            -- before it can ask for a fix. Existing clusters start unsettled: the first pass after the upgrade settles them.
            ALTER TABLE clusters ADD COLUMN consolidated INTEGER NOT NULL DEFAULT 0;
            """),
        (18, "the trigram index written in the background, not by ingest", """
            -- Writing a signal's trigrams in its own transaction doubled the CPU time of storing it (one index segment per
            -- commit), on the one write path every client waits for. A new signal's id is queued here instead, and
            -- SignalSearchIndexer moves the queue into signals_fts in bulk when ingest pauses; a search reads the queued
            -- rows directly, so it stays exact meanwhile. An indexed row leaves the index when it is edited or deleted;
            -- a queued one only leaves the queue (deleting what the index never held would corrupt it).
            CREATE TABLE signals_fts_pending (id INTEGER PRIMARY KEY);
            DROP TRIGGER signals_fts_insert;
            DROP TRIGGER signals_fts_delete;
            DROP TRIGGER signals_fts_update;
            CREATE TRIGGER signals_fts_insert AFTER INSERT ON signals BEGIN
                INSERT INTO signals_fts_pending (id) VALUES (new.id);
            END;
            CREATE TRIGGER signals_fts_delete AFTER DELETE ON signals BEGIN
                INSERT INTO signals_fts (signals_fts, rowid, text)
                    SELECT 'delete', old.id, old.text WHERE NOT EXISTS (SELECT 1 FROM signals_fts_pending WHERE id = old.id);
                DELETE FROM signals_fts_pending WHERE id = old.id;
            END;
            CREATE TRIGGER signals_fts_update AFTER UPDATE OF text ON signals
            WHEN NOT EXISTS (SELECT 1 FROM signals_fts_pending WHERE id = old.id) BEGIN
                INSERT INTO signals_fts (signals_fts, rowid, text) VALUES ('delete', old.id, old.text);
                INSERT INTO signals_fts (rowid, text) VALUES (new.id, new.text);
            END;
            """),
        (19, "clustering finds its next batch per credential without numbering the whole backlog", """
            -- Clustering's next batch is the oldest extracted, unclustered signals of each credential in turn. Found by
            -- numbering every such signal with a window function, it cost O(backlog) per batch of 32 (40,000 waiting:
            -- ~140 ms a batch); with this index each credential's oldest are a range read.
            CREATE INDEX ix_signals_unclustered ON signals (credential_id, id) WHERE cluster_id IS NULL;
            """),
        (20, "signals and triage labels keep the opening of the agent's answer", """
            -- The detector reads the opening of the agent's answer to a turn; a triage label exported without it would
            -- train new weights on turns whose answer is unknown. NULL: sent by an older client, or labelled before.
            ALTER TABLE signals ADD COLUMN reply TEXT;
            ALTER TABLE detection_labels ADD COLUMN next TEXT;
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
