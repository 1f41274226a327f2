/*
 * db.c: opening the database, its pragmas, schema migrations and the
 * transaction helpers the rest of db/ uses.
 *
 * Migrations are an append-only list of SQL scripts; the file's
 * PRAGMA user_version says how many have been applied. Each one runs in its
 * own BEGIN IMMEDIATE transaction together with the user_version bump, so a
 * crash mid-way leaves the file at the previous version, never between two.
 */
#include "db.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

/*
 * Migration 1: the first schema.
 *
 * config_serial is one row bumped by triggers whenever extensions, rooms or
 * settings change, so a running daemon notices a change made by pbxctl or
 * the web admin by polling one cheap SELECT. The location table is left out
 * on purpose: registrations are not configuration.
 *
 * Extension and room numbers share one namespace; the triggers below refuse
 * a collision whoever inserts (the C code checks first to give a clear
 * message).
 */
static const char migration_1[] =
	"CREATE TABLE settings("
	" key TEXT PRIMARY KEY,"
	" value TEXT NOT NULL);"
	"INSERT INTO settings(key, value) VALUES"
	" ('sip_realm', 'pbx'), ('reg_min_expires', '60'), ('reg_max_expires', '3600'),"
	" ('reg_default_expires', '3600'), ('auth_nonce_lifetime', '300'),"
	" ('ban_limit', '10'), ('ban_window', '60'), ('ban_time', '300'), ('ban_allow', ''),"
	" ('keepalive_interval', '30'), ('max_contacts', '10'), ('auth_algorithms', 'MD5,SHA-256');"

	"CREATE TABLE extensions("
	" number TEXT PRIMARY KEY CHECK(length(number) BETWEEN 2 AND 15 AND number NOT GLOB '*[^0-9]*'),"
	" name TEXT NOT NULL DEFAULT '',"
	" ha1_md5 TEXT NOT NULL,"
	" ha1_sha256 TEXT NOT NULL,"
	" vm_pin TEXT NOT NULL DEFAULT '',"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" ring_time INTEGER NOT NULL DEFAULT 25,"
	" created_at INTEGER,"
	" updated_at INTEGER);"

	"CREATE TABLE location("
	" aor TEXT NOT NULL,"
	" contact TEXT NOT NULL,"
	" received TEXT NOT NULL DEFAULT '',"
	" transport TEXT NOT NULL DEFAULT '',"
	" local TEXT NOT NULL DEFAULT '',"
	" call_id TEXT NOT NULL DEFAULT '',"
	" cseq INTEGER NOT NULL DEFAULT 0,"
	" expires_at INTEGER NOT NULL,"
	" q REAL NOT NULL DEFAULT -1,"
	" user_agent TEXT NOT NULL DEFAULT '',"
	" instance TEXT NOT NULL DEFAULT '',"
	" reg_id INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(aor, contact));"
	"CREATE INDEX location_expires ON location(expires_at);"

	"CREATE TABLE rooms("
	" number TEXT PRIMARY KEY CHECK(length(number) BETWEEN 2 AND 15 AND number NOT GLOB '*[^0-9]*'),"
	" name TEXT NOT NULL DEFAULT '',"
	" pin TEXT NOT NULL DEFAULT '',"
	" moderator_pin TEXT NOT NULL DEFAULT '',"
	" max_participants INTEGER NOT NULL DEFAULT 50,"
	" flags INTEGER NOT NULL DEFAULT 0);"

	"CREATE TABLE admins("
	" username TEXT PRIMARY KEY,"
	" pw_hash TEXT NOT NULL,"
	" created_at INTEGER);"

	"CREATE TABLE config_serial("
	" id INTEGER PRIMARY KEY CHECK(id = 1),"
	" serial INTEGER NOT NULL);"
	"INSERT INTO config_serial(id, serial) VALUES (1, 1);"

	"CREATE TRIGGER extensions_ai AFTER INSERT ON extensions BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"
	"CREATE TRIGGER extensions_au AFTER UPDATE ON extensions BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"
	"CREATE TRIGGER extensions_ad AFTER DELETE ON extensions BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"
	"CREATE TRIGGER rooms_ai AFTER INSERT ON rooms BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"
	"CREATE TRIGGER rooms_au AFTER UPDATE ON rooms BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"
	"CREATE TRIGGER rooms_ad AFTER DELETE ON rooms BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"
	"CREATE TRIGGER settings_ai AFTER INSERT ON settings BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"
	"CREATE TRIGGER settings_au AFTER UPDATE ON settings BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"
	"CREATE TRIGGER settings_ad AFTER DELETE ON settings BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"

	"CREATE TRIGGER extensions_not_room BEFORE INSERT ON extensions"
	" WHEN EXISTS(SELECT 1 FROM rooms WHERE number = NEW.number) BEGIN"
	" SELECT RAISE(ABORT, 'number is already a conference room'); END;"
	"CREATE TRIGGER rooms_not_extension BEFORE INSERT ON rooms"
	" WHEN EXISTS(SELECT 1 FROM extensions WHERE number = NEW.number) BEGIN"
	" SELECT RAISE(ABORT, 'number is already an extension'); END;"

	"PRAGMA user_version = 1;";

