/*
 * t_jitter.c: the jitter buffer driven by simulated arrivals and 20 ms
 * ticks: in-order playout after the initial delay, reordering, loss
 * reported for concealment, late and duplicate packets dropped, sequence and
 * timestamp wrap, 8 kHz and 48 kHz clocks, 40 ms packets, a sender's
 * silence told from loss, growth of the delay under jitter and its slow
 * shrink afterwards, the capacity bound and restarts of the stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jitter.h"
#include "unit.h"

struct pkt {
	uint16_t seq;
	uint32_t ts;
	uint32_t dur;
	uint64_t at; /* arrival, ms */
};

struct res {
	enum jb_status status;
	uint16_t seq;
	uint8_t first_byte;
};

/* Packets must be in arrival order. Tick k happens at t0 + k * 20 ms + 10:
 * everything that arrived by then is put, then one jb_get. */
static void run(struct jb *jb, const struct pkt *p, unsigned np, uint64_t t0, unsigned ticks,
		struct res *out, int *rc)
{
	unsigned i = 0;
	for (unsigned k = 0; k < ticks; k++) {
		uint64_t now = t0 + (uint64_t)k * 20 + 10;
		while (i < np && p[i].at <= now) {
			uint8_t b[3] = { (uint8_t)p[i].seq, (uint8_t)(p[i].seq >> 8), 0x5a };
			int r = jb_put(jb, p[i].seq, p[i].ts, p[i].dur, b, sizeof(b), p[i].at);
			if (rc)
				rc[i] = r;
			i++;
		}
		struct jb_frame f;
		jb_get(jb, &f);
		out[k].status = f.status;
		out[k].seq = f.seq;
		out[k].first_byte = 0;
		if (f.status == JB_FRAME) {
			assert_int_equal(f.len, 3);
			assert_int_equal(f.payload[0] | f.payload[1] << 8, f.seq);
			assert_int_equal(f.payload[2], 0x5a);
			out[k].first_byte = f.payload[0];
		}
	}
}

static struct jb *mk(uint32_t rate, uint32_t cap)
{
	struct jb *jb = NULL;
	struct jb_cfg c = { .clock_rate = rate, .capacity = cap };
	assert_int_equal(jb_new(&jb, &c), 0);
	return jb;
}

/* n packets of 20 ms from seq0/ts0, packet i arriving at t0 + 20 i + d[i]. */
static void stream(struct pkt *p, unsigned n, uint16_t seq0, uint32_t ts0, uint32_t frame,
		   uint64_t t0, const unsigned *delay)
{
	for (unsigned i = 0; i < n; i++) {
		p[i].seq = (uint16_t)(seq0 + i);
		p[i].ts = ts0 + i * frame;
		p[i].dur = frame;
		p[i].at = t0 + 20ull * i + (delay ? delay[i] : 0);
	}
}

