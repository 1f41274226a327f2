/*
 * t_db_ext_page.c: db_ext_page, the extensions list paged, sorted and
 * searched in SQL, against a real SQLite file: every sort key both ways,
 * paging boundaries, the total, searches with LIKE wildcards, quotes and
 * non-ASCII text (all literal), the trigram index that answers searches of
 * 2 characters or more (random names and searches of 1 to 5 characters
 * against a naive model, which path each search takes, the index kept in
 * step by every writer), and the migrations that add the index the default
 * order walks and the search index.
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

/* The rows the model reads: the fixed rows[] or what a file holds. */
struct rowset {
	const struct row *r;
	size_t n;
	struct row *owned; /* r when loaded (load_rows), its strings too */
};

#define SET_MAX 4096 /* rows of a set */

/* The page the old C code gave: numbers into out, the match count back. */
static unsigned model(const struct rowset *set, const char *q, enum db_ext_sort sort, bool desc, unsigned limit,
		      unsigned offset, const char **out, unsigned *n)
{
	static int (*const cmps[])(const void *, const void *) = { cmp_number, cmp_name, cmp_created,
								   cmp_updated };
	static const struct row *m[SET_MAX];
	assert_true(set->n <= SET_MAX);
	size_t k = 0;
	for (size_t i = 0; i < set->n; i++)
		if (!q || !q[0] || strstr(set->r[i].number, q) || strcasestr(set->r[i].name, q))
			m[k++] = &set->r[i];
	if (k)
		qsort(m, k, sizeof m[0], cmps[sort]);
	*n = 0;
	for (size_t i = offset; i < k && i < (size_t)offset + limit; i++)
		out[(*n)++] = m[desc ? k - 1 - i : i]->number;
	return (unsigned)k;
}

static const struct rowset fixed = { rows, NROWS, NULL };

/* Every extension of the file, read with a plain SELECT. */
static void load_rows(sqlite3 *db, struct rowset *set)
{
	struct row *r = calloc(SET_MAX, sizeof *r);
	assert_non_null(r);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT number, name, created_at, updated_at FROM extensions", -1, &st,
					    NULL),
			 SQLITE_OK);
	size_t n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_true(n < SET_MAX);
		r[n].number = strdup((const char *)sqlite3_column_text(st, 0));
		r[n].name = strdup((const char *)sqlite3_column_text(st, 1));
		assert_non_null(r[n].number);
		assert_non_null(r[n].name);
		r[n].created = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);
		r[n].updated = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_finalize(st);
	*set = (struct rowset){ r, n, r };
}

static void free_rows(struct rowset *set)
{
	for (size_t i = 0; set->owned && i < set->n; i++) {
		free((char *)set->owned[i].number);
		free((char *)set->owned[i].name);
	}
	free(set->owned);
	*set = (struct rowset){ 0 };
}

/* ---- what db_ext_page hands out ----------------------------------------------- */

struct page {
	char number[SET_MAX + 1][DB_NUMBER_MAX + 1];
	unsigned n;
	unsigned stop_after; /* 0: never stop */
};

static int page_cb(void *ctx, const struct db_ext *e)
{
	struct page *p = ctx;
	assert_true(p->n < SET_MAX + 1);
	snprintf(p->number[p->n++], sizeof p->number[0], "%s", e->number);
	return p->stop_after && p->n == p->stop_after ? 42 : 0;
}

static struct page pg; /* the page under test: too large for the stack */

static void expect_set_page(sqlite3 *db, const struct rowset *set, const char *q, enum db_ext_sort sort, bool desc,
			    unsigned limit, unsigned offset)
{
	static const char *want[SET_MAX];
	unsigned nwant, total = 12345;
	unsigned want_total = model(set, q, sort, desc, limit, offset, want, &nwant);
	pg.n = 0;
	pg.stop_after = 0;
	assert_int_equal(db_ext_page(db, q, sort, desc, limit, offset, page_cb, &pg, &total), 0);
	if (total != want_total || pg.n != nwant)
		fprintf(stderr, "q=%s sort=%d desc=%d limit=%u offset=%u: total %u/%u rows %u/%u\n",
			q ? q : "(null)", sort, desc, limit, offset, total, want_total, pg.n, nwant);
	assert_int_equal(total, want_total);
	assert_int_equal(pg.n, nwant);
	for (unsigned i = 0; i < nwant; i++) {
		if (strcmp(pg.number[i], want[i]) != 0)
			fprintf(stderr, "q=%s sort=%d desc=%d limit=%u offset=%u: row %u\n", q ? q : "(null)", sort,
				desc, limit, offset, i);
		assert_string_equal(pg.number[i], want[i]);
	}
}

