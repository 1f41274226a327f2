/*
 * api_fwd.c: /api/v1/extensions/{number}/forwarding: how calls to an
 * extension are routed, as one resource: the three forwarding rules, do
 * not disturb, the ring time (also the no-answer delay) and the options
 * redirect and require_srtp.
 *
 * PUT changes the fields it is given and keeps the others, in one
 * transaction with the checks of db.h (a target must be another existing
 * extension), so a refused field leaves everything as it was.
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"

/* One extension's routing, copied out of db_ext_get's callback. */
struct fwd_state {
	char number[DB_NUMBER_MAX + 1];
	struct db_fwd fwd;
	unsigned flags;
	int ring_time;
};

static int fwd_copy(void *ctx, const struct db_ext *e)
{
	struct fwd_state *s = ctx;
	snprintf(s->number, sizeof s->number, "%s", e->number);
	snprintf(s->fwd.always, sizeof s->fwd.always, "%s", e->fwd_always);
	snprintf(s->fwd.busy, sizeof s->fwd.busy, "%s", e->fwd_busy);
	snprintf(s->fwd.noanswer, sizeof s->fwd.noanswer, "%s", e->fwd_noanswer);
	s->fwd.dnd = e->dnd;
	s->flags = e->flags;
	s->ring_time = e->ring_time;
	return 0;
}

static json_t *fwd_json(const struct fwd_state *s)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:b, s:b}", "number", s->number, "always", s->fwd.always,
			 "busy", s->fwd.busy, "noanswer", s->fwd.noanswer, "dnd", s->fwd.dnd, "ring_time",
			 s->ring_time, "redirect", (s->flags & EXT_F_REDIRECT) != 0, "require_srtp",
			 (s->flags & EXT_F_REQUIRE_SRTP) != 0);
}

/* Read the path's extension into *s; otherwise answer (404, 5xx) and
 * return non-zero. */
static int fwd_load(struct api_req *r, sqlite3 *db, struct fwd_state *s)
{
	const char *number = r->params[0];
	memset(s, 0, sizeof *s);
	int rc = db_ext_get(db, number, fwd_copy, s);
	if (rc == ENOENT)
		return api_error(r, 404, "number", "no extension %.*s", DB_NUMBER_MAX + 1, number), rc;
	if (rc != 0)
		return api_error_db(r, rc, NULL), rc;
	return 0;
}

int api_fwd_get(struct api_req *r)
{
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	struct fwd_state s;
	if (fwd_load(r, db, &s) == 0)
		api_reply_json(r, 200, fwd_json(&s));
	return 0;
}

/* A boolean body field: taken out of the object so that api_fields, which
 * knows strings and integers, checks the rest. 400 for another type. */
static int take_bool(struct api_req *r, const char *name, bool *val, bool *present)
{
	json_t *v = json_object_get(r->json, name);
	*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return api_error(r, 400, name, "%s: must be true or false", name), EINVAL;
	*val = json_is_true(v);
	json_object_del(r->json, name);
	return 0;
}

/* Map a db.h message to the API's field names: "fwd_busy: ..." is the
 * body's "busy". */
static int fwd_db_error(struct api_req *r, int rc, const char *err)
{
	static const char *const names[] = { "always", "busy", "noanswer" };
	for (int k = 0; k < 3; k++) {
		const char *col = db_fwd_kind_name((enum db_fwd_kind)k);
		size_t n = strlen(col);
		if (strncmp(err, col, n) == 0 && err[n] == ':')
			return api_error(r, rc == EINVAL ? 400 : 500, names[k], "%s:%s", names[k], err + n + 1);
	}
	if (rc == ENOENT)
		return api_error(r, 404, "number", "no extension %.*s", DB_NUMBER_MAX + 1, r->params[0]);
	return api_error_db(r, rc, err);
}

int api_fwd_put(struct api_req *r)
{
	bool dnd = false, redirect = false, srtp = false, has_dnd, has_redirect, has_srtp;
	if (take_bool(r, "dnd", &dnd, &has_dnd) != 0 || take_bool(r, "redirect", &redirect, &has_redirect) != 0 ||
	    take_bool(r, "require_srtp", &srtp, &has_srtp) != 0)
		return 0;
	const char *target[3] = { NULL, NULL, NULL };
	json_int_t ring = 0;
	bool has_ring = false;
	const struct api_field f[] = {
		{ "always", API_JSTR, false, &target[0], NULL, NULL },
		{ "busy", API_JSTR, false, &target[1], NULL, NULL },
		{ "noanswer", API_JSTR, false, &target[2], NULL, NULL },
		{ "ring_time", API_JINT, false, NULL, &ring, &has_ring },
	};
	if (api_fields(r, f, sizeof f / sizeof f[0]) != 0)
		return 0;
	const char *number = r->params[0];
	if (!db_number_valid(number))
		return api_error(r, 404, "number", "no extension %.*s", DB_NUMBER_MAX + 1, number);
	if (has_ring && (ring < DB_RING_TIME_MIN || ring > DB_RING_TIME_MAX))
		return api_error(r, 400, "ring_time", "ring_time: %d to %d seconds", DB_RING_TIME_MIN,
				 DB_RING_TIME_MAX);
	static const char *const names[] = { "always", "busy", "noanswer" };
	for (int k = 0; k < 3; k++)
		if (target[k] && strlen(target[k]) > DB_NUMBER_MAX)
			return api_error(r, 400, names[k], "%s: an extension number of %d to %d digits, or empty for off",
					 names[k], DB_NUMBER_MIN, DB_NUMBER_MAX);

	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	int rc = db_begin(db);
	if (rc != 0)
		return api_error_db(r, rc, NULL);
	struct fwd_state s;
	if (fwd_load(r, db, &s) != 0) {
		db_rollback(db);
		return 0;
	}
	char *field[3] = { s.fwd.always, s.fwd.busy, s.fwd.noanswer };
	for (int k = 0; k < 3; k++)
		if (target[k])
			snprintf(field[k], DB_NUMBER_MAX + 1, "%s", target[k]);
	if (has_dnd)
		s.fwd.dnd = dnd;
	unsigned flags = s.flags;
	if (has_redirect)
		flags = redirect ? flags | EXT_F_REDIRECT : flags & ~EXT_F_REDIRECT;
	if (has_srtp)
		flags = srtp ? flags | EXT_F_REQUIRE_SRTP : flags & ~EXT_F_REQUIRE_SRTP;
	/* Unknown bits can only come from raw SQL; db_ext_update would refuse
	 * to write them back. */
	flags &= EXT_F_ALL;
	int rt = (int)ring;
	char err[256] = "";
	rc = db_ext_set_fwd(db, number, &s.fwd, err, sizeof err);
	if (rc == 0)
		rc = db_ext_update(db, number, NULL, NULL, &flags, has_ring ? &rt : NULL, err, sizeof err);
	if (rc == 0)
		rc = db_commit(db);
	if (rc != 0) {
		db_rollback(db);
		return fwd_db_error(r, rc, err);
	}
	api_changed(r);
	if (fwd_load(r, db, &s) == 0)
		api_reply_json(r, 200, fwd_json(&s));
	return 0;
}
