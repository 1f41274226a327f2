/*
 * media_leg.c: the packet path of one leg, run by its media thread.
 *
 * A packet received on a leg is demultiplexed (RTP or RTCP), unprotected
 * when the leg is SRTP, counted as life for the timeout, used for latching,
 * fed to the RFC 3550 statistics and, when it is a telephone-event, to the
 * DTMF receiver; audio is also fed to the leg's recording when it has one
 * (media_record.c). Then it goes where the leg's path says: back to the leg
 * (echo), to the bridged leg untouched (raw), rewritten in place and sent in
 * the same recvmmsg batch (relay: payload type, SSRC, sequence, timestamp;
 * protected again for an SRTP peer), into the transcoder, which the tick
 * empties, or into its conference room's mixer (media_room.c).
 *
 * Everything a leg sends goes through its struct tx_stream, so the phone
 * sees one SSRC with a continuous sequence and timestamp whether the audio
 * comes from the other phone, a transcoder, a tone, a prompt, a room's mix
 * or itself.
 */
#include "media_priv.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sip_addr.h"

#define TONE_RATE 8000
#define TONE_AMPLITUDE 8000.0 /* about -12 dBFS */
#define TONE_RAMP 40          /* samples (5 ms) faded in and out per beep */
#define NTP_UNIX_OFFSET 2208988800u

/* ------------------------------------------------------------- helpers */

/* 0.0.0.0 or :: (RFC 2543 hold), or no address at all */
static bool sa_unspecified(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (a->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
	return true;
}

static unsigned leg_dir(const struct leg *l)
{
	return l->p.dir == SDP_DIR_UNSET ? SDP_DIR_SENDRECV : (unsigned)l->p.dir & 3u;
}

static uint32_t leg_ptime(const struct leg *l)
{
	return l->p.ptime ? l->p.ptime : MEDIA_TICK_MS;
}

static uint32_t leg_clock(const struct leg *l)
{
	if (l->p.clock)
		return l->p.clock;
	uint32_t c = codec_rtp_clock(l->p.codec);
	return c ? c : 8000;
}

/* Whether RTP may go to the leg now. */
static bool can_send(const struct leg *l)
{
	return l->set && l->have_dst && (leg_dir(l) & SDP_DIR_SEND);
}

bool leg_can_send(const struct leg *l)
{
	return can_send(l);
}

/* A tone or a prompt holds back everything else the leg would be sent. */
static bool busy(const struct leg *l)
{
	return l->tone_on || l->play;
}

bool leg_hears(const struct leg *l)
{
	return can_send(l) && !busy(l);
}

uint32_t leg_rtp_clock(const struct leg *l)
{
	return leg_clock(l);
}

static uint64_t src_key(enum leg_src kind, uint32_t gen, uint32_t sub)
{
	return (uint64_t)kind << 56 | (uint64_t)(gen & 0xffffffu) << 32 | sub;
}

/* ----------------------------------------------------------- tx stream */

void tx_stream_init(struct tx_stream *s)
{
	uint32_t r[3] = { 0, 0, 0 };
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		uint64_t n = media_now_ns();
		r[0] = (uint32_t)(n * 2654435761u);
		r[1] = (uint32_t)(n >> 17);
		r[2] = (uint32_t)n;
	}
	memset(s, 0, sizeof *s);
	s->ssrc = r[0];
	s->seq = (uint16_t)r[1]; /* the first packet is seq + 1: random (RFC 3550 5.1) */
	s->ts = r[2];
}

/* Sequence and timestamp for an input packet of source key; *first when
 * it starts the source (the caller sets the marker bit). */
static void tx_map(struct tx_stream *s, uint64_t key, uint16_t in_seq, uint32_t in_ts,
		   uint32_t clock, uint32_t ptime_ms, uint64_t now, uint16_t *seq, uint32_t *ts,
		   bool *first)
{
	*first = false;
	if (key != s->src) {
		uint32_t gap = 0;
		if (s->sent) {
			uint64_t el = (now - s->last_ms) * clock / 1000;
			uint64_t min = (uint64_t)ptime_ms * clock / 1000;
			gap = (uint32_t)(el < min ? min : el);
		}
		s->seq_off = (uint16_t)(s->seq + 1u - in_seq);
		s->ts_off = s->ts + gap - in_ts;
		s->src = key;
		*first = true;
	}
	*seq = (uint16_t)(in_seq + s->seq_off);
	*ts = in_ts + s->ts_off;
	if (!s->sent || rtp_seq_diff(s->seq, *seq) > 0) {
		s->seq = *seq;
		s->ts = *ts;
	}
	s->sent = true;
	s->last_ms = now;
}