static void expect_page(sqlite3 *db, const char *q, enum db_ext_sort sort, bool desc, unsigned limit,
			unsigned offset)
{
	expect_set_page(db, &fixed, q, sort, desc, limit, offset);
}

/* Every key both ways, and pages across the boundaries of the result. */
static void expect_all_pages(sqlite3 *db, const struct rowset *set, const char *q)
{
	const char *scratch[1];
	unsigned ns;
	unsigned all = model(set, q, DB_EXT_SORT_NUMBER, false, 0, 0, scratch, &ns);
	const unsigned pages[][2] = { { 1000, 0 }, { 1, 0 }, { 3, 2 }, { 5, all > 2 ? all - 2 : 0 }, { 5, all },
				      { 1, all + 10 } };
	for (int s = DB_EXT_SORT_NUMBER; s <= DB_EXT_SORT_UPDATED; s++)
		for (int d = 0; d < 2; d++)
			for (size_t pi = 0; pi < sizeof pages / sizeof pages[0]; pi++)
				expect_set_page(db, set, q, (enum db_ext_sort)s, d, pages[pi][0], pages[pi][1]);
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
		all = model(&fixed, qs[qi], DB_EXT_SORT_NUMBER, false, 1000, 0, scratch, &ns);
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

/* The scan a short search makes reads the index only: number and name
 * are in extensions_order. */
static void test_search_scan_reads_index_only(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = open_fresh(path, sizeof path);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db,
					    "EXPLAIN QUERY PLAN SELECT count(*) FROM extensions"
					    " WHERE instr(number, ?1) > 0 OR name LIKE ?4 ESCAPE '\\'",
					    -1, &st, NULL),
			 SQLITE_OK);
	bool covering = false;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 3);
		covering |= d && strstr(d, "COVERING INDEX extensions_order") != NULL;
	}
	sqlite3_finalize(st);
	assert_true(covering);
	db_close(db);
}

/* ---- the search index ------------------------------------------------------------ */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

/* What names are made of: ASCII of both cases, digits the numbers share,
 * LIKE and FTS5 query syntax, and characters that a Unicode case folding
 * would match where LIKE does not (the Kelvin sign folds to k, dotted
 * capital I, sharp s, Ä/ä). */
static const char *const pieces[] = {
	"a", "B", "c", "D", "k", "K", "\xe2\x84\xaa", "x", "Y", "0", "1", "5", "%", "_", "\\", "'", "\"",
	" ", "*", "ä", "Ä", "é", "É", "ß", "ẞ", "日", "本", "İ", "i", "\xf0\x9f\x98\x80",
};
#define NPIECES (sizeof pieces / sizeof pieces[0])

/* n pieces at random into out (cap bytes). */
static void random_text(char *out, size_t cap, unsigned n)
{
	size_t w = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		const char *p = pieces[rnd(NPIECES)];
		if (w + strlen(p) + 1 > cap)
			break;
		w += (size_t)snprintf(out + w, cap - w, "%s", p);
	}
}

/* A file with count extensions of random numbers (2..6 digits of 0125,
 * leading zeros too) and random names, some without a name, with times
 * that tie. */
