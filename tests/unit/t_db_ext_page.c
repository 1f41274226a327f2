/*
 * t_db_ext_page.c: db_ext_page, the extensions list paged, sorted and
 * searched in SQL, against a real SQLite file: every sort key both ways,
 * paging boundaries, the total, searches with LIKE wildcards, quotes and
 * non-ASCII text (all literal), and the migration that adds the index the
 * default order walks.
 *
 * The expected pages come from a model of what the web admin did before
 * (read every row, filter with strstr/strcasestr, qsort, reverse for a
 * descending order, slice), so the SQL must match it row for row.
 */
#include "unit.h"

#include "db.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gnutls/crypto.h>

static char tmpdir[64];
static unsigned db_seq;

static sqlite3 *open_fresh(char *path, size_t cap)
{
	snprintf(path, cap, "%s/t%u.db", tmpdir, ++db_seq);
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

/* ---- the data and its model ------------------------------------------------ */

struct row {
	const char *number, *name;
	long long created, updated; /* -1: NULL in the file (reads as 0) */
};

/* Numbers of different lengths (and leading zeros), names that tie when
 * case is ignored, LIKE wildcards, quotes, a backslash, non-ASCII text,
 * times with ties and NULLs. */
static const struct row rows[] = {
	{ "10", "ann", 5, 9 },          { "100", "Ann", 5, 8 },        { "1000", "ANN", 4, 8 },
	{ "99", "Bea", 3, 7 },          { "07", "bea", 3, 7 },         { "007", "", 2, 6 },
	{ "205", "Cid 100%", 6, 6 },    { "206", "Cid 100", 6, 5 },    { "210", "x_y", 7, 5 },
	{ "211", "xay", 7, 4 },         { "300", "O'Brien", 1, 3 },    { "301", "say \"hi\"", 1, 3 },
	{ "302", "back\\slash", 8, 2 }, { "400", "Älva", 9, 2 },       { "401", "älva", 9, 1 },
	{ "402", "日本語", 9, 1 },      { "155", "Dan", 0, 0 },        { "1550", "dan", -1, -1 },
	{ "15500", "Eve", 10, 10 },     { "55", "' OR 1=1 --", 2, 2 }, { "12345678901", "Zed", 11, 11 },
	{ "56", "%", 12, 12 },          { "57", "_", 12, 12 },         { "58", "a%b", 13, 13 },
};
#define NROWS (sizeof rows / sizeof rows[0])

static sqlite3 *fill(void)
{
	char path[128], err[256];
	sqlite3 *db = open_fresh(path, sizeof path);
	assert_int_equal(db_begin(db), 0);
	for (size_t i = 0; i < NROWS; i++) {
		int rc = db_ext_add(db, rows[i].number, rows[i].name, "secret1", "", err, sizeof err);
		if (rc != 0)
			fprintf(stderr, "%s: %s\n", rows[i].number, err);
		assert_int_equal(rc, 0);
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, "UPDATE extensions SET created_at = ?1, updated_at = ?2"
							" WHERE number = ?3",
						    -1, &st, NULL),
				 SQLITE_OK);
		if (rows[i].created >= 0)
			sqlite3_bind_int64(st, 1, rows[i].created);
		if (rows[i].updated >= 0)
			sqlite3_bind_int64(st, 2, rows[i].updated);
		sqlite3_bind_text(st, 3, rows[i].number, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}
	assert_int_equal(db_commit(db), 0);
	return db;
}

static long long t0(long long t) { return t < 0 ? 0 : t; }

static int cmp_number(const void *a, const void *b)
{
	const struct row *x = *(const struct row *const *)a, *y = *(const struct row *const *)b;
	size_t lx = strlen(x->number), ly = strlen(y->number);
	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->number, y->number);
}

static int cmp_name(const void *a, const void *b)
{
	const struct row *x = *(const struct row *const *)a, *y = *(const struct row *const *)b;
	int c = strcasecmp(x->name, y->name);
	return c ? c : cmp_number(a, b);
}

static int cmp_created(const void *a, const void *b)
{
	const struct row *x = *(const struct row *const *)a, *y = *(const struct row *const *)b;
	long long cx = t0(x->created), cy = t0(y->created);
	return cx != cy ? (cx < cy ? -1 : 1) : cmp_number(a, b);
}

