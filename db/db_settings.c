/*
 * db_settings.c: the key/value settings table and the config serial.
 *
 * Known keys are checked on the way in so that a typo in pbxctl or the web
 * admin is refused with a message instead of being found later by the
 * daemon (which still checks again when it loads them: see config.c).
 */
#include "db.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum setting_kind { SET_INT, SET_REALM, SET_NETS, SET_HEX32, SET_ALGS, SET_HOST, SET_TLS, SET_EMAIL, SET_CRED, SET_PATH, SET_PORT, SET_CODECS };

/* Bytes of an SMTP user name or password (smtp.h's SMTP_CRED_MAX). */
#define SETTING_CRED_MAX 255

static const struct setting_rule {
	const char *key;
	enum setting_kind kind;
	long min, max; /* SET_INT only */
} setting_rules[] = {
	{ "sip_realm", SET_REALM, 0, 0 },
	{ "reg_min_expires", SET_INT, 1, 86400 },
	{ "reg_max_expires", SET_INT, 1, 604800 },
	{ "reg_default_expires", SET_INT, 1, 604800 },
	{ "auth_nonce_lifetime", SET_INT, 10, 86400 },
	{ "ban_limit", SET_INT, 0, 100000 },
	{ "ban_window", SET_INT, 1, 86400 },
	{ "ban_time", SET_INT, 0, 604800 },
	{ "ban_allow", SET_NETS, 0, 0 },
	{ "auth_algorithms", SET_ALGS, 0, 0 },
	{ "keepalive_interval", SET_INT, 0, 3600 },
	{ "max_contacts", SET_INT, 1, 100 },
	{ "nonce_key", SET_HEX32, 0, 0 },
	/* The relay for voicemail emails (pbx/vm_notify.c); "" = not set. */
	{ "smtp_host", SET_HOST, 0, 0 },
	{ "smtp_port", SET_INT, 1, 65535 },
	{ "smtp_tls", SET_TLS, 0, 0 },
	{ "smtp_user", SET_CRED, 0, 0 },
	{ "smtp_password", SET_CRED, 0, 0 },
	{ "smtp_from", SET_EMAIL, 0, 0 },
	{ "smtp_ca_file", SET_PATH, 0, 0 },
	/* Applied to the running daemon (pbx/core_net.c); "" = as pbxd was
	 * started (--sip-listen, --rtp-ports). */
	{ "sip_port", SET_PORT, 1, 65535 },
	{ "rtp_port_min", SET_PORT, 1024, 65535 },
	{ "rtp_port_max", SET_PORT, 1024, 65535 },
	{ "codec_order", SET_CODECS, 0, 0 },
};

static const char *const codec_names[DB_CODEC_COUNT] = { "opus", "PCMU", "PCMA" };

const char *db_codec_name(enum db_codec c)
{
	return (unsigned)c < DB_CODEC_COUNT ? codec_names[c] : "";
}

bool db_rtp_range_ok(unsigned lo, unsigned hi)
{
	unsigned first = lo + (lo & 1u);
	return lo >= 1024 && hi <= 65535 && first + 1 <= hi;
}

int db_codec_order_parse(const char *s, enum db_codec out[DB_CODEC_COUNT], size_t *n)
{
	*n = 0;
	const char *p = s;
	for (;;) {
		size_t len = strcspn(p, ",");
		while (len && p[0] == ' ') {
			p++;
			len--;
		}
		while (len && p[len - 1] == ' ')
			len--;
		size_t i = 0;
		while (i < DB_CODEC_COUNT && !(strlen(codec_names[i]) == len && strncasecmp(p, codec_names[i], len) == 0))
			i++;
		if (i == DB_CODEC_COUNT)
			return EINVAL;
		for (size_t j = 0; j < *n; j++)
			if (out[j] == (enum db_codec)i)
				return EINVAL;
		out[(*n)++] = (enum db_codec)i; /* distinct, so at most DB_CODEC_COUNT */
		p += strcspn(p, ",");
		if (!*p)
			return 0;
		p++;
	}
}

static bool setting_parse_long(const char *s, long *out)
{
	if (!*s)
		return false;
	errno = 0;
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		return false;
	*out = v;
	return true;
}

