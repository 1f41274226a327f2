/*
 * db_cdr.c: call detail records: one row per call, written in batches by
 * the jobs thread and read by pbxctl and the web admin.
 *
 * The rows come from the SIP core, whose strings come from the network
 * (Call-ID, the dialled digits, a From user): they are stored byte for byte
 * and bound as parameters, never spliced into SQL. Whoever shows them
 * (terminal, JSON, CSV) makes them safe for that medium.
 */
#include "db.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Far past any real figure, still exact in a JSON number. */
#define CDR_COUNT_MAX ((int64_t)1 << 50)
#define CDR_TIME_MAX ((int64_t)1 << 50) /* unix ms: year 37000 */
#define CDR_JITTER_MAX 3600000          /* ms */

static const char *const disp_names[DB_CDR_DISP_COUNT] = {
	[DB_CDR_ANSWERED] = "answered",       [DB_CDR_BUSY] = "busy",
	[DB_CDR_NOANSWER] = "noanswer",       [DB_CDR_UNAVAILABLE] = "unavailable",
	[DB_CDR_CANCELLED] = "cancelled",     [DB_CDR_FAILED] = "failed",
	[DB_CDR_REDIRECTED] = "redirected",   [DB_CDR_REJECTED] = "rejected",
};

static const char *const by_names[DB_CDR_BY_COUNT] = {
	[DB_CDR_BY_NONE] = "",
	[DB_CDR_BY_CALLER] = "caller",
	[DB_CDR_BY_CALLEE] = "callee",
	[DB_CDR_BY_SYSTEM] = "system",
};

const char *db_cdr_disp_name(enum db_cdr_disp d)
{
	return (unsigned)d < DB_CDR_DISP_COUNT ? disp_names[d] : NULL;
}

int db_cdr_disp_parse(const char *name, enum db_cdr_disp *out)
{
	for (unsigned i = 0; name && i < DB_CDR_DISP_COUNT; i++)
		if (strcmp(name, disp_names[i]) == 0) {
			*out = (enum db_cdr_disp)i;
			return 0;
		}
	return EINVAL;
}

const char *db_cdr_by_name(enum db_cdr_by b)
{
	return (unsigned)b < DB_CDR_BY_COUNT ? by_names[b] : NULL;
}

static enum db_cdr_by by_parse(const char *s)
{
	for (unsigned i = 0; i < DB_CDR_BY_COUNT; i++)
		if (strcmp(s, by_names[i]) == 0)
			return (enum db_cdr_by)i;
	return DB_CDR_BY_NONE;
}

/* ---- insert ------------------------------------------------------------------ */

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static bool count_ok(int64_t v) { return v >= 0 && v <= CDR_COUNT_MAX; }

static const char *leg_problem(const struct db_cdr_leg *l)
{
	if (!TERMINATED(l->codec))
		return "codec not terminated";
	if (!count_ok(l->rx_packets) || !count_ok(l->tx_packets) || !count_ok(l->lost))
		return "packet count out of range";
	if (l->jitter_ms < 0 || l->jitter_ms > CDR_JITTER_MAX)
		return "jitter out of range";
	return NULL;
}

/* Why the row cannot be stored, or NULL. */
static const char *cdr_problem(const struct db_cdr *r)
{
	if (!TERMINATED(r->call_id) || !TERMINATED(r->caller) || !TERMINATED(r->callee) || !TERMINATED(r->dialed))
		return "a text field is not terminated";
	if (!db_cdr_disp_name(r->disposition))
		return "disposition out of range";
	if (!db_cdr_by_name(r->hangup_by))
		return "hangup_by out of range";
	if (r->start_at <= 0 || r->start_at > CDR_TIME_MAX)
		return "start_at out of range";
	if (r->end_at < r->start_at || r->end_at > CDR_TIME_MAX)
		return "end_at before start_at or out of range";
	if (r->answer_at != 0 && (r->answer_at < r->start_at || r->answer_at > r->end_at))
		return "answer_at outside start_at..end_at";
	const char *why = leg_problem(&r->a);
	if (!why)
		why = leg_problem(&r->b);
	return why;
}

