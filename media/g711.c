/*
 * g711.c: G.711 mu-law and A-law coding, direct PCMU<->PCMA transcoding and
 * packet loss concealment for decoded G.711 audio.
 *
 * Encoders compute the segment from the position of the top bit; decoders
 * and transcoders are table lookups. The tables below hold the ITU-T G.711
 * reconstruction values (16-bit scale) and decode-then-encode transcoding;
 * tests/unit/t_g711.c recomputes all of them from the standard's formulas.
 */
#include "g711.h"

#include <math.h>
#include <string.h>

static const int16_t ulaw_dec[256] = {
	-32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956,
	-23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764,
	-15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412,
	-11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316,
	-7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140,
	-5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092,
	-3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004,
	-2876, -2748, -2620, -2492, -2364, -2236, -2108, -1980,
	-1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436,
	-1372, -1308, -1244, -1180, -1116, -1052, -988, -924,
	-876, -844, -812, -780, -748, -716, -684, -652,
	-620, -588, -556, -524, -492, -460, -428, -396,
	-372, -356, -340, -324, -308, -292, -276, -260,
	-244, -228, -212, -196, -180, -164, -148, -132,
	-120, -112, -104, -96, -88, -80, -72, -64,
	-56, -48, -40, -32, -24, -16, -8, 0,
	32124, 31100, 30076, 29052, 28028, 27004, 25980, 24956,
	23932, 22908, 21884, 20860, 19836, 18812, 17788, 16764,
	15996, 15484, 14972, 14460, 13948, 13436, 12924, 12412,
	11900, 11388, 10876, 10364, 9852, 9340, 8828, 8316,
	7932, 7676, 7420, 7164, 6908, 6652, 6396, 6140,
	5884, 5628, 5372, 5116, 4860, 4604, 4348, 4092,
	3900, 3772, 3644, 3516, 3388, 3260, 3132, 3004,
	2876, 2748, 2620, 2492, 2364, 2236, 2108, 1980,
	1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436,
	1372, 1308, 1244, 1180, 1116, 1052, 988, 924,
	876, 844, 812, 780, 748, 716, 684, 652,
	620, 588, 556, 524, 492, 460, 428, 396,
	372, 356, 340, 324, 308, 292, 276, 260,
	244, 228, 212, 196, 180, 164, 148, 132,
	120, 112, 104, 96, 88, 80, 72, 64,
	56, 48, 40, 32, 24, 16, 8, 0,
};

static const int16_t alaw_dec[256] = {
	-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736,
	-7552, -7296, -8064, -7808, -6528, -6272, -7040, -6784,
	-2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368,
	-3776, -3648, -4032, -3904, -3264, -3136, -3520, -3392,
	-22016, -20992, -24064, -23040, -17920, -16896, -19968, -18944,
	-30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136,
	-11008, -10496, -12032, -11520, -8960, -8448, -9984, -9472,
	-15104, -14592, -16128, -15616, -13056, -12544, -14080, -13568,
	-344, -328, -376, -360, -280, -264, -312, -296,
	-472, -456, -504, -488, -408, -392, -440, -424,
	-88, -72, -120, -104, -24, -8, -56, -40,
	-216, -200, -248, -232, -152, -136, -184, -168,
	-1376, -1312, -1504, -1440, -1120, -1056, -1248, -1184,
	-1888, -1824, -2016, -1952, -1632, -1568, -1760, -1696,
	-688, -656, -752, -720, -560, -528, -624, -592,
	-944, -912, -1008, -976, -816, -784, -880, -848,
	5504, 5248, 6016, 5760, 4480, 4224, 4992, 4736,
	7552, 7296, 8064, 7808, 6528, 6272, 7040, 6784,
	2752, 2624, 3008, 2880, 2240, 2112, 2496, 2368,
	3776, 3648, 4032, 3904, 3264, 3136, 3520, 3392,
	22016, 20992, 24064, 23040, 17920, 16896, 19968, 18944,
	30208, 29184, 32256, 31232, 26112, 25088, 28160, 27136,
	11008, 10496, 12032, 11520, 8960, 8448, 9984, 9472,
	15104, 14592, 16128, 15616, 13056, 12544, 14080, 13568,
	344, 328, 376, 360, 280, 264, 312, 296,
	472, 456, 504, 488, 408, 392, 440, 424,
	88, 72, 120, 104, 24, 8, 56, 40,
	216, 200, 248, 232, 152, 136, 184, 168,
	1376, 1312, 1504, 1440, 1120, 1056, 1248, 1184,
	1888, 1824, 2016, 1952, 1632, 1568, 1760, 1696,
	688, 656, 752, 720, 560, 528, 624, 592,
	944, 912, 1008, 976, 816, 784, 880, 848,
};

