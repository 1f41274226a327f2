/*
 * t_media_record.c: recording a leg (media_record) and playing PCM to it
 * (media_play_pcm) in the media engine, on loopback with real UDP sockets
 * as the phones (as t_media.c and t_media_room.c).
 *
 * Covered: a PCMU phone sending a 1 kHz tone for 2 s, then silence, is
 * recorded until the silence ends it (SILENCE): about 2 s of PCM holding
 * the tone (Goertzel), the trailing silence cut off, a PCM buffer playing
 * to the leg meanwhile; an Opus phone's tone recorded too, across a move
 * of the leg to another thread (media_bridge), ended by media_record_stop
 * (STOPPED) after which stopping again is ENOENT; max_ms reached (MAX,
 * exactly max_ms of samples); a leg freed while recording (RECORD_DONE
 * CLOSED with its PCM, before CLOSED); DTMF during a recording reported
 * and not recorded; a recording replaced by another, a leg that cannot be
 * decoded (FAILED at once); media_play_pcm heard by the phone (500 Hz
 * decoded from its packets) with PLAY_DONE once; a PCM replaced by
 * media_play reports once and is freed; the errors (EINVAL, ENOENT, the
 * buffer freed anyway). Leaks: the heap check of unit.h, or ASan.
 *
 * Phones send in real time (a packet every 20 ms, paced by the clock);
 * every wait for an event is poll() with a bound.
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

#include "dtmf.h"
#include "g711.h"
#include "media.h"
#include "rtp.h"
#include "unit.h"

#define TWO_PI 6.283185307179586
#define WAIT_MS 2000   /* bound for anything that should come at once */
#define RATE 8000
#define FRAME 160      /* 20 ms at 8 kHz */
#define AMP 8000.0     /* about -12 dBFS */

/* ------------------------------------------------------------- helpers */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Apart from t_media's (20000..31999) and t_media_room's (10000..19999). */
static uint16_t port_base(void)
{
	return (uint16_t)(5000 + (getpid() % 50) * 100);
}

static struct media_engine *eng(unsigned threads)
{
	struct media_engine_cfg cfg = {
		.threads = threads,
		.port_lo = port_base(),
		.port_hi = (uint16_t)(port_base() + 99),
	};
	struct media_engine *me = NULL;
	assert_int_equal(media_engine_start(&me, &cfg), 0);
	assert_non_null(me);
	return me;
}

/* A phone: its socket, and the stream it sends to its leg. */
struct phone {
	int fd;
	struct sockaddr_storage addr;
	uint16_t port;          /* the leg's */
	enum sdp_codec codec;
	uint8_t pt;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint32_t pos;           /* samples of tone made so far (its phase) */
	OpusEncoder *enc;       /* Opus at the 8 kHz API rate */
	uint64_t due;           /* when the next packet goes */
};

