/*
 * t_mixer.c: the conference mixer on golden frames. Simulated phones send
 * tones as RTP payloads (G.711 at 8 kHz, Opus at 48 kHz) every 20 ms and
 * decode what they are sent; a Goertzel filter measures each tone in what
 * each one received (decoded payloads) and in the 48 kHz frame it was sent
 * (mixer_heard).
 *   - sum and minus-self: with three participants (PCMU, PCMA, Opus) each
 *     hears the two others and its own tone at least 40 dB below them, also
 *     when all three play at -6 dBFS;
 *   - mute: a muted participant's tone leaves everybody's mix, and comes
 *     back after unmute; the muted one still hears the room;
 *   - clipping: three full-scale tones in phase never wrap nor clip flat:
 *     the output stays a clean sinusoid of the right sign, smooth from
 *     sample to sample;
 *   - shared listener mix: silent listeners of one codec and volume get
 *     byte-identical payloads, and the frames encoded per tick are one per
 *     (codec, volume) group plus one per talker, whatever the number of
 *     listeners;
 *   - talker detection: a short burst is mixed but never reported; a tone
 *     is reported after the attack and released after the silence;
 *   - seats, volume, packet lengths, ids and bad arguments.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "mixer.h"
#include "resample.h"
#include "unit.h"

#define TWO_PI 6.283185307179586
#define MINUS_6_DBFS (32767 * 0.5011872)
#define MAX_PHONES 300
#define REC_TICKS 160
#define REC_PHONES 8     /* the first phones of a room can record */

/* ------------------------------------------------------------ harness */

struct phone {
	enum sdp_codec in, out;
	uint8_t pt;
	uint32_t ptime;          /* ms per packet sent */
	double freq, amp;        /* what it plays; amp 0 = silence frames */
	bool sending;
	bool muted;
	int volume;
	struct codec_enc *enc;
	uint32_t enc_rate;       /* 8000 (G.711) or 48000 (Opus) */
	uint64_t n;              /* samples generated */
	uint16_t seq;
	uint32_t ts;
	uint32_t id;
	struct codec_dec *dec;   /* what it is sent, decoded at 8 kHz */
	int16_t *rec;            /* REC_TICKS * 160, or NULL */
	size_t rec_n;
	int16_t *heard;          /* REC_TICKS * MIXER_FRAME, or NULL */
	size_t heard_n;
	bool record;             /* keep what comes in from now */
	unsigned got;            /* packets on the last tick */
	uint8_t last[CODEC_MAX_PAYLOAD];
	size_t last_len;
	bool last_shared;
	uint8_t *txb;            /* G.711 payloads sent while recording, REC_TICKS * 160 */
	size_t txb_n;
	uint8_t *rxb;            /* G.711 payloads received while recording */
	size_t rxb_n;
	unsigned changes_on, changes_off;
	uint64_t on_tick, off_tick; /* of the last reported change */
};

struct room {
	struct mixer *m;
	struct phone *ph;
	unsigned n;
	uint64_t now;
	uint64_t tick;
};

static void room_init(struct room *r, const struct mixer_cfg *cfg)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(mixer_new(&r->m, cfg), 0);
	r->ph = calloc(MAX_PHONES, sizeof(*r->ph));
	assert_non_null(r->ph);
	r->now = 100000;
}

static struct phone *room_add(struct room *r, enum sdp_codec in, enum sdp_codec out, double freq,
			      double amp)
{
	assert_true(r->n < MAX_PHONES);
	struct phone *p = &r->ph[r->n++];
	p->in = in;
	p->out = out;
	p->pt = in == SDP_CODEC_PCMU ? 0 : in == SDP_CODEC_PCMA ? 8 : 111;
	p->ptime = 20;
	p->freq = freq;
	p->amp = amp;
	p->sending = true;
	p->enc_rate = in == SDP_CODEC_OPUS ? 48000 : 8000;
	assert_int_equal(codec_enc_new(&p->enc, in, p->enc_rate), 0);
	assert_int_equal(codec_dec_new(&p->dec, out, 8000), 0);
	p->seq = (uint16_t)(1000 * r->n);
	p->ts = 7777u * r->n;
	if (r->n <= REC_PHONES) {
		p->rec = calloc(REC_TICKS * 160, sizeof(*p->rec));
		p->heard = calloc(REC_TICKS * MIXER_FRAME, sizeof(*p->heard));
		p->txb = calloc(REC_TICKS * 160, 1);
		p->rxb = calloc(REC_TICKS * 160, 1);
		assert_true(p->rec && p->heard && p->txb && p->rxb);
	}
	struct mixer_part_cfg c = {
		.in_codec = in, .in_pt = p->pt, .out_codec = out, .user = p,
	};
	assert_int_equal(mixer_add(r->m, &c, &p->id), 0);
	assert_int_not_equal(p->id, 0);
	return p;
}