int db_setting_validate(const char *key, const char *value, char *err, size_t errcap)
{
	size_t klen = key ? strlen(key) : 0;
	if (klen == 0 || klen > DB_SETTING_KEY_MAX || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != klen) {
		snprintf(err, errcap, "key: 1..%d of a-z, 0-9 and _", DB_SETTING_KEY_MAX);
		return EINVAL;
	}
	if (!value) {
		snprintf(err, errcap, "%s: no value", key);
		return EINVAL;
	}
	size_t vlen = strlen(value);
	if (vlen > DB_SETTING_VALUE_MAX) {
		snprintf(err, errcap, "%s: value longer than %d bytes", key, DB_SETTING_VALUE_MAX);
		return EINVAL;
	}
	for (size_t i = 0; i < vlen; i++) {
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
			snprintf(err, errcap, "%s: control characters are not allowed", key);
			return EINVAL;
		}
	}
	const struct setting_rule *r = NULL;
	for (size_t i = 0; i < sizeof setting_rules / sizeof setting_rules[0]; i++)
		if (strcmp(setting_rules[i].key, key) == 0)
			r = &setting_rules[i];
	if (!r)
		return 0;
	switch (r->kind) {
	case SET_INT: {
		long v;
		if (!setting_parse_long(value, &v) || v < r->min || v > r->max) {
			snprintf(err, errcap, "%s: an integer from %ld to %ld", key, r->min, r->max);
			return EINVAL;
		}
		return 0;
	}
	case SET_REALM:
		/* It appears in a quoted-string of every challenge: no quote, no
		 * backslash, no space, printable ASCII. */
		if (vlen == 0 || vlen > DB_REALM_MAX || strpbrk(value, "\"\\ ")) {
			snprintf(err, errcap, "%s: 1..%d printable characters, no space, quote or backslash",
				 key, DB_REALM_MAX);
			return EINVAL;
		}
		for (size_t i = 0; i < vlen; i++) {
			if ((unsigned char)value[i] > 0x7e) {
				snprintf(err, errcap, "%s: ASCII only", key);
				return EINVAL;
			}
		}
		return 0;
	case SET_NETS:
		/* The SIP core parses the list; here only its alphabet and size. */
		if (vlen > 511 || strspn(value, "0123456789abcdefABCDEF.:/, ") != vlen) {
			snprintf(err, errcap, "%s: addresses or networks (a.b.c.d/n, v6/n) separated by commas, "
				 "at most 511 characters", key);
			return EINVAL;
		}
		return 0;
	case SET_ALGS:
		if (strcmp(value, "MD5,SHA-256") != 0 && strcmp(value, "SHA-256,MD5") != 0 &&
		    strcmp(value, "MD5") != 0 && strcmp(value, "SHA-256") != 0) {
			snprintf(err, errcap, "%s: MD5,SHA-256 or SHA-256,MD5 or MD5 or SHA-256 "
				 "(the challenges offered, in order)", key);
			return EINVAL;
		}
		return 0;
	case SET_HOST:
		/* A name or an address literal (v6 without brackets): it goes to
		 * getaddrinfo and is the name the relay's certificate must carry. */
		if (vlen > 253 || value[0] == '-' ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") != vlen) {
			snprintf(err, errcap, "%s: a host name or address (letters, digits, '.', '-', ':'), "
				 "at most 253 characters, or empty", key);
			return EINVAL;
		}
		return 0;
	case SET_TLS:
		if (strcmp(value, "opportunistic") != 0 && strcmp(value, "required") != 0 &&
		    strcmp(value, "implicit") != 0 && strcmp(value, "none") != 0) {
			snprintf(err, errcap, "%s: opportunistic, required, implicit or none", key);
			return EINVAL;
		}
		return 0;
	case SET_EMAIL:
		if (!db_vm_email_valid(value)) {
			snprintf(err, errcap, "%s: one address user@domain (no spaces, quotes, brackets, "
				 "commas), or empty", key);
			return EINVAL;
		}
		return 0;
	case SET_CRED:
		if (vlen > SETTING_CRED_MAX) {
			snprintf(err, errcap, "%s: at most %d bytes", key, SETTING_CRED_MAX);
			return EINVAL;
		}
		return 0;
	case SET_PATH:
		if (vlen && value[0] != '/') {
			snprintf(err, errcap, "%s: an absolute path, or empty", key);
			return EINVAL;
		}
		return 0;
	case SET_PORT: {
		long v;
		if (vlen && (!setting_parse_long(value, &v) || v < r->min || v > r->max)) {
			snprintf(err, errcap, "%s: a port from %ld to %ld, or empty (as pbxd was started)", key,
				 r->min, r->max);
			return EINVAL;
		}
		return 0;
	}
	case SET_CODECS: {
		enum db_codec c[DB_CODEC_COUNT];
		size_t n;
		if (db_codec_order_parse(value, c, &n) != 0) {
			snprintf(err, errcap, "%s: opus, PCMU and PCMA in the order wanted, comma separated, "
				 "each at most once (those left out are not used)", key);
			return EINVAL;
		}
		return 0;
	}
	case SET_HEX32:
		if (vlen != 64 || strspn(value, "0123456789abcdef") != 64) {
			snprintf(err, errcap, "%s: 64 lowercase hex digits", key);
			return EINVAL;
		}
		return 0;
	}
	return 0;
}

