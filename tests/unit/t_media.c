/*
 * t_media.c: the media engine on loopback with real UDP sockets. Plain
 * sockets in the test play the phones; the engine's legs sit between them.
 *
 * Covered: relay both ways with payload type and SSRC rewritten and the
 * sequence and timestamp continuous across a new incoming SSRC, a re-set
 * and a re-bridge; latching to where packets really come from and moving
 * after a steady change; sendonly, recvonly and inactive; the timeout (from
 * media_leg_set on, once, again after packets stop anew, none on hold);
 * DTMF reported once and forwarded with its payload type mapped (dropped
 * toward a leg without telephone-event); an SRTP leg bridged to a plain one
 * (the phone protects with libsrtp2 itself; a forged packet goes nowhere);
 * echo; tones (packets, their pitch, then TONE_DONE); RTCP reports (with
 * rtcp-mux, and SRTCP to a separate RTCP address); transcoding PCMU <->
 * PCMA and Opus <-> PCMU (a 1 kHz tone keeps its band); raw (video)
 * legs forwarded untouched; a leg on IPv6; CLOSED not lost when the core
 * leaves the event queue full; CLOSED with statistics, and the error
 * returns. Bridging legs of two threads: the leg moves with its stream
 * (SSRC and sequence continuous both ways, statistics, later commands),
 * a tone keeps playing across the move, and packets flowing both ways
 * while legs move back and forth are neither lost (beyond a bound) nor
 * doubled; CLOSED once per leg.
 *
 * Every wait is poll() with a bound; nothing sleeps to hide a race.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <opus.h>
#include <srtp2/srtp.h>

#include "dtmf.h"
#include "g711.h"
#include "media.h"
#include "rtp.h"
#include "srtp_ctx.h"
#include "unit.h"

#define TWO_PI 6.283185307179586
#define WAIT_MS 2000 /* bound for anything that should come at once */

/* ------------------------------------------------------------- helpers */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Ports per test binary run, apart from other tests running at once and
 * below the usual ephemeral range (32768 on), where the phones' sockets and
 * everybody else's land. */
static uint16_t port_base(void)
{
	return (uint16_t)(20000 + (getpid() % 120) * 100);
}

static struct media_engine *eng(unsigned threads, uint32_t timeout_ms, uint32_t hold_ms)
{
	struct media_engine_cfg cfg = {
		.threads = threads,
		.port_lo = port_base(),
		.port_hi = (uint16_t)(port_base() + 99),
		.timeout_ms = timeout_ms,
		.hold_timeout_ms = hold_ms,
	};
	struct media_engine *me = NULL;
	assert_int_equal(media_engine_start(&me, &cfg), 0);
	assert_non_null(me);
	return me;
}

struct phone {
	int fd;
	struct sockaddr_storage addr;
	uint16_t port;
};

static void phone_open(struct phone *p)
{
	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(p->fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(p->fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof p->addr;
	memset(&p->addr, 0, sizeof p->addr);
	assert_int_equal(getsockname(p->fd, (struct sockaddr *)&p->addr, &len), 0);
	p->port = ntohs(((struct sockaddr_in *)&p->addr)->sin_port);
}

static void phone_close(struct phone *p)
{
	close(p->fd);
	p->fd = -1;
}

static struct sockaddr_in lo(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return a;
}

static void send_raw(struct phone *p, uint16_t port, const uint8_t *buf, size_t len)
{
	struct sockaddr_in a = lo(port);
	assert_int_equal(sendto(p->fd, buf, len, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)len);
}

static size_t mk_rtp(uint8_t *buf, size_t cap, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
		     uint32_t ssrc, const uint8_t *payload, size_t len)
{
	struct rtp_hdr h = { .pt = pt, .marker = marker, .seq = seq, .ts = ts, .ssrc = ssrc };
	size_t n = 0;
	assert_int_equal(rtp_build(&h, payload, len, buf, cap, &n), 0);
	return n;
}

static void send_rtp(struct phone *p, uint16_t port, uint8_t pt, uint16_t seq, uint32_t ts,
		     uint32_t ssrc, const uint8_t *payload, size_t len)
{
	uint8_t buf[1500];
	send_raw(p, port, buf, mk_rtp(buf, sizeof buf, pt, false, seq, ts, ssrc, payload, len));
}

/* One datagram within ms, or 0. */
static size_t phone_recv(struct phone *p, uint8_t *buf, size_t cap, int ms,
			 struct sockaddr_storage *from)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	struct sockaddr_storage f;
	socklen_t fl = sizeof f;
	ssize_t n = recvfrom(p->fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&f, &fl);
	if (n <= 0)
		return 0;
	if (from)
		*from = f;
	return (size_t)n;
}

/* An RTP packet within ms (RTCP on the same socket skipped), parsed into h
 * (pointing into buf); false when none came. */
static bool recv_rtp(struct phone *p, uint8_t *buf, size_t cap, int ms, struct rtp_hdr *h)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	for (;;) {
		uint64_t t = now_ms();
		if (t >= end)
			return false;
		size_t n = phone_recv(p, buf, cap, (int)(end - t), NULL);
		if (n == 0)
			return false;
		if (rtp_is_rtcp(buf, n))
			continue;
		assert_int_equal(rtp_parse(buf, n, h), 0);
		return true;
	}
}

/* Whatever is waiting is read and thrown away. */
static void phone_drain(struct phone *p)
{
	uint8_t buf[2048];
	while (phone_recv(p, buf, sizeof buf, 0, NULL))
		;
}

/* Events taken from the engine and not yet looked at. */
static struct media_event backlog[256];
static size_t nbacklog;

static void ev_take(struct media_engine *me, int ms)
{
	struct pollfd pfd = { .fd = media_event_fd(me), .events = POLLIN };
	if (poll(&pfd, 1, ms) <= 0)
		return;
	struct media_event ev[16];
	size_t n = media_events_take(me, ev, 16);
	for (size_t i = 0; i < n; i++) {
		assert_true(nbacklog < sizeof backlog / sizeof backlog[0]);
		backlog[nbacklog++] = ev[i];
	}
}

static bool ev_pop(enum media_ev_kind kind, media_leg_id leg, struct media_event *out)
{
	for (size_t i = 0; i < nbacklog; i++)
		if (backlog[i].kind == kind && backlog[i].leg == leg) {
			if (out)
				*out = backlog[i];
			memmove(&backlog[i], &backlog[i + 1], (nbacklog - i - 1) * sizeof backlog[0]);
			nbacklog--;
			return true;
		}
	return false;
}

/* Wait up to ms for an event of kind about leg. */
static bool ev_wait(struct media_engine *me, enum media_ev_kind kind, media_leg_id leg, int ms,
		    struct media_event *out)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	for (;;) {
		if (ev_pop(kind, leg, out))
			return true;
		uint64_t t = now_ms();
		if (t >= end)
			return false;
		ev_take(me, (int)(end - t));
	}
}

/* Collect events for ms. */
static void ev_settle(struct media_engine *me, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	for (uint64_t t; (t = now_ms()) < end;)
		ev_take(me, (int)(end - t));
}

static media_leg_id leg_new(struct media_engine *me, media_leg_id near, uint64_t cookie,
			    uint16_t *port)
{
	struct sockaddr_storage local;
	memset(&local, 0, sizeof local);
	struct sockaddr_in a = lo(0);
	memcpy(&local, &a, sizeof a);
	media_leg_id id = 0;
	assert_int_equal(media_leg_new(me, &local, near, cookie, &id, port), 0);
	assert_int_not_equal(id, 0);
	assert_int_equal(*port % 2, 0);
	return id;
}

static struct media_leg_params g711(const struct phone *ph, enum sdp_codec codec, uint8_t pt)
{
	struct media_leg_params p;
	memset(&p, 0, sizeof p);
	if (ph)
		p.remote = ph->addr;
	p.codec = codec;
	p.pt = pt;
	p.clock = 8000;
	p.channels = 1;
	p.dtmf = true;
	p.dtmf_pt = 101;
	p.dtmf_clock = 8000;
	p.ptime = 20;
	p.dir = SDP_DIR_SENDRECV;
	return p;
}

/* A leg freed reports CLOSED with its cookie; returns its statistics. */
static struct media_leg_stats leg_free(struct media_engine *me, media_leg_id id, uint64_t cookie)
{
	struct media_event ev;
	assert_int_equal(media_leg_free(me, id), 0);
	assert_true(ev_wait(me, MEDIA_EV_CLOSED, id, WAIT_MS, &ev));
	assert_int_equal(ev.cookie, cookie);
	return ev.stats;
}

/* A call: two phones, two bridged legs. */
struct call {
	struct media_engine *me;
	struct phone pa, pb;
	media_leg_id a, b;
	uint16_t port_a, port_b;
};

static void call_up(struct call *c, struct media_engine *me, const struct media_leg_params *pa,
		    const struct media_leg_params *pb)
{
	c->me = me;
	phone_open(&c->pa);
	phone_open(&c->pb);
	c->a = leg_new(me, 0, 1, &c->port_a);
	c->b = leg_new(me, c->a, 2, &c->port_b);
	struct media_leg_params x = *pa, y = *pb;
	x.remote = c->pa.addr;
	y.remote = c->pb.addr;
	assert_int_equal(media_leg_set(me, c->a, &x), 0);
	assert_int_equal(media_leg_set(me, c->b, &y), 0);
	assert_int_equal(media_bridge(me, c->a, c->b), 0);
}

static void call_down(struct call *c)
{
	leg_free(c->me, c->a, 1);
	leg_free(c->me, c->b, 2);
	phone_close(&c->pa);
	phone_close(&c->pb);
}