static void room_free(struct room *r)
{
	for (unsigned i = 0; i < r->n; i++) {
		codec_enc_free(r->ph[i].enc);
		codec_dec_free(r->ph[i].dec);
		free(r->ph[i].rec);
		free(r->ph[i].heard);
		free(r->ph[i].txb);
		free(r->ph[i].rxb);
	}
	free(r->ph);
	mixer_free(r->m);
}

/* One packet's worth of the phone's tone, sent when its time has come. */
static void phone_send(struct room *r, struct phone *p)
{
	uint32_t per_ms = p->enc_rate / 1000, fr = per_ms * p->ptime;
	if (r->tick % (p->ptime / MIXER_TICK_MS) != 0)
		return;
	int16_t pcm[2880];
	for (uint32_t i = 0; i < fr; i++, p->n++)
		pcm[i] = (int16_t)lrint(p->amp * sin(TWO_PI * p->freq * (double)p->n / p->enc_rate));
	uint8_t pl[CODEC_MAX_PAYLOAD];
	int len = codec_encode(p->enc, pcm, fr, pl, sizeof(pl));
	assert_true(len > 0);
	struct rtp_hdr h = { .version = 2, .pt = p->pt, .seq = p->seq++, .ts = p->ts };
	p->ts += p->in == SDP_CODEC_OPUS ? 48 * p->ptime : 8 * p->ptime;
	if (p->record && p->in != SDP_CODEC_OPUS && p->txb_n + (size_t)len <= REC_TICKS * 160) {
		memcpy(p->txb + p->txb_n, pl, (size_t)len);
		p->txb_n += (size_t)len;
	}
	if (p->sending)
		assert_int_equal(mixer_put(r->m, p->id, &h, pl, (size_t)len, r->now), 0);
}

/* Send, tick, deliver: every participant must be sent exactly one packet. */
static void room_tick(struct room *r, struct mixer_out *out_copy)
{
	for (unsigned i = 0; i < r->n; i++)
		phone_send(r, &r->ph[i]);
	struct mixer_out out;
	assert_int_equal(mixer_tick(r->m, r->now, &out), 0);
	r->tick++;
	r->now += MIXER_TICK_MS;
	for (unsigned i = 0; i < r->n; i++)
		r->ph[i].got = 0;
	for (size_t k = 0; k < out.n_pkts; k++) {
		const struct mixer_packet *pk = &out.pkts[k];
		assert_true(pk->len > 0 && pk->len <= CODEC_MAX_PAYLOAD);
		assert_true(pk->n_to >= 1);
		if (!pk->shared)
			assert_int_equal(pk->n_to, 1);
		for (size_t d = 0; d < pk->n_to; d++) {
			struct phone *p = pk->to[d].user;
			assert_non_null(p);
			assert_int_equal(pk->to[d].id, p->id);
			assert_int_equal(pk->codec, p->out);
			p->got++;
			memcpy(p->last, pk->payload, pk->len);
			p->last_len = pk->len;
			p->last_shared = pk->shared;
			if (!p->record)
				continue;
			if (p->out != SDP_CODEC_OPUS && p->rxb_n + pk->len <= REC_TICKS * 160) {
				memcpy(p->rxb + p->rxb_n, pk->payload, pk->len);
				p->rxb_n += pk->len;
			}
			int16_t pcm[160];
			assert_int_equal(codec_decode(p->dec, pk->payload, pk->len, pcm, 160), 160);
			if (p->rec_n + 160 <= REC_TICKS * 160) {
				memcpy(p->rec + p->rec_n, pcm, sizeof(pcm));
				p->rec_n += 160;
			}
			if (p->heard_n + MIXER_FRAME <= REC_TICKS * MIXER_FRAME) {
				assert_int_equal(mixer_heard(r->m, p->id, p->heard + p->heard_n), 0);
				p->heard_n += MIXER_FRAME;
			}
		}
	}
	for (unsigned i = 0; i < r->n; i++)
		assert_int_equal(r->ph[i].got, 1);
	for (size_t k = 0; k < out.n_changes; k++) {
		struct phone *p = out.changes[k].user;
		assert_int_equal(out.changes[k].id, p->id);
		if (out.changes[k].speaking) {
			p->changes_on++;
			p->on_tick = r->tick;
		} else {
			p->changes_off++;
			p->off_tick = r->tick;
		}
	}
	if (out_copy)
		*out_copy = out;
}

static void room_run(struct room *r, unsigned ticks)
{
	for (unsigned k = 0; k < ticks; k++)
		room_tick(r, NULL);
}

static void record_all(struct room *r, bool on)
{
	for (unsigned i = 0; i < r->n; i++) {
		r->ph[i].record = on && r->ph[i].rec;
		r->ph[i].rec_n = 0;
		r->ph[i].heard_n = 0;
		r->ph[i].txb_n = 0;
		r->ph[i].rxb_n = 0;
	}
}

/* Power of one frequency (Goertzel), as the mean square of that sinusoid. */
static double band_power(const int16_t *x, size_t n, double freq, double rate)
{
	double w = TWO_PI * freq / rate, c = 2 * cos(w), s1 = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		double s = x[i] + c * s1 - s2;
		s2 = s1;
		s1 = s;
	}
	double re = s1 - s2 * cos(w), im = s2 * sin(w);
	return 2 * (re * re + im * im) / ((double)n * n);
}

