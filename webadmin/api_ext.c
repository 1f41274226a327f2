/*
 * api_ext.c: /api/v1/extensions: list (search, sort, paging), create,
 * read, change, delete, new password, CSV import and export.
 *
 * SIP passwords are not stored (only their HA1 digests), so a password is
 * shown once: in the answer that created or regenerated it. The voicemail
 * PIN is not shown either, only whether one is set.
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "log.h"

#define EXT_PASSWORD_LEN 16 /* generated SIP passwords: about 93 bits */
#define EXT_LIMIT_DEFAULT 100
#define EXT_LIMIT_MAX 1000
#define EXT_Q_MAX 64

/* One extension copied out of the db_ext_list callback. */
struct ext_row {
	char number[DB_NUMBER_MAX + 1];
	char *name;
	bool vm_pin_set;
	int ring_time;
	int64_t created_at, updated_at;
};

struct ext_rows {
	struct ext_row *v;
	size_t n, cap;
	const char *only;  /* a single number, or NULL */
	int err;
};

static void ext_rows_free(struct ext_rows *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->v[i].name);
	free(rs->v);
}

static int ext_collect(void *ctx, const struct db_ext *e)
{
	struct ext_rows *rs = ctx;
	if (strlen(e->number) > DB_NUMBER_MAX)
		return 0; /* db.h rules out such rows; never trust a cut copy */
	if (rs->only && strcmp(rs->only, e->number) != 0)
		return 0;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 64;
		struct ext_row *v = realloc(rs->v, cap * sizeof *v);
		if (!v) {
			rs->err = ENOMEM;
			return 1;
		}
		rs->v = v;
		rs->cap = cap;
	}
	struct ext_row *row = &rs->v[rs->n];
	snprintf(row->number, sizeof row->number, "%s", e->number);
	if (!(row->name = strdup(e->name))) {
		rs->err = ENOMEM;
		return 1;
	}
	row->vm_pin_set = e->vm_pin[0] != '\0';
	row->ring_time = e->ring_time;
	row->created_at = e->created_at;
	row->updated_at = e->updated_at;
	rs->n++;
	return rs->only ? 1 : 0;
}

static json_t *ext_json(const struct ext_row *e)
{
	return json_pack("{s:s, s:o, s:b, s:i, s:I, s:I}", "number", e->number, "name", api_jstr(e->name),
			 "vm_pin_set", e->vm_pin_set, "ring_time", e->ring_time, "created_at",
			 (json_int_t)e->created_at, "updated_at", (json_int_t)e->updated_at);
}

static int cmp_number(const void *a, const void *b)
{
	const struct ext_row *x = a, *y = b;
	/* Numbers are digits only: shorter is smaller, then by text. */
	size_t lx = strlen(x->number), ly = strlen(y->number);
	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->number, y->number);
}

/* Parse a non-negative integer query argument in [min, max]. */
static int query_uint(struct api_req *r, const char *name, long min, long max, long dflt, long *out)
{
	char buf[24];
	bool present;
	if (api_query(r, name, buf, sizeof buf, &present) != 0)
		return api_error(r, 400, name, "%s: an integer from %ld to %ld", name, min, max), EINVAL;
	if (!present) {
		*out = dflt;
		return 0;
	}
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (!buf[0] || *end || errno || v < min || v > max || buf[0] == '+' || buf[0] == '-' || buf[0] == ' ')
		return api_error(r, 400, name, "%s: an integer from %ld to %ld", name, min, max), EINVAL;
	*out = v;
	return 0;
}

int api_ext_list(struct api_req *r)
{
	char q[EXT_Q_MAX + 1], sort[24];
	bool has_q, has_sort;
	if (api_query(r, "q", q, sizeof q, &has_q) != 0)
		return api_error(r, 400, "q", "q: at most %d characters", EXT_Q_MAX);
	if (api_query(r, "sort", sort, sizeof sort, &has_sort) != 0)
		has_sort = true, sort[0] = '?';
	long limit, offset;
	if (query_uint(r, "limit", 1, EXT_LIMIT_MAX, EXT_LIMIT_DEFAULT, &limit) != 0 ||
	    query_uint(r, "offset", 0, DB_CSV_ROWS_MAX * 10L, 0, &offset) != 0)
		return 0;
	enum db_ext_sort key = DB_EXT_SORT_NUMBER;
	bool desc = false;
	if (has_sort) {
		const char *k = sort[0] == '-' ? sort + 1 : sort;
		desc = sort[0] == '-';
		if (strcmp(k, "number") == 0)
			key = DB_EXT_SORT_NUMBER;
		else if (strcmp(k, "name") == 0)
			key = DB_EXT_SORT_NAME;
		else if (strcmp(k, "created_at") == 0)
			key = DB_EXT_SORT_CREATED;
		else if (strcmp(k, "updated_at") == 0)
			key = DB_EXT_SORT_UPDATED;
		else
			return api_error(r, 400, "sort", "sort: number, name, created_at or updated_at, "
				       "with a leading - for descending order");
	}
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	/* The page only: SQLite filters, sorts and counts. */
	struct ext_rows rs = { 0 };
	unsigned total = 0;
	int rc = db_ext_page(db, has_q && q[0] ? q : NULL, key, desc, (unsigned)limit, (unsigned)offset,
			     ext_collect, &rs, &total);
	if (rc == 0 && rs.err)
		rc = rs.err;
	if (rc != 0) {
		ext_rows_free(&rs);
		return api_error_db(r, rc, NULL);
	}
	json_t *items = json_array();
	for (size_t k = 0; k < rs.n; k++)
		json_array_append_new(items, ext_json(&rs.v[k]));
	ext_rows_free(&rs);
	return api_reply_json(r, 200, json_pack("{s:o, s:I, s:i, s:i}", "items", items, "total", (json_int_t)total,
						"limit", (int)limit, "offset", (int)offset));
}