static int by_arrival(const void *a, const void *b)
{
	const struct pkt *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* Ticks from the first FRAME on must play first_seq, first_seq+1, ... with
 * LOST exactly where lost[] says (by offset); returns the index of the
 * first FRAME. */
static unsigned expect_sequence(const struct res *r, unsigned ticks, uint16_t first_seq,
				unsigned nplay, const bool *lost)
{
	unsigned k = 0;
	while (k < ticks && r[k].status == JB_SILENCE)
		k++;
	unsigned first = k;
	for (unsigned j = 0; j < nplay; j++, k++) {
		assert_true(k < ticks);
		if (lost && lost[j]) {
			if (r[k].status != JB_LOST)
				fail_msg("tick %u: status %d, expected LOST for seq %u", k, r[k].status,
					 (uint16_t)(first_seq + j));
			continue;
		}
		if (r[k].status != JB_FRAME || r[k].seq != (uint16_t)(first_seq + j))
			fail_msg("tick %u: status %d seq %u, expected FRAME seq %u", k, r[k].status,
				 r[k].seq, (uint16_t)(first_seq + j));
	}
	return first;
}

/* LOST results from the first FRAME to the last: ticks after the stream
 * stops conceal too, and are not what a test is about. */
static unsigned count_lost_between_frames(const struct res *r, unsigned ticks)
{
	unsigned first = ticks, last = 0, n = 0;
	for (unsigned k = 0; k < ticks; k++) {
		if (r[k].status == JB_FRAME) {
			if (first == ticks)
				first = k;
			last = k;
		}
	}
	for (unsigned k = first; k < last; k++)
		n += r[k].status == JB_LOST;
	return n;
}

static void test_in_order(void **state)
{
	(void)state;
	struct jb *jb = mk(8000, 0);
	struct pkt p[100];
	struct res r[110];
	stream(p, 100, 1000, 5000, 160, 0, NULL);
	run(jb, p, 100, 0, 110, r, NULL);
	/* target 20 ms: the first packet waits one whole tick, then plays */
	unsigned first = expect_sequence(r, 110, 1000, 100, NULL);
	assert_int_equal(first, 1);
	struct jb_stats st;
	jb_get_stats(jb, &st);
	assert_int_equal(st.played, 100);
	/* (the ticks after the last packet conceal: the stream just stopped) */
	assert_int_equal(st.lost + st.late + st.duplicate + st.overflow, 0);
	assert_int_equal(st.target_ms, 20);
	jb_free(jb);
}

static void test_reorder(void **state)
{
	(void)state;
	struct jb *jb = mk(8000, 0);
	struct pkt p[100];
	struct res r[120];
	/* odd packets overtake even ones by 5 ms, every third is 15 ms late */
	unsigned d[100];
	for (unsigned i = 0; i < 100; i++)
		d[i] = i % 2 == 0 ? 6 : (i % 3 == 0 ? 15 : 0);
	stream(p, 100, 1, 160, 160, 1000, d);
	for (unsigned i = 0; i + 1 < 100; i += 2)
		p[i + 1].at = p[i].at - 1; /* swap arrival of each pair */
	qsort(p, 100, sizeof(p[0]), by_arrival);
	run(jb, p, 100, 1000, 120, r, NULL);
	expect_sequence(r, 120, 1, 100, NULL);
	struct jb_stats st;
	jb_get_stats(jb, &st);
	assert_int_equal(st.played, 100);
	assert_int_equal(st.lost + st.late, 0);
	jb_free(jb);
}

static void test_loss_and_late(void **state)
{
	(void)state;
	struct jb *jb = mk(8000, 0);
	struct pkt p[60];
	struct res r[80];
	int rc[60];
	stream(p, 60, 500, 0, 160, 0, NULL);
	/* seq 510 never arrives; seq 530 arrives 300 ms late */
	p[10].at = 100000;
	p[30].at += 300;
	qsort(p, 60, sizeof(p[0]), by_arrival);
	run(jb, p, 59, 0, 80, r, rc);
	bool lost[60] = { false };
	lost[10] = lost[30] = true;
	expect_sequence(r, 80, 500, 60, lost);
	/* the late one was refused when it came */
	for (unsigned i = 0; i < 59; i++)
		if (p[i].seq == 530)
			assert_int_equal(rc[i], ETIME);
	struct jb_stats st;
	jb_get_stats(jb, &st);
	assert_int_equal(st.played, 58);
	assert_int_equal(st.lost, 2);
	assert_int_equal(count_lost_between_frames(r, 80), 2);
	assert_int_equal(st.late, 1);
	/* the lost one is late too when it finally shows up */
	uint8_t b[3] = { 0 };
	assert_int_equal(jb_put(jb, 510, 1600, 160, b, 3, 2000), ETIME);
	jb_free(jb);
}

static void test_duplicates(void **state)
{
	(void)state;
	struct jb *jb = mk(8000, 0);
	struct pkt p[80];
	struct res r[60];
	int rc[80];
	/* every packet twice, the copy 3 ms later */
	for (unsigned i = 0; i < 40; i++) {
		stream(&p[2 * i], 1, (uint16_t)(7 + i), 160 * i, 160, 20ull * i, NULL);
		p[2 * i + 1] = p[2 * i];
		p[2 * i + 1].at += 3;
	}
	run(jb, p, 80, 0, 60, r, rc);
	expect_sequence(r, 60, 7, 40, NULL);
	for (unsigned i = 0; i < 80; i++)
		assert_int_equal(rc[i], i % 2 ? EALREADY : 0);
	struct jb_stats st;
	jb_get_stats(jb, &st);
	assert_int_equal(st.duplicate, 40);
	/* copies of packets already played are duplicates, not late */
	uint8_t b[3] = { 0 };
	assert_int_equal(jb_put(jb, 7 + 39, 160 * 39, 160, b, 3, 2000), EALREADY);
	assert_int_equal(jb_put(jb, 7 + 20, 160 * 20, 160, b, 3, 2000), EALREADY);
	jb_get_stats(jb, &st);
	assert_int_equal(st.duplicate, 42);
	assert_int_equal(st.late, 0);
	jb_free(jb);
}

static void test_wrap(void **state)
{
	(void)state;
	const uint32_t rates[] = { 8000, 48000 };
	for (unsigned k = 0; k < 2; k++) {
		uint32_t frame = rates[k] / 50;
		struct jb *jb = mk(rates[k], 0);
		struct pkt p[100];
		struct res r[110];
		/* both counters wrap in the middle, with a pair swapped there */
		stream(p, 100, 65500, 0xffffffffu - 40 * frame, frame, 77, NULL);
		p[36].at = p[35].at - 1;
		qsort(p, 100, sizeof(p[0]), by_arrival);
		run(jb, p, 100, 77, 110, r, NULL);
		expect_sequence(r, 110, 65500, 100, NULL);
		struct jb_stats st;
		jb_get_stats(jb, &st);
		assert_int_equal(st.played, 100);
		assert_int_equal(st.resyncs + st.lost + st.late, 0);
		jb_free(jb);
	}
}

static void test_48k_40ms_packets(void **state)
{
	(void)state;
	struct jb *jb = mk(48000, 0);
	struct pkt p[30];
	struct res r[80];
	for (unsigned i = 0; i < 30; i++) {
		p[i].seq = (uint16_t)(9 + i);
		p[i].ts = 1920u * i;
		p[i].dur = 1920; /* 40 ms at 48 kHz */
		p[i].at = 40ull * i;
	}
	run(jb, p, 30, 0, 80, r, NULL);
	unsigned k = 0;
	while (r[k].status == JB_SILENCE)
		k++;
	for (unsigned i = 0; i < 30; i++) {
		assert_int_equal(r[k + 2 * i].status, JB_FRAME);
		assert_int_equal(r[k + 2 * i].seq, 9 + i);
		assert_int_equal(r[k + 2 * i + 1].status, JB_NONE);
	}
	struct jb_stats st;
	jb_get_stats(jb, &st);
	assert_int_equal(st.lost, 0);
	assert_int_equal(count_lost_between_frames(r, 80), 0);
	jb_free(jb);
}

static void test_sender_silence(void **state)
{
	(void)state;
	struct jb *jb = mk(8000, 0);
	struct pkt p[40];
	struct res r[120];
	/* 20 packets, then 1 s of silence (timestamps jump by 8000, sequence
	 * numbers go on), then 20 more */
	stream(p, 40, 100, 0, 160, 0, NULL);
	for (unsigned i = 20; i < 40; i++) {
		p[i].ts += 8000 - 160;
		p[i].at += 1000 - 20;
	}
	run(jb, p, 40, 0, 120, r, NULL);
	unsigned frames = 0, lostn = count_lost_between_frames(r, 120);
	for (unsigned k = 0; k < 120; k++)
		frames += r[k].status == JB_FRAME;
	assert_int_equal(frames, 40);
	/* the gap is silence: at most the ticks of holding for a late packet
	 * (max delay plus a tick) before the buffer gives up and starts over */
	assert_true(lostn <= 11);
	struct jb_stats st;
	jb_get_stats(jb, &st);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.late, 0);
	jb_free(jb);

	/* a short pause (100 ms, shorter than the max delay): the ticks held
	 * for a possibly late packet must not stay on as extra delay; the
	 * next talkspurt starts with the target delay again */
	jb = mk(8000, 0);
	stream(p, 40, 100, 0, 160, 0, NULL);
	for (unsigned i = 20; i < 40; i++) {
		p[i].ts += 800;
		p[i].at += 100;
	}
	run(jb, p, 40, 0, 120, r, NULL);
	unsigned first_tick = 0, resumed = 0;
	for (unsigned k = 0; k < 120; k++) {
		if (r[k].status == JB_FRAME && r[k].seq == 100)
			first_tick = k;
		if (r[k].status == JB_FRAME && r[k].seq == 120)
			resumed = k;
	}
	/* seq 100 arrives at 0 ms and plays at tick 1 (30 ms); seq 120
	 * arrives at 500 ms and must play as soon: tick 25 or 26 */
	assert_int_equal(first_tick, 1);
	assert_in_range(resumed, 25, 26);
	jb_free(jb);

	/* the same with the buffer still holding packets through the gap (a
	 * large delay): no LOST at all, only SILENCE between the frames */
	struct jb_cfg c = { .clock_rate = 8000, .min_delay_ms = 200, .max_delay_ms = 400 };
	assert_int_equal(jb_new(&jb, &c), 0);
	stream(p, 40, 100, 0, 160, 0, NULL);
	for (unsigned i = 20; i < 40; i++)
		p[i].ts += 1600; /* 200 ms gap in the timeline, packets arrive in a burst */
	run(jb, p, 40, 0, 120, r, NULL);
	frames = 0;
	lostn = count_lost_between_frames(r, 120);
	for (unsigned k = 0; k < 120; k++)
		frames += r[k].status == JB_FRAME;
	assert_int_equal(frames, 40);
	assert_int_equal(lostn, 0);
	jb_free(jb);
}