static void hdr_rewrite(uint8_t *buf, bool marker, uint8_t pt, uint16_t seq, uint32_t ts,
			uint32_t ssrc)
{
	buf[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	buf[4] = (uint8_t)(ts >> 24);
	buf[5] = (uint8_t)(ts >> 16);
	buf[6] = (uint8_t)(ts >> 8);
	buf[7] = (uint8_t)ts;
	buf[8] = (uint8_t)(ssrc >> 24);
	buf[9] = (uint8_t)(ssrc >> 16);
	buf[10] = (uint8_t)(ssrc >> 8);
	buf[11] = (uint8_t)ssrc;
}

/* ----------------------------------------------------------------- send */

static void count_tx(struct leg *to, size_t len, size_t payload_len)
{
	to->st.tx_packets++;
	to->st.tx_bytes += len;
	to->tx_octets += payload_len;
	to->sent_since_report = true;
	ctr_add(&to->t->ctr.tx_packets, 1);
}

/* Protect in place for an SRTP leg; false when the packet must go. */
static bool protect(struct leg *to, uint8_t *buf, size_t *len, size_t cap)
{
	if (!to->srtp_tx)
		return !to->p.srtp; /* keys that failed to load: send nothing in clear */
	int rc = srtp_ctx_protect_rtp(to->srtp_tx, buf, len, cap);
	if (rc && rc != EALREADY)
		log_debug("media: leg %u: SRTP protect: %s", to->id, strerror(rc));
	return rc == 0;
}

void leg_flush(struct media_thread *t)
{
	struct send_batch *b = &t->out;
	unsigned off = 0;
	/* bounded: each round sends at least one packet or gives up */
	while (off < b->n) {
		int n = sendmmsg(b->fd, b->msg + off, b->n - off, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_debug("media: sendmmsg: %s", n < 0 ? strerror(errno) : "nothing sent");
			off++; /* skip the packet that failed, try the rest */
			continue;
		}
		off += (unsigned)n;
	}
	b->n = 0;
}

/* Queue a packet that lives in a receive buffer (sent at the end of the
 * batch, so the buffer must stay untouched until leg_flush). */
static void send_batched(struct leg *to, uint8_t *buf, size_t len, size_t payload_len)
{
	struct media_thread *t = to->t;
	struct send_batch *b = &t->out;
	if (!protect(to, buf, &len, MEDIA_PKT_MAX))
		return;
	if (b->n && (b->fd != to->rtp_fd || b->n == MEDIA_BATCH))
		leg_flush(t);
	b->fd = to->rtp_fd;
	b->iov[b->n] = (struct iovec){ .iov_base = buf, .iov_len = len };
	b->msg[b->n].msg_hdr = (struct msghdr){
		.msg_name = &to->dst,
		.msg_namelen = sip_addr_len(&to->dst),
		.msg_iov = &b->iov[b->n],
		.msg_iovlen = 1,
	};
	b->n++;
	count_tx(to, len, payload_len);
}

/* Send now (tick work: transcoder, tone, prompt, room); buf has cap bytes. */
static void send_now(struct leg *to, uint8_t *buf, size_t len, size_t cap, size_t payload_len)
{
	if (!protect(to, buf, &len, cap))
		return;
	if (sendto(to->rtp_fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&to->dst,
		   sip_addr_len(&to->dst)) < 0) {
		log_debug("media: leg %u: send: %s", to->id, strerror(errno));
		return;
	}
	count_tx(to, len, payload_len);
}

void leg_send_frame(struct leg *l, enum leg_src kind, uint32_t sub, uint16_t in_seq, uint32_t in_ts,
		    const uint8_t *payload, size_t len, uint64_t now)
{
	if (len == 0 || len > CODEC_MAX_PAYLOAD)
		return;
	uint8_t buf[RTP_HDR_MIN + CODEC_MAX_PAYLOAD + SRTP_CTX_TRAILER];
	uint16_t seq;
	uint32_t ts;
	bool first;
	tx_map(&l->tx, src_key(kind, l->gen, sub), in_seq, in_ts, leg_clock(l), MEDIA_TICK_MS, now,
	       &seq, &ts, &first);
	memcpy(buf + RTP_HDR_MIN, payload, len);
	buf[0] = RTP_VERSION << 6;
	hdr_rewrite(buf, first, l->p.pt, seq, ts, l->tx.ssrc);
	send_now(l, buf, RTP_HDR_MIN + len, sizeof buf, len);
}

/* ------------------------------------------------------------ latching */

static void latch_apply(struct leg *l)
{
	if (!l->set || !l->p.latch || !l->latched)
		return;
	l->dst = l->latch_addr;
	l->have_dst = true;
	if (l->p.rtcp_mux) {
		l->dst_rtcp = l->dst;
	} else if (!l->rtcp_from_peer) {
		l->dst_rtcp = l->latch_addr;
		sip_addr_set_port(&l->dst_rtcp, (uint16_t)(sip_addr_port(&l->latch_addr) + 1));
	}
	if (!l->latch_reported) {
		struct media_event ev;
		media_leg_event(l, MEDIA_EV_LATCHED, &ev);
		ev.addr = l->latch_addr;
		media_thread_post(l->t, &ev);
		l->latch_reported = true;
	}
}

/* An RTP packet (authenticated when the leg is SRTP) came from src. */
static void latch(struct leg *l, const struct sockaddr_storage *src)
{
	if (!l->latched) {
		l->latched = true;
		l->latch_addr = *src;
		l->latch_authed = l->srtp_rx != NULL;
		l->latch_reported = false;
		l->cand_count = 0;
		latch_apply(l);
		return;
	}
	if (sip_addr_equal(src, &l->latch_addr)) {
		l->cand_count = 0;
		return;
	}
	if (l->cand_count && sip_addr_equal(src, &l->cand)) {
		l->cand_count++;
	} else {
		l->cand = *src;
		l->cand_count = 1;
	}
	if (l->cand_count < MEDIA_LATCH_STEADY)
		return;
	/* the phone moved (NAT rebinding, another interface) */
	l->latch_addr = l->cand;
	l->latch_authed = l->srtp_rx != NULL;
	l->latch_reported = false;
	l->rtcp_from_peer = false;
	l->cand_count = 0;
	latch_apply(l);
}

/* ---------------------------------------------------------- parameters */

static int srtp_keep(struct srtp_ctx **c, bool on, enum sdp_srtp_suite suite, const uint8_t *key,
		     enum srtp_ctx_dir dir)
{
	if (!on) {
		srtp_ctx_free(*c);
		*c = NULL;
		return 0;
	}
	if (*c && srtp_ctx_same(*c, suite, key))
		return 0;
	srtp_ctx_free(*c);
	*c = NULL;
	return srtp_ctx_new(c, suite, key, dir);
}

int leg_apply_params(struct leg *l, const struct media_leg_params *old, bool was_set)
{
	struct media_thread *t = l->t;
	const struct media_leg_params *p = &l->p;
	l->have_dst = p->remote.ss_family && sip_addr_port(&p->remote) &&
		      !sa_unspecified(&p->remote);
	if (l->have_dst) {
		l->dst = p->remote;
		if (p->rtcp_mux) {
			l->dst_rtcp = p->remote;
		} else if (p->remote_rtcp.ss_family && sip_addr_port(&p->remote_rtcp)) {
			l->dst_rtcp = p->remote_rtcp;
		} else {
			l->dst_rtcp = p->remote;
			sip_addr_set_port(&l->dst_rtcp, (uint16_t)(sip_addr_port(&p->remote) + 1));
		}
	}
	l->rtcp_from_peer = false;
	int rc = srtp_keep(&l->srtp_tx, p->srtp, p->suite, p->tx_key, SRTP_CTX_TX);
	int rc2 = srtp_keep(&l->srtp_rx, p->srtp, p->suite, p->rx_key, SRTP_CTX_RX);
	if (rc || rc2)
		log_err("media: leg %u: SRTP keys refused (%s): the leg stays silent", l->id,
			strerror(rc ? rc : rc2));
	/* an address learnt before the keys were known proves nothing */
	if (p->srtp && l->latched && !l->latch_authed)
		l->latched = false;
	if (p->latch)
		latch_apply(l);
	if (was_set && (old->codec != p->codec || old->clock != p->clock)) {
		/* a new stream for the statistics, and a tone in the new codec */
		if (l->rs_on && l->rs.received)
			l->lost_base += rtp_stats_lost(&l->rs);
		l->rs_on = false;
		leg_tone_stop(l, true);
	}
	/* a prompt goes on in a new codec, or stops when it cannot; so does a
	 * recording */
	leg_play_codec(l);
	leg_rec_codec(l);
	l->last_rx_ms = t->now_ms;
	l->timed_out = false;
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint32_t)t->now_ns;
	/* RFC 3550 6.2: randomised, here by +-25% around MEDIA_RTCP_MS */
	l->rtcp_due = t->now_ms + MEDIA_RTCP_MS * 3 / 4 + r % (MEDIA_RTCP_MS / 2);
	return rc ? rc : rc2;
}