/*
 * Migration 2: call routing per extension and call history.
 *
 * Forwarding targets are extension numbers ('' = off). They are not foreign
 * keys on purpose: deleting the target leaves the rule in place and the core
 * skips it at call time, so a re-created extension picks it up again. The
 * existing extensions_au trigger bumps config_serial for these columns too.
 *
 * cdr is history, not configuration: no trigger bumps the serial for it.
 * Times are unix milliseconds; answer_at is NULL for a call never answered.
 * Legs: a_ is the caller's, b_ the callee's.
 */
static const char migration_2[] =
	"ALTER TABLE extensions ADD COLUMN fwd_always TEXT NOT NULL DEFAULT ''"
	" CHECK(fwd_always = '' OR (length(fwd_always) BETWEEN 2 AND 15 AND fwd_always NOT GLOB '*[^0-9]*'));"
	"ALTER TABLE extensions ADD COLUMN fwd_busy TEXT NOT NULL DEFAULT ''"
	" CHECK(fwd_busy = '' OR (length(fwd_busy) BETWEEN 2 AND 15 AND fwd_busy NOT GLOB '*[^0-9]*'));"
	"ALTER TABLE extensions ADD COLUMN fwd_noanswer TEXT NOT NULL DEFAULT ''"
	" CHECK(fwd_noanswer = '' OR (length(fwd_noanswer) BETWEEN 2 AND 15"
	" AND fwd_noanswer NOT GLOB '*[^0-9]*'));"
	"ALTER TABLE extensions ADD COLUMN dnd INTEGER NOT NULL DEFAULT 0 CHECK(dnd IN (0, 1));"

	"CREATE TABLE cdr("
	" id INTEGER PRIMARY KEY,"
	" call_id TEXT NOT NULL,"
	" caller TEXT NOT NULL,"
	" callee TEXT NOT NULL,"
	" dialed TEXT NOT NULL,"
	" start_at INTEGER NOT NULL,"
	" answer_at INTEGER,"
	" end_at INTEGER NOT NULL,"
	" disposition TEXT NOT NULL CHECK(disposition IN ('answered', 'busy', 'noanswer', 'unavailable',"
	" 'cancelled', 'failed', 'redirected', 'rejected')),"
	" hangup_by TEXT NOT NULL DEFAULT '' CHECK(hangup_by IN ('', 'caller', 'callee', 'system')),"
	" a_codec TEXT NOT NULL DEFAULT '',"
	" a_rx_packets INTEGER NOT NULL DEFAULT 0,"
	" a_tx_packets INTEGER NOT NULL DEFAULT 0,"
	" a_lost INTEGER NOT NULL DEFAULT 0,"
	" a_jitter_ms INTEGER NOT NULL DEFAULT 0,"
	" b_codec TEXT NOT NULL DEFAULT '',"
	" b_rx_packets INTEGER NOT NULL DEFAULT 0,"
	" b_tx_packets INTEGER NOT NULL DEFAULT 0,"
	" b_lost INTEGER NOT NULL DEFAULT 0,"
	" b_jitter_ms INTEGER NOT NULL DEFAULT 0,"
	" srtp_a INTEGER NOT NULL DEFAULT 0 CHECK(srtp_a IN (0, 1)),"
	" srtp_b INTEGER NOT NULL DEFAULT 0 CHECK(srtp_b IN (0, 1)));"
	/* Listing is newest first, filtered by caller or callee: each index
	 * serves its filter and the order. */
	"CREATE INDEX cdr_start ON cdr(start_at);"
	"CREATE INDEX cdr_caller ON cdr(caller, start_at);"
	"CREATE INDEX cdr_callee ON cdr(callee, start_at);"

	"PRAGMA user_version = 2;";

