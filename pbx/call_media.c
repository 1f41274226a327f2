/*
 * call_media.c: offer/answer for the B2BUA's legs and what the media engine
 * is told about them.
 *
 * The callee side is offered the caller's codecs first, then every other
 * codec we do, each group in the order of the setting codec_order (codecs
 * it leaves out are never used): when the callee picks one the caller
 * offered, the caller is answered with that same codec and the engine
 * forwards packets untouched (the fast path); otherwise it transcodes.
 * Calls the PBX answers itself take the first of codec_order the phone
 * offers.
 */
#include "core_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "db.h"
#include "log.h"

/* The codecs of db.h's codec_order as the SDP code knows them. */
static const enum sdp_codec codec_of[DB_CODEC_COUNT] = {
	[DB_CODEC_OPUS] = SDP_CODEC_OPUS, [DB_CODEC_PCMU] = SDP_CODEC_PCMU, [DB_CODEC_PCMA] = SDP_CODEC_PCMA,
};

int call_sdp_parse(const struct sip_msg *m, struct sdp_session *s)
{
	if (m->body.len == 0)
		return ENOENT;
	const struct sip_hdr *ct = sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE);
	if (ct) {
		struct slice v = ct->value;
		size_t n = 0;
		while (n < v.len && v.p[n] != ';' && v.p[n] != ' ' && v.p[n] != '\t')
			n++;
		if (!slice_ieq_cstr(slice_make(v.p, n), "application/sdp"))
			return ENOENT;
	}
	return sdp_parse(m->body, s) == 0 ? 0 : EBADMSG;
}

bool call_sdp_is_hold(const struct sdp_session *s)
{
	for (size_t i = 0; i < s->nmedia; i++) {
		const struct sdp_media *m = &s->media[i];
		if (m->kind != SDP_MEDIA_AUDIO || m->port == 0)
			continue;
		const struct sdp_conn *cn = sdp_media_conn(s, m);
		return (sdp_media_dir(s, m) & SDP_DIR_RECV) == 0 || (cn && cn->null);
	}
	return false;
}

const struct sdp_media *call_sdp_video(const struct sdp_session *s)
{
	for (size_t i = 0; i < s->nmedia; i++)
		if (s->media[i].kind == SDP_MEDIA_VIDEO && s->media[i].port != 0)
			return &s->media[i];
	return NULL;
}

/* A numeric local address a phone can send media to: the address its SIP
 * came in on, or, when that is unknown or a wildcard, the one the kernel
 * would route from towards the phone. */
static int media_local(const struct sip_dest *d, struct sockaddr_storage *out)
{
	*out = d->local;
	bool unspec = out->ss_family == 0;
	if (out->ss_family == AF_INET)
		unspec = ((struct sockaddr_in *)out)->sin_addr.s_addr == htonl(INADDR_ANY);
	else if (out->ss_family == AF_INET6)
		unspec = IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)out)->sin6_addr);
	if (!unspec)
		return 0;
	int fd = socket(d->peer.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	socklen_t len = sizeof *out;
	int rc = 0;
	if (connect(fd, (const struct sockaddr *)&d->peer, sip_addr_len(&d->peer)) != 0 ||
	    getsockname(fd, (struct sockaddr *)out, &len) != 0)
		rc = errno;
	close(fd);
	return rc;
}

struct media_slot *call_slot_new(struct core *c, struct call *call, int side, const struct sip_dest *d,
				 media_leg_id near)
{
	struct media_slot *ms = calloc(1, sizeof *ms);
	if (!ms)
		return NULL;
	struct sockaddr_storage local;
	int err = media_local(d, &local);
	if (err == 0)
		err = media_leg_new(c->media, &local, near, (uint64_t)(uintptr_t)ms, &ms->id, &ms->port);
	if (err) {
		log_warn("call: no media port: %s", strerror(err));
		free(ms);
		return NULL;
	}
	sip_addr_host(&local, ms->addr, sizeof ms->addr);
	ms->call = call;
	ms->side = side;
	if (call)
		call->media_open++;
	ms->next = c->slots;
	if (ms->next)
		ms->next->prev = ms;
	c->slots = ms;
	return ms;
}