void leg_path_update(struct leg *l)
{
	struct leg *p = l->peer;
	enum leg_path path = LEG_PATH_NONE;
	if (p && l->set && p->set) {
		if (l->p.raw || p->p.raw)
			path = LEG_PATH_RAW;
		else if (l->p.codec == p->p.codec && leg_clock(l) == leg_clock(p) &&
			 l->p.channels == p->p.channels)
			path = LEG_PATH_RELAY;
		else
			path = LEG_PATH_XCODE;
	}
	xcode_free(l->xc);
	l->xc = NULL;
	if (path == LEG_PATH_XCODE) {
		struct xcode_side in = {
			.codec = l->p.codec, .pt = l->p.pt, .dtmf = l->p.dtmf,
			.dtmf_pt = l->p.dtmf_pt, .dtmf_clock = l->p.dtmf_clock, .ptime = l->p.ptime,
		};
		struct xcode_side to = {
			.codec = p->p.codec, .pt = p->p.pt, .dtmf = p->p.dtmf,
			.dtmf_pt = p->p.dtmf_pt, .dtmf_clock = p->p.dtmf_clock, .ptime = p->p.ptime,
		};
		int rc = xcode_new(&l->xc, &in, &to);
		if (rc) {
			log_warn("media: leg %u: no transcoder %d -> %d: %s", l->id, l->p.codec,
				 p->p.codec, strerror(rc));
			l->xc = NULL;
			path = LEG_PATH_NONE;
		} else {
			l->xc_serial++;
			l->xc_seq = 0;
			l->xc_due = l->t->now_ms + leg_ptime(p);
		}
	}
	l->path = path;
	media_leg_tick_update(l);
}

