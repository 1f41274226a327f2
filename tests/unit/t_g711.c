/*
 * t_g711.c: G.711 against the standard: known code points, every decode
 * table entry recomputed from the G.711 reconstruction formulas, all 65536
 * inputs round-tripped within half a quantisation step (and monotonic), the
 * PCMU<->PCMA tables equal to decode-then-encode; and the loss concealer on
 * voiced signals: it finds the pitch, continues a periodic signal, fades to
 * silence by 60 ms, and cross-fades back into real audio.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "g711.h"
#include "unit.h"

/* G.711 reconstruction values from the standard's formulas (14-bit
 * scale for mu-law, 13-bit for A-law), scaled to 16 bits: for segment s and
 * step q, mu-law y = (2q + 33) * 2^s - 33; A-law y = 2q + 1 in segment 0
 * and (2q + 33) * 2^(s-1) above. Even bits of A-law are inverted on the
 * wire, all bits of mu-law. */
static int ref_ulaw_decode(uint8_t c)
{
	unsigned u = (uint8_t)~c;
	int s = (int)((u >> 4) & 7), q = (int)(u & 15);
	int y = ((2 * q + 33) << s) - 33;
	return (u & 0x80) ? -4 * y : 4 * y;
}

static int ref_alaw_decode(uint8_t c)
{
	unsigned a = c ^ 0x55u;
	int s = (int)((a >> 4) & 7), q = (int)(a & 15);
	int y = s == 0 ? 2 * q + 1 : (2 * q + 33) << (s - 1);
	return (a & 0x80) ? 8 * y : -8 * y;
}

static void test_known_values(void **state)
{
	(void)state;
	assert_int_equal(g711_ulaw_encode(0), 0xff);
	assert_int_equal(g711_alaw_encode(0), 0xd5);
	assert_int_equal(g711_ulaw_decode(0xff), 0);
	assert_int_equal(g711_ulaw_decode(0x7f), 0);
	assert_int_equal(g711_ulaw_decode(0x00), -32124);
	assert_int_equal(g711_ulaw_decode(0x80), 32124);
	assert_int_equal(g711_alaw_decode(0xd5), 8);
	assert_int_equal(g711_alaw_decode(0x55), -8);
	assert_int_equal(g711_alaw_decode(0xaa), 32256);
	assert_int_equal(g711_alaw_decode(0x2a), -32256);
	assert_int_equal(g711_ulaw_encode(32767), 0x80);
	assert_int_equal(g711_ulaw_encode(-32768), 0x00);
	assert_int_equal(g711_alaw_encode(32767), 0xaa);
	assert_int_equal(g711_alaw_encode(-32768), 0x2a);
	assert_int_equal(g711_alaw_encode(-1), 0x55);
	/* silence patterns on the wire */
	uint8_t u[4], a[4];
	int16_t z[4] = { 0 };
	g711_ulaw_encode_buf(z, u, 4);
	g711_alaw_encode_buf(z, a, 4);
	assert_memory_equal(u, "\xff\xff\xff\xff", 4);
	assert_memory_equal(a, "\xd5\xd5\xd5\xd5", 4);
}

static void test_decode_tables(void **state)
{
	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		if (g711_ulaw_decode((uint8_t)c) != ref_ulaw_decode((uint8_t)c))
			fail_msg("ulaw %02x: %d, expected %d", c, g711_ulaw_decode((uint8_t)c),
				 ref_ulaw_decode((uint8_t)c));
		if (g711_alaw_decode((uint8_t)c) != ref_alaw_decode((uint8_t)c))
			fail_msg("alaw %02x: %d, expected %d", c, g711_alaw_decode((uint8_t)c),
				 ref_alaw_decode((uint8_t)c));
		/* every code round-trips through its own reconstruction value */
		assert_int_equal(g711_ulaw_encode(g711_ulaw_decode((uint8_t)c)),
				 c == 0x7f ? 0xff : c); /* -0 re-encodes as +0 */
		assert_int_equal(g711_alaw_encode(g711_alaw_decode((uint8_t)c)), c);
	}
}

/* Half the quantisation step at magnitude m (16-bit scale). */
static int ulaw_half_step(int m)
{
	if (m > 32635)
		return 1 << 30; /* clipping region: checked separately */
	int seg = 0;
	while (seg < 7 && m + 132 >= (256 << seg))
		seg++;
	return 4 << seg;
}

static int alaw_half_step(int m)
{
	int seg = 0;
	while (seg < 7 && m >= (256 << seg))
		seg++;
	return seg <= 1 ? 8 : 4 << seg;
}