static const uint8_t ulaw_to_alaw[256] = {
	0x2a, 0x2b, 0x28, 0x29, 0x2e, 0x2f, 0x2c, 0x2d,
	0x22, 0x23, 0x20, 0x21, 0x26, 0x27, 0x24, 0x25,
	0x3a, 0x3b, 0x38, 0x39, 0x3e, 0x3f, 0x3c, 0x3d,
	0x32, 0x33, 0x30, 0x31, 0x36, 0x37, 0x34, 0x35,
	0x0b, 0x08, 0x09, 0x0e, 0x0f, 0x0c, 0x0d, 0x02,
	0x03, 0x00, 0x01, 0x06, 0x07, 0x04, 0x05, 0x1a,
	0x1b, 0x18, 0x19, 0x1e, 0x1f, 0x1c, 0x1d, 0x12,
	0x13, 0x10, 0x11, 0x16, 0x17, 0x14, 0x15, 0x6b,
	0x68, 0x69, 0x6e, 0x6f, 0x6c, 0x6d, 0x62, 0x63,
	0x60, 0x61, 0x66, 0x67, 0x64, 0x65, 0x7b, 0x79,
	0x7e, 0x7f, 0x7c, 0x7d, 0x72, 0x73, 0x70, 0x71,
	0x76, 0x77, 0x74, 0x75, 0x4b, 0x49, 0x4f, 0x4d,
	0x42, 0x43, 0x40, 0x41, 0x46, 0x47, 0x44, 0x45,
	0x5a, 0x5b, 0x58, 0x59, 0x5e, 0x5f, 0x5c, 0x5d,
	0x52, 0x53, 0x53, 0x50, 0x50, 0x51, 0x51, 0x56,
	0x56, 0x57, 0x57, 0x54, 0x54, 0x55, 0x55, 0xd5,
	0xaa, 0xab, 0xa8, 0xa9, 0xae, 0xaf, 0xac, 0xad,
	0xa2, 0xa3, 0xa0, 0xa1, 0xa6, 0xa7, 0xa4, 0xa5,
	0xba, 0xbb, 0xb8, 0xb9, 0xbe, 0xbf, 0xbc, 0xbd,
	0xb2, 0xb3, 0xb0, 0xb1, 0xb6, 0xb7, 0xb4, 0xb5,
	0x8b, 0x88, 0x89, 0x8e, 0x8f, 0x8c, 0x8d, 0x82,
	0x83, 0x80, 0x81, 0x86, 0x87, 0x84, 0x85, 0x9a,
	0x9b, 0x98, 0x99, 0x9e, 0x9f, 0x9c, 0x9d, 0x92,
	0x93, 0x90, 0x91, 0x96, 0x97, 0x94, 0x95, 0xeb,
	0xe8, 0xe9, 0xee, 0xef, 0xec, 0xed, 0xe2, 0xe3,
	0xe0, 0xe1, 0xe6, 0xe7, 0xe4, 0xe5, 0xfb, 0xf9,
	0xfe, 0xff, 0xfc, 0xfd, 0xf2, 0xf3, 0xf0, 0xf1,
	0xf6, 0xf7, 0xf4, 0xf5, 0xcb, 0xc9, 0xcf, 0xcd,
	0xc2, 0xc3, 0xc0, 0xc1, 0xc6, 0xc7, 0xc4, 0xc5,
	0xda, 0xdb, 0xd8, 0xd9, 0xde, 0xdf, 0xdc, 0xdd,
	0xd2, 0xd2, 0xd3, 0xd3, 0xd0, 0xd0, 0xd1, 0xd1,
	0xd6, 0xd6, 0xd7, 0xd7, 0xd4, 0xd4, 0xd5, 0xd5,
};

