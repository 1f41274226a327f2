/*
 * config.c: building the immutable configuration snapshot from SQLite.
 *
 * Rows are read in one read transaction (so settings, extensions, rooms and
 * the serial agree with each other), checked one by one, and copied into a
 * growing string arena with offsets. The finished snapshot is one
 * allocation: the struct, the extension and room arrays, their hash tables
 * and the strings, so freeing it is one free() and lookups stay in cache.
 */
#include "config.h"
#include "db.h"
#include "log.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

/* A growing byte buffer; strings are referred to by offset until the
 * final block exists. */
struct arena {
	char *p;
	size_t len, cap;
};

static int arena_add(struct arena *a, const char *s, size_t *off)
{
	size_t n = strlen(s) + 1;
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 4096;
		while (cap < a->len + n)
			cap *= 2;
		char *p = realloc(a->p, cap);
		if (!p)
			return ENOMEM;
		a->p = p;
		a->cap = cap;
	}
	memcpy(a->p + a->len, s, n);
	*off = a->len;
	a->len += n;
	return 0;
}

/* Rows as offsets into the arena while loading. */
struct ext_row {
	size_t number, name, ha1_md5, ha1_sha256, vm_pin;
	size_t fwd[3]; /* always, busy, noanswer */
	size_t greeting[DB_VM_GREETING_COUNT];
	unsigned vm_on, vm_max_seconds, vm_max_messages;
	bool unsolicited_mwi;
	unsigned flags;
	int ring_time;
	bool dnd;
};

struct room_row {
	size_t number, name, pin, moderator_pin;
	unsigned max_participants, flags;
};

struct loader {
	struct arena a;
	struct ext_row *ext;
	size_t n_ext, cap_ext;
	struct room_row *room;
	size_t n_room, cap_room;
};

/* Growing an array of rows; n and cap are counts of elements. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 256;
	if (c > SIZE_MAX / elem)
		return ENOMEM;
	void *p = realloc(*arr, c * elem);
	if (!p)
		return ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

static bool hex_lower_valid(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* A text column that holds a NUL in the middle would be silently cut by
 * every C string function: treat it as malformed. */
static bool col_clean(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return !s || strlen(s) == (size_t)sqlite3_column_bytes(st, i);
}

static uint64_t number_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ---- settings ------------------------------------------------------------ */

