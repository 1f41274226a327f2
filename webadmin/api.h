/*
 * api.h: inside the web admin. The route table (api_routes.c) is the one
 * description of what the server answers: the dispatcher in http.c, the
 * session and CSRF checks and the OpenAPI document all read it, so they
 * cannot disagree. Handlers live in api_*.c by resource; sessions and
 * sign-in throttling in api_session.c.
 *
 * Threads: handlers run on libmicrohttpd's pool threads, several at once.
 * struct http_server is read-only after http_start except the session
 * store (its own mutex) and the atomic counters.
 */
#ifndef PBX_API_H
#define PBX_API_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "http.h"
#include "live.h"

/* ---- limits ------------------------------------------------------------ */

#define API_BODY_MAX (1024 * 1024)     /* JSON bodies */
#define API_CSV_MAX (5 * 1024 * 1024)  /* CSV import bodies */
#define API_DRAIN_MAX (8 * 1024 * 1024) /* bytes of a too large body read to answer 413 */
#define API_URL_MAX 2048               /* bytes of path and query */
#define API_SEGS_MAX 12                /* path segments */
#define API_PARAMS_MAX 2               /* {name} segments in one route */
#define API_PARAM_MAX 256              /* bytes of one decoded {name} segment */
#define API_TOKEN_BYTES 32             /* session id and CSRF token: 256 random bits */
#define API_TOKEN_HEX (2 * API_TOKEN_BYTES)
#define API_SESSIONS_MAX 256           /* signed-in sessions kept; the least recently used goes */
#define API_SESSION_IDLE 1800          /* seconds without a request before a session ends */
#define API_SESSION_ABS 43200          /* seconds after sign-in when a session ends regardless */
#define API_THROTTLE_MAX 1024          /* client addresses and user names followed */
#define API_THROTTLE_LIMIT 5           /* failed sign-ins per window ... */
#define API_THROTTLE_WINDOW 300        /* ... seconds, then 429 until the window ends */
#define API_COOKIE "pbx_session"
#define API_STREAMS_MAX 16             /* event streams open at once; 503 past it */
#define API_EVENTS_POLL_MS 1000        /* how often the event stream asks the core */
#define API_EVENTS_KEEPALIVE_S 15      /* a comment line after this long without an event */
#define API_EVENTS_ITEMS_MAX 500       /* registrations or calls in one event; "total" counts all */
#define API_STREAM_PENDING_MAX (4 * 1024 * 1024) /* bytes queued for a client that does not read */

/* How JSON bodies are written: compact; reals (the load average) short. */
#define API_JSON_DUMP (JSON_COMPACT | JSON_REAL_PRECISION(6))

/* ---- the route table --------------------------------------------------- */

enum api_flag {
	API_SESSION = 1u << 0, /* needs a signed-in session: 401 otherwise */
	API_CSRF = 1u << 1,    /* state-changing: X-CSRF-Token must match the session's: 403 */
	API_JSON = 1u << 2,    /* takes a JSON object (application/json, at most API_BODY_MAX) */
	API_CSV = 1u << 3,     /* takes text/csv, at most API_CSV_MAX */
	API_LIVE = 1u << 4,    /* asks the running core (live_ops): 503 without one */
	API_STREAM = 1u << 5,  /* answers 200 with a text/event-stream that stays open */
};

struct api_req;

struct api_route {
	const char *method;  /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *path;    /* "/api/v1/extensions/{number}": {name} matches one segment */
	unsigned flags;      /* enum api_flag */
	int (*fn)(struct api_req *r);
	const char *summary; /* for the OpenAPI document */
};

/* The table, in match order (literal segments before {name} ones). */
const struct api_route *api_routes(size_t *n);
/* Checks the table's own rules: every route that is not a GET needs
 * API_CSRF and API_SESSION except sign-in; every /api route needs a
 * session except sign-in; at most API_PARAMS_MAX parameters. 0 or EINVAL
 * (with the offending route logged). http_start refuses to run otherwise. */