static sqlite3 *fill_random(unsigned count)
{
	char path[128], err[256];
	sqlite3 *db = open_fresh(path, sizeof path);
	assert_int_equal(db_begin(db), 0);
	for (unsigned i = 0; i < count;) {
		char number[8], name[DB_NAME_BYTES + 1];
		unsigned len = 2 + rnd(5);
		for (unsigned k = 0; k < len; k++)
			number[k] = "0125"[rnd(4)];
		number[len] = '\0';
		bool used = false;
		assert_int_equal(db_number_in_use(db, number, &used), 0);
		if (used)
			continue;
		/* Half the names share a word: searches that match most rows. */
		size_t w = rnd(2) ? (size_t)snprintf(name, sizeof name, "Team ") : 0;
		random_text(name + w, sizeof name - w, rnd(4) == 0 ? 0 : 1 + rnd(10));
		int rc = db_ext_add(db, number, name, "secret1", "", err, sizeof err);
		if (rc != 0)
			fprintf(stderr, "%s \"%s\": %s\n", number, name, err);
		assert_int_equal(rc, 0);
		char sql[160];
		snprintf(sql, sizeof sql, "UPDATE extensions SET created_at = %u, updated_at = %s WHERE number = '%s'",
			 rnd(5), rnd(3) ? "1" : "NULL", number);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		i++;
	}
	assert_int_equal(db_commit(db), 0);
	return db;
}

/* A piece of an existing name or number, chars characters long (at most
 * what is there), with the case of its ASCII letters flipped at random. */
static void random_part(const struct rowset *set, unsigned chars, char *out, size_t cap)
{
	const struct row *r = &set->r[rnd((unsigned)set->n)];
	const char *s = rnd(4) == 0 ? r->number : r->name;
	/* character starts */
	size_t starts[DB_NAME_BYTES + 1], n = 0, len = strlen(s);
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			starts[n++] = i;
	starts[n] = len;
	out[0] = '\0';
	if (n == 0)
		return;
	unsigned take = chars < n ? chars : (unsigned)n;
	size_t first = rnd((unsigned)(n - take + 1));
	size_t a = starts[first], b = starts[first + take];
	assert_true(b - a < cap);
	memcpy(out, s + a, b - a);
	out[b - a] = '\0';
	for (size_t i = 0; out[i]; i++)
		if (rnd(2) && ((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= 'A' && out[i] <= 'Z')))
			out[i] ^= 0x20;
}

/* Random names against the naive model: searches of 1 to 5 characters,
 * made up or cut from the names and numbers with their case flipped, every
 * key both ways, pages across the ends. Searches of 1 character scan, 2
 * go to the index's terms, longer ones to its phrases: all must be the
 * model's. */
static void test_search_random_vs_model(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		rng_state = 0x9e3779b97f4a7c15ULL * seed;
		sqlite3 *db = fill_random(seed == 1 ? 40 : 300);
		struct rowset set;
		load_rows(db, &set);
		unsigned hits[6] = { 0 };
		for (unsigned i = 0; i < 240; i++) {
			char q[64];
			unsigned chars = 1 + i % 5;
			if (i % 3 == 0)
				random_text(q, sizeof q, chars);
			else if (i % 10 == 1)
				snprintf(q, sizeof q, "%.*s", (int)chars, rnd(2) ? "tEaM " : "Team ");
			else
				random_part(&set, chars, q, sizeof q);
			if (!q[0])
				continue;
			const char *scratch[1];
			unsigned ns;
			if (model(&set, q, DB_EXT_SORT_NUMBER, false, 0, 0, scratch, &ns) > 0)
				hits[chars]++;
			expect_all_pages(db, &set, q);
		}
		/* Each length found something: the test compares real results. */
		for (unsigned c = 1; c <= 5; c++)
			assert_true(hits[c] > 0);
		free_rows(&set);
		db_close(db);
	}
}

/* What the statements of one db_ext_page call did (SQLITE_TRACE_PROFILE
 * runs when each ends, the index's own statements included). */
struct trace {
	long long fullscan; /* steps of full scans of a table or an index */
	bool fts;           /* a statement read extensions_fts */
};

static int trace_cb(unsigned type, void *ctx, void *p, void *x)
{
	(void)x;
	struct trace *t = ctx;
	if (type == SQLITE_TRACE_PROFILE) {
		sqlite3_stmt *st = p;
		t->fullscan += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
		const char *sql = sqlite3_sql(st);
		t->fts |= sql && strstr(sql, "extensions_fts") != NULL;
	}
	return 0;
}