static double db(double power)
{
	return 10 * log10(power + 1e-12);
}

static double dbfs(double power)
{
	return db(power / (32767.0 * 32767.0 / 2));
}

/* In what p received (decoded at 8 kHz) and in what it was sent at
 * 48 kHz: every tone of `others` present, within a few dB of `level`, and
 * `self` (when not 0) at least 40 dB below the weakest of them. */
static void check_hears(const struct phone *p, const double *others, unsigned n, double self,
			double level)
{
	assert_true(p->rec_n >= 8000 && p->heard_n >= 48000);
	for (int pass = 0; pass < 2; pass++) {
		const int16_t *x = pass ? p->heard : p->rec;
		size_t len = pass ? p->heard_n : p->rec_n;
		double rate = pass ? 48000 : 8000;
		double weakest = 1e300;
		for (unsigned k = 0; k < n; k++) {
			double pw = band_power(x, len, others[k], rate);
			if (fabs(dbfs(pw) - level) > 4)
				print_error("%s: %.0f Hz at %.1f dBFS, expected %.1f\n",
					    pass ? "heard" : "received", others[k], dbfs(pw), level);
			assert_true(fabs(dbfs(pw) - level) <= 4);
			weakest = pw < weakest ? pw : weakest;
		}
		if (self > 0) {
			double own = band_power(x, len, self, rate);
			double below = db(weakest) - db(own);
			if (below < 40)
				print_error("%s: own %.0f Hz only %.1f dB below the others\n",
					    pass ? "heard" : "received", self, below);
			assert_true(below >= 40);
		}
	}
}

/* ---------------------------------------------------------------- tests */

static void test_minus_self_three_codecs(void **state)
{
	(void)state;
	struct room r;
	room_init(&r, NULL);
	/* the three phones: Opus, PCMU, PCMA, all at -6 dBFS */
	struct phone *a = room_add(&r, SDP_CODEC_OPUS, SDP_CODEC_OPUS, 440, MINUS_6_DBFS);
	struct phone *b = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 770, MINUS_6_DBFS);
	struct phone *c = room_add(&r, SDP_CODEC_PCMA, SDP_CODEC_PCMA, 1330, MINUS_6_DBFS);
	room_run(&r, 20);
	record_all(&r, true);
	room_run(&r, 75);
	/* two tones at -6 dBFS peak at full scale: the limiter takes them to
	 * the knee, about -2.5 dB each */
	const double ab[2] = { 440, 770 }, bc[2] = { 770, 1330 }, ac[2] = { 440, 1330 };
	check_hears(a, bc, 2, 440, -8.5);
	check_hears(b, ac, 2, 770, -8.5);
	check_hears(c, ab, 2, 1330, -8.5);
	struct mixer_stats st;
	mixer_stats(r.m, &st);
	assert_int_equal(st.talkers, 3);
	assert_int_equal(st.groups, 0); /* nobody listens only */
	assert_int_equal(st.encodes_tick, 3);
	assert_true(st.limited > 0);
	assert_int_equal(st.encode_errors, 0);
	room_free(&r);
}

static void test_sum_for_listener(void **state)
{
	(void)state;
	struct room r;
	room_init(&r, NULL);
	/* quieter tones, no limiting: a listener hears both at their level,
	 * through G.711 and through Opus */
	struct phone *a = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 500, 3000);
	struct phone *b = room_add(&r, SDP_CODEC_PCMA, SDP_CODEC_PCMU, 900, 3000);
	struct phone *l1 = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 0, 0);
	struct phone *l2 = room_add(&r, SDP_CODEC_OPUS, SDP_CODEC_OPUS, 0, 0);
	room_run(&r, 20);
	record_all(&r, true);
	room_run(&r, 60);
	double lvl = dbfs(3000.0 * 3000.0 / 2);
	const double both[2] = { 500, 900 };
	check_hears(l1, both, 2, 0, lvl);
	check_hears(l2, both, 2, 0, lvl);
	const double only_b[1] = { 900 }, only_a[1] = { 500 };
	check_hears(a, only_b, 1, 500, lvl);
	check_hears(b, only_a, 1, 900, lvl);
	assert_true(l1->last_shared && l2->last_shared);
	assert_false(a->last_shared || b->last_shared);
	struct mixer_stats st;
	mixer_stats(r.m, &st);
	assert_int_equal(st.limited, 0);
	room_free(&r);
}