/* ----------------------------------------------------------- receiving */

static void life(struct leg *l)
{
	l->last_rx_ms = l->t->now_ms;
	l->timed_out = false;
}

static void stats_update(struct leg *l, const struct rtp_hdr *h)
{
	uint32_t clock = l->p.clock;
	if (!clock)
		return;
	if (!l->rs_on || h->ssrc != l->rx_ssrc) {
		if (l->rs_on && l->rs.received)
			l->lost_base += rtp_stats_lost(&l->rs);
		rtp_stats_init(&l->rs);
		l->rx_ssrc = h->ssrc;
		l->rs_on = true;
	}
	rtp_stats_update(&l->rs, h->seq, h->ts, rtp_clock_units(l->t->now_ns, clock));
	uint32_t j = (uint32_t)((uint64_t)rtp_stats_jitter(&l->rs) * 1000 / clock);
	if (j > l->max_jitter_ms)
		l->max_jitter_ms = j;
}

static void dtmf_report(struct leg *l, const struct dtmf_digit *d)
{
	struct media_event ev;
	media_leg_event(l, MEDIA_EV_DTMF, &ev);
	ev.digit = d->digit;
	media_thread_post(l->t, &ev);
}

static void dtmf_in(struct leg *l, const struct rtp_hdr *h)
{
	struct dtmf_digit d[2];
	unsigned n = 0;
	l->dtmf_last_ms = l->t->now_ms;
	if (dtmf_rx_packet(&l->drx, h->ts, h->payload, h->payload_len, d, &n))
		return;
	for (unsigned i = 0; i < n && i < 2; i++)
		dtmf_report(l, &d[i]);
}

/* Rewrite a packet of l in place for to and queue it (relay and echo). */
static void relay(struct leg *l, struct leg *to, enum leg_src kind, uint8_t *buf, size_t len,
		  const struct rtp_hdr *h, bool is_dtmf)
{
	if (!can_send(to) || busy(to))
		return;
	uint8_t pt;
	if (is_dtmf) {
		if (!to->p.dtmf)
			return;
		pt = to->p.dtmf_pt;
		uint32_t in_c = l->p.dtmf_clock, out_c = to->p.dtmf_clock;
		if (in_c && out_c && in_c != out_c && h->payload_len >= DTMF_PAYLOAD_LEN) {
			/* the event's duration in the other telephone-event clock */
			uint8_t *d = buf + h->hdr_len + 2;
			uint64_t dur = ((uint64_t)d[0] << 8 | d[1]) * out_c / in_c;
			if (dur > 0xffff)
				dur = 0xffff;
			d[0] = (uint8_t)(dur >> 8);
			d[1] = (uint8_t)dur;
		}
	} else if (h->pt == l->p.pt) {
		pt = to->p.pt;
	} else {
		return; /* comfort noise or anything not negotiated */
	}
	uint16_t seq;
	uint32_t ts;
	bool first;
	tx_map(&to->tx, src_key(kind, to->gen, h->ssrc), h->seq, h->ts, leg_clock(to),
	       leg_ptime(to), l->t->now_ms, &seq, &ts, &first);
	hdr_rewrite(buf, h->marker || first, pt, seq, ts, to->tx.ssrc);
	send_batched(to, buf, len, h->payload_len);
}