void call_slot_release(struct core *c, struct media_slot *ms)
{
	if (ms->prev)
		ms->prev->next = ms->next;
	else
		c->slots = ms->next;
	if (ms->next)
		ms->next->prev = ms->prev;
	free(ms);
}

void call_slot_free(struct core *c, struct media_slot *ms)
{
	if (!ms || ms->closing)
		return;
	ms->closing = true;
	if (media_leg_free(c->media, ms->id) != 0) {
		/* The engine no longer knows it: no CLOSED will come. */
		if (ms->call && ms->call->media_open)
			ms->call->media_open--;
		call_slot_release(c, ms);
	}
}

void call_slot_move(struct media_slot *ms, struct call *to, int side)
{
	if (ms->call && ms->call->media_open)
		ms->call->media_open--;
	ms->call = to;
	ms->side = side;
	if (to)
		to->media_open++;
}

static uint32_t codec_pref_srtp(const struct config_ext *e)
{
	return e && (e->flags & EXT_F_REQUIRE_SRTP) ? SDP_SRTP_REQUIRED : SDP_SRTP_OPTIONAL;
}

static void local_init(struct sdp_local *l, const struct media_slot *ms)
{
	memset(l, 0, sizeof *l);
	l->dtmf = true;
	l->addr = ms->addr;
	l->audio_port = ms->port;
	l->dir = SDP_DIR_UNSET;
	l->ptime = 20;
}

static bool codec_allowed(const struct config *cfg, enum sdp_codec codec)
{
	for (size_t i = 0; i < cfg->ncodecs; i++)
		if (codec_of[cfg->codecs[i]] == codec)
			return true;
	return false;
}

/* Add codec when the codec_order setting allows it. */
static void local_add(const struct config *cfg, struct sdp_local *l, enum sdp_codec codec)
{
	if (!codec_allowed(cfg, codec) || l->ncodecs >= SDP_MAX_CODECS)
		return;
	for (size_t i = 0; i < l->ncodecs; i++)
		if (l->codecs[i] == codec)
			return;
	l->codecs[l->ncodecs++] = codec;
}

/* Every codec of codec_order, in its order (after those added before). */
static void local_add_ours(const struct config *cfg, struct sdp_local *l)
{
	for (size_t i = 0; i < cfg->ncodecs; i++)
		local_add(cfg, l, codec_of[cfg->codecs[i]]);
}

/* The codecs of offer m that codec_order allows, in codec_order's order:
 * offered to the other side first so that it can pick one the offerer
 * has too (no transcoding). */
static void local_add_offered(const struct config *cfg, struct sdp_local *l, const struct sdp_media *m)
{
	for (size_t i = 0; i < cfg->ncodecs; i++)
		for (size_t j = 0; j < m->nfmt; j++)
			if (sdp_fmt_codec(&m->fmt[j]) == codec_of[cfg->codecs[i]])
				local_add(cfg, l, codec_of[cfg->codecs[i]]);
}

static const struct sdp_media *first_audio(const struct sdp_session *s)
{
	for (size_t i = 0; i < s->nmedia; i++)
		if (s->media[i].kind == SDP_MEDIA_AUDIO && s->media[i].port != 0)
			return &s->media[i];
	return NULL;
}

