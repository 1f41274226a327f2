/*
 * api_util.c: what every handler needs: the thread's SQLite connection,
 * JSON answers and errors in the one error shape, body field checks that
 * name the offending field, query arguments, random tokens.
 */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "db.h"
#include "log.h"

int api_db(struct api_req *r, sqlite3 **out)
{
	sqlite3 *db = pthread_getspecific(r->srv->db_key);
	if (!db) {
		char err[256];
		int rc = db_open(r->srv->db_path, &db, err, sizeof err);
		if (rc != 0) {
			log_err("http: cannot open %s: %s", r->srv->db_path, err);
			api_error(r, 503, NULL, "the database cannot be opened");
			return rc;
		}
		if (pthread_setspecific(r->srv->db_key, db) != 0) {
			db_close(db);
			api_error(r, 500, NULL, "out of memory");
			return ENOMEM;
		}
	}
	*out = db;
	return 0;
}

static void reply_set(struct api_req *r, unsigned status, const char *type, char *body, size_t len)
{
	free(r->resp);
	r->status = status;
	r->resp_type = type;
	r->resp = body;
	r->resp_len = len;
}

int api_reply_json(struct api_req *r, unsigned status, json_t *body)
{
	char *text = body ? json_dumps(body, API_JSON_DUMP) : NULL;
	json_decref(body);
	if (!text) {
		/* The error body is a constant: it cannot fail for lack of memory. */
		static const char oom[] = "{\"error\":\"out of memory\",\"field\":null}";
		char *copy = strdup(oom);
		reply_set(r, 500, "application/json", copy, copy ? strlen(copy) : 0);
		return 0;
	}
	reply_set(r, status, "application/json", text, strlen(text));
	return 0;
}

int api_error(struct api_req *r, unsigned status, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* Both keys always present; api_jstr because a field may be a key the
	 * client sent, cut to length (possibly inside a UTF-8 sequence). */
	return api_reply_json(r, status, json_pack("{s:o, s:o}", "error", api_jstr(msg), "field",
						   field ? api_jstr(field) : json_null()));
}

/* db.h names fields in its messages by its own words; the API uses these. */
static const struct {
	const char *db, *api;
} field_names[] = {
	{ "extension", "number" }, { "room", "number" },   { "name", "name" },
	{ "password", "password" }, { "vm_pin", "vm_pin" }, { "pin", "pin" },
	{ "moderator_pin", "moderator_pin" }, { "max participants", "max_participants" },
	{ "ring_time", "ring_time" }, { "user", "username" }, { "key", "key" },
};

int api_error_db(struct api_req *r, int rc, const char *msg)
{
	unsigned status = rc == EINVAL ? 400 : rc == EEXIST ? 409 : rc == ENOENT ? 404 : rc == EBUSY ? 503 : 500;
	if (status == 500)
		return api_error(r, 500, NULL, "internal error (%s)", strerror(rc));
	const char *colon = msg ? strchr(msg, ':') : NULL;
	if (colon) {
		size_t n = (size_t)(colon - msg);
		for (size_t i = 0; i < sizeof field_names / sizeof field_names[0]; i++)
			if (strlen(field_names[i].db) == n && memcmp(field_names[i].db, msg, n) == 0)
				return api_error(r, status, field_names[i].api, "%s:%s", field_names[i].api, colon + 1);
	}
	return api_error(r, status, NULL, "%s", msg && *msg ? msg : strerror(rc));
}

int api_reply_empty(struct api_req *r, unsigned status)
{
	reply_set(r, status, NULL, NULL, 0);
	return 0;
}

int api_reply_text(struct api_req *r, unsigned status, const char *type, char *text, size_t len)
{
	reply_set(r, status, type, text, len);
	return 0;
}

static const char *jtype_name(enum api_jtype t)
{
	return t == API_JSTR ? "a string" : "an integer";
}

int api_fields(struct api_req *r, const struct api_field *f, size_t n)
{
	const char *key;
	json_t *val;
	json_object_foreach(r->json, key, val) {
		bool known = false;
		for (size_t i = 0; i < n && !known; i++)
			known = strcmp(f[i].name, key) == 0;
		if (!known) {
			/* The key came from the client: jansson escapes it in the
			 * answer, and it is cut to keep the answer small. */
			char k[65];
			snprintf(k, sizeof k, "%s", key);
			return api_error(r, 400, k, "%s: unknown field", k), EINVAL;
		}
	}
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(r->json, f[i].name);
		if (f[i].present)
			*f[i].present = v != NULL;
		if (!v) {
			if (f[i].required)
				return api_error(r, 400, f[i].name, "%s: missing", f[i].name), EINVAL;
			continue;
		}
		if (f[i].type == API_JSTR && json_is_string(v)) {
			*f[i].s = json_string_value(v);
		} else if (f[i].type == API_JINT && json_is_integer(v)) {
			*f[i].i = json_integer_value(v);
		} else {
			return api_error(r, 400, f[i].name, "%s: must be %s", f[i].name, jtype_name(f[i].type)),
			       EINVAL;
		}
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int api_pct_decode(const char *in, size_t len, bool plus, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '%') {
			if (len - i < 3)
				return EINVAL;
			int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (c == '\0' || o + 1 >= cap)
			return EINVAL;
		out[o++] = c;
	}
	if (cap == 0)
		return EINVAL;
	out[o] = '\0';
	return 0;
}

int api_query(struct api_req *r, const char *name, char *out, size_t cap, bool *present)
{
	/* Raw: the server's unescape callback leaves escapes alone. */
	const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
	*present = v != NULL;
	if (!v) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	return api_pct_decode(v, strlen(v), true, out, cap);
}

json_t *api_jstr(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char buf[1024];
	size_t n = 0;
	for (; s[n] && n < sizeof buf - 1; n++)
		buf[n] = (unsigned char)s[n] < 0x80 ? s[n] : '?';
	buf[n] = '\0';
	return json_string(buf);
}

static int random_bytes(unsigned char *p, size_t n)
{
	while (n) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int api_random_hex(char *out, size_t nbytes)
{
	unsigned char b[64];
	if (nbytes > sizeof b)
		return EINVAL;
	int rc = random_bytes(b, nbytes);
	if (rc != 0)
		return rc;
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
	explicit_bzero(b, sizeof b);
	return 0;
}

int api_random_password(char *out, size_t len)
{
	/* Letters and digits without the look-alikes (0 O 1 l I): people type
	 * these into phones. 56 symbols; rejection sampling keeps it uniform. */
	static const char alpha[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	const unsigned n = sizeof alpha - 1;
	size_t o = 0;
	while (o < len) {
		unsigned char b[32];
		int rc = random_bytes(b, sizeof b);
		if (rc != 0)
			return rc;
		for (size_t i = 0; i < sizeof b && o < len; i++)
			if (b[i] < 256 - 256 % n)
				out[o++] = alpha[b[i] % n];
	}
	out[len] = '\0';
	return 0;
}

void api_changed(struct api_req *r)
{
	r->changed = true;
}
