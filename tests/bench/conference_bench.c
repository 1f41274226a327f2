/*
 * conference_bench.c: how large a room one mixer (media/mixer.c) carries in
 * real time on one thread; built and run by tests/bench/conference.
 *
 * A room of N participants, 80% PCMU and 20% Opus (each sends and receives
 * its own codec), everybody sending one 20 ms packet every 20 ms: three of
 * them speech (a WAV file of 8 kHz mono S16, e.g. from flite, else a
 * synthetic stand-in), the rest their background noise at -60 dBFS, under
 * the talker threshold. The three talkers change every few seconds, so
 * participants keep moving into and out of the mix. Every packet is made
 * beforehand; what is timed is the mixer's own work: mixer_put of every
 * packet and mixer_tick (jitter buffers, decoding, talker detection, the
 * mix, the encoders) and a walk over what it hands out. No sockets: sending
 * the payloads is the engine's (tests/bench/relay measures that path).
 *
 * The loop sleeps to each 20 ms deadline (clock_nanosleep, absolute; real
 * time priority when allowed), puts the packets that arrived since the last
 * tick (each participant at its own phase in the 20 ms, with 0..3 ms of
 * jitter), then ticks. An overrun is a tick whose work took more than
 * 20 ms; a late tick is then caught up at once, as the engine does. Late
 * packets are those the jitter buffers dropped because their time had
 * passed. The first second (the whole room joining at once) is run but not
 * counted.
 *
 *   conference_bench [-n N[,N...]] [-s seconds] [-S] [speech.wav]
 *   -S: after the sizes given, search (at most SEARCH_RUNS more runs) for
 *       the largest room with no overrun, up to MIXER_MAX.
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "g711.h"
#include "mixer.h"
#include "resample.h"

#define RATE8 8000
#define FRAME8 160
#define MAX_SPEECH_S 60
#define MAX_SIZES 8
#define SEARCH_RUNS 4
#define TALKERS 3
#define ROTATE_S 5           /* the talkers change this often */
#define OPUS_EVERY 5         /* one participant in five is Opus */
#define NOISE_FRAMES 50
#define NOISE_AMP 33.0       /* -60 dBFS peak-ish noise */
#define TWO_PI 6.283185307179586
#define OPUS_PT 111
#define WARMUP_TICKS 50      /* a second before the count starts: see run_room */

struct pkt {
	uint16_t len;
	uint8_t data[CODEC_MAX_PAYLOAD];
};

/* The frames every participant sends, made once. */
struct corpus {
	size_t nspeech;
	struct pkt *pcmu_speech, *opus_speech;
	struct pkt pcmu_noise[NOISE_FRAMES], opus_noise[NOISE_FRAMES];
};

struct result {
	unsigned n;
	unsigned opus;
	unsigned seconds;
	unsigned long ticks, overruns, caught_up;
	unsigned long cpu_overruns;   /* ticks whose CPU time alone passed 20 ms */
	double mean_us, p99_us, max_us;
	double cpu_max_us;            /* the most CPU time one tick took */
	double wake_late_max_us;
	double cpu_s;
	double encodes_per_tick, talkers_mean;
	unsigned long received, late, lost, sent_payloads, sent_dests;
	unsigned long primes, tails;
};

static double now_s(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	fprintf(stderr, "conference_bench: %s\n", what);
	exit(1);
}

/* ------------------------------------------------------------- speech */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The samples of a RIFF/WAVE file's data chunk: 8 kHz mono S16 only. */
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
		uint32_t len = le32(c + 4);
		if (!memcmp(c, "fmt ", 4) && len >= 16) {
			uint8_t fm[16];
			if (fread(fm, 1, 16, f) != 16 || fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR))
				goto out;
			fmt_ok = fm[0] == 1 && fm[1] == 0 && fm[2] == 1 && fm[3] == 0 &&
				 le32(fm + 4) == RATE8 && fm[14] == 16;
		} else if (!memcmp(c, "data", 4)) {
			if (!fmt_ok)
				goto out;
			size_t max = (size_t)MAX_SPEECH_S * RATE8, want = len / 2 < max ? len / 2 : max;
			pcm = malloc((want ? want : 1) * sizeof(*pcm));
			if (pcm)
				*n = fread(pcm, sizeof(*pcm), want, f); /* little-endian host */
			break;
		} else if (fseek(f, (long)(len + (len & 1)), SEEK_CUR)) {
			goto out;
		}
	}
