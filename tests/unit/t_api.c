/*
 * t_api.c: the web admin's HTTP API, black-box. Each test starts the real
 * server on 127.0.0.1 with an ephemeral port and a fresh SQLite file in a
 * mkdtemp folder, with a fake live_ops holding fixed data, and talks
 * HTTP/1.1 to it over a plain socket (one request per connection).
 *
 * Route-wide properties (401 without a session, 403 without the CSRF token,
 * the OpenAPI document) are checked by walking the route table, so a route
 * added later is covered without touching this file.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "db.h"
#include "http.h"
#include "live.h"
#include "log.h"

#define ADMIN_PW "correct horse battery"

/* ---- the fake core ---------------------------------------------------------- */

struct fake_live {
	atomic_int changed;   /* config_changed calls */
	atomic_int lifts;
	char lifted[64];      /* the last address ban_lift was given */
	atomic_int regs;      /* bindings fake_regs lists: 2 (the default) or 3 */
	atomic_int reg_asks;  /* registrations calls */
	atomic_int hangups;   /* call_hangup calls */
	atomic_ullong hung;   /* the last id call_hangup was given */
	atomic_int stats_rc;  /* what fake_stats answers */
	atomic_ullong sip_rx; /* a counter the tests move */
	atomic_int conf_calls;   /* conf_mute, conf_kick and conf_lock calls */
	char conf_last[96];      /* "mute 7000 32 1", "kick ...", "lock 7000 1": the last one */
};

static int fake_regs(void *ctx, struct live_binding *out, size_t max, size_t *n, size_t *total)
{
	struct fake_live *f = ctx;
	static const struct live_binding b[3] = {
		{ "201", "sip:201@192.0.2.10:5060", "192.0.2.10:5060", "udp", "<script>alert(1)</script>", 2000000000 },
		{ "202", "sip:202@[2001:db8::1]:5070;transport=tcp", "[2001:db8::1]:5070", "tcp", "bad \xff\xfe utf8",
		  2000000001 },
		{ "201", "sip:201@192.0.2.11:5060", "192.0.2.11:5060", "udp", "second phone of 201", 2000000002 },
	};
	atomic_fetch_add(&f->reg_asks, 1);
	size_t have = atomic_load(&f->regs) == 3 ? 3 : 2;
	*total = have;
	*n = max < have ? max : have;
	memcpy(out, b, *n * sizeof b[0]);
	return 0;
}

static int fake_calls(void *ctx, struct live_call *out, size_t max, size_t *n, size_t *total)
{
	(void)ctx;
	static const struct live_call c[2] = {
		{ .id = 17, .caller = "201", .callee = "202", .dialed = "202", .state = "answered",
		  .start_ms = 1700000000000, .answer_ms = 1700000002500, .codec_a = "PCMU", .codec_b = "opus",
		  .srtp_a = 1 },
		{ .id = 9007199254740993ull, .caller = "203", .callee = "204", .dialed = "<b>x</b>\xff",
		  .state = "ringing", .start_ms = 1700000001000 },
	};
	*total = 2;
	*n = max < 2 ? max : 2;
	memcpy(out, c, *n * sizeof c[0]);
	return 0;
}

static int fake_hangup(void *ctx, uint64_t id)
{
	struct fake_live *f = ctx;
	atomic_fetch_add(&f->hangups, 1);
	atomic_store(&f->hung, id);
	return id == 17 || id == 9007199254740993ull ? 0 : ENOENT;
}

static int fake_stats(void *ctx, struct live_stats *out)
{
	struct fake_live *f = ctx;
	int rc = atomic_load(&f->stats_rc);
	if (rc != 0)
		return rc;
	*out = (struct live_stats){ .registrations = 2, .calls_active = 2, .call_setups = 40, .calls_answered = 31,
				    .messages = 7, .sip_rx = atomic_load(&f->sip_rx), .sip_rx_bad = 3,
				    .auth_failures = 5, .rtp_rx_packets = 100000, .rtp_tx_packets = 99000,
				    .rtp_lost_packets = 12, .media_legs = 4, .media_tick_max_us = 1250 };
	return 0;
}

static int fake_bans(void *ctx, struct live_ban *out, size_t max, size_t *n)
{
	(void)ctx;
	*n = 0;
	if (max >= 2) {
		memset(out, 0, 2 * sizeof *out);
		snprintf(out[0].addr, sizeof out[0].addr, "192.0.2.7");
		out[0].until = 2000000000;
		out[0].failures = 12;
		snprintf(out[1].addr, sizeof out[1].addr, "2001:db8:1:2::/64");
		out[1].until = 2000000002;
		out[1].failures = 30;
		*n = 2;
	}
	return 0;
}

static int fake_lift(void *ctx, const char *addr)
{
	struct fake_live *f = ctx;
	snprintf(f->lifted, sizeof f->lifted, "%s", addr);
	atomic_fetch_add(&f->lifts, 1);
	return strcmp(addr, "192.0.2.7") == 0 || strcmp(addr, "2001:db8:1:2::/64") == 0 ? 0 : ENOENT;
}

/* Rooms 7000 (two participants, one a moderator) and 7001 (locked). */
static const struct live_conf_member fake_members[3] = {
	{ .room = "7000", .room_count = 2, .id = 31, .number = "201", .name = "Ann", .joined_ms = 1700000000000,
	  .moderator = 1 },
	{ .room = "7000", .room_count = 2, .id = 32, .number = "202", .name = "<b>Bob</b>\xff",
	  .joined_ms = 1700000001000, .muted = 1 },
	{ .room = "7001", .room_locked = 1, .room_count = 1, .id = 9007199254740993ull, .number = "203",
	  .joined_ms = 1700000002000 },
};

static int fake_conf_members(void *ctx, struct live_conf_member *out, size_t max, size_t *n, size_t *total)
{
	(void)ctx;
	*total = 3;
	*n = max < 3 ? max : 3;
	memcpy(out, fake_members, *n * sizeof fake_members[0]);
	return 0;
}

static bool fake_member_known(const char *room, uint64_t id)
{
	for (size_t i = 0; i < 3; i++)
		if (strcmp(fake_members[i].room, room) == 0 && (id == 0 || fake_members[i].id == id))
			return true;
	return false;
}

static int fake_conf_mute(void *ctx, const char *room, uint64_t id, int muted)
{
	struct fake_live *f = ctx;
	atomic_fetch_add(&f->conf_calls, 1);
	snprintf(f->conf_last, sizeof f->conf_last, "mute %s %llu %d", room, (unsigned long long)id, muted);
	return fake_member_known(room, id) ? 0 : ENOENT;
}

static int fake_conf_kick(void *ctx, const char *room, uint64_t id)
{
	struct fake_live *f = ctx;
	atomic_fetch_add(&f->conf_calls, 1);
	snprintf(f->conf_last, sizeof f->conf_last, "kick %s %llu", room, (unsigned long long)id);
	return fake_member_known(room, id) ? 0 : ENOENT;
}

static int fake_conf_lock(void *ctx, const char *room, int locked)
{
	struct fake_live *f = ctx;
	atomic_fetch_add(&f->conf_calls, 1);
	snprintf(f->conf_last, sizeof f->conf_last, "lock %s %d", room, locked);
	return fake_member_known(room, 0) ? 0 : ENOENT;
}

static void fake_changed(void *ctx)
{
	struct fake_live *f = ctx;
	atomic_fetch_add(&f->changed, 1);
}

/* ---- the fixture -------------------------------------------------------------- */

struct fx {
	char dir[64];
	char db[128];
	atomic_bool ready;
	struct fake_live fl;
	struct live_ops ops;
	struct http_server *h;
	uint16_t port;
	char cookie[128];     /* "pbx_session=..." of the signed-in admin */
	char csrf[API_TOKEN_HEX + 1];
	char cert[128], key[128]; /* PEM files of a TLS server, "" for plain HTTP */
	bool v6;                  /* listen on [::1] (set before fx_start) */
};

/* The one fixture of the running test (tests run one at a time). */
static struct fx *fx;

/* A self-signed certificate for 127.0.0.1 and its key, as PEM files. */
static int make_cert(const char *cert_path, const char *key_path)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t pem = { NULL, 0 };
	int ok = -1;
	time_t now = time(NULL);
	unsigned char serial[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	const unsigned char ip[4] = { 127, 0, 0, 1 };
	if (gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crt_set_version(crt, 3) < 0 || gnutls_x509_crt_set_serial(crt, serial, sizeof serial) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 60) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + 3600) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "127.0.0.1", 9) < 0 ||
	    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, sizeof ip, GNUTLS_FSAN_SET) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 || gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0)
		goto out;
	const char *paths[2] = { cert_path, key_path };
	for (int i = 0; i < 2; i++) {
		int rc = i == 0 ? gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem)
				: gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &pem);
		if (rc < 0)
			goto out;
		FILE *f = fopen(paths[i], "w");
		size_t w = f ? fwrite(pem.data, 1, pem.size, f) : 0;
		if (f)
			fclose(f);
		gnutls_free(pem.data);
		pem.data = NULL;
		if (w != pem.size)
			goto out;
	}
	ok = 0;
out:
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return ok;
}

static int fx_start_with(struct fx *f, bool with_live, bool tls)
{
	snprintf(f->dir, sizeof f->dir, "/tmp/t_api.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof f->db, "%s/pbx.db", f->dir);
	sqlite3 *db;
	char err[256];
	if (db_open(f->db, &db, err, sizeof err) != 0)
		return -1;
	int rc = db_admin_set_password(db, "admin", ADMIN_PW, err, sizeof err);
	db_close(db);
	if (rc != 0)
		return -1;
	f->ops = (struct live_ops){ .ctx = &f->fl, .registrations = fake_regs, .bans = fake_bans, .ban_lift = fake_lift,
				    .calls = fake_calls, .call_hangup = fake_hangup, .stats = fake_stats,
				    .conf_members = fake_conf_members, .conf_mute = fake_conf_mute,
				    .conf_kick = fake_conf_kick, .conf_lock = fake_conf_lock,
				    .config_changed = fake_changed };
	atomic_store(&f->fl.sip_rx, 1000);
	/* A short keepalive so that the event stream tests see one soon. */
	struct http_cfg cfg = { .ready = &f->ready, .db_path = f->db, .live = with_live ? &f->ops : NULL,
				.events_keepalive_s = 2 };
	if (tls) {
		snprintf(f->cert, sizeof f->cert, "%s/cert.pem", f->dir);
		snprintf(f->key, sizeof f->key, "%s/key.pem", f->dir);
		if (make_cert(f->cert, f->key) != 0)
			return -1;
		cfg.tls_cert = f->cert;
		cfg.tls_key = f->key;
	}
	if (f->v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&cfg.addr;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&cfg.addr;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	if (http_start(&f->h, &cfg) != 0)
		return -1;
	f->port = http_port(f->h);
	return f->port ? 0 : -1;
}

static int fx_start(struct fx *f, bool with_live)
{
	return fx_start_with(f, with_live, false);
}

static void fx_stop(struct fx *f)
{
	http_stop(f->h);
	char p[192];
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", f->db, suffix[i]);
		unlink(p);
	}
	if (f->cert[0])
		unlink(f->cert);
	if (f->key[0])
		unlink(f->key);
	rmdir(f->dir);
}

static int setup(void **state)
{
	unit_leak_setup(state);
	fx = calloc(1, sizeof *fx);
	if (!fx || fx_start(fx, true) != 0)
		return -1;
	atomic_store(&fx->ready, true);
	return 0;
}

static int teardown(void **state)
{
	fx_stop(fx);
	free(fx);
	fx = NULL;
	return unit_leak_teardown(state);
}

#define API_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* ---- a small HTTP/1.1 client ------------------------------------------------------ */

struct resp {
	int status;          /* 0: no answer (connection closed without one) */
	char *raw;           /* everything read */
	size_t raw_len;
	char *body;          /* into raw */
	size_t body_len;
	json_t *json;        /* when the body parses */
};

static void resp_free(struct resp *r)
{
	free(r->raw);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

/* The value of header name (case-insensitive), copied into out; false
 * when absent. */
static bool resp_header(const struct resp *r, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = r->raw;
	const char *end = r->body ? r->body : r->raw + r->raw_len;
	while (p && p < end) {
		const char *eol = strstr(p, "\r\n");
		if (!eol || eol >= end)
			break;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)(eol - v), v);
			return true;
		}
		p = eol + 2;
	}
	return false;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1; /* the server may answer and close before taking it all */
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void resp_parse(char *buf, size_t len, struct resp *out);

/* Send raw bytes from src (NULL: 127.0.0.1), read the whole answer. */
static void http_raw_from(const char *src, const char *req, size_t req_len, struct resp *out)
{
	memset(out, 0, sizeof *out);
	int fd = socket(fx->v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (src) {
		assert_false(fx->v6);
		struct sockaddr_in b = { .sin_family = AF_INET };
		inet_pton(AF_INET, src, &b.sin_addr);
		assert_int_equal(bind(fd, (struct sockaddr *)&b, sizeof b), 0);
	}
	if (fx->v6) {
		struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(fx->port) };
		a6.sin6_addr = in6addr_loopback;
		assert_int_equal(connect(fd, (struct sockaddr *)&a6, sizeof a6), 0);
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fx->port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	}
	send_all(fd, req, req_len);
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	resp_parse(buf, len, out);
}

/* Fill out from an answer read whole into buf (malloc, len + 1 bytes;
 * taken over). */
static void resp_parse(char *buf, size_t len, struct resp *out)
{
	buf[len] = '\0';
	out->raw = buf;
	out->raw_len = len;
	if (len >= 12 && memcmp(buf, "HTTP/1.", 7) == 0)
		out->status = atoi(buf + 9);
	char *hend = strstr(buf, "\r\n\r\n");
	if (hend) {
		out->body = hend + 4;
		out->body_len = len - (size_t)(out->body - buf);
		out->json = json_loadb(out->body, out->body_len, 0, NULL);
	}
}

/* Send req (as much as the server takes) and read until the server
 * closes the connection. true: it closed it, without an HTTP answer;
 * false: it answered, or still held the connection open after 10 s. */
static bool send_until_closed(const char *req, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fx->port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	int sent = send_all(fd, req, len);
	bool closed = false, answered = false;
	char buf[4096];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n > 0) {
			answered = true;
			continue;
		}
		/* 0: closed; ECONNRESET: closed with our data unread. */
		closed = n == 0 || errno == ECONNRESET || errno == EPIPE;
		break;
	}
	if (!closed)
		fprintf(stderr, "send_until_closed: still open (send %d)\n", sent);
	close(fd);
	return closed && !answered;
}

/* One request. extra: more header lines ("Name: v\r\n"...), may be NULL.
 * A body gets its Content-Length. */
static void http_from(const char *src, const char *method, const char *path, const char *extra, const char *body,
		      size_t body_len, struct resp *out)
{
	size_t cap = strlen(path) + (extra ? strlen(extra) : 0) + body_len + 512;
	char *req = malloc(cap);
	assert_non_null(req);
	int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s", method, path,
			 extra ? extra : "");
	if (body)
		n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
	n += snprintf(req + n, cap - (size_t)n, "\r\n");
	if (body) {
		memcpy(req + n, body, body_len);
		n += (int)body_len;
	}
	http_raw_from(src, req, (size_t)n, out);
	free(req);
}

/* A request as the signed-in admin (cookie and CSRF token), with a JSON
 * body when body is not NULL. */
static void api_req(const char *method, const char *path, const char *body, struct resp *out)
{
	char extra[512];
	snprintf(extra, sizeof extra, "Cookie: %s\r\nX-CSRF-Token: %s\r\n%s", fx->cookie, fx->csrf,
		 body ? "Content-Type: application/json\r\n" : "");
	http_from(NULL, method, path, extra, body, body ? strlen(body) : 0, out);
}

static void api_json_body(const char *method, const char *path, json_t *body, struct resp *out)
{
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	assert_non_null(text);
	api_req(method, path, text, out);
	free(text);
}

static const char *jget_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The answer is the error shape, with this field (NULL: null). */
static void assert_error(const struct resp *r, int status, const char *field)
{
	if (r->status != status)
		fprintf(stderr, "expected %d, got: %.*s\n", status, (int)(r->raw_len < 600 ? r->raw_len : 600), r->raw);
	assert_int_equal(r->status, status);
	assert_non_null(r->json);
	assert_non_null(jget_str(r->json, "error"));
	json_t *fv = json_object_get(r->json, "field");
	assert_non_null(fv); /* the key is always there */
	if (field)
		assert_string_equal(json_is_string(fv) ? json_string_value(fv) : "(null)", field);
	else
		assert_true(json_is_null(fv));
	char ct[128];
	assert_true(resp_header(r, "Content-Type", ct, sizeof ct));
	assert_string_equal(ct, "application/json");
}

