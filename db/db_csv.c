/*
 * db_csv.c: bulk import of extensions from CSV (header
 * extension,name,password,vm_pin), all or nothing.
 *
 * Every row is checked even after the first bad one, so that one run lists
 * every problem in the file with its line number; only a file without any
 * bad row is committed. Records are physical lines: a quoted field may hold
 * commas and "" but not a line break (no field we import may contain one).
 */
#include "db.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum csv_col { COL_EXTENSION, COL_NAME, COL_PASSWORD, COL_VM_PIN, COL_COUNT };
static const char *const csv_col_names[COL_COUNT] = { "extension", "name", "password", "vm_pin" };

#define CSV_FIELDS_MAX COL_COUNT

/* Numbers already seen in this file, to report duplicates with the line of
 * the first one. Key: the digits with a leading 1 ("0123" -> 10123), which
 * fits in 64 bits for up to 15 digits and is never 0 (the empty slot). */
struct csv_seen {
	uint64_t *keys;
	unsigned *lines;
	size_t cap; /* power of two */
	size_t n;
};

static uint64_t csv_key(const char *number)
{
	uint64_t k = 1;
	for (const char *p = number; *p; p++)
		k = k * 10 + (uint64_t)(*p - '0');
	return k;
}

static size_t csv_slot(const struct csv_seen *s, uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ull;
	size_t i = (size_t)(h >> 32) & (s->cap - 1);
	while (s->keys[i] != 0 && s->keys[i] != key)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int csv_seen_grow(struct csv_seen *s)
{
	struct csv_seen g = { .cap = s->cap ? s->cap * 2 : 1024 };
	g.keys = calloc(g.cap, sizeof *g.keys);
	g.lines = calloc(g.cap, sizeof *g.lines);
	if (!g.keys || !g.lines) {
		free(g.keys);
		free(g.lines);
		return ENOMEM;
	}
	for (size_t i = 0; i < s->cap; i++) {
		if (s->keys[i] == 0)
			continue;
		size_t j = csv_slot(&g, s->keys[i]);
		g.keys[j] = s->keys[i];
		g.lines[j] = s->lines[i];
		g.n++;
	}
	free(s->keys);
	free(s->lines);
	*s = g;
	return 0;
}

/* Remember number at line; *first is the earlier line when it was seen
 * already (0 when new). */
static int csv_seen_add(struct csv_seen *s, const char *number, unsigned line, unsigned *first)
{
	if ((s->n + 1) * 2 > s->cap) {
		int rc = csv_seen_grow(s);
		if (rc != 0)
			return rc;
	}
	uint64_t key = csv_key(number);
	size_t i = csv_slot(s, key);
	if (s->keys[i] == key) {
		*first = s->lines[i];
		return 0;
	}
	s->keys[i] = key;
	s->lines[i] = line;
	s->n++;
	*first = 0;
	return 0;
}

/* One physical line without its CR LF or LF. *too_long when it did not fit
 * (the rest of it is consumed); *has_nul when it holds a NUL byte. Returns
 * false at end of input with nothing read. */
static bool csv_read_line(FILE *in, char *buf, size_t cap, size_t *len, bool *too_long, bool *has_nul)
{
	size_t n = 0;
	bool any = false;
	int c;
	*too_long = false;
	*has_nul = false;
	while ((c = getc(in)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (c == '\0')
			*has_nul = true;
		if (n + 1 < cap)
			buf[n++] = (char)c;
		else
			*too_long = true;
	}
	if (!any)
		return false;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return true;
}

/* Split a line into fields, unquoting in place (unquoting only shrinks).
 * Unquoted fields are trimmed of surrounding blanks. Returns NULL or a
 * message; *nf may exceed CSV_FIELDS_MAX ("too many"), the extra fields are
 * not stored. */
static const char *csv_split(char *line, size_t len, char *fields[CSV_FIELDS_MAX], size_t *nf)
{
	size_t r = 0, w = 0;
	*nf = 0;
	for (;;) {
		while (r < len && (line[r] == ' ' || line[r] == '\t'))
			r++;
		char *start = line + w;
		if (r < len && line[r] == '"') {
			r++;
			for (;;) {
				if (r >= len)
					return "unterminated quoted field";
				if (line[r] == '"') {
					if (r + 1 < len && line[r + 1] == '"') {
						line[w++] = '"';
						r += 2;
						continue;
					}
					r++;
					break;
				}
				line[w++] = line[r++];
			}
			while (r < len && (line[r] == ' ' || line[r] == '\t'))
				r++;
			if (r < len && line[r] != ',')
				return "text after a closing quote";
		} else {
			size_t last = w; /* end of the field without trailing blanks */
			while (r < len && line[r] != ',') {
				if (line[r] == '"')
					return "quote character inside an unquoted field";
				line[w] = line[r++];
				if (line[w] != ' ' && line[w] != '\t')
					last = w + 1;
				w++;
			}
			w = last;
		}
		bool more = r < len; /* at a comma */
		line[w++] = '\0'; /* over the comma or past the end: w <= r + 1 */
		if (*nf < CSV_FIELDS_MAX)
			fields[*nf] = start;
		(*nf)++;
		if (!more)
			return NULL;
		r++;
		if (*nf > CSV_FIELDS_MAX)
			return NULL;
	}
}

struct csv_import {
	sqlite3 *db;
	void (*report)(void *ctx, unsigned line, const char *msg);
	void *ctx;
	unsigned errors;
};

static void csv_error(struct csv_import *im, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void csv_error(struct csv_import *im, unsigned line, const char *fmt, ...)
{
	im->errors++;
	if (im->errors > DB_CSV_REPORT_MAX || !im->report)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	im->report(im->ctx, line, msg);
}

static int csv_header(struct csv_import *im, char *line, size_t len, unsigned lineno, int col[COL_COUNT],
		      size_t *ncols)
{
	char *f[CSV_FIELDS_MAX];
	size_t nf;
	for (int i = 0; i < COL_COUNT; i++)
		col[i] = -1;
	const char *bad = csv_split(line, len, f, &nf);
	if (bad) {
		csv_error(im, lineno, "header: %s", bad);
		return EBADMSG;
	}
	if (nf > CSV_FIELDS_MAX) {
		csv_error(im, lineno, "header: too many columns (the columns are extension,name,password,vm_pin)");
		return EBADMSG;
	}
	for (size_t i = 0; i < nf; i++) {
		int which = -1;
		for (int k = 0; k < COL_COUNT; k++)
			if (strcasecmp(f[i], csv_col_names[k]) == 0)
				which = k;
		if (which < 0) {
			csv_error(im, lineno, "header: unknown column \"%.64s\" (the columns are "
				  "extension,name,password,vm_pin)", f[i]);
			return EBADMSG;
		}
		if (col[which] >= 0) {
			csv_error(im, lineno, "header: column %s appears twice", csv_col_names[which]);
			return EBADMSG;
		}
		col[which] = (int)i;
	}
	if (col[COL_EXTENSION] < 0 || col[COL_PASSWORD] < 0) {
		csv_error(im, lineno, "header: the columns extension and password are required");
		return EBADMSG;
	}
	*ncols = nf;
	return 0;
}

/* Prepared statements reused for every row. */
struct csv_stmts {
	sqlite3_stmt *exists;
	sqlite3_stmt *insert;
};

static int csv_prepare(sqlite3 *db, struct csv_stmts *s)
{
	int rc = sqlite3_prepare_v2(db,
				    "SELECT 1 FROM extensions WHERE number = ?1"
				    " UNION ALL SELECT 2 FROM rooms WHERE number = ?1",
				    -1, &s->exists, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db,
					"INSERT INTO extensions(number, name, ha1_md5, ha1_sha256, vm_pin,"
					" created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
					-1, &s->insert, NULL);
	return rc == SQLITE_OK ? 0 : db_errno(db, rc);
}

/* 0 free, 1 extension, 2 room; negative errno on failure. */
static int csv_exists(sqlite3 *db, sqlite3_stmt *st, const char *number)
{
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : rc == SQLITE_DONE ? 0 : -db_errno(db, rc);
	sqlite3_reset(st);
	return ret;
}

/* Check one data row and, while the file is still clean, insert it.
 * Returns 0 (row handled, maybe reported) or an errno for a database
 * failure that ends the import. */
static int csv_row(struct csv_import *im, struct csv_stmts *s, struct csv_seen *seen, const char *realm,
		   int64_t now, char *line, size_t len, unsigned lineno, const int col[COL_COUNT],
		   size_t ncols, unsigned *inserted)
{
	char *f[CSV_FIELDS_MAX];
	size_t nf;
	const char *bad = csv_split(line, len, f, &nf);
	if (bad) {
		csv_error(im, lineno, "%s", bad);
		return 0;
	}
	if (nf > ncols) {
		csv_error(im, lineno, "too many columns (%s%zu expected)", nf > CSV_FIELDS_MAX ? "more than " : "",
			  ncols);
		return 0;
	}
	if (nf < ncols) {
		csv_error(im, lineno, "%zu columns, %zu expected", nf, ncols);
		return 0;
	}
	const char *number = f[col[COL_EXTENSION]];
	const char *password = f[col[COL_PASSWORD]];
	const char *name = col[COL_NAME] >= 0 ? f[col[COL_NAME]] : "";
	const char *vm_pin = col[COL_VM_PIN] >= 0 ? f[col[COL_VM_PIN]] : "";
	char msg[128];
	if (db_ext_validate(number, name, password, vm_pin, msg, sizeof msg) != 0) {
		csv_error(im, lineno, "%s", msg);
		return 0;
	}
	unsigned first = 0;
	int rc = csv_seen_add(seen, number, lineno, &first);
	if (rc != 0)
		return rc;
	if (first) {
		csv_error(im, lineno, "extension %s is also on line %u", number, first);
		return 0;
	}
	int ex = csv_exists(im->db, s->exists, number);
	if (ex < 0)
		return -ex;
	if (ex > 0) {
		csv_error(im, lineno, "extension %s already exists%s", number,
			  ex == 2 ? " as a conference room" : "");
		return 0;
	}
	if (im->errors)
		return 0; /* nothing will be committed: spare the work */

	char md5[33], sha[65];
	db_ha1(number, realm, password, md5, sha);
	sqlite3_stmt *st = s->insert;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, md5, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, sha, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, vm_pin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_DONE)
		(*inserted)++;
	else if ((rc & 0xff) == SQLITE_CONSTRAINT)
		csv_error(im, lineno, "extension %s: %s", number, sqlite3_errmsg(im->db));
	else
		ret = db_errno(im->db, rc);
	sqlite3_reset(st);
	return ret;
}

int db_ext_import_csv(sqlite3 *db, FILE *in, void (*report)(void *ctx, unsigned line, const char *msg),
		      void *ctx, unsigned *imported)
{
	*imported = 0;
	struct csv_import im = { .db = db, .report = report, .ctx = ctx };
	struct csv_stmts s = { 0 };
	struct csv_seen seen = { 0 };
	char *line = malloc(DB_CSV_LINE_MAX + 1);
	if (!line)
		return ENOMEM;

	/* Inside a caller's transaction a savepoint gives all-or-nothing. */
	bool owned;
	int ret = db_write_begin(db, &owned);
	bool savepoint = false;
	if (ret == 0 && !owned) {
		int rc = sqlite3_exec(db, "SAVEPOINT csv_import", NULL, NULL, NULL);
		ret = rc == SQLITE_OK ? 0 : db_errno(db, rc);
		savepoint = ret == 0;
	}
	char realm[DB_REALM_MAX + 1];
	if (ret == 0)
		ret = db_setting_realm(db, realm);
	if (ret == 0)
		ret = csv_prepare(db, &s);
	if (ret != 0)
		goto out;

	int64_t now = (int64_t)time(NULL);
	unsigned lineno = 0, rows = 0, inserted = 0;
	bool have_header = false;
	int col[COL_COUNT];
	size_t ncols = 0, len;
	bool too_long, has_nul;
	while (csv_read_line(in, line, DB_CSV_LINE_MAX + 1, &len, &too_long, &has_nul)) {
		if (lineno == UINT_MAX)
			break;
		lineno++;
		char *p = line;
		if (lineno == 1 && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
			p += 3;
			len -= 3;
		}
		if (too_long) {
			csv_error(&im, lineno, "line longer than %d bytes", DB_CSV_LINE_MAX);
			if (!have_header)
				break;
			continue;
		}
		if (has_nul) {
			csv_error(&im, lineno, "NUL byte in the line");
			if (!have_header)
				break;
			continue;
		}
		if (strspn(p, " \t") == len)
			continue; /* blank line */
		if (!have_header) {
			if (csv_header(&im, p, len, lineno, col, &ncols) != 0)
				break;
			have_header = true;
			continue;
		}
		if (++rows > DB_CSV_ROWS_MAX) {
			csv_error(&im, lineno, "more than %d rows", DB_CSV_ROWS_MAX);
			break;
		}
		ret = csv_row(&im, &s, &seen, realm, now, p, len, lineno, col, ncols, &inserted);
		if (ret != 0)
			goto out;
		if (im.errors > DB_CSV_REPORT_MAX) {
			if (report)
				report(ctx, lineno, "too many errors, stopping here");
			break;
		}
	}
	if (ferror(in)) {
		ret = EIO;
		goto out;
	}
	if (!have_header && im.errors == 0)
		csv_error(&im, lineno ? lineno : 1, "no header line (extension,name,password,vm_pin)");
	if (im.errors) {
		ret = EBADMSG;
		goto out;
	}
	sqlite3_finalize(s.exists);
	sqlite3_finalize(s.insert);
	s.exists = s.insert = NULL;
	if (savepoint) {
		int rc = sqlite3_exec(db, "RELEASE csv_import", NULL, NULL, NULL);
		ret = rc == SQLITE_OK ? 0 : db_errno(db, rc);
		savepoint = ret != 0;
	} else {
		ret = db_write_end(db, owned, 0);
	}
	owned = false;
	if (ret == 0)
		*imported = inserted;
out:
	sqlite3_finalize(s.exists);
	sqlite3_finalize(s.insert);
	if (owned)
		db_write_end(db, owned, ret ? ret : EIO);
	if (savepoint)
		sqlite3_exec(db, "ROLLBACK TO csv_import; RELEASE csv_import", NULL, NULL, NULL);
	free(seen.keys);
	free(seen.lines);
	free(line);
	return ret;
}
