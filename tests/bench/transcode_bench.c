/*
 * transcode_bench.c: CPU cost of one transcoded Opus <-> PCMU call, next to
 * the cost of libopus alone; built and run by tests/bench/transcode.
 *
 * The audio is speech: a WAV file (8 kHz mono S16, e.g. from flite) when
 * one is named, else a synthetic stand-in (a voiced source gliding between
 * 100 and 180 Hz through three formant-like resonances, in syllables of
 * 150-300 ms with pauses). It is cut into 20 ms frames, and every packet
 * the call will receive is made beforehand, so only the call's own work is
 * timed:
 *   codec: per frame, opus_decode of the Opus packet and opus_encode of
 *          the PCM, at the 8 kHz API rate with the encoder settings of
 *          media/codec.c: the floor any Opus <-> G.711 bridge pays;
 *   xcode: per frame, both directions of the call through media/transcode.c:
 *          the Opus packet into one transcoder (Opus in, PCMU out) and the
 *          PCMU packet into the other (PCMU in, Opus out), each xcode_put
 *          then xcode_tick: jitter buffer, decode, telephone-event check,
 *          encode, packetisation.
 * Each is run REPS times, alternating, over the same frames; the fastest
 * run of each is reported (the least disturbed by other work on the box),
 * with the median beside it.
 *
 *   transcode_bench [-s seconds_of_call] [-r reps] [-c] [speech.wav]
 *   -c: also the Opus encoder's cost at every complexity 0..10.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <opus.h>

#include "codec.h"
#include "g711.h"
#include "transcode.h"

#ifndef BENCH_OPUS_COMPLEXITY
#error "BENCH_OPUS_COMPLEXITY: pass media/codec.c's CODEC_OPUS_COMPLEXITY"
#endif

#define RATE 8000
#define FRAME 160 /* 20 ms */
#define MAX_SPEECH_S 60
#define MAX_REPS 15
#define TWO_PI 6.283185307179586

struct pkt {
	size_t len;
	uint8_t data[CODEC_MAX_PAYLOAD];
};

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------- speech */

/* The samples of a RIFF/WAVE file's data chunk, 8 kHz mono S16 only. */
static int16_t *read_wav(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t h[12];
	int16_t *pcm = NULL;
	bool fmt_ok = false;
	if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4))
		goto out;
	for (unsigned chunks = 0; chunks < 64; chunks++) {
		uint8_t c[8];
		if (fread(c, 1, 8, f) != 8)
			goto out;
		uint32_t len = (uint32_t)c[4] | (uint32_t)c[5] << 8 | (uint32_t)c[6] << 16 |
			       (uint32_t)c[7] << 24;
		if (!memcmp(c, "fmt ", 4) && len >= 16) {
			uint8_t fm[16];
			if (fread(fm, 1, 16, f) != 16 || fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR))
				goto out;
			uint16_t format = (uint16_t)(fm[0] | fm[1] << 8), ch = (uint16_t)(fm[2] | fm[3] << 8);
			uint32_t rate = (uint32_t)fm[4] | (uint32_t)fm[5] << 8 | (uint32_t)fm[6] << 16 |
					(uint32_t)fm[7] << 24;
			uint16_t bits = (uint16_t)(fm[14] | fm[15] << 8);
			fmt_ok = format == 1 && ch == 1 && rate == RATE && bits == 16;
		} else if (!memcmp(c, "data", 4)) {
			if (!fmt_ok)
				goto out;
			size_t max = (size_t)MAX_SPEECH_S * RATE;
			size_t want = len / 2 < max ? len / 2 : max;
			pcm = malloc((want ? want : 1) * sizeof(*pcm));
			if (!pcm)
				goto out;
			*n = fread(pcm, sizeof(*pcm), want, f); /* little-endian host assumed */
			break;
		} else if (fseek(f, (long)(len + (len & 1)), SEEK_CUR)) {
			goto out;
		}
	}
out:
	fclose(f);
	return pcm;
}