static void engine_stop(struct media_engine *me)
{
	media_engine_stop(me);
	nbacklog = 0;
}

/* ---------------------------------------------------------------- relay */

/* n packets from `from` to port, each one checked at `to`: payload intact,
 * pt as given, one SSRC, sequence +1 and timestamp +160 from *seq / *ts
 * (0 and first: take the first as the start). */
static void relay_check(struct phone *from, uint16_t port, struct phone *to, uint8_t in_pt,
			uint8_t out_pt, uint16_t in_seq, uint32_t in_ts, uint32_t in_ssrc,
			unsigned n, uint32_t *ssrc, uint16_t *seq, uint32_t *ts, bool *first,
			bool expect_marker)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t pl[160];
		for (size_t k = 0; k < sizeof pl; k++)
			pl[k] = (uint8_t)(i + k);
		send_rtp(from, port, in_pt, (uint16_t)(in_seq + i), in_ts + 160 * i, in_ssrc, pl,
			 sizeof pl);
		uint8_t buf[2048];
		struct rtp_hdr h;
		assert_true(recv_rtp(to, buf, sizeof buf, WAIT_MS, &h));
		assert_int_equal(h.pt, out_pt);
		assert_int_equal(h.payload_len, sizeof pl);
		assert_memory_equal(h.payload, pl, sizeof pl);
		assert_int_not_equal(h.ssrc, in_ssrc);
		if (*first) {
			*ssrc = h.ssrc;
			*first = false;
		} else {
			assert_int_equal(h.ssrc, *ssrc);
			assert_int_equal(h.seq, (uint16_t)(*seq + 1));
			if (i == 0) {
				/* a new source: at least one packet time later */
				assert_true(rtp_ts_diff(*ts, h.ts) >= 160);
				assert_true(rtp_ts_diff(*ts, h.ts) < 8000);
			} else {
				assert_int_equal(h.ts, *ts + 160);
			}
		}
		if (i == 0 && expect_marker)
			assert_true(h.marker);
		if (i > 0)
			assert_false(h.marker);
		*seq = h.seq;
		*ts = h.ts;
	}
}

static void test_relay(void **state)
{
	(void)state;
	struct media_engine *me = eng(2, 0, 0);
	struct call c;
	/* the same codec under two payload types */
	struct media_leg_params pa = g711(NULL, SDP_CODEC_PCMU, 0), pb = g711(NULL, SDP_CODEC_PCMU, 96);
	call_up(&c, me, &pa, &pb);

	uint32_t ssrc_b = 0, ssrc_a = 0, ts_b = 0, ts_a = 0;
	uint16_t seq_b = 0, seq_a = 0;
	bool first_b = true, first_a = true;
	relay_check(&c.pa, c.port_a, &c.pb, 0, 96, 1000, 5000, 0x1111, 20, &ssrc_b, &seq_b, &ts_b,
		    &first_b, true);
	relay_check(&c.pb, c.port_b, &c.pa, 96, 0, 7, 90000, 0x2222, 20, &ssrc_a, &seq_a, &ts_a,
		    &first_a, true);
	/* phone A restarts its stream: B still sees one continuous stream */
	relay_check(&c.pa, c.port_a, &c.pb, 0, 96, 40000, 123456789, 0x3333, 10, &ssrc_b, &seq_b,
		    &ts_b, &first_b, true);
	/* a re-set of A (as after a re-INVITE) changes nothing for B */
	struct media_leg_params again = pa;
	again.remote = c.pa.addr;
	assert_int_equal(media_leg_set(me, c.a, &again), 0);
	relay_check(&c.pa, c.port_a, &c.pb, 0, 96, 40010, 123456789 + 1600, 0x3333, 10, &ssrc_b,
		    &seq_b, &ts_b, &first_b, false);
	/* unbridged: nothing goes through */
	assert_int_equal(media_unbridge(me, c.b), 0);
	uint8_t pl[160] = { 0 }, buf[2048];
	struct rtp_hdr h;
	send_rtp(&c.pa, c.port_a, 0, 40020, 123456789 + 3200, 0x3333, pl, sizeof pl);
	assert_false(recv_rtp(&c.pb, buf, sizeof buf, 200, &h));
	/* bridged again: continuous, marked as a new source */
	assert_int_equal(media_bridge(me, c.b, c.a), 0);
	relay_check(&c.pa, c.port_a, &c.pb, 0, 96, 40021, 123456789 + 3360, 0x3333, 10, &ssrc_b,
		    &seq_b, &ts_b, &first_b, true);
	/* a payload type that was not negotiated (comfort noise) is not relayed */
	send_rtp(&c.pa, c.port_a, 13, 40031, 123456789 + 5000, 0x3333, pl, 1);
	assert_false(recv_rtp(&c.pb, buf, sizeof buf, 200, &h));

	struct media_totals tot;
	media_engine_totals(me, &tot);
	assert_int_equal(tot.legs, 2);
	assert_true(tot.rx_packets >= 72);
	assert_true(tot.tx_packets >= 70);

	struct media_leg_stats sa = leg_free(me, c.a, 1);
	assert_int_equal(sa.codec, SDP_CODEC_PCMU);
	assert_int_equal(sa.rx_packets, 20 + 10 + 10 + 1 + 10 + 1);
	assert_int_equal(sa.tx_packets, 20);
	assert_int_equal(sa.rx_bytes, 51 * 172 + 13);
	struct media_leg_stats sb = leg_free(me, c.b, 2);
	assert_int_equal(sb.rx_packets, 20);
	assert_int_equal(sb.tx_packets, 50);
	assert_int_equal(sb.lost, 0);
	media_engine_totals(me, &tot);
	assert_int_equal(tot.legs, 0);
	phone_close(&c.pa);
	phone_close(&c.pb);
	engine_stop(me);
}

/* -------------------------------------------------- bridge across threads */

static unsigned thread_of(struct media_engine *me, media_leg_id id)
{
	unsigned t = 0;
	assert_int_equal(media_leg_thread(me, id, &t), 0);
	return t;
}

/* After a leg is freed, no second CLOSED about it comes. */
static void no_more_closed(struct media_engine *me, const media_leg_id *ids, size_t n)
{
	ev_settle(me, 200);
	for (size_t i = 0; i < n; i++)
		assert_false(ev_pop(MEDIA_EV_CLOSED, ids[i], NULL));
}

/* The attended transfer: a (bridged to x) and b (bridged to y) were in two
 * calls on two threads; bridging a and b moves b to a's thread. Each phone
 * that stays sees its stream go on: same SSRC, next sequence number. */
static void test_bridge_threads(void **state)
{
	(void)state;
	struct media_engine *me = eng(2, 0, 0);
	struct phone pa, pb, px, py;
	phone_open(&pa);
	phone_open(&pb);
	phone_open(&px);
	phone_open(&py);
	uint16_t port_a, port_b, port_x, port_y;
	media_leg_id a = leg_new(me, 0, 1, &port_a), b = leg_new(me, 0, 2, &port_b);
	media_leg_id x = leg_new(me, a, 3, &port_x), y = leg_new(me, b, 4, &port_y);
	/* the least loaded thread each time: two threads */
	assert_int_not_equal(thread_of(me, a), thread_of(me, b));
	assert_int_equal(thread_of(me, x), thread_of(me, a));
	assert_int_equal(thread_of(me, y), thread_of(me, b));
	struct media_leg_params p = g711(&pa, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, a, &p), 0);
	p = g711(&px, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, x, &p), 0);
	p = g711(&py, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, y, &p), 0);
	struct media_leg_params pbp = g711(&pb, SDP_CODEC_PCMU, 96);
	assert_int_equal(media_leg_set(me, b, &pbp), 0);
	assert_int_equal(media_bridge(me, a, x), 0);
	assert_int_equal(media_bridge(me, b, y), 0);

	/* the two calls, each on its own thread */
	uint32_t ssrc_a = 0, ssrc_b = 0, ssrc_x = 0, ssrc_y = 0;
	uint32_t ts_a = 0, ts_b = 0, ts_x = 0, ts_y = 0;
	uint16_t seq_a = 0, seq_b = 0, seq_x = 0, seq_y = 0;
	bool first_a = true, first_b = true, first_x = true, first_y = true;
	relay_check(&px, port_x, &pa, 0, 0, 100, 1000, 0xaa01, 10, &ssrc_a, &seq_a, &ts_a, &first_a,
		    true);
	relay_check(&pa, port_a, &px, 0, 0, 200, 2000, 0xaa02, 10, &ssrc_x, &seq_x, &ts_x, &first_x,
		    true);
	relay_check(&py, port_y, &pb, 0, 96, 300, 3000, 0xbb01, 10, &ssrc_b, &seq_b, &ts_b, &first_b,
		    true);
	relay_check(&pb, port_b, &py, 96, 0, 400, 4000, 0xbb02, 10, &ssrc_y, &seq_y, &ts_y, &first_y,
		    true);

	/* the transfer: b moves to a's thread */
	assert_int_equal(media_bridge(me, a, b), 0);
	assert_int_equal(thread_of(me, b), thread_of(me, a));
	assert_int_not_equal(thread_of(me, y), thread_of(me, a));
	relay_check(&pa, port_a, &pb, 0, 96, 210, 2000 + 1600, 0xaa02, 10, &ssrc_b, &seq_b, &ts_b,
		    &first_b, true);
	relay_check(&pb, port_b, &pa, 96, 0, 410, 4000 + 1600, 0xbb02, 10, &ssrc_a, &seq_a, &ts_a,
		    &first_a, true);
	/* the phones that left hear nothing from the others any more */
	uint8_t pl[160] = { 0 }, buf[2048];
	struct rtp_hdr h;
	send_rtp(&px, port_x, 0, 110, 1000 + 1600, 0xaa01, pl, sizeof pl);
	send_rtp(&py, port_y, 0, 310, 3000 + 1600, 0xbb01, pl, sizeof pl);
	assert_false(recv_rtp(&pa, buf, sizeof buf, 200, &h));
	assert_false(recv_rtp(&pb, buf, sizeof buf, 10, &h));

	/* later commands reach b on its new thread: a new payload type */
	pbp.pt = 97;
	assert_int_equal(media_leg_set(me, b, &pbp), 0);
	relay_check(&pa, port_a, &pb, 0, 97, 220, 2000 + 3200, 0xaa02, 5, &ssrc_b, &seq_b, &ts_b,
		    &first_b, true);
	assert_int_equal(media_tone(me, b, MEDIA_TONE_CONFIRM), 0);
	assert_true(ev_wait(me, MEDIA_EV_TONE_DONE, b, WAIT_MS, NULL));
	phone_drain(&pb);

	/* statistics came along: b received 10 + 1 (before) and 10 (after) */
	struct media_leg_stats sb = leg_free(me, b, 2);
	assert_int_equal(sb.rx_packets, 20);
	assert_true(sb.tx_packets >= 10 + 10 + 5 + 20);
	struct media_leg_stats sa = leg_free(me, a, 1);
	assert_int_equal(sa.rx_packets, 10 + 10 + 5);
	assert_int_equal(sa.tx_packets, 20);
	leg_free(me, x, 3);
	leg_free(me, y, 4);
	const media_leg_id ids[] = { a, b, x, y };
	no_more_closed(me, ids, 4);
	struct media_totals tot;
	media_engine_totals(me, &tot);
	assert_int_equal(tot.legs, 0);
	phone_close(&pa);
	phone_close(&pb);
	phone_close(&px);
	phone_close(&py);
	engine_stop(me);
}