static void test_round_trip_all(void **state)
{
	(void)state;
	int prev_u = -32768 * 2, prev_a = -32768 * 2;
	for (int x = -32768; x <= 32767; x++) {
		int du = g711_ulaw_decode(g711_ulaw_encode((int16_t)x));
		int da = g711_alaw_decode(g711_alaw_encode((int16_t)x));
		int eu = abs(du - x), ea = abs(da - x);
		int m = x < 0 ? -x : x;
		if (m > 32635) {
			/* clipped to the top code: at most 32767-32124 off */
			if (du != (x < 0 ? -32124 : 32124))
				fail_msg("ulaw clip %d -> %d", x, du);
		} else if (eu > ulaw_half_step(m)) {
			fail_msg("ulaw %d -> %d: error %d above %d", x, du, eu, ulaw_half_step(m));
		}
		int ma = x < 0 ? -x - 1 : x;
		if (ea > alaw_half_step(ma))
			fail_msg("alaw %d -> %d: error %d above %d", x, da, ea, alaw_half_step(ma));
		/* quantisers are monotonic */
		if (du < prev_u || da < prev_a)
			fail_msg("not monotonic at %d", x);
		prev_u = du;
		prev_a = da;
	}
}

static void test_transcode_tables(void **state)
{
	(void)state;
	uint8_t in[256], out[256], inplace[256];
	for (unsigned c = 0; c < 256; c++) {
		in[c] = (uint8_t)c;
		assert_int_equal(g711_ulaw_to_alaw((uint8_t)c),
				 g711_alaw_encode(g711_ulaw_decode((uint8_t)c)));
		assert_int_equal(g711_alaw_to_ulaw((uint8_t)c),
				 g711_ulaw_encode(g711_alaw_decode((uint8_t)c)));
	}
	g711_ulaw_to_alaw_buf(in, out, 256);
	memcpy(inplace, in, 256);
	g711_ulaw_to_alaw_buf(inplace, inplace, 256);
	assert_memory_equal(out, inplace, 256);
	for (unsigned c = 0; c < 256; c++)
		assert_int_equal(out[c], g711_ulaw_to_alaw((uint8_t)c));
	g711_alaw_to_ulaw_buf(in, out, 256);
	for (unsigned c = 0; c < 256; c++)
		assert_int_equal(out[c], g711_alaw_to_ulaw((uint8_t)c));
	/* decode buffers agree with the scalar decoders */
	int16_t pcm[256];
	g711_ulaw_decode_buf(in, pcm, 256);
	for (unsigned c = 0; c < 256; c++)
		assert_int_equal(pcm[c], g711_ulaw_decode((uint8_t)c));
	g711_alaw_decode_buf(in, pcm, 256);
	for (unsigned c = 0; c < 256; c++)
		assert_int_equal(pcm[c], g711_alaw_decode((uint8_t)c));
	uint8_t back[256];
	g711_alaw_encode_buf(pcm, back, 256);
	assert_memory_equal(back, in, 256);
}

/* ------------------------------------------------------------------ PLC */

/* A voiced-like periodic signal: fundamental plus two harmonics. */
static int16_t voiced(double period, long n)
{
	double t = 2 * M_PI * (double)n / period;
	return (int16_t)lrint(8000 * sin(t) + 3000 * sin(2 * t + 0.5) + 1500 * sin(3 * t + 1.1));
}

static double energy(const int16_t *s, size_t n)
{
	double e = 0;
	for (size_t i = 0; i < n; i++)
		e += (double)s[i] * s[i];
	return e;
}

static void feed_good(struct g711_plc *p, double period, long *t, unsigned frames)
{
	int16_t f[160];
	for (unsigned k = 0; k < frames; k++) {
		for (unsigned i = 0; i < 160; i++)
			f[i] = voiced(period, (*t)++);
		g711_plc_good(p, f, 160);
	}
}

static void test_plc_continues_periodic(void **state)
{
	(void)state;
	struct g711_plc p;
	const double periods[] = { 80.0, 57.0, 72.7, 113.0 };
	for (unsigned k = 0; k < sizeof(periods) / sizeof(periods[0]); k++) {
		g711_plc_init(&p);
		long t = 0;
		feed_good(&p, periods[k], &t, 5);
		int16_t out[80];
		g711_plc_conceal(&p, out, 80); /* first 10 ms: full level */
		if (fabs((double)p.pitch - periods[k]) > 1.0)
			fail_msg("period %.1f: pitch %u", periods[k], p.pitch);
		/* compare with what the signal really did */
		int16_t truth[80];
		for (unsigned i = 0; i < 80; i++)
			truth[i] = voiced(periods[k], t + i);
		double err = 0;
		for (unsigned i = 0; i < 80; i++)
			err += ((double)out[i] - truth[i]) * ((double)out[i] - truth[i]);
		double snr = 10 * log10(energy(truth, 80) / (err + 1));
		/* an integer period repeats almost exactly; a fractional one
		 * drifts by up to half a sample per period */
		double want = periods[k] == floor(periods[k]) ? 40.0 : 15.0;
		if (snr < want)
			fail_msg("period %.1f: SNR %.1f dB below %.1f", periods[k], snr, want);
	}
}