static void test_mute(void **state)
{
	(void)state;
	struct room r;
	room_init(&r, NULL);
	struct phone *a = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 440, MINUS_6_DBFS);
	struct phone *b = room_add(&r, SDP_CODEC_OPUS, SDP_CODEC_OPUS, 770, MINUS_6_DBFS);
	struct phone *c = room_add(&r, SDP_CODEC_PCMA, SDP_CODEC_PCMA, 1330, MINUS_6_DBFS);
	room_run(&r, 20);
	assert_int_equal(mixer_set_mute(r.m, b->id, true), 0);
	room_run(&r, 5);
	record_all(&r, true);
	room_run(&r, 60);
	/* b's tone is gone from a's and c's; b hears both of them */
	const double ac[2] = { 440, 1330 }, only_c[1] = { 1330 }, only_a[1] = { 440 };
	check_hears(a, only_c, 1, 770, -6);
	check_hears(c, only_a, 1, 770, -6);
	check_hears(b, ac, 2, 770, -8.5);
	struct mixer_part_info info;
	assert_int_equal(mixer_part_info(r.m, b->id, &info), 0);
	assert_true(info.muted);
	assert_false(info.mixed || info.speaking);
	assert_true(b->changes_off >= 1);
	/* and back */
	assert_int_equal(mixer_set_mute(r.m, b->id, false), 0);
	room_run(&r, 5);
	record_all(&r, true);
	room_run(&r, 60);
	const double bc[2] = { 770, 1330 };
	check_hears(a, bc, 2, 440, -8.5);
	assert_int_equal(mixer_part_info(r.m, b->id, &info), 0);
	assert_true(!info.muted && info.mixed && info.speaking);
	room_free(&r);
}

/* Three full-scale tones in phase: their sum peaks at three times full
 * scale. The output must stay a sinusoid of the same sign as the input,
 * no flat tops, no jumps. */
static void check_clean_sine(const int16_t *x, size_t n, double freq, double rate)
{
	/* fit a sinusoid at freq (least squares) and look at the rest */
	double w = TWO_PI * freq / rate, sc = 0, ss = 0;
	for (size_t i = 0; i < n; i++) {
		sc += x[i] * cos(w * (double)i);
		ss += x[i] * sin(w * (double)i);
	}
	sc *= 2.0 / (double)n;
	ss *= 2.0 / (double)n;
	double amp = sqrt(sc * sc + ss * ss), resid = 0, sig = 0;
	int peak = 0, flat = 0, flips = 0, jump = 0;
	for (size_t i = 0; i < n; i++) {
		double fit = sc * cos(w * (double)i) + ss * sin(w * (double)i);
		resid += (x[i] - fit) * (x[i] - fit);
		sig += fit * fit;
		peak = abs(x[i]) > peak ? abs(x[i]) : peak;
		if (abs(x[i]) >= 32700)
			flat++;
		if (fabs(fit) > 0.2 * amp && (x[i] < 0) != (fit < 0))
			flips++;
		if (i && abs(x[i] - x[i - 1]) > jump)
			jump = abs(x[i] - x[i - 1]);
	}
	double thd = db(resid) - db(sig);
	double max_step = 1.5 * amp * w; /* a sinusoid's steepest step, with room */
	if (thd > -30 || flat || flips || jump > max_step || amp < 20000)
		print_error("amp %.0f peak %d flat %d flips %d rest %.1f dB jump %d (max %.0f)\n",
			    amp, peak, flat, flips, thd, jump, max_step);
	assert_true(amp >= 20000);  /* loud, not pushed down far */
	assert_true(peak <= 32767);
	assert_int_equal(flat, 0);
	assert_int_equal(flips, 0);
	assert_true(thd <= -30);
	assert_true(jump <= max_step);
}

static void test_clipping(void **state)
{
	(void)state;
	struct room r;
	room_init(&r, NULL);
	/* Opus input keeps a full-scale tone at full scale (G.711 tops out
	 * at 32124): three in phase, and a listener at +12 dB */
	for (int i = 0; i < 3; i++)
		room_add(&r, SDP_CODEC_OPUS, SDP_CODEC_PCMU, 500, 32767);
	struct phone *l = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 0, 0);
	struct phone *loud = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_OPUS, 0, 0);
	assert_int_equal(mixer_set_volume(r.m, loud->id, MIXER_VOL_MAX), 0);
	record_all(&r, true);
	room_run(&r, 80);
	/* from the first frames on (the attack is within each frame) */
	for (unsigned i = 0; i < r.n; i++) {
		struct phone *p = &r.ph[i];
		/* skip the jitter buffer's first ticks of silence and the
		 * encoder's start */
		size_t skip = 5 * MIXER_FRAME;
		assert_true(p->heard_n > skip + 48000);
		check_clean_sine(p->heard + skip, p->heard_n - skip, 500, 48000);
	}
	(void)l;
	struct mixer_stats st;
	mixer_stats(r.m, &st);
	assert_true(st.limited > 0);
	room_free(&r);
}

/* Everything that went out on one tick, counted. */
static void count_tick(struct room *r, unsigned *encodes, unsigned *shared_pkts)
{
	struct mixer_out out;
	room_tick(r, &out);
	struct mixer_stats st;
	mixer_stats(r->m, &st);
	*encodes = st.encodes_tick;
	*shared_pkts = 0;
	for (size_t k = 0; k < out.n_pkts; k++)
		*shared_pkts += out.pkts[k].shared;
}