/* A tone playing on a leg goes on, packet after packet, on its new thread,
 * and reports TONE_DONE once. */
static void test_bridge_threads_tone(void **state)
{
	(void)state;
	struct media_engine *me = eng(2, 0, 0);
	struct phone pa, pb;
	phone_open(&pa);
	phone_open(&pb);
	uint16_t port_a, port_b;
	media_leg_id a = leg_new(me, 0, 1, &port_a), b = leg_new(me, 0, 2, &port_b);
	assert_int_not_equal(thread_of(me, a), thread_of(me, b));
	struct media_leg_params p = g711(&pa, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, a, &p), 0);
	p = g711(&pb, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, b, &p), 0);
	assert_int_equal(media_tone(me, b, MEDIA_TONE_CONFIRM), 0);
	uint8_t buf[2048];
	struct rtp_hdr h;
	uint16_t seq = 0;
	uint32_t ts = 0, ssrc = 0;
	unsigned pkts = 0;
	while (recv_rtp(&pb, buf, sizeof buf, 300, &h)) {
		if (pkts) {
			assert_int_equal(h.ssrc, ssrc);
			assert_int_equal(h.seq, (uint16_t)(seq + 1));
			/* the bridge makes a new source of the tone: the time
			 * between two packets may show there */
			assert_true(rtp_ts_diff(ts, h.ts) >= 160);
			assert_true(rtp_ts_diff(ts, h.ts) < 8000);
		}
		ssrc = h.ssrc;
		seq = h.seq;
		ts = h.ts;
		if (++pkts == 5)
			assert_int_equal(media_bridge(me, a, b), 0);
	}
	assert_int_equal(pkts, 40); /* 800 ms of tone with its silent tail */
	assert_true(ev_wait(me, MEDIA_EV_TONE_DONE, b, WAIT_MS, NULL));
	/* then the bridge: a's phone is heard, the stream goes on */
	bool first = false;
	relay_check(&pa, port_a, &pb, 0, 0, 1, 160, 0xa, 5, &ssrc, &seq, &ts, &first, true);
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_TONE_DONE, b, NULL));
	leg_free(me, a, 1);
	leg_free(me, b, 2);
	const media_leg_id ids[] = { a, b };
	no_more_closed(me, ids, 2);
	phone_close(&pa);
	phone_close(&pb);
	engine_stop(me);
}

/* What one phone heard during the flowing test. */
struct heard {
	unsigned pkts;
	bool any;
	uint16_t last_seq;
};

/* Read what waits at p: each packet's payload names its sender (0 = phone
 * A, 1 = phone B) and index, which must not have been heard before. */
static void flow_take(struct phone *p, struct heard *hd, uint8_t (*seen)[2][1024])
{
	uint8_t buf[2048];
	struct rtp_hdr h;
	size_t n;
	while ((n = phone_recv(p, buf, sizeof buf, 0, NULL))) {
		if (rtp_is_rtcp(buf, n))
			continue;
		assert_int_equal(rtp_parse(buf, n, &h), 0);
		assert_true(h.payload_len >= 3);
		unsigned from = h.payload[0], idx = (unsigned)h.payload[1] << 8 | h.payload[2];
		assert_true(from < 2 && idx < 1024);
		assert_int_equal((*seen)[from][idx], 0);
		(*seen)[from][idx] = 1;
		if (hd->any)
			assert_true(rtp_seq_diff(hd->last_seq, h.seq) > 0);
		hd->any = true;
		hd->last_seq = h.seq;
		hd->pkts++;
	}
}

/* Packets flow both ways, one each way a millisecond, while b moves to a's
 * thread (bridged to a) and back (bridged to y again, a to x). Every packet
 * is heard at most once, each phone's stream keeps increasing, and only
 * the few packets of the moment a is unbridged may be lost. */
static void test_bridge_threads_flowing(void **state)
{
	(void)state;
	enum { N = 600, MOVE1 = 200, MOVE2 = 400, LOSS_MAX = 6 };
	struct media_engine *me = eng(2, 0, 0);
	struct phone pa, pb, px, py;
	phone_open(&pa);
	phone_open(&pb);
	phone_open(&px);
	phone_open(&py);
	uint16_t port_a, port_b, port_x, port_y;
	media_leg_id a = leg_new(me, 0, 1, &port_a), b = leg_new(me, 0, 2, &port_b);
	media_leg_id x = leg_new(me, a, 3, &port_x), y = leg_new(me, b, 4, &port_y);
	assert_int_not_equal(thread_of(me, a), thread_of(me, b));
	struct phone *ph[4] = { &pa, &pb, &px, &py };
	media_leg_id legs[4] = { a, b, x, y };
	for (int i = 0; i < 4; i++) {
		struct media_leg_params p = g711(ph[i], SDP_CODEC_PCMU, 0);
		assert_int_equal(media_leg_set(me, legs[i], &p), 0);
	}
	assert_int_equal(media_bridge(me, a, x), 0);
	assert_int_equal(media_bridge(me, b, y), 0);
	static uint8_t seen[2][1024];
	memset(seen, 0, sizeof seen);
	struct heard hd[4];
	memset(hd, 0, sizeof hd);
	uint64_t t0 = now_ms();
	for (unsigned i = 0; i < N; i++) {
		uint8_t pl[160] = { 0, (uint8_t)(i >> 8), (uint8_t)i };
		send_rtp(&pa, port_a, 0, (uint16_t)(1000 + i), 160 * i, 0xa, pl, sizeof pl);
		pl[0] = 1;
		send_rtp(&pb, port_b, 0, (uint16_t)(5000 + i), 160 * i, 0xb, pl, sizeof pl);
		if (i == MOVE1)
			assert_int_equal(media_bridge(me, a, b), 0);
		if (i == MOVE2) {
			assert_int_equal(media_bridge(me, y, b), 0);
			assert_int_equal(media_bridge(me, a, x), 0);
			assert_int_equal(thread_of(me, b), thread_of(me, y));
		}
		/* a millisecond a packet, taking what arrives meanwhile */
		for (uint64_t due = t0 + i + 1, t; (t = now_ms()) < due;) {
			struct pollfd pfd[4];
			for (int k = 0; k < 4; k++)
				pfd[k] = (struct pollfd){ .fd = ph[k]->fd, .events = POLLIN };
			if (poll(pfd, 4, (int)(due - t)) > 0)
				for (int k = 0; k < 4; k++)
					flow_take(ph[k], &hd[k], &seen);
		}
	}
	/* what is still on its way */
	for (uint64_t end = now_ms() + 300, t; (t = now_ms()) < end;) {
		struct pollfd pfd[4];
		for (int k = 0; k < 4; k++)
			pfd[k] = (struct pollfd){ .fd = ph[k]->fd, .events = POLLIN };
		if (poll(pfd, 4, (int)(end - t)) > 0)
			for (int k = 0; k < 4; k++)
				flow_take(ph[k], &hd[k], &seen);
	}
	/* A's packets went to x, then b, then x; B's to y, then a, then y */
	unsigned from_a = hd[1].pkts + hd[2].pkts, from_b = hd[0].pkts + hd[3].pkts;
	if (from_a + LOSS_MAX < N || from_b + LOSS_MAX < N)
		fail_msg("heard %u of phone A's %u packets, %u of phone B's", from_a, N, from_b);
	assert_true(hd[0].pkts > 0 && hd[1].pkts > 0);
	for (int i = 0; i < 4; i++)
		leg_free(me, legs[i], (uint64_t)i + 1);
	no_more_closed(me, legs, 4);
	for (int i = 0; i < 4; i++)
		phone_close(ph[i]);
	engine_stop(me);
}

/* ------------------------------------------------------------- latching */