static struct trace traced_page(sqlite3 *db, const struct rowset *set, const char *q, enum db_ext_sort sort,
				bool desc, unsigned limit, unsigned offset)
{
	struct trace t = { 0 };
	assert_int_equal(sqlite3_trace_v2(db, SQLITE_TRACE_PROFILE, trace_cb, &t), SQLITE_OK);
	expect_set_page(db, set, q, sort, desc, limit, offset);
	assert_int_equal(sqlite3_trace_v2(db, 0, NULL, NULL), SQLITE_OK);
	return t;
}

/* Which way each search goes, from what SQLite stepped: a search of 2
 * characters or more that few rows match reads no table or index in full,
 * whatever the order; one that most rows match walks no further than its
 * page by number; 1 character, bytes that are not UTF-8 and a pair that
 * begins too many terms scan. */
static void test_search_paths(void **state)
{
	(void)state;
	char path[128];
	sqlite3 *db = open_fresh(path, sizeof path);
	/* 2,000 extensions 10000..11999 named "User N", 1 in 100 of them
	 * also "Rare". */
	char *csv = malloc(2000 * 48 + 64);
	assert_non_null(csv);
	size_t w = (size_t)sprintf(csv, "extension,name,password,vm_pin\n");
	for (unsigned i = 0; i < 2000; i++)
		w += (size_t)sprintf(csv + w, "%u,User %u%s,pw%u,\n", 10000 + i, 10000 + i, i % 100 == 7 ? " Rare" : "",
				     10000 + i);
	FILE *f = fmemopen(csv, w, "r");
	assert_non_null(f);
	unsigned imported = 0;
	assert_int_equal(db_ext_import_csv(db, f, NULL, NULL, &imported), 0);
	fclose(f);
	free(csv);
	assert_int_equal(imported, 2000);
	struct rowset set;
	load_rows(db, &set);

	struct trace t = traced_page(db, &set, "rare", DB_EXT_SORT_NUMBER, false, 100, 0);
	assert_true(t.fts);
	assert_int_equal(t.fullscan, 0);
	t = traced_page(db, &set, "RARE", DB_EXT_SORT_NAME, true, 5, 3);
	assert_true(t.fts);
	assert_int_equal(t.fullscan, 0);
	t = traced_page(db, &set, "1150", DB_EXT_SORT_UPDATED, false, 100, 0);
	assert_true(t.fts);
	assert_int_equal(t.fullscan, 0);
	/* Every row matches: counted by the index, and the page by number
	 * walks just the rows it returns, cheaper than looking each up; far
	 * down it walks to the page, never twice over the table... */
	t = traced_page(db, &set, "user", DB_EXT_SORT_NUMBER, false, 100, 0);
	assert_true(t.fts);
	assert_true(t.fullscan > 0);
	assert_true(t.fullscan <= 101);
	t = traced_page(db, &set, "ser 1", DB_EXT_SORT_NUMBER, true, 100, 1850);
	assert_true(t.fts);
	assert_true(t.fullscan <= 2000);
	/* ...by name a scan, cheaper than 2,000 lookups. */
	t = traced_page(db, &set, "user", DB_EXT_SORT_NAME, false, 100, 0);
	assert_true(t.fullscan > 0);
	assert_true(t.fullscan <= 2000);
	/* Nothing matches: the count says so, no page is read. */
	t = traced_page(db, &set, "zzz", DB_EXT_SORT_NAME, false, 100, 0);
	assert_true(t.fts);
	assert_int_equal(t.fullscan, 0);
	/* 2 characters: the index's terms that begin with them, ORed. */
	t = traced_page(db, &set, "re", DB_EXT_SORT_NUMBER, false, 100, 0);
	assert_true(t.fts);
	assert_int_equal(t.fullscan, 0);
	t = traced_page(db, &set, "Ra", DB_EXT_SORT_CREATED, true, 100, 0);
	assert_true(t.fts);
	assert_int_equal(t.fullscan, 0);
	t = traced_page(db, &set, "zz", DB_EXT_SORT_NUMBER, false, 100, 0);
	assert_true(t.fts);
	assert_int_equal(t.fullscan, 0);
	/* 1 character, or not UTF-8: the scan, and the right rows. */
	t = traced_page(db, &set, "R", DB_EXT_SORT_NUMBER, false, 100, 0);
	assert_false(t.fts);
	assert_true(t.fullscan > 0);
	t = traced_page(db, &set, "\xff\xfe\xfd", DB_EXT_SORT_NUMBER, false, 100, 0);
	assert_false(t.fts);
	t = traced_page(db, &set, "Rar\xc3", DB_EXT_SORT_NUMBER, false, 100, 0);
	assert_false(t.fts);
	/* A scan whose walk reaches the end counts nothing more: one pass
	 * over the 2,000 rows, not two. */
	t = traced_page(db, &set, "~", DB_EXT_SORT_NUMBER, false, 100, 0);
	assert_true(t.fullscan > 0);
	assert_true(t.fullscan <= 2000);
	free_rows(&set);

	/* A pair that begins more than 48 terms (qz and 60 different third
	 * characters) scans too. */
	char err[256];
	assert_int_equal(db_begin(db), 0);
	for (unsigned i = 0; i < 60; i++) {
		char number[8], name[8];
		snprintf(number, sizeof number, "%u", 20000 + i);
		snprintf(name, sizeof name, "Qz%c", (char)('!' + i));
		assert_int_equal(db_ext_add(db, number, name, "secret1", "", err, sizeof err), 0);
	}
	assert_int_equal(db_commit(db), 0);
	load_rows(db, &set);
	t = traced_page(db, &set, "qZ", DB_EXT_SORT_NUMBER, false, 100, 0);
	assert_true(t.fullscan > 0);
	t = traced_page(db, &set, "qZ", DB_EXT_SORT_NAME, true, 7, 50);
	assert_true(t.fullscan > 0);
	free_rows(&set);
	db_close(db);
}