/*
 * Migration 3: voicemail.
 *
 * Every extension has exactly one mailbox: the trigger below creates it with
 * the extension, the INSERT backfills the extensions that exist, and the
 * foreign key removes it with the extension. The mailbox PIN is
 * extensions.vm_pin (one PIN column, set by pbxctl and the CSV import as
 * before), so mailboxes has no PIN of its own. Greetings are file names
 * relative to the spool folder, '' = the generated default. vm_on is a comma
 * list of noanswer, busy, unavailable, dnd (checked in C, db_vm_on_parse).
 * Mailbox settings are configuration (the core reads them from the
 * snapshot), so their changes bump config_serial like extensions do.
 *
 * vm_messages is data, not configuration: no serial trigger. Its mailbox is
 * not a foreign key on purpose: deleting an extension must not drop rows
 * whose files are still in the spool; they stay until deleted with their
 * files (db_vm_msg_del hands the file name back). Times are unix ms.
 */
static const char migration_3[] =
	"CREATE TABLE mailboxes("
	" number TEXT PRIMARY KEY REFERENCES extensions(number) ON DELETE CASCADE ON UPDATE CASCADE,"
	" email TEXT NOT NULL DEFAULT '',"
	" email_attach INTEGER NOT NULL DEFAULT 1 CHECK(email_attach IN (0, 1)),"
	" max_msg_seconds INTEGER NOT NULL DEFAULT 180 CHECK(max_msg_seconds BETWEEN 10 AND 3600),"
	" max_messages INTEGER NOT NULL DEFAULT 100 CHECK(max_messages BETWEEN 1 AND 10000),"
	" unsolicited_mwi INTEGER NOT NULL DEFAULT 0 CHECK(unsolicited_mwi IN (0, 1)),"
	" vm_on TEXT NOT NULL DEFAULT 'noanswer,busy,unavailable,dnd',"
	" greeting_unavail TEXT NOT NULL DEFAULT '',"
	" greeting_busy TEXT NOT NULL DEFAULT '',"
	" greeting_name TEXT NOT NULL DEFAULT '');"
	"INSERT INTO mailboxes(number) SELECT number FROM extensions;"
	"CREATE TRIGGER extensions_mailbox AFTER INSERT ON extensions BEGIN"
	" INSERT OR IGNORE INTO mailboxes(number) VALUES (NEW.number); END;"
	"CREATE TRIGGER mailboxes_ai AFTER INSERT ON mailboxes BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"
	"CREATE TRIGGER mailboxes_au AFTER UPDATE ON mailboxes BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"
	"CREATE TRIGGER mailboxes_ad AFTER DELETE ON mailboxes BEGIN"
	" UPDATE config_serial SET serial = serial + 1 WHERE id = 1; END;"

	"CREATE TABLE vm_messages("
	" id INTEGER PRIMARY KEY,"
	" mailbox TEXT NOT NULL,"
	" folder TEXT NOT NULL CHECK(folder IN ('new', 'old')),"
	" caller TEXT NOT NULL,"
	" caller_name TEXT NOT NULL DEFAULT '',"
	" received_at INTEGER NOT NULL,"
	" duration_ms INTEGER NOT NULL CHECK(duration_ms >= 0),"
	" file TEXT NOT NULL,"
	" email_status TEXT NOT NULL DEFAULT '',"
	" heard INTEGER NOT NULL DEFAULT 0 CHECK(heard IN (0, 1)));"
	"CREATE INDEX vm_messages_box ON vm_messages(mailbox, folder, received_at);"

	"PRAGMA user_version = 3;";

/*
 * Migration 4: an index for the extensions list's default order.
 *
 * Numbers sort shorter first, then as text (numeric for numbers without
 * leading zeros): ORDER BY length(number), number. Without this index every
 * page of the web admin's list sorted the whole table; with it a page is a
 * walk of LIMIT rows, either way round.
 */
static const char migration_4[] =
	"CREATE INDEX extensions_order ON extensions(length(number), number);"

	"PRAGMA user_version = 4;";