static void test_latch(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, 0, 0);
	struct phone decoy, pa, pa2, pb;
	phone_open(&decoy);
	phone_open(&pa);
	phone_open(&pa2);
	phone_open(&pb);
	uint16_t port_a, port_b;
	media_leg_id a = leg_new(me, 0, 10, &port_a), b = leg_new(me, a, 11, &port_b);
	/* A's SDP names the decoy; the phone really sends from pa */
	struct media_leg_params p = g711(&decoy, SDP_CODEC_PCMU, 0);
	p.latch = true;
	assert_int_equal(media_leg_set(me, a, &p), 0);
	struct media_leg_params q = g711(&pb, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, b, &q), 0);
	assert_int_equal(media_bridge(me, a, b), 0);
	uint8_t pl[160] = { 1 }, buf[2048];
	struct rtp_hdr h;
	/* before A's phone speaks, what B says goes where the SDP said */
	send_rtp(&pb, port_b, 0, 1, 160, 0xb, pl, sizeof pl);
	assert_true(recv_rtp(&decoy, buf, sizeof buf, WAIT_MS, &h));
	/* the first packet from A latches */
	send_rtp(&pa, port_a, 0, 1, 160, 0xa, pl, sizeof pl);
	struct media_event ev;
	assert_true(ev_wait(me, MEDIA_EV_LATCHED, a, WAIT_MS, &ev));
	assert_int_equal(ev.cookie, 10);
	assert_memory_equal(&ev.addr, &pa.addr, sizeof(struct sockaddr_in));
	assert_true(recv_rtp(&pb, buf, sizeof buf, WAIT_MS, &h));
	send_rtp(&pb, port_b, 0, 2, 320, 0xb, pl, sizeof pl);
	assert_true(recv_rtp(&pa, buf, sizeof buf, WAIT_MS, &h));
	assert_false(recv_rtp(&decoy, buf, sizeof buf, 100, &h));
	/* two packets from elsewhere do not move it, a third in a row does */
	send_rtp(&pa2, port_a, 0, 2, 320, 0xa, pl, sizeof pl);
	send_rtp(&pa2, port_a, 0, 3, 480, 0xa, pl, sizeof pl);
	for (int i = 0; i < 2; i++)
		assert_true(recv_rtp(&pb, buf, sizeof buf, WAIT_MS, &h));
	send_rtp(&pb, port_b, 0, 3, 480, 0xb, pl, sizeof pl);
	assert_true(recv_rtp(&pa, buf, sizeof buf, WAIT_MS, &h));
	send_rtp(&pa2, port_a, 0, 4, 640, 0xa, pl, sizeof pl);
	assert_true(ev_wait(me, MEDIA_EV_LATCHED, a, WAIT_MS, &ev));
	assert_memory_equal(&ev.addr, &pa2.addr, sizeof(struct sockaddr_in));
	assert_true(recv_rtp(&pb, buf, sizeof buf, WAIT_MS, &h));
	send_rtp(&pb, port_b, 0, 4, 640, 0xb, pl, sizeof pl);
	assert_true(recv_rtp(&pa2, buf, sizeof buf, WAIT_MS, &h));
	assert_false(recv_rtp(&pa, buf, sizeof buf, 100, &h));
	/* an interleaved packet from the latched address resets the count */
	send_rtp(&pa, port_a, 0, 5, 800, 0xa, pl, sizeof pl);
	send_rtp(&pa, port_a, 0, 6, 960, 0xa, pl, sizeof pl);
	send_rtp(&pa2, port_a, 0, 7, 1120, 0xa, pl, sizeof pl);
	send_rtp(&pa, port_a, 0, 8, 1280, 0xa, pl, sizeof pl);
	for (int i = 0; i < 4; i++)
		assert_true(recv_rtp(&pb, buf, sizeof buf, WAIT_MS, &h));
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_LATCHED, a, NULL));

	/* a leg set after its phone spoke latches at the set */
	uint16_t port_c;
	media_leg_id c = leg_new(me, 0, 12, &port_c);
	send_rtp(&pa, port_c, 0, 1, 160, 0xc, pl, sizeof pl);
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_LATCHED, c, NULL));
	struct media_leg_params r = g711(NULL, SDP_CODEC_PCMU, 0); /* remote not known yet */
	r.latch = true;
	assert_int_equal(media_leg_set(me, c, &r), 0);
	assert_true(ev_wait(me, MEDIA_EV_LATCHED, c, WAIT_MS, &ev));
	assert_memory_equal(&ev.addr, &pa.addr, sizeof(struct sockaddr_in));

	leg_free(me, a, 10);
	leg_free(me, b, 11);
	leg_free(me, c, 12);
	phone_close(&decoy);
	phone_close(&pa);
	phone_close(&pa2);
	phone_close(&pb);
	engine_stop(me);
}

/* ------------------------------------------------------------ direction */

/* Whether one packet each way gets through: *ab from A to B, *ba back. */
static void both_ways(struct call *c, uint16_t seq, bool *ab, bool *ba)
{
	uint8_t pl[160] = { 0 }, buf[2048];
	struct rtp_hdr h;
	send_rtp(&c->pa, c->port_a, 0, seq, seq * 160u, 0xa, pl, sizeof pl);
	*ab = recv_rtp(&c->pb, buf, sizeof buf, 300, &h);
	send_rtp(&c->pb, c->port_b, 0, seq, seq * 160u, 0xb, pl, sizeof pl);
	*ba = recv_rtp(&c->pa, buf, sizeof buf, 300, &h);
}

static void test_direction(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, 0, 0);
	struct call c;
	struct media_leg_params pa = g711(NULL, SDP_CODEC_PCMU, 0), pb = pa;
	call_up(&c, me, &pa, &pb);
	bool ab, ba;
	both_ways(&c, 1, &ab, &ba);
	assert_true(ab && ba);
	/* A sendonly: we send to phone A, it sends us nothing we take */
	pa.remote = c.pa.addr;
	pa.dir = SDP_DIR_SENDONLY;
	assert_int_equal(media_leg_set(me, c.a, &pa), 0);
	both_ways(&c, 2, &ab, &ba);
	assert_false(ab);
	assert_true(ba);
	pa.dir = SDP_DIR_RECVONLY;
	assert_int_equal(media_leg_set(me, c.a, &pa), 0);
	both_ways(&c, 3, &ab, &ba);
	assert_true(ab);
	assert_false(ba);
	pa.dir = SDP_DIR_INACTIVE;
	assert_int_equal(media_leg_set(me, c.a, &pa), 0);
	both_ways(&c, 4, &ab, &ba);
	assert_false(ab);
	assert_false(ba);
	pa.dir = SDP_DIR_UNSET; /* no attribute: sendrecv */
	assert_int_equal(media_leg_set(me, c.a, &pa), 0);
	both_ways(&c, 5, &ab, &ba);
	assert_true(ab && ba);
	/* a leg never set sends nothing */
	uint16_t port_x;
	struct phone px;
	phone_open(&px);
	media_leg_id x = leg_new(me, c.a, 3, &port_x);
	assert_int_equal(media_bridge(me, c.a, x), 0);
	uint8_t pl[160] = { 0 }, buf[2048];
	struct rtp_hdr h;
	send_rtp(&c.pa, c.port_a, 0, 6, 960, 0xa, pl, sizeof pl);
	send_rtp(&px, port_x, 0, 1, 160, 0xf, pl, sizeof pl);
	assert_false(recv_rtp(&px, buf, sizeof buf, 200, &h));
	assert_false(recv_rtp(&c.pa, buf, sizeof buf, 10, &h));
	leg_free(me, x, 3);
	phone_close(&px);
	call_down(&c);
	engine_stop(me);
}

/* -------------------------------------------------------------- timeout */

static void test_timeout(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, 300, 0);
	struct phone pa;
	phone_open(&pa);
	uint16_t port;
	media_leg_id a = leg_new(me, 0, 5, &port);
	/* not set: no timeout however long */
	ev_settle(me, 500);
	assert_false(ev_pop(MEDIA_EV_TIMEOUT, a, NULL));
	uint64_t t0 = now_ms();
	struct media_leg_params p = g711(&pa, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, a, &p), 0);
	struct media_event ev;
	assert_true(ev_wait(me, MEDIA_EV_TIMEOUT, a, WAIT_MS, &ev));
	uint64_t took = now_ms() - t0;
	assert_true(took >= 280);
	assert_true(took < 1000);
	assert_int_equal(ev.cookie, 5);
	/* once */
	ev_settle(me, 500);
	assert_false(ev_pop(MEDIA_EV_TIMEOUT, a, NULL));
	/* packets (RTCP too) keep it alive; when they stop, it times out again */
	uint8_t pl[160] = { 0 };
	for (int i = 0; i < 30; i++) {
		if (i % 2)
			send_rtp(&pa, port, 0, (uint16_t)i, i * 160u, 1, pl, sizeof pl);
		else {
			uint8_t rr[64];
			size_t n = 0;
			assert_int_equal(rtcp_build_rr(1, NULL, 0, rr, sizeof rr, &n), 0);
			send_raw(&pa, (uint16_t)(port + 1), rr, n);
		}
		ev_settle(me, 30);
	}
	assert_false(ev_pop(MEDIA_EV_TIMEOUT, a, NULL));
	assert_true(ev_wait(me, MEDIA_EV_TIMEOUT, a, WAIT_MS, NULL));
	/* on hold with no hold timeout: never */
	p.dir = SDP_DIR_SENDONLY;
	assert_int_equal(media_leg_set(me, a, &p), 0);
	ev_settle(me, 700);
	assert_false(ev_pop(MEDIA_EV_TIMEOUT, a, NULL));
	leg_free(me, a, 5);
	engine_stop(me);

	/* the hold timeout applies to a leg that does not receive */
	me = eng(1, 5000, 300);
	a = leg_new(me, 0, 6, &port);
	p.dir = SDP_DIR_INACTIVE;
	assert_int_equal(media_leg_set(me, a, &p), 0);
	assert_true(ev_wait(me, MEDIA_EV_TIMEOUT, a, WAIT_MS, NULL));
	leg_free(me, a, 6);
	phone_close(&pa);
	engine_stop(me);
}