static void rtcp_in(struct leg *l, uint8_t *buf, size_t len, const struct sockaddr_storage *src,
		    bool rtcp_sock)
{
	if (l->srtp_rx) {
		if (srtp_ctx_unprotect_rtcp(l->srtp_rx, buf, &len))
			return;
	} else if (l->set && l->p.srtp) {
		return;
	}
	if (!l->set)
		return;
	life(l);
	if (rtcp_sock && l->p.latch && !l->p.rtcp_mux) {
		l->dst_rtcp = *src;
		l->rtcp_from_peer = true;
	}
	struct rtcp_iter it;
	struct rtcp_pkt pkt;
	rtcp_iter_init(&it, buf, len, false);
	/* bounded: each packet is at least 4 bytes of a datagram */
	for (unsigned n = 0; n < MEDIA_PKT_MAX / 4 && rtcp_next(&it, &pkt) == 0; n++)
		if (pkt.type == RTCP_SR && l->rs_on && pkt.ssrc == l->rx_ssrc)
			rtp_stats_note_sr(&l->rs, pkt.sr.ntp, l->t->now_ns);
	struct leg *to = l->peer;
	/* video keeps its feedback (PLI, FIR, NACK) end to end */
	if (l->path == LEG_PATH_RAW && to && to->set && to->have_dst) {
		if (to->srtp_tx) {
			if (srtp_ctx_protect_rtcp(to->srtp_tx, buf, &len, MEDIA_PKT_MAX))
				return;
		} else if (to->p.srtp) {
			return;
		}
		int fd = to->p.rtcp_mux ? to->rtp_fd : to->rtcp_fd;
		if (sendto(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&to->dst_rtcp,
			   sip_addr_len(&to->dst_rtcp)) < 0)
			log_debug("media: leg %u: RTCP send: %s", to->id, strerror(errno));
	}
}

static void rx_one(struct leg *l, uint8_t *buf, size_t len, const struct sockaddr_storage *src,
		   bool rtcp_sock)
{
	if (rtcp_sock || rtp_is_rtcp(buf, len)) {
		rtcp_in(l, buf, len, src, rtcp_sock);
		return;
	}
	struct rtp_hdr h;
	if (rtp_parse(buf, len, &h))
		return;
	if (l->srtp_rx) {
		if (srtp_ctx_unprotect_rtp(l->srtp_rx, buf, &len) || rtp_parse(buf, len, &h))
			return;
	} else if (l->set && l->p.srtp) {
		return;
	}
	latch(l, src);
	l->st.rx_packets++;
	l->st.rx_bytes += len;
	ctr_add(&l->t->ctr.rx_packets, 1);
	if (!l->set)
		return;
	life(l);
	if (!(leg_dir(l) & SDP_DIR_RECV))
		return;
	stats_update(l, &h);
	bool is_dtmf = !l->p.raw && l->p.dtmf && h.pt == l->p.dtmf_pt;
	if (is_dtmf)
		dtmf_in(l, &h);
	else if (l->rec)
		leg_rec_put(l, &h); /* copied: relay below rewrites buf */
	if (l->room) {
		/* digits are the core's (reported above), not the room's audio */
		if (!is_dtmf)
			room_put(l, &h);
		return;
	}
	if (l->echo) {
		if (l->p.raw) {
			if (can_send(l))
				send_batched(l, buf, len, h.payload_len);
		} else {
			relay(l, l, LEG_SRC_ECHO, buf, len, &h, is_dtmf);
		}
		return;
	}
	switch (l->path) {
	case LEG_PATH_NONE:
		break;
	case LEG_PATH_RAW:
		if (can_send(l->peer))
			send_batched(l->peer, buf, len, h.payload_len);
		break;
	case LEG_PATH_RELAY:
		relay(l, l->peer, LEG_SRC_RELAY, buf, len, &h, is_dtmf);
		break;
	case LEG_PATH_XCODE:
		xcode_put(l->xc, &h, h.payload, h.payload_len, l->t->now_ms);
		break;
	}
}