/* The index holds exactly what extensions does: FTS5's own check, one row
 * per extension under its key with its number and lowered name (each
 * padded with two U+0001), and searches that agree with the model. */
static void expect_in_step(sqlite3 *db, const char *const *qs, size_t nq)
{
	assert_int_equal(sqlite3_exec(db, "INSERT INTO extensions_fts(extensions_fts) VALUES ('integrity-check')",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	long long n = query_int(db, "SELECT count(*) FROM extensions");
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions_fts"), n);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions e JOIN extensions_fts f"
				       " ON f.rowid = " DB_EXT_FTS_KEY("e.number") " AND f.number = e.number || char(1, 1)"
				       " AND f.name = lower(e.name) || char(1, 1)"),
			 n);
	struct rowset set;
	load_rows(db, &set);
	for (size_t i = 0; i < nq; i++) {
		expect_set_page(db, &set, qs[i], DB_EXT_SORT_NUMBER, false, 1000, 0);
		expect_set_page(db, &set, qs[i], DB_EXT_SORT_NAME, true, 1000, 0);
	}
	free_rows(&set);
}

/* Every writer keeps the index in step: db_ext_add, db_ext_update (a new
 * name, a change of case only, other columns only), db_ext_del, the CSV
 * import, a transaction rolled back, and plain SQL as the sqlite3 shell
 * would run it: a number changed, INSERT OR REPLACE with and without
 * recursive triggers, a DELETE of many rows. */
