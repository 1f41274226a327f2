/*
 * t_transcode.c: one direction of a transcoded bridge, driven by simulated
 * RTP arrivals and output ticks: a tone through PCMU -> Opus -> PCMU comes
 * out as that tone and no other; lost and reordered packets are concealed
 * (no silent frame); a sender's pause ends with a marked packet; an RFC
 * 4733 digit comes out as telephone-event packets with the output payload
 * type and clock while it lasts, and is reported once (also when its start
 * or its end packets were lost, and when the output has no
 * telephone-event); input and output ptimes differ; bad packets and
 * arguments are refused.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "dtmf.h"
#include "transcode.h"
#include "unit.h"

#define TWO_PI 6.283185307179586
#define AMP 8000.0
#define TONE_POWER (AMP * AMP / 2)

/* ------------------------------------------------------------- helpers */

struct tpkt {
	uint8_t pt;
	uint16_t seq;
	uint32_t ts;
	uint64_t at; /* arrival, ms */
	size_t len;
	uint8_t pl[CODEC_MAX_PAYLOAD];
};

/* What came out of a transcoder, decoded at 8 kHz. */
struct sink {
	const struct xcode_side *to;
	struct codec_dec *dec;
	int16_t *pcm;
	size_t n, cap;
	unsigned audio;          /* audio packets */
	unsigned ticks;
	bool ts_ok;              /* audio timestamps step by one packet from 0 */
	uint32_t next_ts;
	unsigned markers;
	unsigned first_marker_bad; /* a marker (after the first) not after silence */
	bool prev_silent;
	struct xcode_pkt *ev;    /* telephone-event packets */
	unsigned nev, ev_cap;
	unsigned ev_first_tick;  /* tick of the first of them */
	uint32_t audio_ts[1024]; /* timestamps of the first audio packets */
	char digits[16];
	unsigned ndigits;
	unsigned digit_tick;     /* tick of the first report */
};

static double band_power(const int16_t *x, size_t n, double freq)
{
	double w = TWO_PI * freq / 8000, c = 2 * cos(w), s1 = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		double s = x[i] + c * s1 - s2;
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
	return e / n;
}

static uint32_t ptime_of(const struct xcode_side *s)
{
	return s->ptime ? s->ptime : 20;
}

/* A tone as packets of the input side, one every ptime from arrival at0,
 * sequence numbers from 1000 and timestamps from 5000. */
static unsigned make_stream(const struct xcode_side *in, double freq, unsigned ms, uint64_t at0,
			    struct tpkt *p, unsigned cap)
{
	struct codec_enc *e;
	assert_int_equal(codec_enc_new(&e, in->codec, 8000), 0);
	uint32_t pt_ms = ptime_of(in), fr = 8 * pt_ms;
	uint32_t step = codec_rtp_clock(in->codec) * pt_ms / 1000;
	unsigned n = ms / pt_ms;
	assert_true(n <= cap);
	int16_t pcm[480];
	for (unsigned k = 0; k < n; k++) {
		for (uint32_t i = 0; i < fr; i++)
			pcm[i] = (int16_t)lrint(AMP * sin(TWO_PI * freq * (k * fr + i) / 8000.0));
		int len = codec_encode(e, pcm, fr, p[k].pl, sizeof(p[k].pl));
		assert_true(len > 0);
		p[k].len = (size_t)len;
		p[k].pt = in->pt;
		p[k].seq = (uint16_t)(1000 + k);
		p[k].ts = 5000 + k * step;
		p[k].at = at0 + (uint64_t)k * pt_ms;
	}
	codec_enc_free(e);
	return n;
}

