/*
 * db_rooms.c: conference rooms. Room numbers share the dial plan with
 * extensions, so adding either checks the other table (and a trigger in the
 * schema refuses a collision made behind our back).
 */
#include "db.h"
#include "log.h"

#include <errno.h>
#include <string.h>

int db_room_validate(const char *number, const char *name, const char *pin, const char *moderator_pin,
		     unsigned max_participants, char *err, size_t errcap)
{
	if (number && !db_number_valid(number)) {
		snprintf(err, errcap, "room: %d to %d digits", DB_NUMBER_MIN, DB_NUMBER_MAX);
		return EINVAL;
	}
	if (name && !db_name_valid(name)) {
		snprintf(err, errcap, "name: at most %d characters of UTF-8, no control characters",
			 DB_NAME_MAX);
		return EINVAL;
	}
	if (pin && !db_pin_valid(pin)) {
		snprintf(err, errcap, "pin: empty or %d to %d digits", DB_PIN_MIN, DB_PIN_MAX);
		return EINVAL;
	}
	if (moderator_pin && !db_pin_valid(moderator_pin)) {
		snprintf(err, errcap, "moderator_pin: empty or %d to %d digits", DB_PIN_MIN, DB_PIN_MAX);
		return EINVAL;
	}
	if (pin && moderator_pin && *pin && strcmp(pin, moderator_pin) == 0) {
		snprintf(err, errcap, "moderator_pin: must differ from pin");
		return EINVAL;
	}
	if (max_participants > DB_ROOM_MAX_PARTICIPANTS) {
		snprintf(err, errcap, "max participants: 1 to %d", DB_ROOM_MAX_PARTICIPANTS);
		return EINVAL;
	}
	return 0;
}

int db_room_add(sqlite3 *db, const char *number, const char *name, const char *pin,
		const char *moderator_pin, unsigned max_participants, char *err, size_t errcap)
{
	if (!number) {
		snprintf(err, errcap, "room: missing");
		return EINVAL;
	}
	if (!name)
		name = "";
	if (!pin)
		pin = "";
	if (!moderator_pin)
		moderator_pin = "";
	if (max_participants == 0)
		max_participants = 50;
	int ret = db_room_validate(number, name, pin, moderator_pin, max_participants, err, errcap);
	if (ret != 0)
		return ret;
	bool owned, used = false;
	ret = db_write_begin(db, &owned);
	if (ret == 0)
		ret = db_number_in_use(db, number, &used);
	if (ret != 0) {
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
		return db_write_end(db, owned, ret);
	}
	if (used) {
		snprintf(err, errcap, "room: %s is already an extension or a room", number);
		return db_write_end(db, owned, EEXIST);
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO rooms(number, name, pin, moderator_pin, max_participants)"
				    " VALUES (?1, ?2, ?3, ?4, ?5)",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, pin, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, moderator_pin, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, (int)max_participants);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
		ret = db_errno(db, rc);
	}
	sqlite3_finalize(st);
	return db_write_end(db, owned, ret);
}