static void phone_open(struct phone *p, enum sdp_codec codec, uint8_t pt)
{
	memset(p, 0, sizeof *p);
	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(p->fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(p->fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof p->addr;
	assert_int_equal(getsockname(p->fd, (struct sockaddr *)&p->addr, &len), 0);
	int sz = 1 << 20;
	(void)setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	p->codec = codec;
	p->pt = pt;
	p->seq = (uint16_t)(1000 + getpid());
	p->ts = 12345;
	p->ssrc = 0x5eed0000u + (uint32_t)pt;
	if (codec == SDP_CODEC_OPUS) {
		int err;
		p->enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_VOIP, &err);
		assert_int_equal(err, OPUS_OK);
	}
}

static void phone_close(struct phone *p)
{
	if (p->enc)
		opus_encoder_destroy(p->enc);
	close(p->fd);
	p->fd = -1;
}

static uint32_t phone_step(const struct phone *p)
{
	return p->codec == SDP_CODEC_OPUS ? 960 : FRAME;
}

static void send_rtp(struct phone *p, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
		     const uint8_t *payload, size_t len)
{
	uint8_t buf[1500];
	struct rtp_hdr h = { .pt = pt, .marker = marker, .seq = seq, .ts = ts, .ssrc = p->ssrc };
	size_t n = 0;
	assert_int_equal(rtp_build(&h, payload, len, buf, sizeof buf, &n), 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(p->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(sendto(p->fd, buf, n, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)n);
}

/* One 20 ms packet of a sine of hz (0: digital silence). */
static void send_audio(struct phone *p, double hz)
{
	int16_t pcm[FRAME];
	for (size_t i = 0; i < FRAME; i++)
		pcm[i] = hz > 0 ? (int16_t)lrint(AMP * sin(TWO_PI * hz * (p->pos + i) / RATE)) : 0;
	p->pos += FRAME;
	uint8_t payload[400];
	size_t len = FRAME;
	if (p->codec == SDP_CODEC_OPUS) {
		int r = opus_encode(p->enc, pcm, FRAME, payload, sizeof payload);
		assert_true(r > 0);
		len = (size_t)r;
	} else {
		g711_ulaw_encode_buf(pcm, payload, FRAME);
	}
	send_rtp(p, p->pt, false, p->seq++, p->ts, payload, len);
	p->ts += phone_step(p);
}

static size_t phone_recv(struct phone *p, uint8_t *buf, size_t cap, int ms)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	ssize_t n = recv(p->fd, buf, cap, MSG_DONTWAIT);
	return n > 0 ? (size_t)n : 0;
}

/* An RTP packet within ms (RTCP skipped), parsed into h (pointing into buf). */
static bool recv_rtp(struct phone *p, uint8_t *buf, size_t cap, int ms, struct rtp_hdr *h)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	for (;;) {
		uint64_t t = now_ms();
		if (t >= end)
			return false;
		size_t n = phone_recv(p, buf, cap, (int)(end - t));
		if (n == 0)
			return false;
		if (rtp_is_rtcp(buf, n))
			continue;
		assert_int_equal(rtp_parse(buf, n, h), 0);
		return true;
	}
}

/* ---------------------------------------------------------------- events */

static struct media_event backlog[1024];
static size_t nbacklog;

static void ev_take(struct media_engine *me, int ms)
{
	struct pollfd pfd = { .fd = media_event_fd(me), .events = POLLIN };
	if (poll(&pfd, 1, ms < 0 ? 0 : ms) <= 0)
		return;
	struct media_event ev[16];
	size_t n = media_events_take(me, ev, 16);
	for (size_t i = 0; i < n; i++) {
		assert_true(nbacklog < sizeof backlog / sizeof backlog[0]);
		backlog[nbacklog++] = ev[i];
	}
}

static ssize_t ev_find(enum media_ev_kind kind, media_leg_id leg)
{
	for (size_t i = 0; i < nbacklog; i++)
		if (backlog[i].kind == kind && backlog[i].leg == leg)
			return (ssize_t)i;
	return -1;
}

static bool ev_pop(enum media_ev_kind kind, media_leg_id leg, struct media_event *out)
{
	ssize_t i = ev_find(kind, leg);
	if (i < 0)
		return false;
	if (out)
		*out = backlog[i];
	memmove(&backlog[i], &backlog[i + 1], (nbacklog - (size_t)i - 1) * sizeof backlog[0]);
	nbacklog--;
	return true;
}

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

static void ev_settle(struct media_engine *me, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	for (uint64_t t; (t = now_ms()) < end;)
		ev_take(me, (int)(end - t));
}

/* Events left over that the test did not look at are the test's business:
 * recordings still in them are freed here. */
static void engine_stop(struct media_engine *me)
{
	media_engine_stop(me);
	for (size_t i = 0; i < nbacklog; i++)
		if (backlog[i].kind == MEDIA_EV_RECORD_DONE)
			free(backlog[i].rec.pcm);
	nbacklog = 0;
}

/* The phone talks: a packet of hz every 20 ms for ms (paced by the clock,
 * events taken meanwhile). Returns early, true, once a RECORD_DONE about
 * leg is in when until_done. */
static bool talk(struct media_engine *me, struct phone *p, media_leg_id leg, double hz,
		 unsigned ms, bool until_done)
{
	uint64_t t = now_ms();
	if (p->due < t)
		p->due = t;
	for (unsigned k = 0; k < ms / 20; k++) {
		/* bounded: each pass waits for the clock or an event */
		while ((t = now_ms()) < p->due) {
			ev_take(me, (int)(p->due - t));
			if (until_done && ev_find(MEDIA_EV_RECORD_DONE, leg) >= 0)
				return true;
		}
		send_audio(p, hz);
		p->due += 20;
	}
	return until_done && ev_find(MEDIA_EV_RECORD_DONE, leg) >= 0;
}

/* ------------------------------------------------------------------ legs */

static media_leg_id leg_new(struct media_engine *me, media_leg_id near, uint64_t cookie,
			    struct phone *ph)
{
	struct sockaddr_storage local;
	memset(&local, 0, sizeof local);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	memcpy(&local, &a, sizeof a);
	media_leg_id id = 0;
	uint16_t port = 0;
	assert_int_equal(media_leg_new(me, &local, near, cookie, &id, &port), 0);
	if (ph)
		ph->port = port;
	return id;
}

static struct media_leg_params params(const struct phone *ph)
{
	struct media_leg_params p;
	memset(&p, 0, sizeof p);
	p.remote = ph->addr;
	p.codec = ph->codec;
	p.pt = ph->pt;
	p.clock = ph->codec == SDP_CODEC_OPUS ? 48000 : 8000;
	p.channels = ph->codec == SDP_CODEC_OPUS ? 2 : 1;
	p.dtmf = true;
	p.dtmf_pt = 101;
	p.dtmf_clock = 8000;
	p.ptime = 20;
	p.dir = SDP_DIR_SENDRECV;
	return p;
}

/* A leg for ph, set for its codec. */
static media_leg_id phone_leg(struct media_engine *me, struct phone *ph, media_leg_id near,
			      uint64_t cookie)
{
	media_leg_id id = leg_new(me, near, cookie, ph);
	struct media_leg_params p = params(ph);
	assert_int_equal(media_leg_set(me, id, &p), 0);
	return id;
}

static void leg_free(struct media_engine *me, media_leg_id id)
{
	assert_int_equal(media_leg_free(me, id), 0);
	assert_true(ev_wait(me, MEDIA_EV_CLOSED, id, WAIT_MS, NULL));
}

static struct media_recording rec_wait(struct media_engine *me, media_leg_id id, int ms)
{
	struct media_event ev;
	if (!ev_wait(me, MEDIA_EV_RECORD_DONE, id, ms, &ev))
		fail_msg("no RECORD_DONE for leg %u", id);
	if (ev.rec.n == 0)
		assert_null(ev.rec.pcm);
	else
		assert_non_null(ev.rec.pcm);
	return ev.rec;
}

/* ------------------------------------------------------------- analysis */

static double band_power(const int16_t *x, size_t n, double freq)
{
	double w = TWO_PI * freq / RATE, cw = 2 * cos(w), s1 = 0, s2 = 0;
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

/* Most of n samples from at is a sine of hz at about AMP. */
static void expect_tone(const int16_t *x, size_t n, double hz)
{
	double band = band_power(x, n, hz), tot = total_power(x, n);
	double want = AMP * AMP / 2;
	if (band < 0.8 * tot || tot < want / 4 || tot > want * 4)
		fail_msg("%.0f Hz: band %.0f of %.0f, expected about %.0f", hz, band, tot, want);
}

/* ------------------------------------------------------------ recording */

/* 2 s of tone, then silence: ended by the silence, cut off; a PCM buffer
 * playing to the leg meanwhile neither stops nor enters the recording. */
static void test_record_silence(void **state)
{
	(void)state;
	struct media_engine *me = eng(1);
	struct phone ph;
	phone_open(&ph, SDP_CODEC_PCMU, 0);
	media_leg_id a = phone_leg(me, &ph, 0, 7);
	talk(me, &ph, a, 0, 100, false); /* the leg latches, the stream runs */
	assert_int_equal(media_record(me, a, 60000, 1000), 0);
	int16_t *beep = malloc(RATE * sizeof *beep);
	assert_non_null(beep);
	for (size_t i = 0; i < RATE; i++)
		beep[i] = (int16_t)lrint(AMP * sin(TWO_PI * 500 * i / RATE));
	assert_int_equal(media_play_pcm(me, a, beep, RATE), 0);
	uint64_t t0 = now_ms();
	talk(me, &ph, a, 1000, 2000, false);
	assert_false(talk(me, &ph, a, 0, 500, true)); /* silence, not yet long enough */
	assert_true(talk(me, &ph, a, 0, 1500, true));
	uint64_t took = now_ms() - t0;
	struct media_recording r = rec_wait(me, a, 0);
	assert_int_equal(r.end, MEDIA_REC_SILENCE);
	print_message("# recorded %zu samples, ended after %llu ms\n", r.n, (unsigned long long)took);
	/* the tone's 2 s, give or take the jitter buffer's start */
	assert_true(r.n >= 2000 * 8 - 2 * FRAME && r.n <= 2000 * 8 + 10 * FRAME);
	assert_true(took >= 2900 && took <= 3500);
	expect_tone(r.pcm + FRAME * 10, r.n - FRAME * 20, 1000);
	/* cut where the tone ends: the last frame still holds it */
	expect_tone(r.pcm + r.n - FRAME, FRAME, 1000);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	assert_int_equal(media_record_stop(me, a), ENOENT);
	free(r.pcm);
	leg_free(me, a);
	phone_close(&ph);
	engine_stop(me);
}

/* An Opus phone; its leg moves to another thread halfway (the recording
 * goes with it); ended by media_record_stop. */
static void test_record_opus_stop(void **state)
{
	(void)state;
	struct media_engine *me = eng(2);
	struct phone ph, other;
	phone_open(&ph, SDP_CODEC_OPUS, 111);
	phone_open(&other, SDP_CODEC_PCMU, 0);
	media_leg_id a = phone_leg(me, &ph, 0, 8);
	media_leg_id b = phone_leg(me, &other, 0, 9);
	unsigned ta, tb;
	assert_int_equal(media_leg_thread(me, a, &ta), 0);
	assert_int_equal(media_leg_thread(me, b, &tb), 0);
	assert_int_not_equal(ta, tb);
	talk(me, &ph, a, 1000, 100, false);
	assert_int_equal(media_record(me, a, 60000, 0), 0);
	talk(me, &ph, a, 1000, 600, false);
	assert_int_equal(media_bridge(me, b, a), 0); /* a moves to b's thread */
	talk(me, &ph, a, 1000, 600, false);
	assert_int_equal(media_leg_thread(me, a, &ta), 0);
	assert_int_equal(ta, tb);
	assert_int_equal(media_record_stop(me, a), 0);
	struct media_recording r = rec_wait(me, a, WAIT_MS);
	assert_int_equal(r.end, MEDIA_REC_STOPPED);
	print_message("# recorded %zu samples of Opus\n", r.n);
	assert_true(r.n >= 1100 * 8 && r.n <= 1400 * 8);
	expect_tone(r.pcm + FRAME * 10, r.n - FRAME * 20, 1000);
	/* no gap where the leg moved: every 20 ms of the middle holds the tone */
	for (size_t at = FRAME * 10; at + FRAME * 10 <= r.n; at += FRAME)
		if (total_power(r.pcm + at, FRAME) < AMP * AMP / 2 / 8)
			fail_msg("a gap at sample %zu", at);
	free(r.pcm);
	/* nothing records now; and no second RECORD_DONE */
	assert_int_equal(media_record_stop(me, a), ENOENT);
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_RECORD_DONE, a, NULL));
	leg_free(me, a);
	leg_free(me, b);
	phone_close(&ph);
	phone_close(&other);
	engine_stop(me);
}

