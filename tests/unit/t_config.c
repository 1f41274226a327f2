/*
 * t_config.c: the immutable config snapshot built from a real SQLite file:
 * lookups over 1000 (and 10,000) extensions, settings, rooms, the serial,
 * bad rows skipped with a warning, forwarding rules and options,
 * reference counting.
 */
#include "unit.h"

#include "config.h"
#include "db.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

static char tmpdir[64];
static unsigned db_seq;

static sqlite3 *fresh(void)
{
	char path[128], err[256];
	snprintf(path, sizeof path, "%s/c%u.db", tmpdir, ++db_seq);
	sqlite3 *db = NULL;
	assert_int_equal(db_open(path, &db, err, sizeof err), 0);
	return db;
}

/* Import extensions first..first+n-1 with password "pw" + number. */
static void add_many(sqlite3 *db, unsigned first, unsigned n)
{
	size_t cap = 64 + (size_t)n * 48, w = 0;
	char *csv = malloc(cap);
	assert_non_null(csv);
	w += (size_t)snprintf(csv + w, cap - w, "extension,name,password,vm_pin\n");
	for (unsigned i = first; i < first + n; i++)
		w += (size_t)snprintf(csv + w, cap - w, "%u,Ext %u,pw%u,%s\n", i, i, i, i % 3 ? "" : "4321");
	FILE *f = fmemopen(csv, w, "r");
	assert_non_null(f);
	unsigned imported = 0;
	assert_int_equal(db_ext_import_csv(db, f, NULL, NULL, &imported), 0);
	assert_int_equal(imported, n);
	fclose(f);
	free(csv);
}

static void test_load_thousand_and_lookup(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_many(db, 1000, 1000);
	struct config *c = NULL;
	assert_int_equal(config_load(db, &c), 0);
	assert_non_null(c);
	assert_int_equal(config_ext_count(c), 1000);
	for (unsigned i = 1000; i < 2000; i++) {
		char num[16], pw[16], md5[33], sha[65], name[32];
		snprintf(num, sizeof num, "%u", i);
		snprintf(pw, sizeof pw, "pw%u", i);
		snprintf(name, sizeof name, "Ext %u", i);
		const struct config_ext *e = config_ext_find(c, num, strlen(num));
		assert_non_null(e);
		assert_string_equal(e->number, num);
		assert_string_equal(e->name, name);
		db_ha1(num, "pbx", pw, md5, sha);
		assert_string_equal(e->ha1_md5, md5);
		assert_string_equal(e->ha1_sha256, sha);
		assert_string_equal(e->vm_pin, i % 3 ? "" : "4321");
		assert_int_equal(e->ring_time, 25);
	}
	/* Lengths are honoured: a number inside a longer buffer. */
	assert_non_null(config_ext_find(c, "1234@host", 4));
	assert_string_equal(config_ext_find(c, "1234@host", 4)->number, "1234");
	assert_null(config_ext_find(c, "123", 3));
	assert_null(config_ext_find(c, "12345", 5));
	assert_null(config_ext_find(c, "2000", 4));
	assert_null(config_ext_find(c, "", 0));
	assert_null(config_ext_find(c, "1000000000000000000", 19));
	/* Iteration is in numeric order and complete. */
	assert_string_equal(config_ext_at(c, 0)->number, "1000");
	assert_string_equal(config_ext_at(c, 999)->number, "1999");
	assert_null(config_ext_at(c, 1000));
	config_unref(c);
	db_close(db);
}