/* Sign in as user from src; on 201 returns the cookie and token. */
static int signin_from(const char *src, const char *user, const char *pw, char *cookie, size_t ccap, char *csrf,
		       size_t tcap, struct resp *out)
{
	json_t *b = json_pack("{s:s, s:s}", "username", user, "password", pw);
	char *text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	http_from(src, "POST", "/api/v1/session", "Content-Type: application/json\r\n", text, strlen(text), out);
	free(text);
	if (out->status != 201)
		return out->status;
	char sc[512];
	assert_true(resp_header(out, "Set-Cookie", sc, sizeof sc));
	snprintf(cookie, ccap, "%.*s", (int)strcspn(sc, ";"), sc);
	snprintf(csrf, tcap, "%s", jget_str(out->json, "csrf"));
	return 201;
}

static void signin_admin(void)
{
	struct resp r;
	assert_int_equal(signin_from(NULL, "admin", ADMIN_PW, fx->cookie, sizeof fx->cookie, fx->csrf,
				     sizeof fx->csrf, &r), 201);
	resp_free(&r);
}

/* A concrete path for a route: every {name} becomes value. */
static void route_path(const struct api_route *rt, const char *value, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *p = rt->path; *p && o + 1 < cap;) {
		if (*p == '{') {
			const char *e = strchr(p, '}');
			o += (size_t)snprintf(out + o, cap - o, "%s", value);
			p = e + 1;
		} else {
			out[o++] = *p++;
		}
	}
	out[o < cap ? o : cap - 1] = '\0';
}

static void assert_alive(void)
{
	struct resp r;
	http_from(NULL, "GET", "/healthz", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

/* ---- an event stream client ---------------------------------------------------------- */

/* One open GET /api/v1/events: the answer's head, then its chunked body
 * decoded as it arrives and cut into SSE blocks (text up to a blank line). */
struct sse {
	int fd;
	int status;
	char head[2048];
	char raw[8192];       /* undecoded bytes after the head */
	size_t raw_len;
	size_t chunk_left;    /* bytes left in the current chunk */
	bool crlf_due;        /* a chunk's data ended: its CRLF comes next */
	bool last_chunk;      /* the 0-size chunk came: the stream ended */
	char *body;           /* decoded bytes not yet returned as a block */
	size_t body_len, body_cap;
};

static int sse_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fx->port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

/* Read what is there within timeout_ms into s->raw; 1 read, 0 timeout,
 * -1 closed. */
static int sse_fill(struct sse *s, int timeout_ms)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	int k = poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms);
	if (k <= 0)
		return 0;
	if (s->raw_len == sizeof s->raw)
		return 1; /* full: decode first */
	ssize_t n = recv(s->fd, s->raw + s->raw_len, sizeof s->raw - s->raw_len, 0);
	if (n <= 0)
		return -1;
	s->raw_len += (size_t)n;
	return 1;
}

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open a stream as the session in cookie (NULL: none) with method;
 * returns the status. The head is read within 5 s. */
static int sse_open_as(struct sse *s, const char *method, const char *cookie)
{
	memset(s, 0, sizeof *s);
	s->fd = sse_connect();
	char req[512];
	int n = snprintf(req, sizeof req, "%s /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%s%s%s\r\n",
			 method, cookie ? "Cookie: " : "", cookie ? cookie : "", cookie ? "\r\n" : "");
	assert_int_equal(send_all(s->fd, req, (size_t)n), 0);
	int64_t end = ms_now() + 5000;
	char *hend;
	while (!(s->raw[s->raw_len < sizeof s->raw ? s->raw_len : sizeof s->raw - 1] = '\0',
		 hend = strstr(s->raw, "\r\n\r\n"))) {
		int k = sse_fill(s, (int)(end - ms_now()));
		if (k <= 0)
			break;
	}
	assert_non_null(hend);
	size_t hl = (size_t)(hend + 4 - s->raw);
	assert_true(hl < sizeof s->head);
	memcpy(s->head, s->raw, hl);
	s->head[hl] = '\0';
	memmove(s->raw, s->raw + hl, s->raw_len - hl);
	s->raw_len -= hl;
	if (memcmp(s->head, "HTTP/1.1 ", 9) == 0)
		s->status = atoi(s->head + 9);
	return s->status;
}

static int sse_open(struct sse *s)
{
	return sse_open_as(s, "GET", fx->cookie);
}

static void sse_close(struct sse *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->body);
	s->body = NULL;
}

/* Move what can be decoded from raw into body. */
static void sse_decode(struct sse *s)
{
	size_t p = 0;
	while (p < s->raw_len && !s->last_chunk) {
		if (s->crlf_due) {
			if (s->raw_len - p < 2)
				break;
			assert_memory_equal(s->raw + p, "\r\n", 2);
			p += 2;
			s->crlf_due = false;
		} else if (s->chunk_left == 0) {
			char *eol = memmem(s->raw + p, s->raw_len - p, "\r\n", 2);
			if (!eol)
				break;
			unsigned long size = strtoul(s->raw + p, NULL, 16);
			p = (size_t)(eol + 2 - s->raw);
			if (size == 0)
				s->last_chunk = true;
			s->chunk_left = size;
		} else {
			size_t n = s->raw_len - p < s->chunk_left ? s->raw_len - p : s->chunk_left;
			if (s->body_len + n + 1 > s->body_cap) {
				s->body_cap = (s->body_len + n + 1) * 2;
				s->body = realloc(s->body, s->body_cap);
				assert_non_null(s->body);
			}
			memcpy(s->body + s->body_len, s->raw + p, n);
			s->body_len += n;
			s->body[s->body_len] = '\0';
			p += n;
			s->chunk_left -= n;
			s->crlf_due = s->chunk_left == 0;
		}
	}
	memmove(s->raw, s->raw + p, s->raw_len - p);
	s->raw_len -= p;
}

/* The next block (malloc, without its blank line) within timeout_ms: 1;
 * 0: none in time; -1: the stream ended (closed, or its last chunk). */
static int sse_next(struct sse *s, int timeout_ms, char **block)
{
	int64_t end = ms_now() + timeout_ms;
	for (;;) {
		sse_decode(s);
		char *sep = s->body ? strstr(s->body, "\n\n") : NULL;
		if (sep) {
			size_t n = (size_t)(sep - s->body);
			*block = strndup(s->body, n);
			assert_non_null(*block);
			memmove(s->body, sep + 2, s->body_len - n - 2 + 1);
			s->body_len -= n + 2;
			return 1;
		}
		if (s->last_chunk)
			return -1;
		int k = sse_fill(s, (int)(end - ms_now()));
		if (k < 0)
			return -1;
		if (k == 0 && ms_now() >= end)
			return 0;
	}
}

/* The value of "field: " in a block, or NULL. */
static const char *sse_field(const char *block, const char *field)
{
	size_t n = strlen(field);
	for (const char *p = block; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, field, n) == 0 && p[n] == ':')
			return p[n + 1] == ' ' ? p + n + 2 : p + n + 1;
	return NULL;
}

/* Wait up to timeout_ms for an event of this kind; its data parsed
 * (NULL when none came). Events of other kinds are counted in
 * others[]: registrations, calls, stats, keepalive comments. */
enum { SSE_REGS, SSE_CALLS, SSE_STATS, SSE_COMMENTS, SSE_KINDS };

static json_t *sse_wait(struct sse *s, const char *kind, int timeout_ms, int others[SSE_KINDS])
{
	int64_t end = ms_now() + timeout_ms;
	for (;;) {
		char *b = NULL;
		int k = sse_next(s, (int)(end - ms_now()), &b);
		if (k <= 0)
			return NULL;
		const char *ev = sse_field(b, "event");
		json_t *data = NULL;
		if (ev && strncmp(ev, kind, strlen(kind)) == 0 && ev[strlen(kind)] == '\n') {
			const char *d = sse_field(b, "data");
			assert_non_null(d);
			data = json_loads(d, JSON_REJECT_DUPLICATES, NULL);
			assert_non_null(data);
		} else if (others) {
			if (b[0] == ':')
				others[SSE_COMMENTS]++;
			else if (ev && strncmp(ev, "registrations", 13) == 0)
				others[SSE_REGS]++;
			else if (ev && strncmp(ev, "calls", 5) == 0)
				others[SSE_CALLS]++;
			else if (ev && strncmp(ev, "stats", 5) == 0)
				others[SSE_STATS]++;
		}
		free(b);
		if (data)
			return data;
	}
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_healthz_and_headers(void **state)
{
	(void)state;
	struct resp r;
	atomic_store(&fx->ready, false);
	http_from(NULL, "GET", "/healthz", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 503);
	resp_free(&r);
	atomic_store(&fx->ready, true);
	http_from(NULL, "GET", "/healthz", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	char v[256];
	assert_true(resp_header(&r, "X-Content-Type-Options", v, sizeof v));
	assert_string_equal(v, "nosniff");
	assert_true(resp_header(&r, "Cache-Control", v, sizeof v));
	assert_string_equal(v, "no-store");
	assert_true(resp_header(&r, "Referrer-Policy", v, sizeof v));
	assert_string_equal(v, "no-referrer");
	assert_true(resp_header(&r, "Content-Security-Policy", v, sizeof v));
	assert_string_equal(v, "default-src 'self'; media-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
	resp_free(&r);
	/* Errors carry them too. */
	http_from(NULL, "GET", "/nowhere", NULL, NULL, 0, &r);
	assert_error(&r, 404, NULL);
	assert_true(resp_header(&r, "X-Content-Type-Options", v, sizeof v));
	resp_free(&r);
}

static void test_routes_need_session(void **state)
{
	(void)state;
	size_t n;
	const struct api_route *rt = api_routes(&n);
	size_t checked = 0;
	static const char *const cookies[] = {
		NULL,
		"Cookie: " API_COOKIE "=0000000000000000000000000000000000000000000000000000000000000000\r\n",
		"Cookie: " API_COOKIE "=nonsense\r\n",
	};
	for (size_t i = 0; i < n; i++) {
		if (strncmp(rt[i].path, "/api/", 5) != 0)
			continue;
		if (strcmp(rt[i].method, "POST") == 0 && strcmp(rt[i].path, "/api/v1/session") == 0)
			continue;
		char path[256];
		route_path(&rt[i], "100", path, sizeof path);
		for (size_t c = 0; c < sizeof cookies / sizeof cookies[0]; c++) {
			/* With a well-formed body: the session is checked before it. */
			char extra[512];
			const char *body = NULL;
			snprintf(extra, sizeof extra, "%s", cookies[c] ? cookies[c] : "");
			if (rt[i].flags & API_JSON) {
				strcat(extra, "Content-Type: application/json\r\n");
				body = "{}";
			} else if (rt[i].flags & API_CSV) {
				strcat(extra, "Content-Type: text/csv\r\n");
				body = "extension,password\r\n";
			}
			struct resp r;
			http_from(NULL, rt[i].method, path, extra, body, body ? strlen(body) : 0, &r);
			if (r.status != 401)
				fprintf(stderr, "%s %s answered %d without a session\n", rt[i].method, path, r.status);
			assert_error(&r, 401, NULL);
			resp_free(&r);
		}
		checked++;
	}
	assert_true(checked >= 20);
	/* HEAD is answered like GET: no way around the session either. */
	for (size_t i = 0; i < n; i++) {
		if (strncmp(rt[i].path, "/api/", 5) != 0 || strcmp(rt[i].method, "GET") != 0)
			continue;
		char path[256];
		route_path(&rt[i], "100", path, sizeof path);
		struct resp r;
		http_from(NULL, "HEAD", path, NULL, NULL, 0, &r);
		assert_int_equal(r.status, 401);
		resp_free(&r);
	}
	/* Nothing was changed on the way. */
	assert_int_equal(atomic_load(&fx->fl.changed), 0);
	assert_int_equal(atomic_load(&fx->fl.lifts), 0);
	assert_alive();

	/* Signed in, reading needs no CSRF token: every GET route answers
	 * without one (a page load cannot carry it). */
	signin_admin();
	char extra[256];
	snprintf(extra, sizeof extra, "Cookie: %s\r\n", fx->cookie);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rt[i].method, "GET") != 0 || strchr(rt[i].path, '{'))
			continue;
		if (rt[i].flags & API_STREAM) {
			/* It stays open: the head is the answer. */
			assert_string_equal(rt[i].path, "/api/v1/events");
			struct sse es;
			assert_int_equal(sse_open(&es), 200);
			sse_close(&es);
			continue;
		}
		struct resp r;
		http_from(NULL, "GET", rt[i].path, extra, NULL, 0, &r);
		if (r.status != 200)
			fprintf(stderr, "GET %s without a token: %d\n", rt[i].path, r.status);
		assert_int_equal(r.status, 200);
		resp_free(&r);
	}
}

