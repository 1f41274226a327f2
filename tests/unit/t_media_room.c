/*
 * t_media_room.c: prompts and conference rooms in the media engine, on
 * loopback with real UDP sockets as the phones (as t_media.c).
 *
 * Covered: prompts loaded at start (media_engine_cfg.prompt_dir) played to
 * a PCMU leg, packet by packet the G.711 of the prompt's own samples, one
 * stream, then PLAY_DONE once; to an Opus leg (48 kHz clock, 960 a
 * packet); PLAY_DONE once per play whether it ends, is replaced, stopped
 * by an empty sequence, cut by a tone, or cannot start (no prompts, a leg
 * not set); DTMF reported while a prompt plays; a bridge's audio held back
 * while it plays and going on after it in the same stream; the errors.
 * Rooms: three phones (PCMU, PCMA, Opus, one of them joined from another
 * thread) each sending its own tone hear the two others and not
 * themselves (Goertzel bands, their own at least 30 dB below), each on one
 * continuous stream in its codec; TALKING; mute takes a tone away; a
 * listen volume step lowers what one hears by 12 dB; a member playing a
 * prompt hears the prompt alone and is still heard; DTMF of a member is
 * reported; leave and free stop the audio; a leg freed while joined, a
 * member bridged away, a room still full at stop.
 *
 * Prompts come from $PBX_PROMPT_DIR, else build/prompts when it is there
 * (the Makefile builds it before the unit tests), else a folder of short
 * tones written here. Every wait is poll() with a bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <opus.h>

#include "dtmf.h"
#include "g711.h"
#include "media.h"
#include "prompt.h"
#include "rtp.h"
#include "unit.h"

#define TWO_PI 6.283185307179586
#define WAIT_MS 2000 /* bound for anything that should come at once */
#define OWN_BELOW 1e-3 /* 30 dB */

/* ------------------------------------------------------------- helpers */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Apart from t_media's range (20000..31999), below the ephemeral ports. */
static uint16_t port_base(void)
{
	return (uint16_t)(10000 + (getpid() % 100) * 100);
}

static const char *prompt_dir;          /* set in main */
static struct prompt_table *prompts;    /* the same files, for what to expect */
static char gen_dir[64];                /* written here when nothing was built */

static struct media_engine *eng(unsigned threads, const char *dir)
{
	struct media_engine_cfg cfg = {
		.threads = threads,
		.port_lo = port_base(),
		.port_hi = (uint16_t)(port_base() + 99),
		.prompt_dir = dir,
	};
	struct media_engine *me = NULL;
	assert_int_equal(media_engine_start(&me, &cfg), 0);
	assert_non_null(me);
	return me;
}