int db_room_update(sqlite3 *db, const char *number, const char *name, const char *pin,
		   const char *moderator_pin, unsigned max_participants, const unsigned *flags, char *err,
		   size_t errcap)
{
	if (!db_number_valid(number)) {
		snprintf(err, errcap, "room: no room %.*s", DB_NUMBER_MAX + 1, number ? number : "");
		return ENOENT;
	}
	if (flags && (*flags & ~ROOM_F_ALL) != 0) {
		snprintf(err, errcap, "options: unknown");
		return EINVAL;
	}
	int ret = db_room_validate(NULL, name, pin, moderator_pin, max_participants, err, errcap);
	if (ret != 0)
		return ret;
	bool owned;
	ret = db_write_begin(db, &owned);
	if (ret != 0) {
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
		return ret;
	}
	/* The PINs kept, for the check that they differ. */
	char cur_pin[DB_PIN_MAX + 1] = "", cur_mpin[DB_PIN_MAX + 1] = "";
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT pin, moderator_pin FROM rooms WHERE number = ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	if (rc == SQLITE_ROW) {
		snprintf(cur_pin, sizeof cur_pin, "%s", db_col_text(st, 0));
		snprintf(cur_mpin, sizeof cur_mpin, "%s", db_col_text(st, 1));
	} else if (rc == SQLITE_DONE) {
		snprintf(err, errcap, "room: no room %s", number);
		ret = ENOENT;
	} else {
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
		ret = db_errno(db, rc);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (ret != 0)
		return db_write_end(db, owned, ret);
	const char *p = pin ? pin : cur_pin, *mp = moderator_pin ? moderator_pin : cur_mpin;
	if (*p && strcmp(p, mp) == 0) {
		snprintf(err, errcap, "%s: must differ from %s", moderator_pin ? "moderator_pin" : "pin",
			 moderator_pin ? "pin" : "moderator_pin");
		return db_write_end(db, owned, EINVAL);
	}
	rc = sqlite3_prepare_v2(db,
				"UPDATE rooms SET name = coalesce(?2, name), pin = coalesce(?3, pin),"
				" moderator_pin = coalesce(?4, moderator_pin),"
				" max_participants = coalesce(?5, max_participants), flags = coalesce(?6, flags)"
				" WHERE number = ?1",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
		if (name)
			sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		if (pin)
			sqlite3_bind_text(st, 3, pin, -1, SQLITE_STATIC);
		if (moderator_pin)
			sqlite3_bind_text(st, 4, moderator_pin, -1, SQLITE_STATIC);
		if (max_participants)
			sqlite3_bind_int(st, 5, (int)max_participants);
		if (flags)
			sqlite3_bind_int(st, 6, (int)*flags);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errcap, "database: %s", sqlite3_errmsg(db));
		ret = db_errno(db, rc);
	}
	sqlite3_finalize(st);
	return db_write_end(db, owned, ret);
}

int db_room_del(sqlite3 *db, const char *number)
{
	if (!db_number_valid(number))
		return ENOENT;
	return db_delete_one(db, "DELETE FROM rooms WHERE number = ?1", number);
}

int db_room_list(sqlite3 *db, int (*cb)(void *ctx, const struct db_room *r), void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT number, name, pin, moderator_pin, max_participants, flags"
				    " FROM rooms ORDER BY length(number), number",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	int ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 maxp = sqlite3_column_int64(st, 4);
		struct db_room r = {
			.number = db_col_text(st, 0),
			.name = db_col_text(st, 1),
			.pin = db_col_text(st, 2),
			.moderator_pin = db_col_text(st, 3),
			.max_participants = maxp < 0 ? 0 : maxp > UINT32_MAX ? UINT32_MAX : (unsigned)maxp,
			.flags = (unsigned)sqlite3_column_int64(st, 5),
		};
		ret = cb(ctx, &r);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

int db_room_flags_parse(const char *list, unsigned *flags, char *err, size_t errcap)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{ "announce", ROOM_F_ANNOUNCE },
		{ "wait-moderator", ROOM_F_WAIT_MODERATOR },
		{ "join-muted", ROOM_F_JOIN_MUTED },
		{ "end-with-moderator", ROOM_F_END_WITH_MODERATOR },
	};
	*flags = 0;
	const char *p = list ? list : "";
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		bool found = false;
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			if (strlen(names[i].name) == len && strncmp(names[i].name, p, len) == 0) {
				*flags |= names[i].bit;
				found = true;
			}
		}
		if (!found && len > 0) {
			snprintf(err, errcap, "options: '%.*s' is not one of announce, wait-moderator, join-muted, "
					      "end-with-moderator", (int)(len > 40 ? 40 : len), p);
			return EINVAL;
		}
		p = end ? end + 1 : p + len;
	}
	return 0;
}

int db_room_set_flags(sqlite3 *db, const char *number, unsigned flags)
{
	if ((flags & ~ROOM_F_ALL) != 0)
		return EINVAL;
	if (!db_number_valid(number))
		return ENOENT;
	bool owned;
	int ret = db_write_begin(db, &owned);
	if (ret != 0)
		return ret;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "UPDATE rooms SET flags = ?2 WHERE number = ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, (int)flags);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	else if (sqlite3_changes(db) == 0)
		ret = ENOENT;
	sqlite3_finalize(st);
	return db_write_end(db, owned, ret);
}
