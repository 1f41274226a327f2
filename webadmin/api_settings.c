/*
 * api_settings.c: GET and PATCH /api/v1/settings.
 *
 * The network settings (sip_port, rtp_port_min/max, codec_order) apply to
 * the running daemon (pbx/core_net.c); unset, they are listed with what
 * the daemon uses. A SIP port that cannot be opened is refused here (409)
 * before anything is stored, so the Settings page can say so on the field.
 */
#include "api.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "sip_addr.h"

/* Keys that are never shown nor set over HTTP. */
static bool setting_secret(const char *key)
{
	return strcmp(key, "nonce_key") == 0;
}

/* Written here, never read back: listed as "" so a form can offer to set it. */
static bool setting_write_only(const char *key)
{
	return strcmp(key, "smtp_password") == 0;
}

static int settings_collect(void *ctx, const char *key, const char *value)
{
	if (setting_write_only(key))
		json_object_set_new(ctx, key, api_jstr(""));
	else if (!setting_secret(key))
		json_object_set_new(ctx, key, api_jstr(value));
	return 0;
}

static bool live_net(struct api_req *r, struct live_net *net)
{
	const struct live_ops *live = r->srv->live;
	return live && live->net && live->net(live->ctx, net) == 0;
}

/* An unset (or empty) key listed with the value the daemon uses. */
static void setting_effective(json_t *o, const char *key, const char *value)
{
	const char *have = json_string_value(json_object_get(o, key));
	if (!have || !*have)
		json_object_set_new(o, key, api_jstr(value));
}

/* Settings without a stored value: the voicemail email relay's are listed
 * empty so the Settings page offers them; the network ones as in use. */
