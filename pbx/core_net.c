/*
 * core_net.c: the settings sip_port and rtp_port_min/max applied to the
 * running daemon.
 *
 * A new SIP port is opened next to the old one; the old one is kept
 * (draining: it still receives, and answers from the address a call was set
 * up on) until no call in progress talks through it, so nobody's call is
 * dropped, then closed. A port that cannot be opened leaves everything as
 * it was (logged; the web admin checks first and says so). New calls take
 * media ports from the new range at once; calls in progress keep theirs.
 * The codec order is read by call_media.c for each offer and answer.
 */
#include "core_priv.h"

#include <errno.h>
#include <string.h>

#include "call.h"
#include "live.h"
#include "log.h"
#include "media.h"

#define DRAIN_CHECK_MS 1000

/* Where pbxd is to listen under cfg: the --sip-listen addresses, each on
 * sip_port when it is set. */
static unsigned wanted(const struct core *c, const struct config *cfg, struct sockaddr_storage *out)
{
	for (unsigned i = 0; i < c->net.nstarted; i++) {
		out[i] = c->net.started[i];
		if (cfg->sip_port)
			sip_addr_set_port(&out[i], (uint16_t)cfg->sip_port);
	}
	return c->net.nstarted;
}

static void drain_fired(struct timer *t, void *arg)
{
	struct core *c = arg;
	(void)t;
	struct sip_listen_info li[SIP_TRANSPORT_MAX_LISTEN];
	size_t n = sip_transport_listening(c->tp, li, SIP_TRANSPORT_MAX_LISTEN);
	bool left = false;
	for (size_t i = 0; i < n; i++) {
		if (!li[i].draining)
			continue;
		if (calls_use_port(c, li[i].bound.ss_family, sip_addr_port(&li[i].bound)))
			left = true;
		else
			sip_transport_unlisten(c->tp, &li[i].bound);
	}
	if (left)
		timer_start(&c->th, &c->net.drain, c->now_ms + DRAIN_CHECK_MS);
}

/* Open every address of want[] not open yet; on a failure close what this
 * call opened and return the error. */
static int open_wanted(struct core *c, const struct sockaddr_storage *want, unsigned nwant)
{
	struct sip_listen_info li[SIP_TRANSPORT_MAX_LISTEN];
	size_t n = sip_transport_listening(c->tp, li, SIP_TRANSPORT_MAX_LISTEN);
	bool opened[CORE_MAX_LISTEN] = { false };
	int err = 0;
	unsigned i;
	for (i = 0; i < nwant; i++) {
		bool have = false;
		for (size_t j = 0; j < n; j++)
			have |= sip_addr_equal(&li[j].bound, &want[i]);
		if (have)
			continue;
		if ((err = sip_transport_listen(c->tp, &want[i])) != 0)
			break;
		opened[i] = true;
	}
	if (!err)
		return 0;
	char a[SIP_ADDRSTR_MAX];
	log_err("sip: cannot listen on %s: %s", sip_addr_str(&want[i], a, sizeof a), strerror(err));
	for (unsigned k = 0; k < i; k++)
		if (opened[k])
			sip_transport_unlisten(c->tp, &want[k]);
	return err;
}

int core_net_start(struct core *c, const struct core_opts *o)
{
	c->net.nstarted = o->nsip;
	memcpy(c->net.started, o->sip, sizeof o->sip[0] * o->nsip);
	c->net.rtp_lo = o->rtp_lo ? o->rtp_lo : 10000;
	c->net.rtp_hi = o->rtp_hi ? o->rtp_hi : 20000;
	timer_init(&c->net.drain, drain_fired, c);
	struct sockaddr_storage want[CORE_MAX_LISTEN];
	unsigned n = wanted(c, c->cfg, want);
	int err = open_wanted(c, want, n);
	if (err && c->cfg->sip_port) {
		/* A PBX on the ports it was started with beats none at all. */
		log_err("sip: the setting sip_port %u cannot be used; listening as started instead", c->cfg->sip_port);
		err = open_wanted(c, c->net.started, c->net.nstarted);
	}
	return err;
}