struct phone {
	int fd;
	struct sockaddr_storage addr;
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
	/* a second of a room's audio waits in the socket without loss */
	int sz = 1 << 20;
	(void)setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

static void phone_close(struct phone *p)
{
	close(p->fd);
	p->fd = -1;
}

static void send_raw(struct phone *p, uint16_t port, const uint8_t *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(sendto(p->fd, buf, len, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)len);
}

static void send_rtp(struct phone *p, uint16_t port, uint8_t pt, bool marker, uint16_t seq,
		     uint32_t ts, uint32_t ssrc, const uint8_t *payload, size_t len)
{
	uint8_t buf[1500];
	struct rtp_hdr h = { .pt = pt, .marker = marker, .seq = seq, .ts = ts, .ssrc = ssrc };
	size_t n = 0;
	assert_int_equal(rtp_build(&h, payload, len, buf, sizeof buf, &n), 0);
	send_raw(p, port, buf, n);
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

static void phone_drain(struct phone *p)
{
	uint8_t buf[2048];
	while (phone_recv(p, buf, sizeof buf, 0))
		;
}

static void send_digit(struct phone *p, uint16_t port, char digit, uint16_t *seq, uint32_t ts,
		       uint32_t ssrc)
{
	struct dtmf_tx tx;
	assert_int_equal(dtmf_tx_start(&tx, digit, ts, 800, 160, 10), 0);
	struct dtmf_tx_pkt pkt;
	while (dtmf_tx_next(&tx, &pkt) == 0)
		send_rtp(p, port, 101, pkt.marker, (*seq)++, pkt.ts, ssrc, pkt.payload,
			 sizeof pkt.payload);
}

/* ---------------------------------------------------------------- events */

static struct media_event backlog[1024];
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

/* Wait for a TALKING event about leg that says `want` (others before it,
 * from a talker who paused while the test was descheduled, are passed
 * over). */
static void talking_wait(struct media_engine *me, media_leg_id leg, int want)
{
	uint64_t end = now_ms() + WAIT_MS;
	struct media_event ev;
	for (uint64_t t; (t = now_ms()) < end;)
		if (ev_wait(me, MEDIA_EV_TALKING, leg, (int)(end - t), &ev) && ev.talking == want)
			return;
	fail_msg("no TALKING %d for leg %u", want, leg);
}

static void engine_stop(struct media_engine *me)
{
	media_engine_stop(me);
	nbacklog = 0;
}

/* ------------------------------------------------------------------ legs */

static media_leg_id leg_new(struct media_engine *me, media_leg_id near, uint64_t cookie,
			    uint16_t *port)
{
	struct sockaddr_storage local;
	memset(&local, 0, sizeof local);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	memcpy(&local, &a, sizeof a);
	media_leg_id id = 0;
	assert_int_equal(media_leg_new(me, &local, near, cookie, &id, port), 0);
	return id;
}

static struct media_leg_params params(const struct phone *ph, enum sdp_codec codec, uint8_t pt)
{
	struct media_leg_params p;
	memset(&p, 0, sizeof p);
	if (ph)
		p.remote = ph->addr;
	p.codec = codec;
	p.pt = pt;
	p.clock = codec == SDP_CODEC_OPUS ? 48000 : 8000;
	p.channels = codec == SDP_CODEC_OPUS ? 2 : 1;
	p.dtmf = true;
	p.dtmf_pt = 101;
	p.dtmf_clock = 8000;
	p.ptime = 20;
	p.dir = SDP_DIR_SENDRECV;
	return p;
}

static void leg_free(struct media_engine *me, media_leg_id id, uint64_t cookie)
{
	struct media_event ev;
	assert_int_equal(media_leg_free(me, id), 0);
	assert_true(ev_wait(me, MEDIA_EV_CLOSED, id, WAIT_MS, &ev));
	assert_int_equal(ev.cookie, cookie);
	/* nothing else is reported about it later */
	ev_settle(me, 50);
	assert_false(ev_pop(MEDIA_EV_CLOSED, id, NULL));
}

/* ------------------------------------------------------------- analysis */

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

/* The prompts of seq as the player hands them out: 160-sample frames, the
 * last padded with silence. Returns the frames; *pcm is the caller's. */
static size_t seq_frames(const struct prompt_seq *s, int16_t **pcm)
{
	size_t n = 0;
	for (unsigned i = 0; i < s->n; i++)
		n += prompt_get(prompts, (enum prompt_id)s->id[i]).n;
	size_t frames = (n + PROMPT_FRAME - 1) / PROMPT_FRAME;
	*pcm = calloc(frames * PROMPT_FRAME + 1, sizeof **pcm);
	assert_non_null(*pcm);
	size_t at = 0;
	for (unsigned i = 0; i < s->n; i++) {
		struct prompt_pcm p = prompt_get(prompts, (enum prompt_id)s->id[i]);
		if (p.n)
			memcpy(*pcm + at, p.samples, p.n * sizeof **pcm);
		at += p.n;
	}
	return frames;
}

/* ---------------------------------------------------------------- prompts */

/* Receive a prompt on a PCMU phone: every packet is the G.711 of the next
 * frame, one SSRC, sequence +1, timestamp +160. Returns the packets. */
static unsigned recv_prompt_pcmu(struct phone *ph, const int16_t *pcm, size_t frames,
				 uint32_t *ssrc, uint16_t *last_seq)
{
	unsigned got = 0;
	uint8_t buf[2048];
	struct rtp_hdr h;
	uint32_t ts = 0;
	while (recv_rtp(ph, buf, sizeof buf, 300, &h)) {
		assert_true(got < frames);
		assert_int_equal(h.pt, 0);
		assert_int_equal(h.payload_len, PROMPT_FRAME);
		uint8_t want[PROMPT_FRAME];
		g711_ulaw_encode_buf(pcm + (size_t)got * PROMPT_FRAME, want, PROMPT_FRAME);
		assert_memory_equal(h.payload, want, PROMPT_FRAME);
		if (got) {
			assert_int_equal(h.ssrc, *ssrc);
			assert_int_equal(h.seq, (uint16_t)(*last_seq + 1));
			assert_int_equal(h.ts, ts + 160);
			assert_false(h.marker);
		} else {
			assert_true(h.marker);
		}
		*ssrc = h.ssrc;
		*last_seq = h.seq;
		ts = h.ts;
		got++;
	}
	return got;
}

static void test_play_pcmu(void **state)
{
	(void)state;
	/* the prompts come with the engine's configuration */
	struct media_engine *me = eng(1, prompt_dir);
	struct phone ph;
	phone_open(&ph);
	uint16_t port;
	media_leg_id a = leg_new(me, 0, 5, &port);
	struct media_leg_params p = params(&ph, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, a, &p), 0);

	struct prompt_seq s = { 0 };
	assert_int_equal(prompt_seq_add(&s, PROMPT_CONF_JOINED), 0);
	assert_int_equal(prompt_seq_add_number(&s, 42), 0);
	int16_t *pcm;
	size_t frames = seq_frames(&s, &pcm);
	assert_true(frames > 10);
	uint64_t t0 = now_ms();
	assert_int_equal(media_play(me, a, &s), 0);
	uint32_t ssrc = 0;
	uint16_t seq = 0;
	unsigned got = recv_prompt_pcmu(&ph, pcm, frames, &ssrc, &seq);
	uint64_t took = now_ms() - t0;
	assert_int_equal(got, frames);
	/* in real time, 20 ms a packet (the last wait of 300 ms included) */
	if (took + 40 < frames * 20 || took > frames * 20 + 300 + 500)
		fail_msg("%zu frames took %llu ms", frames, (unsigned long long)took);
	struct media_event ev;
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, &ev));
	assert_int_equal(ev.cookie, 5);
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, a, NULL));

	/* again: the same stream, a new source (marked, later timestamp) */
	struct prompt_seq one = { 0 };
	assert_int_equal(prompt_seq_add(&one, PROMPT_GOODBYE), 0);
	free(pcm);
	frames = seq_frames(&one, &pcm);
	assert_int_equal(media_play(me, a, &one), 0);
	uint8_t buf[2048];
	struct rtp_hdr h;
	assert_true(recv_rtp(&ph, buf, sizeof buf, WAIT_MS, &h));
	assert_int_equal(h.ssrc, ssrc);
	assert_int_equal(h.seq, (uint16_t)(seq + 1));
	assert_true(h.marker);
	phone_drain(&ph);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS + (int)frames * 20, NULL));
	free(pcm);

	struct media_totals tot;
	media_engine_totals(me, &tot);
	assert_true(tot.tx_packets >= got + 1);
	leg_free(me, a, 5);
	phone_close(&ph);
	engine_stop(me);
}

