/*
 * t_db.c: the storage layer against real SQLite files in a private
 * temporary folder: migrations, pragmas, settings, extensions, CSV import,
 * location, rooms, admins, the config serial, and the forwarding rules,
 * DND and options of extensions.
 */
#include "unit.h"

#include "db.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

static char tmpdir[64];
static unsigned db_seq;

/* A fresh database file for one test. */
static sqlite3 *open_fresh(char *path, size_t cap)
{
	snprintf(path, cap, "%s/t%u.db", tmpdir, ++db_seq);
	sqlite3 *db = NULL;
	char err[256];
	int rc = db_open(path, &db, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "db_open: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(db);
	return db;
}

static sqlite3 *fresh(void)
{
	char path[128];
	return open_fresh(path, sizeof path);
}

static long long query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void query_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	const char *s = (const char *)sqlite3_column_text(st, 0);
	snprintf(out, cap, "%s", s ? s : "");
	sqlite3_finalize(st);
}

/* ---- open and migrations ------------------------------------------------------ */

static void test_open_migrates_and_reopens(void **state)
{
	(void)state;
	char path[128], key1[80], key2[80];
	sqlite3 *db = open_fresh(path, sizeof path);
	assert_int_equal(query_int(db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 1);
	char mode[16];
	query_text(db, "PRAGMA journal_mode", mode, sizeof mode);
	assert_string_equal(mode, "wal");
	assert_int_equal(db_setting_get(db, "nonce_key", key1, sizeof key1), 0);
	assert_int_equal(strlen(key1), 64);
	assert_int_equal(strspn(key1, "0123456789abcdef"), 64);
	assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
				       " ('settings','extensions','location','rooms','admins','config_serial','cdr')"),
			 7);
	assert_int_equal(db_ext_add(db, "1001", "A", "secret1", "", NULL, 0), 0);
	db_close(db);

	/* Re-open: nothing re-applied, the data and the key are kept. */
	char err[256];
	assert_int_equal(db_open(path, &db, err, sizeof err), 0);
	assert_int_equal(query_int(db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions"), 1);
	assert_int_equal(query_int(db, "SELECT count(*) FROM settings WHERE key = 'sip_realm'"), 1);
	assert_int_equal(db_setting_get(db, "nonce_key", key2, sizeof key2), 0);
	assert_string_equal(key1, key2);

	/* A schema from the future is refused, not reinterpreted. */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	db_close(db);
	db = NULL;
	assert_int_equal(db_open(path, &db, err, sizeof err), EPROTO);
	assert_null(db);
	assert_non_null(strstr(err, "99"));
}

static void test_open_missing_folder(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof path, "%s/no/such/dir/x.db", tmpdir);
	sqlite3 *db = NULL;
	assert_int_not_equal(db_open(path, &db, err, sizeof err), 0);
	assert_null(db);
	assert_true(strlen(err) > 0);
}

/* ---- settings ---------------------------------------------------------------- */