static const uint8_t alaw_to_ulaw[256] = {
	0x29, 0x2a, 0x27, 0x28, 0x2d, 0x2e, 0x2b, 0x2c,
	0x21, 0x22, 0x1f, 0x20, 0x25, 0x26, 0x23, 0x24,
	0x39, 0x3a, 0x37, 0x38, 0x3d, 0x3e, 0x3b, 0x3c,
	0x31, 0x32, 0x2f, 0x30, 0x35, 0x36, 0x33, 0x34,
	0x0a, 0x0b, 0x08, 0x09, 0x0e, 0x0f, 0x0c, 0x0d,
	0x02, 0x03, 0x00, 0x01, 0x06, 0x07, 0x04, 0x05,
	0x1a, 0x1b, 0x18, 0x19, 0x1e, 0x1f, 0x1c, 0x1d,
	0x12, 0x13, 0x10, 0x11, 0x16, 0x17, 0x14, 0x15,
	0x62, 0x63, 0x60, 0x61, 0x66, 0x67, 0x64, 0x65,
	0x5d, 0x5d, 0x5c, 0x5c, 0x5f, 0x5f, 0x5e, 0x5e,
	0x74, 0x76, 0x70, 0x72, 0x7c, 0x7e, 0x78, 0x7a,
	0x6a, 0x6b, 0x68, 0x69, 0x6e, 0x6f, 0x6c, 0x6d,
	0x48, 0x49, 0x46, 0x47, 0x4c, 0x4d, 0x4a, 0x4b,
	0x40, 0x41, 0x3f, 0x3f, 0x44, 0x45, 0x42, 0x43,
	0x56, 0x57, 0x54, 0x55, 0x5a, 0x5b, 0x58, 0x59,
	0x4f, 0x4f, 0x4e, 0x4e, 0x52, 0x53, 0x50, 0x51,
	0xa9, 0xaa, 0xa7, 0xa8, 0xad, 0xae, 0xab, 0xac,
	0xa1, 0xa2, 0x9f, 0xa0, 0xa5, 0xa6, 0xa3, 0xa4,
	0xb9, 0xba, 0xb7, 0xb8, 0xbd, 0xbe, 0xbb, 0xbc,
	0xb1, 0xb2, 0xaf, 0xb0, 0xb5, 0xb6, 0xb3, 0xb4,
	0x8a, 0x8b, 0x88, 0x89, 0x8e, 0x8f, 0x8c, 0x8d,
	0x82, 0x83, 0x80, 0x81, 0x86, 0x87, 0x84, 0x85,
	0x9a, 0x9b, 0x98, 0x99, 0x9e, 0x9f, 0x9c, 0x9d,
	0x92, 0x93, 0x90, 0x91, 0x96, 0x97, 0x94, 0x95,
	0xe2, 0xe3, 0xe0, 0xe1, 0xe6, 0xe7, 0xe4, 0xe5,
	0xdd, 0xdd, 0xdc, 0xdc, 0xdf, 0xdf, 0xde, 0xde,
	0xf4, 0xf6, 0xf0, 0xf2, 0xfc, 0xfe, 0xf8, 0xfa,
	0xea, 0xeb, 0xe8, 0xe9, 0xee, 0xef, 0xec, 0xed,
	0xc8, 0xc9, 0xc6, 0xc7, 0xcc, 0xcd, 0xca, 0xcb,
	0xc0, 0xc1, 0xbf, 0xbf, 0xc4, 0xc5, 0xc2, 0xc3,
	0xd6, 0xd7, 0xd4, 0xd5, 0xda, 0xdb, 0xd8, 0xd9,
	0xcf, 0xcf, 0xce, 0xce, 0xd2, 0xd3, 0xd0, 0xd1,
};

/* ================================================================ coding */

/* Index of the highest set bit; v > 0. */
static unsigned top_bit(unsigned v) { return 31u - (unsigned)__builtin_clz(v); }

uint8_t g711_ulaw_encode(int16_t x)
{
	/* Magnitude and sign; mu-law is symmetric about 0, so -x is right
	 * for negatives. The bias of 132 (33 on the 14-bit scale) makes the
	 * segments start at powers of two. */
	unsigned sign = 0, mag;
	if (x < 0) {
		sign = 0x80;
		mag = (unsigned)(-(int)x);
	} else {
		mag = (unsigned)x;
	}
	if (mag > 32635)
		mag = 32635;
	mag += 132;
	unsigned seg = top_bit(mag) - 7; /* mag in 132..32767: seg 0..7 */
	unsigned mant = (mag >> (seg + 3)) & 0x0f;
	return (uint8_t)~(sign | seg << 4 | mant);
}