static void bind_leg(sqlite3_stmt *st, int first, const struct db_cdr_leg *l)
{
	sqlite3_bind_text(st, first, l->codec, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, first + 1, l->rx_packets);
	sqlite3_bind_int64(st, first + 2, l->tx_packets);
	sqlite3_bind_int64(st, first + 3, l->lost);
	sqlite3_bind_int(st, first + 4, l->jitter_ms);
}

int db_cdr_insert_batch(sqlite3 *db, const struct db_cdr *rows, size_t n)
{
	if (n == 0)
		return 0;
	if (!rows)
		return EINVAL;
	bool owned;
	int ret = db_write_begin(db, &owned);
	if (ret != 0)
		return ret;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO cdr(call_id, caller, callee, dialed, start_at, answer_at, end_at,"
				    " disposition, hangup_by, a_codec, a_rx_packets, a_tx_packets, a_lost, a_jitter_ms,"
				    " b_codec, b_rx_packets, b_tx_packets, b_lost, b_jitter_ms, srtp_a, srtp_b)"
				    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
				    " ?18, ?19, ?20, ?21)",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		ret = db_errno(db, rc);
	for (size_t i = 0; i < n && ret == 0; i++) {
		const struct db_cdr *r = &rows[i];
		const char *why = cdr_problem(r);
		if (why) {
			/* call_id may be the unterminated field: bound the print. */
			log_warn("db: cdr row %.*s: %s; skipped", (int)strnlen(r->call_id, 64), r->call_id, why);
			continue;
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		sqlite3_bind_text(st, 1, r->call_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->caller, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->callee, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, r->dialed, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, r->start_at);
		if (r->answer_at)
			sqlite3_bind_int64(st, 6, r->answer_at); /* else NULL */
		sqlite3_bind_int64(st, 7, r->end_at);
		sqlite3_bind_text(st, 8, db_cdr_disp_name(r->disposition), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, db_cdr_by_name(r->hangup_by), -1, SQLITE_STATIC);
		bind_leg(st, 10, &r->a);
		bind_leg(st, 15, &r->b);
		sqlite3_bind_int(st, 20, r->a.srtp ? 1 : 0);
		sqlite3_bind_int(st, 21, r->b.srtp ? 1 : 0);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE)
			ret = db_errno(db, rc);
	}
	sqlite3_finalize(st);
	return db_write_end(db, owned, ret);
}

/* ---- list and count ------------------------------------------------------------ */

/* The WHERE clause for f: every filter is a fixed fragment with its own
 * parameter number, so the SQL text never holds input. */
static int cdr_where(const struct db_cdr_filter *f, char *out, size_t cap)
{
	static const struct db_cdr_filter none = { 0 };
	if (!f)
		f = &none;
	enum db_cdr_disp d;
	if (f->disposition && *f->disposition && db_cdr_disp_parse(f->disposition, &d) != 0)
		return EINVAL;
	if (f->from_ms < 0 || f->to_ms < 0)
		return EINVAL;
	snprintf(out, cap, " WHERE 1%s%s%s%s%s", f->caller && *f->caller ? " AND caller = ?1" : "",
		 f->callee && *f->callee ? " AND callee = ?2" : "",
		 f->disposition && *f->disposition ? " AND disposition = ?3" : "", f->from_ms ? " AND start_at >= ?4" : "",
		 f->to_ms ? " AND start_at < ?5" : "");
	return 0;
}

static void cdr_bind_filter(sqlite3_stmt *st, const struct db_cdr_filter *f)
{
	if (!f)
		return;
	if (f->caller && *f->caller)
		sqlite3_bind_text(st, 1, f->caller, -1, SQLITE_STATIC);
	if (f->callee && *f->callee)
		sqlite3_bind_text(st, 2, f->callee, -1, SQLITE_STATIC);
	if (f->disposition && *f->disposition)
		sqlite3_bind_text(st, 3, f->disposition, -1, SQLITE_STATIC);
	if (f->from_ms)
		sqlite3_bind_int64(st, 4, f->from_ms);
	if (f->to_ms)
		sqlite3_bind_int64(st, 5, f->to_ms);
}

int db_cdr_count(sqlite3 *db, const struct db_cdr_filter *f, size_t *out)
{
	char sql[256], where[192];
	if (cdr_where(f, where, sizeof where) != 0)
		return EINVAL;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM cdr%s", where);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	cdr_bind_filter(st, f);
	rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW)
		*out = (size_t)sqlite3_column_int64(st, 0);
	else
		ret = db_errno(db, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
	sqlite3_finalize(st);
	return ret;
}

/* Copy a text column into a fixed array; longer values (written by other
 * means) are cut, never overrun. */
static void col_copy(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	snprintf(out, cap, "%s", db_col_text(st, i));
}

static void leg_from_row(sqlite3_stmt *st, int first, struct db_cdr_leg *l)
{
	col_copy(st, first, l->codec, sizeof l->codec);
	l->rx_packets = sqlite3_column_int64(st, first + 1);
	l->tx_packets = sqlite3_column_int64(st, first + 2);
	l->lost = sqlite3_column_int64(st, first + 3);
	l->jitter_ms = sqlite3_column_int(st, first + 4);
}

int db_cdr_list(sqlite3 *db, const struct db_cdr_filter *f, size_t offset, size_t limit,
		int (*cb)(void *ctx, const struct db_cdr *r), void *ctx)
{
	char sql[768], where[192];
	if (cdr_where(f, where, sizeof where) != 0)
		return EINVAL;
	snprintf(sql, sizeof sql,
		 "SELECT id, call_id, caller, callee, dialed, start_at, answer_at, end_at, disposition, hangup_by,"
		 " a_codec, a_rx_packets, a_tx_packets, a_lost, a_jitter_ms,"
		 " b_codec, b_rx_packets, b_tx_packets, b_lost, b_jitter_ms, srtp_a, srtp_b"
		 " FROM cdr%s ORDER BY start_at DESC, id DESC LIMIT ?6 OFFSET ?7",
		 where);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	cdr_bind_filter(st, f);
	sqlite3_bind_int64(st, 6, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
	sqlite3_bind_int64(st, 7, offset > INT64_MAX ? INT64_MAX : (sqlite3_int64)offset);
	/* One row lives on the heap: it is about a kilobyte, and callers may
	 * run on small thread stacks. */
	struct db_cdr *r = malloc(sizeof *r);
	int ret = r ? 0 : ENOMEM;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(r, 0, sizeof *r);
		r->id = sqlite3_column_int64(st, 0);
		col_copy(st, 1, r->call_id, sizeof r->call_id);
		col_copy(st, 2, r->caller, sizeof r->caller);
		col_copy(st, 3, r->callee, sizeof r->callee);
		col_copy(st, 4, r->dialed, sizeof r->dialed);
		r->start_at = sqlite3_column_int64(st, 5);
		r->answer_at = sqlite3_column_type(st, 6) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 6);
		r->end_at = sqlite3_column_int64(st, 7);
		enum db_cdr_disp d = DB_CDR_FAILED;
		if (db_cdr_disp_parse(db_col_text(st, 8), &d) != 0)
			log_warn("db: cdr row %lld: unknown disposition; shown as failed", (long long)r->id);
		r->disposition = d;
		r->hangup_by = by_parse(db_col_text(st, 9));
		leg_from_row(st, 10, &r->a);
		leg_from_row(st, 15, &r->b);
		r->a.srtp = sqlite3_column_int(st, 20) != 0;
		r->b.srtp = sqlite3_column_int(st, 21) != 0;
		ret = cb(ctx, r);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	free(r);
	sqlite3_finalize(st);
	return ret;
}