static void settings_optional(struct api_req *r, json_t *o)
{
	static const char *const keys[] = { "smtp_host", "smtp_port", "smtp_tls", "smtp_user",
					    "smtp_password", "smtp_from", "smtp_ca_file" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (!json_object_get(o, keys[i]))
			json_object_set_new(o, keys[i], api_jstr(""));
	setting_effective(o, "codec_order", DB_CODEC_ORDER_DEFAULT);
	struct live_net net;
	char num[16];
	bool ok = live_net(r, &net);
	snprintf(num, sizeof num, "%u", ok ? net.sip_port : 0);
	setting_effective(o, "sip_port", ok ? num : "");
	snprintf(num, sizeof num, "%u", ok ? net.rtp_lo : 0);
	setting_effective(o, "rtp_port_min", ok ? num : "");
	snprintf(num, sizeof num, "%u", ok ? net.rtp_hi : 0);
	setting_effective(o, "rtp_port_max", ok ? num : "");
}

int api_settings_get(struct api_req *r)
{
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		return 0;
	json_t *o = json_object();
	int rc = o ? db_setting_list(db, settings_collect, o) : ENOMEM;
	if (rc != 0) {
		json_decref(o);
		return api_error_db(r, rc, NULL);
	}
	settings_optional(r, o);
	return api_reply_json(r, 200, o);
}

/* ---- checks of the network settings before they are stored ---- */

/* Can this process open UDP and TCP on addr? 0 or the errno. */
static int port_free(const struct sockaddr_storage *addr)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	for (size_t i = 0; i < 2; i++) {
		int fd = socket(addr->ss_family, types[i] | SOCK_CLOEXEC, 0), one = 1;
		if (fd < 0)
			return errno;
		if (addr->ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		int err = bind(fd, (const struct sockaddr *)addr, sip_addr_len(addr)) == 0 ? 0 : errno;
		close(fd);
		if (err)
			return err;
	}
	return 0;
}

/* sip_port P: every --sip-listen address must be able to open P, unless
 * pbxd has it open already (a change back to a port still draining). */
static int check_sip_port(struct api_req *r, const struct live_net *net, const char *value)
{
	if (!*value)
		return 0;
	unsigned port = (unsigned)strtoul(value, NULL, 10);
	for (unsigned i = 0; i < net->nsip; i++) {
		struct sockaddr_storage a;
		if (sip_addr_parse(net->sip[i], 0, &a) == 0 && sip_addr_port(&a) == port)
			return 0;
	}
	for (unsigned i = 0; i < net->nstarted; i++) {
		struct sockaddr_storage a;
		if (sip_addr_parse(net->started[i], 0, &a) != 0)
			continue;
		sip_addr_set_port(&a, (uint16_t)port);
		int err = port_free(&a);
		if (err) {
			char s[SIP_ADDRSTR_MAX];
			api_error(r, 409, "sip_port", "sip_port: %s cannot be opened (%s); nothing was changed",
				  sip_addr_str(&a, s, sizeof s), strerror(err));
			return err;
		}
	}
	return 0;
}

/* One end of the media port range: as patched, else as stored, else as
 * pbxd was started. */
static unsigned rtp_end(sqlite3 *db, const char *key, const char *patched, unsigned started)
{
	char stored[16];
	const char *v = patched;
	if (!v && db_setting_get(db, key, stored, sizeof stored) == 0)
		v = stored;
	return v && *v ? (unsigned)strtoul(v, NULL, 10) : started;
}

static int check_rtp(struct api_req *r, sqlite3 *db, const struct live_net *net, const char *min, const char *max)
{
	if (!min && !max)
		return 0;
	unsigned lo = rtp_end(db, "rtp_port_min", min, net->rtp_lo_started);
	unsigned hi = rtp_end(db, "rtp_port_max", max, net->rtp_hi_started);
	if (db_rtp_range_ok(lo, hi))
		return 0;
	const char *field = max ? "rtp_port_max" : "rtp_port_min";
	api_error(r, 400, field, "%s: the media ports %u-%u hold no even port with the port after it "
		  "(rtp_port_min must be below rtp_port_max)", field, lo, hi);
	return EINVAL;
}

int api_settings_patch(struct api_req *r)
{
	enum { MAXV = 64 };
	const char *keys[MAXV];
	char *vals[MAXV];
	size_t n = 0;
	char err[256];
	const char *key;
	json_t *val;
	int ret = 0;
	if (json_object_size(r->json) == 0)
		return api_error(r, 400, NULL, "no settings given");
	if (json_object_size(r->json) > MAXV)
		return api_error(r, 400, NULL, "at most %d settings at once", MAXV);
	/* Check everything before writing anything. */
	const char *sip_port = NULL, *rtp_min = NULL, *rtp_max = NULL;
	json_object_foreach(r->json, key, val) {
		char k[DB_SETTING_KEY_MAX + 1];
		snprintf(k, sizeof k, "%s", key);
		char num[32];
		const char *v;
		if (json_is_string(val)) {
			v = json_string_value(val);
		} else if (json_is_integer(val)) {
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(val));
			v = num;
		} else {
			api_error(r, 400, k, "%s: must be a string or an integer", k);
			goto out;
		}
		if (setting_secret(key)) {
			api_error(r, 400, k, "%s: cannot be changed here", k);
			goto out;
		}
		if (db_setting_validate(key, v, err, sizeof err) != 0) {
			/* db_setting_validate names the key first. */
			api_error(r, 400, k, "%s", err);
			goto out;
		}
		if (!(vals[n] = strdup(v))) {
			ret = ENOMEM;
			goto out;
		}
		if (strcmp(key, "sip_port") == 0)
			sip_port = vals[n];
		else if (strcmp(key, "rtp_port_min") == 0)
			rtp_min = vals[n];
		else if (strcmp(key, "rtp_port_max") == 0)
			rtp_max = vals[n];
		keys[n++] = key;
	}
	sqlite3 *db;
	if (api_db(r, &db) != 0)
		goto out;
	if (sip_port || rtp_min || rtp_max) {
		struct live_net net;
		/* Without the core's answer the core itself checks (and logs). */
		if (live_net(r, &net) &&
		    ((sip_port && check_sip_port(r, &net, sip_port) != 0) || check_rtp(r, db, &net, rtp_min, rtp_max) != 0))
			goto out;
	}
	int rc = db_begin(db);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = db_setting_set(db, keys[i], vals[i], err, sizeof err);
	if (rc == 0)
		rc = db_commit(db);
	else
		db_rollback(db);
	if (rc != 0) {
		api_error_db(r, rc, err);
		goto out;
	}
	api_changed(r);
	log_notice("http: %s changed %zu settings", r->sess.user, n);
	api_settings_get(r);
out:
	for (size_t i = 0; i < n; i++)
		free(vals[i]);
	return ret;
}