/* Ten seconds of a speech-like signal (see the top of the file). */
static int16_t *synth_speech(size_t *n)
{
	size_t len = 10 * RATE;
	int16_t *pcm = calloc(len, sizeof(*pcm));
	if (!pcm)
		return NULL;
	const double formants[3] = { 650, 1200, 2600 }, widths[3] = { 90, 110, 160 };
	double phase = 0, y1[3] = { 0 }, y2[3] = { 0 };
	uint32_t seed = 1;
	size_t syl_end = 0, syl_start = 0;
	bool voiced = false;
	for (size_t i = 0; i < len; i++) {
		if (i >= syl_end) {
			seed = seed * 1664525u + 1013904223u;
			voiced = !voiced || (seed >> 28) < 4;
			syl_start = i;
			syl_end = i + (voiced ? 1200 + (seed >> 8) % 1200 : 400 + (seed >> 8) % 1600);
		}
		double t = (double)i / RATE;
		double f0 = 140 + 40 * sin(TWO_PI * 0.7 * t);
		phase += f0 / RATE;
		if (phase >= 1)
			phase -= 1;
		/* a glottal-like pulse train, and a little breath noise */
		double src = voiced ? (phase < 0.1 ? 1.0 : -0.11) : 0;
		seed = seed * 1664525u + 1013904223u;
		src += ((double)(seed >> 16) / 65536.0 - 0.5) * (voiced ? 0.05 : 0.01);
		double out = 0;
		for (unsigned k = 0; k < 3; k++) {
			double r = exp(-M_PI * widths[k] / RATE);
			double a1 = 2 * r * cos(TWO_PI * formants[k] / RATE), a2 = -r * r;
			double y = src + a1 * y1[k] + a2 * y2[k];
			y2[k] = y1[k];
			y1[k] = y;
			out += y / (k + 1);
		}
		/* syllable envelope: rise and fall */
		double env = 0;
		if (voiced) {
			double u = (double)(i - syl_start) / (double)(syl_end - syl_start);
			env = sin(M_PI * u);
		}
		double v = 1800 * env * out;
		pcm[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
	}
	*n = len;
	return pcm;
}

/* -------------------------------------------------------------- runs */

static OpusEncoder *new_encoder(int complexity)
{
	int err = 0;
	OpusEncoder *e = opus_encoder_create(RATE, 1, OPUS_APPLICATION_VOIP, &err);
	if (!e)
		return NULL;
	opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(complexity));
	opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(0));
	opus_encoder_ctl(e, OPUS_SET_DTX(0));
	opus_encoder_ctl(e, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	return e;
}

/* libopus alone: seconds of CPU for nframes of decode + encode. */
static double run_codec(const int16_t *pcm, size_t nsrc, const struct pkt *opus, size_t nframes)
{
	OpusEncoder *e = new_encoder(BENCH_OPUS_COMPLEXITY);
	int err = 0;
	OpusDecoder *d = opus_decoder_create(RATE, 1, &err);
	if (!e || !d) {
		fprintf(stderr, "transcode_bench: cannot create the Opus coder\n");
		exit(1);
	}
	int16_t out[FRAME];
	uint8_t buf[CODEC_MAX_PAYLOAD];
	size_t per = nsrc / FRAME;
	double t0 = cpu_now();
	for (size_t i = 0; i < nframes; i++) {
		size_t k = i % per;
		if (opus_decode(d, opus[k].data, (opus_int32)opus[k].len, out, FRAME, 0) != FRAME ||
		    opus_encode(e, pcm + k * FRAME, FRAME, buf, sizeof(buf)) <= 0) {
			fprintf(stderr, "transcode_bench: libopus failed\n");
			exit(1);
		}
	}
	double t = cpu_now() - t0;
	opus_encoder_destroy(e);
	opus_decoder_destroy(d);
	return t;
}

/* Both directions of one call through transcode.c: seconds of CPU for
 * nframes, and the packets that came out. */
static double run_xcode(const struct pkt *opus, const struct pkt *pcmu, size_t per, size_t nframes,
			unsigned long *sent)
{
	struct xcode_side op = { .codec = SDP_CODEC_OPUS, .pt = 111, .dtmf = true, .dtmf_pt = 110,
				 .dtmf_clock = 48000, .ptime = 20 };
	struct xcode_side mu = { .codec = SDP_CODEC_PCMU, .pt = 0, .dtmf = true, .dtmf_pt = 101,
				 .dtmf_clock = 8000, .ptime = 20 };
	struct xcode *o2u, *u2o;
	if (xcode_new(&o2u, &op, &mu) || xcode_new(&u2o, &mu, &op)) {
		fprintf(stderr, "transcode_bench: xcode_new failed\n");
		exit(1);
	}
	static struct xcode_pkt out[4];
	*sent = 0;
	double t0 = cpu_now();
	for (size_t i = 0; i < nframes; i++) {
		size_t k = i % per;
		uint64_t now = 20ull * i;
		struct rtp_hdr ho = { .version = 2, .pt = 111, .seq = (uint16_t)i,
				      .ts = (uint32_t)(960 * i) };
		struct rtp_hdr hu = { .version = 2, .pt = 0, .seq = (uint16_t)i,
				      .ts = (uint32_t)(160 * i) };
		char digit;
		xcode_put(o2u, &ho, opus[k].data, opus[k].len, now);
		*sent += xcode_tick(o2u, now + 5, out, 4, &digit);
		xcode_put(u2o, &hu, pcmu[k].data, pcmu[k].len, now);
		*sent += xcode_tick(u2o, now + 5, out, 4, &digit);
	}
	double t = cpu_now() - t0;
	xcode_free(o2u);
	xcode_free(u2o);
	return t;
}

