/*
 * api_session.c: signed-in sessions, sign-in throttling, and the
 * /api/v1/session routes.
 *
 * Sessions live in memory only (a restart signs everybody out): a fixed
 * table behind one mutex, each entry a random 256-bit id (the cookie), a
 * random 256-bit CSRF token and the user. A session ends after
 * API_SESSION_IDLE seconds without a request or API_SESSION_ABS after
 * sign-in. Ids are compared in constant time so that a lookup does not leak
 * how much of a guessed id was right.
 *
 * Throttling counts failed sign-ins per client address and per user name in
 * a fixed window; past API_THROTTLE_LIMIT the sign-in is refused with 429
 * before the password is even hashed, until the window ends.
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nettle/memops.h>

#include "db.h"
#include "log.h"

struct session {
	bool used;
	char id[API_TOKEN_HEX + 1];
	char csrf[API_TOKEN_HEX + 1];
	char user[DB_ADMIN_USER_MAX + 1];
	int64_t created, last;
};

struct throttle {
	char key[DB_ADMIN_USER_MAX + 8]; /* "ip:ADDR" or "user:NAME"; "" = free */
	unsigned failures;
	int64_t start; /* window start */
};

struct api_sessions {
	pthread_mutex_t mu;
	struct session s[API_SESSIONS_MAX];
	struct throttle t[API_THROTTLE_MAX];
};

int64_t api_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

int api_sessions_new(struct api_sessions **out)
{
	struct api_sessions *s = calloc(1, sizeof *s);
	if (!s)
		return ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void api_sessions_free(struct api_sessions *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	explicit_bzero(s, sizeof *s);
	free(s);
}

static bool session_expired(const struct session *e, int64_t now)
{
	return now - e->last >= API_SESSION_IDLE || now - e->created >= API_SESSION_ABS;
}

static void session_info(const struct session *e, int64_t now, struct api_session_info *out)
{
	memcpy(out->id, e->id, sizeof out->id);
	memcpy(out->csrf, e->csrf, sizeof out->csrf);
	snprintf(out->user, sizeof out->user, "%s", e->user);
	int64_t idle_left = API_SESSION_IDLE - (now - e->last);
	int64_t abs_left = API_SESSION_ABS - (now - e->created);
	out->expires_in = idle_left < abs_left ? idle_left : abs_left;
}

int api_session_create(struct api_sessions *s, const char *user, int64_t now, struct api_session_info *out)
{
	struct session e = { .used = true, .created = now, .last = now };
	if (strlen(user) >= sizeof e.user)
		return EINVAL;
	snprintf(e.user, sizeof e.user, "%s", user);
	int rc = api_random_hex(e.id, API_TOKEN_BYTES);
	if (rc == 0)
		rc = api_random_hex(e.csrf, API_TOKEN_BYTES);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&s->mu);
	/* A free or expired slot, else the least recently used. */
	size_t pick = 0;
	for (size_t i = 0; i < API_SESSIONS_MAX; i++) {
		if (!s->s[i].used || session_expired(&s->s[i], now)) {
			pick = i;
			break;
		}
		if (s->s[i].last < s->s[pick].last)
			pick = i;
	}
	s->s[pick] = e;
	session_info(&e, now, out);
	pthread_mutex_unlock(&s->mu);
	explicit_bzero(&e, sizeof e);
	return 0;
}

static bool id_syntax_ok(const char *id)
{
	return id && strlen(id) == API_TOKEN_HEX && strspn(id, "0123456789abcdef") == API_TOKEN_HEX;
}

/* The slot holding id, or -1. Caller holds the mutex. Every used slot is
 * compared, in constant time each. */
static long session_slot(struct api_sessions *s, const char *id)
{
	long found = -1;
	for (size_t i = 0; i < API_SESSIONS_MAX; i++)
		if (s->s[i].used && memeql_sec(s->s[i].id, id, API_TOKEN_HEX))
			found = (long)i;
	return found;
}

