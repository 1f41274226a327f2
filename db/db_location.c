/*
 * db_location.c: registration bindings kept across restarts.
 *
 * The registrar holds the live bindings in memory; the jobs thread mirrors
 * each change here, and the core reads them back once at start-up. A row
 * that does not fit struct db_binding (edited by hand, or written by a
 * newer build with longer fields) is logged and skipped.
 */
#include "db.h"
#include "log.h"

#include <errno.h>
#include <string.h>

int db_location_put(sqlite3 *db, const struct db_binding *b)
{
	if (!b->aor[0] || !b->contact[0] || memchr(b->aor, 0, sizeof b->aor) == NULL ||
	    memchr(b->contact, 0, sizeof b->contact) == NULL)
		return EINVAL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO location(aor, contact, received, transport, local, call_id,"
				    " cseq, expires_at, q, user_agent, instance, reg_id)"
				    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
				    " ON CONFLICT(aor, contact) DO UPDATE SET received = excluded.received,"
				    " transport = excluded.transport, local = excluded.local,"
				    " call_id = excluded.call_id, cseq = excluded.cseq,"
				    " expires_at = excluded.expires_at, q = excluded.q,"
				    " user_agent = excluded.user_agent, instance = excluded.instance,"
				    " reg_id = excluded.reg_id",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	/* strnlen: every char array is bounded even if the caller forgot the NUL. */
#define BIND_STR(i, field) sqlite3_bind_text(st, i, b->field, (int)strnlen(b->field, sizeof b->field), SQLITE_STATIC)
	BIND_STR(1, aor);
	BIND_STR(2, contact);
	BIND_STR(3, received);
	BIND_STR(4, transport);
	BIND_STR(5, local);
	BIND_STR(6, call_id);
	sqlite3_bind_int64(st, 7, b->cseq);
	sqlite3_bind_int64(st, 8, b->expires_at);
	sqlite3_bind_double(st, 9, b->q);
	BIND_STR(10, user_agent);
	BIND_STR(11, instance);
	sqlite3_bind_int(st, 12, b->reg_id);
#undef BIND_STR
	rc = db_step_write(db, st);
	int ret = rc == SQLITE_DONE ? 0 : db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

int db_location_del(sqlite3 *db, const char *aor, const char *contact)
{
	if (!aor)
		return EINVAL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    contact ? "DELETE FROM location WHERE aor = ?1 AND contact = ?2"
					    : "DELETE FROM location WHERE aor = ?1",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, aor, -1, SQLITE_STATIC);
	if (contact)
		sqlite3_bind_text(st, 2, contact, -1, SQLITE_STATIC);
	rc = db_step_write(db, st);
	int ret = 0;
	if (rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	else if (sqlite3_changes(db) == 0)
		ret = ENOENT;
	sqlite3_finalize(st);
	return ret;
}

/* Copy column i into dst (cap bytes with the NUL); false when it does not
 * fit. NULL reads as "". */
static bool loc_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);
	if (!s)
		n = 0;
	if (n >= cap || (s && memchr(s, 0, n)))
		return false;
	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

int db_location_load(sqlite3 *db, int64_t now, int (*cb)(void *ctx, const struct db_binding *b),
		     void *ctx)
{
	bool owned;
	int ret = db_write_begin(db, &owned), cbret = 0;
	if (ret != 0)
		return ret;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "DELETE FROM location WHERE expires_at <= ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, now);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		ret = db_errno(db, rc);
		goto out;
	}
	int dropped = sqlite3_changes(db);
	if (dropped > 0)
		log_info("db: dropped %d expired registrations", dropped);
	sqlite3_finalize(st);
	st = NULL;

	rc = sqlite3_prepare_v2(db,
				"SELECT aor, contact, received, transport, local, call_id, cseq, expires_at,"
				" q, user_agent, instance, reg_id FROM location ORDER BY aor, contact",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		ret = db_errno(db, rc);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_binding b;
		memset(&b, 0, sizeof b);
		bool ok = loc_copy(st, 0, b.aor, sizeof b.aor) && loc_copy(st, 1, b.contact, sizeof b.contact) &&
			  loc_copy(st, 2, b.received, sizeof b.received) &&
			  loc_copy(st, 3, b.transport, sizeof b.transport) &&
			  loc_copy(st, 4, b.local, sizeof b.local) && loc_copy(st, 5, b.call_id, sizeof b.call_id) &&
			  loc_copy(st, 9, b.user_agent, sizeof b.user_agent) &&
			  loc_copy(st, 10, b.instance, sizeof b.instance);
		sqlite3_int64 cseq = sqlite3_column_int64(st, 6);
		if (ok && (cseq < 0 || cseq > UINT32_MAX || !b.aor[0] || !b.contact[0]))
			ok = false;
		if (!ok) {
			const unsigned char *aor = sqlite3_column_text(st, 0);
			log_warn("db: location row for aor \"%.32s\" is malformed; skipped",
				 aor ? (const char *)aor : "");
			continue;
		}
		b.cseq = (uint32_t)cseq;
		b.expires_at = sqlite3_column_int64(st, 7);
		b.q = sqlite3_column_double(st, 8);
		b.reg_id = sqlite3_column_int(st, 11);
		/* A callback that stops the walk still lets the purge commit. */
		cbret = cb(ctx, &b);
		if (cbret != 0)
			break;
	}
	if (cbret == 0 && rc != SQLITE_DONE)
		ret = db_errno(db, rc);
out:
	sqlite3_finalize(st);
	ret = db_write_end(db, owned, ret);
	return ret != 0 ? ret : cbret;
}