/* ----------------------------------------------------------------- DTMF */

/* The packets of one digit as a phone sends them. */
static void send_digit(struct phone *p, uint16_t port, uint8_t pt, char digit, uint16_t *seq,
		       uint32_t ts, uint32_t ssrc, unsigned *n)
{
	struct dtmf_tx tx;
	assert_int_equal(dtmf_tx_start(&tx, digit, ts, 800, 160, 10), 0);
	struct dtmf_tx_pkt pkt;
	*n = 0;
	while (dtmf_tx_next(&tx, &pkt) == 0) {
		uint8_t buf[64];
		size_t len = mk_rtp(buf, sizeof buf, pt, pkt.marker, (*seq)++, pkt.ts, ssrc,
				    pkt.payload, sizeof pkt.payload);
		send_raw(p, port, buf, len);
		(*n)++;
	}
}

static void test_dtmf(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, 0, 0);
	struct call c;
	struct media_leg_params pa = g711(NULL, SDP_CODEC_PCMU, 0), pb = pa;
	pb.dtmf_pt = 100;
	call_up(&c, me, &pa, &pb);
	uint16_t seq = 500;
	unsigned n;
	send_digit(&c.pa, c.port_a, 101, '5', &seq, 8000, 0xd, &n);
	assert_true(n >= 5);
	struct dtmf_rx rx;
	dtmf_rx_init(&rx);
	unsigned got = 0, digits = 0;
	uint8_t buf[2048];
	struct rtp_hdr h;
	uint16_t last_seq = 0;
	for (unsigned i = 0; i < n; i++) {
		assert_true(recv_rtp(&c.pb, buf, sizeof buf, WAIT_MS, &h));
		assert_int_equal(h.pt, 100);
		if (got)
			assert_int_equal(h.seq, (uint16_t)(last_seq + 1));
		last_seq = h.seq;
		got++;
		struct dtmf_digit d[2];
		unsigned nd = 0;
		assert_int_equal(dtmf_rx_packet(&rx, h.ts, h.payload, h.payload_len, d, &nd), 0);
		for (unsigned k = 0; k < nd; k++) {
			assert_int_equal(d[k].digit, '5');
			assert_int_equal(d[k].duration, 800);
			digits++;
		}
	}
	assert_int_equal(digits, 1);
	struct media_event ev;
	assert_true(ev_wait(me, MEDIA_EV_DTMF, c.a, WAIT_MS, &ev));
	assert_int_equal(ev.digit, '5');
	assert_int_equal(ev.cookie, 1);
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_DTMF, c.a, NULL));

	/* toward a leg without telephone-event: dropped, still reported */
	pb.dtmf = false;
	pb.remote = c.pb.addr;
	assert_int_equal(media_leg_set(me, c.b, &pb), 0);
	send_digit(&c.pa, c.port_a, 101, '#', &seq, 16000, 0xd, &n);
	assert_true(ev_wait(me, MEDIA_EV_DTMF, c.a, WAIT_MS, &ev));
	assert_int_equal(ev.digit, '#');
	assert_false(recv_rtp(&c.pb, buf, sizeof buf, 200, &h));

	/* an unbridged leg reports too */
	assert_int_equal(media_unbridge(me, c.a), 0);
	send_digit(&c.pa, c.port_a, 101, 'A', &seq, 24000, 0xd, &n);
	assert_true(ev_wait(me, MEDIA_EV_DTMF, c.a, WAIT_MS, &ev));
	assert_int_equal(ev.digit, 'A');
	call_down(&c);
	engine_stop(me);
}

/* ----------------------------------------------------------------- SRTP */

static srtp_t phone_srtp(const uint8_t *key, bool tx, enum sdp_srtp_suite suite)
{
	srtp_policy_t pol;
	memset(&pol, 0, sizeof pol);
	if (suite == SDP_SRTP_AES_CM_128_HMAC_SHA1_32)
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol.rtp);
	else
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	pol.ssrc.type = tx ? ssrc_any_outbound : ssrc_any_inbound;
	pol.key = (unsigned char *)key;
	pol.window_size = 128;
	srtp_t s = NULL;
	assert_int_equal(srtp_create(&s, &pol), srtp_err_status_ok);
	return s;
}

static void test_srtp(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, 0, 0);
	uint8_t k_phone[SDP_SRTP_KEY_LEN], k_us[SDP_SRTP_KEY_LEN];
	for (size_t i = 0; i < SDP_SRTP_KEY_LEN; i++) {
		k_phone[i] = (uint8_t)(i * 3 + 7);
		k_us[i] = (uint8_t)(i * 5 + 11);
	}
	struct call c;
	struct media_leg_params pa = g711(NULL, SDP_CODEC_PCMU, 0), pb = pa;
	pa.srtp = true;
	pa.suite = SDP_SRTP_AES_CM_128_HMAC_SHA1_80;
	memcpy(pa.tx_key, k_us, sizeof k_us);
	memcpy(pa.rx_key, k_phone, sizeof k_phone);
	call_up(&c, me, &pa, &pb);
	srtp_t ptx = phone_srtp(k_phone, true, pa.suite), prx = phone_srtp(k_us, false, pa.suite);
	uint32_t ssrc_b = 0, ts_b = 0;
	uint16_t seq_b = 0;
	for (unsigned i = 0; i < 10; i++) {
		uint8_t pkt[512], pl[160];
		memset(pl, (int)(0x40 + i), sizeof pl);
		size_t n = mk_rtp(pkt, sizeof pkt - SRTP_MAX_TRAILER_LEN, 0, false, (uint16_t)(10 + i),
				  160 * i, 0x5eed, pl, sizeof pl);
		int len = (int)n;
		assert_int_equal(srtp_protect(ptx, pkt, &len), srtp_err_status_ok);
		send_raw(&c.pa, c.port_a, pkt, (size_t)len);
		uint8_t buf[2048];
		struct rtp_hdr h;
		assert_true(recv_rtp(&c.pb, buf, sizeof buf, WAIT_MS, &h));
		assert_int_equal(h.payload_len, sizeof pl); /* in clear, no tag */
		assert_memory_equal(h.payload, pl, sizeof pl);
		if (i) {
			assert_int_equal(h.ssrc, ssrc_b);
			assert_int_equal(h.seq, (uint16_t)(seq_b + 1));
			assert_int_equal(h.ts, ts_b + 160);
		}
		ssrc_b = h.ssrc;
		seq_b = h.seq;
		ts_b = h.ts;
		/* and back: B's plain packet reaches phone A protected */
		send_rtp(&c.pb, c.port_b, 0, (uint16_t)(3 + i), 160 * i, 0xb0b, pl, sizeof pl);
		size_t got = 0;
		while ((got = phone_recv(&c.pa, buf, sizeof buf, WAIT_MS, NULL)) && rtp_is_rtcp(buf, got))
			;
		assert_int_equal(got, 12 + sizeof pl + 10);
		assert_memory_not_equal(buf + 12, pl, sizeof pl);
		len = (int)got;
		assert_int_equal(srtp_unprotect(prx, buf, &len), srtp_err_status_ok);
		assert_int_equal(len, 12 + sizeof pl);
		assert_memory_equal(buf + 12, pl, sizeof pl);
	}
	/* a forged packet (and a plain one) go nowhere */
	uint8_t pl[160] = { 0 }, pkt[256], buf[2048];
	size_t n = mk_rtp(pkt, sizeof pkt, 0, false, 50, 8000, 0x5eed, pl, sizeof pl);
	memset(pkt + n, 0xee, 10);
	send_raw(&c.pa, c.port_a, pkt, n + 10);
	send_raw(&c.pa, c.port_a, pkt, n);
	struct rtp_hdr h;
	assert_false(recv_rtp(&c.pb, buf, sizeof buf, 200, &h));
	srtp_dealloc(ptx);
	srtp_dealloc(prx);
	struct media_leg_stats st = leg_free(me, c.a, 1);
	assert_int_equal(st.rx_packets, 10);
	leg_free(me, c.b, 2);
	phone_close(&c.pa);
	phone_close(&c.pb);
	engine_stop(me);
}

/* ----------------------------------------------------------------- echo */

static void test_echo(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, 0, 0);
	struct phone pa;
	phone_open(&pa);
	uint16_t port;
	media_leg_id a = leg_new(me, 0, 7, &port);
	struct media_leg_params p = g711(&pa, SDP_CODEC_PCMA, 8);
	assert_int_equal(media_leg_set(me, a, &p), 0);
	assert_int_equal(media_echo(me, a), 0);
	uint32_t ssrc = 0, ts = 0;
	uint16_t seq = 0;
	bool first = true;
	relay_check(&pa, port, &pa, 8, 8, 300, 700, 0xec0, 20, &ssrc, &seq, &ts, &first, true);
	/* DTMF on an echo leg is reported and echoed */
	uint16_t dseq = 320;
	unsigned n;
	send_digit(&pa, port, 101, '9', &dseq, 700 + 20 * 160, 0xec0, &n);
	struct media_event ev;
	assert_true(ev_wait(me, MEDIA_EV_DTMF, a, WAIT_MS, &ev));
	assert_int_equal(ev.digit, '9');
	uint8_t buf[2048];
	struct rtp_hdr h;
	for (unsigned i = 0; i < n; i++) {
		assert_true(recv_rtp(&pa, buf, sizeof buf, WAIT_MS, &h));
		assert_int_equal(h.pt, 101);
		assert_int_equal(h.ssrc, ssrc);
	}
	leg_free(me, a, 7);
	phone_close(&pa);
	engine_stop(me);
}