int api_session_find(struct api_sessions *s, const char *id, int64_t now, struct api_session_info *out)
{
	if (!id_syntax_ok(id))
		return ENOENT;
	int ret = ENOENT;
	pthread_mutex_lock(&s->mu);
	long i = session_slot(s, id);
	if (i >= 0) {
		struct session *e = &s->s[i];
		if (session_expired(e, now)) {
			explicit_bzero(e, sizeof *e);
		} else {
			e->last = now;
			session_info(e, now, out);
			ret = 0;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

int api_session_end(struct api_sessions *s, const char *id)
{
	if (!id_syntax_ok(id))
		return ENOENT;
	pthread_mutex_lock(&s->mu);
	long i = session_slot(s, id);
	if (i >= 0)
		explicit_bzero(&s->s[i], sizeof s->s[i]);
	pthread_mutex_unlock(&s->mu);
	return i >= 0 ? 0 : ENOENT;
}

void api_session_end_user(struct api_sessions *s, const char *user, const char *keep_id)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < API_SESSIONS_MAX; i++) {
		struct session *e = &s->s[i];
		if (e->used && strcmp(e->user, user) == 0 && !(keep_id && strcmp(e->id, keep_id) == 0))
			explicit_bzero(e, sizeof *e);
	}
	pthread_mutex_unlock(&s->mu);
}

size_t api_session_count(struct api_sessions *s, int64_t now)
{
	size_t n = 0;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < API_SESSIONS_MAX; i++)
		n += s->s[i].used && !session_expired(&s->s[i], now);
	pthread_mutex_unlock(&s->mu);
	return n;
}

bool api_session_alive(struct api_sessions *s, const char *id, int64_t now)
{
	if (!id_syntax_ok(id))
		return false;
	pthread_mutex_lock(&s->mu);
	long i = session_slot(s, id);
	bool alive = i >= 0 && !session_expired(&s->s[i], now);
	pthread_mutex_unlock(&s->mu);
	return alive;
}

bool api_csrf_ok(const struct api_session_info *si, const char *token)
{
	if (!token || strlen(token) != API_TOKEN_HEX)
		return false;
	return memeql_sec(si->csrf, token, API_TOKEN_HEX);
}

/* ---- throttling ------------------------------------------------------------- */

static void throttle_key(char *out, size_t cap, const char *kind, const char *v)
{
	snprintf(out, cap, "%s:%.*s", kind, DB_ADMIN_USER_MAX, v);
}

/* The entry for key, or NULL. Caller holds the mutex. */
static struct throttle *throttle_get(struct api_sessions *s, const char *key)
{
	for (size_t i = 0; i < API_THROTTLE_MAX; i++)
		if (s->t[i].key[0] && strcmp(s->t[i].key, key) == 0)
			return &s->t[i];
	return NULL;
}

static bool throttle_blocked(struct throttle *t, int64_t now, unsigned *retry_after)
{
	if (!t)
		return false;
	if (now - t->start >= API_THROTTLE_WINDOW) {
		memset(t, 0, sizeof *t); /* window over: forget */
		return false;
	}
	if (t->failures < API_THROTTLE_LIMIT)
		return false;
	unsigned left = (unsigned)(t->start + API_THROTTLE_WINDOW - now);
	if (left > *retry_after)
		*retry_after = left;
	return true;
}

int api_throttle_check(struct api_sessions *s, const char *ip, const char *user, int64_t now,
		       unsigned *retry_after)
{
	char ki[sizeof s->t[0].key], ku[sizeof s->t[0].key];
	throttle_key(ki, sizeof ki, "ip", ip);
	throttle_key(ku, sizeof ku, "user", user);
	*retry_after = 0;
	pthread_mutex_lock(&s->mu);
	bool b1 = throttle_blocked(throttle_get(s, ki), now, retry_after);
	bool b2 = throttle_blocked(throttle_get(s, ku), now, retry_after);
	pthread_mutex_unlock(&s->mu);
	return b1 || b2 ? EAGAIN : 0;
}

static void throttle_count(struct api_sessions *s, const char *key, int64_t now)
{
	struct throttle *t = throttle_get(s, key);
	if (t && now - t->start >= API_THROTTLE_WINDOW)
		memset(t, 0, sizeof *t);
	if (!t || !t->key[0]) {
		/* A free slot, an expired one, else the one with the fewest
		 * failures (the oldest of those): flooding the table with new
		 * names pushes out other one-failure entries, not the blocked. */
		size_t pick = 0;
		for (size_t i = 0; i < API_THROTTLE_MAX; i++) {
			const struct throttle *c = &s->t[i], *p = &s->t[pick];
			if (!c->key[0] || now - c->start >= API_THROTTLE_WINDOW) {
				pick = i;
				break;
			}
			if (c->failures < p->failures || (c->failures == p->failures && c->start < p->start))
				pick = i;
		}
		t = &s->t[pick];
		snprintf(t->key, sizeof t->key, "%s", key);
		t->failures = 0;
		t->start = now;
	}
	if (t->failures < UINT32_MAX)
		t->failures++;
}