static void complexity_sweep(const int16_t *pcm, size_t nsrc)
{
	size_t per = nsrc / FRAME;
	for (int c = 0; c <= 10; c++) {
		OpusEncoder *e = new_encoder(c);
		if (!e)
			exit(1);
		uint8_t buf[CODEC_MAX_PAYLOAD];
		unsigned long bytes = 0;
		double t0 = cpu_now();
		for (size_t k = 0; k < per; k++) {
			int r = opus_encode(e, pcm + k * FRAME, FRAME, buf, sizeof(buf));
			bytes += r > 0 ? (unsigned long)r : 0;
		}
		double t = cpu_now() - t0;
		printf("opus_encode complexity=%d us_per_frame=%.1f kbit_per_s=%.1f\n", c,
		       t / (double)per * 1e6, (double)bytes * 8 / ((double)per * 0.02) / 1000);
		opus_encoder_destroy(e);
	}
}

int main(int argc, char **argv)
{
	unsigned seconds = 60, reps = 7;
	bool sweep = false;
	const char *wav = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc)
			seconds = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-r") && i + 1 < argc)
			reps = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-c"))
			sweep = true;
		else
			wav = argv[i];
	}
	if (seconds < 1 || seconds > 600)
		seconds = 60;
	if (reps < 1 || reps > MAX_REPS)
		reps = 7;

	size_t nsrc = 0;
	int16_t *pcm = wav ? read_wav(wav, &nsrc) : NULL;
	const char *what = "flite";
	if (wav && (!pcm || nsrc < FRAME * 50)) {
		fprintf(stderr, "transcode_bench: %s is not 1 s or more of 8 kHz mono 16-bit WAV; using synthetic speech\n",
			wav);
		free(pcm);
		pcm = NULL;
	}
	if (!pcm) {
		pcm = synth_speech(&nsrc);
		what = "synthetic";
	}
	if (!pcm)
		return 1;
	size_t per = nsrc / FRAME;

	/* every packet the call receives, made once */
	struct pkt *opus = calloc(per, sizeof(*opus)), *pcmu = calloc(per, sizeof(*pcmu));
	OpusEncoder *pe = new_encoder(BENCH_OPUS_COMPLEXITY);
	if (!opus || !pcmu || !pe)
		return 1;
	for (size_t k = 0; k < per; k++) {
		int r = opus_encode(pe, pcm + k * FRAME, FRAME, opus[k].data, CODEC_MAX_PAYLOAD);
		if (r <= 0)
			return 1;
		opus[k].len = (size_t)r;
		g711_ulaw_encode_buf(pcm + k * FRAME, pcmu[k].data, FRAME);
		pcmu[k].len = FRAME;
	}
	opus_encoder_destroy(pe);

	size_t nframes = (size_t)seconds * 50;
	printf("speech=%s source_s=%.1f call_s=%u reps=%u opus_complexity=%d api_rate=%d\n", what,
	       (double)nsrc / RATE, seconds, reps, BENCH_OPUS_COMPLEXITY, RATE);
	if (sweep)
		complexity_sweep(pcm, nsrc);

	double tc[MAX_REPS], tx[MAX_REPS];
	unsigned long sent = 0;
	for (unsigned r = 0; r < reps; r++) {
		tc[r] = run_codec(pcm, nsrc, opus, nframes);
		tx[r] = run_xcode(opus, pcmu, per, nframes, &sent);
	}
	if (sent < 2 * nframes - 20) {
		fprintf(stderr, "transcode_bench: only %lu packets out of %zu frames\n", sent, nframes);
		return 1;
	}
	double best_c = tc[0], best_x = tx[0];
	for (unsigned r = 1; r < reps; r++) {
		if (tc[r] < best_c)
			best_c = tc[r];
		if (tx[r] < best_x)
			best_x = tx[r];
	}
	qsort(tc, reps, sizeof(double), cmp_double);
	qsort(tx, reps, sizeof(double), cmp_double);
	/* CPU microseconds per second of call: both directions */
	double c_us = best_c / seconds * 1e6, x_us = best_x / seconds * 1e6;
	double c_med = tc[reps / 2] / seconds * 1e6, x_med = tx[reps / 2] / seconds * 1e6;
	printf("codec: cpu_us_per_call_s=%.0f (median %.0f) us_per_frame=%.1f\n", c_us, c_med,
	       c_us / 50);
	printf("xcode: cpu_us_per_call_s=%.0f (median %.0f) us_per_frame=%.1f packets_out=%lu\n",
	       x_us, x_med, x_us / 50, sent);
	printf("ratio xcode/codec: %.3f (median %.3f) overhead_pct=%.1f\n", x_us / c_us,
	       x_med / c_med, (x_us / c_us - 1) * 100);
	printf("calls_per_core: codec=%.0f xcode=%.0f\n", 1e6 / c_us, 1e6 / x_us);
	free(opus);
	free(pcmu);
	free(pcm);
	return 0;
}