/* The engine's view of one negotiated audio line. */
static void neg_params(const struct sdp_neg_media *nm, struct media_leg_params *p)
{
	memset(p, 0, sizeof *p);
	char host[64];
	if (nm->remote_conn.present && nm->remote_conn.numeric && !nm->remote_conn.null &&
	    dlg_copy(host, sizeof host, nm->remote_conn.addr)) {
		uint16_t port = nm->remote_port;
		if (nm->remote_conn.family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->remote;
			if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
				s6->sin6_family = AF_INET6;
				s6->sin6_port = htons(port);
				p->remote_rtcp = p->remote;
				((struct sockaddr_in6 *)&p->remote_rtcp)->sin6_port = htons(nm->remote_rtcp_port);
			}
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&p->remote;
			if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
				s4->sin_family = AF_INET;
				s4->sin_port = htons(port);
				p->remote_rtcp = p->remote;
				((struct sockaddr_in *)&p->remote_rtcp)->sin_port = htons(nm->remote_rtcp_port);
			}
		}
	}
	p->rtcp_mux = nm->rtcp_mux;
	p->latch = true;
	p->codec = nm->codec;
	p->pt = nm->pt;
	p->clock = nm->clock;
	p->channels = nm->channels;
	p->dtmf = nm->dtmf;
	p->dtmf_pt = nm->dtmf_pt;
	p->dtmf_clock = nm->dtmf_clock;
	uint32_t pt = nm->remote_ptime;
	p->ptime = (pt == 10 || pt == 20 || pt == 30 || pt == 40 || pt == 60) ? pt : 20;
	p->dir = nm->dir;
	if (nm->remote_hold)
		p->dir = (enum sdp_dir)(p->dir & ~SDP_DIR_SEND);
	p->srtp = nm->srtp;
	p->suite = nm->suite;
	memcpy(p->tx_key, nm->local_key, sizeof p->tx_key);
	memcpy(p->rx_key, nm->remote_key, sizeof p->rx_key);
}

static int slot_apply(struct core *c, struct media_slot *ms, const struct sdp_neg_media *nm)
{
	neg_params(nm, &ms->params);
	ms->params_set = true;
	return media_leg_set(c->media, ms->id, &ms->params);
}

static int dup_buf(const struct sip_buf *b, char **out, size_t *len)
{
	if (!sip_buf_ok(b))
		return ENOSPC;
	char *p = malloc(b->len + 1);
	if (!p)
		return ENOMEM;
	memcpy(p, b->p, b->len);
	p[b->len] = '\0';
	*out = p;
	*len = b->len;
	return 0;
}

int call_media_fork_offer(struct core *c, struct call *call, const struct sdp_session *a_offer)
{
	const struct config *cfg = c->cfg;
	struct sdp_local l;
	local_init(&l, call->fork_ms);
	const struct sdp_media *am = a_offer ? first_audio(a_offer) : NULL;
	bool a_srtp = false;
	if (!a_offer && call->a->ms->params_set) {
		/* A transfer: the caller side is connected already; offer its codec first. */
		local_add(cfg, &l, call->a->ms->params.codec);
		a_srtp = call->a->ms->params.srtp;
	}
	if (am) {
		local_add_offered(cfg, &l, am);
		if (l.ncodecs == 0)
			return ENOTSUP; /* the caller could not be answered whatever the callee takes */
		a_srtp = am->proto_id == SDP_PROTO_RTP_SAVP || am->ncrypto > 0;
	}
	local_add_ours(cfg, &l);
	if (a_offer && call->vid[1] && call_sdp_video(a_offer)) {
		/* The caller's video m-line, offered on our relay port. */
		l.video_port = call->vid[1]->port;
		l.video_peer = call_sdp_video(a_offer);
	}
	l.srtp = call->callee && (call->callee->flags & EXT_F_REQUIRE_SRTP) ? SDP_SRTP_REQUIRED
		 : a_srtp ? SDP_SRTP_OPTIONAL : SDP_SRTP_OFF;
	if (sdp_origin_init(&call->fork_origin, 0) != 0)
		return EIO;
	char buf[4096];
	struct sip_buf b;
	sip_buf_init(&b, buf, sizeof buf);
	int rc = sdp_offer_make(&l, &call->fork_origin, &call->fork_offer, &b);
	if (rc)
		return rc;
	free(call->fork_sdp);
	call->fork_sdp = NULL;
	return dup_buf(&b, &call->fork_sdp, &call->fork_sdp_len);
}