static void test_play_opus(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, NULL);
	assert_int_equal(media_engine_set_prompts(me, prompt_dir), 0);
	struct phone ph;
	phone_open(&ph);
	uint16_t port;
	media_leg_id a = leg_new(me, 0, 6, &port);
	struct media_leg_params p = params(&ph, SDP_CODEC_OPUS, 111);
	assert_int_equal(media_leg_set(me, a, &p), 0);
	struct prompt_seq s = { 0 };
	assert_int_equal(prompt_seq_add(&s, PROMPT_CONF_ENTER_PIN), 0);
	int16_t *pcm;
	size_t frames = seq_frames(&s, &pcm);
	double prompt_power = total_power(pcm, frames * PROMPT_FRAME);
	free(pcm);
	assert_true(prompt_power > 1e4);
	int err;
	OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
	assert_int_equal(err, OPUS_OK);
	size_t cap = (frames + 1) * 960, n = 0;
	int16_t *heard = calloc(cap, sizeof *heard);
	assert_non_null(heard);

	assert_int_equal(media_play(me, a, &s), 0);
	unsigned got = 0;
	uint8_t buf[2048];
	struct rtp_hdr h;
	uint32_t ts = 0, ssrc = 0;
	uint16_t seq = 0;
	while (recv_rtp(&ph, buf, sizeof buf, 300, &h)) {
		assert_true(got < frames);
		assert_int_equal(h.pt, 111);
		if (got) {
			assert_int_equal(h.ssrc, ssrc);
			assert_int_equal(h.seq, (uint16_t)(seq + 1));
			assert_int_equal(h.ts, ts + 960);
		}
		ssrc = h.ssrc;
		seq = h.seq;
		ts = h.ts;
		int r = opus_decode(dec, h.payload, (opus_int32)h.payload_len, heard + n, 960, 0);
		assert_int_equal(r, 960);
		n += 960;
		got++;
	}
	assert_int_equal(got, frames);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	/* the prompt's audio at about its level (Opus keeps the loudness) */
	double heard_power = total_power(heard, n);
	if (heard_power < prompt_power / 4 || heard_power > prompt_power * 4)
		fail_msg("heard power %.0f, the prompt's %.0f", heard_power, prompt_power);
	opus_decoder_destroy(dec);
	free(heard);
	leg_free(me, a, 6);
	phone_close(&ph);
	engine_stop(me);
}

/* PLAY_DONE once per play, whatever ends it; DTMF while it plays; the
 * errors. */
static void test_play_done(void **state)
{
	(void)state;
	struct prompt_seq s = { 0 }, empty = { 0 };
	assert_int_equal(prompt_seq_add(&s, PROMPT_CONF_ENTER_PIN), 0);
	assert_int_equal(prompt_seq_add(&s, PROMPT_CONF_ENTER_PIN), 0);
	/* no prompts loaded: done at once, nothing sent */
	struct media_engine *me = eng(1, NULL);
	struct phone ph;
	phone_open(&ph);
	uint16_t port_a, port_b;
	media_leg_id a = leg_new(me, 0, 7, &port_a);
	struct media_leg_params p = params(&ph, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, a, &p), 0);
	assert_int_equal(media_play(me, a, &s), 0);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	uint8_t buf[2048];
	struct rtp_hdr h;
	assert_false(recv_rtp(&ph, buf, sizeof buf, 100, &h));

	assert_int_equal(media_engine_set_prompts(me, prompt_dir), 0);
	/* loaded again over the first table: still fine */
	assert_int_equal(media_engine_set_prompts(me, prompt_dir), 0);
	assert_int_equal(media_engine_set_prompts(me, NULL), EINVAL);
	assert_int_equal(media_engine_set_prompts(NULL, prompt_dir), EINVAL);
	/* a leg not yet set cannot play: done at once */
	media_leg_id b = leg_new(me, 0, 8, &port_b);
	assert_int_equal(media_play(me, b, &s), 0);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, b, WAIT_MS, NULL));

	/* replaced: the first reports at once, the second at its end */
	assert_int_equal(media_play(me, a, &s), 0);
	assert_true(recv_rtp(&ph, buf, sizeof buf, WAIT_MS, &h));
	assert_int_equal(media_play(me, a, &s), 0);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, a, NULL));
	/* DTMF while it plays is reported (PIN digits over a prompt) */
	uint16_t dseq = 100;
	send_digit(&ph, port_a, '7', &dseq, 1000, 0x77);
	struct media_event ev;
	assert_true(ev_wait(me, MEDIA_EV_DTMF, a, WAIT_MS, &ev));
	assert_int_equal(ev.digit, '7');
	/* still playing: stopped by an empty sequence, which reports nothing
	 * of its own */
	assert_true(recv_rtp(&ph, buf, sizeof buf, WAIT_MS, &h));
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, a, NULL));
	assert_int_equal(media_play(me, a, &empty), 0);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	phone_drain(&ph);
	assert_false(recv_rtp(&ph, buf, sizeof buf, 100, &h));
	assert_int_equal(media_play(me, a, &empty), 0);
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, a, NULL));

	/* a tone cuts a prompt short, and a prompt a tone; each reports once */
	assert_int_equal(media_play(me, a, &s), 0);
	assert_true(recv_rtp(&ph, buf, sizeof buf, WAIT_MS, &h));
	assert_int_equal(media_tone(me, a, MEDIA_TONE_ERROR), 0);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	assert_int_equal(media_play(me, a, &s), 0);
	assert_true(ev_wait(me, MEDIA_EV_TONE_DONE, a, WAIT_MS, NULL));
	/* a codec change goes on in the new codec, on the same stream */
	assert_true(recv_rtp(&ph, buf, sizeof buf, WAIT_MS, &h));
	uint32_t ssrc = h.ssrc;
	struct media_leg_params pa = params(&ph, SDP_CODEC_PCMA, 8);
	assert_int_equal(media_leg_set(me, a, &pa), 0);
	bool pcma = false;
	for (unsigned i = 0; i < 20 && !pcma; i++) {
		assert_true(recv_rtp(&ph, buf, sizeof buf, WAIT_MS, &h));
		assert_int_equal(h.ssrc, ssrc);
		pcma = h.pt == 8;
	}
	assert_true(pcma);
	/* a raw leg cannot be given it: cut short */
	pa.raw = true;
	assert_int_equal(media_leg_set(me, a, &pa), 0);
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	ev_settle(me, 100);
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, a, NULL));
	assert_false(ev_pop(MEDIA_EV_TONE_DONE, a, NULL));

	/* errors */
	struct prompt_seq bad = { 0 };
	assert_int_equal(media_play(me, a, NULL), EINVAL);
	bad.n = PROMPT_SEQ_MAX + 1;
	assert_int_equal(media_play(me, a, &bad), EINVAL);
	bad.n = 1;
	bad.id[0] = PROMPT_COUNT;
	assert_int_equal(media_play(me, a, &bad), EINVAL);
	assert_int_equal(media_play(me, 12345, &s), ENOENT);
	assert_int_equal(media_play(NULL, a, &s), EINVAL);

	leg_free(me, a, 7);
	leg_free(me, b, 8);
	phone_close(&ph);
	engine_stop(me);
}