int api_routes_check(void);
/* Find the route for method and the decoded path segments. 0 and *out
 * (params[] point into segs); ENOENT: no route has this path; EPERM: the
 * path exists but not with this method, allow then lists its methods
 * ("GET, DELETE"). HEAD matches GET routes. */
int api_route_match(const char *method, char *const *segs, size_t nseg, const struct api_route **out,
		    char *params[API_PARAMS_MAX], char *allow, size_t allowcap);
/* OpenAPI 3.0 document of the whole table. NULL when out of memory. */
json_t *api_openapi(void);

/* ---- the server and one request ------------------------------------------ */

struct api_sessions;
struct api_events;
struct api_stream;

struct http_server {
	struct MHD_Daemon *d;
	atomic_bool *ready;
	char *db_path;
	char *spool;                    /* voicemail files; NULL: none (the audio route answers 503) */
	const struct live_ops *live;
	bool tls;
	char *tls_cert, *tls_key;       /* PEM contents, kept while the daemon runs */
	pthread_key_t db_key;           /* per-thread sqlite3 *, closed by the key's destructor */
	bool db_key_ok;
	struct api_sessions *sessions;
	struct api_events *events;      /* the event streams; NULL without live_ops */
	uint16_t port;
	atomic_uint_fast64_t status_count[6]; /* answered requests by status class: [2] = 2xx ... */
	atomic_uint_fast64_t signin_failures;
};

/* A signed-in session as a handler sees it (a copy, not the stored one). */
struct api_session_info {
	char id[API_TOKEN_HEX + 1];
	char csrf[API_TOKEN_HEX + 1];
	char user[64 + 1];
	int64_t expires_in;             /* seconds until it ends if used now */
};

struct api_req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	const char *method;             /* libmicrohttpd's, valid for the request */
	const struct api_route *route;
	char *segs[API_SEGS_MAX];       /* decoded path segments, owned */
	size_t nseg;
	char *params[API_PARAMS_MAX];   /* the route's {name} segments, pointing into segs */
	size_t body_max;                /* 0: the route takes no body */
	char *body;                     /* owned; NUL-terminated */
	size_t body_len, body_cap;
	bool too_large;                 /* body passed body_max: 413 at the end */
	size_t dropped;                 /* bytes read past body_max, at most API_DRAIN_MAX */
	bool early;                     /* answered before the body was read */
	json_t *json;                   /* the parsed body of API_JSON routes */
	bool have_session;
	struct api_session_info sess;
	char client_ip[64];             /* the throttling key for the client */

	/* The answer, filled by a handler through the api_reply_* helpers. */
	unsigned status;
	char *resp;                     /* owned (malloc) */
	size_t resp_len;
	const char *resp_type;          /* static string */
	char location[128];
	char allow[64];
	char retry_after[16];
	char set_cookie[256];
	char disposition[64];
	bool changed;                   /* SQLite was written: tell the core */
	struct api_stream *stream;      /* API_STREAM routes: answered with this stream
					 * (owned here until http_reply hands it over) */
	struct MHD_Response *own_resp;  /* a response the handler built (a file with its
					 * own headers): sent instead of resp, owned here
					 * until http_reply queues it */
};

/* ---- helpers: api_util.c -------------------------------------------------- */

/* The calling thread's SQLite connection, opened on first use. 0 or an
 * errno (the reply is then already a 500/503). */
int api_db(struct api_req *r, sqlite3 **out);
/* Answer with body as JSON (the reference is taken, NULL is a 500). */
int api_reply_json(struct api_req *r, unsigned status, json_t *body);
/* Answer {"error": text, "field": field or null}. Returns 0 so a handler
 * can end with `return api_error(...)`. */