void leg_readable(struct leg *l, bool rtcp)
{
	struct media_thread *t = l->t;
	for (unsigned i = 0; i < MEDIA_BATCH; i++) {
		t->rx_iov[i] = (struct iovec){ .iov_base = t->rx_buf[i], .iov_len = MEDIA_RX_MAX };
		t->rx_msg[i].msg_hdr = (struct msghdr){
			.msg_name = &t->rx_src[i],
			.msg_namelen = sizeof t->rx_src[i],
			.msg_iov = &t->rx_iov[i],
			.msg_iovlen = 1,
		};
	}
	int n = recvmmsg(rtcp ? l->rtcp_fd : l->rtp_fd, t->rx_msg, MEDIA_BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		if (t->rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC)
			continue;
		rx_one(l, t->rx_buf[i], t->rx_msg[i].msg_len, &t->rx_src[i], rtcp);
	}
	leg_flush(t);
}

/* ------------------------------------------------------------------ tone */

struct tone_seg {
	uint16_t hz;    /* 0: silence */
	uint16_t ms;
};

/* Each ends in 400 ms of silence: a phone plays what its jitter buffer holds
 * only while packets keep coming, so without it the last beep is lost when
 * the PBX hangs up right after the tone. */
static const struct tone_seg tone_confirm[] = {
	{ 600, 100 }, { 0, 50 }, { 800, 100 }, { 0, 50 }, { 1000, 100 }, { 0, 400 },
};
static const struct tone_seg tone_error[] = {
	{ 400, 250 }, { 0, 150 }, { 400, 250 }, { 0, 400 },
};

static const struct tone_seg *tone_segs(enum media_tone tone, size_t *n)
{
	if (tone == MEDIA_TONE_ERROR) {
		*n = sizeof tone_error / sizeof tone_error[0];
		return tone_error;
	}
	*n = sizeof tone_confirm / sizeof tone_confirm[0];
	return tone_confirm;
}

static uint32_t tone_samples(enum media_tone tone)
{
	size_t n;
	const struct tone_seg *s = tone_segs(tone, &n);
	uint32_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += s[i].ms * (TONE_RATE / 1000);
	return total;
}

/* n samples of the tone from sample pos on (silence past its end). */
static void tone_fill(enum media_tone tone, uint32_t pos, int16_t *pcm, size_t n)
{
	size_t nseg;
	const struct tone_seg *segs = tone_segs(tone, &nseg);
	for (size_t i = 0; i < n; i++) {
		uint32_t at = pos + (uint32_t)i, start = 0;
		double v = 0;
		for (size_t k = 0; k < nseg; k++) {
			uint32_t len = segs[k].ms * (TONE_RATE / 1000);
			if (at < start + len) {
				if (segs[k].hz) {
					uint32_t off = at - start, edge = off < len - off ? off : len - off;
					double gain = edge < TONE_RAMP ? (double)edge / TONE_RAMP : 1.0;
					v = TONE_AMPLITUDE * gain *
					    sin(2.0 * M_PI * segs[k].hz * off / TONE_RATE);
				}
				break;
			}
			start += len;
		}
		pcm[i] = (int16_t)lrint(v);
	}
}

void leg_tone_stop(struct leg *l, bool report)
{
	if (!l->tone_on)
		return;
	codec_enc_free(l->tone_enc);
	l->tone_enc = NULL;
	l->tone_on = false;
	media_leg_tick_update(l);
	if (report) {
		struct media_event ev;
		media_leg_event(l, MEDIA_EV_TONE_DONE, &ev);
		media_thread_post(l->t, &ev);
	}
}

void leg_tone_start(struct leg *l, enum media_tone tone)
{
	/* one TONE_DONE per media_tone: an interrupted tone reports too; a
	 * prompt is interrupted as well (and reports) */
	leg_tone_stop(l, true);
	leg_play_stop(l, true);
	int rc = EINVAL;
	if (l->set && !l->p.raw)
		rc = codec_enc_new(&l->tone_enc, l->p.codec, TONE_RATE);
	if (rc) {
		struct media_event ev;
		log_debug("media: leg %u: no tone in codec %d: %s", l->id, l->p.codec, strerror(rc));
		l->tone_enc = NULL;
		media_leg_event(l, MEDIA_EV_TONE_DONE, &ev);
		media_thread_post(l->t, &ev);
		return;
	}
	l->tone_on = true;
	l->tone = tone;
	l->tone_pos = 0;
	l->tone_seq = 0;
	l->tone_ts = 0;
	l->tone_serial++;
	l->tone_due = l->t->now_ms;
	media_leg_tick_update(l);
}