/* A bridged leg hears the prompt alone while it plays, then the other
 * phone again on the same stream; a prompt still playing when the leg is
 * freed ends with CLOSED alone. */
static void test_play_bridge(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, prompt_dir);
	struct phone pa, pb;
	phone_open(&pa);
	phone_open(&pb);
	uint16_t port_a, port_b;
	media_leg_id a = leg_new(me, 0, 1, &port_a);
	media_leg_id b = leg_new(me, a, 2, &port_b);
	struct media_leg_params p = params(&pa, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, a, &p), 0);
	p = params(&pb, SDP_CODEC_PCMU, 0);
	assert_int_equal(media_leg_set(me, b, &p), 0);
	assert_int_equal(media_bridge(me, a, b), 0);

	struct prompt_seq s = { 0 };
	assert_int_equal(prompt_seq_add(&s, PROMPT_VM_ENTER_PIN), 0);
	int16_t *pcm;
	size_t frames = seq_frames(&s, &pcm);
	uint8_t mark[160];
	memset(mark, 0x55, sizeof mark);
	/* B talks all along, one packet every 20 ms */
	uint16_t bseq = 1;
	uint32_t bts = 0;
	send_rtp(&pb, port_b, 0, false, bseq++, bts, 0xb0b, mark, sizeof mark);
	uint8_t buf[2048];
	struct rtp_hdr h;
	assert_true(recv_rtp(&pa, buf, sizeof buf, WAIT_MS, &h));
	assert_memory_equal(h.payload, mark, sizeof mark);
	uint32_t ssrc = h.ssrc;
	uint16_t seq = h.seq;

	assert_int_equal(media_play(me, a, &s), 0);
	size_t next = 0, after = 0;
	uint64_t t0 = now_ms(), end = t0 + frames * 20 + 1500;
	bool done = false;
	for (unsigned f = 0; now_ms() < end && after < 10; f++) {
		bts += 160;
		send_rtp(&pb, port_b, 0, false, bseq++, bts, 0xb0b, mark, sizeof mark);
		uint64_t due = t0 + 20 * (f + 1);
		for (uint64_t t; (t = now_ms()) < due;) {
			if (!recv_rtp(&pa, buf, sizeof buf, (int)(due - t), &h))
				continue;
			assert_int_equal(h.ssrc, ssrc);
			assert_int_equal(h.seq, (uint16_t)(seq + 1));
			seq = h.seq;
			if (memcmp(h.payload, mark, sizeof mark) == 0) {
				/* B's audio: before the first prompt frame or after the last */
				assert_true(next == 0 || next == frames);
				if (next == frames)
					after++;
				continue;
			}
			assert_true(next < frames);
			uint8_t want[PROMPT_FRAME];
			g711_ulaw_encode_buf(pcm + next * PROMPT_FRAME, want, PROMPT_FRAME);
			assert_memory_equal(h.payload, want, PROMPT_FRAME);
			next++;
		}
		if (!done)
			done = ev_pop(MEDIA_EV_PLAY_DONE, a, NULL);
		ev_take(me, 0);
	}
	assert_int_equal(next, frames);
	assert_true(after >= 10);
	assert_true(done || ev_wait(me, MEDIA_EV_PLAY_DONE, a, WAIT_MS, NULL));
	free(pcm);
	/* a play cut by the leg's end: CLOSED, no PLAY_DONE */
	assert_int_equal(media_play(me, a, &s), 0);
	assert_true(recv_rtp(&pa, buf, sizeof buf, WAIT_MS, &h));
	leg_free(me, a, 1);
	assert_false(ev_pop(MEDIA_EV_PLAY_DONE, a, NULL));
	leg_free(me, b, 2);
	phone_close(&pa);
	phone_close(&pb);
	engine_stop(me);
}

/* ------------------------------------------------------------------ rooms */

#define HEARD_MS 6000 /* kept per phase, at most */

/* A phone in a room: it speaks a tone in its codec in real time and
 * decodes what it is sent, checking that it is one stream. */
struct member {
	struct phone ph;
	media_leg_id id;
	uint16_t port;
	enum sdp_codec codec;
	uint8_t pt;
	uint32_t rate;            /* its PCM rate and RTP clock: 8000, or 48000 for Opus */
	double hz;                /* its tone */
	bool quiet;               /* sends nothing */
	OpusEncoder *enc;
	OpusDecoder *dec;
	uint16_t tx_seq;
	uint32_t tx_ts;
	uint64_t phase;           /* samples of its tone sent */
	/* what it received */
	bool got_any;
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	unsigned pkts;            /* since the phase began */
	int16_t *heard;           /* decoded since the phase began */
	size_t nheard, cap;
	uint8_t (*raw)[PROMPT_FRAME]; /* PCMU payloads of the phase, when keep_raw */
	size_t nraw;
	bool keep_raw;
};

static void member_init(struct member *m, enum sdp_codec codec, uint8_t pt, double hz)
{
	memset(m, 0, sizeof *m);
	phone_open(&m->ph);
	m->codec = codec;
	m->pt = pt;
	m->hz = hz;
	m->rate = codec == SDP_CODEC_OPUS ? 48000 : 8000;
	if (codec == SDP_CODEC_OPUS) {
		int err;
		m->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
		assert_int_equal(err, OPUS_OK);
		m->dec = opus_decoder_create(48000, 1, &err);
		assert_int_equal(err, OPUS_OK);
	}
	m->cap = (size_t)m->rate * HEARD_MS / 1000;
	m->heard = calloc(m->cap, sizeof *m->heard);
	m->raw = calloc(HEARD_MS / 20, sizeof *m->raw);
	assert_non_null(m->heard);
	assert_non_null(m->raw);
	m->tx_seq = (uint16_t)(hz * 7);
	m->tx_ts = (uint32_t)(hz * 1000);
}