static void config_defaults(struct config *c)
{
	memcpy(c->realm, "pbx", 4);
	c->reg_min_expires = 60;
	c->reg_max_expires = 3600;
	c->reg_default_expires = 3600;
	c->nonce_lifetime = 300;
	c->ban_limit = 10;
	c->ban_window = 60;
	c->ban_time = 300;
	c->ban_allow[0] = '\0';
	c->keepalive_interval = 30;
	c->max_contacts = 10;
	snprintf(c->auth_algorithms, sizeof c->auth_algorithms, "MD5,SHA-256");
	c->sip_port = c->rtp_port_min = c->rtp_port_max = 0;
	db_codec_order_parse(DB_CODEC_ORDER_DEFAULT, c->codecs, &c->ncodecs);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Apply one settings row to c; values were checked by db_setting_validate
 * on the way in, but the file may have been edited by other means. */
static void config_setting(struct config *c, const char *key, const char *value, bool *have_key)
{
	char err[160];
	if (db_setting_validate(key, value, err, sizeof err) != 0) {
		log_warn("config: settings row %s; default kept", err);
		return;
	}
	long v = strtol(value, NULL, 10); /* meaningful for the integer keys only */
	if (strcmp(key, "sip_realm") == 0)
		snprintf(c->realm, sizeof c->realm, "%s", value);
	else if (strcmp(key, "reg_min_expires") == 0)
		c->reg_min_expires = v;
	else if (strcmp(key, "reg_max_expires") == 0)
		c->reg_max_expires = v;
	else if (strcmp(key, "reg_default_expires") == 0)
		c->reg_default_expires = v;
	else if (strcmp(key, "auth_nonce_lifetime") == 0)
		c->nonce_lifetime = v;
	else if (strcmp(key, "ban_limit") == 0)
		c->ban_limit = (unsigned)v;
	else if (strcmp(key, "ban_window") == 0)
		c->ban_window = (unsigned)v;
	else if (strcmp(key, "ban_time") == 0)
		c->ban_time = (unsigned)v;
	else if (strcmp(key, "ban_allow") == 0)
		snprintf(c->ban_allow, sizeof c->ban_allow, "%s", value);
	else if (strcmp(key, "keepalive_interval") == 0)
		c->keepalive_interval = (unsigned)v;
	else if (strcmp(key, "max_contacts") == 0)
		c->max_contacts = (unsigned)v;
	else if (strcmp(key, "auth_algorithms") == 0)
		snprintf(c->auth_algorithms, sizeof c->auth_algorithms, "%s", value);
	else if (strcmp(key, "sip_port") == 0)
		c->sip_port = (unsigned)v;
	else if (strcmp(key, "rtp_port_min") == 0)
		c->rtp_port_min = (unsigned)v;
	else if (strcmp(key, "rtp_port_max") == 0)
		c->rtp_port_max = (unsigned)v;
	else if (strcmp(key, "codec_order") == 0)
		db_codec_order_parse(value, c->codecs, &c->ncodecs);
	else if (strcmp(key, "nonce_key") == 0) {
		for (size_t i = 0; i < sizeof c->nonce_key; i++)
			c->nonce_key[i] = (uint8_t)(hexval(value[2 * i]) << 4 | hexval(value[2 * i + 1]));
		*have_key = true;
	}
}

static int config_load_settings(sqlite3 *db, struct config *c)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT key, value FROM settings", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	bool have_key = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!col_clean(st, 0) || !col_clean(st, 1)) {
			log_warn("config: settings row %.64s holds a NUL byte; skipped", db_col_text(st, 0));
			continue;
		}
		config_setting(c, db_col_text(st, 0), db_col_text(st, 1), &have_key);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_errno(db, rc);

	if (c->reg_min_expires > c->reg_max_expires) {
		log_warn("config: reg_min_expires %ld > reg_max_expires %ld; using %ld for both",
			 c->reg_min_expires, c->reg_max_expires, c->reg_max_expires);
		c->reg_min_expires = c->reg_max_expires;
	}
	if (c->reg_default_expires < c->reg_min_expires || c->reg_default_expires > c->reg_max_expires) {
		long d = c->reg_default_expires < c->reg_min_expires ? c->reg_min_expires : c->reg_max_expires;
		log_warn("config: reg_default_expires %ld outside %ld..%ld; using %ld", c->reg_default_expires,
			 c->reg_min_expires, c->reg_max_expires, d);
		c->reg_default_expires = d;
	}
	if (!have_key) {
		/* db_open creates it; without one nonces cannot outlive this run. */
		log_warn("config: settings nonce_key missing or invalid; using a random key for this run");
		if (gnutls_rnd(GNUTLS_RND_KEY, c->nonce_key, sizeof c->nonce_key) != 0)
			return EIO;
	}
	return 0;
}

/* ---- extensions and rooms ---------------------------------------------------- */

/* The mailbox columns (11..18) of an extensions row; a broken value is
 * logged and its default used: the extension still works. */
static int mailbox_columns(sqlite3_stmt *st, const char *number, struct arena *a, struct ext_row *e)
{
	bool have = sqlite3_column_int64(st, 18) != 0;
	e->vm_on = DB_VM_ON_ALL;
	e->vm_max_seconds = 180;
	e->vm_max_messages = 100;
	e->unsolicited_mwi = false;
	if (have) {
		unsigned bits;
		if (col_clean(st, 11) && db_vm_on_parse(db_col_text(st, 11), &bits) == 0)
			e->vm_on = bits;
		else
			log_warn("config: mailboxes row %s: vm_on is not a list of noanswer, busy, unavailable, dnd;"
				 " using all", number);
		sqlite3_int64 secs = sqlite3_column_int64(st, 12), msgs = sqlite3_column_int64(st, 13);
		if (secs >= DB_VM_MSG_SECONDS_MIN && secs <= DB_VM_MSG_SECONDS_MAX)
			e->vm_max_seconds = (unsigned)secs;
		else
			log_warn("config: mailboxes row %s: max_msg_seconds %lld out of range; using 180", number,
				 (long long)secs);
		if (msgs >= 1 && msgs <= DB_VM_MESSAGES_MAX)
			e->vm_max_messages = (unsigned)msgs;
		else
			log_warn("config: mailboxes row %s: max_messages %lld out of range; using 100", number,
				 (long long)msgs);
		e->unsolicited_mwi = sqlite3_column_int64(st, 14) == 1;
	}
	for (int k = 0; k < DB_VM_GREETING_COUNT; k++) {
		const char *g = have ? db_col_text(st, 15 + k) : "";
		if (g[0] && (!col_clean(st, 15 + k) || !db_vm_file_valid(g))) {
			log_warn("config: mailboxes row %s: greeting file name not valid; using the generated one",
				 number);
			g = "";
		}
		int ret = arena_add(a, g, &e->greeting[k]);
		if (ret != 0)
			return ret;
	}
	return 0;
}