int call_media_answered(struct core *c, struct call *call, struct leg *b, const struct sip_msg *resp,
			const struct sdp_session *a_offer, char **sdp, size_t *sdp_len)
{
	struct sdp_session *ans = c->sdp_tmp[1];
	struct sdp_neg bneg, aneg;
	if (call_sdp_parse(resp, ans) != 0) {
		log_info("call %llu: the answer from %s has no usable SDP", (unsigned long long)call->id,
			 b->ext ? b->ext->number : "?");
		return 488;
	}
	int rc = sdp_answer_apply(&call->fork_offer, ans, &bneg);
	if (rc || bneg.audio < 0 || !bneg.media[bneg.audio].accepted) {
		log_info("call %llu: the callee's answer does not fit our offer (%s)", (unsigned long long)call->id,
			 rc ? strerror(rc) : "audio refused");
		return 488;
	}
	const struct sdp_neg_media *bm = &bneg.media[bneg.audio];
	b->origin = call->fork_origin;
	b->offer = call->fork_offer;
	if (!a_offer) {
		/* A transfer: the caller side keeps its description; connect. */
		if (slot_apply(c, b->ms, bm) != 0 || media_bridge(c->media, call->a->ms->id, b->ms->id) != 0)
			return 500;
		call->cdr[1].srtp = bm->srtp;
		b->held_by_peer = bm->remote_hold;
		return 0;
	}

	struct sdp_local l;
	local_init(&l, b->ms);
	l.addr = call->a->ms->addr;
	l.audio_port = call->a->ms->port;
	l.local_order = true;
	local_add(c->cfg, &l, bm->codec);
	local_add_ours(c->cfg, &l);
	l.srtp = codec_pref_srtp(call->caller);
	const struct sdp_neg_media *bv = NULL;
	for (size_t i = 0; i < bneg.nmedia; i++)
		if (bneg.media[i].kind == SDP_MEDIA_VIDEO && bneg.media[i].accepted)
			bv = &bneg.media[i];
	if (bv && call->vid[0]) {
		/* Video only where the callee took it, with the formats it took. */
		l.video_port = call->vid[0]->port;
		l.video_peer = &ans->media[bv->offer_index];
	}
	rc = sdp_answer_make(a_offer, &l, &aneg);
	if (rc) {
		log_info("call %llu: nothing in the caller's offer we can answer (%s)", (unsigned long long)call->id,
			 strerror(rc));
		return 488;
	}
	char buf[4096];
	struct sip_buf sb;
	sip_buf_init(&sb, buf, sizeof buf);
	if (sdp_origin_init(&call->a->origin, 0) != 0 ||
	    sdp_answer_write(&sb, a_offer, &aneg, &l, &call->a->origin) != 0 || dup_buf(&sb, sdp, sdp_len) != 0)
		return 500;
	const struct sdp_neg_media *am = &aneg.media[aneg.audio];
	if (slot_apply(c, b->ms, bm) != 0 || slot_apply(c, call->a->ms, am) != 0 ||
	    media_bridge(c->media, call->a->ms->id, b->ms->id) != 0) {
		free(*sdp);
		*sdp = NULL;
		return 500;
	}
	call->cdr[0].srtp = am->srtp;
	call->cdr[1].srtp = bm->srtp;
	const struct sdp_neg_media *av = NULL;
	for (size_t i = 0; i < aneg.nmedia; i++)
		if (aneg.media[i].kind == SDP_MEDIA_VIDEO && aneg.media[i].accepted)
			av = &aneg.media[i];
	if (av && bv && call->vid[0] && call->vid[1]) {
		struct media_slot *v[2] = { call->vid[0], call->vid[1] };
		const struct sdp_neg_media *nv[2] = { av, bv };
		for (int i = 0; i < 2; i++) {
			neg_params(nv[i], &v[i]->params);
			v[i]->params.raw = true;
			v[i]->params_set = true;
			media_leg_set(c->media, v[i]->id, &v[i]->params);
		}
		if (media_bridge(c->media, v[0]->id, v[1]->id) == 0)
			log_info("call %llu: video relayed", (unsigned long long)call->id);
	}
	b->held_by_peer = bm->remote_hold;
	call->a->held_by_peer = am->remote_hold;
	log_info("call %llu: answered, %s%s <-> %s%s", (unsigned long long)call->id, sdp_codec_info(am->codec)->name,
		 am->srtp ? "/SRTP" : "", sdp_codec_info(bm->codec)->name, bm->srtp ? "/SRTP" : "");
	return 0;
}