/* ----------------------------------------------------------------- tone */

static double band_power(const int16_t *x, size_t n, uint32_t rate, double freq)
{
	double w = TWO_PI * freq / rate, cw = 2 * cos(w), s1 = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		double s = x[i] + cw * s1 - s2;
		s2 = s1;
		s1 = s;
	}
	double re = s1 - s2 * cos(w), im = s2 * sin(w);
	return 2 * (re * re + im * im) / ((double)n * n);
}

static double total_power(const int16_t *x, size_t n)
{
	double e = 0;
	for (size_t i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return n ? e / (double)n : 0;
}

/* Play a tone to a PCMU leg; returns the packets and the decoded audio. */
static unsigned play_tone(struct media_engine *me, media_leg_id a, struct phone *pa,
			  enum media_tone tone, int16_t *pcm, size_t cap, size_t *npcm)
{
	assert_int_equal(media_tone(me, a, tone), 0);
	unsigned pkts = 0;
	uint8_t buf[2048];
	struct rtp_hdr h;
	uint16_t seq = 0;
	uint32_t ts = 0;
	*npcm = 0;
	while (recv_rtp(pa, buf, sizeof buf, 300, &h)) {
		assert_int_equal(h.pt, 0);
		assert_int_equal(h.payload_len, 160);
		if (pkts) {
			assert_int_equal(h.seq, (uint16_t)(seq + 1));
			assert_int_equal(h.ts, ts + 160);
		}
		seq = h.seq;
		ts = h.ts;
		pkts++;
		if (*npcm + 160 <= cap) {
			g711_ulaw_decode_buf(h.payload, pcm + *npcm, 160);
			*npcm += 160;
		}
	}
	assert_true(ev_wait(me, MEDIA_EV_TONE_DONE, a, WAIT_MS, NULL));
	return pkts;
}

static void test_tone(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, 0, 0);
	struct phone pa;
	phone_open(&pa);
	uint16_t port;
	media_leg_id a = leg_new(me, 0, 8, &port);
	/* not set yet: nothing to play, done at once */
	assert_int_equal(media_tone(me, a, MEDIA_TONE_CONFIRM), 0);
	assert_true(ev_wait(me, MEDIA_EV_TONE_DONE, a, WAIT_MS, NULL));
	struct media_leg_params p = g711(&pa, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, a, &p), 0);
	int16_t pcm[9600];
	size_t n;
	/* three 100 ms beeps rising 600, 800, 1000 Hz, 50 ms apart, then 400 ms
	 * of silence: 800 ms */
	unsigned pkts = play_tone(me, a, &pa, MEDIA_TONE_CONFIRM, pcm, 9600, &n);
	assert_int_equal(pkts, 40);
	assert_true(total_power(pcm + 3400, 3000) < 1e3); /* the silent tail */
	const double hz[3] = { 600, 800, 1000 };
	for (int b = 0; b < 3; b++) {
		const int16_t *beep = pcm + b * 1200 + 80; /* inside beep b */
		double t = total_power(beep, 640);
		assert_true(t > 1e6);
		assert_true(band_power(beep, 640, 8000, hz[b]) / t > 0.8);
		/* and the gap after it is silent */
		if (b < 2)
			assert_true(total_power(pcm + b * 1200 + 820, 360) < 1e3);
	}
	/* two 250 ms beeps at 400 Hz, 150 ms apart, and 400 ms of silence */
	pkts = play_tone(me, a, &pa, MEDIA_TONE_ERROR, pcm, 9600, &n);
	assert_int_equal(pkts, 53);
	assert_true(band_power(pcm + 200, 1600, 8000, 400) / total_power(pcm + 200, 1600) > 0.8);
	assert_true(band_power(pcm + 3400, 1600, 8000, 400) / total_power(pcm + 3400, 1600) > 0.8);
	/* a second tone interrupts the first; each reports once */
	assert_int_equal(media_tone(me, a, MEDIA_TONE_ERROR), 0);
	assert_int_equal(media_tone(me, a, MEDIA_TONE_CONFIRM), 0);
	assert_true(ev_wait(me, MEDIA_EV_TONE_DONE, a, WAIT_MS, NULL));
	assert_true(ev_wait(me, MEDIA_EV_TONE_DONE, a, WAIT_MS, NULL));
	phone_drain(&pa);
	leg_free(me, a, 8);
	phone_close(&pa);
	engine_stop(me);
}

/* ----------------------------------------------------------------- RTCP */

/* The first RTCP compound within the bound: its report and SDES packets
 * (pointing into buf). RTP meanwhile is parsed for the sender's SSRC. */
struct rtcp_seen {
	bool got;
	uint16_t last_seq;          /* the phone's last sequence number when it came */
	uint32_t rtp_ssrc;          /* of what the leg sends */
	uint8_t buf[2048];
	struct rtcp_pkt rep, sdes;
};

static void rtcp_look(struct phone *p, srtp_t unprotect, struct rtcp_seen *seen)
{
	uint8_t buf[2048];
	size_t n;
	/* everything is read, so that poll() waits again */
	while ((n = phone_recv(p, buf, sizeof buf, 0, NULL))) {
		if (seen->got)
			continue;
		if (!rtp_is_rtcp(buf, n)) {
			struct rtp_hdr h;
			int len = (int)n;
			if (unprotect)
				continue; /* the RTP socket of the SRTP phone: no report here */
			assert_int_equal(rtp_parse(buf, (size_t)len, &h), 0);
			seen->rtp_ssrc = h.ssrc;
			continue;
		}
		if (unprotect) {
			int len = (int)n;
			assert_int_equal(srtp_unprotect_rtcp(unprotect, buf, &len), srtp_err_status_ok);
			n = (size_t)len;
		}
		memcpy(seen->buf, buf, n);
		assert_int_equal(rtcp_check(seen->buf, n), 0);
		struct rtcp_iter it;
		rtcp_iter_init(&it, seen->buf, n, true);
		assert_int_equal(rtcp_next(&it, &seen->rep), 0);
		assert_int_equal(rtcp_next(&it, &seen->sdes), 0);
		seen->got = true;
	}
}

static void rtcp_expect(const struct rtcp_seen *s, uint32_t ssrc, uint32_t phone_ssrc,
			uint16_t last_seq)
{
	assert_true(s->got);
	/* we echoed, so a sender report, about the phone's stream, and a CNAME */
	assert_int_equal(s->rep.type, RTCP_SR);
	assert_int_equal(s->rep.ssrc, ssrc);
	assert_true(s->rep.sr.pkt_count > 0);
	assert_int_equal(s->rep.sr.octet_count, s->rep.sr.pkt_count * 160);
	assert_int_equal(s->rep.count, 1);
	assert_int_equal(s->rep.rb[0].ssrc, phone_ssrc);
	assert_true(rtp_seq_diff((uint16_t)s->rep.rb[0].ext_highest_seq, last_seq) >= 0);
	assert_true(rtp_seq_diff((uint16_t)s->rep.rb[0].ext_highest_seq, last_seq) < 10);
	assert_int_equal(s->rep.rb[0].cum_lost, 0);
	assert_int_equal(s->sdes.type, RTCP_SDES);
	struct rtcp_sdes_iter si;
	struct rtcp_sdes_item item;
	rtcp_sdes_iter_init(&si, &s->sdes);
	assert_int_equal(rtcp_sdes_next(&si, &item), 0);
	assert_int_equal(item.type, RTCP_SDES_CNAME);
	assert_int_equal(item.ssrc, ssrc);
	assert_true(item.len > 0);
}

static void test_rtcp(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, 0, 0);
	/* A: plain, rtcp-mux. B: SRTP, RTCP to its own socket named in the SDP */
	struct phone pa, pb, pb_rtcp;
	phone_open(&pa);
	phone_open(&pb);
	phone_open(&pb_rtcp);
	uint16_t port_a, port_b;
	media_leg_id a = leg_new(me, 0, 9, &port_a), b = leg_new(me, a, 10, &port_b);
	struct media_leg_params p = g711(&pa, SDP_CODEC_PCMU, 0);
	p.rtcp_mux = true;
	assert_int_equal(media_leg_set(me, a, &p), 0);
	uint8_t k_phone[SDP_SRTP_KEY_LEN], k_us[SDP_SRTP_KEY_LEN];
	for (size_t i = 0; i < SDP_SRTP_KEY_LEN; i++) {
		k_phone[i] = (uint8_t)(i + 100);
		k_us[i] = (uint8_t)(i * 7);
	}
	struct media_leg_params q = g711(&pb, SDP_CODEC_PCMU, 0);
	q.remote_rtcp = pb_rtcp.addr;
	q.srtp = true;
	q.suite = SDP_SRTP_AES_CM_128_HMAC_SHA1_32;
	memcpy(q.tx_key, k_us, sizeof k_us);
	memcpy(q.rx_key, k_phone, sizeof k_phone);
	assert_int_equal(media_leg_set(me, b, &q), 0);
	assert_int_equal(media_echo(me, a), 0);
	assert_int_equal(media_echo(me, b), 0);
	srtp_t ptx = phone_srtp(k_phone, true, q.suite), prx = phone_srtp(k_us, false, q.suite);
	/* RTP every 50 ms until both reports came (at 3.75..6.25 s) */
	static struct rtcp_seen sa, sb;
	memset(&sa, 0, sizeof sa);
	memset(&sb, 0, sizeof sb);
	uint64_t end = now_ms() + 8000;
	uint16_t seq = 1000;
	uint8_t pl[160] = { 0 };
	while ((!sa.got || !sb.got) && now_ms() < end) {
		send_rtp(&pa, port_a, 0, seq, seq * 160u, 0xfeed, pl, sizeof pl);
		uint8_t pkt[512];
		size_t n = mk_rtp(pkt, 300, 0, false, seq, seq * 160u, 0xbeef, pl, sizeof pl);
		int len = (int)n;
		assert_int_equal(srtp_protect(ptx, pkt, &len), srtp_err_status_ok);
		send_raw(&pb, port_b, pkt, (size_t)len);
		seq++;
		struct pollfd pfd[3] = { { .fd = pa.fd, .events = POLLIN },
					 { .fd = pb.fd, .events = POLLIN },
					 { .fd = pb_rtcp.fd, .events = POLLIN } };
		(void)poll(pfd, 3, 50);
		rtcp_look(&pa, NULL, &sa);
		rtcp_look(&pb_rtcp, prx, &sb);
		if (sa.got && !sa.last_seq)
			sa.last_seq = (uint16_t)(seq - 1);
		if (sb.got && !sb.last_seq)
			sb.last_seq = (uint16_t)(seq - 1);
		/* B's echoed RTP, protected: its SSRC is in clear */
		uint8_t buf[2048];
		size_t got;
		while ((got = phone_recv(&pb, buf, sizeof buf, 0, NULL)))
			if (!rtp_is_rtcp(buf, got) && got >= 12)
				sb.rtp_ssrc = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 |
					      (uint32_t)buf[10] << 8 | buf[11];
	}
	rtcp_expect(&sa, sa.rtp_ssrc, 0xfeed, sa.last_seq);
	rtcp_expect(&sb, sb.rtp_ssrc, 0xbeef, sb.last_seq);
	srtp_dealloc(ptx);
	srtp_dealloc(prx);
	leg_free(me, a, 9);
	leg_free(me, b, 10);
	phone_close(&pa);
	phone_close(&pb);
	phone_close(&pb_rtcp);
	engine_stop(me);
}

