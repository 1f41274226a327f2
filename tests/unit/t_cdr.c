/*
 * t_cdr.c: call detail records and feature-code forwarding changes, in
 * real SQLite files: db_cdr insert, filters, paging and order; rows that
 * must be skipped; the jobs thread writing records in batches, dropping
 * and counting them when storage stalls, flushing on stop; and forwarding
 * and DND set through the jobs thread reaching a new config snapshot.
 */
#include "unit.h"

#include "config.h"
#include "db.h"
#include "jobs.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>

static char tmpdir[64];
static unsigned db_seq;

static sqlite3 *open_fresh(char *path, size_t cap)
{
	snprintf(path, cap, "%s/c%u.db", tmpdir, ++db_seq);
	sqlite3 *db = NULL;
	char err[256];
	int rc = db_open(path, &db, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "db_open: %s\n", err);
	assert_int_equal(rc, 0);
	return db;
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

/* A plausible answered call i, starting at t0 + i seconds. */
static struct db_cdr cdr_row(unsigned i, const char *caller, const char *callee)
{
	struct db_cdr r;
	memset(&r, 0, sizeof r);
	snprintf(r.call_id, sizeof r.call_id, "call-%u@192.0.2.1", i);
	snprintf(r.caller, sizeof r.caller, "%s", caller);
	snprintf(r.callee, sizeof r.callee, "%s", callee);
	snprintf(r.dialed, sizeof r.dialed, "%s", callee);
	r.start_at = 1700000000000 + (int64_t)i * 1000;
	r.answer_at = r.start_at + 2500;
	r.end_at = r.start_at + 60000;
	r.disposition = DB_CDR_ANSWERED;
	r.hangup_by = DB_CDR_BY_CALLER;
	snprintf(r.a.codec, sizeof r.a.codec, "PCMU");
	r.a.rx_packets = 2875;
	r.a.tx_packets = 2876;
	r.a.lost = 3;
	r.a.jitter_ms = 4;
	snprintf(r.b.codec, sizeof r.b.codec, "opus");
	r.b.rx_packets = 2870;
	r.b.tx_packets = 2871;
	r.b.srtp = true;
	return r;
}

struct collect {
	struct db_cdr rows[64];
	size_t n;
	size_t stop_after; /* 0 = never */
};

static int collect_cb(void *ctx, const struct db_cdr *r)
{
	struct collect *c = ctx;
	if (c->n < sizeof c->rows / sizeof c->rows[0])
		c->rows[c->n++] = *r;
	return c->stop_after && c->n >= c->stop_after ? 42 : 0;
}

/* ---- db_cdr ------------------------------------------------------------------ */

static void test_names(void **state)
{
	(void)state;
	static const char *const want[] = { "answered", "busy",	      "noanswer", "unavailable",
					    "cancelled", "failed",    "redirected", "rejected" };
	assert_int_equal(DB_CDR_DISP_COUNT, 8);
	for (int i = 0; i < DB_CDR_DISP_COUNT; i++) {
		assert_string_equal(db_cdr_disp_name((enum db_cdr_disp)i), want[i]);
		enum db_cdr_disp d;
		assert_int_equal(db_cdr_disp_parse(want[i], &d), 0);
		assert_int_equal(d, i);
	}
	enum db_cdr_disp d;
	assert_int_equal(db_cdr_disp_parse("Answered", &d), EINVAL);
	assert_int_equal(db_cdr_disp_parse("", &d), EINVAL);
	assert_int_equal(db_cdr_disp_parse(NULL, &d), EINVAL);
	assert_null(db_cdr_disp_name(DB_CDR_DISP_COUNT));
	assert_null(db_cdr_disp_name((enum db_cdr_disp)-1));
	assert_string_equal(db_cdr_by_name(DB_CDR_BY_NONE), "");
	assert_string_equal(db_cdr_by_name(DB_CDR_BY_SYSTEM), "system");
	assert_null(db_cdr_by_name(DB_CDR_BY_COUNT));
}

static void test_insert_list_roundtrip(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = open_fresh(path, sizeof path);
	char err[160];
	assert_int_equal(db_ext_add(db, "1001", "", "secret1", "", err, sizeof err), 0);
	int64_t s0, s1;
	assert_int_equal(db_config_serial(db, &s0), 0);

	struct db_cdr rows[3] = { cdr_row(1, "1001", "1002"), cdr_row(2, "1002", "1001"), cdr_row(3, "1001", "") };
	rows[2].answer_at = 0;
	rows[2].disposition = DB_CDR_UNAVAILABLE;
	rows[2].hangup_by = DB_CDR_BY_NONE;
	snprintf(rows[2].dialed, sizeof rows[2].dialed, "*72");
	memset(&rows[2].a, 0, sizeof rows[2].a);
	memset(&rows[2].b, 0, sizeof rows[2].b);
	assert_int_equal(db_cdr_insert_batch(db, rows, 3), 0);
	assert_int_equal(db_cdr_insert_batch(db, rows, 0), 0);

	/* History is not configuration: the serial stays. */
	assert_int_equal(db_config_serial(db, &s1), 0);
	assert_int_equal(s0, s1);
	/* Never answered is NULL in SQL, not 0. */
	assert_int_equal(query_int(db, "SELECT count(*) FROM cdr WHERE answer_at IS NULL"), 1);
	assert_int_equal(query_int(db, "SELECT count(*) FROM cdr WHERE srtp_b = 1 AND srtp_a = 0"), 2);

	size_t total = 0;
	assert_int_equal(db_cdr_count(db, NULL, &total), 0);
	assert_int_equal(total, 3);
	struct collect c = { 0 };
	assert_int_equal(db_cdr_list(db, NULL, 0, 100, collect_cb, &c), 0);
	assert_int_equal(c.n, 3);
	/* Newest first, every field back as written. */
	assert_string_equal(c.rows[0].dialed, "*72");
	assert_int_equal(c.rows[0].answer_at, 0);
	assert_int_equal(c.rows[0].disposition, DB_CDR_UNAVAILABLE);
	assert_int_equal(c.rows[0].hangup_by, DB_CDR_BY_NONE);
	assert_string_equal(c.rows[0].a.codec, "");
	const struct db_cdr *r = &c.rows[2];
	assert_true(r->id > 0);
	assert_string_equal(r->call_id, "call-1@192.0.2.1");
	assert_string_equal(r->caller, "1001");
	assert_string_equal(r->callee, "1002");
	assert_string_equal(r->dialed, "1002");
	assert_int_equal(r->start_at, 1700000001000);
	assert_int_equal(r->answer_at, 1700000003500);
	assert_int_equal(r->end_at, 1700000061000);
	assert_int_equal(r->disposition, DB_CDR_ANSWERED);
	assert_int_equal(r->hangup_by, DB_CDR_BY_CALLER);
	assert_string_equal(r->a.codec, "PCMU");
	assert_int_equal(r->a.rx_packets, 2875);
	assert_int_equal(r->a.tx_packets, 2876);
	assert_int_equal(r->a.lost, 3);
	assert_int_equal(r->a.jitter_ms, 4);
	assert_false(r->a.srtp);
	assert_string_equal(r->b.codec, "opus");
	assert_int_equal(r->b.rx_packets, 2870);
	assert_true(r->b.srtp);

	/* The callback's non-zero value stops the walk and is returned. */
	struct collect stop = { .stop_after = 1 };
	assert_int_equal(db_cdr_list(db, NULL, 0, 100, collect_cb, &stop), 42);
	assert_int_equal(stop.n, 1);
	db_close(db);
}

static void test_bad_rows_skipped(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = open_fresh(path, sizeof path);
	struct db_cdr rows[10];
	for (unsigned i = 0; i < 10; i++)
		rows[i] = cdr_row(i, "1001", "1002");
	rows[0].disposition = DB_CDR_DISP_COUNT;
	rows[1].hangup_by = (enum db_cdr_by)7;
	rows[2].end_at = rows[2].start_at - 1;
	rows[3].answer_at = rows[3].end_at + 1;
	rows[4].start_at = 0;
	memset(rows[5].caller, 'x', sizeof rows[5].caller); /* not terminated */
	memset(rows[6].b.codec, 'y', sizeof rows[6].b.codec);
	rows[7].a.lost = -1;
	rows[8].b.jitter_ms = -5;
	/* rows[9] is fine */
	assert_int_equal(db_cdr_insert_batch(db, rows, 10), 0);
	size_t total = 0;
	assert_int_equal(db_cdr_count(db, NULL, &total), 0);
	assert_int_equal(total, 1);
	assert_int_equal(query_int(db, "SELECT count(*) FROM cdr WHERE call_id = 'call-9@192.0.2.1'"), 1);
	/* The schema refuses what C would have refused, from raw SQL too. */
	assert_int_not_equal(sqlite3_exec(db,
					  "INSERT INTO cdr(call_id, caller, callee, dialed, start_at, end_at,"
					  " disposition) VALUES ('x', '1', '2', '2', 1, 2, 'exploded')",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db,
					  "INSERT INTO cdr(call_id, caller, callee, dialed, start_at, end_at,"
					  " disposition, hangup_by) VALUES ('x', '1', '2', '2', 1, 2, 'busy', 'cat')",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	db_close(db);
}

static void test_filters_and_paging(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = open_fresh(path, sizeof path);
	/* 40 calls: callers alternate 1001/1002, callee 2000 + i % 4, every
	 * fifth one busy. */
	struct db_cdr rows[40];
	for (unsigned i = 0; i < 40; i++) {
		char callee[8];
		snprintf(callee, sizeof callee, "%u", 2000 + i % 4);
		rows[i] = cdr_row(i, i % 2 ? "1002" : "1001", callee);
		if (i % 5 == 0) {
			rows[i].disposition = DB_CDR_BUSY;
			rows[i].answer_at = 0;
		}
	}
	assert_int_equal(db_cdr_insert_batch(db, rows, 40), 0);

	size_t n = 0;
	struct db_cdr_filter f = { .caller = "1001" };
	assert_int_equal(db_cdr_count(db, &f, &n), 0);
	assert_int_equal(n, 20);
	f = (struct db_cdr_filter){ .callee = "2003" };
	assert_int_equal(db_cdr_count(db, &f, &n), 0);
	assert_int_equal(n, 10);
	f = (struct db_cdr_filter){ .disposition = "busy" };
	assert_int_equal(db_cdr_count(db, &f, &n), 0);
	assert_int_equal(n, 8);
	f = (struct db_cdr_filter){ .caller = "1001", .callee = "2000", .disposition = "busy" };
	assert_int_equal(db_cdr_count(db, &f, &n), 0);
	assert_int_equal(n, 2); /* i = 0, 20 */
	/* Time window: [from, to) on start_at. */
	f = (struct db_cdr_filter){ .from_ms = 1700000010000, .to_ms = 1700000020000 };
	assert_int_equal(db_cdr_count(db, &f, &n), 0);
	assert_int_equal(n, 10);
	struct collect c = { 0 };
	assert_int_equal(db_cdr_list(db, &f, 0, 100, collect_cb, &c), 0);
	assert_int_equal(c.n, 10);
	assert_int_equal(c.rows[0].start_at, 1700000019000);
	assert_int_equal(c.rows[9].start_at, 1700000010000);
	/* Empty strings mean any. */
	f = (struct db_cdr_filter){ .caller = "", .callee = "", .disposition = "" };
	assert_int_equal(db_cdr_count(db, &f, &n), 0);
	assert_int_equal(n, 40);
	/* A filter value is data, never SQL. */
	f = (struct db_cdr_filter){ .caller = "1001' OR '1'='1" };
	assert_int_equal(db_cdr_count(db, &f, &n), 0);
	assert_int_equal(n, 0);
	/* Bad filters. */
	f = (struct db_cdr_filter){ .disposition = "answered' --" };
	assert_int_equal(db_cdr_count(db, &f, &n), EINVAL);
	assert_int_equal(db_cdr_list(db, &f, 0, 10, collect_cb, &c), EINVAL);
	f = (struct db_cdr_filter){ .from_ms = -1 };
	assert_int_equal(db_cdr_count(db, &f, &n), EINVAL);

	/* Pages cover everything once, newest first. */
	int64_t last = INT64_MAX;
	size_t seen = 0;
	for (size_t off = 0; off < 50; off += 7) {
		struct collect p = { 0 };
		assert_int_equal(db_cdr_list(db, NULL, off, 7, collect_cb, &p), 0);
		assert_true(p.n <= 7);
		for (size_t i = 0; i < p.n; i++) {
			assert_true(p.rows[i].start_at < last);
			last = p.rows[i].start_at;
		}
		seen += p.n;
	}
	assert_int_equal(seen, 40);
	struct collect none = { 0 };
	assert_int_equal(db_cdr_list(db, NULL, 40, 10, collect_cb, &none), 0);
	assert_int_equal(none.n, 0);
	assert_int_equal(db_cdr_list(db, NULL, 0, 0, collect_cb, &none), 0);
	assert_int_equal(none.n, 0);
	db_close(db);
}

static void test_payloads_literal(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = open_fresh(path, sizeof path);
	static const char *const payloads[] = {
		"'; DROP TABLE cdr; --",
		"<script>alert(1)</script>",
		"=HYPERLINK(\"http://x\")",
		"\xff\xfe not utf-8",
	};
	struct db_cdr rows[4];
	for (unsigned i = 0; i < 4; i++) {
		rows[i] = cdr_row(i, payloads[i], "1002");
		snprintf(rows[i].dialed, sizeof rows[i].dialed, "%s", payloads[i]);
		snprintf(rows[i].call_id, sizeof rows[i].call_id, "%s", payloads[i]);
	}
	assert_int_equal(db_cdr_insert_batch(db, rows, 4), 0);
	for (unsigned i = 0; i < 4; i++) {
		struct db_cdr_filter f = { .caller = payloads[i] };
		struct collect c = { 0 };
		assert_int_equal(db_cdr_list(db, &f, 0, 10, collect_cb, &c), 0);
		assert_int_equal(c.n, 1);
		assert_string_equal(c.rows[0].caller, payloads[i]);
		assert_string_equal(c.rows[0].dialed, payloads[i]);
		assert_string_equal(c.rows[0].call_id, payloads[i]);
	}
	assert_int_equal(query_int(db, "SELECT count(*) FROM cdr"), 4);
	db_close(db);
}

/* ---- the jobs thread ------------------------------------------------------------ */

static struct jobs *jobs_on(const char *path)
{
	sqlite3 *db = NULL;
	char err[256];
	assert_int_equal(db_open(path, &db, err, sizeof err), 0);
	int64_t serial = 0;
	assert_int_equal(db_config_serial(db, &serial), 0);
	db_close(db);
	struct jobs *j = NULL;
	assert_int_equal(jobs_start(&j, path, serial), 0);
	return j;
}

static void test_jobs_cdr_batches_and_stop(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = open_fresh(path, sizeof path);
	struct jobs *j = jobs_on(path);
	for (unsigned i = 0; i < 500; i++) {
		struct db_cdr r = cdr_row(i, "1001", "1002");
		jobs_cdr_put(j, &r);
	}
	jobs_sync(j);
	assert_int_equal(query_int(db, "SELECT count(*) FROM cdr"), 500);
	assert_int_equal(jobs_cdr_dropped(j), 0);
	/* A bad record is skipped, its neighbours are written. */
	struct db_cdr bad = cdr_row(1000, "1001", "1002");
	bad.end_at = 1;
	jobs_cdr_put(j, &bad);
	for (unsigned i = 1001; i < 1101; i++) {
		struct db_cdr r = cdr_row(i, "1003", "1002");
		jobs_cdr_put(j, &r);
	}
	/* No sync: stopping must write what is queued. */
	jobs_stop(j);
	assert_int_equal(query_int(db, "SELECT count(*) FROM cdr"), 600);
	assert_int_equal(query_int(db, "SELECT count(*) FROM cdr WHERE caller = '1003'"), 100);
	db_close(db);
}

static void test_jobs_cdr_queue_full(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = open_fresh(path, sizeof path);
	struct jobs *j = jobs_on(path);
	/* The thread has its connection open once a first record is written. */
	struct db_cdr r = cdr_row(0, "1001", "1002");
	jobs_cdr_put(j, &r);
	jobs_sync(j);
	assert_int_equal(query_int(db, "SELECT count(*) FROM cdr"), 1);

	/* Storage stalls (another writer holds the lock, well within the
	 * jobs connection's 5 s busy timeout): the thread can hold at most one
	 * batch, the queue at most JOBS_CDR_QUEUE_MAX; the rest is dropped
	 * and counted, and putting never waits. */
	assert_int_equal(db_begin(db), 0);
	const unsigned extra = 10, total = 2 * JOBS_CDR_QUEUE_MAX + extra;
	for (unsigned i = 1; i <= total; i++) {
		r = cdr_row(i, "1001", "1002");
		jobs_cdr_put(j, &r);
	}
	unsigned long dropped = jobs_cdr_dropped(j);
	assert_true(dropped >= extra);
	assert_true(dropped <= total);
	db_rollback(db);
	jobs_sync(j);
	assert_int_equal(jobs_cdr_dropped(j), dropped);
	assert_int_equal(query_int(db, "SELECT count(*) FROM cdr"), 1 + (long long)(total - dropped));
	jobs_stop(j);
	db_close(db);
}

static struct db_binding binding(const char *aor, const char *contact)
{
	struct db_binding b;
	memset(&b, 0, sizeof b);
	snprintf(b.aor, sizeof b.aor, "%s", aor);
	snprintf(b.contact, sizeof b.contact, "%s", contact);
	snprintf(b.received, sizeof b.received, "127.0.0.1:5062");
	snprintf(b.transport, sizeof b.transport, "udp");
	snprintf(b.local, sizeof b.local, "127.0.0.1:5060");
	snprintf(b.call_id, sizeof b.call_id, "cid-%s", contact);
	b.cseq = 1;
	b.expires_at = (int64_t)time(NULL) + 3600;
	b.q = -1;
	return b;
}

/* A phone registers a contact and removes it again within one batch, next
 * to the removal of a stored one: the add and its removal coalesce into a
 * removal of a row never written, which must not sink the other removal
 * (it once rolled the whole batch back, leaving a removed binding stored). */
static void test_jobs_bindings_coalesced_removal(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = open_fresh(path, sizeof path);
	struct jobs *j = jobs_on(path);
	struct db_binding y = binding("1003", "sip:1003@127.0.0.1:15060");
	jobs_location_put(j, &y);
	jobs_sync(j);
	assert_int_equal(query_int(db, "SELECT count(*) FROM location WHERE aor = '1003'"), 1);

	/* Back to back: the thread gathers changes for 200 ms per batch. */
	struct db_binding x = binding("1003", "sip:1003@127.0.0.1:6003");
	jobs_location_put(j, &x);
	jobs_location_del(j, "1003", x.contact);
	jobs_location_del(j, "1003", y.contact);
	struct db_binding z = binding("1004", "sip:1004@127.0.0.1:6004");
	jobs_location_put(j, &z);
	jobs_sync(j);
	assert_int_equal(query_int(db, "SELECT count(*) FROM location WHERE aor = '1003'"), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM location WHERE aor = '1004'"), 1);

	/* Removing every binding of an aor that has none is no error either. */
	jobs_location_del(j, "1005", NULL);
	jobs_location_del(j, "1004", NULL);
	jobs_stop(j);
	assert_int_equal(query_int(db, "SELECT count(*) FROM location"), 0);
	db_close(db);
}

static bool fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1;
}

static void test_jobs_feature_codes(void **state)
{
	(void)state;
	char path[128], err[160];
	sqlite3 *db = open_fresh(path, sizeof path);
	assert_int_equal(db_ext_add(db, "1001", "", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "1002", "", "secret1", "", err, sizeof err), 0);
	struct jobs *j = jobs_on(path);
	assert_false(fd_readable(jobs_config_fd(j)));

	/* *72 1002: forward all; the core is woken with the new snapshot as
	 * soon as it is written. */
	jobs_fwd_set(j, "1001", DB_FWD_ALWAYS, "1002");
	jobs_sync(j);
	assert_true(fd_readable(jobs_config_fd(j)));
	struct config *c = jobs_take_config(j);
	assert_non_null(c);
	const struct config_ext *e = config_ext_find(c, "1001", 4);
	assert_non_null(e);
	assert_string_equal(e->fwd_always, "1002");
	assert_string_equal(e->fwd_busy, "");
	assert_false(e->dnd);
	config_unref(c);

	/* Several changes in order: busy, no-answer, DND on, always off. */
	jobs_fwd_set(j, "1001", DB_FWD_BUSY, "1002");
	jobs_fwd_set(j, "1001", DB_FWD_NOANSWER, "1002");
	jobs_dnd_set(j, "1001", true);
	jobs_fwd_set(j, "1001", DB_FWD_ALWAYS, NULL);
	jobs_sync(j);
	c = jobs_take_config(j);
	assert_non_null(c);
	e = config_ext_find(c, "1001", 4);
	assert_string_equal(e->fwd_always, "");
	assert_string_equal(e->fwd_busy, "1002");
	assert_string_equal(e->fwd_noanswer, "1002");
	assert_true(e->dnd);
	assert_false(config_ext_find(c, "1002", 4)->dnd);
	config_unref(c);

	/* Refused by the db layer (self, unknown target, unknown extension)
	 * or at once (too long): nothing changes, no new snapshot. */
	jobs_fwd_set(j, "1001", DB_FWD_BUSY, "1001");
	jobs_fwd_set(j, "1001", DB_FWD_BUSY, "4444");
	jobs_fwd_set(j, "4444", DB_FWD_BUSY, "1002");
	jobs_dnd_set(j, "4444", true);
	jobs_fwd_set(j, "1234567890123456789", DB_FWD_BUSY, "1002");
	jobs_fwd_set(j, "1001", DB_FWD_BUSY, "1234567890123456789");
	jobs_fwd_set(j, "1001", (enum db_fwd_kind)9, "1002");
	jobs_fwd_set(j, NULL, DB_FWD_BUSY, "1002");
	jobs_dnd_set(j, NULL, true);
	jobs_sync(j);
	assert_null(jobs_take_config(j));
	struct db_fwd f;
	assert_int_equal(db_ext_get_fwd(db, "1001", &f), 0);
	assert_string_equal(f.busy, "1002");
	assert_true(f.dnd);
	jobs_dnd_set(j, "1001", false);
	jobs_stop(j); /* pending feature codes are written on the way out too */
	assert_int_equal(db_ext_get_fwd(db, "1001", &f), 0);
	assert_false(f.dnd);
	db_close(db);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_cdr.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* One-time library state before the per-test leak checks count. */
	sqlite3_initialize();
	uint8_t b[4];
	gnutls_rnd(GNUTLS_RND_KEY, b, sizeof b);
	gnutls_rnd(GNUTLS_RND_NONCE, b, sizeof b);
	log_set_level(LOG_ERR);
	/* A first jobs thread, so that whatever a thread leaves behind in
	 * glibc (its arena bookkeeping) exists before the tests. */
	char path[128];
	snprintf(path, sizeof path, "%s/warm.db", tmpdir);
	struct jobs *j = NULL;
	if (jobs_start(&j, path, 0) != 0)
		return -1;
	struct db_cdr r = cdr_row(0, "1", "2");
	jobs_cdr_put(j, &r);
	jobs_sync(j);
	jobs_stop(j);
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
		UNIT_TEST(test_names),
		UNIT_TEST(test_insert_list_roundtrip),
		UNIT_TEST(test_bad_rows_skipped),
		UNIT_TEST(test_filters_and_paging),
		UNIT_TEST(test_payloads_literal),
		UNIT_TEST(test_jobs_cdr_batches_and_stop),
		UNIT_TEST(test_jobs_cdr_queue_full),
		UNIT_TEST(test_jobs_bindings_coalesced_removal),
		UNIT_TEST(test_jobs_feature_codes),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