static void test_routes_need_csrf(void **state)
{
	(void)state;
	signin_admin();
	/* A second session: its token must not work for the first one. */
	char cookie2[128], csrf2[API_TOKEN_HEX + 1];
	struct resp r;
	assert_int_equal(signin_from(NULL, "admin", ADMIN_PW, cookie2, sizeof cookie2, csrf2, sizeof csrf2, &r), 201);
	resp_free(&r);
	assert_string_not_equal(csrf2, fx->csrf);
	char upper[API_TOKEN_HEX + 1];
	for (size_t i = 0; i <= API_TOKEN_HEX; i++)
		upper[i] = (char)(fx->csrf[i] >= 'a' && fx->csrf[i] <= 'f' ? fx->csrf[i] - 32 : fx->csrf[i]);
	const char *tokens[] = { NULL, "", "0", csrf2, upper };
	size_t n, checked = 0;
	const struct api_route *rt = api_routes(&n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rt[i].method, "GET") == 0)
			continue;
		if (strcmp(rt[i].method, "POST") == 0 && strcmp(rt[i].path, "/api/v1/session") == 0)
			continue;
		assert_true(rt[i].flags & API_CSRF);
		char path[256];
		/* "admin" and a banned address: real targets, so that a missing
		 * check would show as a change. */
		route_path(&rt[i],
			   strstr(rt[i].path, "bans")     ? "192.0.2.7"
			   : strstr(rt[i].path, "admins") ? "admin"
			   : strstr(rt[i].path, "calls")  ? "17"
							  : "100",
			   path, sizeof path);
		for (size_t t = 0; t < sizeof tokens / sizeof tokens[0]; t++) {
			if (tokens[t] == upper && strcmp(upper, fx->csrf) == 0)
				continue;
			char extra[512];
			int k = snprintf(extra, sizeof extra, "Cookie: %s\r\n", fx->cookie);
			if (tokens[t])
				k += snprintf(extra + k, sizeof extra - (size_t)k, "X-CSRF-Token: %s\r\n", tokens[t]);
			const char *body = NULL;
			if (rt[i].flags & API_JSON) {
				snprintf(extra + k, sizeof extra - (size_t)k, "Content-Type: application/json\r\n");
				body = "{\"password\":\"new password 1\"}";
			} else if (rt[i].flags & API_CSV) {
				snprintf(extra + k, sizeof extra - (size_t)k, "Content-Type: text/csv\r\n");
				body = "extension,password\r\n100,secret1\r\n";
			}
			http_from(NULL, rt[i].method, path, extra, body, body ? strlen(body) : 0, &r);
			if (r.status != 403)
				fprintf(stderr, "%s %s token %zu answered %d\n", rt[i].method, path, t, r.status);
			assert_error(&r, 403, NULL);
			resp_free(&r);
		}
		checked++;
	}
	assert_true(checked >= 12);
	assert_int_equal(atomic_load(&fx->fl.changed), 0);
	assert_int_equal(atomic_load(&fx->fl.lifts), 0);
	assert_int_equal(atomic_load(&fx->fl.hangups), 0);
	/* Still signed in (the sign-out was refused too), admin still there
	 * with the old password, no extension 100. */
	api_req("GET", "/api/v1/session", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	api_req("GET", "/api/v1/admins", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	resp_free(&r);
	api_req("GET", "/api/v1/extensions/100", NULL, &r);
	assert_int_equal(r.status, 404);
	resp_free(&r);
	char c3[128], t3[API_TOKEN_HEX + 1];
	assert_int_equal(signin_from(NULL, "admin", ADMIN_PW, c3, sizeof c3, t3, sizeof t3, &r), 201);
	resp_free(&r);
}

static void test_signin_signout(void **state)
{
	(void)state;
	struct resp r;
	char cookie[128], csrf[API_TOKEN_HEX + 1];
	/* Wrong password and unknown user: the same answer. */
	assert_int_equal(signin_from(NULL, "admin", "wrong password", cookie, sizeof cookie, csrf, sizeof csrf, &r),
			 401);
	assert_error(&r, 401, NULL);
	char msg1[256];
	snprintf(msg1, sizeof msg1, "%s", jget_str(r.json, "error"));
	char v[512];
	assert_false(resp_header(&r, "Set-Cookie", v, sizeof v));
	resp_free(&r);
	assert_int_equal(signin_from(NULL, "nobody", "wrong password", cookie, sizeof cookie, csrf, sizeof csrf, &r),
			 401);
	assert_string_equal(jget_str(r.json, "error"), msg1);
	resp_free(&r);
	/* Missing field and wrong type: 400 naming it. */
	http_from(NULL, "POST", "/api/v1/session", "Content-Type: application/json\r\n", "{\"username\":\"admin\"}", 20,
		  &r);
	assert_error(&r, 400, "password");
	resp_free(&r);

	assert_int_equal(signin_from(NULL, "admin", ADMIN_PW, fx->cookie, sizeof fx->cookie, fx->csrf, sizeof fx->csrf,
				     &r),
			 201);
	assert_true(resp_header(&r, "Set-Cookie", v, sizeof v));
	assert_int_equal(strncmp(v, API_COOKIE "=", strlen(API_COOKIE) + 1), 0);
	assert_int_equal(strcspn(v, ";"), strlen(API_COOKIE) + 1 + API_TOKEN_HEX);
	assert_non_null(strstr(v, "; HttpOnly"));
	assert_non_null(strstr(v, "; SameSite=Strict"));
	assert_non_null(strstr(v, "; Path=/"));
	assert_non_null(strstr(v, "; Max-Age=43200"));
	assert_null(strstr(v, "Secure")); /* plain HTTP */
	assert_int_equal(strlen(fx->csrf), API_TOKEN_HEX);
	assert_null(strstr(fx->cookie, fx->csrf));
	resp_free(&r);

	api_req("GET", "/api/v1/session", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jget_str(r.json, "username"), "admin");
	assert_string_equal(jget_str(r.json, "csrf"), fx->csrf);
	resp_free(&r);

	api_req("DELETE", "/api/v1/session", NULL, &r);
	assert_int_equal(r.status, 204);
	assert_true(resp_header(&r, "Set-Cookie", v, sizeof v));
	assert_non_null(strstr(v, "Max-Age=0"));
	resp_free(&r);
	api_req("GET", "/api/v1/session", NULL, &r);
	assert_error(&r, 401, NULL);
	resp_free(&r);
}

static void test_signin_throttle(void **state)
{
	(void)state;
	struct resp r;
	char cookie[128], csrf[API_TOKEN_HEX + 1];
	/* Per user name: five failures for admin from one address ... */
	for (int i = 0; i < API_THROTTLE_LIMIT; i++) {
		assert_int_equal(signin_from("127.0.0.2", "admin", "wrong password", cookie, sizeof cookie, csrf,
					     sizeof csrf, &r),
				 401);
		resp_free(&r);
	}
	/* ... and even the right password is refused, from anywhere. */
	assert_int_equal(signin_from("127.0.0.2", "admin", ADMIN_PW, cookie, sizeof cookie, csrf, sizeof csrf, &r),
			 429);
	assert_error(&r, 429, NULL);
	char v[64];
	assert_true(resp_header(&r, "Retry-After", v, sizeof v));
	assert_true(atoi(v) > 0 && atoi(v) <= API_THROTTLE_WINDOW);
	resp_free(&r);
	assert_int_equal(signin_from("127.0.0.3", "admin", ADMIN_PW, cookie, sizeof cookie, csrf, sizeof csrf, &r),
			 429);
	resp_free(&r);
	/* Another user from another address is not affected. */
	assert_int_equal(signin_from("127.0.0.3", "other", "wrong password", cookie, sizeof cookie, csrf, sizeof csrf,
				     &r),
			 401);
	resp_free(&r);

	/* Per address: five different user names from one address. */
	for (int i = 0; i < API_THROTTLE_LIMIT; i++) {
		char user[24];
		snprintf(user, sizeof user, "guess%d", i);
		assert_int_equal(signin_from("127.0.0.4", user, "wrong password", cookie, sizeof cookie, csrf,
					     sizeof csrf, &r),
				 401);
		resp_free(&r);
	}
	assert_int_equal(signin_from("127.0.0.4", "guess99", "wrong password", cookie, sizeof cookie, csrf,
				     sizeof csrf, &r),
			 429);
	resp_free(&r);

	/* The server counted them (metrics) and still serves. */
	http_from(NULL, "GET", "/metrics", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "pbx_http_signin_failures_total 11\n"));
	resp_free(&r);
}

/* Text payloads that must come back byte for byte. */
static const char *const payloads[] = {
	"'; DROP TABLE extensions; --",
	"<script>alert(\"x\")</script>",
	"Robert'); DELETE FROM admins;--",
	"\" OR 1=1 -- <img src=x onerror=alert(1)>",
	"%s%n%x ${jndi:x} {{7*7}} \\ \xc3\xa9",
};

static void test_payloads_stored_literally(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	size_t np = sizeof payloads / sizeof payloads[0];
	for (size_t i = 0; i < np; i++) {
		char number[8], path[64];
		snprintf(number, sizeof number, "%zu", 300 + i);
		/* As a name, and (without spaces) as the SIP password. */
		char pw[128];
		size_t k = 0;
		for (const char *p = payloads[i]; *p && k < sizeof pw - 1; p++)
			if (*p != ' ' && (unsigned char)*p < 0x80)
				pw[k++] = *p;
		pw[k] = '\0';
		api_json_body("POST", "/api/v1/extensions",
			      json_pack("{s:s, s:s, s:s}", "number", number, "name", payloads[i], "password", pw), &r);
		assert_int_equal(r.status, 201);
		assert_string_equal(jget_str(r.json, "name"), payloads[i]);
		assert_string_equal(jget_str(r.json, "password"), pw);
		resp_free(&r);
		snprintf(path, sizeof path, "/api/v1/extensions/%s", number);
		api_req("GET", path, NULL, &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(jget_str(r.json, "name"), payloads[i]);
		resp_free(&r);
		/* The stored digest is of exactly that password. */
		sqlite3 *db;
		char err[256], realm[DB_REALM_MAX + 1], md5[33], sha[65];
		assert_int_equal(db_open(fx->db, &db, err, sizeof err), 0);
		assert_int_equal(db_setting_realm(db, realm), 0);
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT ha1_md5 FROM extensions WHERE number = ?1", -1, &st, NULL),
				 SQLITE_OK);
		sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		db_ha1(number, realm, pw, md5, sha);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), md5);
		sqlite3_finalize(st);
		db_close(db);

		/* As a room name and as a setting's value. */
		char room[8];
		snprintf(room, sizeof room, "%zu", 800 + i);
		api_json_body("POST", "/api/v1/rooms", json_pack("{s:s, s:s}", "number", room, "name", payloads[i]),
			      &r);
		assert_int_equal(r.status, 201);
		resp_free(&r);
		char key[32];
		snprintf(key, sizeof key, "note_%zu", i);
		json_t *set = json_object();
		json_object_set_new(set, key, json_string(payloads[i]));
		api_json_body("PATCH", "/api/v1/settings", set, &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(jget_str(r.json, key), payloads[i]);
		resp_free(&r);

		/* As a search: found literally, and only it. */
		char *q = malloc(3 * strlen(payloads[i]) + 64);
		k = (size_t)sprintf(q, "/api/v1/extensions?q=");
		for (const unsigned char *p = (const unsigned char *)payloads[i]; *p; p++)
			k += (size_t)sprintf(q + k, "%%%02X", *p);
		api_req("GET", q, NULL, &r);
		free(q);
		assert_int_equal(r.status, 200);
		assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
		assert_string_equal(jget_str(json_array_get(json_object_get(r.json, "items"), 0), "number"), number);
		resp_free(&r);
	}
	/* Everything is still there: the payloads did nothing to the schema. */
	api_req("GET", "/api/v1/extensions", NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), (json_int_t)np);
	resp_free(&r);
	api_req("GET", "/api/v1/rooms", NULL, &r);
	json_t *items = json_object_get(r.json, "items");
	assert_int_equal(json_array_size(items), np);
	for (size_t i = 0; i < np; i++)
		assert_string_equal(jget_str(json_array_get(items, i), "name"), payloads[i]);
	resp_free(&r);
	api_req("GET", "/api/v1/admins", NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	resp_free(&r);
	/* An unknown key is echoed as the field, inside valid JSON. */
	api_req("POST", "/api/v1/extensions", "{\"number\":\"399\",\"<script>x</script>\":1}", &r);
	assert_error(&r, 400, "<script>x</script>");
	resp_free(&r);
	/* The CSV export quotes and keeps them. */
	api_req("GET", "/api/v1/extensions/export", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "300,'; DROP TABLE extensions; --\r\n"));
	assert_non_null(strstr(r.body, "301,\"<script>alert(\"\"x\"\")</script>\"\r\n"));
	resp_free(&r);

	/* Through a CSV import (every field quoted, quotes doubled) the names
	 * come back the same. */
	char *csv = malloc(4096);
	assert_non_null(csv);
	size_t k = (size_t)sprintf(csv, "extension,name,password\r\n");
	for (size_t i = 0; i < np; i++) {
		k += (size_t)sprintf(csv + k, "\"%zu\",\"", 500 + i);
		for (const char *p = payloads[i]; *p; p++) {
			if (*p == '"')
				csv[k++] = '"';
			csv[k++] = *p;
		}
		k += (size_t)sprintf(csv + k, "\",\"secret%zu\"\r\n", 500 + i);
	}
	csv[k] = '\0';
	char extra[512];
	snprintf(extra, sizeof extra, "Cookie: %s\r\nX-CSRF-Token: %s\r\nContent-Type: text/csv\r\n", fx->cookie,
		 fx->csrf);
	http_from(NULL, "POST", "/api/v1/extensions/import", extra, csv, k, &r);
	free(csv);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "imported")), (json_int_t)np);
	resp_free(&r);
	for (size_t i = 0; i < np; i++) {
		char path[64];
		snprintf(path, sizeof path, "/api/v1/extensions/%zu", 500 + i);
		api_req("GET", path, NULL, &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(jget_str(r.json, "name"), payloads[i]);
		/* Served as JSON the browser must not sniff into HTML. */
		char v[128];
		assert_true(resp_header(&r, "Content-Type", v, sizeof v));
		assert_string_equal(v, "application/json");
		assert_true(resp_header(&r, "X-Content-Type-Options", v, sizeof v));
		assert_string_equal(v, "nosniff");
		resp_free(&r);
	}

	/* As an administrator's password: stored as a hash of exactly that
	 * text, so signing in with it works and with a near miss does not. */
	for (size_t i = 0; i < np; i++) {
		char user[16];
		snprintf(user, sizeof user, "admin%zu", i);
		api_json_body("POST", "/api/v1/admins", json_pack("{s:s, s:s}", "username", user, "password", payloads[i]),
			      &r);
		assert_int_equal(r.status, 201);
		resp_free(&r);
		char c[128], t[API_TOKEN_HEX + 1];
		assert_int_equal(signin_from(NULL, user, payloads[i], c, sizeof c, t, sizeof t, &r), 201);
		resp_free(&r);
		char near[128];
		snprintf(near, sizeof near, "%s ", payloads[i]);
		assert_int_equal(signin_from(NULL, user, near, c, sizeof c, t, sizeof t, &r), 401);
		resp_free(&r);
	}
	/* As an administrator's name: refused, naming the field. */
	for (size_t i = 0; i < np; i++) {
		api_json_body("POST", "/api/v1/admins",
			      json_pack("{s:s, s:s}", "username", payloads[i], "password", "long enough"), &r);
		assert_error(&r, 400, "username");
		resp_free(&r);
	}
	api_req("GET", "/api/v1/admins", NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), np + 1);
	resp_free(&r);
}

struct bad_case {
	const char *method, *path, *body, *field;
};

