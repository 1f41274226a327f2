/*
 * t_dtmf.c: RFC 4733 telephone-event payloads: byte layout, the digit
 * alphabet, the sender's packet stream (same timestamp, growing duration,
 * marker first, three E packets), and the receiver fed with the sender's
 * streams: every digit reported once, redundant and late packets ignored,
 * lost start and lost end packets, reordering, a new digit reusing the
 * timestamp, and long events split into segments.
 */
#include <errno.h>
#include <string.h>

#include "dtmf.h"
#include "unit.h"

#define MAXPKT 64

/* All packets of one digit. */
static unsigned gen(char digit, uint32_t ts, uint32_t dur, uint32_t ptime, struct dtmf_tx_pkt *p)
{
	struct dtmf_tx tx;
	assert_int_equal(dtmf_tx_start(&tx, digit, ts, dur, ptime, DTMF_DEFAULT_VOLUME), 0);
	unsigned n = 0;
	while (n < MAXPKT && dtmf_tx_next(&tx, &p[n]) == 0)
		n++;
	assert_true(n < MAXPKT);
	struct dtmf_tx_pkt extra;
	assert_int_equal(dtmf_tx_next(&tx, &extra), ENOENT);
	return n;
}

static void test_payload(void **state)
{
	(void)state;
	struct dtmf_event ev = { .event = 5, .end = true, .volume = 10, .duration = 800 };
	uint8_t b[4];
	dtmf_build(&ev, b);
	assert_memory_equal(b, "\x05\x8a\x03\x20", 4);
	struct dtmf_event back;
	assert_int_equal(dtmf_parse(b, 4, &back), 0);
	assert_int_equal(back.event, 5);
	assert_true(back.end);
	assert_int_equal(back.volume, 10);
	assert_int_equal(back.duration, 800);
	/* the R bit is ignored, the volume is 6 bits */
	const uint8_t r[] = { 11, 0x7f, 0xff, 0xff };
	assert_int_equal(dtmf_parse(r, 4, &back), 0);
	assert_false(back.end);
	assert_int_equal(back.volume, 63);
	assert_int_equal(back.duration, 65535);
	for (size_t l = 0; l < 4; l++)
		assert_int_equal(dtmf_parse(b, l, &back), EBADMSG);
	assert_int_equal(dtmf_parse(NULL, 4, &back), EINVAL);
}

static void test_alphabet(void **state)
{
	(void)state;
	const char *all = "0123456789*#ABCD";
	for (uint8_t i = 0; i < 16; i++) {
		uint8_t ev = 99;
		char c = 0;
		assert_int_equal(dtmf_event_from_char(all[i], &ev), 0);
		assert_int_equal(ev, i);
		assert_int_equal(dtmf_event_to_char(i, &c), 0);
		assert_int_equal(c, all[i]);
	}
	uint8_t ev;
	assert_int_equal(dtmf_event_from_char('a', &ev), 0);
	assert_int_equal(ev, 12);
	const char *bad = "EeF+ -#\0";
	for (const char *p = bad; *p; p++)
		if (*p != '#')
			assert_int_equal(dtmf_event_from_char(*p, &ev), EINVAL);
	assert_int_equal(dtmf_event_from_char('\0', &ev), EINVAL);
	char c;
	assert_int_equal(dtmf_event_to_char(16, &c), EINVAL);
}

static void test_sender_stream(void **state)
{
	(void)state;
	struct dtmf_tx_pkt p[MAXPKT];
	/* 100 ms at 8 kHz, 20 ms packets: 160..640 then 800 three times */
	unsigned n = gen('7', 12345, 800, 160, p);
	assert_int_equal(n, 4 + 3);
	for (unsigned i = 0; i < n; i++) {
		struct dtmf_event ev;
		assert_int_equal(dtmf_parse(p[i].payload, 4, &ev), 0);
		assert_int_equal(ev.event, 7);
		assert_int_equal(ev.volume, DTMF_DEFAULT_VOLUME);
		assert_int_equal(p[i].ts, 12345);
		assert_int_equal(p[i].marker, i == 0);
		assert_int_equal(ev.end, i >= 4);
		assert_int_equal(p[i].end, ev.end);
		assert_int_equal(ev.duration, i < 4 ? 160 * (i + 1) : 800);
	}
	/* a duration that is not a multiple of ptime; 48 kHz clock */
	n = gen('#', 0xfffffff0u, 4800 + 100, 960, p);
	assert_int_equal(n, 5 + 3);
	struct dtmf_event ev;
	assert_int_equal(dtmf_parse(p[4].payload, 4, &ev), 0);
	assert_int_equal(ev.duration, 4800);
	assert_false(ev.end);
	assert_int_equal(dtmf_parse(p[5].payload, 4, &ev), 0);
	assert_int_equal(ev.duration, 4900);
	assert_true(ev.end);
	/* shorter than one packet: only the end packets, the first marked */
	n = gen('1', 0, 100, 160, p);
	assert_int_equal(n, 3);
	assert_true(p[0].marker && p[0].end);
	assert_false(p[1].marker);
	/* bad arguments */
	struct dtmf_tx tx;
	assert_int_equal(dtmf_tx_start(&tx, 'E', 0, 800, 160, 10), EINVAL);
	assert_int_equal(dtmf_tx_start(&tx, '1', 0, 0, 160, 10), EINVAL);
	assert_int_equal(dtmf_tx_start(&tx, '1', 0, 65536, 160, 10), EINVAL);
	assert_int_equal(dtmf_tx_start(&tx, '1', 0, 800, 0, 10), EINVAL);
	assert_int_equal(dtmf_tx_start(&tx, '1', 0, 800, 160, 64), EINVAL);
}