static void test_load_ten_thousand_fast(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_many(db, 10000, 10000);
	struct timespec t0, t1;
	struct config *c = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(config_load(db, &c), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	fprintf(stderr, "config: 10000 extensions loaded in %.1f ms\n", ms);
	assert_int_equal(config_ext_count(c), 10000);
	assert_non_null(config_ext_find(c, "19999", 5));
	assert_null(config_ext_find(c, "20000", 5));
	/* Generous for sanitizer and valgrind builds. */
	assert_true(ms < 2000.0);
	config_unref(c);
	db_close(db);
}

static void test_settings_in_snapshot(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[160], hex[80];
	struct config *c = NULL;
	assert_int_equal(config_load(db, &c), 0);
	assert_string_equal(c->realm, "pbx");
	assert_int_equal(c->reg_min_expires, 60);
	assert_int_equal(c->reg_max_expires, 3600);
	assert_int_equal(c->reg_default_expires, 3600);
	assert_int_equal(c->nonce_lifetime, 300);
	assert_int_equal(c->ban_limit, 10);
	assert_int_equal(c->ban_window, 60);
	assert_int_equal(c->ban_time, 300);
	assert_string_equal(c->ban_allow, "");
	assert_int_equal(c->keepalive_interval, 30);
	assert_int_equal(c->max_contacts, 10);
	/* The nonce key is the stored one, decoded. */
	assert_int_equal(db_setting_get(db, "nonce_key", hex, sizeof hex), 0);
	char back[65];
	for (int i = 0; i < 32; i++)
		snprintf(back + 2 * i, 3, "%02x", c->nonce_key[i]);
	assert_string_equal(back, hex);
	config_unref(c);

	assert_int_equal(db_setting_set(db, "sip_realm", "office.example", err, sizeof err), 0);
	assert_int_equal(db_setting_set(db, "reg_min_expires", "120", err, sizeof err), 0);
	assert_int_equal(db_setting_set(db, "reg_default_expires", "600", err, sizeof err), 0);
	assert_int_equal(db_setting_set(db, "ban_allow", "10.0.0.0/8,::1", err, sizeof err), 0);
	assert_int_equal(db_setting_set(db, "max_contacts", "3", err, sizeof err), 0);
	/* Broken values written behind the validation's back: defaults kept. */
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE settings SET value = 'lots' WHERE key = 'ban_time';"
				      "UPDATE settings SET value = '-5' WHERE key = 'keepalive_interval';",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(config_load(db, &c), 0);
	assert_string_equal(c->realm, "office.example");
	assert_int_equal(c->reg_min_expires, 120);
	assert_int_equal(c->reg_default_expires, 600);
	assert_string_equal(c->ban_allow, "10.0.0.0/8,::1");
	assert_int_equal(c->max_contacts, 3);
	assert_int_equal(c->ban_time, 300);
	assert_int_equal(c->keepalive_interval, 30);
	config_unref(c);

	/* min > max and default outside: repaired so min <= default <= max. */
	assert_int_equal(db_setting_set(db, "reg_min_expires", "7200", err, sizeof err), 0);
	assert_int_equal(config_load(db, &c), 0);
	assert_true(c->reg_min_expires <= c->reg_default_expires);
	assert_true(c->reg_default_expires <= c->reg_max_expires);
	config_unref(c);
	db_close(db);
}

/* sip_port, the media port range and codec_order: validated on the way
 * in, in the snapshot, and a broken row leaves the default. */
static void test_network_settings(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[200];
	struct config *c = NULL;
	assert_int_equal(config_load(db, &c), 0);
	assert_int_equal(c->sip_port, 0);
	assert_int_equal(c->rtp_port_min, 0);
	assert_int_equal(c->rtp_port_max, 0);
	assert_int_equal(c->ncodecs, 3);
	assert_int_equal(c->codecs[0], DB_CODEC_OPUS);
	assert_int_equal(c->codecs[1], DB_CODEC_PCMU);
	assert_int_equal(c->codecs[2], DB_CODEC_PCMA);
	config_unref(c);

	static const char *const bad[][2] = {
		{ "sip_port", "0" }, { "sip_port", "65536" }, { "sip_port", "50 60" }, { "sip_port", "-1" },
		{ "rtp_port_min", "1023" }, { "rtp_port_max", "70000" }, { "rtp_port_min", "x" },
		{ "codec_order", "" }, { "codec_order", "G729" }, { "codec_order", "opus,,PCMU" },
		{ "codec_order", "PCMU,pcmu" }, { "codec_order", "opus,PCMU,PCMA,opus" }, { "codec_order", "opu" },
		{ "codec_order", "opus/48000" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(db_setting_set(db, bad[i][0], bad[i][1], err, sizeof err), EINVAL);
		assert_non_null(strstr(err, bad[i][0])); /* the message names the key */
	}
	assert_int_equal(db_setting_set(db, "sip_port", "5070", err, sizeof err), 0);
	assert_int_equal(db_setting_set(db, "rtp_port_min", "30000", err, sizeof err), 0);
	assert_int_equal(db_setting_set(db, "rtp_port_max", "30099", err, sizeof err), 0);
	assert_int_equal(db_setting_set(db, "codec_order", " pcma , Opus", err, sizeof err), 0);
	assert_int_equal(config_load(db, &c), 0);
	assert_int_equal(c->sip_port, 5070);
	assert_int_equal(c->rtp_port_min, 30000);
	assert_int_equal(c->rtp_port_max, 30099);
	assert_int_equal(c->ncodecs, 2);
	assert_int_equal(c->codecs[0], DB_CODEC_PCMA);
	assert_int_equal(c->codecs[1], DB_CODEC_OPUS);
	config_unref(c);

	/* Empty ports: as pbxd was started. */
	assert_int_equal(db_setting_set(db, "sip_port", "", err, sizeof err), 0);
	assert_int_equal(db_setting_set(db, "rtp_port_max", "", err, sizeof err), 0);
	/* A codec_order written behind the validation's back: the default. */
	assert_int_equal(sqlite3_exec(db, "UPDATE settings SET value = 'G722' WHERE key = 'codec_order'", NULL, NULL,
				      NULL), SQLITE_OK);
	assert_int_equal(config_load(db, &c), 0);
	assert_int_equal(c->sip_port, 0);
	assert_int_equal(c->rtp_port_min, 30000);
	assert_int_equal(c->rtp_port_max, 0);
	assert_int_equal(c->ncodecs, 3);
	assert_int_equal(c->codecs[0], DB_CODEC_OPUS);
	config_unref(c);

	/* The range rule shared by pbxd --rtp-ports, the API and the core. */
	assert_true(db_rtp_range_ok(10000, 20000));
	assert_true(db_rtp_range_ok(10000, 10001));
	assert_true(db_rtp_range_ok(10001, 10003));
	assert_false(db_rtp_range_ok(10001, 10002)); /* no even port with one after it */
	assert_false(db_rtp_range_ok(20000, 10000));
	assert_false(db_rtp_range_ok(1000, 2000));
	assert_false(db_rtp_range_ok(65534, 65536));
	db_close(db);
}

static void test_serial(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[160];
	struct config *c = NULL;
	int64_t s;
	assert_int_equal(config_load(db, &c), 0);
	assert_int_equal(db_config_serial(db, &s), 0);
	assert_int_equal(c->serial, s);
	assert_int_equal(db_ext_add(db, "5001", "", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_config_serial(db, &s), 0);
	assert_true(s != c->serial);
	/* The old snapshot is immutable: it does not see the new extension. */
	assert_null(config_ext_find(c, "5001", 4));
	struct config *c2 = NULL;
	assert_int_equal(config_load(db, &c2), 0);
	assert_int_equal(c2->serial, s);
	assert_non_null(config_ext_find(c2, "5001", 4));
	config_unref(c);
	config_unref(c2);
	db_close(db);
}

static void test_bad_rows_skipped(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	add_many(db, 6000, 5);
	/* Rows that only raw SQL can produce: each must be skipped, not crash. */
	const char *sql =
		"INSERT INTO extensions(number, name, ha1_md5, ha1_sha256) VALUES ('6100', 'empty ha1', '', '');"
		"INSERT INTO extensions(number, name, ha1_md5, ha1_sha256) VALUES"
		" ('6101', 'upper', '64FA20AF62CE66DA90DE8143828F35E4',"
		" '22a1363629cd0f8e03453e7a40221fe982da26f824e25a10fbff9cc26176a81d');"
		"INSERT INTO extensions(number, name, ha1_md5, ha1_sha256, vm_pin) VALUES"
		" ('6102', 'pin', '64fa20af62ce66da90de8143828f35e4',"
		" '22a1363629cd0f8e03453e7a40221fe982da26f824e25a10fbff9cc26176a81d', 'abcd');"
		"INSERT INTO extensions(number, name, ha1_md5, ha1_sha256, ring_time) VALUES"
		" ('6103', 'ring', '64fa20af62ce66da90de8143828f35e4',"
		" '22a1363629cd0f8e03453e7a40221fe982da26f824e25a10fbff9cc26176a81d', -1);"
		"INSERT INTO extensions(number, name, ha1_md5, ha1_sha256) VALUES"
		" ('6104', X'6100', '64fa20af62ce66da90de8143828f35e4',"
		" '22a1363629cd0f8e03453e7a40221fe982da26f824e25a10fbff9cc26176a81d');"
		"INSERT INTO extensions(number, name, ha1_md5, ha1_sha256) VALUES"
		" ('6105', 'fine', '64fa20af62ce66da90de8143828f35e4',"
		" '22a1363629cd0f8e03453e7a40221fe982da26f824e25a10fbff9cc26176a81d');"
		"INSERT INTO rooms(number, max_participants) VALUES ('700', 0);"
		"INSERT INTO rooms(number, pin) VALUES ('701', '12');"
		"INSERT INTO rooms(number, name, pin) VALUES ('702', 'Room', '9999');"
		"UPDATE settings SET value = 'not hex' WHERE key = 'nonce_key';";
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	struct config *c = NULL;
	assert_int_equal(config_load(db, &c), 0);
	assert_int_equal(config_ext_count(c), 6);
	for (const char *bad = "6100\0" "6101\0" "6102\0" "6103\0" "6104\0"; *bad; bad += 5)
		assert_null(config_ext_find(c, bad, 4));
	assert_non_null(config_ext_find(c, "6105", 4));
	assert_non_null(config_ext_find(c, "6004", 4));
	assert_int_equal(config_room_count(c), 1);
	assert_null(config_room_find(c, "700", 3));
	const struct config_room *r = config_room_find(c, "702", 3);
	assert_non_null(r);
	assert_string_equal(r->pin, "9999");
	assert_int_equal(r->max_participants, 50);
	/* A random key stands in for the broken one. */
	uint8_t zero[32] = { 0 };
	assert_memory_not_equal(c->nonce_key, zero, sizeof zero);
	config_unref(c);
	db_close(db);
}

static void test_forwarding_in_snapshot(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[160];
	add_many(db, 3000, 4);
	struct db_fwd f = { .always = "3001", .busy = "3002", .noanswer = "3003", .dnd = true };
	assert_int_equal(db_ext_set_fwd(db, "3000", &f, err, sizeof err), 0);
	unsigned flags = EXT_F_REDIRECT;
	int ring = 40;
	assert_int_equal(db_ext_update(db, "3000", NULL, NULL, &flags, &ring, err, sizeof err), 0);
	/* Rows written behind the checks' back: a bad rule is switched off,
	 * the extension stays; a target deleted since stays (the core skips
	 * it); an out-of-range ring time from an older build is clamped. */
	assert_int_equal(db_ext_set_fwd_one(db, "3002", DB_FWD_BUSY, "3003", err, sizeof err), 0);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE extensions SET fwd_always = '3001' WHERE number = '3001';"
				      "UPDATE extensions SET ring_time = 600 WHERE number = '3002';"
				      "UPDATE extensions SET ring_time = 1 WHERE number = '3003';",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(db_ext_del(db, "3003"), 0);

	struct config *c = NULL;
	assert_int_equal(config_load(db, &c), 0);
	assert_int_equal(config_ext_count(c), 3);
	const struct config_ext *e = config_ext_find(c, "3000", 4);
	assert_non_null(e);
	assert_string_equal(e->fwd_always, "3001");
	assert_string_equal(e->fwd_busy, "3002");
	assert_string_equal(e->fwd_noanswer, "3003");
	assert_null(config_ext_find(c, e->fwd_noanswer, strlen(e->fwd_noanswer)));
	assert_true(e->dnd);
	assert_int_equal(e->flags, EXT_F_REDIRECT);
	assert_int_equal(e->ring_time, 40);
	e = config_ext_find(c, "3001", 4);
	assert_non_null(e);
	assert_string_equal(e->fwd_always, ""); /* pointed at itself */
	assert_false(e->dnd);
	assert_int_equal(e->ring_time, DB_RING_TIME_DEFAULT);
	e = config_ext_find(c, "3002", 4);
	assert_string_equal(e->fwd_busy, "3003");
	assert_string_equal(e->fwd_always, "");
	assert_int_equal(e->ring_time, DB_RING_TIME_MAX);
	config_unref(c);

	/* A second snapshot after a feature-code change sees it; the first
	 * does not change. */
	assert_int_equal(config_load(db, &c), 0);
	assert_int_equal(db_ext_set_dnd(db, "3000", false), 0);
	struct config *c2 = NULL;
	assert_int_equal(config_load(db, &c2), 0);
	assert_true(config_ext_find(c, "3000", 4)->dnd);
	assert_false(config_ext_find(c2, "3000", 4)->dnd);
	assert_true(c2->serial != c->serial);
	config_unref(c);
	config_unref(c2);
	db_close(db);
}

/* Mailbox settings ride in the snapshot; broken values fall back to the
 * defaults, and an extension without a mailbox row gets them too. */
static void test_mailbox_in_snapshot(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[160];
	add_many(db, 4000, 3);
	struct db_mailbox m;
	assert_int_equal(db_vm_mailbox_get(db, "4000", &m), 0);
	m.vm_on = DB_VM_ON_BUSY | DB_VM_ON_DND;
	m.max_msg_seconds = 30;
	m.max_messages = 5;
	m.unsolicited_mwi = true;
	assert_int_equal(db_vm_mailbox_set(db, &m, err, sizeof err), 0);
	assert_int_equal(db_vm_set_greeting(db, "4000", DB_VM_GREETING_BUSY, "4000/greeting-busy.opus"), 0);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE mailboxes SET vm_on = 'sometimes', greeting_name = '../../etc/passwd'"
				      " WHERE number = '4001';"
				      "DELETE FROM mailboxes WHERE number = '4002';",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	struct config *c = NULL;
	assert_int_equal(config_load(db, &c), 0);
	const struct config_ext *e = config_ext_find(c, "4000", 4);
	assert_non_null(e);
	assert_int_equal(e->vm_on, DB_VM_ON_BUSY | DB_VM_ON_DND);
	assert_int_equal(e->vm_max_seconds, 30);
	assert_int_equal(e->vm_max_messages, 5);
	assert_true(e->unsolicited_mwi);
	assert_string_equal(e->greeting[DB_VM_GREETING_BUSY], "4000/greeting-busy.opus");
	assert_string_equal(e->greeting[DB_VM_GREETING_UNAVAIL], "");
	for (const char *n = "4001"; n; n = strcmp(n, "4001") == 0 ? "4002" : NULL) {
		e = config_ext_find(c, n, 4);
		assert_non_null(e);
		assert_int_equal(e->vm_on, DB_VM_ON_ALL);
		assert_int_equal(e->vm_max_seconds, 180);
		assert_int_equal(e->vm_max_messages, 100);
		assert_false(e->unsolicited_mwi);
		assert_string_equal(e->greeting[DB_VM_GREETING_NAME], "");
	}
	config_unref(c);
	db_close(db);
}

static void test_rooms_and_refcount(void **state)
{
	(void)state;
	sqlite3 *db = fresh();
	char err[160];
	assert_int_equal(db_room_add(db, "800", "All hands", "1234", "5678", 100, err, sizeof err), 0);
	assert_int_equal(db_room_add(db, "81", NULL, NULL, NULL, 0, err, sizeof err), 0);
	struct config *c = NULL;
	assert_int_equal(config_load(db, &c), 0);
	db_close(db);
	assert_int_equal(config_room_count(c), 2);
	assert_string_equal(config_room_at(c, 0)->number, "81");
	const struct config_room *r = config_room_find(c, "800", 3);
	assert_non_null(r);
	assert_string_equal(r->name, "All hands");
	assert_string_equal(r->moderator_pin, "5678");
	assert_int_equal(r->max_participants, 100);
	assert_null(config_room_find(c, "80", 2));
	assert_int_equal(config_ext_count(c), 0);
	assert_null(config_ext_find(c, "800", 3));

	/* A second owner keeps the snapshot alive after the first lets go. */
	struct config *held = config_ref(c);
	assert_ptr_equal(held, c);
	config_unref(c);
	assert_string_equal(config_room_find(held, "800", 3)->name, "All hands");
	config_unref(held);
	config_unref(NULL);
	assert_null(config_ref(NULL));
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_config.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* One-time library state (SQLite, GnuTLS's generator) before the
	 * per-test leak checks start counting. */
	sqlite3_initialize();
	uint8_t b[4];
	gnutls_rnd(GNUTLS_RND_KEY, b, sizeof b);
	log_set_level(LOG_ERR);
	sqlite3 *db = fresh();
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
	/* See t_db.c: glibc's malloc cache confuses unit.h's mallinfo2 leak
	 * check; run without it, except under valgrind. */
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_load_thousand_and_lookup),
		UNIT_TEST(test_load_ten_thousand_fast),
		UNIT_TEST(test_settings_in_snapshot),
		UNIT_TEST(test_network_settings),
		UNIT_TEST(test_serial),
		UNIT_TEST(test_bad_rows_skipped),
		UNIT_TEST(test_forwarding_in_snapshot),
		UNIT_TEST(test_rooms_and_refcount),
		UNIT_TEST(test_mailbox_in_snapshot),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