static int by_arrival(const void *a, const void *b)
{
	const struct tpkt *x = a, *y = b;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void sink_init(struct sink *s, const struct xcode_side *to, unsigned ms)
{
	memset(s, 0, sizeof(*s));
	s->to = to;
	assert_int_equal(codec_dec_new(&s->dec, to->codec, 8000), 0);
	s->cap = (size_t)ms * 8 + 8000;
	s->pcm = calloc(s->cap, sizeof(*s->pcm));
	s->ev_cap = 256;
	s->ev = calloc(s->ev_cap, sizeof(*s->ev));
	assert_non_null(s->pcm);
	assert_non_null(s->ev);
	s->ts_ok = true;
	s->prev_silent = true;
}

static void sink_free(struct sink *s)
{
	codec_dec_free(s->dec);
	free(s->pcm);
	free(s->ev);
}

static void sink_take(struct sink *s, const struct xcode_pkt *p, size_t n, char digit)
{
	for (size_t i = 0; i < n; i++) {
		if (s->to->dtmf && p[i].pt == s->to->dtmf_pt) {
			if (s->nev == 0)
				s->ev_first_tick = s->ticks;
			if (s->nev < s->ev_cap)
				s->ev[s->nev++] = p[i];
			continue;
		}
		assert_int_equal(p[i].pt, s->to->pt);
		if (p[i].ts != s->next_ts)
			s->ts_ok = false;
		s->next_ts = p[i].ts + codec_rtp_clock(s->to->codec) * ptime_of(s->to) / 1000;
		if (s->audio < 1024)
			s->audio_ts[s->audio] = p[i].ts;
		size_t room = s->cap - s->n;
		int r = codec_decode(s->dec, p[i].payload, p[i].len, s->pcm + s->n, room);
		assert_int_equal(r, (int)(8 * ptime_of(s->to)));
		bool silent = total_power(s->pcm + s->n, (size_t)r) < 1;
		if (p[i].marker) {
			s->markers++;
			if (s->audio > 0 && !(s->prev_silent && !silent))
				s->first_marker_bad++;
		}
		s->prev_silent = silent;
		s->n += (size_t)r;
		s->audio++;
	}
	if (digit) {
		if (s->ndigits == 0)
			s->digit_tick = s->ticks;
		if (s->ndigits < sizeof(s->digits))
			s->digits[s->ndigits++] = digit;
	}
	s->ticks++;
}

/* Feed p (sorted by arrival) and tick every output ptime from phase ms
 * until ms; everything out goes to the sink. */
static void run(struct xcode *x, const struct tpkt *p, unsigned np, unsigned ms, unsigned phase,
		struct sink *s)
{
	unsigned i = 0;
	uint32_t step = ptime_of(s->to);
	for (uint64_t now = phase; now < ms; now += step) {
		while (i < np && p[i].at <= now) {
			struct rtp_hdr h = { .version = 2, .pt = p[i].pt, .seq = p[i].seq, .ts = p[i].ts };
			xcode_put(x, &h, p[i].pl, p[i].len, p[i].at);
			i++;
		}
		struct xcode_pkt out[4];
		char digit = 0;
		size_t n = xcode_tick(x, now, out, 4, &digit);
		assert_true(n >= 1 && n <= 2);
		sink_take(s, out, n, digit);
	}
}

/* Every 20 ms frame of the sink's PCM in [from, to) ms is at least this
 * share of the tone's power; returns the weakest share. */
static double weakest_frame(const struct sink *s, unsigned from, unsigned to)
{
	double w = 1e9;
	for (unsigned t = from; t + 20 <= to && (size_t)(t + 20) * 8 <= s->n; t += 20) {
		double p = total_power(s->pcm + (size_t)t * 8, 160) / TONE_POWER;
		if (p < w)
			w = p;
	}
	return w;
}

/* The share of the power in [from, to) ms at freq, summed over 100 ms
 * blocks (a whole number of cycles of 440 Hz and 1 kHz): a frame dropped
 * by the jitter buffer shifts the phase, which one long window would take
 * for another frequency. */
static double band_share(const struct sink *s, unsigned from, unsigned to, double freq)
{
	double b = 0, t = 0;
	assert_true((size_t)to * 8 <= s->n);
	for (unsigned ms = from; ms + 100 <= to; ms += 100) {
		b += band_power(s->pcm + (size_t)ms * 8, 800, freq);
		t += total_power(s->pcm + (size_t)ms * 8, 800);
	}
	return t > 0 ? b / t : 0;
}

/* The longest run of near-silent samples in [from, to) ms: a tone at AMP
 * has none longer than a sample or two at its zero crossings, a starved or
 * unconcealed frame has its whole length. */
static unsigned quiet_run(const struct sink *s, unsigned from, unsigned to)
{
	unsigned run = 0, longest = 0;
	for (size_t i = (size_t)from * 8; i < (size_t)to * 8 && i < s->n; i++) {
		run = abs(s->pcm[i]) < 100 ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	return longest;
}

static struct xcode_side side(enum sdp_codec c, uint8_t pt, uint32_t ptime)
{
	struct xcode_side s = { .codec = c, .pt = pt, .ptime = ptime };
	return s;
}

/* --------------------------------------------------------------- tests */

/* PCMU -> Opus -> PCMU, two transcoders back to back as a call through two
 * bridges would: a 1 kHz tone arrives as 1 kHz, a 440 Hz one as 440 Hz. */
static void test_chain_keeps_tone(void **state)
{
	(void)state;
	const double freqs[2] = { 1000, 440 };
	for (unsigned k = 0; k < 2; k++) {
		struct xcode_side u = side(SDP_CODEC_PCMU, 0, 20), o = side(SDP_CODEC_OPUS, 111, 20);
		struct xcode *a, *b;
		assert_int_equal(xcode_new(&a, &u, &o), 0);
		assert_int_equal(xcode_new(&b, &o, &u), 0);
		enum { MS = 3000 };
		struct tpkt *p = calloc(200, sizeof(*p));
		assert_non_null(p);
		unsigned np = make_stream(&u, freqs[k], MS, 0, p, 200);
		struct sink s, mid;
		sink_init(&s, &u, MS);
		sink_init(&mid, &o, MS);
		unsigned i = 0;
		uint16_t seq = 7;
		for (uint64_t now = 5; now < MS; now += 20) {
			while (i < np && p[i].at <= now) {
				struct rtp_hdr h = { .pt = p[i].pt, .seq = p[i].seq, .ts = p[i].ts };
				xcode_put(a, &h, p[i].pl, p[i].len, p[i].at);
				i++;
			}
			struct xcode_pkt o1[2], o2[2];
			char d1, d2;
			size_t n1 = xcode_tick(a, now, o1, 2, &d1);
			assert_int_equal(n1, 1);
			sink_take(&mid, o1, n1, d1);
			struct rtp_hdr h = { .pt = o1[0].pt, .seq = seq++, .ts = o1[0].ts,
					     .marker = o1[0].marker };
			xcode_put(b, &h, o1[0].payload, o1[0].len, now);
			size_t n2 = xcode_tick(b, now + 10, o2, 2, &d2);
			assert_int_equal(n2, 1);
			sink_take(&s, o2, n2, d2);
		}
		/* Opus in the middle: 960 timestamp units a packet from 0 */
		assert_true(mid.ts_ok);
		assert_true(s.ts_ok);
		assert_int_equal(s.audio, MS / 20);
		double other = freqs[k] == 1000 ? 440 : 1000;
		double sh = band_share(&s, 500, 2500, freqs[k]);
		double lvl = 10 * log10(total_power(s.pcm + 4000, 16000) / TONE_POWER);
		if (sh < 0.9 || fabs(lvl) > 2)
			fail_msg("%.0f Hz: band share %.3f, level %.2f dB", freqs[k], sh, lvl);
		assert_true(band_share(&s, 500, 2500, other) < 0.01);
		assert_true(quiet_run(&s, 500, 2900) < 20);
		sink_free(&s);
		sink_free(&mid);
		free(p);
		xcode_free(a);
		xcode_free(b);
	}
}

/* Packet 3 of every 10 lost, packet 7 overtaken by packet 8: reordered
 * packets play in order and the gaps are concealed, not silent. G.711's
 * concealer carries a tone on nearly at its level; Opus's (SILK's, made for
 * speech) swings in level for a few frames after each loss, as much when
 * decoding on its own as here, so an Opus input is checked for reordering
 * alone at full quality and with loss only for not falling silent. */
static void test_loss_and_reorder(void **state)
{
	(void)state;
	static const struct {
		enum sdp_codec in, to;
		bool lose;
		double weakest, share;
	} cases[] = {
		{ SDP_CODEC_PCMU, SDP_CODEC_PCMA, true, 0.25, 0.9 },
		{ SDP_CODEC_PCMU, SDP_CODEC_OPUS, true, 0.25, 0.9 },
		{ SDP_CODEC_OPUS, SDP_CODEC_PCMA, false, 0.3, 0.95 },
		{ SDP_CODEC_OPUS, SDP_CODEC_PCMA, true, 0.01, 0.5 },
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct xcode_side in = side(cases[k].in, 96, 20), to = side(cases[k].to, 8, 20);
		struct xcode *x;
		assert_int_equal(xcode_new(&x, &in, &to), 0);
		enum { MS = 3000 };
		struct tpkt *p = calloc(200, sizeof(*p));
		assert_non_null(p);
		unsigned np = make_stream(&in, 1000, MS, 0, p, 200);
		/* late by 21 ms, after the next one */
		for (unsigned j = 0; j + 1 < np; j++)
			if (j % 10 == 7)
				p[j].at = p[j + 1].at + 1;
		/* lost: moved past the end */
		for (unsigned j = 0; j < np && cases[k].lose; j++)
			if (j % 10 == 3)
				p[j].at = 100000;
		qsort(p, np, sizeof(*p), by_arrival);
		struct sink s;
		sink_init(&s, &to, MS);
		run(x, p, np, MS, 3, &s);
		assert_true(s.ts_ok);
		assert_int_equal(s.audio, MS / 20);
		double w = weakest_frame(&s, 400, 2800);
		double sh = band_share(&s, 400, 2800, 1000);
		unsigned q = quiet_run(&s, 400, 2800);
		if (w < cases[k].weakest || sh < cases[k].share || q >= 20)
			fail_msg("%u: weakest frame %.3f of the tone, band share %.3f, quiet run %u", k,
				 w, sh, q);
		sink_free(&s);
		free(p);
		xcode_free(x);
	}
}

/* The stream starts with a marked packet; after the sender's pause the
 * first packet with sound again is marked, and only such packets are. */
static void test_marker_after_silence(void **state)
{
	(void)state;
	struct xcode_side in = side(SDP_CODEC_PCMA, 8, 20), to = side(SDP_CODEC_PCMU, 0, 20);
	struct xcode *x;
	assert_int_equal(xcode_new(&x, &in, &to), 0);
	struct tpkt *p = calloc(200, sizeof(*p));
	assert_non_null(p);
	unsigned np = make_stream(&in, 1000, 2000, 0, p, 200);
	/* a second of silence after packet 40: timestamps and arrivals jump,
	 * sequence numbers go on */
	for (unsigned j = 40; j < np; j++) {
		p[j].ts += 8000;
		p[j].at += 1000;
	}
	struct sink s;
	sink_init(&s, &to, 3000);
	run(x, p, np, 3200, 5, &s);
	assert_true(s.ts_ok);
	assert_int_equal(s.audio, 160);
	assert_int_equal(s.first_marker_bad, 0);
	assert_true(s.markers >= 2 && s.markers <= 3);
	sink_free(&s);
	free(p);
	xcode_free(x);
}

/* Telephone-event packets of one digit ('5', 200 ms) at input ts: from the
 * stream's timestamp at start_ms, arriving then; which packets of it to
 * drop: the first `skip_head`, and the end packets when skip_ends. */
static unsigned make_digit(const struct xcode_side *in, unsigned start_ms, unsigned skip_head,
			   bool skip_ends, struct tpkt *p, unsigned cap)
{
	struct dtmf_tx tx;
	uint32_t ts = 5000 + start_ms * 8;
	assert_int_equal(dtmf_tx_start(&tx, '5', ts, 1600, 160, 10), 0);
	unsigned n = 0, k = 0;
	struct dtmf_tx_pkt tp;
	while (dtmf_tx_next(&tx, &tp) == 0) {
		uint64_t at = start_ms + 20ull * k++;
		if (k <= skip_head || (skip_ends && tp.end))
			continue;
		assert_true(n < cap);
		p[n].pt = in->dtmf_pt;
		p[n].seq = 0; /* set by the caller */
		p[n].ts = tp.ts;
		p[n].at = at;
		p[n].len = DTMF_PAYLOAD_LEN;
		memcpy(p[n].pl, tp.payload, DTMF_PAYLOAD_LEN);
		n++;
		if (tp.end && n < cap) {
			/* a late copy of an end packet */
			p[n] = p[n - 1];
			p[n].at += 35;
			n++;
		}
	}
	return n;
}

/* The telephone-event packets out: one event, the output's payload type,
 * one timestamp (that of an audio packet), marker on the first only,
 * durations growing; returns the last duration, and whether it ended. */
static uint32_t check_events(const struct sink *s, bool *ended, unsigned *updates)
{
	assert_true(s->nev > 0);
	uint32_t ts = s->ev[0].ts, last = 0;
	bool ts_is_audio = false;
	for (unsigned i = 0; i < s->audio && i < 1024; i++)
		ts_is_audio |= s->audio_ts[i] == ts;
	assert_true(ts_is_audio);
	unsigned ends = 0;
	*updates = 0;
	for (unsigned i = 0; i < s->nev; i++) {
		const struct xcode_pkt *e = &s->ev[i];
		struct dtmf_event ev;
		assert_int_equal(e->pt, s->to->dtmf_pt);
		assert_int_equal(e->ts, ts);
		assert_int_equal(e->marker, i == 0);
		assert_int_equal(dtmf_parse(e->payload, e->len, &ev), 0);
		assert_int_equal(e->len, DTMF_PAYLOAD_LEN);
		assert_int_equal(ev.event, 5);
		assert_true(ev.duration >= last);
		last = ev.duration;
		if (ev.end)
			ends++;
		else
			(*updates)++;
		/* nothing follows the end packets */
		if (ends)
			assert_true(ev.end);
	}
	*ended = ends == DTMF_END_PACKETS;
	return last;
}

static void dtmf_case(unsigned skip_head, bool skip_ends, bool out_dtmf, struct sink *s,
		      struct xcode_side *to)
{
	struct xcode_side in = side(SDP_CODEC_PCMU, 0, 20);
	in.dtmf = true;
	in.dtmf_pt = 101;
	in.dtmf_clock = 8000;
	*to = side(SDP_CODEC_OPUS, 111, 20);
	to->dtmf = out_dtmf;
	to->dtmf_pt = 110;
	to->dtmf_clock = 48000;
	struct xcode *x;
	assert_int_equal(xcode_new(&x, &in, to), 0);
	struct tpkt *p = calloc(200, sizeof(*p));
	assert_non_null(p);
	unsigned np = make_stream(&in, 1000, 2000, 0, p, 200);
	unsigned nd = make_digit(&in, 500, skip_head, skip_ends, p + np, 200 - np);
	/* one sequence number space: audio and events interleaved as sent */
	for (unsigned j = np; j < np + nd; j++)
		p[j].seq = (uint16_t)(1000 + p[j].at / 20);
	qsort(p, np + nd, sizeof(*p), by_arrival);
	sink_init(s, to, 2000);
	run(x, p, np + nd, 2000, 7, s);
	assert_true(s->ts_ok);
	assert_int_equal(s->audio, 100); /* audio goes on during the digit */
	free(p);
	xcode_free(x);
}

static void test_dtmf(void **state)
{
	(void)state;
	struct sink s;
	struct xcode_side to;
	bool ended;
	unsigned updates;

	/* the whole digit: relayed while it lasts, ended with the input's
	 * duration in the output's clock, reported once */
	dtmf_case(0, false, true, &s, &to);
	assert_int_equal(s.ndigits, 1);
	assert_int_equal(s.digits[0], '5');
	assert_int_equal(check_events(&s, &ended, &updates), 1600 * 6);
	assert_true(ended);
	assert_true(updates >= 5);
	assert_true(s.ev_first_tick < s.digit_tick); /* started before the input ended */
	sink_free(&s);

	/* the output has no telephone-event: reported, nothing sent */
	dtmf_case(0, false, false, &s, &to);
	assert_int_equal(s.ndigits, 1);
	assert_int_equal(s.digits[0], '5');
	assert_int_equal(s.nev, 0);
	sink_free(&s);

	/* only the end packets arrive: replayed whole */
	dtmf_case(10, false, true, &s, &to);
	assert_int_equal(s.ndigits, 1);
	assert_int_equal(check_events(&s, &ended, &updates), 1600 * 6);
	assert_true(ended);
	assert_true(updates >= 5);
	sink_free(&s);

	/* every end packet lost: over after the idle time, reported once,
	 * ended on the output with what was received */
	dtmf_case(0, true, true, &s, &to);
	assert_int_equal(s.ndigits, 1);
	assert_int_equal(s.digits[0], '5');
	uint32_t d = check_events(&s, &ended, &updates);
	assert_true(ended);
	assert_true(d >= 1440 * 6);
	sink_free(&s);
}

/* Input and output packets of different lengths: every output packet full,
 * the tone intact and no frame starved; also when the input's packets are
 * not as long as its SDP said (sent_ms). */
static void test_ptime(void **state)
{
	(void)state;
	static const struct {
		enum sdp_codec in, to;
		uint32_t in_ms, to_ms, sent_ms;
	} cases[] = {
		{ SDP_CODEC_PCMU, SDP_CODEC_OPUS, 20, 20, 30 }, { SDP_CODEC_OPUS, SDP_CODEC_PCMA, 20, 20, 60 },
		{ SDP_CODEC_PCMA, SDP_CODEC_OPUS, 30, 20, 20 }, { SDP_CODEC_OPUS, SDP_CODEC_PCMU, 20, 30, 10 },
		{ SDP_CODEC_OPUS, SDP_CODEC_PCMU, 20, 30, 20 }, { SDP_CODEC_PCMU, SDP_CODEC_OPUS, 30, 20, 30 },
		{ SDP_CODEC_PCMU, SDP_CODEC_PCMA, 20, 60, 20 }, { SDP_CODEC_PCMA, SDP_CODEC_OPUS, 40, 20, 40 },
		{ SDP_CODEC_OPUS, SDP_CODEC_PCMU, 60, 10, 60 }, { SDP_CODEC_OPUS, SDP_CODEC_OPUS, 20, 40, 20 },
		{ SDP_CODEC_PCMU, SDP_CODEC_OPUS, 10, 60, 10 },
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct xcode_side in = side(cases[k].in, 97, cases[k].in_ms);
		struct xcode_side to = side(cases[k].to, 98, cases[k].to_ms);
		struct xcode *x;
		assert_int_equal(xcode_new(&x, &in, &to), 0);
		enum { MS = 3000 };
		struct tpkt *p = calloc(320, sizeof(*p));
		assert_non_null(p);
		struct xcode_side sent = in;
		if (cases[k].sent_ms)
			sent.ptime = cases[k].sent_ms;
		unsigned np = make_stream(&sent, 1000, MS, 0, p, 320);
		struct sink s;
		sink_init(&s, &to, MS + 100);
		run(x, p, np, MS, 1, &s);
		assert_true(s.ts_ok);
		assert_int_equal(s.audio, (MS - 1 + cases[k].to_ms - 1) / cases[k].to_ms);
		/* (Opus on a pure tone varies in level by a few dB) */
		double w = weakest_frame(&s, 500, 2600);
		double sh = band_share(&s, 500, 2600, 1000);
		unsigned q = quiet_run(&s, 500, 2900);
		if (w < 0.3 || sh < 0.95 || q >= 20)
			fail_msg("%u (%u sent)->%u ms: weakest frame %.3f, band share %.3f, quiet run %u",
				 cases[k].in_ms, cases[k].sent_ms, cases[k].to_ms, w, sh, q);
		sink_free(&s);
		free(p);
		xcode_free(x);
	}
}

static void test_bad_input(void **state)
{
	(void)state;
	struct xcode *x = NULL;
	struct xcode_side u = side(SDP_CODEC_PCMU, 0, 20), o = side(SDP_CODEC_OPUS, 111, 20);
	struct xcode_side bad = o;
	bad.ptime = 30; /* Opus has no 30 ms frame */
	assert_int_equal(xcode_new(&x, &u, &bad), EINVAL);
	bad = u;
	bad.ptime = 25;
	assert_int_equal(xcode_new(&x, &o, &bad), EINVAL);
	bad.ptime = 80;
	assert_int_equal(xcode_new(&x, &o, &bad), EINVAL);
	bad = u;
	bad.codec = SDP_CODEC_TEL_EVENT;
	assert_int_equal(xcode_new(&x, &bad, &o), EINVAL);
	bad = u;
	bad.dtmf = true;
	bad.dtmf_pt = 0; /* the audio payload type */
	assert_int_equal(xcode_new(&x, &bad, &o), EINVAL);
	bad.dtmf_pt = 200;
	assert_int_equal(xcode_new(&x, &bad, &o), EINVAL);
	assert_int_equal(xcode_new(&x, NULL, &o), EINVAL);
	assert_int_equal(xcode_new(NULL, &u, &o), EINVAL);
	assert_null(x);
	xcode_free(NULL);

	/* Opus in: garbage, empty, huge, unknown payload types, between
	 * good packets; output goes on one packet a tick */
	u.dtmf = true;
	u.dtmf_pt = 101;
	o.dtmf = true;
	o.dtmf_pt = 110;
	assert_int_equal(xcode_new(&x, &o, &u), 0);
	struct tpkt *p = calloc(60, sizeof(*p));
	assert_non_null(p);
	unsigned np = make_stream(&o, 1000, 1000, 0, p, 60);
	static uint8_t junk[CODEC_MAX_PAYLOAD + 10];
	uint32_t seed = 99;
	for (size_t i = 0; i < sizeof(junk); i++) {
		seed = seed * 1664525u + 1013904223u;
		junk[i] = (uint8_t)(seed >> 24);
	}
	unsigned ticks = 0;
	for (unsigned k = 0; k < np; k++) {
		struct rtp_hdr h = { .pt = 111, .seq = p[k].seq, .ts = p[k].ts };
		if (k % 3 == 1) {
			/* a garbage packet in place of a good one */
			xcode_put(x, &h, junk, 1 + k * 7 % 200, p[k].at);
		} else {
			xcode_put(x, &h, p[k].pl, p[k].len, p[k].at);
		}
		h.seq = (uint16_t)(h.seq + 5000);
		xcode_put(x, &h, junk, sizeof(junk), p[k].at);          /* too big */
		xcode_put(x, &h, junk, 0, p[k].at);                     /* empty */
		xcode_put(x, &h, NULL, 10, p[k].at);
		xcode_put(x, NULL, junk, 10, p[k].at);
		h.pt = 13;                                              /* comfort noise */
		xcode_put(x, &h, junk, 1, p[k].at);
		h.pt = 110;                                             /* the output's event type */
		xcode_put(x, &h, junk, 4, p[k].at);
		h.pt = 111;
		h.ts = 12345;                                           /* a timestamp from nowhere */
		xcode_put(x, &h, p[k].pl, p[k].len, p[k].at);
		struct xcode_pkt out[2];
		char digit = 1;
		size_t n = xcode_tick(x, p[k].at + 3, out, 2, &digit);
		assert_int_equal(digit, 0);
		if (n >= 1) {
			assert_int_equal(out[0].pt, 0);
			assert_int_equal(out[0].len, 160);
			ticks++;
		}
		/* no room: the tick still passes */
		assert_int_equal(xcode_tick(x, p[k].at + 13, NULL, 0, NULL), 0);
	}
	assert_int_equal(ticks, np);
	/* garbage telephone-event packets: short, events above 15 */
	struct rtp_hdr h = { .pt = 101, .seq = 1, .ts = 1 };
	xcode_put(x, &h, junk, 3, 2000);
	const uint8_t flash[4] = { 16, 0x80, 0, 160 };
	xcode_put(x, &h, flash, 4, 2000);
	struct xcode_pkt out[2];
	char digit = 1;
	assert_int_equal(xcode_tick(x, 2020, out, 2, &digit), 1);
	assert_int_equal(digit, 0);
	free(p);
	xcode_free(x);
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_chain_keeps_tone),
		UNIT_TEST(test_loss_and_reorder),
		UNIT_TEST(test_marker_after_silence),
		UNIT_TEST(test_dtmf),
		UNIT_TEST(test_ptime),
		UNIT_TEST(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