static void test_plc_fades_out(void **state)
{
	(void)state;
	struct g711_plc p;
	g711_plc_init(&p);
	long t = 0;
	/* one period per 10 ms block, so every block holds the same energy
	 * before the fade */
	feed_good(&p, 80.0, &t, 5);
	int16_t out[8][80];
	for (unsigned b = 0; b < 8; b++)
		g711_plc_conceal(&p, out[b], 80);
	double e[8];
	for (unsigned b = 0; b < 8; b++)
		e[b] = energy(out[b], 80);
	assert_true(e[0] > 1e8); /* not silent at first */
	/* 10..60 ms: falling by 20% of the level every 10 ms */
	for (unsigned b = 1; b < 6; b++)
		if (!(e[b] < e[b - 1]))
			fail_msg("block %u not quieter: %g >= %g", b, e[b], e[b - 1]);
	/* block 1 runs at gain 1 .. 0.8: clearly under block 0 but far from silent */
	assert_true(e[1] > 0.4 * e[0]);
	/* from 60 ms on: silence */
	for (unsigned b = 6; b < 8; b++)
		for (unsigned i = 0; i < 80; i++)
			assert_int_equal(out[b][i], 0);
	/* odd frame sizes keep the same clock */
	g711_plc_init(&p);
	t = 0;
	feed_good(&p, 64.0, &t, 5);
	int16_t one;
	for (unsigned i = 0; i < 480; i++)
		g711_plc_conceal(&p, &one, 1);
	assert_int_equal(p.erased, 480);
	g711_plc_conceal(&p, &one, 1);
	assert_int_equal(one, 0);
}

static void test_plc_recovery_crossfade(void **state)
{
	(void)state;
	struct g711_plc p;
	g711_plc_init(&p);
	long t = 0;
	feed_good(&p, 80.0, &t, 5);
	int16_t lost[160];
	g711_plc_conceal(&p, lost, 160);
	t += 160;
	/* the real signal comes back with an opposite-sign version so the
	 * cross-fade is visible */
	int16_t f[160], raw[160];
	for (unsigned i = 0; i < 160; i++)
		raw[i] = f[i] = (int16_t)-voiced(80.0, t + i);
	g711_plc_good(&p, f, 160);
	assert_int_equal(p.erased, 0);
	/* the start is blended: not the raw signal, and no jump from the last
	 * concealed sample larger than the signal's own slope allows */
	assert_true(memcmp(f, raw, 20 * sizeof(int16_t)) != 0);
	assert_true(abs(f[0] - lost[159]) < 4000);
	/* after the cross-fade (quarter period + 4 ms = 52 samples) it is the
	 * real signal again */
	assert_memory_equal(f + 80, raw + 80, 80 * sizeof(int16_t));

	/* no loss: good frames pass through untouched */
	for (unsigned i = 0; i < 160; i++)
		raw[i] = f[i] = voiced(80.0, i);
	g711_plc_good(&p, f, 160);
	assert_memory_equal(f, raw, sizeof(f));
}

static void test_plc_silence(void **state)
{
	(void)state;
	struct g711_plc p;
	g711_plc_init(&p);
	int16_t z[160] = { 0 }, out[160];
	g711_plc_good(&p, z, 160);
	g711_plc_conceal(&p, out, 160);
	for (unsigned i = 0; i < 160; i++)
		assert_int_equal(out[i], 0);
	/* concealment with no history at all */
	g711_plc_init(&p);
	g711_plc_conceal(&p, out, 160);
	assert_true(p.pitch >= G711_PLC_PITCH_MIN && p.pitch <= G711_PLC_PITCH_MAX);
	for (unsigned i = 0; i < 160; i++)
		assert_int_equal(out[i], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_known_values),
		UNIT_TEST(test_decode_tables),
		UNIT_TEST(test_round_trip_all),
		UNIT_TEST(test_transcode_tables),
		UNIT_TEST(test_plc_continues_periodic),
		UNIT_TEST(test_plc_fades_out),
		UNIT_TEST(test_plc_recovery_crossfade),
		UNIT_TEST(test_plc_silence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
