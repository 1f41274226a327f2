/*
 * api_admin.c: the smaller resources: administrators and conference rooms
 * (settings are in api_settings.c). The live views asked of the core are in api_live.c.
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

/* ---- administrators ------------------------------------------------------------ */

struct admin_find {
	const char *user;
	bool found;
};

static int admins_collect(void *ctx, const char *user, int64_t created_at)
{
	return json_array_append_new(ctx, json_pack("{s:o, s:I}", "username", api_jstr(user), "created_at",
						     (json_int_t)created_at)) == 0 ? 0 : ENOMEM;
}

static int admins_find(void *ctx, const char *user, int64_t created_at)
{
	struct admin_find *af = ctx;
	(void)created_at;
	if (strcmp(af->user, user) == 0) {
		af->found = true;
		return 1;
	}
	return 0;
}

static int admin_exists(sqlite3 *db, const char *user, bool *found)
{
	struct admin_find af = { .user = user };
	int rc = db_admin_list(db, admins_find, &af);
	*found = af.found;
	return rc == 1 ? 0 : rc;
}

int api_admins_list(struct api_req *r)
{
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	json_t *a = json_array();
	int rc = a ? db_admin_list(db, admins_collect, a) : ENOMEM;
	if (rc != 0) {
		json_decref(a);
		return api_error_db(r, rc, NULL);
	}
	return api_reply_json(r, 200, json_pack("{s:o}", "items", a));
}

int api_admins_create(struct api_req *r)
{
	const char *user = NULL, *password = NULL;
	const struct api_field f[] = {
		{ "username", API_JSTR, true, &user, NULL, NULL },
		{ "password", API_JSTR, true, &password, NULL, NULL },
	};
	if (api_fields(r, f, 2) != 0)
		return 0;
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	char err[256] = "";
	bool found = false;
	/* One write transaction: the check and the insert cannot be split by
	 * another writer. */
	int rc = db_begin(db);
	if (rc == 0)
		rc = admin_exists(db, user, &found);
	if (rc == 0 && found) {
		db_rollback(db);
		return api_error(r, 409, "username", "username: %s already exists", user);
	}
	if (rc == 0)
		rc = db_admin_set_password(db, user, password, err, sizeof err);
	if (rc == 0)
		rc = db_commit(db);
	else
		db_rollback(db);
	if (rc != 0)
		return api_error_db(r, rc, err);
	api_changed(r);
	log_notice("http: %s created administrator %s", r->sess.user, user);
	snprintf(r->location, sizeof r->location, "/api/v1/admins/%s", user);
	return api_reply_json(r, 201, json_pack("{s:s}", "username", user));
}

int api_admins_delete(struct api_req *r)
{
	const char *user = r->params[0];
	if (strcmp(user, r->sess.user) == 0)
		return api_error(r, 409, "username", "you cannot delete your own account");
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	int n = 0;
	int rc = db_begin(db);
	if (rc == 0)
		rc = db_admin_count(db, &n);
	if (rc == 0 && n <= 1) {
		db_rollback(db);
		return api_error(r, 409, "username", "the last administrator cannot be deleted");
	}
	if (rc == 0)
		rc = db_admin_del(db, user);
	if (rc == 0)
		rc = db_commit(db);
	else
		db_rollback(db);
	if (rc == ENOENT || rc == EINVAL)
		return api_error(r, 404, "username", "no administrator %.64s", user);
	if (rc != 0)
		return api_error_db(r, rc, NULL);
	api_changed(r);
	api_session_end_user(r->srv->sessions, user, NULL);
	log_notice("http: %s deleted administrator %s", r->sess.user, user);
	return api_reply_empty(r, 204);
}

int api_admins_password(struct api_req *r)
{
	const char *password = NULL;
	const struct api_field f[] = {
		{ "password", API_JSTR, true, &password, NULL, NULL },
	};
	if (api_fields(r, f, 1) != 0)
		return 0;
	const char *user = r->params[0];
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	char err[256] = "";
	bool found = false;
	int rc = db_begin(db);
	if (rc == 0)
		rc = admin_exists(db, user, &found);
	if (rc == 0 && !found) {
		db_rollback(db);
		return api_error(r, 404, "username", "no administrator %.64s", user);
	}
	if (rc == 0)
		rc = db_admin_set_password(db, user, password, err, sizeof err);
	if (rc == 0)
		rc = db_commit(db);
	else
		db_rollback(db);
	if (rc != 0)
		return api_error_db(r, rc, err);
	/* Whoever signed in with the old password is signed out (except the
	 * session that made the change). */
	api_changed(r);
	api_session_end_user(r->srv->sessions, user, r->sess.id);
	log_notice("http: %s set the password of administrator %s", r->sess.user, user);
	return api_reply_empty(r, 204);
}

/* ---- rooms ---------------------------------------------------------------------- */

/* Room options as the API and pbxctl write them: "announce,join-muted". */
static void room_options_str(unsigned flags, char *out, size_t cap)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ ROOM_F_ANNOUNCE, "announce" },
		{ ROOM_F_WAIT_MODERATOR, "wait-moderator" },
		{ ROOM_F_JOIN_MUTED, "join-muted" },
		{ ROOM_F_END_WITH_MODERATOR, "end-with-moderator" },
	};
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!(flags & names[i].bit))
			continue;
		int w = snprintf(out + used, cap - used, "%s%s", used ? "," : "", names[i].name);
		if (w < 0 || (size_t)w >= cap - used)
			break;
		used += (size_t)w;
	}
}