static void apply_rtp(struct core *c)
{
	/* Each end as set, or as started when not. */
	unsigned lo = c->cfg->rtp_port_min ? c->cfg->rtp_port_min : c->net.rtp_lo;
	unsigned hi = c->cfg->rtp_port_max ? c->cfg->rtp_port_max : c->net.rtp_hi;
	uint16_t cur_lo, cur_hi;
	if (!db_rtp_range_ok(lo, hi)) {
		log_err("media: RTP ports %u-%u (rtp_port_min, rtp_port_max) hold no even/odd pair; "
			"using %u-%u as started", lo, hi, c->net.rtp_lo, c->net.rtp_hi);
		lo = c->net.rtp_lo;
		hi = c->net.rtp_hi;
	}
	media_engine_ports(c->media, &cur_lo, &cur_hi);
	if (lo == cur_lo && hi == cur_hi)
		return;
	if (media_engine_set_ports(c->media, (uint16_t)lo, (uint16_t)hi) != 0)
		log_err("media: RTP ports %u-%u refused; keeping %u-%u", lo, hi, cur_lo, cur_hi);
	else
		log_notice("media: new calls take RTP ports %u-%u (calls in progress keep theirs)", lo, hi);
}

static void apply_sip(struct core *c)
{
	struct sockaddr_storage want[CORE_MAX_LISTEN];
	unsigned nwant = wanted(c, c->cfg, want);
	if (open_wanted(c, want, nwant) != 0)
		return; /* the old ports stay as they are */
	struct sip_listen_info li[SIP_TRANSPORT_MAX_LISTEN];
	size_t n = sip_transport_listening(c->tp, li, SIP_TRANSPORT_MAX_LISTEN);
	bool draining = false;
	for (size_t j = 0; j < n; j++) {
		bool keep = false;
		for (unsigned i = 0; i < nwant; i++)
			keep |= sip_addr_equal(&li[j].bound, &want[i]);
		if (keep == !li[j].draining)
			continue;
		char a[SIP_ADDRSTR_MAX];
		sip_addr_str(&li[j].bound, a, sizeof a);
		if (keep)
			log_notice("sip: %s is in use again", a);
		else
			log_notice("sip: %s closes when the calls set up through it have ended", a);
		sip_transport_set_draining(c->tp, &li[j].bound, !keep);
		draining |= !keep;
	}
	if (draining) {
		timer_stop(&c->th, &c->net.drain);
		drain_fired(&c->net.drain, c); /* closes at once what no call uses */
	}
}

void core_net_apply(struct core *c)
{
	if (c->media)
		apply_rtp(c);
	apply_sip(c);
}

void core_net_free(struct core *c)
{
	timer_stop(&c->th, &c->net.drain);
}

size_t core_sip_listening(struct core *c, struct sockaddr_storage *out, size_t max)
{
	struct sip_listen_info li[SIP_TRANSPORT_MAX_LISTEN];
	size_t n = sip_transport_listening(c->tp, li, SIP_TRANSPORT_MAX_LISTEN), k = 0;
	for (size_t i = 0; i < n && k < max; i++)
		if (!li[i].draining)
			out[k++] = li[i].bound;
	return k;
}

void core_net_describe(struct core *c, struct live_net *out)
{
	memset(out, 0, sizeof *out);
	struct sip_listen_info li[SIP_TRANSPORT_MAX_LISTEN];
	size_t n = sip_transport_listening(c->tp, li, SIP_TRANSPORT_MAX_LISTEN);
	for (size_t i = 0; i < n && i < LIVE_NET_MAX_LISTEN; i++) {
		sip_addr_str(&li[i].bound, out->sip[out->nsip], sizeof out->sip[0]);
		if (!li[i].draining && !out->sip_port)
			out->sip_port = sip_addr_port(&li[i].bound);
		out->nsip++;
	}
	for (unsigned i = 0; i < c->net.nstarted && i < LIVE_NET_MAX_LISTEN; i++)
		sip_addr_str(&c->net.started[i], out->started[out->nstarted++], sizeof out->started[0]);
	uint16_t lo, hi;
	media_engine_ports(c->media, &lo, &hi);
	out->rtp_lo = lo;
	out->rtp_hi = hi;
	out->rtp_lo_started = c->net.rtp_lo;
	out->rtp_hi_started = c->net.rtp_hi;
}