static void test_search_index_in_step(void **state)
{
	(void)state;
	static const char *const qs[] = { "ann", "ANN", "Ann Lee", "100", "1001", "10", "new", "csv", "Älv",
					  "%", "re", "row", "lee", "ee", "an", "01", "ek", "v", "a" };
	const size_t nq = sizeof qs / sizeof qs[0];
	char err[256];
	sqlite3 *db = fill();
	expect_in_step(db, qs, nq);

	assert_int_equal(db_ext_add(db, "7001", "Ann Lee", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "7002", "NEW ROW", "secret1", "", err, sizeof err), 0);
	expect_in_step(db, qs, nq);
	assert_int_equal(db_ext_update(db, "7001", "Bo Ek", NULL, NULL, NULL, err, sizeof err), 0);
	assert_int_equal(db_ext_update(db, "10", "ANN", NULL, NULL, NULL, err, sizeof err), 0);
	int ring = 40;
	assert_int_equal(db_ext_update(db, "7002", NULL, NULL, NULL, &ring, err, sizeof err), 0);
	assert_int_equal(db_ext_set_dnd(db, "7002", true), 0);
	expect_in_step(db, qs, nq);
	assert_int_equal(db_ext_del(db, "1000"), 0);
	assert_int_equal(db_ext_del(db, "7002"), 0);
	expect_in_step(db, qs, nq);

	static const char csv[] = "extension,name,password,vm_pin\n8001,Csv Ann,pw8001,\n8002,csv row,pw8002,\n";
	FILE *f = fmemopen((void *)csv, sizeof csv - 1, "r");
	assert_non_null(f);
	unsigned imported = 0;
	assert_int_equal(db_ext_import_csv(db, f, NULL, NULL, &imported), 0);
	fclose(f);
	assert_int_equal(imported, 2);
	expect_in_step(db, qs, nq);

	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_ext_add(db, "9001", "Rolled Back Ann", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_ext_update(db, "8001", "Renamed", NULL, NULL, NULL, err, sizeof err), 0);
	db_rollback(db);
	expect_in_step(db, qs, nq);

	assert_int_equal(sqlite3_exec(db, "UPDATE extensions SET number = '1001001' WHERE number = '8002'", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	expect_in_step(db, qs, nq);
	static const char *const recursive[] = { "PRAGMA recursive_triggers = ON", "PRAGMA recursive_triggers = OFF" };
	for (int k = 0; k < 2; k++) {
		assert_int_equal(sqlite3_exec(db, recursive[k], NULL, NULL, NULL), SQLITE_OK);
		char sql[200];
		snprintf(sql, sizeof sql,
			 "INSERT OR REPLACE INTO extensions(number, name, ha1_md5, ha1_sha256)"
			 " VALUES ('8001', 'Replaced Row %d', '', '')",
			 k);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		expect_in_step(db, qs, nq);
	}
	assert_int_equal(sqlite3_exec(db, "DELETE FROM extensions WHERE number LIKE '1%'", NULL, NULL, NULL), SQLITE_OK);
	expect_in_step(db, qs, nq);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM extensions", NULL, NULL, NULL), SQLITE_OK);
	expect_in_step(db, qs, nq);
	assert_int_equal(query_int(db, "SELECT count(*) FROM extensions_fts"), 0);
	db_close(db);
}

/* A version 3 file gets the indexes on open and keeps its rows. */
static void test_migration_from_3(void **state)
{
	(void)state;
	char path[128], err[256];
	sqlite3 *db = open_fresh(path, sizeof path);
	assert_int_equal(db_ext_add(db, "1001", "Ann", "secret1", "", err, sizeof err), 0);
	assert_int_equal(db_ext_add(db, "99", "Bea", "secret1", "", err, sizeof err), 0);
	assert_int_equal(sqlite3_exec(db,
				      "DROP TRIGGER extensions_fts_ai; DROP TRIGGER extensions_fts_ad;"
				      " DROP TRIGGER extensions_fts_au; DROP TABLE extensions_fts_terms;"
				      " DROP TABLE extensions_fts;"
				      " DROP INDEX extensions_order; PRAGMA user_version = 3;",
				      NULL, NULL, NULL),
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
	p.n = 0;
	assert_int_equal(db_ext_page(db, "BEA", DB_EXT_SORT_NUMBER, false, 10, 0, page_cb, &p, &total), 0);
	assert_int_equal(total, 1);
	assert_string_equal(p.number[0], "99");
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
		UNIT_TEST(test_search_scan_reads_index_only),
		UNIT_TEST(test_search_random_vs_model),
		UNIT_TEST(test_search_paths),
		UNIT_TEST(test_search_index_in_step),
		UNIT_TEST(test_migration_from_3),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