static void test_shared_listener_mix(void **state)
{
	(void)state;
	unsigned enc[2], shared[2];
	const unsigned listeners[2] = { 30, 240 };
	for (int run = 0; run < 2; run++) {
		struct room r;
		room_init(&r, NULL);
		room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 440, 8000);
		room_add(&r, SDP_CODEC_OPUS, SDP_CODEC_OPUS, 770, 8000);
		room_add(&r, SDP_CODEC_PCMA, SDP_CODEC_PCMU, 1330, 8000);
		/* 70% PCMU, 20% Opus, 10% PCMU at +3 dB, sending silence */
		unsigned n = listeners[run];
		for (unsigned i = 0; i < n; i++) {
			bool opus = i % 10 < 2, louder = i % 10 == 9;
			struct phone *p = room_add(&r, opus ? SDP_CODEC_OPUS : SDP_CODEC_PCMU,
						   opus ? SDP_CODEC_OPUS : SDP_CODEC_PCMU, 0, 0);
			if (louder)
				assert_int_equal(mixer_set_volume(r.m, p->id, 1), 0);
		}
		room_run(&r, 10);
		/* three talkers, three groups: six frames a tick */
		for (int k = 0; k < 5; k++) {
			count_tick(&r, &enc[run], &shared[run]);
			assert_int_equal(enc[run], 6);
			assert_int_equal(shared[run], 3);
		}
		/* the same bytes to every listener of a group: each compared
		 * with the first of its group (codec, volume) */
		struct phone *first[2][2] = { { NULL, NULL }, { NULL, NULL } };
		unsigned compared = 0;
		for (unsigned i = 3; i < r.n; i++) {
			struct phone *p = &r.ph[i];
			int c = p->out == SDP_CODEC_OPUS, v = (i - 3) % 10 == 9;
			assert_true(p->last_shared);
			if (!first[c][v]) {
				first[c][v] = p;
				continue;
			}
			assert_int_equal(p->last_len, first[c][v]->last_len);
			assert_memory_equal(p->last, first[c][v]->last, p->last_len);
			compared++;
		}
		assert_int_equal(compared, n - 3);
		/* and the groups differ from each other */
		assert_true(first[0][0]->last_len != first[1][0]->last_len ||
			    memcmp(first[0][0]->last, first[1][0]->last, first[0][0]->last_len));
		assert_memory_not_equal(first[0][0]->last, first[0][1]->last, 160);
		struct mixer_stats st;
		mixer_stats(r.m, &st);
		assert_int_equal(st.participants, n + 3);
		assert_int_equal(st.talkers, 3);
		assert_int_equal(st.groups, 3);
		room_free(&r);
	}
	assert_int_equal(enc[0], enc[1]);
	/* silence: only the groups encode */
	struct room r;
	room_init(&r, NULL);
	for (unsigned i = 0; i < 50; i++)
		room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 0, 0);
	room_run(&r, 3);
	unsigned e, s;
	count_tick(&r, &e, &s);
	assert_int_equal(e, 1);
	assert_int_equal(s, 1);
	room_free(&r);
}

static void test_talker_events(void **state)
{
	(void)state;
	struct room r;
	room_init(&r, NULL); /* the default detector: attack 3, release 25 */
	struct phone *a = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 600, 0);
	struct phone *l = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 0, 0);
	room_run(&r, 10);
	/* a burst of two packets: mixed (the listener hears it) but never
	 * reported, and a does not hear itself */
	a->amp = MINUS_6_DBFS;
	record_all(&r, true);
	room_run(&r, 2);
	a->amp = 0;
	room_run(&r, 40);
	assert_int_equal(a->changes_on, 0);
	assert_int_equal(a->changes_off, 0);
	assert_true(dbfs(band_power(l->heard, l->heard_n, 600, 48000)) > -40);
	assert_true(dbfs(band_power(a->heard, a->heard_n, 600, 48000)) < -80);
	struct mixer_stats st;
	mixer_stats(r.m, &st);
	assert_int_equal(st.talkers, 0);

	/* a tone: reported after three frames of it, released 25 frames
	 * after it stops (the jitter buffer delays both alike) */
	a->amp = MINUS_6_DBFS;
	uint64_t start = r.tick;
	room_run(&r, 50);
	assert_int_equal(a->changes_on, 1);
	assert_true(a->on_tick >= start + 3 && a->on_tick <= start + 5);
	struct mixer_part_info info;
	assert_int_equal(mixer_part_info(r.m, a->id, &info), 0);
	assert_true(info.speaking && info.mixed);
	assert_int_equal(info.state, TALKER_SPEAKING);
	assert_float_equal(info.level_dbfs, -6, 0.5);
	a->amp = 0;
	uint64_t stop = r.tick;
	room_run(&r, 24);
	assert_int_equal(a->changes_off, 0);
	room_run(&r, 10);
	assert_int_equal(a->changes_off, 1);
	assert_true(a->off_tick >= stop + 25 && a->off_tick <= stop + 27);
	assert_int_equal(l->changes_on + l->changes_off, 0);
	room_free(&r);
}