/* max_ms reached: exactly that many samples. */
static void test_record_max(void **state)
{
	(void)state;
	struct media_engine *me = eng(1);
	struct phone ph;
	phone_open(&ph, SDP_CODEC_PCMU, 0);
	media_leg_id a = phone_leg(me, &ph, 0, 10);
	talk(me, &ph, a, 1000, 100, false);
	assert_int_equal(media_record(me, a, 500, 2000), 0);
	assert_true(talk(me, &ph, a, 1000, 1500, true));
	struct media_recording r = rec_wait(me, a, 0);
	assert_int_equal(r.end, MEDIA_REC_MAX);
	assert_int_equal(r.n, 500 * 8);
	expect_tone(r.pcm + FRAME * 5, r.n - FRAME * 5, 1000);
	free(r.pcm);
	leg_free(me, a);
	phone_close(&ph);
	engine_stop(me);
}

/* The leg freed while recording: RECORD_DONE (CLOSED) with the PCM so
 * far, before CLOSED. */
static void test_record_closed(void **state)
{
	(void)state;
	struct media_engine *me = eng(1);
	struct phone ph;
	phone_open(&ph, SDP_CODEC_PCMU, 0);
	media_leg_id a = phone_leg(me, &ph, 0, 11);
	talk(me, &ph, a, 1000, 100, false);
	assert_int_equal(media_record(me, a, 60000, 0), 0);
	talk(me, &ph, a, 1000, 600, false);
	assert_int_equal(media_leg_free(me, a), 0);
	for (uint64_t end = now_ms() + WAIT_MS; ev_find(MEDIA_EV_CLOSED, a) < 0 && now_ms() < end;)
		ev_take(me, 50);
	ssize_t closed = ev_find(MEDIA_EV_CLOSED, a), done = ev_find(MEDIA_EV_RECORD_DONE, a);
	assert_true(closed >= 0);
	assert_true(done >= 0 && done < closed);
	assert_int_equal(backlog[done].cookie, 11);
	struct media_recording r = rec_wait(me, a, 0);
	assert_int_equal(r.end, MEDIA_REC_CLOSED);
	assert_true(ev_pop(MEDIA_EV_CLOSED, a, NULL));
	assert_true(r.n >= 400 * 8 && r.n <= 800 * 8);
	expect_tone(r.pcm + FRAME * 5, r.n - FRAME * 10, 1000);
	free(r.pcm);
	/* at engine stop, a recording in a leg is freed without an event, and
	 * so is one in a RECORD_DONE the core never took */
	media_leg_id b = phone_leg(me, &ph, 0, 12);
	assert_int_equal(media_record(me, b, 60000, 0), 0);
	talk(me, &ph, b, 1000, 200, false);
	assert_int_equal(media_record(me, b, 60000, 0), 0); /* the first reports, in the queue */
	struct pollfd pfd = { .fd = media_event_fd(me), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	phone_close(&ph);
	engine_stop(me);
}

/* Telephone-events during a recording are digits, not audio. */
static void test_record_dtmf(void **state)
{
	(void)state;
	struct media_engine *me = eng(1);
	struct phone ph;
	phone_open(&ph, SDP_CODEC_PCMU, 0);
	media_leg_id a = phone_leg(me, &ph, 0, 13);
	talk(me, &ph, a, 0, 100, false);
	assert_int_equal(media_record(me, a, 60000, 0), 0);
	talk(me, &ph, a, 0, 200, false);
	/* the digit in place of audio, as phones send it, 20 ms apart */
	struct dtmf_tx tx;
	assert_int_equal(dtmf_tx_start(&tx, '5', ph.ts, 1600, 160, 10), 0);
	struct dtmf_tx_pkt pkt;
	unsigned sent = 0;
	for (uint64_t due = now_ms(); dtmf_tx_next(&tx, &pkt) == 0 && sent < 64; sent++) {
		for (uint64_t t; (t = now_ms()) < due;)
			ev_take(me, (int)(due - t));
		send_rtp(&ph, 101, pkt.marker, ph.seq++, pkt.ts, pkt.payload, sizeof pkt.payload);
		due += 20;
	}
	ph.ts += 1600;
	ph.due = now_ms();
	talk(me, &ph, a, 0, 300, false);
	struct media_event ev;
	assert_true(ev_wait(me, MEDIA_EV_DTMF, a, WAIT_MS, &ev));
	assert_int_equal(ev.digit, '5');
	assert_int_equal(media_record_stop(me, a), 0);
	struct media_recording r = rec_wait(me, a, WAIT_MS);
	assert_int_equal(r.end, MEDIA_REC_STOPPED);
	assert_true(r.n >= 500 * 8);
	/* silence all through: the events were not decoded as audio */
	double tot = total_power(r.pcm, r.n);
	if (tot > 10.0)
		fail_msg("the recording is not silent: power %.1f", tot);
	free(r.pcm);
	leg_free(me, a);
	phone_close(&ph);
	engine_stop(me);
}

/* Replaced by another recording (which reports first), a leg that cannot
 * be decoded, a leg not set, silence from the start, the errors. */
static void test_record_edges(void **state)
{
	(void)state;
	struct media_engine *me = eng(1);
	struct phone ph;
	phone_open(&ph, SDP_CODEC_PCMU, 0);
	media_leg_id a = phone_leg(me, &ph, 0, 14);
	assert_int_equal(media_record(me, a, 0, 0), EINVAL);
	assert_int_equal(media_record(me, a, MEDIA_REC_MAX_MS + 1, 0), EINVAL);
	assert_int_equal(media_record(me, 0, 1000, 0), ENOENT);
	assert_int_equal(media_record(me, a + 256, 1000, 0), ENOENT);
	assert_int_equal(media_record_stop(me, a), ENOENT);
	assert_int_equal(media_record_stop(me, 0), ENOENT);
	assert_int_equal(media_record(NULL, a, 1000, 0), EINVAL);

	/* replaced: the first reports STOPPED, the second goes on */
	talk(me, &ph, a, 0, 100, false);
	assert_int_equal(media_record(me, a, 60000, 0), 0);
	talk(me, &ph, a, 1000, 300, false);
	talk(me, &ph, a, 0, 200, false);
	assert_int_equal(media_record(me, a, 60000, 300), 0);
	struct media_recording r = rec_wait(me, a, WAIT_MS);
	assert_int_equal(r.end, MEDIA_REC_STOPPED);
	assert_true(r.n > 0);
	free(r.pcm);
	/* the second: silence from the start ends it, nothing kept */
	assert_true(talk(me, &ph, a, 0, 1500, true));
	r = rec_wait(me, a, 0);
	assert_int_equal(r.end, MEDIA_REC_SILENCE);
	assert_int_equal(r.n, 0);
	assert_null(r.pcm);

	/* a leg not set, and a raw one: FAILED at once */
	media_leg_id b = leg_new(me, 0, 15, NULL);
	assert_int_equal(media_record(me, b, 1000, 0), 0);
	r = rec_wait(me, b, WAIT_MS);
	assert_int_equal(r.end, MEDIA_REC_FAILED);
	assert_int_equal(r.n, 0);
	struct media_leg_params p = params(&ph);
	p.raw = true;
	assert_int_equal(media_leg_set(me, b, &p), 0);
	assert_int_equal(media_record(me, b, 1000, 0), 0);
	r = rec_wait(me, b, WAIT_MS);
	assert_int_equal(r.end, MEDIA_REC_FAILED);
	/* a codec taken away by media_leg_set: FAILED with what it had */
	p = params(&ph);
	assert_int_equal(media_leg_set(me, b, &p), 0);
	assert_int_equal(media_record(me, b, 1000, 0), 0);
	ev_settle(me, 100);
	p.codec = SDP_CODEC_TEL_EVENT; /* nothing decodes it */
	assert_int_equal(media_leg_set(me, b, &p), 0);
	r = rec_wait(me, b, WAIT_MS);
	assert_int_equal(r.end, MEDIA_REC_FAILED);
	free(r.pcm);
	assert_int_equal(media_record_stop(me, b), ENOENT);
	leg_free(me, a);
	leg_free(me, b);
	phone_close(&ph);
	engine_stop(me);
}

/* RECORD_DONE is never dropped: with the event queue full of digits, a
 * recording that fails and one whose leg is freed both report once the
 * core takes events again, each before its leg's CLOSED. */
static void test_record_overflow(void **state)
{
	(void)state;
	enum { DIGITS = 4500 };
	struct media_engine *me = eng(1);
	struct phone ph;
	phone_open(&ph, SDP_CODEC_PCMU, 0);
	media_leg_id a = phone_leg(me, &ph, 0, 20);
	talk(me, &ph, a, 0, 100, false);
	assert_int_equal(media_record(me, a, 60000, 0), 0);
	talk(me, &ph, a, 1000, 300, false);
	/* one end packet per digit, in bursts the socket holds, not taken */
	for (unsigned i = 0; i < DIGITS; i++) {
		struct dtmf_event ev = { .event = (uint8_t)(i % 10), .end = true, .volume = 10,
					 .duration = 800 };
		uint8_t pl[DTMF_PAYLOAD_LEN];
		dtmf_build(&ev, pl);
		send_rtp(&ph, 101, false, ph.seq++, ph.ts + 1000 * i, pl, sizeof pl);
		if (i % 100 == 99 || i == DIGITS - 1) {
			struct media_totals t;
			uint64_t end = now_ms() + WAIT_MS;
			do {
				media_engine_totals(me, &t);
			} while (t.rx_packets < 20 + i + 1 && now_ms() < end && poll(NULL, 0, 1) == 0);
			assert_true(t.rx_packets >= 20 + i + 1);
		}
	}
	media_leg_id c = leg_new(me, 0, 21, NULL);
	assert_int_equal(media_record(me, c, 1000, 0), 0); /* FAILED: not set */
	assert_int_equal(media_leg_free(me, a), 0);
	assert_int_equal(media_leg_free(me, c), 0);
	nbacklog = 0; /* what talk() took: no recordings */
	/* take everything; where the four events of interest came */
	long at_done_a = -1, at_closed_a = -1, at_done_c = -1, at_closed_c = -1, seen = 0;
	struct media_recording ra = { 0 }, rc = { 0 };
	uint64_t end = now_ms() + WAIT_MS;
	while ((at_closed_a < 0 || at_closed_c < 0) && now_ms() < end) {
		struct pollfd pfd = { .fd = media_event_fd(me), .events = POLLIN };
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		struct media_event ev[64];
		size_t n = media_events_take(me, ev, 64);
		for (size_t i = 0; i < n; i++, seen++) {
			if (ev[i].kind == MEDIA_EV_RECORD_DONE && ev[i].leg == a) {
				assert_int_equal(at_done_a, -1);
				at_done_a = seen;
				ra = ev[i].rec;
			} else if (ev[i].kind == MEDIA_EV_RECORD_DONE && ev[i].leg == c) {
				assert_int_equal(at_done_c, -1);
				at_done_c = seen;
				rc = ev[i].rec;
			} else if (ev[i].kind == MEDIA_EV_CLOSED) {
				*(ev[i].leg == a ? &at_closed_a : &at_closed_c) = seen;
			} else if (ev[i].kind == MEDIA_EV_RECORD_DONE) {
				free(ev[i].rec.pcm);
			}
		}
	}
	print_message("# %ld events; RECORD_DONE at %ld and %ld, CLOSED at %ld and %ld\n", seen,
		      at_done_a, at_done_c, at_closed_a, at_closed_c);
	assert_true(seen >= 4000); /* the queue was full */
	assert_true(at_done_a >= 0 && at_done_a < at_closed_a);
	assert_true(at_done_c >= 0 && at_done_c < at_closed_c);
	assert_int_equal(ra.end, MEDIA_REC_CLOSED);
	assert_true(ra.n >= 200 * 8);
	assert_int_equal(rc.end, MEDIA_REC_FAILED);
	assert_null(rc.pcm);
	free(ra.pcm);
	phone_close(&ph);
	engine_stop(me);
}

/* --------------------------------------------------------------- PCM play */

static int16_t *sine(double hz, size_t n)
{
	int16_t *pcm = malloc(n * sizeof *pcm);
	assert_non_null(pcm);
	for (size_t i = 0; i < n; i++)
		pcm[i] = (int16_t)lrint(AMP * sin(TWO_PI * hz * i / RATE));
	return pcm;
}

/* 500 Hz for 1 s, heard by the phone (its PCMU decoded), PLAY_DONE once. */
static void test_play_pcm(void **state)
{
	(void)state;
	struct media_engine *me = eng(1);
	struct phone ph;
	phone_open(&ph, SDP_CODEC_PCMU, 0);
	media_leg_id a = phone_leg(me, &ph, 0, 16);
	assert_int_equal(media_play_pcm(me, a, sine(500, RATE), RATE), 0);
	int16_t heard[2 * RATE];
	size_t n = 0;
	uint8_t buf[2048];
	struct rtp_hdr h;
	while (n + FRAME <= sizeof heard / sizeof heard[0] && recv_rtp(&ph, buf, sizeof buf, 300, &h)) {
		assert_int_equal(h.pt, 0);
		assert_int_equal(h.payload_len, FRAME);
		g711_ulaw_decode_buf(h.payload, heard + n, FRAME);
		n += FRAME;
	}
	assert_int_equal(n, RATE);
	expect_tone(heard, n, 500);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, a, NULL));

	/* the errors: the buffer is freed whatever is answered */
	assert_int_equal(media_play_pcm(me, a, malloc(16), 0), EINVAL);
	assert_int_equal(media_play_pcm(me, a, malloc(16), (size_t)MEDIA_PCM_MAX + 1), EINVAL);
	assert_int_equal(media_play_pcm(me, a, NULL, 8), EINVAL);
	assert_int_equal(media_play_pcm(me, a + 256, sine(500, 8), 8), ENOENT);
	assert_int_equal(media_play_pcm(NULL, a, sine(500, 8), 8), EINVAL);
	/* a leg not set: PLAY_DONE at once, the buffer freed */
	media_leg_id b = leg_new(me, 0, 17, NULL);
	assert_int_equal(media_play_pcm(me, b, sine(500, RATE), RATE), 0);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, b, WAIT_MS, NULL));
	ev_settle(me, 50);
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, a, NULL));
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, b, NULL));
	leg_free(me, a);
	leg_free(me, b);
	phone_close(&ph);
	engine_stop(me);
}