/* Feed packets [from, to) except those in skip (a bitmask); collect digits. */
static unsigned feed(struct dtmf_rx *rx, const struct dtmf_tx_pkt *p, unsigned from, unsigned to,
		     uint64_t skip, struct dtmf_digit *got, unsigned cap)
{
	unsigned total = 0;
	for (unsigned i = from; i < to; i++) {
		if (skip & (1ull << i))
			continue;
		struct dtmf_digit d[2];
		unsigned n = 9;
		assert_int_equal(dtmf_rx_packet(rx, p[i].ts, p[i].payload, 4, d, &n), 0);
		assert_true(n <= 2);
		for (unsigned k = 0; k < n; k++) {
			assert_true(total < cap);
			got[total++] = d[k];
		}
	}
	return total;
}

static void test_round_trip_every_digit(void **state)
{
	(void)state;
	const char *all = "0123456789*#ABCD";
	struct dtmf_rx rx;
	dtmf_rx_init(&rx);
	uint32_t ts = 1000;
	for (unsigned i = 0; i < 16; i++) {
		struct dtmf_tx_pkt p[MAXPKT];
		uint32_t dur = 480 + 160 * i;
		unsigned n = gen(all[i], ts, dur, 160, p);
		struct dtmf_digit got[4];
		/* exactly one report, at the first end packet */
		unsigned before_end = n - DTMF_END_PACKETS;
		assert_int_equal(feed(&rx, p, 0, before_end, 0, got, 4), 0);
		assert_int_equal(feed(&rx, p, before_end, before_end + 1, 0, got, 4), 1);
		assert_int_equal(got[0].digit, all[i]);
		assert_int_equal(got[0].event, i);
		assert_int_equal(got[0].duration, dur);
		assert_int_equal(got[0].ts, ts);
		assert_int_equal(got[0].volume, DTMF_DEFAULT_VOLUME);
		assert_true(got[0].ended);
		/* the two redundant end packets and a late retransmission of the
		 * start say nothing */
		assert_int_equal(feed(&rx, p, before_end + 1, n, 0, got, 4), 0);
		assert_int_equal(feed(&rx, p, 0, 1, 0, got, 4), 0);
		ts += dur + 800;
	}
	struct dtmf_digit d;
	assert_int_equal(dtmf_rx_flush(&rx, &d), ENOENT);
}

static void test_lost_packets(void **state)
{
	(void)state;
	struct dtmf_rx rx;
	dtmf_rx_init(&rx);
	struct dtmf_tx_pkt p[MAXPKT], q[MAXPKT];
	struct dtmf_digit got[4];

	/* start (and the next) lost: picked up from the third packet */
	unsigned n = gen('5', 1000, 800, 160, p);
	assert_int_equal(feed(&rx, p, 0, n, 0x3, got, 4), 1);
	assert_int_equal(got[0].digit, '5');
	assert_int_equal(got[0].duration, 800);

	/* only one end packet survives */
	n = gen('6', 3000, 800, 160, p);
	assert_int_equal(feed(&rx, p, 0, n, 0x1f, got, 4), 1);
	assert_int_equal(got[0].digit, '6');

	/* every end packet lost: the digit is reported when the next digit's
	 * first packet arrives, with the duration it reached; then the next
	 * digit is reported normally */
	n = gen('8', 5000, 800, 160, p);
	assert_int_equal(feed(&rx, p, 0, n - 3, 0, got, 4), 0);
	unsigned m = gen('9', 7000, 480, 160, q);
	assert_int_equal(feed(&rx, q, 0, 1, 0, got, 4), 1);
	assert_int_equal(got[0].digit, '8');
	assert_int_equal(got[0].duration, 640);
	assert_false(got[0].ended);
	/* a late end packet of the closed digit is not reported again */
	assert_int_equal(feed(&rx, p, n - 1, n, 0, got, 4), 0);
	assert_int_equal(feed(&rx, q, 1, m, 0, got, 4), 1);
	assert_int_equal(got[0].digit, '9');
	assert_int_equal(got[0].duration, 480);

	/* end packets lost and nothing follows: flush gives the digit once */
	n = gen('0', 9000, 800, 160, p);
	assert_int_equal(feed(&rx, p, 0, 2, 0, got, 4), 0);
	struct dtmf_digit d;
	assert_int_equal(dtmf_rx_flush(&rx, &d), 0);
	assert_int_equal(d.digit, '0');
	assert_int_equal(d.duration, 320);
	assert_int_equal(dtmf_rx_flush(&rx, &d), ENOENT);
	assert_int_equal(feed(&rx, p, 2, n, 0, got, 4), 0);

	/* previous digit without its ends, the next one only an end packet
	 * that survived: two reports from one packet, in order */
	n = gen('1', 20000, 800, 160, p);
	m = gen('2', 22000, 800, 160, q);
	assert_int_equal(feed(&rx, p, 0, 2, 0, got, 4), 0);
	assert_int_equal(feed(&rx, q, m - 1, m, 0, got, 4), 2);
	assert_int_equal(got[0].digit, '1');
	assert_false(got[0].ended);
	assert_int_equal(got[1].digit, '2');
	assert_true(got[1].ended);
	assert_int_equal(got[1].duration, 800);
}