int16_t g711_ulaw_decode(uint8_t c) { return ulaw_dec[c]; }

uint8_t g711_alaw_encode(int16_t x)
{
	/* A-law's decision levels are symmetric about -0.5: a negative x
	 * codes like -x-1. Even bits are inverted on the wire (0x55). */
	unsigned sign = 0x80, mag;
	if (x < 0) {
		sign = 0;
		mag = (unsigned)(-(int)x - 1);
	} else {
		mag = (unsigned)x;
	}
	unsigned seg = mag < 256 ? 0 : top_bit(mag) - 7;
	unsigned mant = seg == 0 ? (mag >> 4) & 0x0f : (mag >> (seg + 3)) & 0x0f;
	return (uint8_t)((sign | seg << 4 | mant) ^ 0x55);
}

int16_t g711_alaw_decode(uint8_t c) { return alaw_dec[c]; }

uint8_t g711_ulaw_to_alaw(uint8_t c) { return ulaw_to_alaw[c]; }

uint8_t g711_alaw_to_ulaw(uint8_t c) { return alaw_to_ulaw[c]; }

void g711_ulaw_encode_buf(const int16_t *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = g711_ulaw_encode(in[i]);
}

void g711_ulaw_decode_buf(const uint8_t *in, int16_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = ulaw_dec[in[i]];
}

void g711_alaw_encode_buf(const int16_t *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = g711_alaw_encode(in[i]);
}

void g711_alaw_decode_buf(const uint8_t *in, int16_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = alaw_dec[in[i]];
}

void g711_ulaw_to_alaw_buf(const uint8_t *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = ulaw_to_alaw[in[i]];
}

void g711_alaw_to_ulaw_buf(const uint8_t *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = alaw_to_ulaw[in[i]];
}

/* =================================================================== PLC */

void g711_plc_init(struct g711_plc *p)
{
	memset(p, 0, sizeof(*p));
}

/* Append n samples to the history, dropping the oldest. */
static void hist_push(struct g711_plc *p, const int16_t *s, size_t n)
{
	const size_t H = G711_PLC_HIST_LEN;
	if (n >= H) {
		memcpy(p->hist, s + (n - H), H * sizeof(*s));
		return;
	}
	memmove(p->hist, p->hist + n, (H - n) * sizeof(*s));
	memcpy(p->hist + (H - n), s, n * sizeof(*s));
}

/* Normalised cross-correlation of the last CORR_LEN samples with the
 * stretch lag samples earlier. */
static double corr_at(const int16_t *h, unsigned lag)
{
	const unsigned H = G711_PLC_HIST_LEN, N = G711_PLC_CORR_LEN;
	const int16_t *a = h + H - N, *b = h + H - N - lag;
	double xy = 0, yy = 0;
	for (unsigned i = 0; i < N; i++) {
		xy += (double)a[i] * b[i];
		yy += (double)b[i] * b[i];
	}
	return yy > 0 ? xy / sqrt(yy) : 0;
}

/*
 * The pitch period in PITCH_MIN..PITCH_MAX. Every multiple of the true
 * period correlates as well as the period itself, so take the first lag
 * that comes within 10% of the best and climb to its local peak; that
 * avoids repeating two periods where one is the pitch.
 */
static unsigned find_pitch(const int16_t *h)
{
	enum { NLAG = G711_PLC_PITCH_MAX - G711_PLC_PITCH_MIN + 1 };
	double c[NLAG], best = 0;
	for (unsigned i = 0; i < NLAG; i++) {
		c[i] = corr_at(h, G711_PLC_PITCH_MIN + i);
		if (c[i] > best)
			best = c[i];
	}
	if (best <= 0)
		return G711_PLC_PITCH_MAX; /* silence or noise: any period will do */
	unsigned i = 0;
	while (i < NLAG - 1 && c[i] < 0.9 * best)
		i++;
	while (i < NLAG - 1 && c[i + 1] > c[i])
		i++;
	return G711_PLC_PITCH_MIN + i;
}

