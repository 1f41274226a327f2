/*
 * api_cdr.c: /api/v1/cdr and /api/v1/cdr.csv: the call history, newest
 * first, filtered by caller, callee, disposition and a time window, paged.
 *
 * Records hold text from the network (Call-ID, dialled digits, a caller's
 * From user): JSON strings go through api_jstr, and in the CSV a field a
 * spreadsheet would read as a formula is prefixed with a quote.
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"

#define CDR_LIMIT_DEFAULT 100
#define CDR_LIMIT_MAX 1000
#define CDR_CSV_MAX 50000               /* rows in one export; page with offset for more */
#define CDR_OFFSET_MAX 1000000000L
#define CDR_TIME_MAX ((int64_t)1 << 50) /* unix ms, as db_cdr.c accepts */

/* A non-negative integer query argument in [min, max]; dflt when absent.
 * Answers 400 naming it otherwise. */
static int query_int64(struct api_req *r, const char *name, int64_t min, int64_t max, int64_t dflt,
		       int64_t *out)
{
	char buf[24];
	bool present;
	int rc = api_query(r, name, buf, sizeof buf, &present);
	if (rc == 0 && !present) {
		*out = dflt;
		return 0;
	}
	char *end = NULL;
	errno = 0;
	long long v = rc == 0 ? strtoll(buf, &end, 10) : 0;
	if (rc != 0 || buf[0] < '0' || buf[0] > '9' || *end || errno || v < min || v > max)
		return api_error(r, 400, name, "%s: an integer from %lld to %lld", name, (long long)min,
				 (long long)max),
		       EINVAL;
	*out = v;
	return 0;
}

/* The filter and page of a request; strings live in the struct. */
struct cdr_query {
	char caller[DB_CDR_PARTY_MAX + 1];
	char callee[DB_CDR_PARTY_MAX + 1];
	char disposition[16];
	struct db_cdr_filter f;
	int64_t offset, limit;
};

static int cdr_query_parse(struct api_req *r, struct cdr_query *q, int64_t limit_dflt, int64_t limit_max)
{
	memset(q, 0, sizeof *q);
	bool present;
	if (api_query(r, "caller", q->caller, sizeof q->caller, &present) != 0)
		return api_error(r, 400, "caller", "caller: at most %d bytes", DB_CDR_PARTY_MAX), EINVAL;
	if (api_query(r, "callee", q->callee, sizeof q->callee, &present) != 0)
		return api_error(r, 400, "callee", "callee: at most %d bytes", DB_CDR_PARTY_MAX), EINVAL;
	enum db_cdr_disp d;
	if (api_query(r, "disposition", q->disposition, sizeof q->disposition, &present) != 0 ||
	    (q->disposition[0] && db_cdr_disp_parse(q->disposition, &d) != 0))
		return api_error(r, 400, "disposition",
				 "disposition: answered, busy, noanswer, unavailable, cancelled, failed, redirected "
				 "or rejected"),
		       EINVAL;
	int64_t from, to;
	if (query_int64(r, "from", 0, CDR_TIME_MAX, 0, &from) != 0 ||
	    query_int64(r, "to", 0, CDR_TIME_MAX, 0, &to) != 0 ||
	    query_int64(r, "offset", 0, CDR_OFFSET_MAX, 0, &q->offset) != 0 ||
	    query_int64(r, "limit", 1, limit_max, limit_dflt, &q->limit) != 0)
		return EINVAL;
	if (from && to && to <= from)
		return api_error(r, 400, "to", "to: must be after from"), EINVAL;
	q->f = (struct db_cdr_filter){ .caller = q->caller, .callee = q->callee, .disposition = q->disposition,
				       .from_ms = from, .to_ms = to };
	return 0;
}

/* ---- JSON ---------------------------------------------------------------------- */

static json_t *leg_json(const struct db_cdr_leg *l)
{
	return json_pack("{s:o, s:I, s:I, s:I, s:i, s:b}", "codec", api_jstr(l->codec), "rx_packets",
			 (json_int_t)l->rx_packets, "tx_packets", (json_int_t)l->tx_packets, "lost", (json_int_t)l->lost,
			 "jitter_ms", l->jitter_ms, "srtp", l->srtp);
}