/* One packet time of the tone; false when it is over. */
static bool tone_step(struct leg *l, uint64_t now)
{
	uint32_t ptime = leg_ptime(l);
	size_t n = (size_t)ptime * (TONE_RATE / 1000);
	if (n > CODEC_MAX_FRAME)
		n = CODEC_MAX_FRAME;
	int16_t pcm[CODEC_MAX_FRAME];
	tone_fill(l->tone, l->tone_pos, pcm, n);
	l->tone_pos += (uint32_t)n;
	if (can_send(l)) {
		uint8_t buf[RTP_HDR_MIN + CODEC_MAX_PAYLOAD + SRTP_CTX_TRAILER];
		int plen = codec_encode(l->tone_enc, pcm, n, buf + RTP_HDR_MIN, CODEC_MAX_PAYLOAD);
		if (plen > 0) {
			uint16_t seq;
			uint32_t ts;
			bool first;
			tx_map(&l->tx, src_key(LEG_SRC_TONE, l->gen, l->tone_serial), l->tone_seq++,
			       l->tone_ts, leg_clock(l), ptime, now, &seq, &ts, &first);
			buf[0] = RTP_VERSION << 6;
			hdr_rewrite(buf, first, l->p.pt, seq, ts, l->tx.ssrc);
			send_now(l, buf, RTP_HDR_MIN + (size_t)plen, sizeof buf, (size_t)plen);
		}
	}
	l->tone_ts += (uint32_t)((uint64_t)ptime * leg_clock(l) / 1000);
	return l->tone_pos < tone_samples(l->tone);
}

/* ------------------------------------------------------------ the tick */

/* One transcoder output time: what xcode_tick gives goes to the peer. */
static void xcode_step(struct leg *l, struct leg *to, uint64_t due)
{
	struct xcode_pkt out[4];
	char digit = 0;
	/* digits are reported from the received stream (dtmf_in), not here */
	size_t n = xcode_tick(l->xc, due, out, 4, &digit);
	for (size_t i = 0; i < n && i < 4; i++) {
		if (out[i].pt == to->p.pt)
			ctr_add(&l->t->ctr.transcoded_frames, 1);
		if (!can_send(to) || busy(to) || out[i].len > CODEC_MAX_PAYLOAD)
			continue;
		uint8_t buf[RTP_HDR_MIN + CODEC_MAX_PAYLOAD + SRTP_CTX_TRAILER];
		uint16_t seq;
		uint32_t ts;
		bool first;
		tx_map(&to->tx, src_key(LEG_SRC_XCODE, to->gen, l->xc_serial), l->xc_seq++, out[i].ts,
		       leg_clock(to), leg_ptime(to), due, &seq, &ts, &first);
		memcpy(buf + RTP_HDR_MIN, out[i].payload, out[i].len);
		buf[0] = RTP_VERSION << 6;
		hdr_rewrite(buf, out[i].marker || first, out[i].pt, seq, ts, to->tx.ssrc);
		send_now(to, buf, RTP_HDR_MIN + out[i].len, sizeof buf, out[i].len);
	}
}

void leg_tick(struct leg *l, uint64_t now)
{
	if (l->xc && l->peer) {
		uint32_t ptime = leg_ptime(l->peer);
		for (unsigned k = 0; l->xc_due <= now && k < MEDIA_CATCHUP_MAX; k++) {
			xcode_step(l, l->peer, l->xc_due);
			l->xc_due += ptime;
		}
		if (l->xc_due <= now) /* too far behind: drop the backlog */
			l->xc_due = now + ptime;
	}
	if (l->tone_on) {
		uint32_t ptime = leg_ptime(l);
		for (unsigned k = 0; l->tone_due <= now && k < MEDIA_CATCHUP_MAX; k++) {
			l->tone_due += ptime;
			if (!tone_step(l, now)) {
				leg_tone_stop(l, true);
				break;
			}
		}
		if (l->tone_on && l->tone_due <= now)
			l->tone_due = now + ptime;
	}
	if (l->play)
		leg_play_tick(l, now);
	/* a tone or prompt playing to the leg does not stop its recording */
	if (l->rec)
		leg_rec_tick(l);
}

/* ------------------------------------------------------------ the sweep */

static uint64_t ntp_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t sec = (uint64_t)ts.tv_sec + NTP_UNIX_OFFSET;
	uint64_t frac = ((uint64_t)ts.tv_nsec << 32) / 1000000000u;
	return sec << 32 | frac;
}