/* The extension named by the path, into row (its name owned by rs). */
static int ext_find(struct api_req *r, sqlite3 *db, struct ext_rows *rs)
{
	const char *number = r->params[0];
	if (!db_number_valid(number))
		return api_error(r, 404, "number", "no extension %.*s", DB_NUMBER_MAX + 1, number), ENOENT;
	rs->only = number;
	int rc = db_ext_list(db, ext_collect, rs);
	if (rc == 1)
		rc = 0; /* stopped at the match */
	if (rc == 0 && rs->err)
		rc = rs->err;
	if (rc != 0)
		return api_error_db(r, rc, NULL), rc;
	if (rs->n == 0)
		return api_error(r, 404, "number", "no extension %s", number), ENOENT;
	return 0;
}

int api_ext_get(struct api_req *r)
{
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	struct ext_rows rs = { 0 };
	if (ext_find(r, db, &rs) == 0)
		api_reply_json(r, 200, ext_json(&rs.v[0]));
	ext_rows_free(&rs);
	return 0;
}

int api_ext_create(struct api_req *r)
{
	const char *number = NULL, *name = NULL, *password = NULL, *vm_pin = NULL;
	json_int_t ring = 0;
	bool has_ring = false;
	const struct api_field f[] = {
		{ "number", API_JSTR, true, &number, NULL, NULL },
		{ "name", API_JSTR, false, &name, NULL, NULL },
		{ "password", API_JSTR, false, &password, NULL, NULL },
		{ "vm_pin", API_JSTR, false, &vm_pin, NULL, NULL },
		{ "ring_time", API_JINT, false, NULL, &ring, &has_ring },
	};
	if (api_fields(r, f, sizeof f / sizeof f[0]) != 0)
		return 0;
	char gen[EXT_PASSWORD_LEN + 1];
	if (!password) {
		if (api_random_password(gen, EXT_PASSWORD_LEN) != 0)
			return api_error(r, 500, NULL, "no random numbers");
		password = gen;
	}
	if (has_ring && (ring < 1 || ring > 600))
		return api_error(r, 400, "ring_time", "ring_time: 1 to 600 seconds");
	char err[256] = "";
	int rc = db_ext_validate(number, name, password, vm_pin, err, sizeof err);
	if (rc != 0)
		return api_error_db(r, rc, err);
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	rc = db_begin(db);
	if (rc == 0)
		rc = db_ext_add(db, number, name, password, vm_pin, err, sizeof err);
	if (rc == 0 && has_ring) {
		int rt = (int)ring;
		rc = db_ext_update(db, number, NULL, NULL, NULL, &rt, err, sizeof err);
	}
	if (rc == 0)
		rc = db_commit(db);
	else
		db_rollback(db);
	if (rc != 0) {
		explicit_bzero(gen, sizeof gen);
		return api_error_db(r, rc, err);
	}
	api_changed(r);
	snprintf(r->location, sizeof r->location, "/api/v1/extensions/%s", number);
	api_reply_json(r, 201, json_pack("{s:s, s:s, s:s}", "number", number, "name", name ? name : "",
					 "password", password));
	explicit_bzero(gen, sizeof gen);
	return 0;
}

int api_ext_patch(struct api_req *r)
{
	const char *name = NULL, *vm_pin = NULL, *password = NULL;
	json_int_t ring = 0;
	bool has_ring = false;
	const struct api_field f[] = {
		{ "name", API_JSTR, false, &name, NULL, NULL },
		{ "vm_pin", API_JSTR, false, &vm_pin, NULL, NULL },
		{ "password", API_JSTR, false, &password, NULL, NULL },
		{ "ring_time", API_JINT, false, NULL, &ring, &has_ring },
	};
	if (api_fields(r, f, sizeof f / sizeof f[0]) != 0)
		return 0;
	const char *number = r->params[0];
	if (!db_number_valid(number))
		return api_error(r, 404, "number", "no extension %.*s", DB_NUMBER_MAX + 1, number);
	if (has_ring && (ring < 1 || ring > 600))
		return api_error(r, 400, "ring_time", "ring_time: 1 to 600 seconds");
	char err[256] = "";
	int rc = db_ext_validate(NULL, name, password, vm_pin, err, sizeof err);
	if (rc != 0)
		return api_error_db(r, rc, err);
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	int rt = (int)ring;
	rc = db_begin(db);
	if (rc == 0)
		rc = db_ext_update(db, number, name, vm_pin, NULL, has_ring ? &rt : NULL, err, sizeof err);
	if (rc == 0 && password && (rc = db_ext_set_password(db, number, password)) != 0)
		snprintf(err, sizeof err, "password: cannot be set");
	if (rc == 0)
		rc = db_commit(db);
	else
		db_rollback(db);
	if (rc == ENOENT)
		return api_error(r, 404, "number", "no extension %s", number);
	if (rc != 0)
		return api_error_db(r, rc, err);
	api_changed(r);
	struct ext_rows rs = { 0 };
	if (ext_find(r, db, &rs) == 0)
		api_reply_json(r, 200, ext_json(&rs.v[0]));
	ext_rows_free(&rs);
	return 0;
}