static void test_seats(void **state)
{
	(void)state;
	struct mixer_cfg cfg = { .max_talkers = 2 };
	struct room r;
	room_init(&r, &cfg);
	struct phone *a = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 440, MINUS_6_DBFS);
	struct phone *b = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 770, MINUS_6_DBFS);
	struct phone *c = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 1330, 0);
	room_run(&r, 20);
	/* c starts last and louder: the two seated talkers keep their seats */
	c->amp = 32000;
	record_all(&r, true);
	room_run(&r, 60);
	struct mixer_part_info info;
	assert_int_equal(mixer_part_info(r.m, c->id, &info), 0);
	assert_true(info.speaking && !info.mixed);
	struct mixer_stats st;
	mixer_stats(r.m, &st);
	assert_int_equal(st.talkers, 2);
	assert_true(st.seat_refused >= 55);
	/* c is not heard, not even by itself */
	const double only_b[1] = { 770 }, only_a[1] = { 440 }, ab[2] = { 440, 770 };
	check_hears(a, only_b, 1, 1330, -6);
	check_hears(b, only_a, 1, 1330, -6);
	check_hears(c, ab, 2, 1330, -8.5);
	/* when a stops, c takes its seat */
	a->amp = 0;
	room_run(&r, 40);
	assert_int_equal(mixer_part_info(r.m, c->id, &info), 0);
	assert_true(info.mixed);
	assert_int_equal(mixer_part_info(r.m, a->id, &info), 0);
	assert_false(info.mixed);
	room_free(&r);
}

static void test_volume(void **state)
{
	(void)state;
	struct room r;
	room_init(&r, NULL);
	room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 700, 2000);
	struct phone *l0 = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 0, 0);
	struct phone *lm = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 0, 0);
	struct phone *lp = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 0, 0);
	assert_int_equal(mixer_set_volume(r.m, lm->id, -2), 0);
	assert_int_equal(mixer_set_volume(r.m, lp->id, 3), 0);
	assert_int_equal(mixer_set_volume(r.m, lp->id, MIXER_VOL_MAX + 1), EINVAL);
	assert_int_equal(mixer_set_volume(r.m, lp->id, MIXER_VOL_MIN - 1), EINVAL);
	room_run(&r, 20);
	record_all(&r, true);
	room_run(&r, 50);
	double p0 = dbfs(band_power(l0->heard, l0->heard_n, 700, 48000));
	double pm = dbfs(band_power(lm->heard, lm->heard_n, 700, 48000));
	double pp = dbfs(band_power(lp->heard, lp->heard_n, 700, 48000));
	assert_float_equal(pm - p0, -2 * MIXER_VOL_DB, 0.2);
	assert_float_equal(pp - p0, 3 * MIXER_VOL_DB, 0.2);
	struct mixer_part_info info;
	assert_int_equal(mixer_part_info(r.m, lp->id, &info), 0);
	assert_int_equal(info.volume, 3);
	struct mixer_stats st;
	mixer_stats(r.m, &st);
	assert_int_equal(st.groups, 3);
	room_free(&r);
}

static void test_packet_lengths_and_loss(void **state)
{
	(void)state;
	struct room r;
	room_init(&r, NULL);
	/* 40 ms PCMU, announced as 20: the buffer follows the real length */
	struct phone *a = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 500, 4000);
	a->ptime = 40;
	struct phone *b = room_add(&r, SDP_CODEC_OPUS, SDP_CODEC_OPUS, 900, 4000);
	struct phone *l = room_add(&r, SDP_CODEC_PCMA, SDP_CODEC_PCMA, 0, 0);
	room_run(&r, 30);
	record_all(&r, true);
	/* b loses one packet in ten */
	for (int k = 0; k < 100; k++) {
		b->sending = k % 10 != 3;
		room_tick(&r, NULL);
	}
	b->sending = true;
	/* the listener heard both all along: no 20 ms frame without either */
	for (size_t f = 0; f + MIXER_FRAME <= l->heard_n; f += MIXER_FRAME) {
		double pa = dbfs(band_power(l->heard + f, MIXER_FRAME, 500, 48000));
		double pb = dbfs(band_power(l->heard + f, MIXER_FRAME, 900, 48000));
		if (pa < -30 || pb < -36)
			print_error("frame %zu: 500 Hz %.1f dBFS, 900 Hz %.1f dBFS\n",
				    f / MIXER_FRAME, pa, pb);
		assert_true(pa > -30 && pb > -36);
	}
	struct mixer_part_info info;
	assert_int_equal(mixer_part_info(r.m, b->id, &info), 0);
	assert_true(info.concealed >= 8);
	assert_int_equal(mixer_part_info(r.m, a->id, &info), 0);
	assert_int_equal(info.concealed, 0);
	assert_int_equal(info.late, 0);
	room_free(&r);
}