/*
 * Migration 5: searching the extensions without reading every row.
 *
 * extensions_fts is a trigram index (FTS5) of each extension's number and
 * its name lowered with lower(), which folds ASCII only, as LIKE does: a
 * quoted phrase of q lowered the same way then matches exactly the rows
 * whose number holds q or whose name holds it ASCII case-insensitively, so
 * db_ext_page counts and finds a search of 3 characters or more there.
 * Shorter searches have no trigram and still scan.
 *
 * An FTS row's rowid is made from the number (DB_EXT_FTS_KEY), so the
 * index hands its matches out in number order. The triggers keep it in
 * step with every writer (pbxctl, the web admin, CSV import, the sqlite3
 * shell); INSERT OR REPLACE keeps an insert right even where an INSERT OR
 * REPLACE on extensions did not run the delete trigger (recursive_triggers
 * off). columnsize=0: nothing ranks results, so no per-row sizes are kept.
 *
 * extensions_order gains name, so a search that does scan (too short for
 * trigrams, or matching most rows in another order than the number's)
 * reads the index, and the table only for the rows it returns. The DROPs
 * make the migration rebuild what a file turned back to an older version
 * by hand still holds.
 */
static const char migration_5[] =
	"DROP INDEX IF EXISTS extensions_order;"
	"CREATE INDEX extensions_order ON extensions(length(number), number, name);"

	"DROP TRIGGER IF EXISTS extensions_fts_ai;"
	"DROP TRIGGER IF EXISTS extensions_fts_ad;"
	"DROP TRIGGER IF EXISTS extensions_fts_au;"
	"DROP TABLE IF EXISTS extensions_fts;"
	"CREATE VIRTUAL TABLE extensions_fts USING fts5(number, name,"
	" tokenize = 'trigram case_sensitive 1', columnsize = 0);"
	"INSERT INTO extensions_fts(rowid, number, name)"
	" SELECT " DB_EXT_FTS_KEY("number") ", number, lower(name) FROM extensions;"
	"CREATE TRIGGER extensions_fts_ai AFTER INSERT ON extensions BEGIN"
	" INSERT OR REPLACE INTO extensions_fts(rowid, number, name)"
	" VALUES (" DB_EXT_FTS_KEY("NEW.number") ", NEW.number, lower(NEW.name)); END;"
	"CREATE TRIGGER extensions_fts_ad AFTER DELETE ON extensions BEGIN"
	" DELETE FROM extensions_fts WHERE rowid = " DB_EXT_FTS_KEY("OLD.number") "; END;"
	"CREATE TRIGGER extensions_fts_au AFTER UPDATE OF number, name ON extensions"
	" WHEN OLD.number IS NOT NEW.number OR OLD.name IS NOT NEW.name BEGIN"
	" DELETE FROM extensions_fts WHERE rowid = " DB_EXT_FTS_KEY("OLD.number") ";"
	" INSERT OR REPLACE INTO extensions_fts(rowid, number, name)"
	" VALUES (" DB_EXT_FTS_KEY("NEW.number") ", NEW.number, lower(NEW.name)); END;"

	"PRAGMA user_version = 5;";

/*
 * Migration 6: searches of 2 characters from the trigram index too.
 *
 * extensions_fts is rebuilt with two U+0001 after each column (no number
 * or name holds a control character, nor does a search the index
 * answers), so that every pair of characters, the last pair included,
 * begins one of the index's trigrams: a number or name holds "ab" exactly
 * when a term of the index that begins with "ab" is in its row.
 * extensions_fts_terms (fts5vocab) lists the terms in order, so db_ext_page
 * finds those of a 2-character search with a range of terms and matches
 * them ORed. Searches of 3 characters or more match as before.
 */