static int rooms_collect(void *ctx, const struct db_room *rm)
{
	char opts[128];
	room_options_str(rm->flags, opts, sizeof opts);
	json_t *o = json_pack("{s:o, s:o, s:b, s:b, s:I, s:s}", "number", api_jstr(rm->number), "name",
			      api_jstr(rm->name), "pin_set", rm->pin[0] != '\0', "moderator_pin_set",
			      rm->moderator_pin[0] != '\0', "max_participants", (json_int_t)rm->max_participants,
			      "options", opts);
	return json_array_append_new(ctx, o) == 0 ? 0 : ENOMEM;
}

int api_rooms_list(struct api_req *r)
{
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	json_t *a = json_array();
	int rc = a ? db_room_list(db, rooms_collect, a) : ENOMEM;
	if (rc != 0) {
		json_decref(a);
		return api_error_db(r, rc, NULL);
	}
	return api_reply_json(r, 200, json_pack("{s:o}", "items", a));
}

int api_rooms_create(struct api_req *r)
{
	const char *number = NULL, *name = NULL, *pin = NULL, *mpin = NULL, *options = NULL;
	json_int_t maxp = 0;
	bool has_max = false;
	const struct api_field f[] = {
		{ "number", API_JSTR, true, &number, NULL, NULL },
		{ "name", API_JSTR, false, &name, NULL, NULL },
		{ "pin", API_JSTR, false, &pin, NULL, NULL },
		{ "moderator_pin", API_JSTR, false, &mpin, NULL, NULL },
		{ "max_participants", API_JINT, false, NULL, &maxp, &has_max },
		{ "options", API_JSTR, false, &options, NULL, NULL },
	};
	if (api_fields(r, f, sizeof f / sizeof f[0]) != 0)
		return 0;
	if (has_max && (maxp < 1 || maxp > DB_ROOM_MAX_PARTICIPANTS))
		return api_error(r, 400, "max_participants", "max_participants: 1 to %d",
				 DB_ROOM_MAX_PARTICIPANTS);
	char err[256] = "";
	unsigned flags = 0;
	if (db_room_flags_parse(options, &flags, err, sizeof err) != 0)
		return api_error(r, 400, "options", "%s", err);
	int rc = db_room_validate(number, name, pin, mpin, (unsigned)maxp, err, sizeof err);
	if (rc != 0)
		return api_error_db(r, rc, err);
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	/* One transaction: the room never exists without its options. */
	rc = db_begin(db);
	if (rc == 0)
		rc = db_room_add(db, number, name, pin, mpin, (unsigned)maxp, err, sizeof err);
	if (rc == 0 && flags)
		rc = db_room_set_flags(db, number, flags);
	if (rc == 0)
		rc = db_commit(db);
	else
		db_rollback(db);
	if (rc != 0)
		return api_error_db(r, rc, err);
	api_changed(r);
	snprintf(r->location, sizeof r->location, "/api/v1/rooms/%s", number);
	return api_reply_json(r, 201, json_pack("{s:s, s:s}", "number", number, "name", name ? name : ""));
}

/* PATCH: the fields given change, the others stay. */
int api_rooms_patch(struct api_req *r)
{
	const char *number = r->params[0];
	if (!db_number_valid(number))
		return api_error(r, 404, "number", "no room %.*s", DB_NUMBER_MAX + 1, number);
	const char *name = NULL, *pin = NULL, *mpin = NULL, *options = NULL;
	json_int_t maxp = 0;
	bool has_max = false;
	const struct api_field f[] = {
		{ "name", API_JSTR, false, &name, NULL, NULL },
		{ "pin", API_JSTR, false, &pin, NULL, NULL },
		{ "moderator_pin", API_JSTR, false, &mpin, NULL, NULL },
		{ "max_participants", API_JINT, false, NULL, &maxp, &has_max },
		{ "options", API_JSTR, false, &options, NULL, NULL },
	};
	if (api_fields(r, f, sizeof f / sizeof f[0]) != 0)
		return 0;
	if (json_object_size(r->json) == 0)
		return api_error(r, 400, NULL, "nothing to change");
	if (has_max && (maxp < 1 || maxp > DB_ROOM_MAX_PARTICIPANTS))
		return api_error(r, 400, "max_participants", "max_participants: 1 to %d",
				 DB_ROOM_MAX_PARTICIPANTS);
	char err[256] = "";
	unsigned flags = 0;
	if (options && db_room_flags_parse(options, &flags, err, sizeof err) != 0)
		return api_error(r, 400, "options", "%s", err);
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	int rc = db_room_update(db, number, name, pin, mpin, has_max ? (unsigned)maxp : 0, options ? &flags : NULL,
				err, sizeof err);
	if (rc != 0)
		return api_error_db(r, rc, err);
	api_changed(r);
	log_notice("http: %s changed room %s", r->sess.user, number);
	return api_reply_empty(r, 204);
}

int api_rooms_delete(struct api_req *r)
{
	const char *number = r->params[0];
	if (!db_number_valid(number))
		return api_error(r, 404, "number", "no room %.*s", DB_NUMBER_MAX + 1, number);
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	int rc = db_room_del(db, number);
	if (rc == ENOENT)
		return api_error(r, 404, "number", "no room %s", number);
	if (rc != 0)
		return api_error_db(r, rc, NULL);
	api_changed(r);
	return api_reply_empty(r, 204);
}