out:
	fclose(f);
	return pcm;
}

/* Ten seconds of syllables: a pulse train gliding around 140 Hz through
 * three formant resonances, 150-300 ms voiced, 50-250 ms pauses. */
static int16_t *synth_speech(size_t *n)
{
	size_t len = 10 * RATE8;
	int16_t *pcm = calloc(len, sizeof(*pcm));
	if (!pcm)
		return NULL;
	const double fmt[3] = { 650, 1200, 2600 }, bw[3] = { 90, 110, 160 };
	double phase = 0, y1[3] = { 0 }, y2[3] = { 0 };
	uint32_t seed = 7;
	size_t start = 0, end = 0;
	bool voiced = false;
	for (size_t i = 0; i < len; i++) {
		if (i >= end) {
			seed = seed * 1664525u + 1013904223u;
			voiced = !voiced;
			start = i;
			end = i + (voiced ? 1200 + (seed >> 8) % 1200 : 400 + (seed >> 8) % 1600);
		}
		phase += (140 + 40 * sin(TWO_PI * 0.7 * (double)i / RATE8)) / RATE8;
		phase -= phase >= 1 ? 1 : 0;
		double src = voiced ? (phase < 0.1 ? 1.0 : -0.11) : 0, out = 0;
		for (unsigned k = 0; k < 3; k++) {
			double r = exp(-M_PI * bw[k] / RATE8);
			double y = src + 2 * r * cos(TWO_PI * fmt[k] / RATE8) * y1[k] - r * r * y2[k];
			y2[k] = y1[k];
			y1[k] = y;
			out += y / (k + 1);
		}
		double env = voiced ? sin(M_PI * (double)(i - start) / (double)(end - start)) : 0;
		double v = 1800 * env * out;
		pcm[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
	}
	*n = len;
	return pcm;
}

static void encode_pkt(struct codec_enc *e, const int16_t *pcm, size_t n, struct pkt *p)
{
	int r = codec_encode(e, pcm, n, p->data, sizeof(p->data));
	if (r <= 0)
		die("encoding the corpus failed");
	p->len = (uint16_t)r;
}

static void make_corpus(struct corpus *c, const int16_t *pcm, size_t nsrc)
{
	c->nspeech = nsrc / FRAME8;
	c->pcmu_speech = calloc(c->nspeech, sizeof(*c->pcmu_speech));
	c->opus_speech = calloc(c->nspeech, sizeof(*c->opus_speech));
	struct codec_enc *mu, *op;
	struct resample *up;
	if (!c->pcmu_speech || !c->opus_speech || codec_enc_new(&mu, SDP_CODEC_PCMU, RATE8) ||
	    codec_enc_new(&op, SDP_CODEC_OPUS, MIXER_RATE) ||
	    resample_new(&up, RATE8, MIXER_RATE, RESAMPLE_QUALITY))
		die("out of memory");
	int16_t x48[MIXER_FRAME], x8[FRAME8];
	for (size_t k = 0; k < c->nspeech; k++) {
		encode_pkt(mu, pcm + k * FRAME8, FRAME8, &c->pcmu_speech[k]);
		if (resample_run(up, pcm + k * FRAME8, FRAME8, x48, MIXER_FRAME) != MIXER_FRAME)
			die("resampling failed");
		encode_pkt(op, x48, MIXER_FRAME, &c->opus_speech[k]);
	}
	uint32_t seed = 99;
	for (size_t k = 0; k < NOISE_FRAMES; k++) {
		for (size_t i = 0; i < FRAME8; i++) {
			seed = seed * 1664525u + 1013904223u;
			x8[i] = (int16_t)lrint(NOISE_AMP * ((double)(seed >> 16) / 32768.0 - 1));
		}
		encode_pkt(mu, x8, FRAME8, &c->pcmu_noise[k]);
		if (resample_run(up, x8, FRAME8, x48, MIXER_FRAME) != MIXER_FRAME)
			die("resampling failed");
		encode_pkt(op, x48, MIXER_FRAME, &c->opus_noise[k]);
	}
	codec_enc_free(mu);
	codec_enc_free(op);
	resample_free(up);
}

/* --------------------------------------------------------- codec costs */

/* CPU microseconds per 20 ms frame of the pieces a tick is made of. */
static void codec_costs(const struct corpus *c, const int16_t *pcm)
{
	size_t n = c->nspeech < 500 ? c->nspeech : 500;
	struct codec_enc *e48, *mu48;
	struct codec_dec *d48, *mu8;
	struct resample *up;
	if (codec_enc_new(&e48, SDP_CODEC_OPUS, MIXER_RATE) ||
	    codec_enc_new(&mu48, SDP_CODEC_PCMU, MIXER_RATE) ||
	    codec_dec_new(&d48, SDP_CODEC_OPUS, MIXER_RATE) ||
	    codec_dec_new(&mu8, SDP_CODEC_PCMU, RATE8) ||
	    resample_new(&up, RATE8, MIXER_RATE, RESAMPLE_QUALITY))
		die("out of memory");
	static int16_t x48[MIXER_FRAME * 600];
	int16_t x8[FRAME8], y48[MIXER_FRAME];
	uint8_t buf[CODEC_MAX_PAYLOAD];
	double t0 = now_s(CLOCK_THREAD_CPUTIME_ID);
	for (size_t k = 0; k < n; k++)
		if (codec_decode(d48, c->opus_speech[k].data, c->opus_speech[k].len,
				 x48 + k * MIXER_FRAME, MIXER_FRAME) != MIXER_FRAME)
			die("opus decode failed");
	double t1 = now_s(CLOCK_THREAD_CPUTIME_ID);
	for (size_t k = 0; k < n; k++)
		if (codec_encode(e48, x48 + k * MIXER_FRAME, MIXER_FRAME, buf, sizeof(buf)) <= 0)
			die("opus encode failed");
	double t2 = now_s(CLOCK_THREAD_CPUTIME_ID);
	for (size_t k = 0; k < n; k++)
		if (codec_decode(mu8, c->pcmu_speech[k].data, c->pcmu_speech[k].len, x8, FRAME8) !=
		    FRAME8)
			die("pcmu decode failed");
	double t3 = now_s(CLOCK_THREAD_CPUTIME_ID);
	for (size_t k = 0; k < n; k++)
		if (resample_run(up, pcm + k * FRAME8, FRAME8, y48, MIXER_FRAME) != MIXER_FRAME)
			die("resample failed");
	double t4 = now_s(CLOCK_THREAD_CPUTIME_ID);
	for (size_t k = 0; k < n; k++)
		if (codec_encode(mu48, x48 + k * MIXER_FRAME, MIXER_FRAME, buf, sizeof(buf)) != FRAME8)
			die("pcmu encode failed");
	double t5 = now_s(CLOCK_THREAD_CPUTIME_ID);
	double f = 1e6 / (double)n;
	printf("codec_us_per_frame: opus_dec48=%.1f opus_enc48=%.1f pcmu_dec8=%.2f up8to48=%.1f "
	       "pcmu_enc48=%.1f\n",
	       (t1 - t0) * f, (t2 - t1) * f, (t3 - t2) * f, (t4 - t3) * f, (t5 - t4) * f);
	codec_enc_free(e48);
	codec_enc_free(mu48);
	codec_dec_free(d48);
	codec_dec_free(mu8);
	resample_free(up);
}

/* ---------------------------------------------------------------- run */

struct member {
	uint32_t id;
	bool opus;
	uint16_t seq;
	uint32_t ts;
	unsigned phase_ms;       /* when in the 20 ms its packets arrive */
	size_t speech_off;       /* where in the speech it starts */
};

static bool is_talker(unsigned i, unsigned n, unsigned long tick)
{
	unsigned long turn = tick / (ROTATE_S * 50);
	/* three participants spread over the room, a new three every turn */
	for (unsigned j = 0; j < TALKERS && j < n; j++)
		if (i == (unsigned)((turn * 7 + (unsigned long)j * (n / TALKERS + 1)) % n))
			return true;
	return false;
}

static void run_room(const struct corpus *c, unsigned n, unsigned seconds, struct result *res)
{
	struct mixer *m;
	if (mixer_new(&m, NULL))
		die("mixer_new failed");
	struct member *mb = calloc(n, sizeof(*mb));
	unsigned long nticks = (unsigned long)seconds * 50;
	double *work = calloc(nticks, sizeof(*work));
	if (!mb || !work)
		die("out of memory");
	uint32_t seed = 12345;
	memset(res, 0, sizeof(*res));
	res->n = n;
	res->seconds = seconds;
	for (unsigned i = 0; i < n; i++) {
		mb[i].opus = i % OPUS_EVERY == OPUS_EVERY - 1;
		res->opus += mb[i].opus;
		enum sdp_codec codec = mb[i].opus ? SDP_CODEC_OPUS : SDP_CODEC_PCMU;
		struct mixer_part_cfg pc = {
			.in_codec = codec, .in_pt = mb[i].opus ? OPUS_PT : 0, .out_codec = codec,
			.user = &mb[i],
		};
		if (mixer_add(m, &pc, &mb[i].id))
			die("mixer_add failed");
		mb[i].seq = (uint16_t)(i * 31);
		mb[i].ts = i * 977u;
		mb[i].phase_ms = (i * 7) % MIXER_TICK_MS;
		mb[i].speech_off = (size_t)i * 101 % c->nspeech;
	}

	/* The whole room joins at once here, so the first ticks touch every
	 * participant's buffers and decoders for the first time (the first
	 * decoding tick of 1000 takes 14 ms where the others take 9); a real
	 * room fills one call at a time. The first WARMUP_TICKS run in real
	 * time but are not counted. */
	uint64_t base = mono_ns(), period = (uint64_t)MIXER_TICK_MS * 1000000u;
	uint64_t base_ms = base / 1000000u;
	double cpu0 = 0, talkers = 0;
	struct mixer_stats st0 = { 0 };
	for (unsigned long k = 0; k < nticks + WARMUP_TICKS; k++) {
		if (k == WARMUP_TICKS) {
			cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID);
			mixer_stats(m, &st0);
			res->caught_up = 0;
			res->wake_late_max_us = 0;
			res->sent_payloads = res->sent_dests = 0;
			for (unsigned i = 0; i < n; i++) {
				struct mixer_part_info info;
				if (mixer_part_info(m, mb[i].id, &info) == 0) {
					res->received -= info.received;
					res->late -= info.late;
					res->lost -= info.lost;
				}
			}
		}
		uint64_t due = base + (k + 1) * period;
		uint64_t t = mono_ns();
		if (t < due) {
			struct timespec ts = { .tv_sec = (time_t)(due / 1000000000u),
					       .tv_nsec = (long)(due % 1000000000u) };
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		} else {
			res->caught_up++;
		}
		uint64_t w0 = mono_ns();
		double c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
		double late_us = (double)(w0 > due ? w0 - due : 0) / 1000;
		if (late_us > res->wake_late_max_us)
			res->wake_late_max_us = late_us;
		/* the packets of the 20 ms before this tick */
		uint64_t tick_ms = base_ms + (k + 1) * MIXER_TICK_MS;
		for (unsigned i = 0; i < n; i++) {
			struct member *p = &mb[i];
			seed = seed * 1664525u + 1013904223u;
			unsigned at = p->phase_ms + (seed >> 16) % 4;
			at = at >= MIXER_TICK_MS ? MIXER_TICK_MS - 1 : at;
			const struct pkt *pk;
			if (is_talker(i, n, k)) {
				size_t f = (p->speech_off + k) % c->nspeech;
				pk = p->opus ? &c->opus_speech[f] : &c->pcmu_speech[f];
			} else {
				size_t f = (i + k) % NOISE_FRAMES;
				pk = p->opus ? &c->opus_noise[f] : &c->pcmu_noise[f];
			}
			struct rtp_hdr h = { .version = 2, .pt = p->opus ? OPUS_PT : 0,
					     .seq = p->seq++, .ts = p->ts };
			p->ts += p->opus ? MIXER_FRAME : FRAME8;
			mixer_put(m, p->id, &h, pk->data, pk->len, tick_ms - MIXER_TICK_MS + at);
		}
		struct mixer_out out;
		if (mixer_tick(m, tick_ms, &out))
			die("mixer_tick failed");
		/* what the engine would walk to send: every destination */
		for (size_t j = 0; j < out.n_pkts; j++) {
			res->sent_payloads++;
			for (size_t d = 0; d < out.pkts[j].n_to; d++) {
				struct member *to = out.pkts[j].to[d].user;
				res->sent_dests += to->id == out.pkts[j].to[d].id;
			}
		}
		if (k < WARMUP_TICKS)
			continue;
		double wall_us = (double)(mono_ns() - w0) / 1000;
		work[k - WARMUP_TICKS] = wall_us;
		if (wall_us > MIXER_TICK_MS * 1000.0)
			res->overruns++;
		/* wall time includes being preempted; CPU time is the work (but
		 * on a virtual machine time stolen by the host counts as both) */
		double cpu_us = (now_s(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e6;
		if (cpu_us > res->cpu_max_us)
			res->cpu_max_us = cpu_us;
		if (cpu_us > MIXER_TICK_MS * 1000.0)
			res->cpu_overruns++;
		struct mixer_stats st;
		mixer_stats(m, &st);
		talkers += st.talkers;
	}
	res->cpu_s = now_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	res->ticks = nticks;

	struct mixer_stats st;
	mixer_stats(m, &st);
	res->encodes_per_tick = (double)(st.encodes - st0.encodes) / (double)nticks;
	res->talkers_mean = talkers / (double)nticks;
	res->primes = st.primes - st0.primes;
	res->tails = st.tails - st0.tails;
	for (unsigned i = 0; i < n; i++) {
		struct mixer_part_info info;
		if (mixer_part_info(m, mb[i].id, &info) == 0) {
			res->received += info.received;
			res->late += info.late;
			res->lost += info.lost;
		}
	}
	double sum = 0;
	for (unsigned long k = 0; k < nticks; k++) {
		sum += work[k];
		res->max_us = work[k] > res->max_us ? work[k] : res->max_us;
	}
	res->mean_us = sum / (double)nticks;
	qsort(work, nticks, sizeof(*work), cmp_double);
	res->p99_us = work[nticks * 99 / 100];
	free(work);
	free(mb);
	mixer_free(m);
}

static void print_result(const struct result *r)
{
	double per = r->cpu_s / r->seconds / r->n * 1e6; /* CPU us per participant-second */
	printf("room: participants=%u opus=%u seconds=%u ticks=%lu overruns=%lu cpu_overruns=%lu "
	       "caught_up=%lu tick_mean_us=%.0f tick_p99_us=%.0f tick_max_us=%.0f "
	       "tick_cpu_max_us=%.0f wake_late_max_us=%.0f "
	       "cpu_pct=%.1f cpu_us_per_participant_s=%.1f cpu_pct_per_participant=%.4f "
	       "encodes_per_tick=%.2f talkers_mean=%.2f primes=%lu tails=%lu late_pct=%.3f "
	       "lost_pct=%.3f dests_per_tick=%.0f\n",
	       r->n, r->opus, r->seconds, r->ticks, r->overruns, r->cpu_overruns, r->caught_up,
	       r->mean_us, r->p99_us, r->max_us, r->cpu_max_us, r->wake_late_max_us, r->cpu_s / r->seconds * 100, per,
	       per / 1e4, r->encodes_per_tick, r->talkers_mean, r->primes, r->tails,
	       r->received ? 100.0 * (double)r->late / (double)r->received : 0,
	       r->received ? 100.0 * (double)r->lost / (double)r->received : 0,
	       (double)r->sent_dests / (double)r->ticks);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned sizes[MAX_SIZES] = { 200, 500 }, nsizes = 2, seconds = 60;
	bool search = false;
	const char *wav = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			nsizes = 0;
			for (char *s = argv[++i], *e; *s && nsizes < MAX_SIZES; s = *e ? e + 1 : e) {
				unsigned long v = strtoul(s, &e, 10);
				if (e == s || v < 1 || v > MIXER_MAX)
					die("-n: sizes are 1..MIXER_MAX, comma-separated");
				sizes[nsizes++] = (unsigned)v;
			}
		} else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			seconds = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "-S")) {
			search = true;
		} else {
			wav = argv[i];
		}
	}
	if (seconds < 1 || seconds > 600)
		die("-s: 1..600 seconds");
	if (!nsizes)
		die("-n: no size");

	size_t nsrc = 0;
	int16_t *pcm = wav ? read_wav(wav, &nsrc) : NULL;
	const char *what = "flite";
	if (wav && (!pcm || nsrc < FRAME8 * 50)) {
		fprintf(stderr, "conference_bench: %s is not 1 s or more of 8 kHz mono S16 WAV; "
				"synthetic speech\n", wav);
		free(pcm);
		pcm = NULL;
	}
	if (!pcm) {
		pcm = synth_speech(&nsrc);
		what = "synthetic";
	}
	if (!pcm)
		die("out of memory");
	struct corpus c;
	make_corpus(&c, pcm, nsrc);

	struct sched_param sp = { .sched_priority = 10 };
	bool rt = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
	printf("speech=%s source_s=%.1f seconds=%u talkers=%d opus_pct=%d rotate_s=%d realtime=%s\n",
	       what, (double)nsrc / RATE8, seconds, TALKERS, 100 / OPUS_EVERY, ROTATE_S,
	       rt ? "yes" : "no");
	codec_costs(&c, pcm);

	struct result *runs = calloc(nsizes, sizeof(*runs)), r, best = { 0 };
	if (!runs)
		die("out of memory");
	unsigned ok = 0, bad = MIXER_MAX + 1;
	for (unsigned i = 0; i < nsizes; i++) {
		run_room(&c, sizes[i], seconds, &runs[i]);
		print_result(&runs[i]);
		if (runs[i].overruns == 0 && runs[i].n > ok) {
			ok = runs[i].n;
			best = runs[i];
		}
	}
	/* a room that overran while a larger one held was disturbed (the
	 * other work on the box): the search starts above the largest that
	 * held */
	for (unsigned i = 0; i < nsizes; i++)
		if (runs[i].overruns && runs[i].n > ok && runs[i].n < bad)
			bad = runs[i].n;
	free(runs);
	for (unsigned k = 0; search && k < SEARCH_RUNS; k++) {
		/* bisect between the largest room that held and the smallest
		 * that did not (MIXER_MAX + 1 until one fails) */
		if (ok >= MIXER_MAX || bad <= ok + 1 || bad - ok <= (ok + 19) / 20)
			break;
		unsigned n = bad > MIXER_MAX ? MIXER_MAX : ok + (bad - ok) / 2;
		run_room(&c, n, seconds, &r);
		print_result(&r);
		if (r.overruns == 0) {
			ok = n;
			best = r;
		} else {
			bad = n;
		}
	}
	if (ok)
		printf("largest: participants=%u overruns=0 over %u s, cpu_pct=%.1f "
		       "cpu_us_per_participant_s=%.1f tick_max_us=%.0f tick_cpu_max_us=%.0f%s\n",
		       best.n, best.seconds, best.cpu_s / best.seconds * 100,
		       best.cpu_s / best.seconds / best.n * 1e6, best.max_us, best.cpu_max_us,
		       ok >= MIXER_MAX ? " (MIXER_MAX: the mixer's own limit)" :
		       bad <= MIXER_MAX ? "" : " (not searched further)");
	else
		printf("largest: none of the sizes ran without an overrun\n");
	free(c.pcmu_speech);
	free(c.opus_speech);
	free(pcm);
	return 0;
}