static int cmp_updated(const void *a, const void *b)
{
	const struct row *x = *(const struct row *const *)a, *y = *(const struct row *const *)b;
	long long ux = t0(x->updated), uy = t0(y->updated);
	return ux != uy ? (ux < uy ? -1 : 1) : cmp_number(a, b);
}

/* The page the old C code gave: numbers into out, the match count back. */
static unsigned model(const char *q, enum db_ext_sort sort, bool desc, unsigned limit, unsigned offset,
		      const char *out[NROWS], unsigned *n)
{
	static int (*const cmps[])(const void *, const void *) = { cmp_number, cmp_name, cmp_created,
								   cmp_updated };
	const struct row *m[NROWS];
	size_t k = 0;
	for (size_t i = 0; i < NROWS; i++)
		if (!q || !q[0] || strstr(rows[i].number, q) || strcasestr(rows[i].name, q))
			m[k++] = &rows[i];
	qsort(m, k, sizeof m[0], cmps[sort]);
	*n = 0;
	for (size_t i = offset; i < k && i < (size_t)offset + limit; i++)
		out[(*n)++] = m[desc ? k - 1 - i : i]->number;
	return (unsigned)k;
}

/* ---- what db_ext_page hands out ----------------------------------------------- */

struct page {
	char number[NROWS + 1][DB_NUMBER_MAX + 1];
	unsigned n;
	unsigned stop_after; /* 0: never stop */
};

static int page_cb(void *ctx, const struct db_ext *e)
{
	struct page *p = ctx;
	assert_true(p->n < NROWS + 1);
	snprintf(p->number[p->n++], sizeof p->number[0], "%s", e->number);
	return p->stop_after && p->n == p->stop_after ? 42 : 0;
}

static void expect_page(sqlite3 *db, const char *q, enum db_ext_sort sort, bool desc, unsigned limit,
			unsigned offset)
{
	const char *want[NROWS];
	unsigned nwant, total = 12345;
	unsigned want_total = model(q, sort, desc, limit, offset, want, &nwant);
	struct page p = { .n = 0 };
	assert_int_equal(db_ext_page(db, q, sort, desc, limit, offset, page_cb, &p, &total), 0);
	if (total != want_total || p.n != nwant)
		fprintf(stderr, "q=%s sort=%d desc=%d limit=%u offset=%u: total %u/%u rows %u/%u\n",
			q ? q : "(null)", sort, desc, limit, offset, total, want_total, p.n, nwant);
	assert_int_equal(total, want_total);
	assert_int_equal(p.n, nwant);
	for (unsigned i = 0; i < nwant; i++)
		assert_string_equal(p.number[i], want[i]);
}

/* ---- tests ------------------------------------------------------------------- */

/* Every key, both ways, every search, pages across each boundary: the
 * same rows in the same order as the model. */
static void test_page_matches_model(void **state)
{
	(void)state;
	sqlite3 *db = fill();
	static const char *const qs[] = { NULL,  "",    "1",    "00",     "15",  "an",   "AN",   "aN",
					  "%",   "_",   "a%b",  "x_y",    "'",   "\"",   "\\",   "' OR 1=1 --",
					  "ä",   "Ä",   "älva", "日本",   "zzz", "100%", "0",    "12345678901" };
	for (size_t qi = 0; qi < sizeof qs / sizeof qs[0]; qi++) {
		unsigned all;
		const char *scratch[NROWS];
		unsigned ns;
		all = model(qs[qi], DB_EXT_SORT_NUMBER, false, 1000, 0, scratch, &ns);
		const unsigned pages[][2] = { { 1000, 0 }, { 1, 0 },       { 3, 0 },       { 3, 2 },
					      { 5, all > 2 ? all - 2 : 0 },   { 5, all - (all ? 1 : 0) },
					      { 5, all },  { 5, all + 10 }, { 1, 1000000 } };
		for (int s = DB_EXT_SORT_NUMBER; s <= DB_EXT_SORT_UPDATED; s++)
			for (int d = 0; d < 2; d++)
				for (size_t pi = 0; pi < sizeof pages / sizeof pages[0]; pi++)
					expect_page(db, qs[qi], (enum db_ext_sort)s, d, pages[pi][0], pages[pi][1]);
	}
	db_close(db);
}

