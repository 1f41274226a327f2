/*
 * api_live.c: the live views asked of the running core through live_ops:
 * registrations, bans, calls in progress (list, hang up) and the counters.
 *
 * The JSON bodies of GET /api/v1/registrations, /calls and /stats are
 * built by the api_live_*_json functions, which the event stream
 * (api_events.c) sends too, so a page gets the same shape either way.
 * Text from the core sits in fixed-size arrays filled from the network
 * (a phone's User-Agent, dialled digits): never trust its NUL, and pass
 * it through api_jstr.
 */
#include "api.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define LIVE_REGS_MAX 4096  /* bindings copied for one answer; "total" says how many exist */
#define LIVE_BANS_MAX 1024
#define LIVE_CALLS_MAX 4096 /* calls copied for one answer */

int api_live_error(struct api_req *r, int rc)
{
	if (rc == ENOTSUP)
		return api_error(r, 503, NULL, "the phone system does not offer this yet");
	if (rc == ETIMEDOUT)
		return api_error(r, 503, NULL, "the phone system did not answer in time");
	return api_error(r, 500, NULL, "the phone system could not answer (%s)", strerror(rc));
}

/* Fixed-size text from the core. */
static json_t *fixed_str(char *s, size_t cap)
{
	s[cap - 1] = '\0';
	return api_jstr(s);
}
#define FSTR(field) fixed_str((field), sizeof(field))

/* ---- registrations ------------------------------------------------------------ */

static int cmp_aor(const void *a, const void *b)
{
	return strcmp(((const struct live_binding *)a)->aor, ((const struct live_binding *)b)->aor);
}

/* How many extensions have at least one binding among b[0..n). Sorts a
 * copy of the numbers only. */
static size_t distinct_aors(const struct live_binding *b, size_t n)
{
	if (n == 0)
		return 0;
	struct live_binding *k = malloc(n * sizeof *k);
	if (!k)
		return 0;
	for (size_t i = 0; i < n; i++)
		memcpy(k[i].aor, b[i].aor, sizeof k[i].aor);
	qsort(k, n, sizeof *k, cmp_aor);
	size_t d = 1;
	for (size_t i = 1; i < n; i++)
		d += strcmp(k[i].aor, k[i - 1].aor) != 0;
	free(k);
	return d;
}

int api_live_regs_json(const struct live_ops *live, size_t max, json_t **out)
{
	*out = NULL;
	if (!live || !live->registrations)
		return ENOTSUP;
	struct live_binding *b = calloc(LIVE_REGS_MAX, sizeof *b);
	if (!b)
		return ENOMEM;
	size_t n = 0, total = 0;
	int rc = live->registrations(live->ctx, b, LIVE_REGS_MAX, &n, &total);
	if (rc != 0) {
		free(b);
		return rc;
	}
	if (n > LIVE_REGS_MAX)
		n = LIVE_REGS_MAX;
	for (size_t i = 0; i < n; i++)
		b[i].aor[sizeof b[i].aor - 1] = '\0';
	json_t *a = json_array();
	for (size_t i = 0; a && i < n && i < max; i++)
		json_array_append_new(a, json_pack("{s:o, s:o, s:o, s:o, s:o, s:I}", "extension", FSTR(b[i].aor),
						   "contact", FSTR(b[i].contact), "source", FSTR(b[i].source),
						   "transport", FSTR(b[i].transport), "user_agent",
						   FSTR(b[i].user_agent), "expires_at", (json_int_t)b[i].expires_at));
	size_t ext = distinct_aors(b, n);
	free(b);
	*out = a ? json_pack("{s:o, s:I, s:I}", "items", a, "total", (json_int_t)total, "extensions", (json_int_t)ext)
		 : NULL;
	return *out ? 0 : ENOMEM;
}

int api_regs_list(struct api_req *r)
{
	json_t *o;
	int rc = api_live_regs_json(r->srv->live, LIVE_REGS_MAX, &o);
	if (rc != 0)
		return api_live_error(r, rc);
	return api_reply_json(r, 200, o);
}

/* ---- bans ------------------------------------------------------------------------ */

int api_bans_list(struct api_req *r)
{
	const struct live_ops *live = r->srv->live;
	struct live_ban *b = calloc(LIVE_BANS_MAX, sizeof *b);
	if (!b)
		return api_error(r, 500, NULL, "out of memory");
	size_t n = 0;
	int rc = live->bans(live->ctx, b, LIVE_BANS_MAX, &n);
	if (rc != 0) {
		free(b);
		return api_live_error(r, rc);
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n && i < LIVE_BANS_MAX; i++)
		json_array_append_new(a, json_pack("{s:o, s:I, s:I}", "addr", FSTR(b[i].addr), "until",
						   (json_int_t)b[i].until, "failures", (json_int_t)b[i].failures));
	free(b);
	return api_reply_json(r, 200, json_pack("{s:o}", "items", a));
}

