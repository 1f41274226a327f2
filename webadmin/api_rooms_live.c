/*
 * api_rooms_live.c: the conference rooms in use, asked of the running core
 * through live_ops: who is in each room, and the controls a moderator has
 * on the phone (mute or unmute one participant, remove one, lock the
 * room). The rooms themselves (numbers, names, PINs) are in api_admin.c.
 *
 * GET /api/v1/rooms/live answers {"items":[{"number", "locked",
 * "count", "participants":[...]}], "total"}; the event stream sends the same
 * body as its "rooms" event. Participants are named by their call id, as
 * text like GET /calls lists them.
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

#define LIVE_MEMBERS_MAX 4096 /* participants copied for one answer; "total" counts all */

/* Fixed-size text from the core: never trust its NUL. */
static json_t *fixed_str(char *s, size_t cap)
{
	s[cap - 1] = '\0';
	return api_jstr(s);
}
#define FSTR(field) fixed_str((field), sizeof(field))

static json_t *member_json(struct live_conf_member *m)
{
	char id[24];
	snprintf(id, sizeof id, "%llu", (unsigned long long)m->id);
	return json_pack("{s:s, s:o, s:o, s:I, s:b, s:b}", "id", id, "number", FSTR(m->number), "name",
			 FSTR(m->name), "joined_at", (json_int_t)m->joined_ms, "muted", m->muted != 0, "moderator",
			 m->moderator != 0);
}

int api_live_rooms_json(const struct live_ops *live, size_t max, json_t **out)
{
	*out = NULL;
	if (!live || !live->conf_members)
		return ENOTSUP;
	struct live_conf_member *m = calloc(LIVE_MEMBERS_MAX, sizeof *m);
	if (!m)
		return ENOMEM;
	size_t n = 0, total = 0;
	int rc = live->conf_members(live->ctx, m, LIVE_MEMBERS_MAX, &n, &total);
	if (rc != 0) {
		free(m);
		return rc;
	}
	if (n > LIVE_MEMBERS_MAX)
		n = LIVE_MEMBERS_MAX;
	json_t *rooms = json_array();
	json_t *room = NULL, *parts = NULL;
	size_t shown = 0;
	for (size_t i = 0; rooms && i < n; i++) {
		m[i].room[sizeof m[i].room - 1] = '\0';
		/* The core lists a room's participants together. */
		if (!room || strcmp(m[i].room, m[i - 1].room) != 0) {
			parts = json_array();
			room = parts ? json_pack("{s:o, s:b, s:I, s:o}", "number", api_jstr(m[i].room), "locked",
						 m[i].room_locked != 0, "count", (json_int_t)m[i].room_count,
						 "participants", parts)
				     : NULL;
			/* json_pack and json_array_append_new free what they were given
			 * when they fail. */
			if (!room || json_array_append_new(rooms, room) != 0) {
				json_decref(rooms);
				rooms = NULL;
				break;
			}
		}
		if (shown < max && json_array_append_new(parts, member_json(&m[i])) == 0)
			shown++;
	}
	free(m);
	*out = rooms ? json_pack("{s:o, s:I}", "items", rooms, "total", (json_int_t)total) : NULL;
	return *out ? 0 : ENOMEM;
}

int api_rooms_live(struct api_req *r)
{
	json_t *o;
	int rc = api_live_rooms_json(r->srv->live, LIVE_MEMBERS_MAX, &o);
	if (rc != 0)
		return api_live_error(r, rc);
	return api_reply_json(r, 200, o);
}

/* The participant's id from the path: 1 to 20 digits, no sign, not 0. */
static bool parse_id(const char *s, uint64_t *out)
{
	size_t len = strlen(s);
	if (len < 1 || len > 20 || strspn(s, "0123456789") != len)
		return false;
	uint64_t id = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (id > (UINT64_MAX - d) / 10)
			return false;
		id = id * 10 + d;
	}
	*out = id;
	return id != 0;
}

/* One JSON boolean named key, required. */
static int body_bool(struct api_req *r, const char *key, bool *out)
{
	const char *k;
	json_t *v;
	json_object_foreach(r->json, k, v) {
		if (strcmp(k, key) != 0) {
			char name[64];
			snprintf(name, sizeof name, "%s", k);
			return api_error(r, 400, name, "%s: unknown field", name), EINVAL;
		}
	}
	v = json_object_get(r->json, key);
	if (!v)
		return api_error(r, 400, key, "%s: required", key), EINVAL;
	if (!json_is_boolean(v))
		return api_error(r, 400, key, "%s: must be true or false", key), EINVAL;
	*out = json_is_true(v);
	return 0;
}

/* The room and participant of the path; 404 answered when they cannot
 * exist. */
static int path_member(struct api_req *r, uint64_t *id)
{
	const char *room = r->params[0];
	if (!db_number_valid(room))
		return api_error(r, 404, "number", "no room %.*s", DB_NUMBER_MAX + 1, room), ENOENT;
	if (!parse_id(r->params[1], id))
		return api_error(r, 404, "id", "no participant %.24s in room %s", r->params[1], room), ENOENT;
	return 0;
}

int api_rooms_mute(struct api_req *r)
{
	uint64_t id;
	bool muted;
	if (path_member(r, &id) != 0 || body_bool(r, "muted", &muted) != 0)
		return 0;
	const struct live_ops *live = r->srv->live;
	if (!live->conf_mute)
		return api_live_error(r, ENOTSUP);
	const char *room = r->params[0];
	int rc = live->conf_mute(live->ctx, room, id, muted);
	if (rc == ENOENT)
		return api_error(r, 404, "id", "no participant %llu in room %s", (unsigned long long)id, room);
	if (rc != 0)
		return api_live_error(r, rc);
	log_notice("http: %s %s participant %llu of room %s", r->sess.user, muted ? "muted" : "unmuted",
		   (unsigned long long)id, room);
	return api_reply_json(r, 200, json_pack("{s:b}", "muted", muted));
}

int api_rooms_kick(struct api_req *r)
{
	uint64_t id;
	if (path_member(r, &id) != 0)
		return 0;
	const struct live_ops *live = r->srv->live;
	if (!live->conf_kick)
		return api_live_error(r, ENOTSUP);
	const char *room = r->params[0];
	int rc = live->conf_kick(live->ctx, room, id);
	if (rc == ENOENT)
		return api_error(r, 404, "id", "no participant %llu in room %s", (unsigned long long)id, room);
	if (rc != 0)
		return api_live_error(r, rc);
	log_notice("http: %s removed participant %llu from room %s", r->sess.user, (unsigned long long)id, room);
	return api_reply_empty(r, 204);
}

int api_rooms_lock(struct api_req *r)
{
	const char *room = r->params[0];
	bool locked;
	if (!db_number_valid(room))
		return api_error(r, 404, "number", "no room %.*s", DB_NUMBER_MAX + 1, room);
	if (body_bool(r, "locked", &locked) != 0)
		return 0;
	const struct live_ops *live = r->srv->live;
	if (!live->conf_lock)
		return api_live_error(r, ENOTSUP);
	int rc = live->conf_lock(live->ctx, room, locked);
	if (rc == ENOENT)
		return api_error(r, 404, "number", "nobody is in room %s", room);
	if (rc != 0)
		return api_live_error(r, rc);
	log_notice("http: %s %s room %s", r->sess.user, locked ? "locked" : "unlocked", room);
	return api_reply_json(r, 200, json_pack("{s:b}", "locked", locked));
}