int db_setting_get(sqlite3 *db, const char *key, char *out, size_t cap)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT value FROM settings WHERE key = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	int ret;
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		if (!v) {
			v = "";
			n = 0;
		}
		if (n >= cap) {
			ret = ENOSPC;
		} else {
			memcpy(out, v, n + 1);
			ret = 0;
		}
	} else if (rc == SQLITE_DONE) {
		ret = ENOENT;
	} else {
		ret = db_errno(db, rc);
	}
	sqlite3_finalize(st);
	return ret;
}

int db_setting_set(sqlite3 *db, const char *key, const char *value, char *err, size_t errcap)
{
	int ret = db_setting_validate(key, value, err, errcap);
	if (ret != 0)
		return ret;
	sqlite3_stmt *st = NULL;
	/* The upsert only writes when the value changes, so setting a key to
	 * what it already is does not bump the config serial. */
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO settings(key, value) VALUES (?1, ?2)"
				    " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
				    " WHERE value IS NOT excluded.value",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = db_step_write(db, st);
	ret = rc == SQLITE_DONE ? 0 : db_errno(db, rc);
	if (ret != 0)
		snprintf(err, errcap, "%s: %s", key, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ret;
}

int db_setting_int(sqlite3 *db, const char *key, long dflt, long *out)
{
	char buf[32];
	*out = dflt;
	int rc = db_setting_get(db, key, buf, sizeof buf);
	if (rc == ENOENT)
		return 0;
	if (rc == ENOSPC)
		return EINVAL;
	if (rc != 0)
		return rc;
	long v;
	if (!setting_parse_long(buf, &v))
		return EINVAL;
	*out = v;
	return 0;
}

int db_setting_list(sqlite3 *db, int (*cb)(void *ctx, const char *key, const char *value), void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT key, value FROM settings ORDER BY key", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	int ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);
		if (!k)
			continue;
		ret = cb(ctx, k, v ? v : "");
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_errno(db, rc);
	sqlite3_finalize(st);
	return ret;
}

int db_config_serial(sqlite3 *db, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT serial FROM config_serial WHERE id = 1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	rc = sqlite3_step(st);
	int ret;
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		log_err("db: config_serial row missing");
		ret = EIO;
	} else {
		ret = db_errno(db, rc);
	}
	sqlite3_finalize(st);
	return ret;
}

int db_setting_realm(sqlite3 *db, char out[DB_REALM_MAX + 1])
{
	char err[128];
	int rc = db_setting_get(db, "sip_realm", out, DB_REALM_MAX + 1);
	if (rc == 0 && db_setting_validate("sip_realm", out, err, sizeof err) == 0)
		return 0;
	if (rc != 0 && rc != ENOENT && rc != ENOSPC)
		return rc;
	log_warn("db: settings sip_realm missing or invalid, using \"pbx\"");
	memcpy(out, "pbx", 4);
	return 0;
}