static int cdr_json_cb(void *ctx, const struct db_cdr *c)
{
	json_t *rows = ctx;
	json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:I, s:o, s:I, s:s, s:s, s:o, s:o}", "id", (json_int_t)c->id,
			      "call_id", api_jstr(c->call_id), "caller", api_jstr(c->caller), "callee",
			      api_jstr(c->callee), "dialed", api_jstr(c->dialed), "start_at", (json_int_t)c->start_at,
			      "answer_at", c->answer_at ? json_integer(c->answer_at) : json_null(), "end_at",
			      (json_int_t)c->end_at, "disposition", db_cdr_disp_name(c->disposition), "hangup_by",
			      db_cdr_by_name(c->hangup_by), "a", leg_json(&c->a), "b", leg_json(&c->b));
	if (!o || json_array_append_new(rows, o) != 0)
		return ENOMEM;
	return 0;
}

int api_cdr_list(struct api_req *r)
{
	struct cdr_query q;
	if (cdr_query_parse(r, &q, CDR_LIMIT_DEFAULT, CDR_LIMIT_MAX) != 0)
		return 0;
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	size_t total = 0;
	json_t *rows = json_array();
	int rc = rows ? db_cdr_count(db, &q.f, &total) : ENOMEM;
	if (rc == 0)
		rc = db_cdr_list(db, &q.f, (size_t)q.offset, (size_t)q.limit, cdr_json_cb, rows);
	if (rc != 0) {
		json_decref(rows);
		return api_error_db(r, rc, NULL);
	}
	return api_reply_json(r, 200, json_pack("{s:I, s:o, s:I, s:I}", "total", (json_int_t)total, "rows", rows,
						"limit", (json_int_t)q.limit, "offset", (json_int_t)q.offset));
}

/* ---- CSV ----------------------------------------------------------------------- */

/* RFC 4180 quoting, and no formulas: a field that starts like one (= + -
 * @, or a tab or CR that some spreadsheets skip first) gets a leading
 * quote, which spreadsheets show as text. */
static void csv_text(FILE *f, const char *s)
{
	bool formula = s[0] && strchr("=+-@\t\r", s[0]);
	bool quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		fputc('"', f);
	if (formula)
		fputc('\'', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	if (quote)
		fputc('"', f);
}

/* UTC with milliseconds, a form spreadsheets read as a date; "" for 0. */
static void csv_time(FILE *f, int64_t ms)
{
	if (!ms)
		return;
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];
	if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm))
		return;
	fprintf(f, "%s.%03d", buf, (int)(ms % 1000));
}

static void csv_leg(FILE *f, const struct db_cdr_leg *l)
{
	fputc(',', f);
	csv_text(f, l->codec);
	fprintf(f, ",%lld,%lld,%lld,%d,%d", (long long)l->rx_packets, (long long)l->tx_packets, (long long)l->lost,
		l->jitter_ms, l->srtp ? 1 : 0);
}

static int cdr_csv_cb(void *ctx, const struct db_cdr *c)
{
	FILE *f = ctx;
	fprintf(f, "%lld,", (long long)c->id);
	csv_time(f, c->start_at);
	fputc(',', f);
	csv_time(f, c->answer_at);
	fputc(',', f);
	csv_time(f, c->end_at);
	fputc(',', f);
	csv_text(f, c->caller);
	fputc(',', f);
	csv_text(f, c->dialed);
	fputc(',', f);
	csv_text(f, c->callee);
	fprintf(f, ",%s,%s,%lld,", db_cdr_disp_name(c->disposition), db_cdr_by_name(c->hangup_by),
		(long long)(c->answer_at ? (c->end_at - c->answer_at) / 1000 : 0));
	csv_text(f, c->call_id);
	csv_leg(f, &c->a);
	csv_leg(f, &c->b);
	fputs("\r\n", f);
	return ferror(f) ? ENOMEM : 0;
}

int api_cdr_csv(struct api_req *r)
{
	struct cdr_query q;
	if (cdr_query_parse(r, &q, CDR_CSV_MAX, CDR_CSV_MAX) != 0)
		return 0;
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return api_error(r, 500, NULL, "out of memory");
	fputs("id,start_utc,answer_utc,end_utc,caller,dialed,callee,disposition,hangup_by,talk_seconds,call_id,"
	      "a_codec,a_rx_packets,a_tx_packets,a_lost,a_jitter_ms,a_srtp,"
	      "b_codec,b_rx_packets,b_tx_packets,b_lost,b_jitter_ms,b_srtp\r\n",
	      f);
	int rc = db_cdr_list(db, &q.f, (size_t)q.offset, (size_t)q.limit, cdr_csv_cb, f);
	if (fclose(f) != 0 && rc == 0)
		rc = ENOMEM;
	if (rc != 0) {
		free(text);
		return api_error_db(r, rc, NULL);
	}
	snprintf(r->disposition, sizeof r->disposition, "attachment; filename=\"cdr.csv\"");
	return api_reply_text(r, 200, "text/csv; charset=utf-8", text, len);
}