/* A PCM replaced by media_play, or by another PCM, reports once each and
 * is freed; one still playing when the leg is freed is freed. */
static void test_play_pcm_replace(void **state)
{
	(void)state;
	struct media_engine *me = eng(1);
	struct phone ph;
	phone_open(&ph, SDP_CODEC_PCMU, 0);
	media_leg_id a = phone_leg(me, &ph, 0, 18);
	assert_int_equal(media_play_pcm(me, a, sine(500, 5 * RATE), 5 * RATE), 0);
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, a, NULL));
	struct prompt_seq none = { 0 };
	assert_int_equal(media_play(me, a, &none), 0); /* stops it; reports for it alone */
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, a, NULL));
	/* nothing more reaches the phone */
	uint8_t buf[2048];
	struct rtp_hdr h;
	while (phone_recv(&ph, buf, sizeof buf, 0))
		;
	assert_false(recv_rtp(&ph, buf, sizeof buf, 100, &h));

	/* PCM over PCM: the first reports, the second plays */
	assert_int_equal(media_play_pcm(me, a, sine(500, 5 * RATE), 5 * RATE), 0);
	assert_int_equal(media_play_pcm(me, a, sine(1000, 5 * RATE), 5 * RATE), 0);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, a, NULL));
	/* a tone cuts it short, both report */
	assert_int_equal(media_tone(me, a, MEDIA_TONE_CONFIRM), 0);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	assert_true(ev_wait(me, MEDIA_EV_TONE_DONE, a, WAIT_MS, NULL));
	/* freed while it plays */
	assert_int_equal(media_play_pcm(me, a, sine(500, 5 * RATE), 5 * RATE), 0);
	ev_settle(me, 60);
	leg_free(me, a);
	/* and one still in the command queue at stop */
	media_leg_id b = phone_leg(me, &ph, 0, 19);
	assert_int_equal(media_play_pcm(me, b, sine(500, 5 * RATE), 5 * RATE), 0);
	assert_int_equal(media_record(me, b, 1000, 0), 0);
	phone_close(&ph);
	engine_stop(me);
}