int api_bans_lift(struct api_req *r)
{
	const char *addr = r->params[0];
	size_t len = strlen(addr);
	if (len == 0 || len >= sizeof ((struct live_ban *)0)->addr ||
	    strspn(addr, "0123456789abcdefABCDEF.:/") != len)
		return api_error(r, 400, "addr", "addr: an IPv4 address or an IPv6 /64 prefix as listed");
	const struct live_ops *live = r->srv->live;
	int rc = live->ban_lift(live->ctx, addr);
	if (rc == ENOENT)
		return api_error(r, 404, "addr", "%s is not banned", addr);
	if (rc == EINVAL)
		return api_error(r, 400, "addr", "addr: an IPv4 address or an IPv6 /64 prefix as listed");
	if (rc != 0)
		return api_live_error(r, rc);
	log_notice("http: %s lifted the ban on %s", r->sess.user, addr);
	return api_reply_empty(r, 204);
}

/* ---- calls ------------------------------------------------------------------------- */

static json_t *call_json(struct live_call *c)
{
	/* The id as text: JavaScript numbers lose integers past 2^53. */
	char id[24];
	snprintf(id, sizeof id, "%llu", (unsigned long long)c->id);
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:o, s:{s:o, s:b}, s:{s:o, s:b}}", "id", id, "caller",
			 FSTR(c->caller), "callee", FSTR(c->callee), "dialed", FSTR(c->dialed), "state",
			 FSTR(c->state), "start_at", (json_int_t)c->start_ms, "answer_at",
			 c->answer_ms ? json_integer(c->answer_ms) : json_null(), "a", "codec", FSTR(c->codec_a),
			 "srtp", c->srtp_a != 0, "b", "codec", FSTR(c->codec_b), "srtp", c->srtp_b != 0);
}

int api_live_calls_json(const struct live_ops *live, size_t max, json_t **out)
{
	*out = NULL;
	if (!live || !live->calls)
		return ENOTSUP;
	struct live_call *c = calloc(LIVE_CALLS_MAX, sizeof *c);
	if (!c)
		return ENOMEM;
	size_t n = 0, total = 0;
	int rc = live->calls(live->ctx, c, LIVE_CALLS_MAX, &n, &total);
	if (rc != 0) {
		free(c);
		return rc;
	}
	json_t *a = json_array();
	for (size_t i = 0; a && i < n && i < LIVE_CALLS_MAX && i < max; i++)
		json_array_append_new(a, call_json(&c[i]));
	free(c);
	*out = a ? json_pack("{s:o, s:I}", "items", a, "total", (json_int_t)total) : NULL;
	return *out ? 0 : ENOMEM;
}

int api_calls_list(struct api_req *r)
{
	json_t *o;
	int rc = api_live_calls_json(r->srv->live, LIVE_CALLS_MAX, &o);
	if (rc != 0)
		return api_live_error(r, rc);
	return api_reply_json(r, 200, o);
}

int api_calls_hangup(struct api_req *r)
{
	const char *s = r->params[0];
	size_t len = strlen(s);
	/* Ids are what GET /calls lists: 1 to 20 digits without a sign. */
	unsigned long long id = 0;
	bool ok = len >= 1 && len <= 20 && strspn(s, "0123456789") == len;
	for (size_t i = 0; ok && i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (id > (UINT64_MAX - d) / 10)
			ok = false;
		else
			id = id * 10 + d;
	}
	if (!ok || id == 0)
		return api_error(r, 404, "id", "no call %.24s", s);
	const struct live_ops *live = r->srv->live;
	if (!live->call_hangup)
		return api_live_error(r, ENOTSUP);
	int rc = live->call_hangup(live->ctx, (uint64_t)id);
	if (rc == ENOENT || rc == EINVAL)
		return api_error(r, 404, "id", "no call %llu", id);
	if (rc != 0)
		return api_live_error(r, rc);
	log_notice("http: %s hung up call %llu", r->sess.user, id);
	return api_reply_empty(r, 204);
}

/* ---- counters ----------------------------------------------------------------------- */

int api_live_stats_json(const struct live_ops *live, json_t **out)
{
	*out = NULL;
	if (!live || !live->stats)
		return ENOTSUP;
	struct live_stats st = { 0 };
	int rc = live->stats(live->ctx, &st);
	if (rc != 0)
		return rc;
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "registrations",
			      (json_int_t)st.registrations, "calls_active", (json_int_t)st.calls_active,
			      "call_setups", (json_int_t)st.call_setups, "calls_answered",
			      (json_int_t)st.calls_answered, "messages", (json_int_t)st.messages, "sip_rx",
			      (json_int_t)st.sip_rx, "sip_rx_bad", (json_int_t)st.sip_rx_bad, "auth_failures",
			      (json_int_t)st.auth_failures, "rtp_rx_packets", (json_int_t)st.rtp_rx_packets,
			      "rtp_tx_packets", (json_int_t)st.rtp_tx_packets, "rtp_lost_packets",
			      (json_int_t)st.rtp_lost_packets, "media_legs", (json_int_t)st.media_legs,
			      "media_tick_max_us", (json_int_t)st.media_tick_max_us);
	if (!o)
		return ENOMEM;
	/* The machine's load beside the core's own counters: what the
	 * dashboard shows as system load. */
	double load[3];
	if (getloadavg(load, 3) == 3)
		json_object_set_new(o, "load", json_pack("[f, f, f]", round(load[0] * 100) / 100,
							 round(load[1] * 100) / 100, round(load[2] * 100) / 100));
	*out = o;
	return 0;
}

int api_stats_get(struct api_req *r)
{
	json_t *o;
	int rc = api_live_stats_json(r->srv->live, &o);
	if (rc != 0)
		return api_live_error(r, rc);
	return api_reply_json(r, 200, o);
}
