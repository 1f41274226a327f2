/*
 * ext_page.c: what one db_ext_page call costs in SQLite, without HTTP, for
 * tests/bench/api (the figures behind db_ext.c's cost constants).
 *
 *   ext_page DB CALLS Q [SORT [DESC [OFFSET [LIMIT]]]]
 *
 * Opens DB with db_open (which migrates it, as pbxd would), calls
 * db_ext_page once to warm the page cache, then CALLS times with search Q
 * ("" for the plain list), sort key SORT (0 number, 1 name, 2 created_at,
 * 3 updated_at), DESC 0 or 1, OFFSET (default 0) and LIMIT (default 100),
 * and prints one line:
 *
 *   q=Q sort=S desc=D offset=O limit=L total=T rows=R us_per_call=U
 *
 * Build it from the top of a built tree:
 *   cc -std=c17 -D_GNU_SOURCE -O2 -I. -Idb -o ext_page tests/bench/api/ext_page.c \
 *      build/libpbx.a $(sed -n 's/^LIBS = //p' Makefile)
 */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALLS_MAX 1000000

static int count_row(void *ctx, const struct db_ext *e)
{
	(void)e;
	(*(unsigned *)ctx)++;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A whole-string unsigned number in [0, max], or -1. */
static long arg_num(const char *s, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return !*s || *end || errno || v < 0 || v > max ? -1 : v;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 8) {
		fprintf(stderr, "usage: ext_page DB CALLS Q [SORT [DESC [OFFSET [LIMIT]]]]\n");
		return 1;
	}
	long calls = arg_num(argv[2], CALLS_MAX);
	long sort = argc > 4 ? arg_num(argv[4], DB_EXT_SORT_UPDATED) : 0;
	long desc = argc > 5 ? arg_num(argv[5], 1) : 0;
	long offset = argc > 6 ? arg_num(argv[6], 10000000) : 0;
	long limit = argc > 7 ? arg_num(argv[7], 100000) : 100;
	if (calls < 1 || sort < 0 || desc < 0 || offset < 0 || limit < 0) {
		fprintf(stderr, "ext_page: CALLS 1..%d, SORT 0..%d, DESC 0 or 1, OFFSET and LIMIT numbers\n",
			CALLS_MAX, (int)DB_EXT_SORT_UPDATED);
		return 1;
	}
	const char *q = argv[3][0] ? argv[3] : NULL;
	sqlite3 *db = NULL;
	char err[256];
	if (db_open(argv[1], &db, err, sizeof err) != 0) {
		fprintf(stderr, "ext_page: %s\n", err);
		return 1;
	}
	unsigned total = 0, rows = 0;
	int rc = db_ext_page(db, q, (enum db_ext_sort)sort, desc, (unsigned)limit, (unsigned)offset, count_row, &rows,
			     &total);
	double t0 = now_s();
	for (long i = 0; i < calls && rc == 0; i++) {
		rows = 0;
		rc = db_ext_page(db, q, (enum db_ext_sort)sort, desc, (unsigned)limit, (unsigned)offset, count_row,
				 &rows, &total);
	}
	double t = now_s() - t0;
	db_close(db);
	if (rc != 0) {
		fprintf(stderr, "ext_page: db_ext_page: %s\n", strerror(rc));
		return 1;
	}
	printf("q=%s sort=%ld desc=%ld offset=%ld limit=%ld total=%u rows=%u us_per_call=%.1f\n", q ? q : "", sort,
	       desc, offset, limit, total, rows, t / (double)calls * 1e6);
	return 0;
}