void api_throttle_fail(struct api_sessions *s, const char *ip, const char *user, int64_t now)
{
	char ki[sizeof s->t[0].key], ku[sizeof s->t[0].key];
	throttle_key(ki, sizeof ki, "ip", ip);
	throttle_key(ku, sizeof ku, "user", user);
	pthread_mutex_lock(&s->mu);
	throttle_count(s, ki, now);
	throttle_count(s, ku, now);
	pthread_mutex_unlock(&s->mu);
}

void api_throttle_ok(struct api_sessions *s, const char *ip, const char *user)
{
	char ki[sizeof s->t[0].key], ku[sizeof s->t[0].key];
	throttle_key(ki, sizeof ki, "ip", ip);
	throttle_key(ku, sizeof ku, "user", user);
	pthread_mutex_lock(&s->mu);
	struct throttle *t = throttle_get(s, ki);
	if (t)
		memset(t, 0, sizeof *t);
	if ((t = throttle_get(s, ku)))
		memset(t, 0, sizeof *t);
	pthread_mutex_unlock(&s->mu);
}

/* ---- routes ----------------------------------------------------------------- */

static void set_cookie(struct api_req *r, const char *value, long max_age)
{
	snprintf(r->set_cookie, sizeof r->set_cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s",
		 API_COOKIE, value, max_age, r->srv->tls ? "; Secure" : "");
}

int api_signin(struct api_req *r)
{
	const char *user = NULL, *password = NULL;
	const struct api_field f[] = {
		{ "username", API_JSTR, true, &user, NULL, NULL },
		{ "password", API_JSTR, true, &password, NULL, NULL },
	};
	if (api_fields(r, f, 2) != 0)
		return 0;
	int64_t now = api_now();
	unsigned retry = 0;
	if (api_throttle_check(r->srv->sessions, r->client_ip, user, now, &retry) != 0) {
		snprintf(r->retry_after, sizeof r->retry_after, "%u", retry ? retry : 1);
		log_notice("http: sign-in from %s refused: too many failures", r->client_ip);
		return api_error(r, 429, NULL, "too many failed sign-ins; try again in %u seconds", retry);
	}
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	bool ok = false;
	int rc = db_admin_check(db, user, password, &ok);
	if (rc != 0 && rc != EINVAL)
		return api_error_db(r, rc, NULL);
	if (!ok) {
		api_throttle_fail(r->srv->sessions, r->client_ip, user, now);
		atomic_fetch_add(&r->srv->signin_failures, 1);
		log_notice("http: failed sign-in from %s", r->client_ip);
		/* Unknown user and wrong password: the same answer. */
		return api_error(r, 401, NULL, "wrong user name or password");
	}
	api_throttle_ok(r->srv->sessions, r->client_ip, user);
	struct api_session_info si;
	if ((rc = api_session_create(r->srv->sessions, user, now, &si)) != 0)
		return api_error(r, 500, NULL, "cannot create a session");
	set_cookie(r, si.id, API_SESSION_ABS);
	log_notice("http: %s signed in from %s", si.user, r->client_ip);
	api_reply_json(r, 201, json_pack("{s:s, s:s, s:I}", "csrf", si.csrf, "username", si.user,
					 "expires_in", (json_int_t)si.expires_in));
	explicit_bzero(&si, sizeof si);
	return 0;
}

int api_whoami(struct api_req *r)
{
	/* The CSRF token is given again so that a reloaded page can carry on;
	 * only same-origin scripts can read this answer. */
	return api_reply_json(r, 200, json_pack("{s:s, s:s, s:I}", "username", r->sess.user, "csrf", r->sess.csrf,
						"expires_in", (json_int_t)r->sess.expires_in));
}

int api_signout(struct api_req *r)
{
	api_session_end(r->srv->sessions, r->sess.id);
	set_cookie(r, "", 0);
	log_notice("http: %s signed out", r->sess.user);
	return api_reply_empty(r, 204);
}