static void test_settings(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char v[64], err[160];
	long n = 0;
	assert_int_equal(db_setting_get(db, "sip_realm", v, sizeof v), 0);
	assert_string_equal(v, "pbx");
	assert_int_equal(db_setting_int(db, "reg_min_expires", 0, &n), 0);
	assert_int_equal(n, 60);
	assert_int_equal(db_setting_int(db, "max_contacts", 0, &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(db_setting_get(db, "ban_allow", v, sizeof v), 0);
	assert_string_equal(v, "");
	assert_int_equal(db_setting_get(db, "nope", v, sizeof v), ENOENT);
	assert_int_equal(db_setting_int(db, "nope", 42, &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(db_setting_get(db, "sip_realm", v, 3), ENOSPC);

	assert_int_equal(db_setting_set(db, "reg_min_expires", "abc", err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "reg_min_expires"));
	assert_int_equal(db_setting_set(db, "max_contacts", "0", err, sizeof err), EINVAL);
	assert_int_equal(db_setting_set(db, "sip_realm", "a\"b", err, sizeof err), EINVAL);
	assert_int_equal(db_setting_set(db, "Bad Key", "1", err, sizeof err), EINVAL);
	assert_int_equal(db_setting_set(db, "ban_allow", "10.0.0.0/8, ::1", err, sizeof err), 0);
	assert_int_equal(db_setting_set(db, "ban_allow", "evil;drop", err, sizeof err), EINVAL);

	int64_t s0, s1, s2;
	assert_int_equal(db_config_serial(db, &s0), 0);
	assert_int_equal(db_setting_set(db, "reg_min_expires", "120", err, sizeof err), 0);
	assert_int_equal(db_config_serial(db, &s1), 0);
	assert_true(s1 > s0);
	assert_int_equal(db_setting_int(db, "reg_min_expires", 0, &n), 0);
	assert_int_equal(n, 120);
	/* The same value again is no change. */
	assert_int_equal(db_setting_set(db, "reg_min_expires", "120", err, sizeof err), 0);
	assert_int_equal(db_config_serial(db, &s2), 0);
	assert_int_equal(s2, s1);

	/* A value that is not an integer, put there by raw SQL. */
	assert_int_equal(sqlite3_exec(db, "UPDATE settings SET value = 'x' WHERE key = 'ban_limit'", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	assert_int_equal(db_setting_int(db, "ban_limit", 7, &n), EINVAL);
	assert_int_equal(n, 7);
	db_close(db);
}

/* ---- extensions ---------------------------------------------------------------- */

struct list_ctx {
	char numbers[8][16];
	char md5[8][33];
	char sha[8][65];
	char pins[8][16];
	int n;
};

static int list_cb(void *ctx, const struct db_ext *e)
{
	struct list_ctx *l = ctx;
	if (l->n >= 8)
		return -1;
	snprintf(l->numbers[l->n], 16, "%s", e->number);
	snprintf(l->md5[l->n], 33, "%s", e->ha1_md5);
	snprintf(l->sha[l->n], 65, "%s", e->ha1_sha256);
	snprintf(l->pins[l->n], 16, "%s", e->vm_pin);
	l->n++;
	return 0;
}

static void test_ext_add_list_del(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[160];
	int64_t s0, s1;
	assert_int_equal(db_config_serial(db, &s0), 0);
	assert_int_equal(db_ext_add(db, "1001", "Alice", "secret1", "1234", err, sizeof err), 0);
	assert_int_equal(db_config_serial(db, &s1), 0);
	assert_true(s1 > s0);
	assert_int_equal(db_ext_add(db, "999", NULL, "secret2", NULL, err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "1001", "Again", "secret3", "", err, sizeof err), EEXIST);
	assert_non_null(strstr(err, "1001"));

	struct list_ctx l = { 0 };
	assert_int_equal(db_ext_list(db, list_cb, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.numbers[0], "999"); /* numeric order */
	assert_string_equal(l.numbers[1], "1001");
	/* HA1 = MD5 / SHA-256 of "1001:pbx:secret1", computed independently. */
	assert_string_equal(l.md5[1], "64fa20af62ce66da90de8143828f35e4");
	assert_string_equal(l.sha[1], "22a1363629cd0f8e03453e7a40221fe982da26f824e25a10fbff9cc26176a81d");
	assert_string_equal(l.pins[1], "1234");
	/* The password itself is nowhere in the file's tables. */
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions WHERE name LIKE '%secret%'"
				       " OR ha1_md5 LIKE '%secret%'"),
			 0);

	assert_int_equal(db_ext_set_password(db, "1001", "other-pw"), 0);
	memset(&l, 0, sizeof l);
	assert_int_equal(db_ext_list(db, list_cb, &l), 0);
	assert_string_not_equal(l.md5[1], "64fa20af62ce66da90de8143828f35e4");
	assert_int_equal(db_ext_set_password(db, "1002", "other-pw"), ENOENT);
	assert_int_equal(db_ext_set_password(db, "1001", "short"), EINVAL);

	unsigned flags = 3;
	int ring = 40;
	assert_int_equal(db_ext_update(db, "1001", "Alice B", NULL, &flags, &ring, err, sizeof err), 0);
	assert_int_equal(query_int(db, "SELECT ring_time FROM extensions WHERE number = '1001'"), 40);
	assert_int_equal(query_int(db, "SELECT flags FROM extensions WHERE number = '1001'"), 3);
	assert_int_equal(query_int(db, "SELECT vm_pin = '1234' FROM extensions WHERE number = '1001'"), 1);
	assert_int_equal(db_ext_update(db, "4444", "X", NULL, NULL, NULL, err, sizeof err), ENOENT);

	assert_int_equal(db_ext_del(db, "999"), 0);
	assert_int_equal(db_ext_del(db, "999"), ENOENT);
	assert_int_equal(db_ext_del(db, "x"), ENOENT);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions"), 1);
	db_close(db);
}

static void test_ext_validation(void **state)
{
	(void)state;
	char err[160];
	static const struct {
		const char *number, *name, *password, *pin, *field;
	} bad[] = {
		{ "1", "", "secret1", "", "extension" },
		{ "1234567890123456", "", "secret1", "", "extension" },
		{ "12a4", "", "secret1", "", "extension" },
		{ "", "", "secret1", "", "extension" },
		{ "1001", "", "12345", "", "password" },
		{ "1001", "", "has space", "", "password" },
		{ "1001", "", "caf\xc3\xa9-pass", "", "password" },
		{ "1001", "tab\there", "secret1", "", "name" },
		{ "1001", "\xff\xfe", "secret1", "", "name" },
		{ "1001", "\xc0\xaf", "secret1", "", "name" }, /* overlong '/' */
		{ "1001", "", "secret1", "123", "vm_pin" },
		{ "1001", "", "secret1", "12ab", "vm_pin" },
		{ "1001", "", "secret1", "1234567890123", "vm_pin" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(db_ext_validate(bad[i].number, bad[i].name, bad[i].password, bad[i].pin, err,
						 sizeof err),
				 EINVAL);
		assert_true(strncmp(err, bad[i].field, strlen(bad[i].field)) == 0);
	}
	char longname[80];
	memset(longname, 'x', 65);
	longname[65] = '\0';
	assert_int_equal(db_ext_validate("1001", longname, NULL, NULL, err, sizeof err), EINVAL);
	longname[64] = '\0';
	assert_int_equal(db_ext_validate("1001", longname, NULL, NULL, err, sizeof err), 0);
	/* 64 characters of two bytes each are still 64 characters. */
	char umlauts[160] = "";
	for (int i = 0; i < 64; i++)
		strcat(umlauts, "\xc3\xbc");
	assert_int_equal(db_ext_validate("1001", umlauts, NULL, NULL, err, sizeof err), 0);
	assert_int_equal(db_ext_validate("10", "J\xc3\xbcrgen", "pw1000", "", err, sizeof err), 0);
	assert_int_equal(db_ext_validate("123456789012345", "", "p!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "123456789012",
					 err, sizeof err),
			 0);
	/* NULL skips a field. */
	assert_int_equal(db_ext_validate(NULL, NULL, "secret1", NULL, err, sizeof err), 0);

	sqlite3 *db = fresh();
	assert_int_equal(db_ext_add(db, "12x", "", "secret1", "", err, sizeof err), EINVAL);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions"), 0);
	/* The schema refuses bad numbers even from raw SQL. */
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO extensions(number, ha1_md5, ha1_sha256)"
					      " VALUES ('1x', '', '')",
					      NULL, NULL, NULL),
			     SQLITE_OK);
	db_close(db);
}

/* ---- forwarding, DND and options ------------------------------------------------------ */

static void test_migration_from_1(void **state)
{
	(void)state;
	char path[128], err[256];
	sqlite3 *db = open_fresh(path, sizeof path);
	assert_int_equal(db_ext_add(db, "1001", "Ann", "secret1", "1234", err, sizeof err), 0);
	/* Turn the file back into a version 1 one: what an older build left. */
	assert_int_equal(sqlite3_exec(db,
				      "DROP TRIGGER extensions_fts_ai;"
				      "DROP TRIGGER extensions_fts_ad;"
				      "DROP TRIGGER extensions_fts_au;"
				      "DROP TABLE extensions_fts_terms;"
				      "DROP TABLE extensions_fts;"
				      "DROP INDEX extensions_order;"
				      "DROP TRIGGER extensions_mailbox;"
				      "DROP TABLE mailboxes;"
				      "DROP TABLE vm_messages;"
				      "DROP TABLE cdr;"
				      "ALTER TABLE extensions DROP COLUMN fwd_always;"
				      "ALTER TABLE extensions DROP COLUMN fwd_busy;"
				      "ALTER TABLE extensions DROP COLUMN fwd_noanswer;"
				      "ALTER TABLE extensions DROP COLUMN dnd;"
				      "PRAGMA user_version = 1;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	db_close(db);
	assert_int_equal(db_open(path, &db, err, sizeof err), 0);
	assert_int_equal(query_int(db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions WHERE number = '1001' AND name = 'Ann'"
				       " AND vm_pin = '1234' AND fwd_always = '' AND fwd_busy = '' AND fwd_noanswer = ''"
				       " AND dnd = 0"),
			 1);
	assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN"
				       " ('cdr_start', 'cdr_caller', 'cdr_callee')"),
			 3);
	/* No trigger of any kind watches the call history. */
	assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'cdr'"),
			 0);
	db_close(db);
}

static int page_ignore_cb(void *ctx, const struct db_ext *e)
{
	(void)ctx;
	(void)e;
	return 0;
}
/* The schema as text, one line per object (rootpages left out), so that
 * a migrated file can be compared with a fresh one. */
static char *schema_text(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT group_concat(type || ' ' || name || ' ' || tbl_name || ' '"
					    " || ifnull(sql, ''), char(10)) FROM (SELECT * FROM sqlite_master"
					    " ORDER BY type, name)",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	char *s = strdup((const char *)sqlite3_column_text(st, 0));
	assert_non_null(s);
	sqlite3_finalize(st);
	return s;
}

static unsigned search_count(sqlite3 *db, const char *q)
{
	unsigned total = 0;
	assert_int_equal(db_ext_page(db, q, DB_EXT_SORT_NUMBER, false, 100, 0, page_ignore_cb, NULL, &total), 0);
	return total;
}

/* The search index holds one row per extension, under its key, with its
 * number and lowered name padded as migration 6 does, and passes FTS5's
 * own check. */
static void expect_search_index(sqlite3 *db, long long rows)
{
	assert_int_equal(sqlite3_exec(db, "INSERT INTO extensions_fts(extensions_fts) VALUES ('integrity-check')",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions"), rows);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions_fts"), rows);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions e JOIN extensions_fts f"
				       " ON f.rowid = " DB_EXT_FTS_KEY("e.number") " AND f.number = e.number || char(1, 1)"
				       " AND f.name = lower(e.name) || char(1, 1)"),
			 rows);
}

/* Open path (at an older version) as pbxd would, and check that it ends
 * up with exactly the schema of a fresh file. */
static sqlite3 *open_migrated(const char *path)
{
	char err[256];
	sqlite3 *db = NULL;
	assert_int_equal(db_open(path, &db, err, sizeof err), 0);
	assert_int_equal(query_int(db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	sqlite3 *fresh_db = fresh();
	char *want = schema_text(fresh_db), *got = schema_text(db);
	assert_string_equal(got, want);
	free(want);
	free(got);
	db_close(fresh_db);
	return db;
}

/* A version 4 file, as the build before the search index left it and then
 * changed by that build (rows added, renamed, deleted with no index to
 * keep): opening it builds the index from the rows, the schema becomes
 * exactly a fresh file's, and the index stays in step afterwards. */
static void test_migration_from_4(void **state)
{
	(void)state;
	char path[128], err[256];
	sqlite3 *db = open_fresh(path, sizeof path);
	assert_int_equal(db_ext_add(db, "1001", "Ann Lee", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "1002", "BO EK", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "007", "Zoë", "secret1", "", err, sizeof err), 0);
	assert_int_equal(sqlite3_exec(db,
				      "DROP TRIGGER extensions_fts_ai;"
				      "DROP TRIGGER extensions_fts_ad;"
				      "DROP TRIGGER extensions_fts_au;"
				      "DROP TABLE extensions_fts_terms;"
				      "DROP TABLE extensions_fts;"
				      "DROP INDEX extensions_order;"
				      "CREATE INDEX extensions_order ON extensions(length(number), number);"
				      "PRAGMA user_version = 4;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	db_close(db);
	/* What the version 4 build did meanwhile, without the triggers. */
	sqlite3 *raw = NULL;
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw,
				      "INSERT INTO extensions(number, name, ha1_md5, ha1_sha256)"
				      " VALUES ('2001', 'Added By V4', '', '');"
				      "UPDATE extensions SET name = 'Renamed' WHERE number = '1002';"
				      "DELETE FROM extensions WHERE number = '1001';",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(query_int(raw, "PRAGMA user_version"), 4);
	sqlite3_close(raw);

	db = open_migrated(path);
	expect_search_index(db, 3);
	/* Searches of 2 characters or more read the index. */
	assert_int_equal(search_count(db, "added by"), 1);
	assert_int_equal(search_count(db, "RENAMED"), 1);
	assert_int_equal(search_count(db, "BO EK"), 0);
	assert_int_equal(search_count(db, "Ann"), 0);
	assert_int_equal(search_count(db, "zoë"), 1);
	assert_int_equal(search_count(db, "oË"), 0);
	assert_int_equal(search_count(db, "007"), 1);
	assert_int_equal(search_count(db, "200"), 1);
	assert_int_equal(search_count(db, "ed"), 2);
	assert_int_equal(search_count(db, "07"), 1);
	/* ...and follow the writes after the migration. */
	assert_int_equal(db_ext_update(db, "2001", "Ann Again", NULL, NULL, NULL, err, sizeof err), 0);
	assert_int_equal(search_count(db, "ann a"), 1);
	assert_int_equal(search_count(db, "added"), 0);
	expect_search_index(db, 3);
	db_close(db);
}

/* A version 5 file (the index without migration 6's padding, which
 * searches of 2 characters need for the last pair of a name) gets its
 * index rebuilt, rows written at version 5 included. */
static void test_migration_from_5(void **state)
{
	(void)state;
	char path[128], err[256];
	sqlite3 *db = open_fresh(path, sizeof path);
	assert_int_equal(db_ext_add(db, "1001", "Ann Lee", "secret1", "", err, sizeof err), 0);
	/* Version 5: no term list, no padding, triggers that do not pad. */
	assert_int_equal(sqlite3_exec(db,
				      "DROP TABLE extensions_fts_terms;"
				      "UPDATE extensions_fts SET number = rtrim(number, char(1)),"
				      " name = rtrim(name, char(1));"
				      "DROP TRIGGER extensions_fts_ai;"
				      "CREATE TRIGGER extensions_fts_ai AFTER INSERT ON extensions BEGIN"
				      " INSERT OR REPLACE INTO extensions_fts(rowid, number, name)"
				      " VALUES (" DB_EXT_FTS_KEY("NEW.number") ", NEW.number, lower(NEW.name)); END;"
				      "PRAGMA user_version = 5;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	db_close(db);
	sqlite3 *raw = NULL;
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw,
				      "INSERT INTO extensions(number, name, ha1_md5, ha1_sha256)"
				      " VALUES ('2001', 'Bo Ek', '', '');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(query_int(raw, "SELECT count(*) FROM extensions_fts WHERE name = 'bo ek'"), 1);
	sqlite3_close(raw);

	db = open_migrated(path);
	expect_search_index(db, 2);
	/* The last pair of a name or number, found only with the padding. */
	assert_int_equal(search_count(db, "ee"), 1);
	assert_int_equal(search_count(db, "EK"), 1);
	assert_int_equal(search_count(db, "01"), 2);
	assert_int_equal(search_count(db, "bo ek"), 1);
	db_close(db);
}

struct fwd_seen {
	char number[16], always[16], busy[16], noanswer[16];
	bool dnd;
	unsigned flags;
	int ring_time;
	int calls;
};

static int fwd_seen_cb(void *ctx, const struct db_ext *e)
{
	struct fwd_seen *s = ctx;
	snprintf(s->number, sizeof s->number, "%s", e->number);
	snprintf(s->always, sizeof s->always, "%s", e->fwd_always);
	snprintf(s->busy, sizeof s->busy, "%s", e->fwd_busy);
	snprintf(s->noanswer, sizeof s->noanswer, "%s", e->fwd_noanswer);
	s->dnd = e->dnd;
	s->flags = e->flags;
	s->ring_time = e->ring_time;
	s->calls++;
	return 0;
}

static void test_forwarding(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[160];
	assert_int_equal(db_ext_add(db, "1001", "", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "1002", "", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "1003", "", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_room_add(db, "800", "", NULL, NULL, 0, err, sizeof err), 0);

	struct db_fwd f;
	assert_int_equal(db_ext_get_fwd(db, "1001", &f), 0);
	assert_string_equal(f.always, "");
	assert_string_equal(f.busy, "");
	assert_string_equal(f.noanswer, "");
	assert_false(f.dnd);
	assert_int_equal(db_ext_get_fwd(db, "4444", &f), ENOENT);
	assert_int_equal(db_ext_get_fwd(db, "x'--", &f), ENOENT);

	/* A forwarding change is a configuration change. */
	int64_t s0, s1;
	assert_int_equal(db_config_serial(db, &s0), 0);
	f = (struct db_fwd){ .always = "", .busy = "1002", .noanswer = "1003", .dnd = true };
	assert_int_equal(db_ext_set_fwd(db, "1001", &f, err, sizeof err), 0);
	assert_int_equal(db_config_serial(db, &s1), 0);
	assert_true(s1 > s0);
	struct db_fwd g;
	assert_int_equal(db_ext_get_fwd(db, "1001", &g), 0);
	assert_memory_equal(&f, &g, sizeof f);

	/* All or nothing, the first bad field named. */
	static const struct {
		const char *number, *always, *busy, *noanswer, *field;
		int rc;
	} bad[] = {
		{ "1001", "1001", "", "", "fwd_always", EINVAL },     /* itself */
		{ "1001", "", "4444", "", "fwd_busy", EINVAL },       /* not an extension */
		{ "1001", "", "", "800", "fwd_noanswer", EINVAL },    /* a room */
		{ "1001", "1002", "", "12a", "fwd_noanswer", EINVAL }, /* not digits */
		{ "1001", "", "1", "", "fwd_busy", EINVAL },          /* too short */
		{ "1001", "'; DROP TABLE x", "", "", "fwd_always", EINVAL },
		{ "4444", "1002", "", "", "extension", ENOENT },      /* unknown extension */
		{ "44x", "1002", "", "", "extension", ENOENT },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct db_fwd b = { .dnd = false };
		snprintf(b.always, sizeof b.always, "%s", bad[i].always);
		snprintf(b.busy, sizeof b.busy, "%s", bad[i].busy);
		snprintf(b.noanswer, sizeof b.noanswer, "%s", bad[i].noanswer);
		err[0] = '\0';
		assert_int_equal(db_ext_set_fwd(db, bad[i].number, &b, err, sizeof err), bad[i].rc);
		if (strncmp(err, bad[i].field, strlen(bad[i].field)) != 0)
			fprintf(stderr, "case %zu: %s\n", i, err);
		assert_true(strncmp(err, bad[i].field, strlen(bad[i].field)) == 0);
		assert_int_equal(db_ext_get_fwd(db, "1001", &g), 0);
		assert_memory_equal(&f, &g, sizeof f);
	}
	/* A target field that is not terminated is refused, not read past. */
	struct db_fwd unterminated = f;
	memset(unterminated.busy, '7', sizeof unterminated.busy);
	assert_int_equal(db_ext_set_fwd(db, "1001", &unterminated, err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "fwd_busy"));

	/* One rule at a time (feature codes). */
	assert_int_equal(db_ext_set_fwd_one(db, "1001", DB_FWD_ALWAYS, "1003", err, sizeof err), 0);
	assert_int_equal(db_ext_set_fwd_one(db, "1001", DB_FWD_BUSY, NULL, err, sizeof err), 0);
	assert_int_equal(db_ext_set_fwd_one(db, "1001", DB_FWD_NOANSWER, "1001", err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "fwd_noanswer"));
	assert_int_equal(db_ext_set_fwd_one(db, "1001", (enum db_fwd_kind)3, "1002", err, sizeof err), EINVAL);
	assert_int_equal(db_ext_set_fwd_one(db, "4444", DB_FWD_BUSY, "1002", err, sizeof err), ENOENT);
	assert_int_equal(db_ext_get_fwd(db, "1001", &g), 0);
	assert_string_equal(g.always, "1003");
	assert_string_equal(g.busy, "");
	assert_string_equal(g.noanswer, "1003");
	assert_true(g.dnd);
	assert_int_equal(db_ext_set_dnd(db, "1001", false), 0);
	assert_int_equal(db_ext_set_dnd(db, "4444", true), ENOENT);
	assert_int_equal(db_ext_set_dnd(db, "", true), ENOENT);
	assert_int_equal(db_ext_get_fwd(db, "1001", &g), 0);
	assert_false(g.dnd);
	assert_string_equal(db_fwd_kind_name(DB_FWD_NOANSWER), "fwd_noanswer");
	assert_null(db_fwd_kind_name((enum db_fwd_kind)3));

	/* Deleting the target leaves the rule (the core skips it); the
	 * listing shows it. */
	assert_int_equal(db_ext_del(db, "1003"), 0);
	struct fwd_seen s = { 0 };
	assert_int_equal(db_ext_get(db, "1001", fwd_seen_cb, &s), 0);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.always, "1003");
	assert_string_equal(s.noanswer, "1003");
	assert_int_equal(db_ext_get(db, "1003", fwd_seen_cb, &s), ENOENT);
	assert_int_equal(db_ext_get(db, "abc", fwd_seen_cb, &s), ENOENT);
	assert_int_equal(s.calls, 1);
	/* The schema refuses a malformed target from raw SQL too. */
	assert_int_not_equal(sqlite3_exec(db, "UPDATE extensions SET fwd_busy = 'x' WHERE number = '1001'", NULL, NULL,
					  NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE extensions SET dnd = 2 WHERE number = '1001'", NULL, NULL, NULL),
			     SQLITE_OK);
	db_close(db);
}

static void test_options(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[160];
	assert_int_equal(db_ext_add(db, "1001", "", "secret1", "", err, sizeof err), 0);
	struct fwd_seen s = { 0 };
	assert_int_equal(db_ext_get(db, "1001", fwd_seen_cb, &s), 0);
	assert_int_equal(s.flags, 0);
	assert_int_equal(s.ring_time, DB_RING_TIME_DEFAULT);

	unsigned flags = EXT_F_REDIRECT | EXT_F_REQUIRE_SRTP;
	int ring = DB_RING_TIME_MAX;
	assert_int_equal(db_ext_update(db, "1001", NULL, NULL, &flags, &ring, err, sizeof err), 0);
	assert_int_equal(db_ext_get(db, "1001", fwd_seen_cb, &s), 0);
	assert_int_equal(s.flags, EXT_F_REDIRECT | EXT_F_REQUIRE_SRTP);
	assert_int_equal(s.ring_time, DB_RING_TIME_MAX);
	ring = DB_RING_TIME_MIN;
	assert_int_equal(db_ext_update(db, "1001", NULL, NULL, NULL, &ring, err, sizeof err), 0);

	static const int bad_rings[] = { DB_RING_TIME_MIN - 1, DB_RING_TIME_MAX + 1, 0, -1 };
	for (size_t i = 0; i < sizeof bad_rings / sizeof bad_rings[0]; i++) {
		ring = bad_rings[i];
		assert_int_equal(db_ext_update(db, "1001", NULL, NULL, NULL, &ring, err, sizeof err), EINVAL);
		assert_true(strncmp(err, "ring_time:", 10) == 0);
	}
	flags = 0x4;
	assert_int_equal(db_ext_update(db, "1001", NULL, NULL, &flags, NULL, err, sizeof err), EINVAL);
	assert_true(strncmp(err, "flags:", 6) == 0);
	assert_int_equal(db_ext_get(db, "1001", fwd_seen_cb, &s), 0);
	assert_int_equal(s.flags, EXT_F_REDIRECT | EXT_F_REQUIRE_SRTP);
	assert_int_equal(s.ring_time, DB_RING_TIME_MIN);
	db_close(db);
}

static void test_room_flags(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[200];
	unsigned f = 99;
	assert_int_equal(db_room_flags_parse("announce,join-muted", &f, err, sizeof err), 0);
	assert_int_equal(f, ROOM_F_ANNOUNCE | ROOM_F_JOIN_MUTED);
	assert_int_equal(db_room_flags_parse("", &f, err, sizeof err), 0);
	assert_int_equal(f, 0);
	assert_int_equal(db_room_flags_parse("announce,<script>", &f, err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "<script>"));
	assert_int_equal(db_room_add(db, "800", "Team", NULL, NULL, 0, err, sizeof err), 0);
	assert_int_equal(db_room_set_flags(db, "800", ROOM_F_WAIT_MODERATOR | ROOM_F_END_WITH_MODERATOR), 0);
	assert_int_equal(query_int(db, "SELECT flags FROM rooms WHERE number = '800'"),
			 ROOM_F_WAIT_MODERATOR | ROOM_F_END_WITH_MODERATOR);
	assert_int_equal(db_room_set_flags(db, "801", ROOM_F_ANNOUNCE), ENOENT);
	assert_int_equal(db_room_set_flags(db, "800", 0x100), EINVAL);
	sqlite3_close(db);
}

static void test_rooms_and_collisions(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[160];
	assert_int_equal(db_room_add(db, "800", "Team", "1111", "2222", 0, err, sizeof err), 0);
	assert_int_equal(db_room_add(db, "800", "Again", NULL, NULL, 0, err, sizeof err), EEXIST);
	assert_int_equal(db_ext_add(db, "800", "", "secret1", "", err, sizeof err), EEXIST);
	assert_int_equal(db_ext_add(db, "1001", "", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_room_add(db, "1001", "", NULL, NULL, 0, err, sizeof err), EEXIST);
	assert_int_equal(db_room_add(db, "801", "", "123", NULL, 0, err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "pin"));
	assert_int_equal(db_room_add(db, "801", "", NULL, NULL, 501, err, sizeof err), EINVAL);
	assert_int_equal(db_room_add(db, "801", "", "1111", "1111", 0, err, sizeof err), EINVAL);
	/* The triggers hold the line for writers that skip our checks. */
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO rooms(number) VALUES ('1001')", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO extensions(number, ha1_md5, ha1_sha256)"
					      " VALUES ('800', 'a', 'b')",
					      NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_equal(query_int(db, "SELECT max_participants FROM rooms WHERE number = '800'"), 50);
	int64_t s0, s1;
	assert_int_equal(db_config_serial(db, &s0), 0);
	assert_int_equal(db_room_del(db, "800"), 0);
	assert_int_equal(db_config_serial(db, &s1), 0);
	assert_true(s1 > s0);
	assert_int_equal(db_room_del(db, "800"), ENOENT);
	assert_int_equal(db_ext_add(db, "800", "", "secret1", "", err, sizeof err), 0);
	db_close(db);
}

/* ---- CSV import ----------------------------------------------------------------- */

struct report_ctx {
	unsigned lines[16];
	char msgs[16][256];
	unsigned n;
};

static void report_cb(void *ctx, unsigned line, const char *msg)
{
	struct report_ctx *r = ctx;
	if (r->n < 16) {
		r->lines[r->n] = line;
		snprintf(r->msgs[r->n], sizeof r->msgs[r->n], "%s", msg);
	}
	r->n++;
}

static int import_text(sqlite3 *db, const char *text, size_t len, struct report_ctx *r, unsigned *imported)
{
	FILE *f = fmemopen((void *)text, len, "r");
	assert_non_null(f);
	memset(r, 0, sizeof *r);
	int rc = db_ext_import_csv(db, f, report_cb, r, imported);
	fclose(f);
	return rc;
}

static int import_str(sqlite3 *db, const char *text, struct report_ctx *r, unsigned *imported)
{
	return import_text(db, text, strlen(text), r, imported);
}

/* "extension,name,password,vm_pin" and rows first..first+n-1. */
static char *make_csv(unsigned first, unsigned n, size_t *len)
{
	size_t cap = 64 + (size_t)n * 64;
	char *buf = malloc(cap);
	assert_non_null(buf);
	size_t w = (size_t)snprintf(buf, cap, "extension,name,password,vm_pin\n");
	for (unsigned i = 0; i < n; i++)
		w += (size_t)snprintf(buf + w, cap - w, "%u,User %u,pw%u,%s\n", first + i, first + i, first + i,
				      i % 2 ? "1234" : "");
	*len = w;
	return buf;
}

static void test_csv_thousand_rows(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	size_t len;
	char *csv = make_csv(1000, 1000, &len);
	struct report_ctx r;
	unsigned imported = 0;
	int64_t s0, s1;
	assert_int_equal(db_config_serial(db, &s0), 0);
	assert_int_equal(import_text(db, csv, len, &r, &imported), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(imported, 1000);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions"), 1000);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions WHERE vm_pin = '1234'"), 500);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions WHERE name = 'User 1999'"), 1);
	assert_int_equal(db_config_serial(db, &s1), 0);
	assert_true(s1 > s0);
	/* The same file again: every row already exists, nothing changes. */
	assert_int_equal(import_text(db, csv, len, &r, &imported), EBADMSG);
	assert_int_equal(imported, 0);
	assert_int_equal(r.n, 1000);
	assert_int_equal(r.lines[0], 2);
	assert_non_null(strstr(r.msgs[0], "already exists"));
	free(csv);
	db_close(db);
}

static void test_csv_ten_thousand_fast(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	size_t len;
	char *csv = make_csv(100000, 10000, &len);
	struct report_ctx r;
	unsigned imported = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(import_text(db, csv, len, &r, &imported), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "csv: 10000 rows imported in %.3f s\n", secs);
	assert_int_equal(imported, 10000);
	/* Generous for sanitizer builds; a plain build takes a small fraction. */
	assert_true(secs < 5.0);
	free(csv);
	db_close(db);
}

static void test_csv_bad_rows_all_or_nothing(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	struct report_ctx r;
	unsigned imported = 99;
	const char *csv = "extension,name,password,vm_pin\n"
			  "2001,Good,secret1,\n"
			  "2002,Bad pin,secret2,12\n" /* line 3 */
			  "2003,Good,secret3,1234\n"
			  "20x4,Bad number,secret4,\n"; /* line 5 */
	assert_int_equal(import_str(db, csv, &r, &imported), EBADMSG);
	assert_int_equal(imported, 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.lines[0], 3);
	assert_non_null(strstr(r.msgs[0], "vm_pin"));
	assert_int_equal(r.lines[1], 5);
	assert_non_null(strstr(r.msgs[1], "extension"));
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions"), 0);

	/* Duplicates within the file, a too-long row, a short row, an existing number. */
	char err[160];
	assert_int_equal(db_ext_add(db, "3000", "", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_room_add(db, "3001", "", NULL, NULL, 0, err, sizeof err), 0);
	csv = "extension,password\n"
	      "3002,secret1\n"
	      "3002,secret2\n"   /* line 3 */
	      "3003,secret3,x\n" /* line 4 */
	      "3004\n"           /* line 5 */
	      "3000,secret5\n"   /* line 6 */
	      "3001,secret6\n";  /* line 7 */
	assert_int_equal(import_str(db, csv, &r, &imported), EBADMSG);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.lines[0], 3);
	assert_non_null(strstr(r.msgs[0], "line 2"));
	assert_int_equal(r.lines[1], 4);
	assert_non_null(strstr(r.msgs[1], "too many columns"));
	assert_int_equal(r.lines[2], 5);
	assert_int_equal(r.lines[3], 6);
	assert_non_null(strstr(r.msgs[3], "already exists"));
	assert_int_equal(r.lines[4], 7);
	assert_non_null(strstr(r.msgs[4], "room"));
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions"), 1);
	db_close(db);
}

static void test_csv_quoting_bom_crlf(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	struct report_ctx r;
	unsigned imported = 0;
	/* BOM, CRLF, columns in another order, quotes with commas and "" escapes,
	 * a blank line, no newline at the end. */
	const char *csv = "\xef\xbb\xbfpassword,Extension,name,vm_pin\r\n"
			  "\"se,cret1\",4001,\"Smith, John \"\"JJ\"\"\",\"1234\"\r\n"
			  "\r\n"
			  "secret2,4002,  Spaced  ,\r\n"
			  "secret3,4003,\"\",";
	assert_int_equal(import_str(db, csv, &r, &imported), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(imported, 3);
	char v[128];
	query_text(db, "SELECT name FROM extensions WHERE number = '4001'", v, sizeof v);
	assert_string_equal(v, "Smith, John \"JJ\"");
	query_text(db, "SELECT vm_pin FROM extensions WHERE number = '4001'", v, sizeof v);
	assert_string_equal(v, "1234");
	query_text(db, "SELECT name FROM extensions WHERE number = '4002'", v, sizeof v);
	assert_string_equal(v, "Spaced");
	/* The password with a comma was hashed whole. */
	char md5[33], sha[65];
	db_ha1("4001", "pbx", "se,cret1", md5, sha);
	query_text(db, "SELECT ha1_md5 FROM extensions WHERE number = '4001'", v, sizeof v);
	assert_string_equal(v, md5);

	/* Broken quoting. */
	csv = "extension,password\n"
	      "4101,\"unterminated\n"
	      "4102,\"ok\"junk\n"
	      "4103,in\"side\n";
	assert_int_equal(import_str(db, csv, &r, &imported), EBADMSG);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.lines[0], 2);
	assert_non_null(strstr(r.msgs[0], "unterminated"));
	assert_int_equal(r.lines[1], 3);
	assert_int_equal(r.lines[2], 4);
	db_close(db);
}

static void test_csv_long_line_and_headers(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	struct report_ctx r;
	unsigned imported = 0;
	size_t cap = DB_CSV_LINE_MAX * 2 + 200;
	char *csv = malloc(cap);
	assert_non_null(csv);
	size_t w = (size_t)snprintf(csv, cap, "extension,name,password\n5001,ok,secret1\n5002,");
	memset(csv + w, 'n', DB_CSV_LINE_MAX);
	w += DB_CSV_LINE_MAX;
	w += (size_t)snprintf(csv + w, cap - w, ",secret2\n5003,ok,secret3\n");
	assert_int_equal(import_text(db, csv, w, &r, &imported), EBADMSG);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.lines[0], 3);
	assert_non_null(strstr(r.msgs[0], "longer than"));
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions"), 0);
	free(csv);

	static const char *bad_headers[] = {
		"extension,name,password,vm_pin,extra\n1,2,3,4,5\n",
		"extension,name,vm_pin\n",
		"extension,password,password\n",
		"number,password\n",
		"",
		"\n\n",
	};
	for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
		assert_int_equal(import_str(db, bad_headers[i], &r, &imported), EBADMSG);
		assert_true(r.n >= 1);
		assert_int_equal(imported, 0);
	}
	/* A header alone imports nothing, successfully. */
	assert_int_equal(import_str(db, "extension,name,password,vm_pin\n", &r, &imported), 0);
	assert_int_equal(imported, 0);
	/* A NUL byte inside a row. */
	static const char nul[] = "extension,password\n6001,sec\0ret1\n";
	assert_int_equal(import_text(db, nul, sizeof nul - 1, &r, &imported), EBADMSG);
	assert_int_equal(r.lines[0], 2);
	db_close(db);
}

/* ---- location --------------------------------------------------------------------- */

struct loc_ctx {
	struct db_binding b[8];
	int n;
};

static int loc_cb(void *ctx, const struct db_binding *b)
{
	struct loc_ctx *l = ctx;
	if (l->n >= 8)
		return -1;
	l->b[l->n++] = *b;
	return 0;
}

static struct db_binding binding(const char *aor, const char *contact, int64_t expires_at)
{
	struct db_binding b;
	memset(&b, 0, sizeof b);
	snprintf(b.aor, sizeof b.aor, "%s", aor);
	snprintf(b.contact, sizeof b.contact, "%s", contact);
	snprintf(b.received, sizeof b.received, "[2001:db8::1]:5062");
	snprintf(b.transport, sizeof b.transport, "udp");
	snprintf(b.local, sizeof b.local, "192.0.2.1:5060");
	snprintf(b.call_id, sizeof b.call_id, "cid-%s", contact);
	b.cseq = 4000000000u;
	b.expires_at = expires_at;
	b.q = 0.5;
	snprintf(b.user_agent, sizeof b.user_agent, "baresip");
	snprintf(b.instance, sizeof b.instance, "<urn:uuid:1>");
	b.reg_id = 1;
	return b;
}

static void test_location(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	int64_t now = 1700000000;
	struct db_binding b1 = binding("1001", "sip:1001@10.0.0.1:5062", now + 100);
	struct db_binding b2 = binding("1001", "sip:1001@10.0.0.2:5062", now + 200);
	struct db_binding b3 = binding("1002", "sip:1002@10.0.0.3:5062", now - 1);
	assert_int_equal(db_location_put(db, &b1), 0);
	assert_int_equal(db_location_put(db, &b2), 0);
	assert_int_equal(db_location_put(db, &b3), 0);
	/* Upsert: the same aor and contact replace the row. */
	b1.cseq = 7;
	b1.expires_at = now + 300;
	assert_int_equal(db_location_put(db, &b1), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM location"), 3);
	int64_t s0, s1;
	assert_int_equal(db_config_serial(db, &s0), 0);

	struct loc_ctx l = { .n = 0 };
	assert_int_equal(db_location_load(db, now, loc_cb, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.b[0].contact, b1.contact);
	assert_int_equal(l.b[0].cseq, 7);
	assert_int_equal(l.b[0].expires_at, now + 300);
	assert_string_equal(l.b[0].received, "[2001:db8::1]:5062");
	assert_string_equal(l.b[0].local, "192.0.2.1:5060");
	assert_string_equal(l.b[0].instance, "<urn:uuid:1>");
	assert_true(l.b[0].q > 0.49 && l.b[0].q < 0.51);
	assert_int_equal(l.b[1].cseq, 4000000000u);
	/* The expired one is gone from the file too. */
	assert_int_equal(query_int(db, "SELECT count(*) FROM location WHERE aor = '1002'"), 0);
	/* Registrations are not configuration. */
	assert_int_equal(db_config_serial(db, &s1), 0);
	assert_int_equal(s1, s0);

	/* A malformed row (too long to fit) is skipped, the rest still load. */
	assert_int_equal(sqlite3_exec(db, "INSERT INTO location(aor, contact, expires_at)"
					  " VALUES ('1003', 'sip:x', 1800000000),"
					  " ('" "123456789012345678901234567890123456789" "', 'sip:y', 1800000000)",
					  NULL, NULL, NULL),
			 SQLITE_OK);
	l.n = 0;
	assert_int_equal(db_location_load(db, now, loc_cb, &l), 0);
	assert_int_equal(l.n, 3);

	assert_int_equal(db_location_del(db, "1001", b2.contact), 0);
	assert_int_equal(db_location_del(db, "1001", b2.contact), ENOENT);
	assert_int_equal(db_location_del(db, "1003", NULL), 0);
	assert_int_equal(db_location_del(db, "1003", NULL), ENOENT);
	l.n = 0;
	assert_int_equal(db_location_load(db, now, loc_cb, &l), 0);
	assert_int_equal(l.n, 1);
	/* Later, everything has expired. */
	l.n = 0;
	assert_int_equal(db_location_load(db, now + 1000000000, loc_cb, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM location"), 0);

	struct db_binding empty = binding("", "sip:z", now + 10);
	assert_int_equal(db_location_put(db, &empty), EINVAL);
	db_close(db);
}

/* ---- admins ------------------------------------------------------------------------- */

static void test_admins(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[160];
	int n = -1;
	bool ok = true;
	assert_int_equal(db_admin_count(db, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(db_admin_set_password(db, "admin", "short", err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "password"));
	assert_int_equal(db_admin_set_password(db, "bad user", "long enough", err, sizeof err), EINVAL);
	assert_int_equal(db_admin_set_password(db, "admin", "correct horse", err, sizeof err), 0);
	assert_int_equal(db_admin_count(db, &n), 0);
	assert_int_equal(n, 1);

	char hash[256];
	query_text(db, "SELECT pw_hash FROM admins WHERE username = 'admin'", hash, sizeof hash);
	assert_true(strncmp(hash, "$y$", 3) == 0);
	assert_null(strstr(hash, "correct horse"));

	assert_int_equal(db_admin_check(db, "admin", "correct horse", &ok), 0);
	assert_true(ok);
	assert_int_equal(db_admin_check(db, "admin", "correct horsE", &ok), 0);
	assert_false(ok);
	assert_int_equal(db_admin_check(db, "nobody", "correct horse", &ok), 0);
	assert_false(ok);
	assert_int_equal(db_admin_check(db, "admin", "", &ok), 0);
	assert_false(ok);

	/* Changing the password replaces the hash; a fresh salt each time. */
	assert_int_equal(db_admin_set_password(db, "admin", "correct horse", err, sizeof err), 0);
	char hash2[256];
	query_text(db, "SELECT pw_hash FROM admins WHERE username = 'admin'", hash2, sizeof hash2);
	assert_string_not_equal(hash, hash2);
	assert_int_equal(db_admin_set_password(db, "admin", "battery staple", err, sizeof err), 0);
	assert_int_equal(db_admin_check(db, "admin", "correct horse", &ok), 0);
	assert_false(ok);
	assert_int_equal(db_admin_check(db, "admin", "battery staple", &ok), 0);
	assert_true(ok);
	assert_int_equal(db_admin_count(db, &n), 0);
	assert_int_equal(n, 1);

	/* A broken hash in the table is a refusal, not a crash. */
	assert_int_equal(sqlite3_exec(db, "INSERT INTO admins(username, pw_hash) VALUES ('broken', 'zz')", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(db_admin_check(db, "broken", "zz", &ok), 0);
	assert_false(ok);
	assert_int_equal(db_admin_del(db, "broken"), 0);
	assert_int_equal(db_admin_del(db, "broken"), ENOENT);
	db_close(db);
}

static void test_transactions_group(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[160];
	/* Calls inside the caller's transaction join it, so a rollback undoes all. */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_ext_add(db, "7001", "", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_room_add(db, "7002", "", NULL, NULL, 0, err, sizeof err), 0);
	db_rollback(db);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions"), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM rooms"), 0);

	/* A failing import inside a caller's transaction leaves the caller's own work. */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_ext_add(db, "7001", "", "secret1", "", err, sizeof err), 0);
	struct report_ctx r;
	unsigned imported;
	assert_int_equal(import_str(db, "extension,password\n7003,secret1\n7004,x\n", &r, &imported), EBADMSG);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions"), 1);

	/* A second connection sees committed data (WAL, one connection per thread). */
	char path[128];
	snprintf(path, sizeof path, "%s/t%u.db", tmpdir, db_seq);
	sqlite3 *db2 = NULL;
	assert_int_equal(db_open(path, &db2, err, sizeof err), 0);
	assert_int_equal(query_int(db2, "SELECT count(*) FROM extensions"), 1);
	db_close(db2);
	db_close(db);
}

/* Two threads, each with its own connection, writing at once: with
 * BEGIN IMMEDIATE and busy_timeout neither may see EBUSY. */
struct writer {
	const char *path;
	unsigned base;
	int failures;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	sqlite3 *db = NULL;
	char err[256];
	if (db_open(w->path, &db, err, sizeof err) != 0) {
		w->failures++;
		return NULL;
	}
	for (unsigned i = 0; i < 100; i++) {
		char num[16];
		snprintf(num, sizeof num, "%u", w->base + i);
		if (db_ext_add(db, num, "", "secret1", "", err, sizeof err) != 0)
			w->failures++;
		struct db_binding b = binding(num, "sip:x@192.0.2.9", 1900000000);
		if (db_location_put(db, &b) != 0)
			w->failures++;
	}
	db_close(db);
	return NULL;
}

static void test_concurrent_writers(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = open_fresh(path, sizeof path);
	struct writer w[2] = { { path, 10000, 0 }, { path, 20000, 0 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(w[0].failures, 0);
	assert_int_equal(w[1].failures, 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions"), 200);
	assert_int_equal(query_int(db, "SELECT count(*) FROM location"), 200);
	db_close(db);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_db.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* Libraries that keep process-wide state allocate it on first use:
	 * do that here so that the per-test leak check sees only our memory. */
	sqlite3_initialize();
	uint8_t b[4];
	gnutls_rnd(GNUTLS_RND_KEY, b, sizeof b);
	gnutls_rnd(GNUTLS_RND_NONCE, b, sizeof b);
	log_set_level(LOG_ERR);
	sqlite3 *db = fresh();
	db_close(db);
	/* glibc gives new threads their own malloc arenas, which stay after
	 * the threads end; make them now for test_concurrent_writers. */
	char path[128];
	snprintf(path, sizeof path, "%s/t%u.db", tmpdir, db_seq);
	struct writer w[2] = { { path, 30000, 0 }, { path, 40000, 0 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, writer_main, &w[i]) != 0)
			return -1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	return w[0].failures || w[1].failures ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	(void)argc;
	/* glibc's per-thread malloc cache holds freed chunks that mallinfo2
	 * counts as in use, which makes unit.h's leak check see phantom leaks
	 * in allocation-heavy tests (SQLite). Run without it; not under
	 * valgrind, whose exec would escape it (and which checks leaks itself). */
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_open_migrates_and_reopens),
		UNIT_TEST(test_open_missing_folder),
		UNIT_TEST(test_settings),
		UNIT_TEST(test_ext_add_list_del),
		UNIT_TEST(test_ext_validation),
		UNIT_TEST(test_migration_from_1),
		UNIT_TEST(test_migration_from_4),
		UNIT_TEST(test_migration_from_5),
		UNIT_TEST(test_forwarding),
		UNIT_TEST(test_options),
		UNIT_TEST(test_rooms_and_collisions),
		UNIT_TEST(test_room_flags),
		UNIT_TEST(test_csv_thousand_rows),
		UNIT_TEST(test_csv_ten_thousand_fast),
		UNIT_TEST(test_csv_bad_rows_all_or_nothing),
		UNIT_TEST(test_csv_quoting_bom_crlf),
		UNIT_TEST(test_csv_long_line_and_headers),
		UNIT_TEST(test_location),
		UNIT_TEST(test_admins),
		UNIT_TEST(test_transactions_group),
		UNIT_TEST(test_concurrent_writers),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