static void rtcp_send(struct leg *l, uint64_t now_ms, uint64_t now_ns)
{
	if (!l->have_dst || l->p.raw)
		return;
	uint8_t buf[512 + SRTP_CTX_TRAILER];
	size_t cap = 512, off = 0, n = 0;
	struct rtcp_rb rb;
	unsigned nrb = 0;
	if (l->rs_on && l->rs.received) {
		rtp_stats_report(&l->rs, l->rx_ssrc, now_ns, &rb);
		nrb = 1;
	}
	int rc;
	if (l->sent_since_report) {
		uint64_t el = (now_ms - l->tx.last_ms) * leg_clock(l) / 1000;
		struct rtcp_sr_info sr = {
			.ntp = ntp_now(),
			.rtp_ts = l->tx.ts + (uint32_t)el,
			.pkt_count = (uint32_t)l->st.tx_packets,
			.octet_count = (uint32_t)l->tx_octets,
		};
		rc = rtcp_build_sr(l->tx.ssrc, &sr, &rb, nrb, buf, cap, &n);
	} else {
		rc = rtcp_build_rr(l->tx.ssrc, &rb, nrb, buf, cap, &n);
	}
	if (rc)
		return;
	off = n;
	if (rtcp_build_sdes_cname(l->tx.ssrc, l->t->me->cname, buf + off, cap - off, &n))
		return;
	off += n;
	if (l->srtp_tx) {
		if (srtp_ctx_protect_rtcp(l->srtp_tx, buf, &off, sizeof buf))
			return;
	} else if (l->p.srtp) {
		return;
	}
	int fd = l->p.rtcp_mux ? l->rtp_fd : l->rtcp_fd;
	if (sendto(fd, buf, off, MSG_DONTWAIT, (struct sockaddr *)&l->dst_rtcp,
		   sip_addr_len(&l->dst_rtcp)) < 0)
		log_debug("media: leg %u: RTCP send: %s", l->id, strerror(errno));
	l->sent_since_report = false;
}

void leg_sweep(struct leg *l, uint64_t now_ms, uint64_t now_ns)
{
	if (!l->set)
		return;
	const struct media_engine_cfg *cfg = &l->t->me->cfg;
	bool hold = !(leg_dir(l) & SDP_DIR_RECV) ||
		    (l->p.remote.ss_family && sa_unspecified(&l->p.remote));
	uint32_t tmo = hold ? cfg->hold_timeout_ms : cfg->timeout_ms;
	if (tmo && !l->timed_out && now_ms - l->last_rx_ms >= tmo) {
		struct media_event ev;
		l->timed_out = true;
		media_leg_event(l, MEDIA_EV_TIMEOUT, &ev);
		media_thread_post(l->t, &ev);
	}
	struct dtmf_digit d;
	if (l->drx.active && now_ms - l->dtmf_last_ms >= MEDIA_DTMF_FLUSH_MS &&
	    dtmf_rx_flush(&l->drx, &d) == 0)
		dtmf_report(l, &d);
	int64_t lost = l->lost_base + (l->rs_on ? rtp_stats_lost(&l->rs) : 0);
	if (lost > l->lost_counted) {
		ctr_add(&l->t->ctr.lost_packets, (uint64_t)(lost - l->lost_counted));
		l->lost_counted = lost;
	}
	if (now_ms >= l->rtcp_due) {
		rtcp_send(l, now_ms, now_ns);
		uint32_t r = (uint32_t)(now_ns >> 10) * 2654435761u;
		l->rtcp_due = now_ms + MEDIA_RTCP_MS * 3 / 4 + r % (MEDIA_RTCP_MS / 2);
	}
}

void leg_stats(struct leg *l, struct media_leg_stats *out)
{
	*out = l->st;
	out->codec = l->p.codec;
	out->lost = l->lost_base + (l->rs_on ? rtp_stats_lost(&l->rs) : 0);
	out->jitter_ms = 0;
	if (l->rs_on && l->p.clock)
		out->jitter_ms = (uint32_t)((uint64_t)rtp_stats_jitter(&l->rs) * 1000 / l->p.clock);
	out->max_jitter_ms = l->max_jitter_ms;
}

void leg_release(struct leg *l)
{
	leg_tone_stop(l, false);
	leg_play_stop(l, false);
	leg_rec_drop(l);
	xcode_free(l->xc);
	l->xc = NULL;
	srtp_ctx_free(l->srtp_tx);
	srtp_ctx_free(l->srtp_rx);
	l->srtp_tx = l->srtp_rx = NULL;
	explicit_bzero(l->p.tx_key, sizeof l->p.tx_key);
	explicit_bzero(l->p.rx_key, sizeof l->p.rx_key);
}