static void test_invalid_input_names_field(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	api_req("POST", "/api/v1/extensions", "{\"number\":\"201\",\"name\":\"Ann\"}", &r);
	assert_int_equal(r.status, 201);
	resp_free(&r);
	char longname[80];
	memset(longname, 'x', 65);
	longname[65] = '\0';
	char longbody[160];
	snprintf(longbody, sizeof longbody, "{\"number\":\"300\",\"name\":\"%s\"}", longname);
	const struct bad_case cases[] = {
		{ "POST", "/api/v1/extensions", "{\"number\":\"12a\"}", "number" },
		{ "POST", "/api/v1/extensions", "{\"number\":\"1\"}", "number" },
		{ "POST", "/api/v1/extensions", "{\"number\":\"1234567890123456\"}", "number" },
		{ "POST", "/api/v1/extensions", "{\"number\":300}", "number" },
		{ "POST", "/api/v1/extensions", "{}", "number" },
		{ "POST", "/api/v1/extensions", longbody, "name" },
		{ "POST", "/api/v1/extensions", "{\"number\":\"300\",\"name\":\"a\\u0007b\"}", "name" },
		{ "POST", "/api/v1/extensions", "{\"number\":\"300\",\"password\":\"abc\"}", "password" },
		{ "POST", "/api/v1/extensions", "{\"number\":\"300\",\"password\":\"has space\"}", "password" },
		{ "POST", "/api/v1/extensions", "{\"number\":\"300\",\"vm_pin\":\"12\"}", "vm_pin" },
		{ "POST", "/api/v1/extensions", "{\"number\":\"300\",\"vm_pin\":\"12ab\"}", "vm_pin" },
		{ "POST", "/api/v1/extensions", "{\"number\":\"300\",\"ring_time\":0}", "ring_time" },
		{ "POST", "/api/v1/extensions", "{\"number\":\"300\",\"ring_time\":\"20\"}", "ring_time" },
		{ "POST", "/api/v1/extensions", "{\"number\":\"300\",\"bogus\":1}", "bogus" },
		{ "PATCH", "/api/v1/extensions/201", "{\"name\":5}", "name" },
		{ "PATCH", "/api/v1/extensions/201", "{\"vm_pin\":\"1\"}", "vm_pin" },
		{ "PATCH", "/api/v1/extensions/201", "{\"ring_time\":601}", "ring_time" },
		{ "PATCH", "/api/v1/extensions/201", "{\"number\":\"202\"}", "number" },
		{ "PATCH", "/api/v1/settings", "{\"reg_min_expires\":\"abc\"}", "reg_min_expires" },
		{ "PATCH", "/api/v1/settings", "{\"reg_min_expires\":0}", "reg_min_expires" },
		{ "PATCH", "/api/v1/settings", "{\"sip_realm\":\"a b\"}", "sip_realm" },
		{ "PATCH", "/api/v1/settings", "{\"nonce_key\":\"00\"}", "nonce_key" },
		{ "PATCH", "/api/v1/settings", "{\"Bad Key\":\"x\"}", "Bad Key" },
		{ "PATCH", "/api/v1/settings", "{\"ban_limit\":true}", "ban_limit" },
		{ "POST", "/api/v1/admins", "{\"username\":\"a b\",\"password\":\"long enough\"}", "username" },
		{ "POST", "/api/v1/admins", "{\"username\":\"ok\",\"password\":\"short\"}", "password" },
		{ "POST", "/api/v1/admins", "{\"username\":\"ok\"}", "password" },
		{ "POST", "/api/v1/admins/admin/password", "{\"password\":\"short\"}", "password" },
		{ "POST", "/api/v1/rooms", "{\"number\":\"x\"}", "number" },
		{ "POST", "/api/v1/rooms", "{\"number\":\"700\",\"pin\":\"1\"}", "pin" },
		{ "POST", "/api/v1/rooms", "{\"number\":\"700\",\"pin\":\"1234\",\"moderator_pin\":\"1234\"}",
		  "moderator_pin" },
		{ "POST", "/api/v1/rooms", "{\"number\":\"700\",\"max_participants\":1000}", "max_participants" },
		{ "GET", "/api/v1/extensions?limit=0", NULL, "limit" },
		{ "GET", "/api/v1/extensions?limit=abc", NULL, "limit" },
		{ "GET", "/api/v1/extensions?limit=1001", NULL, "limit" },
		{ "GET", "/api/v1/extensions?offset=-1", NULL, "offset" },
		{ "GET", "/api/v1/extensions?sort=password", NULL, "sort" },
		{ "GET", "/api/v1/extensions?q=%zz", NULL, "q" },
		{ "DELETE", "/api/v1/bans/hello%20world", NULL, "addr" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		api_req(cases[i].method, cases[i].path, cases[i].body, &r);
		if (r.status != 400)
			fprintf(stderr, "case %zu: %s %s %s\n", i, cases[i].method, cases[i].path,
				cases[i].body ? cases[i].body : "");
		assert_error(&r, 400, cases[i].field);
		resp_free(&r);
	}
	/* None of them changed anything. */
	assert_int_equal(atomic_load(&fx->fl.changed), 1);
	api_req("GET", "/api/v1/extensions/201", NULL, &r);
	assert_string_equal(jget_str(r.json, "name"), "Ann");
	resp_free(&r);
	api_req("GET", "/api/v1/extensions", NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
	resp_free(&r);
}

static void test_openapi_matches_routes(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	api_req("GET", "/api/v1/openapi.json", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(r.json);
	assert_string_equal(jget_str(r.json, "openapi"), "3.0.3");
	json_t *paths = json_object_get(r.json, "paths");
	assert_true(json_is_object(paths));
	size_t n;
	const struct api_route *rt = api_routes(&n);
	/* Every route is in the document ... */
	for (size_t i = 0; i < n; i++) {
		char m[8];
		size_t k = 0;
		for (; rt[i].method[k]; k++)
			m[k] = (char)(rt[i].method[k] | 0x20);
		m[k] = '\0';
		json_t *op = json_object_get(json_object_get(paths, rt[i].path), m);
		if (!op)
			fprintf(stderr, "missing in OpenAPI: %s %s\n", rt[i].method, rt[i].path);
		assert_non_null(op);
		assert_non_null(jget_str(op, "summary"));
		assert_non_null(json_object_get(op, "responses"));
		json_t *sec = json_object_get(op, "security");
		assert_true(json_is_array(sec));
		bool needs = (rt[i].flags & API_SESSION) != 0;
		assert_int_equal(json_array_size(sec) > 0, needs);
		if (needs)
			assert_int_equal(json_object_get(json_array_get(sec, 0), "csrf") != NULL,
					 (rt[i].flags & API_CSRF) != 0);
		/* Each {name} in the path is a declared path parameter, and only
		 * those are. */
		json_t *params = json_object_get(op, "parameters");
		size_t np = 0;
		for (const char *p = strchr(rt[i].path, '{'); p; p = strchr(p + 1, '{')) {
			const char *e = strchr(p, '}');
			assert_non_null(e);
			bool declared = false;
			for (size_t j = 0; j < json_array_size(params) && !declared; j++) {
				json_t *pj = json_array_get(params, j);
				const char *pn = jget_str(pj, "name");
				declared = pn && strlen(pn) == (size_t)(e - p - 1) && memcmp(pn, p + 1, strlen(pn)) == 0 &&
					   jget_str(pj, "in") && strcmp(jget_str(pj, "in"), "path") == 0 &&
					   json_is_true(json_object_get(pj, "required"));
			}
			if (!declared)
				fprintf(stderr, "%s %s: parameter %.*s not declared\n", rt[i].method, rt[i].path,
					(int)(e - p - 1), p + 1);
			assert_true(declared);
			np++;
		}
		assert_int_equal(json_array_size(params), np);
		/* A body is declared exactly when the route takes one. */
		json_t *rb = json_object_get(json_object_get(op, "requestBody"), "content");
		assert_int_equal(json_object_get(rb, "application/json") != NULL, (rt[i].flags & API_JSON) != 0);
		assert_int_equal(json_object_get(rb, "text/csv") != NULL, (rt[i].flags & API_CSV) != 0);
	}
	/* ... and nothing else is. */
	size_t ops = 0;
	const char *path;
	json_t *item;
	json_object_foreach(paths, path, item) {
		const char *method;
		json_t *op;
		json_object_foreach(item, method, op) {
			bool found = false;
			for (size_t i = 0; i < n && !found; i++)
				found = strcmp(rt[i].path, path) == 0 && strcasecmp(rt[i].method, method) == 0;
			if (!found)
				fprintf(stderr, "not a route: %s %s\n", method, path);
			assert_true(found);
			ops++;
		}
	}
	assert_int_equal(ops, n);
	resp_free(&r);
}

static void test_hostile_requests(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	char hdr[512];
	snprintf(hdr, sizeof hdr, "Cookie: %s\r\nX-CSRF-Token: %s\r\n", fx->cookie, fx->csrf);

	/* Announced body over the cap: 413 before reading it. */
	char req[1024];
	int n = snprintf(req, sizeof req,
			 "POST /api/v1/extensions HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
			 "Content-Length: %d\r\n\r\n{\"number\":",
			 hdr, 2 * API_BODY_MAX);
	http_raw_from(NULL, req, (size_t)n, &r);
	assert_error(&r, 413, NULL);
	resp_free(&r);
	assert_alive();

	/* A chunked body that grows past the cap. */
	size_t chunk = 64 * 1024, total = API_BODY_MAX + 2 * chunk;
	char *big = malloc(total + 64 * (total / chunk + 2) + 1024);
	assert_non_null(big);
	size_t k = (size_t)sprintf(big,
				   "POST /api/v1/extensions HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
				   "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
				   hdr);
	for (size_t sent = 0; sent < total; sent += chunk) {
		k += (size_t)sprintf(big + k, "%zx\r\n", chunk);
		memset(big + k, sent == 0 ? '[' : ' ', chunk);
		k += chunk;
		k += (size_t)sprintf(big + k, "\r\n");
	}
	k += (size_t)sprintf(big + k, "0\r\n\r\n");
	http_raw_from(NULL, big, k, &r);
	free(big);
	assert_error(&r, 413, NULL);
	resp_free(&r);
	assert_alive();

	/* A chunked body that does not stop: the server reads only so much
	 * of it (the connection is then closed, unanswered) and goes on. */
	size_t endless = API_BODY_MAX + API_DRAIN_MAX + 8 * chunk;
	big = malloc(endless + 64 * (endless / chunk + 2) + 1024);
	assert_non_null(big);
	k = (size_t)sprintf(big,
			    "POST /api/v1/extensions HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
			    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
			    hdr);
	for (size_t sent = 0; sent < endless; sent += chunk) {
		k += (size_t)sprintf(big + k, "%zx\r\n", chunk);
		memset(big + k, sent == 0 ? '[' : ' ', chunk);
		k += chunk;
		k += (size_t)sprintf(big + k, "\r\n");
	}
	/* No final chunk: as far as the server knows, it goes on. The server
	 * must close the connection itself (a recv timeout here means it was
	 * still waiting for more). */
	assert_true(send_until_closed(big, k));
	free(big);
	assert_alive();

	/* Bad JSON of several kinds; lengths from sizeof, as some hold a NUL.
	 * why: a part of jansson's message that says what was wrong, so that
	 * each case is refused for its own reason and not a neighbour's. */
#define BAD_JSON(s, why) { s, sizeof s - 1, why }
	static const struct {
		const char *text;
		size_t len;
		const char *why;
	} bad_json[] = {
		BAD_JSON("{", NULL),
		BAD_JSON("{} x", "end of file expected"),
		BAD_JSON("[1,2]", "JSON object"),
		BAD_JSON("\"text\"", NULL),
		BAD_JSON("{\"number\":\"301\",\"number\":\"302\"}", "duplicate object key"),
		BAD_JSON("{\"number\":\"30\\u00001\"}", "\\u0000"),
		BAD_JSON("{\"number\":\"301\",}", NULL),
		BAD_JSON("\xff\xfe{}", NULL),
		BAD_JSON("{\"number\":\"\xc3\x28\"}", "unable to decode byte"),
		BAD_JSON("nul\0l", NULL),
	};
#undef BAD_JSON
	for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
		char extra[600];
		snprintf(extra, sizeof extra, "%sContent-Type: application/json\r\n", hdr);
		http_from(NULL, "POST", "/api/v1/extensions", extra, bad_json[i].text, bad_json[i].len, &r);
		if (r.status != 400)
			fprintf(stderr, "bad JSON %zu: %d\n", i, r.status);
		assert_error(&r, 400, NULL);
		if (bad_json[i].why && !strstr(jget_str(r.json, "error"), bad_json[i].why))
			fail_msg("bad JSON %zu: \"%s\" does not say \"%s\"", i, jget_str(r.json, "error"),
				 bad_json[i].why);
		resp_free(&r);
	}
	/* The same bodies without the fault are accepted: the refusals above
	 * were for the fault. */
	static const char good[] = "{\"number\":\"301\",\"name\":\"\xc3\xa9\"}";
	snprintf(req, sizeof req, "%sContent-Type: application/json\r\n", hdr);
	http_from(NULL, "POST", "/api/v1/extensions", req, good, sizeof good - 1, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(jget_str(r.json, "name"), "\xc3\xa9");
	resp_free(&r);
	api_req("DELETE", "/api/v1/extensions/301", NULL, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	/* Empty body where one is needed. */
	snprintf(req, sizeof req, "%sContent-Type: application/json\r\n", hdr);
	http_from(NULL, "POST", "/api/v1/extensions", req, "", 0, &r);
	assert_error(&r, 400, NULL);
	resp_free(&r);

	/* Wrong or missing content type. */
	snprintf(req, sizeof req, "%sContent-Type: text/plain\r\n", hdr);
	http_from(NULL, "POST", "/api/v1/extensions", req, "{\"number\":\"301\"}", 16, &r);
	assert_error(&r, 415, NULL);
	resp_free(&r);
	http_from(NULL, "POST", "/api/v1/extensions", hdr, "{\"number\":\"301\"}", 16, &r);
	assert_error(&r, 415, NULL);
	resp_free(&r);
	snprintf(req, sizeof req, "%sContent-Type: application/json\r\n", hdr);
	http_from(NULL, "POST", "/api/v1/extensions/import", req, "extension,password\r\n", 20, &r);
	assert_error(&r, 415, NULL);
	resp_free(&r);
	/* A body where none is taken. */
	http_from(NULL, "GET", "/api/v1/extensions", hdr, "x", 1, &r);
	assert_error(&r, 400, "body");
	resp_free(&r);

	/* Paths: traversal, escapes, unknown, wrong method. */
	static const char *const bad_paths[] = {
		"/api/v1/../../etc/passwd", "/api/v1/extensions/..", "/api/v1/%2e%2e/%2e%2e/etc/passwd",
		"/api/v1/./extensions", "/api/v1/extensions/%zz", "/api/v1/extensions/%00",
		"/../healthz",
	};
	for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
		http_from(NULL, "GET", bad_paths[i], hdr, NULL, 0, &r);
		if (r.status != 400)
			fprintf(stderr, "path %s: %d\n", bad_paths[i], r.status);
		assert_error(&r, 400, "path");
		resp_free(&r);
	}
	http_from(NULL, "GET", "/api/v1/etc/passwd", hdr, NULL, 0, &r);
	assert_error(&r, 404, NULL);
	resp_free(&r);
	http_from(NULL, "GET", "/api/v1/extensions/", hdr, NULL, 0, &r);
	assert_error(&r, 404, NULL);
	resp_free(&r);
	http_from(NULL, "PUT", "/api/v1/extensions", hdr, NULL, 0, &r);
	assert_error(&r, 405, NULL);
	char allow[64];
	assert_true(resp_header(&r, "Allow", allow, sizeof allow));
	assert_string_equal(allow, "GET, POST");
	resp_free(&r);
	http_from(NULL, "POST", "/api/v1/extensions/201", hdr, NULL, 0, &r);
	assert_error(&r, 405, NULL);
	assert_true(resp_header(&r, "Allow", allow, sizeof allow));
	assert_string_equal(allow, "GET, PATCH, DELETE");
	resp_free(&r);

	/* Long URLs: ours (414) and past libmicrohttpd's buffer. */
	size_t lens[] = { API_URL_MAX + 10, 100 * 1024 };
	for (size_t i = 0; i < 2; i++) {
		char *url = malloc(lens[i] + 1);
		assert_non_null(url);
		memcpy(url, "/api/v1/extensions?q=", 21);
		memset(url + 21, 'a', lens[i] - 21);
		url[lens[i]] = '\0';
		http_from(NULL, "GET", url, hdr, NULL, 0, &r);
		free(url);
		assert_true(r.status >= 400 && r.status < 500);
		resp_free(&r);
		assert_alive();
	}
	/* Garbage instead of HTTP, and a huge header. */
	static const char garbage[] = "\x01\x02\x03 nonsense\r\n\r\n";
	http_raw_from(NULL, garbage, sizeof garbage - 1, &r);
	assert_true(r.status == 0 || (r.status >= 400 && r.status < 500));
	resp_free(&r);
	char *hh = malloc(80 * 1024);
	assert_non_null(hh);
	n = sprintf(hh, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(hh + n, 'b', 70 * 1024);
	n += 70 * 1024;
	n += sprintf(hh + n, "\r\n\r\n");
	http_raw_from(NULL, hh, (size_t)n, &r);
	free(hh);
	assert_true(r.status == 0 || (r.status >= 400 && r.status < 500));
	resp_free(&r);
	assert_alive();
	/* Nothing got written by any of it (but the one good create and its
	 * delete). */
	assert_int_equal(atomic_load(&fx->fl.changed), 2);
	api_req("GET", "/api/v1/extensions", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 0);
	resp_free(&r);
}

static void test_extensions_crud(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	int changed = 0;
	/* Created with a generated password, shown once. */
	api_req("POST", "/api/v1/extensions", "{\"number\":\"201\",\"name\":\"Ann\",\"vm_pin\":\"1234\"}", &r);
	assert_int_equal(r.status, 201);
	char pw1[64], v[128];
	snprintf(pw1, sizeof pw1, "%s", jget_str(r.json, "password"));
	assert_int_equal(strlen(pw1), 16);
	assert_true(resp_header(&r, "Location", v, sizeof v));
	assert_string_equal(v, "/api/v1/extensions/201");
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), ++changed);
	/* Taken numbers: 409 naming the number; rooms share the space. */
	api_req("POST", "/api/v1/extensions", "{\"number\":\"201\"}", &r);
	assert_error(&r, 409, "number");
	resp_free(&r);
	api_req("POST", "/api/v1/rooms", "{\"number\":\"201\"}", &r);
	assert_error(&r, 409, "number");
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), changed);

	api_req("GET", "/api/v1/extensions/201", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jget_str(r.json, "name"), "Ann");
	assert_true(json_is_true(json_object_get(r.json, "vm_pin_set")));
	assert_null(json_object_get(r.json, "password"));
	assert_null(json_object_get(r.json, "vm_pin"));
	resp_free(&r);

	api_req("PATCH", "/api/v1/extensions/201", "{\"name\":\"Ann B\",\"ring_time\":45,\"vm_pin\":\"\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jget_str(r.json, "name"), "Ann B");
	assert_int_equal(json_integer_value(json_object_get(r.json, "ring_time")), 45);
	assert_true(json_is_false(json_object_get(r.json, "vm_pin_set")));
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), ++changed);
	api_req("PATCH", "/api/v1/extensions/999", "{\"name\":\"x\"}", &r);
	assert_error(&r, 404, "number");
	resp_free(&r);

	api_req("POST", "/api/v1/extensions/201/password", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(strlen(jget_str(r.json, "password")), 16);
	assert_string_not_equal(jget_str(r.json, "password"), pw1);
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), ++changed);
	api_req("POST", "/api/v1/extensions/999/password", NULL, &r);
	assert_error(&r, 404, "number");
	resp_free(&r);

	/* Listing: search, sort, paging. */
	const char *more[] = { "{\"number\":\"205\",\"name\":\"Cid\"}", "{\"number\":\"1000\",\"name\":\"Bea\"}",
			       "{\"number\":\"99\",\"name\":\"dan\"}", "{\"number\":\"210\",\"name\":\"Eve\"}" };
	for (size_t i = 0; i < 4; i++) {
		api_req("POST", "/api/v1/extensions", more[i], &r);
		assert_int_equal(r.status, 201);
		resp_free(&r);
	}
	changed += 4;
	api_req("GET", "/api/v1/extensions?sort=-number&limit=2&offset=1", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 5);
	json_t *items = json_object_get(r.json, "items");
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(jget_str(json_array_get(items, 0), "number"), "210");
	assert_string_equal(jget_str(json_array_get(items, 1), "number"), "205");
	resp_free(&r);
	api_req("GET", "/api/v1/extensions?sort=name", NULL, &r);
	items = json_object_get(r.json, "items");
	assert_string_equal(jget_str(json_array_get(items, 0), "name"), "Ann B");
	assert_string_equal(jget_str(json_array_get(items, 1), "name"), "Bea");
	assert_string_equal(jget_str(json_array_get(items, 3), "name"), "dan");
	resp_free(&r);
	api_req("GET", "/api/v1/extensions?q=AN", NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2); /* Ann B, dan */
	resp_free(&r);
	api_req("GET", "/api/v1/extensions?q=ann+b", NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
	resp_free(&r);
	api_req("GET", "/api/v1/extensions?offset=5", NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
	resp_free(&r);

	api_req("DELETE", "/api/v1/extensions/201", NULL, &r);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.body_len, 0);
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), ++changed);
	api_req("DELETE", "/api/v1/extensions/201", NULL, &r);
	assert_error(&r, 404, "number");
	resp_free(&r);
	api_req("GET", "/api/v1/extensions/201", NULL, &r);
	assert_error(&r, 404, "number");
	resp_free(&r);
	api_req("GET", "/api/v1/extensions/abc", NULL, &r);
	assert_error(&r, 404, "number");
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), changed);
}