/* Start of a loss: take the last three periods and smooth the end of the
 * last one into the sample before it, so that repeating it loops cleanly. */
static void plc_begin(struct g711_plc *p)
{
	const unsigned H = G711_PLC_HIST_LEN;
	unsigned P = find_pitch(p->hist);
	p->pitch = P;
	p->overlap = P / 4;
	for (unsigned i = 0; i < 3 * P; i++)
		p->pbuf[i] = p->hist[H - 3 * P + i];
	/* the loop jumps from pbuf[3P-1] back to pbuf[2P]; make its last
	 * quarter period turn into what preceded pbuf[2P] */
	unsigned ov = p->overlap;
	for (unsigned j = 0; j < ov; j++) {
		float w = (float)(j + 1) / (float)(ov + 1);
		unsigned k = 3 * P - ov + j;
		p->pbuf[k] = p->pbuf[k] * (1 - w) + p->pbuf[k - P] * w;
	}
	p->start = 2 * P;
	p->len = P;
	p->pos = 0;
	p->xfade = 0;
}

static float region_next(const float *pbuf, unsigned start, unsigned len, unsigned *pos)
{
	float v = pbuf[start + *pos];
	if (++*pos >= len)
		*pos = 0;
	return v;
}

/* One concealed sample, before the fade. */
static float plc_next(struct g711_plc *p)
{
	float v = region_next(p->pbuf, p->start, p->len, &p->pos);
	if (p->xfade) {
		/* after growing to one more period: fade out the old loop */
		float o = region_next(p->pbuf, p->old_start, p->old_len, &p->old_pos);
		float w = (float)p->xfade / (float)(p->overlap + 1);
		v = o * w + v * (1 - w);
		p->xfade--;
	}
	return v;
}

/* At 10 and 20 ms into a loss repeat one more (older) period, to avoid the
 * buzz of a single period looped for long. */
static void plc_grow(struct g711_plc *p)
{
	unsigned periods = p->len / p->pitch;
	if (periods >= 3)
		return;
	p->old_start = p->start;
	p->old_len = p->len;
	p->old_pos = p->pos;
	p->len = (periods + 1) * p->pitch;
	p->start = 3 * p->pitch - p->len;
	p->pos = p->old_pos % p->pitch; /* same phase in the older period */
	p->xfade = p->overlap;
}

static float plc_gain(unsigned erased)
{
	if (erased < G711_PLC_FADE_START)
		return 1.0f;
	if (erased >= G711_PLC_SILENT_AFTER)
		return 0.0f;
	/* 20% per 10 ms */
	return 1.0f - 0.2f * (float)(erased - G711_PLC_FADE_START) / 80.0f;
}

static int16_t clamp16(float v)
{
	if (v > 32767.0f)
		return 32767;
	if (v < -32768.0f)
		return -32768;
	return (int16_t)lrintf(v);
}

void g711_plc_conceal(struct g711_plc *p, int16_t *out, size_t n)
{
	if (p->erased == 0)
		plc_begin(p);
	for (size_t i = 0; i < n; i++) {
		if (p->erased == 80 || p->erased == 160)
			plc_grow(p);
		float g = plc_gain(p->erased);
		float v = plc_next(p);
		out[i] = g > 0 ? clamp16(v * g) : 0;
		if (p->erased < UINT32_MAX)
			p->erased++;
	}
	hist_push(p, out, n);
}

void g711_plc_good(struct g711_plc *p, int16_t *pcm, size_t n)
{
	if (p->erased) {
		/* cross-fade from the concealed signal: a quarter period plus
		 * 4 ms for each further 10 ms lost, at most 10 ms */
		unsigned extra = (p->erased - 1) / 80;
		unsigned ola = p->overlap + 32 * (extra > 2 ? 2 : extra);
		if (ola > 80)
			ola = 80;
		if (ola > n)
			ola = (unsigned)n;
		for (unsigned i = 0; i < ola; i++) {
			float g = plc_gain(p->erased);
			float s = g > 0 ? plc_next(p) * g : 0;
			float w = (float)(i + 1) / (float)(ola + 1);
			pcm[i] = clamp16(s * (1 - w) + (float)pcm[i] * w);
			if (p->erased < UINT32_MAX)
				p->erased++;
		}
		p->erased = 0;
	}
	hist_push(p, pcm, n);
}