static void test_ids_and_bad_input(void **state)
{
	(void)state;
	struct mixer *m;
	struct mixer_cfg cfg = { .max_participants = 3 };
	assert_int_equal(mixer_new(&m, &cfg), 0);
	struct mixer_part_cfg c = { .in_codec = SDP_CODEC_PCMU, .out_codec = SDP_CODEC_PCMU };
	uint32_t id[4];
	for (int i = 0; i < 3; i++)
		assert_int_equal(mixer_add(m, &c, &id[i]), 0);
	assert_int_equal(mixer_add(m, &c, &id[3]), ENOSPC);
	assert_true(id[0] != id[1] && id[1] != id[2] && id[0] && id[1] && id[2]);
	assert_int_equal(mixer_remove(m, id[1]), 0);
	assert_int_equal(mixer_remove(m, id[1]), ENOENT);
	assert_int_equal(mixer_set_mute(m, id[1], true), ENOENT);
	assert_int_equal(mixer_add(m, &c, &id[3]), 0);
	assert_int_not_equal(id[3], id[1]); /* the slot again, not the id */
	struct mixer_part_info info;
	assert_int_equal(mixer_part_info(m, id[1], &info), ENOENT);
	assert_int_equal(mixer_part_info(m, 0, &info), ENOENT);
	int16_t pcm[MIXER_FRAME];
	assert_int_equal(mixer_heard(m, id[0], pcm), ENODATA);

	/* bad participants */
	struct mixer_part_cfg bad = c;
	bad.in_codec = SDP_CODEC_TEL_EVENT;
	assert_int_equal(mixer_add(m, &bad, &id[1]), EINVAL);
	bad = c;
	bad.out_codec = SDP_CODEC_UNKNOWN;
	assert_int_equal(mixer_add(m, &bad, &id[1]), EINVAL);
	bad = c;
	bad.volume = MIXER_VOL_MAX + 1;
	assert_int_equal(mixer_add(m, &bad, &id[1]), EINVAL);
	bad = c;
	bad.in_pt = 128;
	assert_int_equal(mixer_add(m, &bad, &id[1]), EINVAL);

	/* packets: another payload type is ignored, bad ones refused */
	uint8_t pl[160];
	memset(pl, 0xff, sizeof(pl));
	struct rtp_hdr h = { .version = 2, .pt = 101, .seq = 1, .ts = 160 };
	assert_int_equal(mixer_put(m, id[0], &h, pl, 4, 1000), 0);
	assert_int_equal(mixer_part_info(m, id[0], &info), 0);
	assert_int_equal(info.received, 0);
	h.pt = 0;
	assert_int_equal(mixer_put(m, id[0], &h, pl, sizeof(pl), 1000), 0);
	assert_int_equal(mixer_part_info(m, id[0], &info), 0);
	assert_int_equal(info.received, 1);
	assert_int_equal(mixer_put(m, id[1] + 12345, &h, pl, sizeof(pl), 1000), ENOENT);
	assert_int_equal(mixer_put(m, id[0], &h, pl, 0, 1000), EINVAL);
	assert_int_equal(mixer_put(m, id[0], &h, pl, CODEC_MAX_PAYLOAD + 1, 1000), EINVAL);
	assert_int_equal(mixer_put(m, id[0], NULL, pl, 10, 1000), EINVAL);
	/* an Opus-looking mess into a PCMU leg, a PCMU leg's garbage: decoded
	 * as G.711 (any byte is), nothing breaks */
	struct mixer_out out;
	assert_int_equal(mixer_tick(m, 1020, &out), 0);
	assert_int_equal(mixer_tick(m, 1040, &out), 0);
	assert_int_equal(mixer_tick(NULL, 1040, &out), EINVAL);
	assert_int_equal(mixer_tick(m, 1040, NULL), EINVAL);
	size_t got = 0;
	for (size_t k = 0; k < out.n_pkts; k++)
		got += out.pkts[k].n_to;
	assert_int_equal(got, 3);
	assert_int_equal(mixer_heard(m, id[0], pcm), 0);
	mixer_free(m);
	mixer_free(NULL);

	cfg = (struct mixer_cfg){ .max_participants = MIXER_MAX + 1 };
	assert_int_equal(mixer_new(&m, &cfg), EINVAL);
	cfg = (struct mixer_cfg){ .max_talkers = MIXER_MAX_TALKERS + 1 };
	assert_int_equal(mixer_new(&m, &cfg), EINVAL);
	cfg = (struct mixer_cfg){ .talker = { .on_dbfs = -50, .off_dbfs = -40 } };
	assert_int_equal(mixer_new(&m, &cfg), EINVAL);
	assert_int_equal(mixer_new(NULL, NULL), EINVAL);
}

static bool frame_is_zero(const int16_t *x)
{
	for (size_t i = 0; i < MIXER_FRAME; i++)
		if (x[i])
			return false;
	return true;
}

/* Moving between the group's mix and one's own: the phone hears one
 * stream. For G.711 that is exact: the bytes b receives are those of one
 * encoder fed, without a break, with every frame b was sent (its group's,
 * its own, its group's again), so the encoders are carried over the moves
 * (primed). And b's contribution to the mix is its decoded stream
 * upsampled without a break, also when b starts again after being let go
 * in the middle of a sound (its upsampler primed with the frame before). */