/* ---- forwarding and call records ----------------------------------------------------- */

static void assert_fwd(const struct resp *r, const char *always, const char *busy, const char *noanswer, bool dnd,
		       int ring_time, bool redirect, bool srtp)
{
	if (r->status != 200)
		fprintf(stderr, "forwarding: %.*s\n", (int)(r->raw_len < 600 ? r->raw_len : 600), r->raw);
	assert_int_equal(r->status, 200);
	assert_string_equal(jget_str(r->json, "always"), always);
	assert_string_equal(jget_str(r->json, "busy"), busy);
	assert_string_equal(jget_str(r->json, "noanswer"), noanswer);
	assert_int_equal(json_is_true(json_object_get(r->json, "dnd")), dnd);
	assert_true(json_is_boolean(json_object_get(r->json, "dnd")));
	assert_int_equal(json_integer_value(json_object_get(r->json, "ring_time")), ring_time);
	assert_int_equal(json_is_true(json_object_get(r->json, "redirect")), redirect);
	assert_int_equal(json_is_true(json_object_get(r->json, "require_srtp")), srtp);
}

static void test_forwarding(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	const char *setup[] = { "{\"number\":\"201\"}", "{\"number\":\"202\"}", "{\"number\":\"203\"}" };
	for (size_t i = 0; i < 3; i++) {
		api_req("POST", "/api/v1/extensions", setup[i], &r);
		assert_int_equal(r.status, 201);
		resp_free(&r);
	}
	api_req("POST", "/api/v1/rooms", "{\"number\":\"800\"}", &r);
	assert_int_equal(r.status, 201);
	resp_free(&r);
	int changed = atomic_load(&fx->fl.changed);

	api_req("GET", "/api/v1/extensions/201/forwarding", NULL, &r);
	assert_fwd(&r, "", "", "", false, 25, false, false);
	assert_string_equal(jget_str(r.json, "number"), "201");
	resp_free(&r);
	static const char *const missing[] = { "/api/v1/extensions/999/forwarding", "/api/v1/extensions/abc/forwarding",
					       "/api/v1/extensions/800/forwarding",
					       "/api/v1/extensions/1234567890123456789/forwarding" };
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		api_req("GET", missing[i], NULL, &r);
		assert_error(&r, 404, "number");
		resp_free(&r);
		api_req("PUT", missing[i], "{\"busy\":\"202\"}", &r);
		assert_error(&r, 404, "number");
		resp_free(&r);
	}

	api_req("PUT", "/api/v1/extensions/201/forwarding",
		"{\"busy\":\"202\",\"noanswer\":\"203\",\"dnd\":true,\"ring_time\":40,\"redirect\":true}", &r);
	assert_fwd(&r, "", "202", "203", true, 40, true, false);
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), ++changed);
	/* Fields left out keep their values. */
	api_req("PUT", "/api/v1/extensions/201/forwarding", "{\"require_srtp\":true,\"always\":\"203\"}", &r);
	assert_fwd(&r, "203", "202", "203", true, 40, true, true);
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), ++changed);
	api_req("GET", "/api/v1/extensions/201/forwarding", NULL, &r);
	assert_fwd(&r, "203", "202", "203", true, 40, true, true);
	resp_free(&r);
	/* The extension resource shows the same ring time. */
	api_req("GET", "/api/v1/extensions/201", NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "ring_time")), 40);
	resp_free(&r);

	char longer[64];
	snprintf(longer, sizeof longer, "{\"always\":\"%s\"}", "1234567890123456");
	const struct bad_case cases[] = {
		{ "PUT", NULL, "{\"always\":\"201\"}", "always" },           /* itself */
		{ "PUT", NULL, "{\"busy\":\"999\"}", "busy" },               /* not an extension */
		{ "PUT", NULL, "{\"noanswer\":\"800\"}", "noanswer" },       /* a room */
		{ "PUT", NULL, "{\"always\":\"12a\"}", "always" },
		{ "PUT", NULL, "{\"always\":\"1\"}", "always" },
		{ "PUT", NULL, longer, "always" },
		{ "PUT", NULL, "{\"always\":202}", "always" },
		{ "PUT", NULL, "{\"busy\":null}", "busy" },
		{ "PUT", NULL, "{\"ring_time\":4}", "ring_time" },
		{ "PUT", NULL, "{\"ring_time\":301}", "ring_time" },
		{ "PUT", NULL, "{\"ring_time\":\"20\"}", "ring_time" },
		{ "PUT", NULL, "{\"ring_time\":20.5}", "ring_time" },
		{ "PUT", NULL, "{\"dnd\":\"yes\"}", "dnd" },
		{ "PUT", NULL, "{\"dnd\":1}", "dnd" },
		{ "PUT", NULL, "{\"redirect\":null}", "redirect" },
		{ "PUT", NULL, "{\"require_srtp\":\"true\"}", "require_srtp" },
		{ "PUT", NULL, "{\"bogus\":1}", "bogus" },
		{ "PUT", NULL, "{\"number\":\"202\"}", "number" },
		/* All or nothing: the good fields before the bad one stay unwritten. */
		{ "PUT", NULL, "{\"busy\":\"\",\"dnd\":false,\"ring_time\":60,\"always\":\"201\"}", "always" },
		{ "PUT", NULL, "{\"always\":\"'; DROP TABLE extensions; --\"}", "always" },
		{ "PUT", NULL, "{\"busy\":\"<script>alert(1)</script>\"}", "busy" },
		{ "PUT", NULL, "{\"noanswer\":\"202 OR 1=1\"}", "noanswer" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		api_req(cases[i].method, "/api/v1/extensions/201/forwarding", cases[i].body, &r);
		if (r.status != 400)
			fprintf(stderr, "case %zu: %s\n", i, cases[i].body);
		assert_error(&r, 400, cases[i].field);
		resp_free(&r);
	}
	/* A body that is not an object, and none at all. */
	api_req("PUT", "/api/v1/extensions/201/forwarding", "[]", &r);
	assert_error(&r, 400, NULL);
	resp_free(&r);
	api_req("PUT", "/api/v1/extensions/201/forwarding", NULL, &r);
	assert_int_equal(r.status, 415);
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), changed);
	api_req("GET", "/api/v1/extensions/201/forwarding", NULL, &r);
	assert_fwd(&r, "203", "202", "203", true, 40, true, true);
	resp_free(&r);
	api_req("GET", "/api/v1/extensions", NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 3);
	resp_free(&r);

	/* A deleted target stays in the rule (calls skip it); off is "". */
	api_req("DELETE", "/api/v1/extensions/203", NULL, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	api_req("GET", "/api/v1/extensions/201/forwarding", NULL, &r);
	assert_fwd(&r, "203", "202", "203", true, 40, true, true);
	resp_free(&r);
	api_req("PUT", "/api/v1/extensions/201/forwarding", "{\"always\":\"\",\"noanswer\":\"\",\"dnd\":false}", &r);
	assert_fwd(&r, "", "202", "", false, 40, true, true);
	resp_free(&r);
	/* A target that existed when set but is gone now cannot be set again. */
	api_req("PUT", "/api/v1/extensions/201/forwarding", "{\"always\":\"203\"}", &r);
	assert_error(&r, 400, "always");
	resp_free(&r);
	changed += 2;
	assert_int_equal(atomic_load(&fx->fl.changed), changed);

	/* What the web admin wrote is what the SIP core's snapshot loads. */
	sqlite3 *db;
	char err[256];
	assert_int_equal(db_open(fx->db, &db, err, sizeof err), 0);
	struct db_fwd f;
	assert_int_equal(db_ext_get_fwd(db, "201", &f), 0);
	assert_string_equal(f.busy, "202");
	assert_string_equal(f.always, "");
	assert_false(f.dnd);
	db_close(db);
}

/* Percent-encode every byte of s after prefix. */
static char *pct_path(const char *prefix, const char *s)
{
	char *p = malloc(strlen(prefix) + 3 * strlen(s) + 1);
	assert_non_null(p);
	size_t k = (size_t)sprintf(p, "%s", prefix);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		k += (size_t)sprintf(p + k, "%%%02X", *c);
	return p;
}

static void test_cdr(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	api_req("GET", "/api/v1/cdr", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 0);
	assert_int_equal(json_array_size(json_object_get(r.json, "rows")), 0);
	resp_free(&r);

	/* What the jobs thread writes for the core: 30 calls, and calls whose
	 * text came from hostile phones. */
	static const char *const cdr_payloads[] = {
		"=HYPERLINK(\"http://x\",\"y\")", "+1-2", "-1+2", "@SUM(A1)", "'; DROP TABLE cdr; --",
		"<script>alert(1)</script>", "a,b\"c",
	};
	const size_t np = sizeof cdr_payloads / sizeof cdr_payloads[0];
	struct db_cdr rows[40];
	memset(rows, 0, sizeof rows);
	for (size_t i = 0; i < 30 + np; i++) {
		struct db_cdr *c = &rows[i];
		snprintf(c->call_id, sizeof c->call_id, "c%zu@192.0.2.1", i);
		snprintf(c->caller, sizeof c->caller, "%s", i % 2 ? "1001" : "1002");
		snprintf(c->callee, sizeof c->callee, "%zu", 2000 + i % 3);
		snprintf(c->dialed, sizeof c->dialed, "%s", c->callee);
		c->start_at = 1700000000000 + (int64_t)i * 1000;
		c->end_at = c->start_at + 61000;
		c->disposition = i % 5 ? DB_CDR_ANSWERED : DB_CDR_BUSY;
		c->answer_at = i % 5 ? c->start_at + 1000 : 0;
		c->hangup_by = i % 5 ? DB_CDR_BY_CALLEE : DB_CDR_BY_NONE;
		snprintf(c->a.codec, sizeof c->a.codec, "PCMA");
		c->a.rx_packets = 3000;
		c->b.srtp = true;
		if (i >= 30) {
			const char *p = cdr_payloads[i - 30];
			snprintf(c->caller, sizeof c->caller, "%s", p);
			snprintf(c->dialed, sizeof c->dialed, "%s", p);
			snprintf(c->call_id, sizeof c->call_id, "%s", p);
		}
	}
	sqlite3 *db;
	char err[256];
	assert_int_equal(db_open(fx->db, &db, err, sizeof err), 0);
	assert_int_equal(db_cdr_insert_batch(db, rows, 30 + np), 0);
	db_close(db);

	api_req("GET", "/api/v1/cdr?limit=5", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), (json_int_t)(30 + np));
	json_t *list = json_object_get(r.json, "rows");
	assert_int_equal(json_array_size(list), 5);
	json_t *first = json_array_get(list, 0);
	assert_string_equal(jget_str(first, "caller"), cdr_payloads[np - 1]); /* newest first */
	resp_free(&r);

	/* Every field of one answered call, and one never answered. */
	api_req("GET", "/api/v1/cdr?caller=1001&callee=2000&disposition=answered", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 4); /* i = 3, 9, 21, 27 */
	json_t *o = json_array_get(json_object_get(r.json, "rows"), 3);
	assert_string_equal(jget_str(o, "call_id"), "c3@192.0.2.1");
	assert_string_equal(jget_str(o, "caller"), "1001");
	assert_string_equal(jget_str(o, "callee"), "2000");
	assert_string_equal(jget_str(o, "dialed"), "2000");
	assert_int_equal(json_integer_value(json_object_get(o, "start_at")), 1700000003000);
	assert_int_equal(json_integer_value(json_object_get(o, "answer_at")), 1700000004000);
	assert_int_equal(json_integer_value(json_object_get(o, "end_at")), 1700000064000);
	assert_string_equal(jget_str(o, "disposition"), "answered");
	assert_string_equal(jget_str(o, "hangup_by"), "callee");
	assert_true(json_integer_value(json_object_get(o, "id")) > 0);
	json_t *a = json_object_get(o, "a"), *b = json_object_get(o, "b");
	assert_string_equal(jget_str(a, "codec"), "PCMA");
	assert_int_equal(json_integer_value(json_object_get(a, "rx_packets")), 3000);
	assert_true(json_is_false(json_object_get(a, "srtp")));
	assert_true(json_is_true(json_object_get(b, "srtp")));
	assert_string_equal(jget_str(b, "codec"), "");
	resp_free(&r);
	api_req("GET", "/api/v1/cdr?disposition=busy&limit=1", NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 8); /* i % 5 == 0, payload rows too */
	o = json_array_get(json_object_get(r.json, "rows"), 0);
	assert_true(json_is_null(json_object_get(o, "answer_at")));
	assert_string_equal(jget_str(o, "hangup_by"), "");
	resp_free(&r);
	/* A time window [from, to), paging. */
	api_req("GET", "/api/v1/cdr?from=1700000010000&to=1700000020000&offset=8&limit=5", NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 10);
	list = json_object_get(r.json, "rows");
	assert_int_equal(json_array_size(list), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 1), "start_at")), 1700000010000);
	resp_free(&r);

	/* Payloads: found by themselves, literally, and only they. */
	for (size_t i = 0; i < np; i++) {
		char *path = pct_path("/api/v1/cdr?caller=", cdr_payloads[i]);
		api_req("GET", path, NULL, &r);
		free(path);
		assert_int_equal(r.status, 200);
		assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
		o = json_array_get(json_object_get(r.json, "rows"), 0);
		assert_string_equal(jget_str(o, "caller"), cdr_payloads[i]);
		assert_string_equal(jget_str(o, "dialed"), cdr_payloads[i]);
		assert_string_equal(jget_str(o, "call_id"), cdr_payloads[i]);
		resp_free(&r);
	}

	char longq[128] = "/api/v1/cdr?callee=";
	memset(longq + strlen(longq), '1', 64);
	const struct bad_case cases[] = {
		{ "GET", "/api/v1/cdr?limit=0", NULL, "limit" },
		{ "GET", "/api/v1/cdr?limit=1001", NULL, "limit" },
		{ "GET", "/api/v1/cdr?limit=abc", NULL, "limit" },
		{ "GET", "/api/v1/cdr?offset=-1", NULL, "offset" },
		{ "GET", "/api/v1/cdr?offset=1e3", NULL, "offset" },
		{ "GET", "/api/v1/cdr?from=yesterday", NULL, "from" },
		{ "GET", "/api/v1/cdr?to=-5", NULL, "to" },
		{ "GET", "/api/v1/cdr?from=2000&to=1000", NULL, "to" },
		{ "GET", "/api/v1/cdr?to=99999999999999999999", NULL, "to" },
		{ "GET", "/api/v1/cdr?disposition=exploded", NULL, "disposition" },
		{ "GET", "/api/v1/cdr?disposition=answered%27%20--", NULL, "disposition" },
		{ "GET", "/api/v1/cdr?caller=%zz", NULL, "caller" },
		{ "GET", longq, NULL, "callee" },
		{ "GET", "/api/v1/cdr.csv?limit=50001", NULL, "limit" },
		{ "GET", "/api/v1/cdr.csv?disposition=x", NULL, "disposition" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		api_req(cases[i].method, cases[i].path, cases[i].body, &r);
		if (r.status != 400)
			fprintf(stderr, "case %zu: %s\n", i, cases[i].path);
		assert_error(&r, 400, cases[i].field);
		resp_free(&r);
	}

	/* CSV: a header, one line per call, no formulas, RFC 4180 quoting. */
	api_req("GET", "/api/v1/cdr.csv", NULL, &r);
	assert_int_equal(r.status, 200);
	char v[128];
	assert_true(resp_header(&r, "Content-Type", v, sizeof v));
	assert_string_equal(v, "text/csv; charset=utf-8");
	assert_true(resp_header(&r, "Content-Disposition", v, sizeof v));
	assert_string_equal(v, "attachment; filename=\"cdr.csv\"");
	static const char header[] =
		"id,start_utc,answer_utc,end_utc,caller,dialed,callee,disposition,hangup_by,talk_seconds,call_id,"
		"a_codec,a_rx_packets,a_tx_packets,a_lost,a_jitter_ms,a_srtp,"
		"b_codec,b_rx_packets,b_tx_packets,b_lost,b_jitter_ms,b_srtp\r\n";
	assert_true(r.body_len > strlen(header));
	assert_memory_equal(r.body, header, strlen(header));
	size_t lines = 0;
	for (size_t i = 0; i < r.body_len; i++)
		lines += r.body[i] == '\n';
	assert_int_equal(lines, 1 + 30 + np);
	assert_non_null(strstr(r.body, ",2023-11-14 22:13:23.000,2023-11-14 22:13:24.000,2023-11-14 22:14:24.000,"
				       "1001,2000,2000,answered,callee,60,c3@192.0.2.1,PCMA,3000,0,0,0,0,,0,0,0,0,1\r\n"));
	assert_non_null(strstr(r.body, ",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","));
	assert_non_null(strstr(r.body, ",'+1-2,'+1-2,"));
	assert_non_null(strstr(r.body, ",'-1+2,'-1+2,"));
	assert_non_null(strstr(r.body, ",'@SUM(A1),'@SUM(A1),"));
	assert_non_null(strstr(r.body, ",'; DROP TABLE cdr; --,'; DROP TABLE cdr; --,"));
	assert_non_null(strstr(r.body, ",\"a,b\"\"c\",\"a,b\"\"c\","));
	/* No field starts a formula: after every separator, no = + - @. */
	for (size_t i = 0; i + 1 < r.body_len; i++)
		if (r.body[i] == ',' || r.body[i] == '\n' || (r.body[i] == '"' && (i == 0 || r.body[i - 1] == ',')))
			assert_null(strchr("=+-@", r.body[i + 1] ? r.body[i + 1] : 'x'));
	resp_free(&r);
	api_req("GET", "/api/v1/cdr.csv?caller=1002&limit=2&offset=1", NULL, &r);
	assert_int_equal(r.status, 200);
	lines = 0;
	for (size_t i = 0; i < r.body_len; i++)
		lines += r.body[i] == '\n';
	assert_int_equal(lines, 3);
	assert_non_null(strstr(r.body, ",1002,2000,2000,answered,callee,60,c24@"));
	resp_free(&r);
	/* Reading the history changes nothing. */
	assert_int_equal(atomic_load(&fx->fl.changed), 0);
}

static void csv_post(const char *csv, struct resp *r)
{
	char extra[512];
	snprintf(extra, sizeof extra, "Cookie: %s\r\nX-CSRF-Token: %s\r\nContent-Type: text/csv; charset=utf-8\r\n",
		 fx->cookie, fx->csrf);
	http_from(NULL, "POST", "/api/v1/extensions/import", extra, csv, strlen(csv), r);
}

static void test_import_export(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	csv_post("extension,name,password,vm_pin\r\n401,Al,secret401,\r\n402,\"Bo, Jr\",secret402,1234\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "imported")), 2);
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), 1);
	/* Two bad rows (lines 3 and 5): reported by line, nothing imported. */
	csv_post("extension,name,password\n"
		 "403,Cy,secret403\n"
		 "40x,Bad,secret404\n"
		 "405,Di,secret405\n"
		 "406,Ed,short\n",
		 &r);
	assert_error(&r, 400, "rows");
	json_t *rows = json_object_get(r.json, "rows");
	assert_int_equal(json_array_size(rows), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "line")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 1), "line")), 5);
	assert_non_null(jget_str(json_array_get(rows, 0), "error"));
	resp_free(&r);
	/* A duplicate of an existing extension is a bad row too. */
	csv_post("extension,password\n407,secret407\n401,secret401\n", &r);
	assert_error(&r, 400, "rows");
	resp_free(&r);
	csv_post("", &r);
	assert_error(&r, 400, "body");
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), 1);
	api_req("GET", "/api/v1/extensions", NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
	resp_free(&r);

	api_req("GET", "/api/v1/extensions/export", NULL, &r);
	assert_int_equal(r.status, 200);
	char v[128];
	assert_true(resp_header(&r, "Content-Type", v, sizeof v));
	assert_string_equal(v, "text/csv; charset=utf-8");
	assert_true(resp_header(&r, "Content-Disposition", v, sizeof v));
	assert_string_equal(r.body, "extension,name\r\n401,Al\r\n402,\"Bo, Jr\"\r\n");
	resp_free(&r);
}