#define EXT_FTS_PAD(col) col " || char(1, 1)"
static const char migration_6[] =
	"DROP TRIGGER IF EXISTS extensions_fts_ai;"
	"DROP TRIGGER IF EXISTS extensions_fts_ad;"
	"DROP TRIGGER IF EXISTS extensions_fts_au;"
	"DROP TABLE IF EXISTS extensions_fts_terms;"
	"DROP TABLE IF EXISTS extensions_fts;"
	"CREATE VIRTUAL TABLE extensions_fts USING fts5(number, name,"
	" tokenize = 'trigram case_sensitive 1', columnsize = 0);"
	"CREATE VIRTUAL TABLE extensions_fts_terms USING fts5vocab(extensions_fts, 'row');"
	"INSERT INTO extensions_fts(rowid, number, name)"
	" SELECT " DB_EXT_FTS_KEY("number") ", " EXT_FTS_PAD("number") ", " EXT_FTS_PAD("lower(name)")
	" FROM extensions;"
	"CREATE TRIGGER extensions_fts_ai AFTER INSERT ON extensions BEGIN"
	" INSERT OR REPLACE INTO extensions_fts(rowid, number, name)"
	" VALUES (" DB_EXT_FTS_KEY("NEW.number") ", " EXT_FTS_PAD("NEW.number") ", "
	EXT_FTS_PAD("lower(NEW.name)") "); END;"
	"CREATE TRIGGER extensions_fts_ad AFTER DELETE ON extensions BEGIN"
	" DELETE FROM extensions_fts WHERE rowid = " DB_EXT_FTS_KEY("OLD.number") "; END;"
	"CREATE TRIGGER extensions_fts_au AFTER UPDATE OF number, name ON extensions"
	" WHEN OLD.number IS NOT NEW.number OR OLD.name IS NOT NEW.name BEGIN"
	" DELETE FROM extensions_fts WHERE rowid = " DB_EXT_FTS_KEY("OLD.number") ";"
	" INSERT OR REPLACE INTO extensions_fts(rowid, number, name)"
	" VALUES (" DB_EXT_FTS_KEY("NEW.number") ", " EXT_FTS_PAD("NEW.number") ", "
	EXT_FTS_PAD("lower(NEW.name)") "); END;"

	"PRAGMA user_version = 6;";

/* Index i holds the script that takes the schema from version i to i+1. */
static const char *const migrations[] = { migration_1, migration_2, migration_3,
					  migration_4, migration_5, migration_6 };
_Static_assert(sizeof migrations / sizeof migrations[0] == DB_SCHEMA_VERSION,
	       "one migration per schema version");

int db_errno(sqlite3 *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		log_warn("db: database busy: %s", db ? sqlite3_errmsg(db) : "");
		return EBUSY;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_CONSTRAINT:
		return EEXIST;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		log_err("db: %s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		return EACCES;
	default:
		log_err("db: %s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		return EIO;
	}
}

static int db_exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_errno(db, rc);
}

int db_begin(sqlite3 *db) { return db_exec(db, "BEGIN IMMEDIATE"); }

int db_commit(sqlite3 *db) { return db_exec(db, "COMMIT"); }