static void member_free(struct member *m)
{
	if (m->enc)
		opus_encoder_destroy(m->enc);
	if (m->dec)
		opus_decoder_destroy(m->dec);
	free(m->heard);
	free(m->raw);
	phone_close(&m->ph);
}

static void member_leg(struct media_engine *me, struct member *m, media_leg_id near, uint64_t cookie)
{
	m->id = leg_new(me, near, cookie, &m->port);
	struct media_leg_params p = params(&m->ph, m->codec, m->pt);
	assert_int_equal(media_leg_set(me, m->id, &p), 0);
}

static void member_send(struct member *m)
{
	size_t n = m->rate / 50;
	int16_t pcm[960];
	for (size_t i = 0; i < n; i++)
		pcm[i] = (int16_t)lrint(8000 * sin(TWO_PI * m->hz * (double)(m->phase + i) / m->rate));
	m->phase += n;
	uint8_t payload[1500];
	size_t len;
	if (m->codec == SDP_CODEC_OPUS) {
		int r = opus_encode(m->enc, pcm, (int)n, payload, sizeof payload);
		assert_true(r > 0);
		len = (size_t)r;
	} else if (m->codec == SDP_CODEC_PCMA) {
		g711_alaw_encode_buf(pcm, payload, n);
		len = n;
	} else {
		g711_ulaw_encode_buf(pcm, payload, n);
		len = n;
	}
	send_rtp(&m->ph, m->port, m->pt, false, m->tx_seq++, m->tx_ts, 0x1000 + m->pt, payload, len);
	m->tx_ts += (uint32_t)n;
}

/* Everything waiting on m's socket: one stream in its codec. */
static void member_recv(struct member *m)
{
	uint8_t buf[2048];
	size_t n;
	uint32_t step = m->rate / 50;
	while ((n = phone_recv(&m->ph, buf, sizeof buf, 0))) {
		if (rtp_is_rtcp(buf, n))
			continue;
		struct rtp_hdr h;
		assert_int_equal(rtp_parse(buf, n, &h), 0);
		assert_int_equal(h.pt, m->pt);
		if (m->got_any) {
			assert_int_equal(h.ssrc, m->ssrc);
			assert_int_equal(h.seq, (uint16_t)(m->seq + 1));
			uint32_t d = h.ts - m->ts;
			/* 20 ms a packet; a new source (prompt, room) is marked and
			 * later by at least a packet */
			if (h.marker)
				assert_true(d >= step && d < m->rate * 5);
			else if (d != step)
				fail_msg("leg %u: timestamp +%u, not +%u", m->id, d, step);
		}
		m->got_any = true;
		m->ssrc = h.ssrc;
		m->seq = h.seq;
		m->ts = h.ts;
		m->pkts++;
		if (m->keep_raw && h.payload_len == PROMPT_FRAME && m->nraw < HEARD_MS / 20)
			memcpy(m->raw[m->nraw++], h.payload, PROMPT_FRAME);
		if (m->cap - m->nheard < 960)
			continue;
		if (m->codec == SDP_CODEC_OPUS) {
			int r = opus_decode(m->dec, h.payload, (opus_int32)h.payload_len,
					    m->heard + m->nheard, 960, 0);
			assert_int_equal(r, 960);
		} else if (m->codec == SDP_CODEC_PCMA) {
			assert_int_equal(h.payload_len, 160);
			g711_alaw_decode_buf(h.payload, m->heard + m->nheard, 160);
		} else {
			assert_int_equal(h.payload_len, 160);
			g711_ulaw_decode_buf(h.payload, m->heard + m->nheard, 160);
		}
		m->nheard += step;
	}
}

static void phase_begin(struct member *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		m[i].nheard = 0;
		m[i].pkts = 0;
		m[i].nraw = 0;
	}
}

/* ms of real time: every member speaks a 20 ms packet each 20 ms and takes
 * in what it is sent. */
static void room_run(struct member *m, size_t n, unsigned ms)
{
	uint64_t t0 = now_ms();
	for (unsigned f = 0; f < ms / 20; f++) {
		for (size_t i = 0; i < n; i++)
			if (!m[i].quiet)
				member_send(&m[i]);
		uint64_t due = t0 + 20 * (f + 1);
		for (uint64_t t; (t = now_ms()) < due;) {
			struct pollfd pfd[8];
			assert_true(n <= 8);
			for (size_t i = 0; i < n; i++)
				pfd[i] = (struct pollfd){ .fd = m[i].ph.fd, .events = POLLIN };
			(void)poll(pfd, (nfds_t)n, (int)(due - t));
			for (size_t i = 0; i < n; i++)
				member_recv(&m[i]);
		}
	}
}

/* The power of tone hz in the last 500 ms m heard. */
static double heard_band(const struct member *m, double hz)
{
	size_t n = m->rate / 2;
	if (m->nheard < n)
		fail_msg("leg %u heard %zu samples", m->id, m->nheard);
	return band_power(m->heard + m->nheard - n, n, m->rate, hz);
}

/* m hears the tones of the members marked in `loud` (clearly) and not
 * those of the others (its own among them): 30 dB below the weakest it
 * hears. */
static void expect_hears(const struct member *m, const struct member *all, size_t n,
			 const bool *loud)
{
	double weakest = INFINITY;
	for (size_t k = 0; k < n; k++) {
		if (!loud[k])
			continue;
		double b = heard_band(m, all[k].hz);
		if (b < 1e6)
			fail_msg("leg %u hears %.0f Hz at %.0f only", m->id, all[k].hz, b);
		if (b < weakest)
			weakest = b;
	}
	for (size_t k = 0; k < n; k++) {
		if (loud[k])
			continue;
		double b = heard_band(m, all[k].hz);
		if (b > weakest * OWN_BELOW)
			fail_msg("leg %u hears %.0f Hz at %.1f dB of the weakest it should hear", m->id,
				 all[k].hz, 10 * log10(b / weakest));
	}
}