/* ------------------------------------------------------------ transcode */

/* The far end of a transcoded call: a phone that speaks a 1 kHz tone in its
 * codec, every 20 ms in real time, while the other phone listens; what the
 * listener decodes keeps the 1 kHz band. */
struct speaker {
	enum sdp_codec codec;
	uint8_t pt;
	OpusEncoder *enc;
	OpusDecoder *dec;
	uint32_t rate;   /* PCM rate of this phone's audio (48000 for Opus) */
	uint32_t clock;
};

static void speaker_init(struct speaker *s, enum sdp_codec codec, uint8_t pt)
{
	memset(s, 0, sizeof *s);
	s->codec = codec;
	s->pt = pt;
	s->rate = s->clock = codec == SDP_CODEC_OPUS ? 48000 : 8000;
	if (codec == SDP_CODEC_OPUS) {
		int err;
		s->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
		assert_int_equal(err, OPUS_OK);
		s->dec = opus_decoder_create(48000, 1, &err);
		assert_int_equal(err, OPUS_OK);
	}
}

static void speaker_free(struct speaker *s)
{
	if (s->enc)
		opus_encoder_destroy(s->enc);
	if (s->dec)
		opus_decoder_destroy(s->dec);
}

static size_t speaker_encode(struct speaker *s, const int16_t *pcm, size_t n, uint8_t *out,
			     size_t cap)
{
	switch (s->codec) {
	case SDP_CODEC_PCMU:
		g711_ulaw_encode_buf(pcm, out, n);
		return n;
	case SDP_CODEC_PCMA:
		g711_alaw_encode_buf(pcm, out, n);
		return n;
	default: {
		int r = opus_encode(s->enc, pcm, (int)n, out, (opus_int32)cap);
		assert_true(r > 0);
		return (size_t)r;
	}
	}
}

static size_t speaker_decode(struct speaker *s, const uint8_t *p, size_t len, int16_t *pcm,
			     size_t cap)
{
	switch (s->codec) {
	case SDP_CODEC_PCMU:
		assert_true(len <= cap);
		g711_ulaw_decode_buf(p, pcm, len);
		return len;
	case SDP_CODEC_PCMA:
		assert_true(len <= cap);
		g711_alaw_decode_buf(p, pcm, len);
		return len;
	default: {
		int r = opus_decode(s->dec, p, (opus_int32)len, pcm, (int)cap, 0);
		assert_true(r > 0);
		return (size_t)r;
	}
	}
}

static void xcode_dir(struct call *c, struct speaker *from, struct phone *pf, uint16_t port,
		      struct speaker *to, struct phone *pt)
{
	enum { SECS = 1, FRAMES = 50 * SECS };
	size_t per = from->rate / 50;
	int16_t *heard = calloc(48000 * (SECS + 1), sizeof *heard);
	assert_non_null(heard);
	size_t nheard = 0, cap = 48000 * (SECS + 1);
	/* the transcoder toward pt has been sending silence meanwhile */
	phone_drain(pt);
	uint64_t t0 = now_ms();
	unsigned pkts = 0;
	uint16_t last_seq = 0;
	for (unsigned f = 0; f < FRAMES + 10; f++) {
		if (f < FRAMES) {
			int16_t pcm[960];
			for (size_t i = 0; i < per; i++)
				pcm[i] = (int16_t)lrint(
					8000 * sin(TWO_PI * 1000 * (double)(f * per + i) / from->rate));
			uint8_t payload[1500];
			size_t len = speaker_encode(from, pcm, per, payload, sizeof payload);
			send_rtp(pf, port, from->pt, (uint16_t)(77 + f), f * (from->clock / 50), 0xabc,
				 payload, len);
		}
		/* listen until the next frame is due */
		uint64_t due = t0 + 20 * (f + 1);
		for (uint64_t t; (t = now_ms()) < due;) {
			uint8_t buf[2048];
			struct rtp_hdr h;
			if (!recv_rtp(pt, buf, sizeof buf, (int)(due - t), &h))
				continue;
			assert_int_equal(h.pt, to->pt);
			if (pkts)
				assert_int_equal(h.seq, (uint16_t)(last_seq + 1));
			last_seq = h.seq;
			pkts++;
			if (cap - nheard >= 960)
				nheard += speaker_decode(to, h.payload, h.payload_len, heard + nheard,
							 cap - nheard);
		}
	}
	(void)c;
	/* the jitter buffer's delay and the codecs' start-up take some frames */
	if (pkts < FRAMES - 15)
		fail_msg("%u packets arrived of %u", pkts, FRAMES);
	size_t skip = to->rate / 5, n = nheard > skip + to->rate / 2 ? to->rate / 2 : 0;
	assert_true(n > 0);
	double t = total_power(heard + skip, n), b = band_power(heard + skip, n, to->rate, 1000);
	if (t < 1e6 || b / t < 0.8)
		fail_msg("heard power %.0f, 1 kHz share %.2f", t, b / t);
	free(heard);
}

static void xcode_call(enum sdp_codec ca, uint8_t pta, enum sdp_codec cb, uint8_t ptb)
{
	struct media_engine *me = eng(1, 0, 0);
	struct call c;
	struct media_leg_params pa = g711(NULL, ca, pta), pb = g711(NULL, cb, ptb);
	if (ca == SDP_CODEC_OPUS) {
		pa.clock = 48000;
		pa.channels = 2;
	}
	call_up(&c, me, &pa, &pb);
	struct speaker sa, sb;
	speaker_init(&sa, ca, pta);
	speaker_init(&sb, cb, ptb);
	xcode_dir(&c, &sa, &c.pa, c.port_a, &sb, &c.pb);
	xcode_dir(&c, &sb, &c.pb, c.port_b, &sa, &c.pa);
	struct media_totals tot;
	media_engine_totals(me, &tot);
	assert_true(tot.transcoded_frames >= 70);
	speaker_free(&sa);
	speaker_free(&sb);
	call_down(&c);
	engine_stop(me);
}

static void test_transcode_pcmu_pcma(void **state)
{
	(void)state;
	xcode_call(SDP_CODEC_PCMU, 0, SDP_CODEC_PCMA, 8);
}

static void test_transcode_opus_pcmu(void **state)
{
	(void)state;
	xcode_call(SDP_CODEC_OPUS, 111, SDP_CODEC_PCMU, 0);
}

/* ------------------------------------------------- raw, IPv6, overflow */

static void test_raw(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, 0, 0);
	struct call c;
	struct media_leg_params p = g711(NULL, SDP_CODEC_UNKNOWN, 96);
	p.raw = true;
	p.clock = 90000;
	p.dtmf = false;
	call_up(&c, me, &p, &p);
	/* video goes through untouched, whatever its payload type and marker */
	for (unsigned i = 0; i < 5; i++) {
		uint8_t pkt[1400], pl[1200], buf[2048];
		for (size_t k = 0; k < sizeof pl; k++)
			pl[k] = (uint8_t)(k * i);
		size_t n = mk_rtp(pkt, sizeof pkt, (uint8_t)(96 + i % 2), i == 4, (uint16_t)(9 + i),
				  3000 * i, 0x71de0, pl, sizeof pl);
		send_raw(&c.pa, c.port_a, pkt, n);
		assert_int_equal(phone_recv(&c.pb, buf, sizeof buf, WAIT_MS, NULL), n);
		assert_memory_equal(buf, pkt, n);
		send_raw(&c.pb, c.port_b, pkt, n);
		assert_int_equal(phone_recv(&c.pa, buf, sizeof buf, WAIT_MS, NULL), n);
		assert_memory_equal(buf, pkt, n);
	}
	call_down(&c);
	engine_stop(me);
}

