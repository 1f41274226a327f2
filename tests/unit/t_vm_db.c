/*
 * t_vm_db.c: voicemail storage against real SQLite files in a private
 * temporary folder: migration 3 (a mailbox for every extension, created,
 * backfilled and removed with it), the setting checks, mailbox settings and
 * PIN, and the message rows (add, list order, folders, heard, delete with
 * the file name handed back, email status, counts, the max_messages limit,
 * one mailbox never reaching another's messages).
 */
#include "unit.h"

#include "db.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>

static char tmpdir[64];
static unsigned db_seq;

static sqlite3 *open_path(const char *path)
{
	sqlite3 *db = NULL;
	char err[256];
	int rc = db_open(path, &db, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "db_open: %s\n", err);
	assert_int_equal(rc, 0);
	return db;
}

static sqlite3 *fresh_at(char *path, size_t cap)
{
	snprintf(path, cap, "%s/v%u.db", tmpdir, ++db_seq);
	return open_path(path);
}

static sqlite3 *fresh(void)
{
	char path[128];
	return fresh_at(path, sizeof path);
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

static void add_ext(sqlite3 *db, const char *number, const char *pin)
{
	char err[256];
	int rc = db_ext_add(db, number, "", "secret1", pin, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "db_ext_add: %s\n", err);
	assert_int_equal(rc, 0);
}

static struct db_vm_msg msg(const char *mailbox, const char *caller, int64_t at, const char *file)
{
	struct db_vm_msg m = { .folder = DB_VM_NEW, .received_at = at, .duration_ms = 4200 };
	snprintf(m.mailbox, sizeof m.mailbox, "%s", mailbox);
	snprintf(m.caller, sizeof m.caller, "%s", caller);
	snprintf(m.file, sizeof m.file, "%s", file);
	return m;
}

/* ---- schema ------------------------------------------------------------------------ */

static void test_schema_version_and_mailbox_per_extension(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	assert_true(DB_SCHEMA_VERSION >= 3);
	assert_int_equal(query_int(db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	assert_int_equal(query_int(db, "SELECT count(*) FROM mailboxes"), 0);
	add_ext(db, "1001", "4321");
	add_ext(db, "1002", "");

	struct db_mailbox m;
	assert_int_equal(db_vm_mailbox_get(db, "1001", &m), 0);
	assert_string_equal(m.number, "1001");
	assert_string_equal(m.pin, "4321");
	assert_string_equal(m.email, "");
	assert_true(m.email_attach);
	assert_int_equal(m.max_msg_seconds, DB_VM_MSG_SECONDS_DEFAULT);
	assert_int_equal(m.max_messages, DB_VM_MESSAGES_DEFAULT);
	assert_false(m.unsolicited_mwi);
	assert_int_equal(m.vm_on, DB_VM_ON_ALL);
	for (int k = 0; k < DB_VM_GREETING_COUNT; k++)
		assert_string_equal(m.greeting[k], "");

	assert_int_equal(db_vm_mailbox_get(db, "1003", &m), ENOENT);
	assert_int_equal(db_vm_mailbox_get(db, "x", &m), ENOENT);

	/* The mailbox goes with its extension; a re-created one starts afresh. */
	struct db_mailbox set = m;
	assert_int_equal(db_vm_mailbox_get(db, "1002", &set), 0);
	set.max_messages = 7;
	char err[128];
	assert_int_equal(db_vm_mailbox_set(db, &set, err, sizeof err), 0);
	assert_int_equal(db_ext_del(db, "1002"), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM mailboxes WHERE number = '1002'"), 0);
	add_ext(db, "1002", "");
	assert_int_equal(db_vm_mailbox_get(db, "1002", &m), 0);
	assert_int_equal(m.max_messages, DB_VM_MESSAGES_DEFAULT);

	/* Raw SQL cannot make a mailbox for a number that is no extension. */
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO mailboxes(number) VALUES ('1999')", NULL, NULL, NULL),
			     SQLITE_OK);
	/* ... nor a message in a folder other than new and old. */
	assert_int_not_equal(sqlite3_exec(db,
					  "INSERT INTO vm_messages(mailbox, folder, caller, received_at, duration_ms,"
					  " file) VALUES ('1001', 'trash', '1002', 1, 1, 'f')",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
				       " AND name = 'vm_messages_box'"),
			 1);
	db_close(db);
}

/* A file an older build left at version 2 with extensions in it: opening it
 * adds the tables and a mailbox for each extension, keeping the PINs. */
static void test_migration_from_2_backfills(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = fresh_at(path, sizeof path);
	add_ext(db, "2001", "1111");
	add_ext(db, "2002", "");
	assert_int_equal(sqlite3_exec(db,
				      "DROP INDEX extensions_order;"
				      "DROP TRIGGER extensions_mailbox;"
				      "DROP TABLE mailboxes;"
				      "DROP TABLE vm_messages;"
				      "PRAGMA user_version = 2;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	db_close(db);

	db = open_path(path);
	assert_int_equal(query_int(db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	assert_int_equal(query_int(db, "SELECT count(*) FROM mailboxes"), 2);
	struct db_mailbox m;
	assert_int_equal(db_vm_mailbox_get(db, "2001", &m), 0);
	assert_string_equal(m.pin, "1111");
	assert_int_equal(m.vm_on, DB_VM_ON_ALL);
	assert_int_equal(db_vm_mailbox_get(db, "2002", &m), 0);
	/* The trigger is back: a new extension gets its mailbox. */
	add_ext(db, "2003", "");
	assert_int_equal(db_vm_mailbox_get(db, "2003", &m), 0);
	db_close(db);
}

/* ---- field checks ----------------------------------------------------------------- */

static void test_vm_on_parse_and_format(void **state)
{
	(void)state;
	unsigned b = 99;
	assert_int_equal(db_vm_on_parse("noanswer,busy,unavailable,dnd", &b), 0);
	assert_int_equal(b, DB_VM_ON_ALL);
	assert_int_equal(db_vm_on_parse("busy", &b), 0);
	assert_int_equal(b, DB_VM_ON_BUSY);
	assert_int_equal(db_vm_on_parse(" dnd , noanswer ", &b), 0);
	assert_int_equal(b, DB_VM_ON_DND | DB_VM_ON_NOANSWER);
	assert_int_equal(db_vm_on_parse("busy,busy", &b), 0);
	assert_int_equal(b, DB_VM_ON_BUSY);
	assert_int_equal(db_vm_on_parse("", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(db_vm_on_parse("   ", &b), 0);
	assert_int_equal(b, 0);

	b = 5;
	const char *bad[] = { "busy,", ",busy", "busy,,dnd", "busy dnd", "Busy", "always", "busyx", "," };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(db_vm_on_parse(bad[i], &b), EINVAL);
		assert_int_equal(b, 5); /* untouched on error */
	}
	char longer[300];
	memset(longer, ' ', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	assert_int_equal(db_vm_on_parse(longer, &b), EINVAL);
	assert_int_equal(db_vm_on_parse(NULL, &b), EINVAL);

	char out[64];
	assert_int_equal(db_vm_on_format(DB_VM_ON_ALL, out, sizeof out), 0);
	assert_string_equal(out, "noanswer,busy,unavailable,dnd");
	assert_int_equal(db_vm_on_format(DB_VM_ON_DND | DB_VM_ON_BUSY, out, sizeof out), 0);
	assert_string_equal(out, "busy,dnd");
	assert_int_equal(db_vm_on_format(0, out, sizeof out), 0);
	assert_string_equal(out, "");
	assert_int_equal(db_vm_on_format(0x10, out, sizeof out), EINVAL);
	assert_int_equal(db_vm_on_format(DB_VM_ON_ALL, out, 10), ENOSPC);
	assert_string_equal(out, "");
	/* Round trip of every set. */
	for (unsigned bits = 0; bits <= DB_VM_ON_ALL; bits++) {
		assert_int_equal(db_vm_on_format(bits, out, sizeof out), 0);
		assert_int_equal(db_vm_on_parse(out, &b), 0);
		assert_int_equal(b, bits);
	}
}

static void test_email_and_file_checks(void **state)
{
	(void)state;
	const char *good_mail[] = { "", "ann@example.com", "a.b+tag@mail.example.org", "x@y" };
	for (size_t i = 0; i < sizeof good_mail / sizeof good_mail[0]; i++)
		assert_true(db_vm_email_valid(good_mail[i]));
	const char *bad_mail[] = { "ann", "@example.com", "ann@", "a@b@c", "ann @example.com",
				   "ann@example.com\r\nRCPT TO:<x@y>", "<ann@example.com>", "a,b@c",
				   "ann@.example.com", "ann@example..com", "ann@example.com.", "\xc3\xa9@x.y" };
	for (size_t i = 0; i < sizeof bad_mail / sizeof bad_mail[0]; i++)
		assert_false(db_vm_email_valid(bad_mail[i]));
	assert_false(db_vm_email_valid(NULL));
	char longmail[300];
	memset(longmail, 'a', sizeof longmail - 1);
	longmail[sizeof longmail - 1] = '\0';
	longmail[10] = '@';
	assert_false(db_vm_email_valid(longmail));

	const char *good_file[] = { "", "1001/1700000000000-ab12.opus", "1001/greeting-busy.opus", "x" };
	for (size_t i = 0; i < sizeof good_file / sizeof good_file[0]; i++)
		assert_true(db_vm_file_valid(good_file[i]));
	const char *bad_file[] = { "/etc/passwd", "../x", "1001/../../x", "1001//x", "1001/", "./x",
				   "1001/a b", "1001/x\n", "..", "1001/." };
	for (size_t i = 0; i < sizeof bad_file / sizeof bad_file[0]; i++)
		assert_false(db_vm_file_valid(bad_file[i]));
	assert_false(db_vm_file_valid(NULL));
}

/* ---- mailbox settings ---------------------------------------------------------------- */

static void test_mailbox_set_and_validate(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_ext(db, "1001", "");
	struct db_mailbox m, got;
	char err[128];
	assert_int_equal(db_vm_mailbox_get(db, "1001", &m), 0);

	long long serial = query_int(db, "SELECT serial FROM config_serial");
	snprintf(m.email, sizeof m.email, "ann@example.com");
	m.email_attach = false;
	m.max_msg_seconds = 60;
	m.max_messages = 20;
	m.unsolicited_mwi = true;
	m.vm_on = DB_VM_ON_BUSY | DB_VM_ON_DND;
	snprintf(m.greeting[DB_VM_GREETING_BUSY], sizeof m.greeting[0], "1001/greeting-busy.opus");
	snprintf(m.pin, sizeof m.pin, "9999"); /* ignored by set */
	assert_int_equal(db_vm_mailbox_set(db, &m, err, sizeof err), 0);
	/* Mailbox settings are configuration: the snapshot must be rebuilt. */
	assert_true(query_int(db, "SELECT serial FROM config_serial") > serial);

	assert_int_equal(db_vm_mailbox_get(db, "1001", &got), 0);
	assert_string_equal(got.email, "ann@example.com");
	assert_false(got.email_attach);
	assert_int_equal(got.max_msg_seconds, 60);
	assert_int_equal(got.max_messages, 20);
	assert_true(got.unsolicited_mwi);
	assert_int_equal(got.vm_on, DB_VM_ON_BUSY | DB_VM_ON_DND);
	assert_string_equal(got.greeting[DB_VM_GREETING_BUSY], "1001/greeting-busy.opus");
	assert_string_equal(got.greeting[DB_VM_GREETING_UNAVAIL], "");
	assert_string_equal(got.pin, "");
	char text[64];
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT vm_on FROM mailboxes WHERE number = '1001'", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(text, sizeof text, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_string_equal(text, "busy,dnd");

	/* Each bad field is named and nothing is written. */
	struct db_mailbox b = got;
	b.max_msg_seconds = DB_VM_MSG_SECONDS_MIN - 1;
	assert_int_equal(db_vm_mailbox_set(db, &b, err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "max_msg_seconds"));
	b = got;
	b.max_msg_seconds = DB_VM_MSG_SECONDS_MAX + 1;
	assert_int_equal(db_vm_mailbox_set(db, &b, err, sizeof err), EINVAL);
	b = got;
	b.max_messages = 0;
	assert_int_equal(db_vm_mailbox_set(db, &b, err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "max_messages"));
	b = got;
	b.max_messages = DB_VM_MESSAGES_MAX + 1;
	assert_int_equal(db_vm_mailbox_set(db, &b, err, sizeof err), EINVAL);
	b = got;
	snprintf(b.email, sizeof b.email, "ann@example.com\r\nBcc: x@y");
	assert_int_equal(db_vm_mailbox_set(db, &b, err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "email"));
	b = got;
	b.vm_on = 0x40;
	assert_int_equal(db_vm_mailbox_set(db, &b, err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "vm_on"));
	b = got;
	snprintf(b.greeting[DB_VM_GREETING_NAME], sizeof b.greeting[0], "../../etc/shadow");
	assert_int_equal(db_vm_mailbox_set(db, &b, err, sizeof err), EINVAL);
	assert_non_null(strstr(err, "greeting_name"));
	b = got;
	snprintf(b.number, sizeof b.number, "1009");
	assert_int_equal(db_vm_mailbox_set(db, &b, err, sizeof err), ENOENT);

	assert_int_equal(db_vm_mailbox_get(db, "1001", &b), 0);
	assert_memory_equal(&b, &got, sizeof b);
	db_close(db);
}

static void test_pin_and_greetings(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_ext(db, "1001", "1234");
	struct db_mailbox m;
	assert_int_equal(db_vm_set_pin(db, "1001", "55667788"), 0);
	assert_int_equal(db_vm_mailbox_get(db, "1001", &m), 0);
	assert_string_equal(m.pin, "55667788");
	/* One PIN column: the extension sees the same PIN. */
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions WHERE number = '1001' AND vm_pin = '55667788'"),
			 1);
	assert_int_equal(db_vm_set_pin(db, "1001", "12"), EINVAL);
	assert_int_equal(db_vm_set_pin(db, "1001", "12a4"), EINVAL);
	assert_int_equal(db_vm_set_pin(db, "1001", "1234567890123"), EINVAL);
	assert_int_equal(db_vm_set_pin(db, "1009", "1234"), ENOENT);
	assert_int_equal(db_vm_set_pin(db, "1001", ""), 0);
	assert_int_equal(db_vm_mailbox_get(db, "1001", &m), 0);
	assert_string_equal(m.pin, "");

	assert_int_equal(db_vm_set_greeting(db, "1001", DB_VM_GREETING_NAME, "1001/greeting-name.opus"), 0);
	assert_int_equal(db_vm_set_greeting(db, "1001", DB_VM_GREETING_UNAVAIL, "1001/greeting-unavail.opus"), 0);
	assert_int_equal(db_vm_mailbox_get(db, "1001", &m), 0);
	assert_string_equal(m.greeting[DB_VM_GREETING_NAME], "1001/greeting-name.opus");
	assert_string_equal(m.greeting[DB_VM_GREETING_UNAVAIL], "1001/greeting-unavail.opus");
	assert_string_equal(m.greeting[DB_VM_GREETING_BUSY], "");
	assert_int_equal(db_vm_set_greeting(db, "1001", DB_VM_GREETING_NAME, ""), 0);
	assert_int_equal(db_vm_mailbox_get(db, "1001", &m), 0);
	assert_string_equal(m.greeting[DB_VM_GREETING_NAME], "");
	assert_int_equal(db_vm_set_greeting(db, "1001", DB_VM_GREETING_NAME, "/tmp/x"), EINVAL);
	assert_int_equal(db_vm_set_greeting(db, "1001", DB_VM_GREETING_COUNT, "a"), EINVAL);
	assert_int_equal(db_vm_set_greeting(db, "1009", DB_VM_GREETING_BUSY, "a"), ENOENT);
	db_close(db);
}

struct box_seen {
	char numbers[4][16];
	unsigned n;
};

static int box_cb(void *ctx, const struct db_mailbox *m)
{
	struct box_seen *s = ctx;
	if (s->n < 4)
		snprintf(s->numbers[s->n], sizeof s->numbers[0], "%s", m->number);
	s->n++;
	return s->n == 3 ? 42 : 0;
}

static void test_mailbox_list(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_ext(db, "1003", "");
	add_ext(db, "1001", "");
	add_ext(db, "1002", "");
	add_ext(db, "1004", "");
	struct box_seen s = { 0 };
	/* Ordered by number; the callback's non-zero stops the walk. */
	assert_int_equal(db_vm_mailbox_list(db, box_cb, &s), 42);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.numbers[0], "1001");
	assert_string_equal(s.numbers[1], "1002");
	assert_string_equal(s.numbers[2], "1003");
	/* A row broken behind our back is skipped, not fatal. */
	assert_int_equal(sqlite3_exec(db, "UPDATE mailboxes SET vm_on = 'sometimes' WHERE number = '1002'", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	memset(&s, 0, sizeof s);
	assert_int_equal(db_vm_mailbox_list(db, box_cb, &s), 42);
	assert_string_equal(s.numbers[1], "1003");
	db_close(db);
}

/* ---- messages ------------------------------------------------------------------------------ */

struct msg_seen {
	int64_t ids[16];
	enum db_vm_folder folders[16];
	unsigned n;
};

static int msg_cb(void *ctx, const struct db_vm_msg *m)
{
	struct msg_seen *s = ctx;
	assert_true(s->n < 16);
	s->ids[s->n] = m->id;
	s->folders[s->n] = m->folder;
	s->n++;
	return 0;
}

static void test_messages_lifecycle(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_ext(db, "1001", "");
	add_ext(db, "1002", "");
	long long serial = query_int(db, "SELECT serial FROM config_serial");

	int64_t a, b, c, other;
	struct db_vm_msg m = msg("1001", "1002", 3000, "1001/3000-aa.opus");
	snprintf(m.caller_name, sizeof m.caller_name, "Bob \xc3\x89tienne");
	assert_int_equal(db_vm_msg_add(db, &m, &a), 0);
	m = msg("1001", "1003", 1000, "1001/1000-bb.opus");
	assert_int_equal(db_vm_msg_add(db, &m, &b), 0);
	m = msg("1001", "1004", 2000, "1001/2000-cc.opus");
	assert_int_equal(db_vm_msg_add(db, &m, &c), 0);
	m = msg("1002", "1001", 500, "1002/500-dd.opus");
	assert_int_equal(db_vm_msg_add(db, &m, &other), 0);
	assert_true(a != b && b != c && c != other);
	/* Messages are data: no snapshot rebuild for them. */
	assert_int_equal(query_int(db, "SELECT serial FROM config_serial"), serial);

	struct db_vm_msg got;
	assert_int_equal(db_vm_msg_get(db, "1001", a, &got), 0);
	assert_int_equal(got.id, a);
	assert_string_equal(got.mailbox, "1001");
	assert_int_equal(got.folder, DB_VM_NEW);
	assert_string_equal(got.caller, "1002");
	assert_string_equal(got.caller_name, "Bob \xc3\x89tienne");
	assert_int_equal(got.received_at, 3000);
	assert_int_equal(got.duration_ms, 4200);
	assert_string_equal(got.file, "1001/3000-aa.opus");
	assert_string_equal(got.email_status, "");
	assert_false(got.heard);

	/* Oldest first. */
	struct msg_seen s = { 0 };
	assert_int_equal(db_vm_msg_list(db, "1001", DB_VM_NEW, msg_cb, &s), 0);
	assert_int_equal(s.n, 3);
	assert_true(s.ids[0] == b && s.ids[1] == c && s.ids[2] == a);

	unsigned nn, no;
	assert_int_equal(db_vm_counts(db, "1001", &nn, &no), 0);
	assert_int_equal(nn, 3);
	assert_int_equal(no, 0);

	/* Save c: old and heard; a second save changes nothing. */
	assert_int_equal(db_vm_msg_move_old(db, "1001", c), 0);
	assert_int_equal(db_vm_msg_move_old(db, "1001", c), 0);
	assert_int_equal(db_vm_msg_get(db, "1001", c, &got), 0);
	assert_int_equal(got.folder, DB_VM_OLD);
	assert_true(got.heard);
	assert_int_equal(db_vm_counts(db, "1001", &nn, &no), 0);
	assert_int_equal(nn, 2);
	assert_int_equal(no, 1);

	/* Any folder: new ones first, then old. */
	memset(&s, 0, sizeof s);
	assert_int_equal(db_vm_msg_list(db, "1001", DB_VM_ANY, msg_cb, &s), 0);
	assert_int_equal(s.n, 3);
	assert_true(s.ids[0] == b && s.ids[1] == a && s.ids[2] == c);
	assert_int_equal(s.folders[2], DB_VM_OLD);
	memset(&s, 0, sizeof s);
	assert_int_equal(db_vm_msg_list(db, "1001", DB_VM_OLD, msg_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(db_vm_msg_list(db, "1001", (enum db_vm_folder)7, msg_cb, &s), EINVAL);

	/* Heard alone keeps the folder. */
	assert_int_equal(db_vm_msg_set_heard(db, "1001", a, true), 0);
	assert_int_equal(db_vm_msg_get(db, "1001", a, &got), 0);
	assert_true(got.heard);
	assert_int_equal(got.folder, DB_VM_NEW);
	assert_int_equal(db_vm_msg_set_heard(db, "1001", a, false), 0);
	assert_int_equal(db_vm_msg_get(db, "1001", a, &got), 0);
	assert_false(got.heard);

	/* Another mailbox's id is out of reach. */
	assert_int_equal(db_vm_msg_get(db, "1001", other, &got), ENOENT);
	assert_int_equal(db_vm_msg_move_old(db, "1001", other), ENOENT);
	assert_int_equal(db_vm_msg_set_heard(db, "1001", other, true), ENOENT);
	char file[DB_VM_FILE_MAX + 1] = "untouched";
	assert_int_equal(db_vm_msg_del(db, "1001", other, file), ENOENT);
	assert_string_equal(file, "untouched");
	assert_int_equal(db_vm_msg_get(db, "1002", other, &got), 0);
	assert_false(got.heard);

	/* Delete hands the file name back. */
	assert_int_equal(db_vm_msg_del(db, "1001", b, file), 0);
	assert_string_equal(file, "1001/1000-bb.opus");
	assert_int_equal(db_vm_msg_del(db, "1001", b, file), ENOENT);
	assert_int_equal(db_vm_msg_get(db, "1001", b, &got), ENOENT);
	assert_int_equal(db_vm_counts(db, "1001", &nn, &no), 0);
	assert_int_equal(nn, 1);
	assert_int_equal(no, 1);

	/* Email status. */
	assert_int_equal(db_vm_msg_set_email_status(db, a, "sent"), 0);
	assert_int_equal(db_vm_msg_get(db, "1001", a, &got), 0);
	assert_string_equal(got.email_status, "sent");
	assert_int_equal(db_vm_msg_set_email_status(db, a, "failed: 550\r\nx"), EINVAL);
	char lng[600];
	memset(lng, 'x', sizeof lng - 1);
	lng[sizeof lng - 1] = '\0';
	assert_int_equal(db_vm_msg_set_email_status(db, a, lng), 0);
	assert_int_equal(db_vm_msg_get(db, "1001", a, &got), 0);
	assert_int_equal(strlen(got.email_status), DB_VM_STATUS_MAX);
	assert_int_equal(db_vm_msg_set_email_status(db, 999999, "sent"), ENOENT);

	/* An unknown mailbox counts nothing. */
	assert_int_equal(db_vm_counts(db, "1999", &nn, &no), 0);
	assert_int_equal(nn + no, 0);
	db_close(db);
}

static void test_message_checks_and_limit(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_ext(db, "1001", "");
	int64_t id;
	struct db_vm_msg m = msg("1009", "1002", 1, "1009/a.opus");
	assert_int_equal(db_vm_msg_add(db, &m, &id), ENOENT);

	struct db_vm_msg bad[6];
	for (int i = 0; i < 6; i++)
		bad[i] = msg("1001", "1002", 1, "1001/a.opus");
	bad[0].caller[0] = '\0';
	bad[1].received_at = 0;
	snprintf(bad[2].file, sizeof bad[2].file, "/var/spool/x.opus");
	bad[3].folder = DB_VM_ANY;
	snprintf(bad[4].caller, sizeof bad[4].caller, "10\n02");
	snprintf(bad[5].caller_name, sizeof bad[5].caller_name, "\x01");
	for (int i = 0; i < 6; i++)
		assert_int_equal(db_vm_msg_add(db, &bad[i], &id), EINVAL);
	assert_int_equal(query_int(db, "SELECT count(*) FROM vm_messages"), 0);

	/* max_messages counts both folders. */
	struct db_mailbox box;
	char err[128];
	assert_int_equal(db_vm_mailbox_get(db, "1001", &box), 0);
	box.max_messages = 3;
	assert_int_equal(db_vm_mailbox_set(db, &box, err, sizeof err), 0);
	int64_t ids[3];
	for (int i = 0; i < 3; i++) {
		m = msg("1001", "1002", 10 + i, "1001/a.opus");
		assert_int_equal(db_vm_msg_add(db, &m, &ids[i]), 0);
	}
	assert_int_equal(db_vm_msg_move_old(db, "1001", ids[0]), 0);
	m = msg("1001", "1002", 20, "1001/b.opus");
	id = -5;
	assert_int_equal(db_vm_msg_add(db, &m, &id), ENOSPC);
	assert_int_equal(id, -5);
	char file[DB_VM_FILE_MAX + 1];
	assert_int_equal(db_vm_msg_del(db, "1001", ids[0], file), 0);
	assert_int_equal(db_vm_msg_add(db, &m, &id), 0);

	/* Inside the caller's transaction: nothing is committed until it is. */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_vm_msg_del(db, "1001", id, file), 0);
	db_rollback(db);
	assert_int_equal(db_vm_msg_get(db, "1001", id, &m), 0);
	db_close(db);
}

/* Deleting an extension keeps its messages' rows (their files are still in
 * the spool); re-creating it finds them again. */
static void test_messages_outlive_extension(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_ext(db, "1001", "");
	int64_t id;
	struct db_vm_msg m = msg("1001", "1002", 1, "1001/a.opus");
	assert_int_equal(db_vm_msg_add(db, &m, &id), 0);
	assert_int_equal(db_ext_del(db, "1001"), 0);
	unsigned nn, no;
	assert_int_equal(db_vm_counts(db, "1001", &nn, &no), 0);
	assert_int_equal(nn, 1);
	add_ext(db, "1001", "");
	struct db_vm_msg got;
	assert_int_equal(db_vm_msg_get(db, "1001", id, &got), 0);
	db_close(db);
}

struct count_seen {
	char mailbox[4][16];
	unsigned n_new[4], n_old[4];
	unsigned n;
};

static int count_cb(void *ctx, const char *mailbox, unsigned n_new, unsigned n_old)
{
	struct count_seen *s = ctx;
	assert_true(s->n < 4);
	snprintf(s->mailbox[s->n], sizeof s->mailbox[0], "%s", mailbox);
	s->n_new[s->n] = n_new;
	s->n_old[s->n] = n_old;
	s->n++;
	return 0;
}

static void test_counts_all(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_ext(db, "1002", "");
	add_ext(db, "1001", "");
	add_ext(db, "1003", "");
	int64_t id;
	for (int i = 0; i < 3; i++) {
		struct db_vm_msg m = msg("1002", "1001", 1 + i, "1002/x.opus");
		assert_int_equal(db_vm_msg_add(db, &m, &id), 0);
	}
	assert_int_equal(db_vm_msg_move_old(db, "1002", id), 0);
	struct db_vm_msg m = msg("1003", "1001", 1, "1003/x.opus");
	m.folder = DB_VM_OLD;
	assert_int_equal(db_vm_msg_add(db, &m, &id), 0);

	struct count_seen s = { 0 };
	assert_int_equal(db_vm_counts_all(db, count_cb, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.mailbox[0], "1001");
	assert_int_equal(s.n_new[0], 0);
	assert_int_equal(s.n_old[0], 0);
	assert_string_equal(s.mailbox[1], "1002");
	assert_int_equal(s.n_new[1], 2);
	assert_int_equal(s.n_old[1], 1);
	assert_string_equal(s.mailbox[2], "1003");
	assert_int_equal(s.n_new[2], 0);
	assert_int_equal(s.n_old[2], 1);
	db_close(db);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_vm_db.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* Process-wide library state is allocated on first use: do that here
	 * so the per-test leak check sees only our memory. */
	sqlite3_initialize();
	uint8_t b[4];
	gnutls_rnd(GNUTLS_RND_KEY, b, sizeof b);
	gnutls_rnd(GNUTLS_RND_NONCE, b, sizeof b);
	log_set_level(LOG_ERR);
	sqlite3 *db = fresh();
	add_ext(db, "1001", "");
	db_close(db);
	return 0;
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
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_schema_version_and_mailbox_per_extension),
		UNIT_TEST(test_migration_from_2_backfills),
		UNIT_TEST(test_vm_on_parse_and_format),
		UNIT_TEST(test_email_and_file_checks),
		UNIT_TEST(test_mailbox_set_and_validate),
		UNIT_TEST(test_pin_and_greetings),
		UNIT_TEST(test_mailbox_list),
		UNIT_TEST(test_messages_lifecycle),
		UNIT_TEST(test_message_checks_and_limit),
		UNIT_TEST(test_messages_outlive_extension),
		UNIT_TEST(test_counts_all),
	};
	return cmocka_run_group_tests_name("vm_db", tests, group_setup, group_teardown);
}