/* The same, spelled out: the facts the model stands for. */
static void test_page_literal_facts(void **state)
{
	(void)state;
	sqlite3 *db = fill();
	struct page p = { .n = 0 };
	unsigned total = 0;

	/* Default order: shorter numbers first, then as text. */
	assert_int_equal(db_ext_page(db, NULL, DB_EXT_SORT_NUMBER, false, 4, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, NROWS);
	assert_int_equal(p.n, 4);
	assert_string_equal(p.number[0], "07");
	assert_string_equal(p.number[1], "10");
	assert_string_equal(p.number[2], "55");
	assert_string_equal(p.number[3], "56");
	/* Descending: the longest number first. */
	p.n = 0;
	assert_int_equal(db_ext_page(db, NULL, DB_EXT_SORT_NUMBER, true, 2, 0, page_cb, &p, &total), 0);
	assert_string_equal(p.number[0], "12345678901");
	assert_string_equal(p.number[1], "15500");
	/* The last row alone, then nothing past the end (the total stays). */
	p.n = 0;
	assert_int_equal(db_ext_page(db, NULL, DB_EXT_SORT_NUMBER, false, 10, NROWS - 1, page_cb, &p, &total), 0);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.number[0], "12345678901");
	p.n = 0;
	assert_int_equal(db_ext_page(db, NULL, DB_EXT_SORT_NUMBER, false, 10, NROWS, page_cb, &p, &total), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(total, NROWS);

	/* Wildcards are literal: "%" finds the names holding a %, "_" the
	 * ones holding a _. */
	p.n = 0;
	assert_int_equal(db_ext_page(db, "%", DB_EXT_SORT_NUMBER, false, 100, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, 3); /* 205 "Cid 100%", 56 "%", 58 "a%b" */
	assert_string_equal(p.number[0], "56");
	assert_string_equal(p.number[1], "58");
	assert_string_equal(p.number[2], "205");
	p.n = 0;
	assert_int_equal(db_ext_page(db, "_", DB_EXT_SORT_NUMBER, false, 100, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, 2); /* 57 "_", 210 "x_y"; not 211 "xay" */
	assert_string_equal(p.number[0], "57");
	assert_string_equal(p.number[1], "210");
	p.n = 0;
	assert_int_equal(db_ext_page(db, "\\", DB_EXT_SORT_NUMBER, false, 100, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, 1);
	assert_string_equal(p.number[0], "302");
	/* Quotes are data. */
	p.n = 0;
	assert_int_equal(db_ext_page(db, "' OR 1=1 --", DB_EXT_SORT_NUMBER, false, 100, 0, page_cb, &p, &total),
			 0);
	assert_int_equal(total, 1);
	assert_string_equal(p.number[0], "55");
	assert_int_equal(db_ext_page(db, "O'B", DB_EXT_SORT_NUMBER, false, 100, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, 1);
	/* Case folds for ASCII only, as strcasestr: "ä" is not "Ä". */
	p.n = 0;
	assert_int_equal(db_ext_page(db, "ÄLVA", DB_EXT_SORT_NUMBER, false, 100, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, 1);
	assert_string_equal(p.number[0], "400");
	assert_int_equal(db_ext_page(db, "本", DB_EXT_SORT_NUMBER, false, 100, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, 1);
	/* A number matches anywhere in it, not only at the start. */
	assert_int_equal(db_ext_page(db, "55", DB_EXT_SORT_NUMBER, false, 100, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, 4); /* 55, 155, 1550, 15500 */
	/* Name ties break by number, reversed with the rest. */
	p.n = 0;
	assert_int_equal(db_ext_page(db, "ann", DB_EXT_SORT_NAME, false, 100, 0, page_cb, &p, &total), 0);
	assert_int_equal(p.n, 3);
	assert_string_equal(p.number[0], "10");
	assert_string_equal(p.number[2], "1000");
	p.n = 0;
	assert_int_equal(db_ext_page(db, "ann", DB_EXT_SORT_NAME, true, 100, 0, page_cb, &p, &total), 0);
	assert_string_equal(p.number[0], "1000");
	assert_string_equal(p.number[2], "10");
	/* NULL times sort as 0 (1550), first; ties by number. */
	p.n = 0;
	assert_int_equal(db_ext_page(db, NULL, DB_EXT_SORT_CREATED, false, 2, 0, page_cb, &p, &total), 0);
	assert_string_equal(p.number[0], "155");
	assert_string_equal(p.number[1], "1550");

	/* The callback's stop is returned; a bad key is refused. */
	p = (struct page){ .stop_after = 2 };
	assert_int_equal(db_ext_page(db, NULL, DB_EXT_SORT_NAME, false, 100, 0, page_cb, &p, &total), 42);
	assert_int_equal(p.n, 2);
	assert_int_equal(db_ext_page(db, NULL, (enum db_ext_sort)4, false, 100, 0, page_cb, &p, &total), EINVAL);
	char longq[258];
	memset(longq, 'a', sizeof longq - 1);
	longq[sizeof longq - 1] = '\0';
	assert_int_equal(db_ext_page(db, longq, DB_EXT_SORT_NUMBER, false, 100, 0, page_cb, &p, &total), EINVAL);
	longq[256] = '\0'; /* the longest search: nothing matches */
	assert_int_equal(db_ext_page(db, longq, DB_EXT_SORT_NUMBER, false, 100, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, 0);
	/* No transaction is left open, and one of the caller's is kept. */
	assert_int_not_equal(sqlite3_get_autocommit(db), 0);
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_ext_page(db, "ann", DB_EXT_SORT_NUMBER, false, 1, 0, page_cb, &p, &total), 0);
	assert_int_equal(sqlite3_get_autocommit(db), 0);
	assert_int_equal(db_commit(db), 0);

	/* Empty table. */
	assert_int_equal(sqlite3_exec(db, "DELETE FROM extensions", NULL, NULL, NULL), SQLITE_OK);
	p.n = 0;
	total = 7;
	assert_int_equal(db_ext_page(db, NULL, DB_EXT_SORT_NUMBER, false, 100, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, 0);
	assert_int_equal(p.n, 0);
	db_close(db);
}

/* The default order walks the index in either direction: no sort of the
 * table per page. */
static void test_default_order_uses_index(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = open_fresh(path, sizeof path);
	static const char *const plans[] = {
		"EXPLAIN QUERY PLAN SELECT number FROM extensions ORDER BY length(number), number LIMIT 100",
		"EXPLAIN QUERY PLAN SELECT number FROM extensions ORDER BY length(number) DESC, number DESC"
		" LIMIT 100 OFFSET 50",
	};
	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, plans[i], -1, &st, NULL), SQLITE_OK);
		bool index = false, temp = false;
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(st, 3);
			index |= d && strstr(d, "extensions_order") != NULL;
			temp |= d && strstr(d, "TEMP B-TREE") != NULL;
		}
		sqlite3_finalize(st);
		assert_true(index);
		assert_false(temp);
	}
	db_close(db);
}

/* A version 3 file gets the index on open and keeps its rows. */
static void test_migration_from_3(void **state)
{
	(void)state;
	char path[128], err[256];
	sqlite3 *db = open_fresh(path, sizeof path);
	assert_int_equal(db_ext_add(db, "1001", "Ann", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "99", "Bea", "secret1", "", err, sizeof err), 0);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX extensions_order; PRAGMA user_version = 3;", NULL, NULL, NULL),
			 SQLITE_OK);
	db_close(db);
	db = NULL;
	assert_int_equal(db_open(path, &db, err, sizeof err), 0);
	assert_int_equal(query_int(db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
				       " AND name = 'extensions_order' AND tbl_name = 'extensions'"),
			 1);
	struct page p = { .n = 0 };
	unsigned total = 0;
	assert_int_equal(db_ext_page(db, NULL, DB_EXT_SORT_NUMBER, false, 10, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, 2);
	assert_string_equal(p.number[0], "99");
	assert_string_equal(p.number[1], "1001");
	db_close(db);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_db_ext_page.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* Process-wide library state, made before the per-test leak check. */
	sqlite3_initialize();
	uint8_t b[4];
	gnutls_rnd(GNUTLS_RND_KEY, b, sizeof b);
	gnutls_rnd(GNUTLS_RND_NONCE, b, sizeof b);
	log_set_level(LOG_ERR);
	char path[128];
	db_close(open_fresh(path, sizeof path));
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
	/* Without glibc's per-thread malloc cache: see t_db.c. */
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_page_matches_model),
		UNIT_TEST(test_page_literal_facts),
		UNIT_TEST(test_default_order_uses_index),
		UNIT_TEST(test_migration_from_3),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