int api_error(struct api_req *r, unsigned status, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Answer an error from the db layer: rc picks the status (EINVAL 400,
 * EEXIST 409, ENOENT 404, EBUSY 503, else 500); msg ("field: text" as db.h
 * writes them) gives the field, renamed to the API's names. */
int api_error_db(struct api_req *r, int rc, const char *msg);
int api_reply_empty(struct api_req *r, unsigned status);
int api_reply_text(struct api_req *r, unsigned status, const char *type, char *text, size_t len);

/* Body fields of a JSON object: unknown keys, missing required ones and
 * wrong types are answered with a 400 naming the field (EINVAL returned). */
enum api_jtype { API_JSTR, API_JINT };
struct api_field {
	const char *name;
	enum api_jtype type;
	bool required;
	const char **s;                 /* API_JSTR: the string (owned by the request's JSON) */
	json_int_t *i;                  /* API_JINT */
	bool *present;                  /* may be NULL */
};
int api_fields(struct api_req *r, const struct api_field *f, size_t n);

/* A query-string argument, percent-decoded into out (NULL when absent).
 * EINVAL for a bad escape or one longer than cap-1. */
int api_query(struct api_req *r, const char *name, char *out, size_t cap, bool *present);
/* Decode %XX escapes (and '+' as space when plus is true) of in[0..len)
 * into out. EINVAL: bad escape, NUL byte, or not fitting in cap. */
int api_pct_decode(const char *in, size_t len, bool plus, char *out, size_t cap);
/* A JSON string for text that may not be valid UTF-8 (a phone's
 * User-Agent): bytes that break UTF-8 become '?'. */
json_t *api_jstr(const char *s);
/* n random bytes from the kernel as lowercase hex (2n characters + NUL). */
int api_random_hex(char *out, size_t nbytes);
/* A SIP password of len characters from an alphabet phones accept. */
int api_random_password(char *out, size_t len);
/* Tell the core that SQLite changed (when it can be told). */
void api_changed(struct api_req *r);

/* ---- sessions and throttling: api_session.c -------------------------------- */

/* Times are monotonic seconds, passed in so that tests can move the clock. */
int64_t api_now(void);
int api_sessions_new(struct api_sessions **out);
void api_sessions_free(struct api_sessions *s);
/* New session for user; the least recently used one goes when the table
 * is full. */
int api_session_create(struct api_sessions *s, const char *user, int64_t now, struct api_session_info *out);
/* The session with this id (64 hex digits), touched; ENOENT when unknown or
 * expired (an expired one is removed). */
int api_session_find(struct api_sessions *s, const char *id, int64_t now, struct api_session_info *out);
int api_session_end(struct api_sessions *s, const char *id); /* ENOENT */
/* End every session of user except keep_id (may be NULL). */
void api_session_end_user(struct api_sessions *s, const char *user, const char *keep_id);
size_t api_session_count(struct api_sessions *s, int64_t now);
/* Whether the session with this id is still signed in, without counting
 * this as a use (an open event stream does not keep a session alive). */
bool api_session_alive(struct api_sessions *s, const char *id, int64_t now);
/* Constant-time comparison of the request's token with the session's. */
bool api_csrf_ok(const struct api_session_info *si, const char *token);
/* EAGAIN (and *retry_after seconds) when ip or user has used up its
 * failed sign-ins for the window; 0 otherwise. */
int api_throttle_check(struct api_sessions *s, const char *ip, const char *user, int64_t now,
		       unsigned *retry_after);
void api_throttle_fail(struct api_sessions *s, const char *ip, const char *user, int64_t now);
void api_throttle_ok(struct api_sessions *s, const char *ip, const char *user);

/* ---- live views: api_live.c --------------------------------------------------- */

/* The bodies of GET /api/v1/registrations, /calls (at most max items;
 * "total" counts all) and /stats, built from what the core answers. 0 and
 * *out (owned by the caller); ENOTSUP when live_ops lacks the query;
 * ETIMEDOUT or another errno from the core; ENOMEM. */
int api_live_regs_json(const struct live_ops *live, size_t max, json_t **out);
int api_live_calls_json(const struct live_ops *live, size_t max, json_t **out);
int api_live_stats_json(const struct live_ops *live, json_t **out);
/* The body of GET /api/v1/rooms/live (api_rooms_live.c), likewise: at most
 * max participants listed, "total" counts all. */
int api_live_rooms_json(const struct live_ops *live, size_t max, json_t **out);
/* Answer an errno from the core (ENOTSUP and ETIMEDOUT: 503, else 500). */
int api_live_error(struct api_req *r, int rc);

/* ---- event streams: api_events.c ------------------------------------------------ */

/* The thread that asks the core once every API_EVENTS_POLL_MS while a
 * stream is open and queues what changed to every stream. keepalive_s: 0
 * for API_EVENTS_KEEPALIVE_S. */
int api_events_start(struct http_server *h, unsigned keepalive_s, struct api_events **out);
/* Stop the thread and end every stream (each is resumed so that
 * libmicrohttpd can close it). Call before MHD_stop_daemon. */
void api_events_stop(struct api_events *ev);
/* Free after MHD_stop_daemon (every stream has been freed by then). */
void api_events_free(struct api_events *ev);
/* libmicrohttpd's side of one stream (http_reply): */
ssize_t api_stream_read(void *cls, uint64_t pos, char *buf, size_t max);
void api_stream_free(void *cls);
size_t api_events_count(struct api_events *ev);

/* ---- handlers -------------------------------------------------------------- */

/* api_session.c */
int api_signin(struct api_req *r);
int api_whoami(struct api_req *r);
int api_signout(struct api_req *r);
/* api_ext.c */
int api_ext_list(struct api_req *r);
int api_ext_create(struct api_req *r);
int api_ext_get(struct api_req *r);
int api_ext_patch(struct api_req *r);
int api_ext_delete(struct api_req *r);
int api_ext_password(struct api_req *r);
int api_ext_import(struct api_req *r);
int api_ext_export(struct api_req *r);
/* api_fwd.c */
int api_fwd_get(struct api_req *r);
int api_fwd_put(struct api_req *r);
/* api_cdr.c */
int api_cdr_list(struct api_req *r);
int api_cdr_csv(struct api_req *r);
/* api_admin.c */
int api_settings_get(struct api_req *r);
int api_settings_patch(struct api_req *r);
int api_admins_list(struct api_req *r);
int api_admins_create(struct api_req *r);
int api_admins_delete(struct api_req *r);
int api_admins_password(struct api_req *r);
int api_rooms_list(struct api_req *r);
int api_rooms_create(struct api_req *r);
int api_rooms_patch(struct api_req *r);
int api_rooms_delete(struct api_req *r);
/* api_rooms_live.c */
int api_rooms_live(struct api_req *r);
int api_rooms_mute(struct api_req *r);
int api_rooms_kick(struct api_req *r);
int api_rooms_lock(struct api_req *r);
/* api_vm.c */
int api_vm_list(struct api_req *r);
int api_vm_mailbox_get(struct api_req *r);
int api_vm_mailbox_patch(struct api_req *r);
int api_vm_msg_list(struct api_req *r);
int api_vm_msg_patch(struct api_req *r);
int api_vm_msg_delete(struct api_req *r);
int api_vm_audio(struct api_req *r);
/* api_live.c */
int api_regs_list(struct api_req *r);
int api_bans_list(struct api_req *r);
int api_bans_lift(struct api_req *r);
int api_calls_list(struct api_req *r);
int api_calls_hangup(struct api_req *r);
int api_stats_get(struct api_req *r);
/* api_events.c */
int api_events_get(struct api_req *r);
/* http.c */
int api_healthz(struct api_req *r);
int api_metrics(struct api_req *r);
int api_openapi_get(struct api_req *r);

#endif