int api_ext_delete(struct api_req *r)
{
	const char *number = r->params[0];
	if (!db_number_valid(number))
		return api_error(r, 404, "number", "no extension %.*s", DB_NUMBER_MAX + 1, number);
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	int rc = db_ext_del(db, number);
	if (rc == ENOENT)
		return api_error(r, 404, "number", "no extension %s", number);
	if (rc != 0)
		return api_error_db(r, rc, NULL);
	api_changed(r);
	return api_reply_empty(r, 204);
}

int api_ext_password(struct api_req *r)
{
	const char *number = r->params[0];
	if (!db_number_valid(number))
		return api_error(r, 404, "number", "no extension %.*s", DB_NUMBER_MAX + 1, number);
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	char pw[EXT_PASSWORD_LEN + 1];
	if (api_random_password(pw, EXT_PASSWORD_LEN) != 0)
		return api_error(r, 500, NULL, "no random numbers");
	int rc = db_ext_set_password(db, number, pw);
	if (rc == ENOENT) {
		api_error(r, 404, "number", "no extension %s", number);
	} else if (rc != 0) {
		api_error_db(r, rc, NULL);
	} else {
		api_changed(r);
		api_reply_json(r, 200, json_pack("{s:s, s:s}", "number", number, "password", pw));
	}
	explicit_bzero(pw, sizeof pw);
	return 0;
}

/* ---- CSV ------------------------------------------------------------------- */

struct import_report {
	json_t *rows;
	unsigned count;
};

static void import_report(void *ctx, unsigned line, const char *msg)
{
	struct import_report *ir = ctx;
	ir->count++;
	if (json_array_size(ir->rows) < DB_CSV_REPORT_MAX)
		json_array_append_new(ir->rows, json_pack("{s:I, s:o}", "line", (json_int_t)line, "error",
							  api_jstr(msg)));
}

int api_ext_import(struct api_req *r)
{
	if (r->body_len == 0)
		return api_error(r, 400, "body", "body: a CSV file with the header extension,name,password,vm_pin");
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	FILE *in = fmemopen(r->body, r->body_len, "r");
	if (!in)
		return api_error(r, 500, NULL, "out of memory");
	struct import_report ir = { .rows = json_array() };
	unsigned imported = 0;
	int rc = ir.rows ? db_ext_import_csv(db, in, import_report, &ir, &imported) : ENOMEM;
	fclose(in);
	if (rc == EBADMSG || (rc == 0 && ir.count)) {
		/* The error shape, naming "rows", plus the rows themselves. */
		api_reply_json(r, 400, json_pack("{s:s, s:s, s:o, s:I}", "error",
						 "some rows are invalid; nothing was imported", "field", "rows",
						 "rows", ir.rows, "invalid", (json_int_t)ir.count));
		return 0;
	}
	json_decref(ir.rows);
	if (rc != 0)
		return api_error_db(r, rc, NULL);
	api_changed(r);
	log_notice("http: %s imported %u extensions", r->sess.user, imported);
	return api_reply_json(r, 200, json_pack("{s:I}", "imported", (json_int_t)imported));
}

/* RFC 4180: quote a field that holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

int api_ext_export(struct api_req *r)
{
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	struct ext_rows rs = { 0 };
	int rc = db_ext_list(db, ext_collect, &rs);
	if (rc == 0 && rs.err)
		rc = rs.err;
	char *text = NULL;
	size_t len = 0;
	FILE *f = rc == 0 ? open_memstream(&text, &len) : NULL;
	if (rc == 0 && !f)
		rc = ENOMEM;
	if (rc == 0) {
		if (rs.n)
			qsort(rs.v, rs.n, sizeof *rs.v, cmp_number);
		fputs("extension,name\r\n", f);
		for (size_t i = 0; i < rs.n; i++) {
			csv_field(f, rs.v[i].number);
			fputc(',', f);
			csv_field(f, rs.v[i].name);
			fputs("\r\n", f);
		}
		if (fclose(f) != 0)
			rc = ENOMEM;
	}
	ext_rows_free(&rs);
	if (rc != 0) {
		free(text);
		return api_error_db(r, rc, NULL);
	}
	snprintf(r->disposition, sizeof r->disposition, "attachment; filename=\"extensions.csv\"");
	return api_reply_text(r, 200, "text/csv; charset=utf-8", text, len);
}