/* A deterministic generator for jitter. */
static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/* Ticks k0..k1-1 of a run, resumable: *i is the next packet to put. */
static void run_part(struct jb *jb, const struct pkt *p, unsigned np, unsigned *i, unsigned k0,
		     unsigned k1, int *rc, struct jb_stats *st, uint32_t *max_target)
{
	for (unsigned k = k0; k < k1; k++) {
		uint64_t now = (uint64_t)k * 20 + 10;
		while (*i < np && p[*i].at <= now) {
			uint8_t b[3] = { (uint8_t)p[*i].seq, (uint8_t)(p[*i].seq >> 8), 0x5a };
			rc[*i] = jb_put(jb, p[*i].seq, p[*i].ts, p[*i].dur, b, 3, p[*i].at);
			(*i)++;
		}
		struct jb_frame f;
		jb_get(jb, &f);
		uint32_t prev = st->target_ms;
		jb_get_stats(jb, st);
		/* the target comes down by at most one tick at a time */
		if (k > k0 && st->target_ms < prev)
			assert_int_equal(st->target_ms + 20, prev);
		if (st->target_ms > *max_target)
			*max_target = st->target_ms;
	}
}

static void test_grow_and_shrink(void **state)
{
	(void)state;
	enum { N = 2500 };
	struct pkt *p = calloc(N, sizeof(*p));
	int *rc = calloc(N, sizeof(*rc));
	unsigned *d = calloc(N, sizeof(*d));
	assert_non_null(p);
	assert_non_null(rc);
	assert_non_null(d);
	struct jb *jb = mk(8000, 0);
	/* 10 s with up to 60 ms of jitter, then 40 s of a clean network */
	uint32_t seed = 42;
	for (unsigned i = 0; i < 500; i++)
		d[i] = lcg(&seed) % 61;
	stream(p, N, 0, 0, 160, 0, d);
	qsort(p, N, sizeof(p[0]), by_arrival);
	unsigned i = 0;
	struct jb_stats st = { 0 };
	uint32_t max_target = 0;

	/* 2 s in: the target has grown to cover the jitter */
	run_part(jb, p, N, &i, 0, 100, rc, &st, &max_target);
	assert_in_range(st.target_ms, 60, 100);
	/* to the end of the jitter: the real delay follows, few packets late */
	run_part(jb, p, N, &i, 100, 500, rc, &st, &max_target);
	unsigned late = 0;
	for (unsigned k = 0; k < 500; k++)
		late += rc[k] == ETIME;
	assert_true(late <= 10); /* 2% */
	assert_true(st.level_ms >= 40);
	uint32_t target_jitter = st.target_ms;
	assert_true(target_jitter >= 60);

	/* 2 s after the network calmed down the window still remembers */
	run_part(jb, p, N, &i, 500, 600, rc, &st, &max_target);
	assert_true(st.target_ms >= target_jitter - 20);
	/* 40 s later (the stream still running): back to the minimum, by
	 * dropping frames rather than waiting */
	run_part(jb, p, N, &i, 600, 2450, rc, &st, &max_target);
	assert_int_equal(st.target_ms, 20);
	assert_true(st.level_ms <= 40);
	assert_true(st.dropped >= 1);
	assert_true(max_target <= 200);
	/* every packet is accounted for: played, dropped, lost or still held */
	assert_true(st.played + st.dropped + st.lost <= i);
	assert_true(st.played + st.dropped + st.lost + 3 >= i);
	jb_free(jb);
	free(d);
	free(p);
	free(rc);
}