static void test_admins(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	api_req("POST", "/api/v1/admins", "{\"username\":\"bob\",\"password\":\"bob password\"}", &r);
	assert_int_equal(r.status, 201);
	resp_free(&r);
	api_req("POST", "/api/v1/admins", "{\"username\":\"bob\",\"password\":\"other password\"}", &r);
	assert_error(&r, 409, "username");
	resp_free(&r);
	api_req("GET", "/api/v1/admins", NULL, &r);
	json_t *items = json_object_get(r.json, "items");
	assert_int_equal(json_array_size(items), 2);
	resp_free(&r);
	/* The duplicate did not change bob's password. */
	char bc[128], bt[API_TOKEN_HEX + 1];
	assert_int_equal(signin_from(NULL, "bob", "bob password", bc, sizeof bc, bt, sizeof bt, &r), 201);
	resp_free(&r);
	api_req("DELETE", "/api/v1/admins/admin", NULL, &r);
	assert_error(&r, 409, "username");
	resp_free(&r);
	api_req("DELETE", "/api/v1/admins/nobody", NULL, &r);
	assert_error(&r, 404, "username");
	resp_free(&r);
	api_req("POST", "/api/v1/admins/nobody/password", "{\"password\":\"long enough\"}", &r);
	assert_error(&r, 404, "username");
	resp_free(&r);
	/* A new password for bob signs bob out. */
	api_req("POST", "/api/v1/admins/bob/password", "{\"password\":\"new bob password\"}", &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	char extra[256];
	snprintf(extra, sizeof extra, "Cookie: %s\r\n", bc);
	http_from(NULL, "GET", "/api/v1/session", extra, NULL, 0, &r);
	assert_error(&r, 401, NULL);
	resp_free(&r);
	assert_int_equal(signin_from(NULL, "bob", "bob password", bc, sizeof bc, bt, sizeof bt, &r), 401);
	resp_free(&r);
	assert_int_equal(signin_from(NULL, "bob", "new bob password", bc, sizeof bc, bt, sizeof bt, &r), 201);
	resp_free(&r);
	/* Changing one's own password keeps the session that did it. */
	api_req("POST", "/api/v1/admins/admin/password", "{\"password\":\"" ADMIN_PW " 2\"}", &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	api_req("GET", "/api/v1/session", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	/* bob deletes admin: admin's session ends with the account. */
	snprintf(extra, sizeof extra, "Cookie: %s\r\nX-CSRF-Token: %s\r\n", bc, bt);
	http_from(NULL, "DELETE", "/api/v1/admins/admin", extra, NULL, 0, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	api_req("GET", "/api/v1/session", NULL, &r);
	assert_error(&r, 401, NULL);
	resp_free(&r);
	/* bob is the last one now and cannot delete himself. */
	http_from(NULL, "DELETE", "/api/v1/admins/bob", extra, NULL, 0, &r);
	assert_error(&r, 409, "username");
	resp_free(&r);
}

static void test_settings_and_rooms(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	api_req("GET", "/api/v1/settings", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_object(r.json));
	assert_null(json_object_get(r.json, "nonce_key"));
	assert_null(strstr(r.body, "nonce_key"));
	/* The email relay's keys are offered even before they are set. */
	assert_string_equal(jget_str(r.json, "smtp_host"), "");
	assert_string_equal(jget_str(r.json, "smtp_password"), "");
	resp_free(&r);
	api_req("PATCH", "/api/v1/settings", "{\"reg_min_expires\":\"120\",\"ban_limit\":7}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jget_str(r.json, "reg_min_expires"), "120");
	assert_string_equal(jget_str(r.json, "ban_limit"), "7");
	assert_null(json_object_get(r.json, "nonce_key"));
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), 1);
	/* One bad key spoils the batch. */
	api_req("PATCH", "/api/v1/settings", "{\"ban_limit\":8,\"reg_min_expires\":\"x\"}", &r);
	assert_error(&r, 400, "reg_min_expires");
	resp_free(&r);
	api_req("GET", "/api/v1/settings", NULL, &r);
	assert_string_equal(jget_str(r.json, "ban_limit"), "7");
	resp_free(&r);
	/* The SMTP relay password is set here and never read back. */
	api_req("PATCH", "/api/v1/settings", "{\"smtp_password\":\"s3cret-relay\"}", &r);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, "s3cret-relay"));
	resp_free(&r);
	api_req("GET", "/api/v1/settings", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jget_str(r.json, "smtp_password"), "");
	assert_null(strstr(r.body, "s3cret-relay"));
	resp_free(&r);

	api_req("POST", "/api/v1/rooms", "{\"number\":\"800\",\"name\":\"Board\",\"pin\":\"4321\",\"max_participants\":10}",
		&r);
	assert_int_equal(r.status, 201);
	resp_free(&r);
	api_req("GET", "/api/v1/rooms", NULL, &r);
	json_t *room = json_array_get(json_object_get(r.json, "items"), 0);
	assert_string_equal(jget_str(room, "number"), "800");
	assert_string_equal(jget_str(room, "name"), "Board");
	assert_true(json_is_true(json_object_get(room, "pin_set")));
	assert_true(json_is_false(json_object_get(room, "moderator_pin_set")));
	assert_int_equal(json_integer_value(json_object_get(room, "max_participants")), 10);
	assert_null(json_object_get(room, "pin"));
	resp_free(&r);
	api_req("POST", "/api/v1/extensions", "{\"number\":\"800\"}", &r);
	assert_error(&r, 409, "number");
	resp_free(&r);
	api_req("DELETE", "/api/v1/rooms/800", NULL, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	api_req("DELETE", "/api/v1/rooms/800", NULL, &r);
	assert_error(&r, 404, "number");
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.changed), 4); /* two settings changes, a room added and deleted */
}

/* Rooms: PATCH checked like create; the live rooms and their controls
 * reach the core only with a well-formed room and participant. */
static void test_rooms_live(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	api_req("POST", "/api/v1/rooms",
		"{\"number\":\"800\",\"name\":\"Board\",\"pin\":\"4321\",\"options\":\"announce,join-muted\"}", &r);
	assert_int_equal(r.status, 201);
	resp_free(&r);
	api_req("POST", "/api/v1/rooms", "{\"number\":\"801\",\"options\":\"announce,loud\"}", &r);
	assert_error(&r, 400, "options");
	resp_free(&r);
	static const struct {
		const char *body, *field;
		unsigned status;
	} bad[] = {
		{ "{\"pin\":\"12\"}", "pin", 400 },
		{ "{\"moderator_pin\":\"4321\"}", "moderator_pin", 400 }, /* the same as the PIN kept */
		{ "{\"max_participants\":0}", "max_participants", 400 },
		{ "{\"max_participants\":\"9\"}", "max_participants", 400 },
		{ "{\"options\":\"x\"}", "options", 400 },
		{ "{\"name\":\"a\\u0001b\"}", "name", 400 },
		{ "{\"colour\":\"red\"}", "colour", 400 },
		{ "{}", NULL, 400 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		api_req("PATCH", "/api/v1/rooms/800", bad[i].body, &r);
		if (r.status != (int)bad[i].status)
			fprintf(stderr, "PATCH %s: %d\n", bad[i].body, r.status);
		assert_error(&r, bad[i].status, bad[i].field);
		resp_free(&r);
	}
	api_req("PATCH", "/api/v1/rooms/899", "{\"name\":\"x\"}", &r);
	assert_error(&r, 404, "number");
	resp_free(&r);
	api_req("PATCH", "/api/v1/rooms/800",
		"{\"name\":\"<i>Board</i>\",\"pin\":\"\",\"moderator_pin\":\"9999\",\"max_participants\":12,"
		"\"options\":\"wait-moderator\"}", &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	api_req("GET", "/api/v1/rooms", NULL, &r);
	json_t *room = json_array_get(json_object_get(r.json, "items"), 0);
	assert_string_equal(jget_str(room, "name"), "<i>Board</i>");
	assert_true(json_is_false(json_object_get(room, "pin_set")));
	assert_true(json_is_true(json_object_get(room, "moderator_pin_set")));
	assert_int_equal(json_integer_value(json_object_get(room, "max_participants")), 12);
	assert_string_equal(jget_str(room, "options"), "wait-moderator");
	resp_free(&r);
	/* Fields left out keep their values. */
	api_req("PATCH", "/api/v1/rooms/800", "{\"pin\":\"5555\"}", &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	api_req("GET", "/api/v1/rooms", NULL, &r);
	room = json_array_get(json_object_get(r.json, "items"), 0);
	assert_string_equal(jget_str(room, "name"), "<i>Board</i>");
	assert_true(json_is_true(json_object_get(room, "pin_set")));
	assert_int_equal(json_integer_value(json_object_get(room, "max_participants")), 12);
	resp_free(&r);

	/* The rooms in use, grouped, ids as text, names literal and safe. */
	api_req("GET", "/api/v1/rooms/live", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 3);
	json_t *items = json_object_get(r.json, "items");
	assert_int_equal(json_array_size(items), 2);
	json_t *r0 = json_array_get(items, 0), *r1 = json_array_get(items, 1);
	assert_string_equal(jget_str(r0, "number"), "7000");
	assert_true(json_is_false(json_object_get(r0, "locked")));
	assert_int_equal(json_integer_value(json_object_get(r0, "count")), 2);
	json_t *parts = json_object_get(r0, "participants");
	assert_int_equal(json_array_size(parts), 2);
	assert_string_equal(jget_str(json_array_get(parts, 0), "id"), "31");
	assert_true(json_is_true(json_object_get(json_array_get(parts, 0), "moderator")));
	assert_string_equal(jget_str(json_array_get(parts, 1), "name"), "<b>Bob</b>?");
	assert_true(json_is_true(json_object_get(json_array_get(parts, 1), "muted")));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(parts, 1), "joined_at")), 1700000001000);
	assert_true(json_is_true(json_object_get(r1, "locked")));
	assert_string_equal(jget_str(json_array_get(json_object_get(r1, "participants"), 0), "id"),
			    "9007199254740993");
	resp_free(&r);

	api_req("POST", "/api/v1/rooms/7000/participants/32/mute", "{\"muted\":false}", &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_false(json_object_get(r.json, "muted")));
	resp_free(&r);
	assert_string_equal(fx->fl.conf_last, "mute 7000 32 0");
	api_req("POST", "/api/v1/rooms/7001/participants/9007199254740993/mute", "{\"muted\":true}", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	assert_string_equal(fx->fl.conf_last, "mute 7001 9007199254740993 1");
	api_req("DELETE", "/api/v1/rooms/7000/participants/31", NULL, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	assert_string_equal(fx->fl.conf_last, "kick 7000 31");
	api_req("POST", "/api/v1/rooms/7000/lock", "{\"locked\":true}", &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "locked")));
	resp_free(&r);
	assert_string_equal(fx->fl.conf_last, "lock 7000 1");
	assert_int_equal(atomic_load(&fx->fl.conf_calls), 4);
	/* Unknown to the core: 404 naming what is missing. */
	api_req("POST", "/api/v1/rooms/7000/participants/40/mute", "{\"muted\":true}", &r);
	assert_error(&r, 404, "id");
	resp_free(&r);
	api_req("DELETE", "/api/v1/rooms/7002/participants/31", NULL, &r);
	assert_error(&r, 404, "id");
	resp_free(&r);
	api_req("POST", "/api/v1/rooms/7002/lock", "{\"locked\":false}", &r);
	assert_error(&r, 404, "number");
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.conf_calls), 7);
	/* Never reach the core: bad room numbers, ids, bodies. */
	static const struct {
		const char *method, *path, *body, *field;
		unsigned status;
	} never[] = {
		{ "POST", "/api/v1/rooms/70a0/lock", "{\"locked\":true}", "number", 404 },
		{ "POST", "/api/v1/rooms/7000/lock", "{\"locked\":1}", "locked", 400 },
		{ "POST", "/api/v1/rooms/7000/lock", "{}", "locked", 400 },
		{ "POST", "/api/v1/rooms/7000/lock", "{\"locked\":true,\"x\":1}", "x", 400 },
		{ "POST", "/api/v1/rooms/7000/participants/0/mute", "{\"muted\":true}", "id", 404 },
		{ "POST", "/api/v1/rooms/7000/participants/-3/mute", "{\"muted\":true}", "id", 404 },
		{ "POST", "/api/v1/rooms/7000/participants/18446744073709551616/mute", "{\"muted\":true}", "id", 404 },
		{ "POST", "/api/v1/rooms/7000/participants/32/mute", "{\"muted\":\"yes\"}", "muted", 400 },
		{ "POST", "/api/v1/rooms/x/participants/32/mute", "{\"muted\":true}", "number", 404 },
		{ "DELETE", "/api/v1/rooms/7000/participants/3x", NULL, "id", 404 },
		{ "DELETE", "/api/v1/rooms/1234567890123456/participants/31", NULL, "number", 404 },
	};
	for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
		api_req(never[i].method, never[i].path, never[i].body, &r);
		if (r.status != (int)never[i].status)
			fprintf(stderr, "%s %s: %d\n", never[i].method, never[i].path, r.status);
		assert_error(&r, never[i].status, never[i].field);
		resp_free(&r);
	}
	assert_int_equal(atomic_load(&fx->fl.conf_calls), 7);
	assert_alive();
}

