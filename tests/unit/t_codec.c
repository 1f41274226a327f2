/*
 * t_codec.c: the codecs behind codec.h: a 1 kHz tone through PCMU, PCMA and
 * Opus at 8 and 48 kHz keeps its level and its band (signal-to-error ratio
 * for G.711, where the waveform survives; band energy for Opus, which keeps
 * what is heard), concealment after a good frame carries the tone on, and
 * bad payloads, sizes and arguments give -1 or EINVAL, never a crash.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "unit.h"

#define TWO_PI 6.283185307179586

static void tone(int16_t *pcm, size_t n, size_t start, uint32_t rate, double freq, double amp)
{
	for (size_t i = 0; i < n; i++)
		pcm[i] = (int16_t)lrint(amp * sin(TWO_PI * freq * (double)(start + i) / rate));
}

/* Mean square of the component at freq (Goertzel), and of everything. */
static double band_power(const int16_t *x, size_t n, uint32_t rate, double freq)
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

static double total_power(const int16_t *x, size_t n)
{
	double e = 0;
	for (size_t i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return e / n;
}

/* The best signal-to-error ratio (dB) of y against x delayed by 0..max_delay
 * samples, over n samples of x. */
static double snr_db(const int16_t *x, const int16_t *y, size_t n, size_t max_delay,
		     size_t *delay)
{
	double best = -1e9;
	for (size_t d = 0; d <= max_delay; d++) {
		double s = 0, e = 0;
		for (size_t i = 0; i + d < n; i++) {
			double a = x[i], b = y[i + d];
			s += a * a;
			e += (a - b) * (a - b);
		}
		double r = e > 0 ? 10 * log10(s / e) : 200;
		if (r > best) {
			best = r;
			if (delay)
				*delay = d;
		}
	}
	return best;
}

/* One second of a 1 kHz tone through an encoder and a decoder, 20 ms at a
 * time; in and out hold rate samples. */
static void roundtrip(enum sdp_codec c, uint32_t rate, int16_t *in, int16_t *out)
{
	struct codec_enc *e;
	struct codec_dec *d;
	assert_int_equal(codec_enc_new(&e, c, rate), 0);
	assert_int_equal(codec_dec_new(&d, c, rate), 0);
	size_t fr = rate / 50;
	tone(in, rate, 0, rate, 1000, 8000);
	for (size_t i = 0; i < rate; i += fr) {
		uint8_t pl[CODEC_MAX_PAYLOAD];
		int n = codec_encode(e, in + i, fr, pl, sizeof(pl));
		assert_true(n > 0);
		if (c != SDP_CODEC_OPUS)
			assert_int_equal(n, 160); /* 20 ms at 8 kHz, whatever the PCM rate */
		assert_int_equal(codec_decode(d, pl, (size_t)n, out + i, fr), (int)fr);
	}
	codec_enc_free(e);
	codec_dec_free(d);
}

static void test_g711_8k(void **state)
{
	(void)state;
	const enum sdp_codec cs[] = { SDP_CODEC_PCMU, SDP_CODEC_PCMA };
	for (unsigned k = 0; k < 2; k++) {
		int16_t in[8000], out[8000];
		roundtrip(cs[k], 8000, in, out);
		size_t delay = 99;
		double snr = snr_db(in, out, 8000, 10, &delay);
		/* G.711 keeps about 38 dB on a tone at this level, with no delay */
		assert_int_equal(delay, 0);
		if (snr < 33)
			fail_msg("codec %u: SNR %.1f dB", k, snr);
	}
}

static void test_g711_48k(void **state)
{
	(void)state;
	const enum sdp_codec cs[] = { SDP_CODEC_PCMU, SDP_CODEC_PCMA };
	for (unsigned k = 0; k < 2; k++) {
		int16_t *in = calloc(48000, sizeof(*in)), *out = calloc(48000, sizeof(*out));
		assert_non_null(in);
		assert_non_null(out);
		roundtrip(cs[k], 48000, in, out);
		/* down to 8 kHz, G.711, back up: the resamplers' delay (a few
		 * ms, a whole number of the tone's 48-sample periods or not)
		 * and G.711's error; skip the first 100 ms */
		double snr = snr_db(in + 4800, out + 4800, 43200 - 48, 48, NULL);
		if (snr < 33)
			fail_msg("codec %u: SNR %.1f dB", k, snr);
		double b = band_power(out + 9600, 38400, 48000, 1000);
		double t = total_power(out + 9600, 38400);
		assert_true(b / t > 0.99);
		assert_true(fabs(10 * log10(t / (8000.0 * 8000 / 2))) < 0.5);
		free(in);
		free(out);
	}
}

static void test_opus(void **state)
{
	(void)state;
	const uint32_t rates[] = { 8000, 48000 };
	for (unsigned k = 0; k < 2; k++) {
		uint32_t r = rates[k];
		int16_t *in = calloc(r, sizeof(*in)), *out = calloc(r, sizeof(*out));
		assert_non_null(in);
		assert_non_null(out);
		roundtrip(SDP_CODEC_OPUS, r, in, out);
		/* after the codec's start-up: the 1 kHz band holds nearly all
		 * the energy, at the level that went in (within 1.5 dB) */
		size_t skip = r / 5, n = r - skip;
		double b = band_power(out + skip, n, r, 1000);
		double t = total_power(out + skip, n);
		double lvl = 10 * log10(t / (8000.0 * 8000 / 2));
		if (b / t < 0.95 || fabs(lvl) > 1.5)
			fail_msg("opus at %u: band share %.3f, level %.2f dB", r, b / t, lvl);
		/* and not some other tone */
		assert_true(band_power(out + skip, n, r, 440) / t < 0.01);
		free(in);
		free(out);
	}
}

/* Good frames of a tone, then 20 ms concealed: not silence, and still
 * mostly the tone. */
static void test_plc(void **state)
{
	(void)state;
	const enum sdp_codec cs[] = { SDP_CODEC_PCMU, SDP_CODEC_PCMA, SDP_CODEC_OPUS };
	const uint32_t rates[] = { 8000, 48000 };
	for (unsigned k = 0; k < 3; k++) {
		for (unsigned j = 0; j < 2; j++) {
			uint32_t r = rates[j];
			size_t fr = r / 50;
			struct codec_enc *e;
			struct codec_dec *d;
			assert_int_equal(codec_enc_new(&e, cs[k], r), 0);
			assert_int_equal(codec_dec_new(&d, cs[k], r), 0);
			int16_t in[960], out[960];
			for (size_t f = 0; f < 10; f++) {
				uint8_t pl[CODEC_MAX_PAYLOAD];
				tone(in, fr, f * fr, r, 1000, 8000);
				int n = codec_encode(e, in, fr, pl, sizeof(pl));
				assert_true(n > 0);
				assert_int_equal(codec_decode(d, pl, (size_t)n, out, fr), (int)fr);
			}
			assert_int_equal(codec_conceal(d, out, fr), (int)fr);
			double t = total_power(out, fr);
			double b = band_power(out, fr, r, 1000);
			if (t < 0.1 * 8000.0 * 8000 / 2 || b / t < 0.5)
				fail_msg("codec %u at %u: concealed power %.0f, band share %.2f", k, r, t,
					 b / t);
			/* a long loss fades out but never fails */
			for (unsigned f = 0; f < 10; f++)
				assert_int_equal(codec_conceal(d, out, fr), (int)fr);
			codec_enc_free(e);
			codec_dec_free(d);
		}
	}
}

static void test_bad_payloads(void **state)
{
	(void)state;
	const enum sdp_codec cs[] = { SDP_CODEC_PCMU, SDP_CODEC_PCMA, SDP_CODEC_OPUS };
	static uint8_t huge[CODEC_MAX_PAYLOAD + 1];
	int16_t pcm[CODEC_MAX_FRAME];
	for (unsigned k = 0; k < 3; k++) {
		for (uint32_t r = 8000; r <= 48000; r += 40000) {
			struct codec_dec *d;
			assert_int_equal(codec_dec_new(&d, cs[k], r), 0);
			uint8_t one = 0x55;
			assert_int_equal(codec_decode(d, &one, 0, pcm, CODEC_MAX_FRAME), -1);
			assert_int_equal(codec_decode(d, NULL, 1, pcm, CODEC_MAX_FRAME), -1);
			assert_int_equal(codec_decode(d, huge, sizeof(huge), pcm, CODEC_MAX_FRAME), -1);
			assert_int_equal(codec_decode(NULL, &one, 1, pcm, CODEC_MAX_FRAME), -1);
			assert_int_equal(codec_conceal(d, pcm, 0), -1);
			assert_int_equal(codec_conceal(d, pcm, CODEC_MAX_FRAME + 1), -1);
			codec_dec_free(d);
		}
	}
	/* G.711: a payload that would not fit the caller's room */
	struct codec_dec *d;
	uint8_t g[160];
	memset(g, 0xd5, sizeof(g));
	assert_int_equal(codec_dec_new(&d, SDP_CODEC_PCMA, 8000), 0);
	assert_int_equal(codec_decode(d, g, 160, pcm, 159), -1);
	assert_int_equal(codec_decode(d, g, 160, pcm, 160), 160);
	codec_dec_free(d);
	assert_int_equal(codec_dec_new(&d, SDP_CODEC_PCMU, 48000), 0);
	assert_int_equal(codec_decode(d, g, 160, pcm, 959), -1);
	assert_int_equal(codec_decode(d, g, 160, pcm, 960), 960);
	assert_int_equal(codec_conceal(d, pcm, 7), -1); /* not whole 8 kHz samples */
	codec_dec_free(d);

	/* Opus: malformed packets (RFC 6716 3.2: a code 3 packet with no
	 * frames, a code 1 packet whose two frames cannot be equal) */
	assert_int_equal(codec_dec_new(&d, SDP_CODEC_OPUS, 8000), 0);
	const uint8_t bad3[] = { 0x03, 0x00 }, bad1[] = { 0x01, 0xaa }, bad2[] = { 0x02, 0xff };
	assert_int_equal(codec_decode(d, bad3, sizeof(bad3), pcm, CODEC_MAX_FRAME), -1);
	assert_int_equal(codec_decode(d, bad1, sizeof(bad1), pcm, CODEC_MAX_FRAME), -1);
	assert_int_equal(codec_decode(d, bad2, sizeof(bad2), pcm, CODEC_MAX_FRAME), -1);
	/* a good 20 ms packet into 10 ms of room */
	struct codec_enc *e;
	assert_int_equal(codec_enc_new(&e, SDP_CODEC_OPUS, 8000), 0);
	uint8_t pl[CODEC_MAX_PAYLOAD];
	tone(pcm, 160, 0, 8000, 1000, 8000);
	int n = codec_encode(e, pcm, 160, pl, sizeof(pl));
	assert_true(n > 0);
	assert_int_equal(codec_decode(d, pl, (size_t)n, pcm, 80), -1);
	assert_int_equal(codec_decode(d, pl, (size_t)n, pcm, 160), 160);
	assert_int_equal(codec_conceal(d, pcm, 30), -1); /* not whole 2.5 ms */
	/* garbage: whatever libopus makes of it, a length within the room
	 * or -1 */
	uint32_t seed = 7;
	for (unsigned i = 0; i < 2000; i++) {
		uint8_t junk[64];
		size_t len = 1 + i % sizeof(junk);
		for (size_t j = 0; j < len; j++) {
			seed = seed * 1664525u + 1013904223u;
			junk[j] = (uint8_t)(seed >> 24);
		}
		int r = codec_decode(d, junk, len, pcm, 480);
		assert_true(r == -1 || (r > 0 && r <= 480));
	}
	codec_dec_free(d);

	/* encoders: sizes Opus cannot code, no room, nothing */
	assert_int_equal(codec_encode(e, pcm, 100, pl, sizeof(pl)), -1);
	assert_int_equal(codec_encode(e, pcm, 0, pl, sizeof(pl)), -1);
	assert_int_equal(codec_encode(e, pcm, CODEC_MAX_FRAME + 20, pl, sizeof(pl)), -1);
	assert_int_equal(codec_encode(e, NULL, 160, pl, sizeof(pl)), -1);
	codec_enc_free(e);
	assert_int_equal(codec_enc_new(&e, SDP_CODEC_PCMU, 8000), 0);
	assert_int_equal(codec_encode(e, pcm, 160, pl, 159), -1);
	assert_int_equal(codec_encode(e, pcm, 160, pl, 160), 160);
	codec_enc_free(e);
	assert_int_equal(codec_enc_new(&e, SDP_CODEC_PCMU, 48000), 0);
	assert_int_equal(codec_encode(e, pcm, 961, pl, sizeof(pl)), -1); /* not whole 8 kHz samples */
	assert_int_equal(codec_encode(e, pcm, 960, pl, sizeof(pl)), 160);
	codec_enc_free(e);
}

static void test_args(void **state)
{
	(void)state;
	struct codec_enc *e = NULL;
	struct codec_dec *d = NULL;
	assert_int_equal(codec_enc_new(&e, SDP_CODEC_TEL_EVENT, 8000), EINVAL);
	assert_int_equal(codec_enc_new(&e, SDP_CODEC_UNKNOWN, 8000), EINVAL);
	assert_int_equal(codec_enc_new(&e, SDP_CODEC_OPUS, 16000), EINVAL);
	assert_int_equal(codec_dec_new(&d, SDP_CODEC_PCMU, 44100), EINVAL);
	assert_int_equal(codec_dec_new(NULL, SDP_CODEC_PCMU, 8000), EINVAL);
	assert_null(e);
	assert_null(d);
	codec_enc_free(NULL);
	codec_dec_free(NULL);
	assert_int_equal(codec_rtp_clock(SDP_CODEC_PCMU), 8000);
	assert_int_equal(codec_rtp_clock(SDP_CODEC_PCMA), 8000);
	assert_int_equal(codec_rtp_clock(SDP_CODEC_OPUS), 48000);
	assert_int_equal(codec_rtp_clock(SDP_CODEC_UNKNOWN), 0);
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_g711_8k),
		UNIT_TEST(test_g711_48k),
		UNIT_TEST(test_opus),
		UNIT_TEST(test_plc),
		UNIT_TEST(test_bad_payloads),
		UNIT_TEST(test_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