static void test_overflow_bound(void **state)
{
	(void)state;
	struct jb *jb = mk(8000, 16);
	uint8_t b[3] = { 0 };
	unsigned held = 0, refused = 0;
	for (unsigned i = 0; i < 100; i++) {
		int rc = jb_put(jb, (uint16_t)(200 + i), 160 * i, 160, b, 3, 0);
		if (rc == 0)
			held++;
		else if (rc == ENOBUFS)
			refused++;
		else
			fail_msg("put %u: %d", i, rc);
	}
	assert_int_equal(held, 16);
	assert_int_equal(refused, 84);
	struct jb_stats st;
	jb_get_stats(jb, &st);
	assert_int_equal(st.overflow, 84);
	/* the held ones play in order */
	unsigned frames = 0;
	for (unsigned k = 0; k < 40; k++) {
		struct jb_frame f;
		jb_get(jb, &f);
		if (f.status == JB_FRAME)
			assert_int_equal(f.seq, 200 + frames++);
	}
	assert_int_equal(frames, 16);
	/* payload bound */
	uint8_t big[1501] = { 0 };
	assert_int_equal(jb_put(jb, 300, 0, 160, big, sizeof(big), 0), EMSGSIZE);
	assert_int_equal(jb_put(jb, 300, 0, 160, NULL, 3, 0), EINVAL);
	jb_free(jb);

	/* bad configurations */
	struct jb_cfg c = { .clock_rate = 0 };
	assert_int_equal(jb_new(&jb, &c), EINVAL);
	c.clock_rate = 8000;
	c.capacity = 2048;
	assert_int_equal(jb_new(&jb, &c), EINVAL);
	c.capacity = 0;
	c.min_delay_ms = 300;
	c.max_delay_ms = 200;
	assert_int_equal(jb_new(&jb, &c), EINVAL);
	c.min_delay_ms = 0;
	c.max_delay_ms = 0;
	c.clock_rate = 11025;
	c.tick_ms = 20; /* 220.5 units a tick */
	assert_int_equal(jb_new(&jb, &c), EINVAL);
}