/* ---------------------------------------------------------------- main */

/* What lives as long as the process is made before the leak check counts:
 * libsrtp's tables (made at the first engine start) and glibc's cache of
 * thread stacks with their TLS. */
static void warm_up(void)
{
	struct media_engine *me = NULL;
	struct media_engine_cfg cfg = { .threads = 2, .port_lo = port_base(),
					.port_hi = (uint16_t)(port_base() + 99) };
	if (media_engine_start(&me, &cfg))
		exit(1);
	struct sockaddr_storage local;
	memset(&local, 0, sizeof local);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	memcpy(&local, &a, sizeof a);
	for (int i = 0; i < 2; i++) {
		media_leg_id id;
		uint16_t port;
		if (media_leg_new(me, &local, 0, 0, &id, &port))
			exit(1);
		media_tone(me, id, MEDIA_TONE_CONFIRM);
	}
	struct pollfd pfd = { .fd = media_event_fd(me), .events = POLLIN };
	struct media_event ev[8];
	for (int n = 0, k = 0; n < 2 && k < 10 && poll(&pfd, 1, WAIT_MS) > 0; k++)
		n += (int)media_events_take(me, ev, 8);
	media_engine_stop(me);
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	warm_up();
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_record_silence),
		UNIT_TEST(test_record_opus_stop),
		UNIT_TEST(test_record_max),
		UNIT_TEST(test_record_closed),
		UNIT_TEST(test_record_dtmf),
		UNIT_TEST(test_record_edges),
		UNIT_TEST(test_record_overflow),
		UNIT_TEST(test_play_pcm),
		UNIT_TEST(test_play_pcm_replace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