static void test_live_routes(void **state)
{
	(void)state;
	signin_admin();
	struct resp r;
	api_req("GET", "/api/v1/registrations", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
	json_t *items = json_object_get(r.json, "items");
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(jget_str(json_array_get(items, 0), "extension"), "201");
	assert_string_equal(jget_str(json_array_get(items, 0), "user_agent"), "<script>alert(1)</script>");
	assert_string_equal(jget_str(json_array_get(items, 1), "transport"), "tcp");
	assert_string_equal(jget_str(json_array_get(items, 1), "user_agent"), "bad ?? utf8");
	resp_free(&r);

	api_req("GET", "/api/v1/bans", NULL, &r);
	assert_int_equal(r.status, 200);
	items = json_object_get(r.json, "items");
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(jget_str(json_array_get(items, 1), "addr"), "2001:db8:1:2::/64");
	resp_free(&r);
	api_req("DELETE", "/api/v1/bans/192.0.2.7", NULL, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	/* An IPv6 prefix: its "/" travels escaped inside one segment. */
	api_req("DELETE", "/api/v1/bans/2001:db8:1:2::%2F64", NULL, &r);
	assert_int_equal(r.status, 204);
	assert_string_equal(fx->fl.lifted, "2001:db8:1:2::/64");
	resp_free(&r);
	api_req("DELETE", "/api/v1/bans/192.0.2.8", NULL, &r);
	assert_error(&r, 404, "addr");
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.lifts), 3);

	/* Calls in progress: ids as text (the second is past 2^53), text
	 * from the network literal, bad UTF-8 made safe. */
	api_req("GET", "/api/v1/calls", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
	items = json_object_get(r.json, "items");
	assert_int_equal(json_array_size(items), 2);
	json_t *c0 = json_array_get(items, 0), *c1 = json_array_get(items, 1);
	assert_string_equal(jget_str(c0, "id"), "17");
	assert_string_equal(jget_str(c0, "state"), "answered");
	assert_int_equal(json_integer_value(json_object_get(c0, "start_at")), 1700000000000);
	assert_int_equal(json_integer_value(json_object_get(c0, "answer_at")), 1700000002500);
	assert_string_equal(jget_str(json_object_get(c0, "a"), "codec"), "PCMU");
	assert_true(json_is_true(json_object_get(json_object_get(c0, "a"), "srtp")));
	assert_string_equal(jget_str(json_object_get(c0, "b"), "codec"), "opus");
	assert_true(json_is_false(json_object_get(json_object_get(c0, "b"), "srtp")));
	assert_string_equal(jget_str(c1, "id"), "9007199254740993");
	assert_string_equal(jget_str(c1, "dialed"), "<b>x</b>?");
	assert_true(json_is_null(json_object_get(c1, "answer_at")));
	resp_free(&r);
	/* Hang up: known ids, then unknown and malformed ones. */
	api_req("DELETE", "/api/v1/calls/17", NULL, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.hung), 17);
	api_req("DELETE", "/api/v1/calls/9007199254740993", NULL, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.hung), 9007199254740993ull);
	api_req("DELETE", "/api/v1/calls/18", NULL, &r);
	assert_error(&r, 404, "id");
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.hangups), 3);
	/* Never reach the core: not a number, zero, signs, past 64 bits. */
	static const char *const bad_ids[] = { "abc", "0", "-17", "+17", "17x", "%2017", "18446744073709551616",
					       "99999999999999999999999" };
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		char path[96];
		snprintf(path, sizeof path, "/api/v1/calls/%s", bad_ids[i]);
		api_req("DELETE", path, NULL, &r);
		assert_error(&r, 404, "id");
		resp_free(&r);
	}
	api_req("DELETE", "/api/v1/calls/18446744073709551615", NULL, &r);
	assert_error(&r, 404, "id"); /* the largest id: asked, unknown */
	resp_free(&r);
	assert_int_equal(atomic_load(&fx->fl.hangups), 4);

	api_req("GET", "/api/v1/stats", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "call_setups")), 40);
	assert_int_equal(json_integer_value(json_object_get(r.json, "media_tick_max_us")), 1250);
	assert_int_equal(json_array_size(json_object_get(r.json, "load")), 3);
	resp_free(&r);

	http_from(NULL, "GET", "/metrics", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	char v[128];
	assert_true(resp_header(&r, "Content-Type", v, sizeof v));
	assert_string_equal(v, "text/plain; version=0.0.4; charset=utf-8");
	static const char *const want[] = {
		"# HELP pbx_registrations ", "# TYPE pbx_registrations gauge\npbx_registrations 2\n",
		"# TYPE pbx_calls_active gauge\npbx_calls_active 2\n",
		"# TYPE pbx_call_setups_total counter\npbx_call_setups_total 40\n",
		"# TYPE pbx_calls_answered_total counter\npbx_calls_answered_total 31\n",
		"# TYPE pbx_messages_total counter\npbx_messages_total 7\n",
		"# TYPE pbx_sip_received_total counter\npbx_sip_received_total 1000\n",
		"# TYPE pbx_sip_bad_total counter\npbx_sip_bad_total 3\n",
		"# TYPE pbx_auth_failures_total counter\npbx_auth_failures_total 5\n",
		"# TYPE pbx_rtp_received_packets_total counter\npbx_rtp_received_packets_total 100000\n",
		"# TYPE pbx_rtp_sent_packets_total counter\npbx_rtp_sent_packets_total 99000\n",
		"# TYPE pbx_rtp_lost_packets_total counter\npbx_rtp_lost_packets_total 12\n",
		"# TYPE pbx_media_legs gauge\npbx_media_legs 4\n",
		"# TYPE pbx_media_tick_max_seconds gauge\npbx_media_tick_max_seconds 0.001250\n",
		"\npbx_http_sessions 1\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		if (!strstr(r.body, want[i]))
			fprintf(stderr, "metrics lack: %s\n", want[i]);
		assert_non_null(strstr(r.body, want[i]));
	}
	/* Each metric is listed once, with its HELP and TYPE. */
	assert_null(strstr(strstr(r.body, "\npbx_registrations ") + 1, "\npbx_registrations "));
	resp_free(&r);

	/* The core does not answer the counters: they are left out, the
	 * registrations still come from their own question, the scrape works. */
	atomic_store(&fx->fl.stats_rc, ETIMEDOUT);
	http_from(NULL, "GET", "/metrics", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\npbx_registrations 2\n"));
	assert_null(strstr(r.body, "pbx_calls_active"));
	assert_null(strstr(r.body, "pbx_media_tick_max_seconds"));
	assert_non_null(strstr(r.body, "\npbx_http_sessions 1\n"));
	resp_free(&r);
	api_req("GET", "/api/v1/stats", NULL, &r);
	assert_error(&r, 503, NULL);
	resp_free(&r);
	atomic_store(&fx->fl.stats_rc, 0);
}

static void test_live_ops_missing(void **state)
{
	(void)state;
	/* A core without calls and counters (live_ops members NULL): those
	 * routes answer 503, the rest works, metrics leave the lines out. */
	fx->ops.calls = NULL;
	fx->ops.call_hangup = NULL;
	fx->ops.stats = NULL;
	signin_admin();
	struct resp r;
	api_req("GET", "/api/v1/calls", NULL, &r);
	assert_error(&r, 503, NULL);
	resp_free(&r);
	api_req("DELETE", "/api/v1/calls/17", NULL, &r);
	assert_error(&r, 503, NULL);
	resp_free(&r);
	api_req("GET", "/api/v1/stats", NULL, &r);
	assert_error(&r, 503, NULL);
	resp_free(&r);
	api_req("GET", "/api/v1/registrations", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http_from(NULL, "GET", "/metrics", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\npbx_registrations 2\n"));
	assert_null(strstr(r.body, "pbx_calls_active"));
	resp_free(&r);
	/* The event stream sends what there is. */
	struct sse es;
	assert_int_equal(sse_open(&es), 200);
	json_t *d = sse_wait(&es, "registrations", 5000, NULL);
	assert_non_null(d);
	json_decref(d);
	int others[SSE_KINDS] = { 0 };
	assert_null(sse_wait(&es, "calls", 2500, others));
	assert_int_equal(others[SSE_STATS], 0);
	sse_close(&es);
}

/* Run promtool (Debian package prometheus) on a scrape; skipped when it
 * is not installed. */
static void test_metrics_promtool(void **state)
{
	(void)state;
	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		fprintf(stderr, "# promtool is not installed (Debian package prometheus): skipped\n");
		skip();
	}
	signin_admin();
	char path[192], out[192], cmd[512];
	snprintf(path, sizeof path, "%s/metrics.txt", fx->dir);
	snprintf(out, sizeof out, "%s/promtool.txt", fx->dir);
	for (int pass = 0; pass < 2; pass++) {
		/* With every counter, then with the core not answering. */
		atomic_store(&fx->fl.stats_rc, pass ? ETIMEDOUT : 0);
		struct resp r;
		http_from(NULL, "GET", "/metrics", NULL, NULL, 0, &r);
		assert_int_equal(r.status, 200);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(r.body, 1, r.body_len, f), r.body_len);
		fclose(f);
		resp_free(&r);
		snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s 2>&1", path, out);
		int rc = system(cmd);
		if (rc != 0) {
			snprintf(cmd, sizeof cmd, "cat %s >&2", out);
			if (system(cmd) != 0)
				fprintf(stderr, "(no promtool output)\n");
		}
		assert_int_equal(rc, 0);
	}
	atomic_store(&fx->fl.stats_rc, 0);
	unlink(path);
	unlink(out);
}

static void test_events(void **state)
{
	(void)state;
	signin_admin();
	struct sse a;
	assert_int_equal(sse_open(&a), 200);
	assert_non_null(strstr(a.head, "\r\nContent-Type: text/event-stream; charset=utf-8\r\n"));
	assert_non_null(strstr(a.head, "\r\nCache-Control: no-store\r\n"));
	char *b = NULL;
	assert_int_equal(sse_next(&a, 5000, &b), 1);
	assert_string_equal(b, "retry: 3000");
	free(b);
	/* The three snapshots come at once: the bodies of the GETs. */
	json_t *regs = sse_wait(&a, "registrations", 5000, NULL);
	assert_non_null(regs);
	assert_int_equal(json_integer_value(json_object_get(regs, "total")), 2);
	assert_int_equal(json_integer_value(json_object_get(regs, "extensions")), 2);
	assert_string_equal(jget_str(json_array_get(json_object_get(regs, "items"), 0), "user_agent"),
			    "<script>alert(1)</script>");
	json_decref(regs);
	json_t *calls = sse_wait(&a, "calls", 5000, NULL);
	assert_non_null(calls);
	assert_string_equal(jget_str(json_array_get(json_object_get(calls, "items"), 1), "id"), "9007199254740993");
	json_decref(calls);
	json_t *stats = sse_wait(&a, "stats", 5000, NULL);
	assert_non_null(stats);
	assert_int_equal(json_integer_value(json_object_get(stats, "sip_rx")), 1000);
	json_decref(stats);

	/* A change is sent within a poll or two, and only what changed:
	 * a second phone of 201 (bindings 3, extensions still 2). */
	atomic_store(&fx->fl.regs, 3);
	int others[SSE_KINDS] = { 0 };
	/* One poll is 1 s; the bound is loose for a loaded or sanitized run. */
	regs = sse_wait(&a, "registrations", 10000, others);
	assert_non_null(regs);
	assert_int_equal(json_integer_value(json_object_get(regs, "total")), 3);
	assert_int_equal(json_integer_value(json_object_get(regs, "extensions")), 2);
	json_decref(regs);
	atomic_fetch_add(&fx->fl.sip_rx, 5);
	/* A stats event already on its way (the machine's load moves on its
	 * own) may come first. */
	json_int_t rx = 0;
	for (int64_t end = ms_now() + 10000; rx != 1005 && ms_now() < end;) {
		stats = sse_wait(&a, "stats", (int)(end - ms_now()), others);
		if (!stats)
			break;
		rx = json_integer_value(json_object_get(stats, "sip_rx"));
		json_decref(stats);
	}
	assert_int_equal(rx, 1005);
	assert_int_equal(others[SSE_CALLS], 0);
	assert_int_equal(others[SSE_REGS], 0);

	/* Nothing changes: keepalive comments (every 2 s in this fixture)
	 * whenever nothing else was sent, so the stream is never silent for
	 * longer than that and a poll. Only the machine's load may move
	 * meanwhile (Linux updates it every 5 s): stats events. */
	memset(others, 0, sizeof others);
	int keepalives = 0;
	int64_t prev = ms_now();
	for (int64_t end = prev + 8000; ms_now() < end;) {
		if (sse_next(&a, 3500, &b) != 1)
			break;
		int64_t now = ms_now();
		assert_true(now - prev <= 3500);
		prev = now;
		if (strcmp(b, ": keepalive") == 0)
			keepalives++;
		else
			assert_non_null(strstr(b, "event: stats\n"));
		free(b);
	}
	assert_true(ms_now() - prev <= 3500);
	assert_true(keepalives >= 1);

	/* A second stream gets every snapshot at once, the newest. */
	struct sse s2;
	assert_int_equal(sse_open(&s2), 200);
	regs = sse_wait(&s2, "registrations", 1500, others);
	assert_non_null(regs);
	assert_int_equal(json_integer_value(json_object_get(regs, "total")), 3);
	json_decref(regs);
	calls = sse_wait(&s2, "calls", 1500, others);
	assert_non_null(calls);
	json_decref(calls);

	/* HEAD: the head only, the stream is not kept. */
	struct sse h;
	assert_int_equal(sse_open_as(&h, "HEAD", fx->cookie), 200);
	sse_close(&h);

	/* At most API_STREAMS_MAX streams; the next gets 503 with Retry-After.
	 * A client that goes away frees its place once a keepalive finds it
	 * gone. */
	struct sse more[API_STREAMS_MAX];
	size_t open = 2, nmore = 0;
	for (int64_t end = ms_now() + 5000; open < API_STREAMS_MAX && ms_now() < end;) {
		int st = sse_open(&more[nmore]);
		if (st == 200) {
			nmore++;
			open++;
		} else {
			sse_close(&more[nmore]); /* the HEAD stream not gone yet */
			usleep(100 * 1000);
		}
	}
	assert_int_equal(open, API_STREAMS_MAX);
	struct sse over;
	assert_int_equal(sse_open(&over), 503);
	assert_non_null(strstr(over.head, "\r\nRetry-After: 5\r\n"));
	sse_close(&over);
	struct resp r;
	http_from(NULL, "GET", "/metrics", NULL, NULL, 0, &r);
	char want[64];
	snprintf(want, sizeof want, "\npbx_http_event_streams %d\n", API_STREAMS_MAX);
	assert_non_null(strstr(r.body, want));
	resp_free(&r);
	sse_close(&more[--nmore]);
	int st = 0;
	for (int64_t end = ms_now() + 8000; st != 200 && ms_now() < end;) {
		st = sse_open(&more[nmore]);
		if (st != 200) {
			sse_close(&more[nmore]);
			usleep(200 * 1000);
		}
	}
	assert_int_equal(st, 200);
	nmore++;

	/* Signing out ends every stream of the session. Another session's
	 * stream goes on. */
	char cookie2[128], csrf2[API_TOKEN_HEX + 1];
	assert_int_equal(signin_from(NULL, "admin", ADMIN_PW, cookie2, sizeof cookie2, csrf2, sizeof csrf2, &r), 201);
	resp_free(&r);
	sse_close(&more[--nmore]);
	struct sse other;
	st = 0;
	for (int64_t end = ms_now() + 8000; st != 200 && ms_now() < end;) {
		st = sse_open_as(&other, "GET", cookie2);
		if (st != 200) {
			sse_close(&other);
			usleep(200 * 1000);
		}
	}
	assert_int_equal(st, 200);
	api_req("DELETE", "/api/v1/session", NULL, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	for (;;) {
		int k = sse_next(&a, 4000, &b);
		if (k == 1) {
			free(b);
			continue;
		}
		assert_int_equal(k, -1);
		break;
	}
	for (size_t i = 0; i < nmore; i++) {
		int k;
		while ((k = sse_next(&more[i], 4000, &b)) == 1)
			free(b);
		assert_int_equal(k, -1);
		sse_close(&more[i]);
	}
	sse_close(&a);
	sse_close(&s2);
	atomic_fetch_add(&fx->fl.sip_rx, 1);
	stats = sse_wait(&other, "stats", 3000, NULL);
	assert_non_null(stats);
	json_decref(stats);

	/* Nobody watching: the core is not asked. */
	sse_close(&other);
	size_t left = 1;
	for (int64_t end = ms_now() + 8000; left && ms_now() < end;) {
		http_from(NULL, "GET", "/metrics", NULL, NULL, 0, &r);
		left = !strstr(r.body, "\npbx_http_event_streams 0\n");
		resp_free(&r);
		if (left)
			usleep(200 * 1000);
	}
	assert_int_equal(left, 0);
	int asks = atomic_load(&fx->fl.reg_asks);
	usleep(2500 * 1000); /* two poll intervals and a half */
	assert_int_equal(atomic_load(&fx->fl.reg_asks), asks);
}

static void test_events_at_shutdown(void **state)
{
	(void)state;
	/* The server stops with streams open (suspended, waiting for news):
	 * they end, nothing leaks, nothing hangs. */
	signin_admin();
	struct sse s[3];
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sse_open(&s[i]), 200);
		json_t *d = sse_wait(&s[i], "stats", 5000, NULL);
		assert_non_null(d);
		json_decref(d);
	}
	http_stop(fx->h);
	fx->h = NULL;
	for (int i = 0; i < 3; i++) {
		char *b;
		int k;
		while ((k = sse_next(&s[i], 5000, &b)) == 1)
			free(b);
		assert_int_equal(k, -1);
		sse_close(&s[i]);
	}
}