static void test_moves_are_continuous(void **state)
{
	(void)state;
	struct room r;
	room_init(&r, NULL);
	struct phone *a = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 500, 6000);
	/* 830 Hz: no two 20 ms frames alike, so the delay below is certain */
	struct phone *b = room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 830, 0);
	room_add(&r, SDP_CODEC_PCMU, SDP_CODEC_PCMU, 0, 0); /* keeps the group going */
	room_run(&r, 20);
	record_all(&r, true);
	struct mixer_stats st0, st1;
	mixer_stats(r.m, &st0);
	/* b talks, stops and is released back into the group; then a burst
	 * too short to count ends in a quiet sound (let go while not silent),
	 * and b talks again */
	const struct {
		double amp;
		unsigned ticks;
	} script[] = { { 6000, 30 }, { 0, 40 }, { 6000, 1 }, { 150, 10 }, { 6000, 20 }, { 0, 9 } };
	for (size_t k = 0; k < sizeof(script) / sizeof(script[0]); k++) {
		b->amp = script[k].amp;
		room_run(&r, script[k].ticks);
	}
	mixer_stats(r.m, &st1);
	assert_true(st1.primes >= st0.primes + 2);
	size_t frames = b->heard_n / MIXER_FRAME;
	assert_int_equal(b->rxb_n, frames * 160);
	assert_true(frames >= 100);

	/* 1. b's bytes: one continuous PCMU encoder (primed with the first
	 * frame, as it heard the group's before recording began) */
	struct codec_enc *ref;
	assert_int_equal(codec_enc_new(&ref, SDP_CODEC_PCMU, MIXER_RATE), 0);
	uint8_t bytes[CODEC_MAX_PAYLOAD];
	unsigned differ = 0;
	for (size_t f = 0; f < frames; f++) {
		assert_int_equal(codec_encode(ref, b->heard + f * MIXER_FRAME, MIXER_FRAME, bytes,
					      sizeof(bytes)), 160);
		if (f && memcmp(bytes, b->rxb + f * 160, 160) != 0) {
			print_error("frame %zu: b's bytes are not one encoder's\n", f);
			differ++;
		}
	}
	codec_enc_free(ref);
	assert_int_equal(differ, 0);

	/* 2. what a hears is b alone (its own mix, never limited here): each
	 * frame is silence or exactly b's whole stream upsampled, at one
	 * delay of the jitter buffer */
	size_t nb = b->txb_n / 160;
	int16_t *ref48 = calloc(nb * MIXER_FRAME, sizeof(*ref48));
	assert_non_null(ref48);
	struct codec_dec *dec;
	struct resample *up;
	assert_int_equal(codec_dec_new(&dec, SDP_CODEC_PCMU, 8000), 0);
	assert_int_equal(resample_new(&up, 8000, MIXER_RATE, RESAMPLE_QUALITY), 0);
	for (size_t f = 0; f < nb; f++) {
		int16_t pcm8[160];
		assert_int_equal(codec_decode(dec, b->txb + f * 160, 160, pcm8, 160), 160);
		assert_int_equal(resample_run(up, pcm8, 160, ref48 + f * MIXER_FRAME, MIXER_FRAME),
				 MIXER_FRAME);
	}
	codec_dec_free(dec);
	resample_free(up);
	/* the buffer may shrink its delay in a silence (dropping a frame), so
	 * one delay per run of voiced frames: each run begins with b's onset */
	size_t na = a->heard_n / MIXER_FRAME;
	unsigned voiced = 0, runs = 0, bad = 0;
	for (size_t f = 0; f < frames && f < na;) {
		if (frame_is_zero(a->heard + f * MIXER_FRAME)) {
			f++;
			continue;
		}
		size_t end = f;
		while (end < frames && end < na && !frame_is_zero(a->heard + end * MIXER_FRAME))
			end++;
		bool ok = false;
		for (size_t d = 0; d <= 3 && d <= f && !ok; d++) {
			ok = true;
			for (size_t k = f; k < end && ok; k++)
				ok = !memcmp(a->heard + k * MIXER_FRAME, ref48 + (k - d) * MIXER_FRAME,
					     MIXER_FRAME * 2);
		}
		if (!ok) {
			print_error("frames %zu..%zu: not b's continuous stream\n", f, end - 1);
			bad++;
		}
		voiced += (unsigned)(end - f);
		runs++;
		f = end;
	}
	assert_int_equal(bad, 0);
	assert_true(runs >= 3);
	free(ref48);
	assert_true(voiced >= 50);
	room_free(&r);
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_minus_self_three_codecs),
		UNIT_TEST(test_sum_for_listener),
		UNIT_TEST(test_mute),
		UNIT_TEST(test_clipping),
		UNIT_TEST(test_shared_listener_mix),
		UNIT_TEST(test_talker_events),
		UNIT_TEST(test_seats),
		UNIT_TEST(test_volume),
		UNIT_TEST(test_packet_lengths_and_loss),
		UNIT_TEST(test_ids_and_bad_input),
		UNIT_TEST(test_moves_are_continuous),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