/* Every member hears everybody but itself and the members not in `in`. */
static void expect_room(const struct member *m, size_t n, const bool *in)
{
	for (size_t i = 0; i < n; i++) {
		if (!in[i])
			continue;
		bool loud[8];
		for (size_t k = 0; k < n; k++)
			loud[k] = k != i && in[k];
		expect_hears(&m[i], m, n, loud);
	}
}

static void test_room(void **state)
{
	(void)state;
	struct media_engine *me = eng(2, prompt_dir);
	struct member m[3];
	member_init(&m[0], SDP_CODEC_PCMU, 0, 440);
	member_init(&m[1], SDP_CODEC_PCMA, 8, 1000);
	member_init(&m[2], SDP_CODEC_OPUS, 111, 1600);
	/* 0 and 1 on one thread, 2 on the other (least loaded) */
	member_leg(me, &m[0], 0, 10);
	member_leg(me, &m[1], m[0].id, 11);
	member_leg(me, &m[2], 0, 12);
	unsigned t0, t2;
	assert_int_equal(media_leg_thread(me, m[0].id, &t0), 0);
	assert_int_equal(media_leg_thread(me, m[2].id, &t2), 0);
	assert_int_not_equal(t0, t2);

	media_room_id room = 0;
	assert_int_equal(media_room_new(me, m[0].id, &room), 0);
	assert_int_not_equal(room, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(media_room_join(me, room, m[i].id, false), 0);
	/* the Opus leg came over to the room's thread */
	assert_int_equal(media_leg_thread(me, m[2].id, &t2), 0);
	assert_int_equal(t2, t0);

	/* everybody hears the two others, nobody itself */
	bool in[3] = { true, true, true };
	room_run(m, 3, 1500);
	phase_begin(m, 3);
	room_run(m, 3, 1000);
	expect_room(m, 3, in);
	for (int i = 0; i < 3; i++)
		talking_wait(me, m[i].id, 1);
	double before = heard_band(&m[1], m[2].hz);

	/* muted: nobody hears 0; 0 still hears the others */
	assert_int_equal(media_room_mute(me, m[0].id, true), 0);
	talking_wait(me, m[0].id, 0);
	room_run(m, 3, 300);
	phase_begin(m, 3);
	room_run(m, 3, 700);
	bool loud0[3] = { false, true, true }, loud1[3] = { false, false, true },
	     loud2[3] = { false, true, false };
	expect_hears(&m[0], m, 3, loud0);
	expect_hears(&m[1], m, 3, loud1);
	expect_hears(&m[2], m, 3, loud2);
	assert_int_equal(media_room_mute(me, m[0].id, false), 0);

	/* 1 listens 12 dB quieter */
	assert_int_equal(media_room_volume(me, m[1].id, -4), 0);
	assert_int_equal(media_room_volume(me, m[1].id, 5), EINVAL);
	room_run(m, 3, 300);
	phase_begin(m, 3);
	room_run(m, 3, 700);
	expect_room(m, 3, in);
	double db = 10 * log10(heard_band(&m[1], m[2].hz) / before);
	if (db < -15 || db > -9)
		fail_msg("volume -4: %.1f dB", db);
	assert_int_equal(media_room_volume(me, m[1].id, 0), 0);
	talking_wait(me, m[0].id, 1); /* unmuted */

	/* a prompt to 0: it hears the prompt alone, the others still hear it */
	struct prompt_seq s = { 0 };
	assert_int_equal(prompt_seq_add(&s, PROMPT_CONF_JOINED), 0);
	int16_t *pcm;
	size_t frames = seq_frames(&s, &pcm);
	assert_true(frames >= 30 && frames < HEARD_MS / 20 - 60);
	phase_begin(m, 3);
	m[0].keep_raw = true;
	assert_int_equal(media_play(me, m[0].id, &s), 0);
	room_run(m, 3, (unsigned)frames * 20 + 1000);
	m[0].keep_raw = false;
	assert_true(ev_wait(me, MEDIA_EV_PLAY_DONE, m[0].id, WAIT_MS, NULL));
	size_t first = 0;
	uint8_t want[PROMPT_FRAME];
	g711_ulaw_encode_buf(pcm, want, PROMPT_FRAME);
	while (first < m[0].nraw && memcmp(m[0].raw[first], want, PROMPT_FRAME))
		first++;
	/* at most the room's packets already on their way before it */
	assert_true(first <= 3);
	assert_true(first + frames < m[0].nraw);
	for (size_t k = 0; k < frames; k++) {
		g711_ulaw_encode_buf(pcm + k * PROMPT_FRAME, want, PROMPT_FRAME);
		assert_memory_equal(m[0].raw[first + k], want, PROMPT_FRAME);
	}
	free(pcm);
	/* while it played, the others heard 0 (400 ms from 200 ms on) */
	for (int i = 1; i < 3; i++) {
		size_t from = m[i].rate / 5, len = m[i].rate * 2 / 5;
		assert_true(m[i].nheard >= from + len);
		double b = band_power(m[i].heard + from, len, m[i].rate, m[0].hz);
		if (b < 1e6)
			fail_msg("leg %u heard the member with a prompt at %.0f", m[i].id, b);
	}
	/* after it, the room again (the last 500 ms are past the prompt) */
	expect_room(m, 3, in);

	/* a member's digits are reported, not mixed */
	uint16_t dseq = (uint16_t)(m[1].tx_seq + 1000);
	send_digit(&m[1].ph, m[1].port, '3', &dseq, 4242, 0x1000 + m[1].pt);
	struct media_event ev;
	assert_true(ev_wait(me, MEDIA_EV_DTMF, m[1].id, WAIT_MS, &ev));
	assert_int_equal(ev.digit, '3');
	assert_int_equal(ev.cookie, 11);

	/* 2 leaves: it is sent nothing more and nobody hears it */
	assert_int_equal(media_room_leave(me, m[2].id), 0);
	talking_wait(me, m[2].id, 0);
	assert_int_equal(media_room_leave(me, m[2].id), 0);
	assert_int_equal(media_room_mute(me, m[2].id, true), ENOENT);
	assert_int_equal(media_room_volume(me, m[2].id, 1), ENOENT);
	room_run(m, 3, 300);
	phase_begin(m, 3);
	room_run(m, 3, 700);
	assert_int_equal(m[2].pkts, 0);
	bool in2[3] = { true, true, false };
	expect_room(m, 3, in2);

	/* it joins again (muted), then the room is freed with everyone in it */
	assert_int_equal(media_room_join(me, room, m[2].id, true), 0);
	room_run(m, 3, 300);
	phase_begin(m, 3);
	room_run(m, 3, 700);
	assert_true(m[2].pkts > 20);
	bool loud_m2[3] = { true, true, false };
	expect_hears(&m[2], m, 3, loud_m2);
	bool loud_m0[3] = { false, true, false };
	expect_hears(&m[0], m, 3, loud_m0);
	assert_int_equal(media_room_free(me, room), 0);
	assert_int_equal(media_room_free(me, room), ENOENT);
	assert_int_equal(media_room_join(me, room, m[0].id, false), ENOENT);
	room_run(m, 3, 200);
	phase_begin(m, 3);
	room_run(m, 3, 400);
	for (int i = 0; i < 3; i++)
		assert_int_equal(m[i].pkts, 0);
	/* talking ended with the room */
	talking_wait(me, m[0].id, 0);
	talking_wait(me, m[1].id, 0);

	for (int i = 0; i < 3; i++) {
		leg_free(me, m[i].id, 10 + (uint64_t)i);
		member_free(&m[i]);
	}
	engine_stop(me);
}

/* Packets that reach ph within ms, and whether all carried `mark`. */
static unsigned count_marked(struct phone *ph, int ms, const uint8_t *mark, bool *all_marked)
{
	unsigned n = 0;
	uint8_t buf[2048];
	struct rtp_hdr h;
	*all_marked = true;
	uint64_t end = now_ms() + (uint64_t)ms;
	for (uint64_t t; (t = now_ms()) < end;) {
		if (!recv_rtp(ph, buf, sizeof buf, (int)(end - t), &h))
			break;
		n++;
		if (h.payload_len != 160 || memcmp(h.payload, mark, 160))
			*all_marked = false;
	}
	return n;
}

/* Members freed, bridged or echoed away, joined before their codec was
 * known; the errors; a room with members at stop. */
static void test_room_edges(void **state)
{
	(void)state;
	struct media_engine *me = eng(1, NULL);
	struct phone ph[5];
	media_leg_id id[5];
	uint16_t port[5];
	for (int i = 0; i < 5; i++) {
		phone_open(&ph[i]);
		id[i] = leg_new(me, 0, 20 + (uint64_t)i, &port[i]);
		if (i == 4)
			continue; /* set later */
		struct media_leg_params p = params(&ph[i], SDP_CODEC_PCMU, 0);
		assert_int_equal(media_leg_set(me, id[i], &p), 0);
	}
	media_room_id room = 0, other = 0;
	assert_int_equal(media_room_new(me, 12345, &room), ENOENT);
	assert_int_equal(media_room_new(me, 0, NULL), EINVAL);
	assert_int_equal(media_room_new(NULL, 0, &room), EINVAL);
	assert_int_equal(media_room_new(me, 0, &room), 0);
	assert_int_equal(media_room_new(me, id[0], &other), 0);
	assert_int_not_equal(room, other);
	assert_int_equal(media_room_join(me, room, 12345, false), ENOENT);
	assert_int_equal(media_room_join(me, 0, id[0], false), ENOENT);
	assert_int_equal(media_room_leave(me, 12345), ENOENT);
	assert_int_equal(media_room_leave(me, id[0]), 0); /* in none */
	assert_int_equal(media_room_mute(me, id[0], true), ENOENT);
	assert_int_equal(media_room_free(me, 0), ENOENT);

	for (int i = 0; i < 5; i++)
		assert_int_equal(media_room_join(me, room, id[i], false), 0);
	/* joining again the same room only sets mute */
	assert_int_equal(media_room_join(me, room, id[1], true), 0);
	/* everybody set is sent the room's (silent) mix, 20 ms a packet */
	uint8_t buf[2048];
	struct rtp_hdr h;
	for (int i = 0; i < 4; i++)
		assert_true(recv_rtp(&ph[i], buf, sizeof buf, WAIT_MS, &h));
	/* 4 had no codec: nothing until it has one */
	assert_false(recv_rtp(&ph[4], buf, sizeof buf, 100, &h));
	struct media_leg_params p4 = params(&ph[4], SDP_CODEC_PCMA, 8);
	assert_int_equal(media_leg_set(me, id[4], &p4), 0);
	assert_true(recv_rtp(&ph[4], buf, sizeof buf, WAIT_MS, &h));
	assert_int_equal(h.pt, 8);

	/* 0 is freed while in the room: it leaves first, the room goes on */
	leg_free(me, id[0], 20);
	phone_drain(&ph[1]);
	assert_true(recv_rtp(&ph[1], buf, sizeof buf, WAIT_MS, &h));

	/* 2 is bridged to 3: both leave the room and hear each other only */
	assert_int_equal(media_bridge(me, id[2], id[3]), 0);
	ev_settle(me, 60); /* what the room sent before the bridge arrives */
	phone_drain(&ph[2]);
	phone_drain(&ph[3]);
	uint8_t mark[160];
	memset(mark, 0x33, sizeof mark);
	for (unsigned i = 0; i < 10; i++)
		send_rtp(&ph[3], port[3], 0, false, (uint16_t)(50 + i), 160 * i, 0x333, mark, 160);
	bool all;
	assert_int_equal(count_marked(&ph[2], 200, mark, &all), 10);
	assert_true(all);
	assert_int_equal(media_room_mute(me, id[2], true), ENOENT);

	/* 1 is echoed: out of the room too */
	assert_int_equal(media_echo(me, id[1]), 0);
	ev_settle(me, 60);
	phone_drain(&ph[1]);
	for (unsigned i = 0; i < 5; i++)
		send_rtp(&ph[1], port[1], 0, false, (uint16_t)(90 + i), 160 * i, 0x111, mark, 160);
	assert_int_equal(count_marked(&ph[1], 200, mark, &all), 5);
	assert_true(all);

	/* 2 and 3 join the other room (ending their bridge) and 4 moves to it
	 * from the first one */
	assert_int_equal(media_room_join(me, other, id[2], false), 0);
	assert_int_equal(media_room_join(me, other, id[3], false), 0);
	assert_int_equal(media_room_join(me, other, id[4], false), 0);
	ev_settle(me, 60);
	phone_drain(&ph[2]);
	for (unsigned i = 0; i < 5; i++)
		send_rtp(&ph[3], port[3], 0, false, (uint16_t)(60 + i), 1600 + 160 * i, 0x333, mark, 160);
	/* the room's mix, not the relayed packets */
	assert_true(count_marked(&ph[2], 200, mark, &all) > 0);
	assert_false(all);
	assert_int_equal(media_room_free(me, room), 0);

	/* the engine stops with a room that has members: all freed */
	for (int i = 0; i < 5; i++)
		phone_close(&ph[i]);
	engine_stop(me);
}

/* ------------------------------------------------------------ the prompts */

static size_t put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return 2;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/* A folder of prompts when none was built: prompt i is a 600 Hz tone of
 * 300 + 10 i ms (8 kHz mono 16-bit WAV). */
static const char *make_prompts(void)
{
	snprintf(gen_dir, sizeof gen_dir, "/tmp/t_media_room.XXXXXX");
	if (!mkdtemp(gen_dir))
		return NULL;
	for (int id = 1; id < PROMPT_COUNT; id++) {
		size_t n = (size_t)(300 + 10 * id) * 8, len = 44 + 2 * n;
		uint8_t *buf = malloc(len);
		char path[160];
		snprintf(path, sizeof path, "%s/%s.wav", gen_dir, prompt_name((enum prompt_id)id));
		FILE *f = buf ? fopen(path, "wb") : NULL;
		if (!f) {
			free(buf);
			return NULL;
		}
		memcpy(buf, "RIFF", 4);
		put32(buf + 4, (uint32_t)(len - 8));
		memcpy(buf + 8, "WAVEfmt ", 8);
		put32(buf + 16, 16);
		put16(buf + 20, 1);
		put16(buf + 22, 1);
		put32(buf + 24, 8000);
		put32(buf + 28, 16000);
		put16(buf + 32, 2);
		put16(buf + 34, 16);
		memcpy(buf + 36, "data", 4);
		put32(buf + 40, (uint32_t)(2 * n));
		for (size_t i = 0; i < n; i++)
			put16(buf + 44 + 2 * i,
			      (uint16_t)(int16_t)lrint(6000 * sin(TWO_PI * 600 * (double)i / 8000)));
		size_t w = fwrite(buf, 1, len, f);
		free(buf);
		if (fclose(f) != 0 || w != len)
			return NULL;
	}
	return gen_dir;
}

static void remove_prompts(void)
{
	if (!gen_dir[0])
		return;
	for (int id = 1; id < PROMPT_COUNT; id++) {
		char path[160];
		snprintf(path, sizeof path, "%s/%s.wav", gen_dir, prompt_name((enum prompt_id)id));
		unlink(path);
	}
	rmdir(gen_dir);
}

/* What lives as long as the process is made before the leak check counts:
 * libsrtp's tables (made at the first engine start) and glibc's cache of
 * thread stacks with their TLS. So an engine of two threads, each with a
 * leg that plays a prompt, in a room. Failures here are the tests'
 * business, not this. */
static void warm_up(void)
{
	struct media_engine *me = NULL;
	struct media_engine_cfg cfg = { .threads = 2, .port_lo = port_base(),
					.port_hi = (uint16_t)(port_base() + 99) };
	if (media_engine_start(&me, &cfg) || media_engine_set_prompts(me, prompt_dir))
		exit(1);
	struct sockaddr_storage local;
	memset(&local, 0, sizeof local);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	memcpy(&local, &a, sizeof a);
	media_room_id room;
	if (media_room_new(me, 0, &room))
		exit(1);
	struct prompt_seq s = { 0 };
	prompt_seq_add(&s, PROMPT_BEEP);
	for (int i = 0; i < 2; i++) {
		media_leg_id id;
		uint16_t port;
		if (media_leg_new(me, &local, 0, 0, &id, &port))
			exit(1);
		struct media_leg_params p = params(NULL, SDP_CODEC_OPUS, 111);
		p.remote = local;
		((struct sockaddr_in *)&p.remote)->sin_port = htons(9); /* discard */
		media_leg_set(me, id, &p);
		media_room_join(me, room, id, false);
		media_play(me, id, &s);
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
	const char *env = getenv("PBX_PROMPT_DIR");
	struct stat st;
	if (env && *env)
		prompt_dir = env;
	else if (stat("build/prompts/conf_joined.wav", &st) == 0)
		prompt_dir = "build/prompts";
	else
		prompt_dir = make_prompts();
	unsigned missing = 0;
	if (!prompt_dir || prompt_table_load(prompt_dir, &prompts, &missing) || missing) {
		fprintf(stderr, "no prompts to play (%s, %u missing)\n", prompt_dir ? prompt_dir : "-",
			missing);
		remove_prompts();
		return 1;
	}
	warm_up();
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_play_pcmu),
		UNIT_TEST(test_play_opus),
		UNIT_TEST(test_play_done),
		UNIT_TEST(test_play_bridge),
		UNIT_TEST(test_room),
		UNIT_TEST(test_room_edges),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	prompt_table_free(prompts);
	remove_prompts();
	return rc;
}