int call_media_answer_local(struct core *c, struct leg *l, const struct sdp_session *offer, char **sdp,
			    size_t *sdp_len)
{
	struct sdp_local loc;
	struct sdp_neg neg;
	local_init(&loc, l->ms);
	/* The codec in use first (a re-INVITE keeps it), then codec_order's. */
	loc.local_order = true;
	if (l->ms->params_set && l->ms->params.codec != SDP_CODEC_UNKNOWN)
		local_add(c->cfg, &loc, l->ms->params.codec);
	local_add_ours(c->cfg, &loc);
	loc.srtp = codec_pref_srtp(l->ext);
	if (l->holding_peer)
		loc.dir = SDP_DIR_SENDONLY;
	int rc = sdp_answer_make(offer, &loc, &neg);
	if (rc)
		return 488;
	bool fresh = !l->ms->params_set;
	if (fresh && sdp_origin_init(&l->origin, 0) != 0)
		return 500;
	char buf[4096];
	struct sip_buf sb;
	sip_buf_init(&sb, buf, sizeof buf);
	if (sdp_answer_write(&sb, offer, &neg, &loc, &l->origin) != 0 || dup_buf(&sb, sdp, sdp_len) != 0)
		return 500;
	const struct sdp_neg_media *nm = &neg.media[neg.audio];
	if (slot_apply(c, l->ms, nm) != 0) {
		free(*sdp);
		*sdp = NULL;
		return 500;
	}
	l->held_by_peer = nm->remote_hold;
	if (l->call)
		l->call->cdr[l->is_a ? 0 : 1].srtp = nm->srtp;
	return 0;
}

int call_media_reoffer(struct core *c, struct leg *l, enum sdp_dir dir, char **sdp, size_t *sdp_len)
{
	struct sdp_local loc;
	local_init(&loc, l->ms);
	if (l->ms->params_set)
		local_add(c->cfg, &loc, l->ms->params.codec);
	local_add_ours(c->cfg, &loc);
	loc.srtp = l->ms->params.srtp ? SDP_SRTP_REQUIRED : SDP_SRTP_OFF;
	if (l->ms->params.srtp && !(l->ext && (l->ext->flags & EXT_F_REQUIRE_SRTP)))
		loc.srtp = SDP_SRTP_OPTIONAL;
	loc.dir = dir;
	char buf[4096];
	struct sip_buf sb;
	sip_buf_init(&sb, buf, sizeof buf);
	int rc = sdp_offer_make(&loc, &l->origin, &l->offer, &sb);
	if (rc)
		return rc;
	return dup_buf(&sb, sdp, sdp_len);
}

int call_media_reanswer(struct core *c, struct leg *l, const struct sip_msg *resp)
{
	struct sdp_session *ans = c->sdp_tmp[1];
	struct sdp_neg neg;
	if (call_sdp_parse(resp, ans) != 0)
		return EBADMSG;
	int rc = sdp_answer_apply(&l->offer, ans, &neg);
	if (rc || neg.audio < 0 || !neg.media[neg.audio].accepted)
		return rc ? rc : ENOTSUP;
	return slot_apply(c, l->ms, &neg.media[neg.audio]);
}