void db_rollback(sqlite3 *db)
{
	/* After some errors SQLite has already rolled back; nothing to do then. */
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int db_write_begin(sqlite3 *db, bool *owned)
{
	*owned = false;
	if (!sqlite3_get_autocommit(db))
		return 0; /* the caller's transaction; it must be a write one */
	int rc = db_begin(db);
	if (rc == 0)
		*owned = true;
	return rc;
}

int db_write_end(sqlite3 *db, bool owned, int rc)
{
	if (!owned)
		return rc;
	if (rc != 0) {
		db_rollback(db);
		return rc;
	}
	rc = db_commit(db);
	if (rc != 0)
		db_rollback(db);
	return rc;
}

int db_step_write(sqlite3 *db, sqlite3_stmt *st)
{
	bool owned = sqlite3_get_autocommit(db) != 0;
	int rc;
	if (owned && (rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = SQLITE_DONE; /* a RETURNING row: the write happened */
	if (owned) {
		/* sqlite3_changes() survives COMMIT, so callers may read it after. */
		if (rc == SQLITE_DONE) {
			int c = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
			if (c != SQLITE_OK)
				rc = c;
		}
		if (rc != SQLITE_DONE)
			db_rollback(db);
	}
	return rc;
}

static int db_user_version(sqlite3 *db, int *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = 0;
	} else {
		rc = db_errno(db, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Apply every migration the file lacks. The version is read again inside
 * each transaction: another process may have migrated meanwhile. */
static int db_migrate(sqlite3 *db, char *err, size_t errcap)
{
	for (;;) {
		int rc = db_begin(db);
		if (rc != 0) {
			snprintf(err, errcap, "cannot start a transaction: %s", sqlite3_errmsg(db));
			return rc;
		}
		int ver = 0;
		rc = db_user_version(db, &ver);
		if (rc != 0) {
			snprintf(err, errcap, "cannot read the schema version: %s", sqlite3_errmsg(db));
			db_rollback(db);
			return rc;
		}
		if (ver == DB_SCHEMA_VERSION) {
			db_rollback(db);
			return 0;
		}
		if (ver < 0 || ver > DB_SCHEMA_VERSION) {
			snprintf(err, errcap, "schema version %d is not one this build knows (up to %d)",
				 ver, DB_SCHEMA_VERSION);
			db_rollback(db);
			return EPROTO;
		}
		rc = db_exec(db, migrations[ver]);
		if (rc == 0)
			rc = db_commit(db);
		if (rc != 0) {
			snprintf(err, errcap, "migration %d failed: %s", ver + 1, sqlite3_errmsg(db));
			db_rollback(db);
			return rc;
		}
		log_info("db: schema migrated to version %d", ver + 1);
	}
}

/* The daemon's secret for stateless nonces: created once, kept across
 * restarts so nonces handed out before a restart stay valid. */
static int db_ensure_nonce_key(sqlite3 *db, char *err, size_t errcap)
{
	char have[8];
	int rc = db_setting_get(db, "nonce_key", have, sizeof have);
	if (rc == 0 || rc == ENOSPC)
		return 0;
	if (rc != ENOENT) {
		snprintf(err, errcap, "cannot read nonce_key");
		return rc;
	}
	uint8_t key[32];
	if (gnutls_rnd(GNUTLS_RND_KEY, key, sizeof key) != 0) {
		snprintf(err, errcap, "no random bytes for nonce_key");
		return EIO;
	}
	char hex[65];
	for (size_t i = 0; i < sizeof key; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	memset(key, 0, sizeof key);

	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO settings(key, value) VALUES ('nonce_key', ?1)",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
		rc = db_step_write(db, st);
	}
	sqlite3_finalize(st);
	memset(hex, 0, sizeof hex);
	if (rc != SQLITE_DONE) {
		snprintf(err, errcap, "cannot store nonce_key: %s", sqlite3_errmsg(db));
		return db_errno(db, rc);
	}
	return 0;
}

/* Set a pragma that answers with a row, and check the answer when want is
 * not NULL. */
static int db_pragma(sqlite3 *db, const char *sql, const char *want, char *err, size_t errcap)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errcap, "%s: %s", sql, sqlite3_errmsg(db));
		return db_errno(db, rc);
	}
	rc = sqlite3_step(st);
	int ret = 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(err, errcap, "%s: %s", sql, sqlite3_errmsg(db));
		ret = db_errno(db, rc);
	} else if (want) {
		const char *got = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
		if (!got || strcmp(got, want) != 0) {
			snprintf(err, errcap, "%s: got %s, wanted %s", sql, got ? got : "nothing", want);
			ret = EIO;
		}
	}
	sqlite3_finalize(st);
	return ret;
}

int db_open(const char *path, sqlite3 **out, char *err, size_t errcap)
{
	*out = NULL;
	if (errcap)
		err[0] = '\0';
	if (!path || !*path) {
		snprintf(err, errcap, "no database path");
		return EINVAL;
	}
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errcap, "%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		int e = rc == SQLITE_CANTOPEN ? ENOENT : db_errno(NULL, rc);
		sqlite3_close(db);
		return e;
	}
	sqlite3_extended_result_codes(db, 0);
	sqlite3_busy_timeout(db, 5000);

	int ret = db_pragma(db, "PRAGMA journal_mode=WAL", "wal", err, errcap);
	if (ret == 0)
		ret = db_pragma(db, "PRAGMA foreign_keys=ON", NULL, err, errcap);
	if (ret == 0)
		ret = db_pragma(db, "PRAGMA foreign_keys", "1", err, errcap);
	/* In WAL mode NORMAL is durable against application crashes and only
	 * loses the last commits on power loss, at a fraction of the fsyncs. */
	if (ret == 0)
		ret = db_pragma(db, "PRAGMA synchronous=NORMAL", NULL, err, errcap);
	if (ret == 0)
		ret = db_migrate(db, err, errcap);
	if (ret == 0)
		ret = db_ensure_nonce_key(db, err, errcap);
	if (ret != 0) {
		sqlite3_close(db);
		return ret;
	}
	*out = db;
	return 0;
}

void db_close(sqlite3 *db)
{
	if (!db)
		return;
	/* Statements are finalized by the functions that prepared them; a
	 * leftover one is a bug we want to see, not to hide with close_v2. */
	if (sqlite3_close(db) != SQLITE_OK) {
		log_err("db: close: %s", sqlite3_errmsg(db));
		sqlite3_close_v2(db);
	}
}

int db_delete_one(sqlite3 *db, const char *sql, const char *key)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		rc = db_step_write(db, st);
	}
	int ret = 0;
	if (rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	else if (sqlite3_changes(db) == 0)
		ret = ENOENT;
	sqlite3_finalize(st);
	return ret;
}

const char *db_col_text(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? s : "";
}