static void test_timestamp_jump_full_buffer(void **state)
{
	(void)state;
	struct jb *jb = mk(8000, 16);
	struct pkt p[100];
	struct res r[150];
	/* the sender jumps its timestamps 5 s ahead without pausing: waiting
	 * 5 s for the timeline would overflow the buffer, so once it is full
	 * playout moves to the oldest packet */
	stream(p, 100, 0, 0, 160, 0, NULL);
	for (unsigned i = 20; i < 100; i++)
		p[i].ts += 40000;
	run(jb, p, 100, 0, 150, r, NULL);
	unsigned k = 0, frames = 0;
	while (k < 150 && frames < 20)
		frames += r[k++].status == JB_FRAME;
	unsigned gap = 0;
	while (k < 150 && r[k].status != JB_FRAME) {
		gap++;
		k++;
	}
	assert_true(gap <= 20);
	frames = 0;
	for (k = 0; k < 150; k++)
		frames += r[k].status == JB_FRAME;
	assert_true(frames >= 90);
	struct jb_stats st;
	jb_get_stats(jb, &st);
	assert_int_equal(st.resyncs, 0);
	jb_free(jb);
}

static void test_resync(void **state)
{
	(void)state;
	struct jb *jb = mk(8000, 0);
	struct pkt p[60];
	struct res r[80];
	stream(p, 30, 10, 0, 160, 0, NULL);
	/* the sender restarts: new sequence numbers and timestamps */
	stream(p + 30, 30, 40000, 0x80000000u, 160, 600, NULL);
	run(jb, p, 60, 0, 80, r, NULL);
	struct jb_stats st;
	jb_get_stats(jb, &st);
	assert_int_equal(st.resyncs, 1);
	unsigned frames = 0;
	for (unsigned k = 0; k < 80; k++)
		frames += r[k].status == JB_FRAME;
	/* at most the packets held at the restart are lost */
	assert_true(frames >= 58);
	jb_reset(jb);
	struct jb_frame f;
	jb_get(jb, &f);
	assert_int_equal(f.status, JB_SILENCE);
	jb_free(jb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_in_order),
		UNIT_TEST(test_reorder),
		UNIT_TEST(test_loss_and_late),
		UNIT_TEST(test_duplicates),
		UNIT_TEST(test_wrap),
		UNIT_TEST(test_48k_40ms_packets),
		UNIT_TEST(test_sender_silence),
		UNIT_TEST(test_grow_and_shrink),
		UNIT_TEST(test_overflow_bound),
		UNIT_TEST(test_timestamp_jump_full_buffer),
		UNIT_TEST(test_resync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