static void test_ipv6(void **state)
{
	(void)state;
	int probe = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 six = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	if (probe < 0 || bind(probe, (struct sockaddr *)&six, sizeof six) < 0) {
		if (probe >= 0)
			close(probe);
		skip(); /* no IPv6 loopback here */
	}
	struct media_engine *me = eng(1, 0, 0);
	struct sockaddr_storage local, phone;
	memset(&local, 0, sizeof local);
	memcpy(&local, &six, sizeof six);
	socklen_t plen = sizeof phone;
	assert_int_equal(getsockname(probe, (struct sockaddr *)&phone, &plen), 0);
	media_leg_id a = 0;
	uint16_t port;
	assert_int_equal(media_leg_new(me, &local, 0, 1, &a, &port), 0);
	struct media_leg_params p = g711(NULL, SDP_CODEC_PCMU, 0);
	p.remote = phone;
	assert_int_equal(media_leg_set(me, a, &p), 0);
	assert_int_equal(media_echo(me, a), 0);
	uint8_t pkt[256], pl[160] = { 6 }, buf[2048];
	size_t n = mk_rtp(pkt, sizeof pkt, 0, false, 1, 160, 0x6, pl, sizeof pl);
	struct sockaddr_in6 to = six;
	to.sin6_port = htons(port);
	assert_int_equal(sendto(probe, pkt, n, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)n);
	struct pollfd pfd = { .fd = probe, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	assert_int_equal(recv(probe, buf, sizeof buf, 0), (ssize_t)n);
	assert_memory_equal(buf + 12, pl, sizeof pl);
	close(probe);
	leg_free(me, a, 1);
	engine_stop(me);
}

/* The core does not take events: the queue fills, later events are
 * dropped, but CLOSED still comes once there is room. */
static void test_event_overflow(void **state)
{
	(void)state;
	enum { DIGITS = 4500 };
	struct media_engine *me = eng(1, 0, 0);
	struct phone pa;
	phone_open(&pa);
	uint16_t port;
	media_leg_id a = leg_new(me, 0, 77, &port);
	struct media_leg_params p = g711(&pa, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, a, &p), 0);
	/* one end packet per digit, a new event each time; in bursts the
	 * socket buffer holds, each taken by the engine before the next */
	for (unsigned i = 0; i < DIGITS; i++) {
		struct dtmf_event ev = { .event = (uint8_t)(i % 10), .end = true, .volume = 10,
					 .duration = 800 };
		uint8_t pl[DTMF_PAYLOAD_LEN];
		dtmf_build(&ev, pl);
		send_rtp(&pa, port, 101, (uint16_t)i, 1000 * i, 0xd1, pl, sizeof pl);
		if (i % 100 == 99 || i == DIGITS - 1) {
			struct media_totals t;
			uint64_t end = now_ms() + WAIT_MS;
			do {
				media_engine_totals(me, &t);
			} while (t.rx_packets < i + 1 && now_ms() < end && poll(NULL, 0, 1) == 0);
			assert_int_equal(t.rx_packets, i + 1);
		}
	}
	assert_int_equal(media_leg_free(me, a), 0);
	unsigned dtmf = 0, closed = 0;
	struct media_event ev;
	uint64_t end = now_ms() + WAIT_MS;
	while (!closed && now_ms() < end) {
		ev_take(me, 100);
		while (ev_pop(MEDIA_EV_DTMF, a, NULL))
			dtmf++;
		if (ev_pop(MEDIA_EV_CLOSED, a, &ev))
			closed++;
	}
	assert_int_equal(closed, 1);
	assert_int_equal(ev.cookie, 77);
	assert_int_equal(ev.stats.rx_packets, DIGITS);
	/* the queue's worth of digits came, the rest were dropped */
	assert_true(dtmf >= 4000);
	assert_true(dtmf < DIGITS);
	phone_close(&pa);
	engine_stop(me);
}

/* --------------------------------------------------------------- errors */

static void test_errors(void **state)
{
	(void)state;
	struct media_engine *me = NULL;
	struct media_engine_cfg bad = { .threads = 1, .port_lo = 2001, .port_hi = 2001 };
	assert_int_equal(media_engine_start(&me, &bad), EINVAL);
	bad.port_lo = 3000;
	bad.port_hi = 2000;
	assert_int_equal(media_engine_start(&me, &bad), EINVAL);
	assert_null(me);
	media_engine_stop(NULL);

	/* two port pairs, one of them taken by someone else */
	struct media_engine_cfg cfg = { .threads = 2, .port_lo = port_base(),
					.port_hi = (uint16_t)(port_base() + 3) };
	assert_int_equal(media_engine_start(&me, &cfg), 0);
	int squat = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sq = lo(port_base());
	assert_int_equal(bind(squat, (struct sockaddr *)&sq, sizeof sq), 0);
	uint16_t p1, p2;
	media_leg_id a = leg_new(me, 0, 1, &p1);
	assert_int_equal(p1, port_base() + 2);
	struct sockaddr_storage local;
	memset(&local, 0, sizeof local);
	memcpy(&local, &sq, sizeof sq);
	media_leg_id x = 0;
	assert_int_equal(media_leg_new(me, &local, 0, 3, &x, &p2), EADDRINUSE);
	close(squat);
	media_leg_id b = leg_new(me, 0, 2, &p2);
	assert_int_equal(p2, port_base());
	/* least loaded: b went to the other thread */
	unsigned ta = 9, tb = 9;
	assert_int_equal(media_leg_thread(me, a, &ta), 0);
	assert_int_equal(media_leg_thread(me, b, &tb), 0);
	assert_true(ta < 2 && tb < 2 && ta != tb);
	assert_int_equal(media_leg_thread(me, 12345, &ta), ENOENT);
	assert_int_equal(media_bridge(me, a, a), EINVAL);
	assert_int_equal(media_leg_new(me, &local, 12345, 3, &x, &p2), ENOENT);
	assert_int_equal(media_bridge(me, a, 12345), ENOENT);
	struct media_leg_params p = g711(NULL, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, 777, &p), ENOENT);
	assert_int_equal(media_tone(me, 777, MEDIA_TONE_ERROR), ENOENT);
	assert_int_equal(media_echo(me, 0), ENOENT);
	assert_int_equal(media_unbridge(me, 777), ENOENT);
	leg_free(me, a, 1);
	assert_int_equal(media_leg_free(me, a), ENOENT);
	leg_free(me, b, 2);
	/* a leg still open at stop is closed without an event */
	b = leg_new(me, 0, 4, &p2);
	engine_stop(me);
}

/* What lives as long as the process is made before the leak check counts:
 * libsrtp and the crypto library under it (pools filled the first time a
 * packet is protected, in a media thread too), and glibc's cache of thread
 * stacks with their TLS. So: an SRTP echo leg on each of two threads, one
 * packet through each. Failures here are the tests' business, not this. */
static void warm_up(void)
{
	if (srtp_ctx_lib_init())
		exit(1);
	uint8_t key[SDP_SRTP_KEY_LEN] = { 0 };
	struct srtp_ctx *tx = NULL, *rx = NULL;
	if (srtp_ctx_new(&tx, SDP_SRTP_AES_CM_128_HMAC_SHA1_80, key, SRTP_CTX_TX) ||
	    srtp_ctx_new(&rx, SDP_SRTP_AES_CM_128_HMAC_SHA1_80, key, SRTP_CTX_RX))
		exit(1);
	struct media_engine *me = NULL;
	struct media_engine_cfg cfg = { .threads = 2, .port_lo = port_base(),
					.port_hi = (uint16_t)(port_base() + 99) };
	if (media_engine_start(&me, &cfg))
		exit(1);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = lo(0);
	struct sockaddr_storage local, phone;
	socklen_t plen = sizeof phone;
	memset(&local, 0, sizeof local);
	memcpy(&local, &a, sizeof a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
	    getsockname(fd, (struct sockaddr *)&phone, &plen))
		exit(1);
	for (int i = 0; i < 2; i++) {
		media_leg_id id;
		uint16_t port;
		if (media_leg_new(me, &local, 0, 0, &id, &port))
			exit(1);
		struct media_leg_params p = g711(NULL, SDP_CODEC_PCMU, 0);
		p.remote = phone;
		p.srtp = true;
		p.suite = SDP_SRTP_AES_CM_128_HMAC_SHA1_80;
		media_leg_set(me, id, &p);
		media_echo(me, id);
		uint8_t pkt[1500];
		struct rtp_hdr h = { .seq = (uint16_t)i, .ssrc = 1 };
		size_t len = 0;
		if (rtp_build(&h, key, 20, pkt, 200, &len) ||
		    srtp_ctx_protect_rtp(tx, pkt, &len, sizeof pkt))
			exit(1);
		struct sockaddr_in to = lo(port);
		sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof to);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, WAIT_MS) > 0)
			(void)recv(fd, pkt, sizeof pkt, 0);
		media_leg_free(me, id);
	}
	close(fd);
	srtp_ctx_free(tx);
	srtp_ctx_free(rx);
	media_engine_stop(me);
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	warm_up();
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_relay),
		UNIT_TEST(test_bridge_threads),
		UNIT_TEST(test_bridge_threads_tone),
		UNIT_TEST(test_bridge_threads_flowing),
		UNIT_TEST(test_latch),
		UNIT_TEST(test_direction),
		UNIT_TEST(test_timeout),
		UNIT_TEST(test_dtmf),
		UNIT_TEST(test_srtp),
		UNIT_TEST(test_echo),
		UNIT_TEST(test_tone),
		UNIT_TEST(test_rtcp),
		UNIT_TEST(test_transcode_pcmu_pcma),
		UNIT_TEST(test_transcode_opus_pcmu),
		UNIT_TEST(test_raw),
		UNIT_TEST(test_ipv6),
		UNIT_TEST(test_event_overflow),
		UNIT_TEST(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