static int config_load_exts(sqlite3 *db, struct loader *L)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT e.number, e.name, e.ha1_md5, e.ha1_sha256, e.vm_pin, e.flags, e.ring_time,"
				    " e.fwd_always, e.fwd_busy, e.fwd_noanswer, e.dnd,"
				    " m.vm_on, m.max_msg_seconds, m.max_messages, m.unsolicited_mwi,"
				    " m.greeting_unavail, m.greeting_busy, m.greeting_name, m.number IS NOT NULL"
				    " FROM extensions e LEFT JOIN mailboxes m ON m.number = e.number"
				    " ORDER BY length(e.number), e.number",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	int ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *number = db_col_text(st, 0), *name = db_col_text(st, 1), *md5 = db_col_text(st, 2),
			   *sha = db_col_text(st, 3), *pin = db_col_text(st, 4);
		sqlite3_int64 flags = sqlite3_column_int64(st, 5), ring = sqlite3_column_int64(st, 6);
		const char *why = NULL;
		if (!col_clean(st, 0) || !db_number_valid(number))
			why = "number is not 2 to 15 digits";
		else if (!col_clean(st, 1) || !db_name_valid(name))
			why = "name is not valid UTF-8 text of at most 64 characters";
		else if (!hex_lower_valid(md5, 32))
			why = "ha1_md5 is not 32 lowercase hex digits";
		else if (!hex_lower_valid(sha, 64))
			why = "ha1_sha256 is not 64 lowercase hex digits";
		else if (!col_clean(st, 4) || !db_pin_valid(pin))
			why = "vm_pin is not empty or 4 to 12 digits";
		else if (flags < 0 || flags > UINT32_MAX)
			why = "flags out of range";
		else if (ring < 1 || ring > 600)
			why = "ring_time is not 1 to 600 seconds";
		if (why) {
			log_warn("config: extensions row %.32s: %s; skipped", number, why);
			continue;
		}
		/* A broken forwarding rule is switched off, not the extension. */
		const char *fwd[3];
		for (int k = 0; k < 3; k++) {
			fwd[k] = db_col_text(st, 7 + k);
			if (!fwd[k][0])
				continue;
			const char *bad = NULL;
			if (!col_clean(st, 7 + k) || !db_number_valid(fwd[k]))
				bad = "is not 2 to 15 digits";
			else if (strcmp(fwd[k], number) == 0)
				bad = "points at the extension itself";
			if (bad) {
				log_warn("config: extensions row %s: %s %s; that rule is off", number,
					 db_fwd_kind_name((enum db_fwd_kind)k), bad);
				fwd[k] = "";
			}
		}
		ret = grow((void **)&L->ext, &L->cap_ext, L->n_ext + 1, sizeof *L->ext);
		struct ext_row *e = &L->ext[L->n_ext];
		if (ret == 0)
			ret = arena_add(&L->a, number, &e->number);
		if (ret == 0)
			ret = arena_add(&L->a, name, &e->name);
		if (ret == 0)
			ret = arena_add(&L->a, md5, &e->ha1_md5);
		if (ret == 0)
			ret = arena_add(&L->a, sha, &e->ha1_sha256);
		if (ret == 0)
			ret = arena_add(&L->a, pin, &e->vm_pin);
		for (int k = 0; k < 3 && ret == 0; k++)
			ret = arena_add(&L->a, fwd[k], &e->fwd[k]);
		if (ret != 0)
			break;
		if (ring < DB_RING_TIME_MIN || ring > DB_RING_TIME_MAX) {
			/* Allowed by older builds; the core relies on the current range. */
			sqlite3_int64 r = ring < DB_RING_TIME_MIN ? DB_RING_TIME_MIN : DB_RING_TIME_MAX;
			log_warn("config: extensions row %s: ring_time %lld outside %d..%d; using %lld", number,
				 (long long)ring, DB_RING_TIME_MIN, DB_RING_TIME_MAX, (long long)r);
			ring = r;
		}
		e->flags = (unsigned)flags;
		e->ring_time = (int)ring;
		e->dnd = sqlite3_column_int64(st, 10) != 0;
		ret = mailbox_columns(st, number, &L->a, e);
		if (ret != 0)
			break;
		L->n_ext++;
		if (L->n_ext >= UINT32_MAX / 4) {
			log_warn("config: too many extensions; the rest are skipped");
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

static int config_load_rooms(sqlite3 *db, struct loader *L)
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
		const char *number = db_col_text(st, 0), *name = db_col_text(st, 1), *pin = db_col_text(st, 2),
			   *mpin = db_col_text(st, 3);
		sqlite3_int64 maxp = sqlite3_column_int64(st, 4), flags = sqlite3_column_int64(st, 5);
		const char *why = NULL;
		if (!col_clean(st, 0) || !db_number_valid(number))
			why = "number is not 2 to 15 digits";
		else if (!col_clean(st, 1) || !db_name_valid(name))
			why = "name is not valid UTF-8 text of at most 64 characters";
		else if (!col_clean(st, 2) || !db_pin_valid(pin))
			why = "pin is not empty or 4 to 12 digits";
		else if (!col_clean(st, 3) || !db_pin_valid(mpin))
			why = "moderator_pin is not empty or 4 to 12 digits";
		else if (maxp < 1 || maxp > DB_ROOM_MAX_PARTICIPANTS)
			why = "max_participants out of range";
		else if (flags < 0 || flags > UINT32_MAX)
			why = "flags out of range";
		if (why) {
			log_warn("config: rooms row %.32s: %s; skipped", number, why);
			continue;
		}
		ret = grow((void **)&L->room, &L->cap_room, L->n_room + 1, sizeof *L->room);
		struct room_row *r = &L->room[L->n_room];
		if (ret == 0)
			ret = arena_add(&L->a, number, &r->number);
		if (ret == 0)
			ret = arena_add(&L->a, name, &r->name);
		if (ret == 0)
			ret = arena_add(&L->a, pin, &r->pin);
		if (ret == 0)
			ret = arena_add(&L->a, mpin, &r->moderator_pin);
		if (ret != 0)
			break;
		r->max_participants = (unsigned)maxp;
		r->flags = (unsigned)flags;
		L->n_room++;
		if (L->n_room >= UINT32_MAX / 4) {
			log_warn("config: too many rooms; the rest are skipped");
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

/* ---- the final block ----------------------------------------------------------- */

static size_t hash_size(size_t n)
{
	size_t s = 16;
	while (s < n * 2)
		s *= 2;
	return s;
}

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Insert index i (0-based) under key; false when the key is there already. */
static bool hash_put(uint32_t *tab, size_t mask, const char *const *keys_of_index_base, size_t stride,
		     const char *key, uint32_t i)
{
	size_t len = strlen(key);
	size_t h = (size_t)number_hash(key, len) & mask;
	while (tab[h] != 0) {
		const char *other = *(const char *const *)((const char *)keys_of_index_base +
							    (size_t)(tab[h] - 1) * stride);
		if (strcmp(other, key) == 0)
			return false;
		h = (h + 1) & mask;
	}
	tab[h] = i + 1;
	return true;
}

static int config_build(struct config *tmpl, struct loader *L, struct config **out)
{
	size_t ext_hs = hash_size(L->n_ext), room_hs = hash_size(L->n_room);
	size_t off_ext = align_up(sizeof(struct config), alignof(struct config_ext));
	size_t off_room = align_up(off_ext + L->n_ext * sizeof(struct config_ext), alignof(struct config_room));
	size_t off_eh = align_up(off_room + L->n_room * sizeof(struct config_room), alignof(uint32_t));
	size_t off_rh = off_eh + ext_hs * sizeof(uint32_t);
	size_t off_str = off_rh + room_hs * sizeof(uint32_t);
	size_t total = off_str + L->a.len;

	char *blk = calloc(1, total);
	if (!blk)
		return ENOMEM;
	struct config *c = (struct config *)blk;
	*c = *tmpl;
	atomic_init(&c->refs, 1);
	struct config_ext *exts = (struct config_ext *)(blk + off_ext);
	struct config_room *rooms = (struct config_room *)(blk + off_room);
	uint32_t *eh = (uint32_t *)(blk + off_eh), *rh = (uint32_t *)(blk + off_rh);
	char *str = blk + off_str;
	if (L->a.len)
		memcpy(str, L->a.p, L->a.len);

	size_t n = 0;
	for (size_t i = 0; i < L->n_ext; i++) {
		const struct ext_row *r = &L->ext[i];
		exts[n] = (struct config_ext){
			.number = str + r->number, .name = str + r->name, .ha1_md5 = str + r->ha1_md5,
			.ha1_sha256 = str + r->ha1_sha256, .vm_pin = str + r->vm_pin, .flags = r->flags,
			.ring_time = r->ring_time, .fwd_always = str + r->fwd[DB_FWD_ALWAYS],
			.fwd_busy = str + r->fwd[DB_FWD_BUSY], .fwd_noanswer = str + r->fwd[DB_FWD_NOANSWER],
			.dnd = r->dnd, .vm_on = r->vm_on, .vm_max_seconds = r->vm_max_seconds,
			.vm_max_messages = r->vm_max_messages, .unsolicited_mwi = r->unsolicited_mwi,
		};
		for (int k = 0; k < DB_VM_GREETING_COUNT; k++)
			exts[n].greeting[k] = str + r->greeting[k];
		if (!hash_put(eh, ext_hs - 1, &exts[0].number, sizeof exts[0], exts[n].number, (uint32_t)n)) {
			log_warn("config: extensions row %s: duplicate number; skipped", exts[n].number);
			continue;
		}
		n++;
	}
	c->exts = exts;
	c->n_exts = n;
	c->ext_hash = eh;
	c->ext_mask = ext_hs - 1;

	n = 0;
	for (size_t i = 0; i < L->n_room; i++) {
		const struct room_row *r = &L->room[i];
		rooms[n] = (struct config_room){
			.number = str + r->number, .name = str + r->name, .pin = str + r->pin,
			.moderator_pin = str + r->moderator_pin, .max_participants = r->max_participants,
			.flags = r->flags,
		};
		if (config_ext_find(c, rooms[n].number, strlen(rooms[n].number))) {
			log_warn("config: rooms row %s: number is also an extension; skipped", rooms[n].number);
			continue;
		}
		if (!hash_put(rh, room_hs - 1, &rooms[0].number, sizeof rooms[0], rooms[n].number, (uint32_t)n)) {
			log_warn("config: rooms row %s: duplicate number; skipped", rooms[n].number);
			continue;
		}
		n++;
	}
	c->rooms = rooms;
	c->n_rooms = n;
	c->room_hash = rh;
	c->room_mask = room_hs - 1;
	*out = c;
	return 0;
}

int config_load(sqlite3 *db, struct config **out)
{
	*out = NULL;
	struct config tmpl;
	memset(&tmpl, 0, sizeof tmpl);
	config_defaults(&tmpl);
	struct loader L;
	memset(&L, 0, sizeof L);

	/* A deferred BEGIN: the first SELECT pins one WAL snapshot for all. */
	bool owned = sqlite3_get_autocommit(db) != 0;
	int ret = 0;
	if (owned) {
		int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return db_errno(db, rc);
	}
	ret = db_config_serial(db, &tmpl.serial);
	if (ret == 0)
		ret = config_load_settings(db, &tmpl);
	if (ret == 0)
		ret = config_load_exts(db, &L);
	if (ret == 0)
		ret = config_load_rooms(db, &L);
	if (owned)
		db_rollback(db); /* read only: nothing to commit */
	if (ret == 0)
		ret = config_build(&tmpl, &L, out);
	explicit_bzero(tmpl.nonce_key, sizeof tmpl.nonce_key);
	free(L.a.p);
	free(L.ext);
	free(L.room);
	return ret;
}

const struct config_ext *config_ext_find(const struct config *c, const char *number, size_t len)
{
	if (!c || !number || len == 0 || len > DB_NUMBER_MAX)
		return NULL;
	size_t h = (size_t)number_hash(number, len) & c->ext_mask;
	/* The table is at most half full, so an empty slot ends every probe. */
	for (uint32_t i; (i = c->ext_hash[h]) != 0; h = (h + 1) & c->ext_mask) {
		const struct config_ext *e = &c->exts[i - 1];
		if (strncmp(e->number, number, len) == 0 && e->number[len] == '\0')
			return e;
	}
	return NULL;
}

size_t config_ext_count(const struct config *c) { return c ? c->n_exts : 0; }

const struct config_ext *config_ext_at(const struct config *c, size_t i)
{
	return c && i < c->n_exts ? &c->exts[i] : NULL;
}

const struct config_room *config_room_find(const struct config *c, const char *number, size_t len)
{
	if (!c || !number || len == 0 || len > DB_NUMBER_MAX)
		return NULL;
	size_t h = (size_t)number_hash(number, len) & c->room_mask;
	for (uint32_t i; (i = c->room_hash[h]) != 0; h = (h + 1) & c->room_mask) {
		const struct config_room *r = &c->rooms[i - 1];
		if (strncmp(r->number, number, len) == 0 && r->number[len] == '\0')
			return r;
	}
	return NULL;
}

size_t config_room_count(const struct config *c) { return c ? c->n_rooms : 0; }

const struct config_room *config_room_at(const struct config *c, size_t i)
{
	return c && i < c->n_rooms ? &c->rooms[i] : NULL;
}

struct config *config_ref(struct config *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void config_unref(struct config *c)
{
	if (!c)
		return;
	/* acq_rel: the last owner must see every other owner's reads done. */
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
		explicit_bzero(c->nonce_key, sizeof c->nonce_key);
		free(c);
	}
}