static void test_no_live(void **state)
{
	(void)state;
	/* A second server without a core: live routes answer 503, metrics
	 * leave the registrations out instead of inventing a number. */
	struct fx *mine = fx;
	struct fx *other = calloc(1, sizeof *other);
	assert_non_null(other);
	assert_int_equal(fx_start(other, false), 0);
	atomic_store(&other->ready, true);
	fx = other;
	signin_admin();
	struct resp r;
	api_req("GET", "/api/v1/registrations", NULL, &r);
	assert_error(&r, 503, NULL);
	resp_free(&r);
	api_req("DELETE", "/api/v1/bans/192.0.2.7", NULL, &r);
	assert_error(&r, 503, NULL);
	resp_free(&r);
	api_req("GET", "/api/v1/events", NULL, &r);
	assert_error(&r, 503, NULL);
	resp_free(&r);
	api_req("POST", "/api/v1/extensions", "{\"number\":\"201\"}", &r);
	assert_int_equal(r.status, 201);
	resp_free(&r);
	http_from(NULL, "GET", "/metrics", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, "pbx_registrations"));
	resp_free(&r);
	fx = mine;
	fx_stop(other);
	free(other);
}

static void test_ipv6(void **state)
{
	(void)state;
	/* A server on [::1]: served, signed in, and throttled per address
	 * like over IPv4. */
	struct fx *mine = fx;
	struct fx *v6 = calloc(1, sizeof *v6);
	assert_non_null(v6);
	v6->v6 = true;
	assert_int_equal(fx_start(v6, true), 0);
	atomic_store(&v6->ready, true);
	fx = v6;
	assert_alive();
	signin_admin();
	struct resp r;
	api_req("GET", "/api/v1/session", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	char cookie[128], csrf[API_TOKEN_HEX + 1];
	for (int i = 0; i < API_THROTTLE_LIMIT; i++) {
		char user[24];
		snprintf(user, sizeof user, "guess%d", i);
		assert_int_equal(signin_from(NULL, user, "wrong password", cookie, sizeof cookie, csrf, sizeof csrf, &r),
				 401);
		resp_free(&r);
	}
	assert_int_equal(signin_from(NULL, "admin", ADMIN_PW, cookie, sizeof cookie, csrf, sizeof csrf, &r), 429);
	resp_free(&r);
	/* The session from before is not touched by the throttling. */
	api_req("GET", "/api/v1/extensions", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	fx = mine;
	fx_stop(v6);
	free(v6);
}

static void test_http_start_rejects_bad_cfg(void **state)
{
	(void)state;
	struct http_server *h = (struct http_server *)1;
	struct http_cfg cfg = { .ready = &fx->ready, .db_path = fx->db };
	cfg.tls_cert = "/nonexistent.pem"; /* without a key */
	assert_int_equal(http_start(&h, &cfg), EINVAL);
	assert_null(h);
	cfg.tls_key = "/nonexistent-key.pem";
	((struct sockaddr_in *)&cfg.addr)->sin_family = AF_INET;
	assert_int_equal(http_start(&h, &cfg), EINVAL);
	cfg = (struct http_cfg){ .ready = &fx->ready, .db_path = NULL };
	assert_int_equal(http_start(&h, &cfg), EINVAL);
	/* The port in use. */
	cfg = (struct http_cfg){ .ready = &fx->ready, .db_path = fx->db };
	struct sockaddr_in *sin = (struct sockaddr_in *)&cfg.addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(fx->port);
	assert_int_equal(http_start(&h, &cfg), EADDRINUSE);
	assert_int_equal(api_routes_check(), 0);
}

/* ---- HTTPS -------------------------------------------------------------------------------- */

/* One request over TLS to the fixture's server, checking its certificate
 * (the test's self-signed one, for 127.0.0.1). */
static void https_raw(const char *req, struct resp *out)
{
	memset(out, 0, sizeof *out);
	gnutls_certificate_credentials_t cred;
	assert_int_equal(gnutls_certificate_allocate_credentials(&cred), 0);
	assert_int_equal(gnutls_certificate_set_x509_trust_file(cred, fx->cert, GNUTLS_X509_FMT_PEM), 1);
	gnutls_session_t s;
	assert_int_equal(gnutls_init(&s, GNUTLS_CLIENT), 0);
	assert_int_equal(gnutls_set_default_priority(s), 0);
	assert_int_equal(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred), 0);
	gnutls_session_set_verify_cert(s, "127.0.0.1", 0);
	gnutls_handshake_set_timeout(s, 10000);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fx->port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	gnutls_transport_set_int(s, fd);
	int rc;
	do
		rc = gnutls_handshake(s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0)
		fail_msg("TLS handshake: %s", gnutls_strerror(rc));
	size_t n = strlen(req);
	for (size_t sent = 0; sent < n;) {
		ssize_t w = gnutls_record_send(s, req + sent, n - sent);
		if (w < 0 && !gnutls_error_is_fatal((int)w))
			continue;
		assert_true(w > 0);
		sent += (size_t)w;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		ssize_t k = gnutls_record_recv(s, buf + len, cap - len - 1);
		if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	gnutls_bye(s, GNUTLS_SHUT_WR);
	close(fd);
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	resp_parse(buf, len, out);
}

static void test_https(void **state)
{
	(void)state;
	/* A second server with a certificate: the same API over TLS, and the
	 * session cookie marked Secure. */
	struct fx *mine = fx;
	struct fx *tls = calloc(1, sizeof *tls);
	assert_non_null(tls);
	assert_int_equal(fx_start_with(tls, true, true), 0);
	atomic_store(&tls->ready, true);
	fx = tls;
	struct resp r;
	https_raw("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);

	char req[1024];
	static const char signin[] = "{\"username\":\"admin\",\"password\":\"" ADMIN_PW "\"}";
	snprintf(req, sizeof req,
		 "POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 sizeof signin - 1, signin);
	https_raw(req, &r);
	assert_int_equal(r.status, 201);
	char sc[512];
	assert_true(resp_header(&r, "Set-Cookie", sc, sizeof sc));
	assert_non_null(strstr(sc, "; Secure"));
	assert_non_null(strstr(sc, "; HttpOnly"));
	assert_non_null(strstr(sc, "; SameSite=Strict"));
	char cookie[128];
	snprintf(cookie, sizeof cookie, "%.*s", (int)strcspn(sc, ";"), sc);
	resp_free(&r);
	snprintf(req, sizeof req, "GET /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
				  "Cookie: %s\r\n\r\n", cookie);
	https_raw(req, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jget_str(r.json, "username"), "admin");
	resp_free(&r);

	/* Plain HTTP to the TLS port gets no HTTP answer, and the server goes
	 * on serving TLS. */
	http_from(NULL, "GET", "/healthz", NULL, NULL, 0, &r);
	assert_int_not_equal(r.status, 200);
	resp_free(&r);
	https_raw("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);

	fx = mine;
	fx_stop(tls);
	free(tls);
}

static int https_setup(void **state)
{
	(void)state;
	return 0;
}

static int https_teardown(void **state)
{
	(void)state;
	return 0;
}

/* ---- many clients at once ------------------------------------------------------------ */

#define CONC_THREADS 6
#define CONC_ROUNDS 20

struct conc {
	pthread_t t;
	unsigned idx;
	uint16_t port;
	char cookie[128], csrf[API_TOKEN_HEX + 1];
	unsigned ok, bad; /* answers as expected / not */
	int last_bad;     /* the status of the last unexpected answer */
};

/* One request on its own connection; the status, or 0 when there was no
 * answer. No cmocka assertions here: this runs on other threads. */
static int conc_req(const struct conc *c, const char *method, const char *path, const char *body)
{
	char req[1024];
	int n = snprintf(req, sizeof req,
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: %s\r\n"
			 "X-CSRF-Token: %s\r\n",
			 method, path, c->cookie, c->csrf);
	if (body)
		n += snprintf(req + n, sizeof req - (size_t)n,
			      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
	else
		n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(c->port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int status = 0;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && send_all(fd, req, (size_t)n) == 0) {
		char buf[16];
		size_t got = 0;
		while (got < sizeof buf - 1) {
			ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		buf[got] = '\0';
		if (got >= 12 && memcmp(buf, "HTTP/1.", 7) == 0)
			status = atoi(buf + 9);
	}
	close(fd);
	return status;
}

static void conc_expect(struct conc *c, int got, int want)
{
	if (got == want) {
		c->ok++;
	} else {
		c->bad++;
		c->last_bad = got;
	}
}

static void *conc_main(void *arg)
{
	struct conc *c = arg;
	for (unsigned i = 0; i < CONC_ROUNDS; i++) {
		char number[16], path[64], body[128];
		snprintf(number, sizeof number, "%u", 1000 + c->idx * 100 + i);
		snprintf(body, sizeof body, "{\"number\":\"%s\",\"name\":\"t%u r%u\"}", number, c->idx, i);
		conc_expect(c, conc_req(c, "POST", "/api/v1/extensions", body), 201);
		snprintf(path, sizeof path, "/api/v1/extensions/%s", number);
		conc_expect(c, conc_req(c, "PATCH", path, "{\"ring_time\":30}"), 200);
		conc_expect(c, conc_req(c, "GET", "/api/v1/extensions?limit=5", NULL), 200);
		conc_expect(c, conc_req(c, "GET", "/api/v1/session", NULL), 200);
		/* Refusals under load stay refusals. */
		conc_expect(c, conc_req(c, "DELETE", "/api/v1/rooms/1", NULL), 404);
		if (i % 2 == 0)
			conc_expect(c, conc_req(c, "DELETE", path, NULL), 204);
	}
	return NULL;
}

static void test_concurrent_clients(void **state)
{
	(void)state;
	/* Several administrators' browsers at once, each with its own session,
	 * writing through the server's per-thread SQLite connections: every
	 * answer is the one a lone client would get, and the data adds up. */
	struct conc c[CONC_THREADS];
	memset(c, 0, sizeof c);
	for (unsigned i = 0; i < CONC_THREADS; i++) {
		struct resp r;
		c[i].idx = i;
		c[i].port = fx->port;
		assert_int_equal(signin_from(NULL, "admin", ADMIN_PW, c[i].cookie, sizeof c[i].cookie, c[i].csrf,
					     sizeof c[i].csrf, &r),
				 201);
		resp_free(&r);
	}
	for (unsigned i = 0; i < CONC_THREADS; i++)
		assert_int_equal(pthread_create(&c[i].t, NULL, conc_main, &c[i]), 0);
	unsigned bad = 0;
	for (unsigned i = 0; i < CONC_THREADS; i++) {
		pthread_join(c[i].t, NULL);
		if (c[i].bad)
			fprintf(stderr, "client %u: %u unexpected answers (last %d)\n", i, c[i].bad, c[i].last_bad);
		bad += c[i].bad;
	}
	assert_int_equal(bad, 0);
	struct resp r;
	memcpy(fx->cookie, c[0].cookie, sizeof fx->cookie);
	memcpy(fx->csrf, c[0].csrf, sizeof fx->csrf);
	api_req("GET", "/api/v1/extensions?limit=1000", NULL, &r);
	assert_int_equal(r.status, 200);
	json_int_t left = CONC_THREADS * (CONC_ROUNDS / 2);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")), left);
	json_t *items = json_object_get(r.json, "items");
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *e = json_array_get(items, i);
		assert_int_equal(json_integer_value(json_object_get(e, "ring_time")), 30);
		/* Only odd rounds are left. */
		assert_int_equal(atoi(jget_str(e, "number")) % 2, 1);
	}
	resp_free(&r);
	/* create + patch for every round, delete for half of them */
	assert_int_equal(atomic_load(&fx->fl.changed), CONC_THREADS * (2 * CONC_ROUNDS + CONC_ROUNDS / 2));
	http_from(NULL, "GET", "/metrics", NULL, NULL, 0, &r);
	char want[64];
	snprintf(want, sizeof want, "\npbx_http_sessions %d\n", CONC_THREADS);
	assert_non_null(strstr(r.body, want));
	resp_free(&r);
}

static int group_setup(void **state)
{
	(void)state;
	/* One malloc arena for every thread. Otherwise the first test that runs
	 * more threads at once than any before it (test_no_live: two servers)
	 * makes glibc create arenas, whose bookkeeping mallinfo2 counts as
	 * bytes in use: a one-time cost the leak check would call a leak. */
	mallopt(M_ARENA_MAX, 1);
	log_set_level(LOG_ERR);
	/* Warm up the libraries' one-time allocations (SQLite, libmicrohttpd)
	 * outside the per-test leak checks. */
	struct fx warm = { 0 };
	fx = &warm;
	if (fx_start(&warm, true) != 0)
		return -1;
	atomic_store(&warm.ready, true);
	signin_admin();
	struct resp r;
	api_req("GET", "/api/v1/extensions", NULL, &r);
	resp_free(&r);
	/* And an event stream, with a second server at the same time: the
	 * most threads the tests run at once, so that glibc's cache of thread
	 * stacks (and their TLS vectors) is filled here, not in a test. */
	struct fx warm2 = { 0 };
	if (fx_start(&warm2, true) != 0)
		return -1;
	struct sse es;
	if (sse_open(&es) != 200)
		return -1;
	json_t *d = sse_wait(&es, "stats", 5000, NULL);
	json_decref(d);
	sse_close(&es);
	fx_stop(&warm2);
	fx_stop(&warm);
	fx = NULL;
	return d ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		API_TEST(test_healthz_and_headers),
		API_TEST(test_routes_need_session),
		API_TEST(test_routes_need_csrf),
		API_TEST(test_signin_signout),
		API_TEST(test_signin_throttle),
		API_TEST(test_payloads_stored_literally),
		API_TEST(test_invalid_input_names_field),
		API_TEST(test_openapi_matches_routes),
		API_TEST(test_hostile_requests),
		API_TEST(test_extensions_crud),
		API_TEST(test_forwarding),
		API_TEST(test_cdr),
		API_TEST(test_import_export),
		API_TEST(test_admins),
		API_TEST(test_settings_and_rooms),
		API_TEST(test_rooms_live),
		API_TEST(test_live_routes),
		API_TEST(test_live_ops_missing),
		API_TEST(test_metrics_promtool),
		API_TEST(test_events),
		API_TEST(test_events_at_shutdown),
		API_TEST(test_no_live),
		API_TEST(test_ipv6),
		API_TEST(test_http_start_rejects_bad_cfg),
		API_TEST(test_concurrent_clients),
		/* Not under the mallinfo2 leak check: GnuTLS keeps a random
		 * generator state for every thread that ever used it (224 bytes
		 * each, measured) until the library is unloaded, and this test
		 * starts a server with new threads. The ASan build's
		 * LeakSanitizer still checks it at exit. */
		cmocka_unit_test_setup_teardown(test_https, https_setup, https_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