static void test_reorder_and_same_ts(void **state)
{
	(void)state;
	struct dtmf_rx rx;
	dtmf_rx_init(&rx);
	struct dtmf_tx_pkt p[MAXPKT];
	struct dtmf_digit got[4];

	/* 2nd and 3rd swapped, 4th before the 1st: the duration is the
	 * longest seen */
	unsigned n = gen('3', 100, 800, 160, p);
	const unsigned order[] = { 3, 0, 2, 1 };
	for (unsigned k = 0; k < 4; k++)
		assert_int_equal(feed(&rx, p, order[k], order[k] + 1, 0, got, 4), 0);
	assert_int_equal(feed(&rx, p, 4, n, 0, got, 4), 1);
	assert_int_equal(got[0].duration, 800);

	/* a different digit reusing the timestamp after the end is new */
	n = gen('4', 100, 480, 160, p);
	assert_int_equal(feed(&rx, p, 0, n, 0, got, 4), 1);
	assert_int_equal(got[0].digit, '4');
	assert_int_equal(got[0].duration, 480);
	/* while the first digit's repeats are still recognised */
	unsigned m = gen('3', 100, 800, 160, p);
	assert_int_equal(feed(&rx, p, m - 1, m, 0, got, 4), 0);

	/* not DTMF: event 16 (flash) is refused and changes nothing */
	const uint8_t flash[] = { 16, 0x8a, 0x03, 0x20 };
	struct dtmf_digit d[2];
	unsigned k = 9;
	assert_int_equal(dtmf_rx_packet(&rx, 5000, flash, 4, d, &k), ENOTSUP);
	assert_int_equal(k, 0);
	assert_int_equal(dtmf_rx_packet(&rx, 5000, flash, 3, d, &k), EBADMSG);
	struct dtmf_digit f;
	assert_int_equal(dtmf_rx_flush(&rx, &f), ENOENT);
}

static void test_long_event_segments(void **state)
{
	(void)state;
	struct dtmf_rx rx;
	dtmf_rx_init(&rx);
	struct dtmf_digit d[2];
	unsigned n;
	uint8_t b[4];
	/* segment 1 at ts 1000 grows to 0xFFFF without E; segment 2 at
	 * 1000 + 0xFFFF continues and ends at 1600 */
	const uint16_t durs1[] = { 160, 32000, 65535 };
	for (unsigned i = 0; i < 3; i++) {
		struct dtmf_event ev = { .event = 1, .volume = 10, .duration = durs1[i] };
		dtmf_build(&ev, b);
		assert_int_equal(dtmf_rx_packet(&rx, 1000, b, 4, d, &n), 0);
		assert_int_equal(n, 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		struct dtmf_event ev = { .event = 1, .volume = 10, .duration = i < 1 ? 800 : 1600,
					 .end = i >= 1 };
		dtmf_build(&ev, b);
		assert_int_equal(dtmf_rx_packet(&rx, 1000 + 0xffffu, b, 4, d, &n), 0);
		assert_int_equal(n, i == 1 ? 1 : 0);
		if (n) {
			assert_int_equal(d[0].digit, '1');
			assert_int_equal(d[0].ts, 1000);
			assert_int_equal(d[0].duration, 65535 + 1600);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_payload),
		UNIT_TEST(test_alphabet),
		UNIT_TEST(test_sender_stream),
		UNIT_TEST(test_round_trip_every_digit),
		UNIT_TEST(test_lost_packets),
		UNIT_TEST(test_reorder_and_same_ts),
		UNIT_TEST(test_long_event_segments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
