/*
 * t_timer_heap.c: the timer heap against a fake clock: firing order, stop
 * and re-arm of arbitrary elements, callbacks that change the heap, bounded
 * runs, and a long random sequence checked against a simple reference.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timer_heap.h"

/* ---- helpers ---- */

struct rec {
	int order[64]; /* ids in firing order */
	int n;
};

struct tt {
	struct timer t;
	int id;
	struct rec *rec;
	struct timer_heap *h;
	/* optional actions done by the callback */
	struct tt *stop_other;
	struct tt *start_other;
	uint64_t start_other_at;
	int rearm_times; /* re-arm itself this many times, 0 ms later */
	bool free_self;
};

static void tt_fire(struct timer *t, void *arg)
{
	struct tt *x = arg;
	assert_ptr_equal(t, &x->t);
	assert_false(timer_armed(t));
	if (x->rec->n < 64)
		x->rec->order[x->rec->n++] = x->id;
	if (x->stop_other)
		timer_stop(x->h, &x->stop_other->t);
	if (x->start_other)
		assert_int_equal(timer_start(x->h, &x->start_other->t, x->start_other_at), 0);
	if (x->rearm_times > 0) {
		x->rearm_times--;
		assert_int_equal(timer_start(x->h, t, t->due_ms), 0);
	}
	if (x->free_self)
		free(x);
}

static void tt_setup(struct tt *x, int id, struct rec *rec, struct timer_heap *h)
{
	memset(x, 0, sizeof *x);
	x->id = id;
	x->rec = rec;
	x->h = h;
	timer_init(&x->t, tt_fire, x);
}

/* ---- tests ---- */

static void test_order(void **state)
{
	(void)state;
	struct timer_heap h;
	struct rec rec = { 0 };
	struct tt x[6];
	uint64_t due[6] = { 50, 10, 30, 10, 70, 20 };
	timer_heap_init(&h);
	assert_int_equal(timer_heap_next(&h), UINT64_MAX);
	for (int i = 0; i < 6; i++) {
		tt_setup(&x[i], i, &rec, &h);
		assert_false(timer_armed(&x[i].t));
		assert_int_equal(timer_start(&h, &x[i].t, due[i]), 0);
		assert_true(timer_armed(&x[i].t));
	}
	assert_int_equal(timer_heap_count(&h), 6);
	assert_int_equal(timer_heap_next(&h), 10);
	assert_int_equal(timer_heap_run(&h, 9), 0);
	/* ties fire in arming order: 1 before 3 */
	assert_int_equal(timer_heap_run(&h, 30), 4);
	int want[] = { 1, 3, 5, 2 };
	assert_int_equal(rec.n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rec.order[i], want[i]);
	assert_int_equal(timer_heap_next(&h), 50);
	assert_int_equal(timer_heap_run(&h, 1000), 2);
	assert_int_equal(rec.order[4], 0);
	assert_int_equal(rec.order[5], 4);
	assert_int_equal(timer_heap_count(&h), 0);
	assert_int_equal(timer_heap_next(&h), UINT64_MAX);
	timer_heap_free(&h);
}

static void test_stop_and_rearm(void **state)
{
	(void)state;
	struct timer_heap h;
	struct rec rec = { 0 };
	struct tt x[10];
	timer_heap_init(&h);
	for (int i = 0; i < 10; i++) {
		tt_setup(&x[i], i, &rec, &h);
		assert_int_equal(timer_start(&h, &x[i].t, 100 + (uint64_t)i * 10), 0);
	}
	/* stop the root, a leaf and a middle element; stopping twice is harmless */
	timer_stop(&h, &x[0].t);
	timer_stop(&h, &x[9].t);
	timer_stop(&h, &x[4].t);
	timer_stop(&h, &x[4].t);
	assert_false(timer_armed(&x[4].t));
	assert_int_equal(timer_heap_count(&h), 7);
	/* re-arm armed timers both ways and a stopped one */
	assert_int_equal(timer_start(&h, &x[8].t, 5), 0);   /* earlier */
	assert_int_equal(timer_start(&h, &x[1].t, 500), 0); /* later */
	assert_int_equal(timer_start(&h, &x[4].t, 135), 0); /* stopped, again */
	assert_int_equal(timer_heap_count(&h), 8);
	assert_int_equal(timer_heap_next(&h), 5);
	assert_int_equal(timer_heap_run(&h, 1000), 8);
	int want[] = { 8, 2, 3, 4, 5, 6, 7, 1 };
	assert_int_equal(rec.n, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(rec.order[i], want[i]);
	timer_heap_free(&h);
}

static void test_callbacks_change_heap(void **state)
{
	(void)state;
	struct timer_heap h;
	struct rec rec = { 0 };
	struct tt a, b, c, d;
	timer_heap_init(&h);
	tt_setup(&a, 1, &rec, &h);
	tt_setup(&b, 2, &rec, &h);
	tt_setup(&c, 3, &rec, &h);
	tt_setup(&d, 4, &rec, &h);
	a.stop_other = &b;        /* a stops b, which is due in the same run */
	a.start_other = &d;       /* and starts d in the past: next run */
	a.start_other_at = 1;
	c.rearm_times = 3;        /* c re-arms itself for the same due time */
	timer_start(&h, &a.t, 10);
	timer_start(&h, &b.t, 20);
	timer_start(&h, &c.t, 30);
	assert_int_equal(timer_heap_run(&h, 100), 2); /* a and c once */
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.order[0], 1);
	assert_int_equal(rec.order[1], 3);
	assert_false(timer_armed(&b.t));
	assert_true(timer_armed(&d.t));
	assert_true(timer_armed(&c.t));
	/* bounded: each run fires c once more, never in a loop */
	/* both were clamped to 100; d was armed first */
	assert_int_equal(timer_heap_run(&h, 100), 2);
	assert_int_equal(rec.order[2], 4);
	assert_int_equal(rec.order[3], 3);
	assert_int_equal(timer_heap_run(&h, 100), 1);
	assert_int_equal(timer_heap_run(&h, 100), 1);
	assert_int_equal(timer_heap_run(&h, 100), 0);
	assert_int_equal(rec.n, 6);
	timer_heap_free(&h);
}

static void test_callback_frees_owner(void **state)
{
	(void)state;
	struct timer_heap h;
	struct rec rec = { 0 };
	timer_heap_init(&h);
	for (int i = 0; i < 5; i++) {
		struct tt *x = malloc(sizeof *x);
		assert_non_null(x);
		tt_setup(x, i, &rec, &h);
		x->free_self = true;
		timer_start(&h, &x->t, (uint64_t)(5 - i));
	}
	assert_int_equal(timer_heap_run(&h, 10), 5);
	assert_int_equal(rec.order[0], 4);
	assert_int_equal(rec.order[4], 0);
	timer_heap_free(&h);
}

static void test_free_disarms(void **state)
{
	(void)state;
	struct timer_heap h;
	struct rec rec = { 0 };
	struct tt a;
	timer_heap_init(&h);
	tt_setup(&a, 1, &rec, &h);
	timer_start(&h, &a.t, 10);
	timer_heap_free(&h);
	assert_false(timer_armed(&a.t));
	timer_stop(&h, &a.t); /* after free: harmless */
	assert_int_equal(rec.n, 0);
}

/* ---- random operations against a reference ---- */

#define NRAND 2000

struct rt {
	struct timer t;
	int id;
	bool ref_armed;
	uint64_t ref_due;
	uint64_t ref_seq;
	int *fired;
	int *nfired;
};

static void rt_fire(struct timer *t, void *arg)
{
	struct rt *x = arg;
	(void)t;
	x->fired[(*x->nfired)++] = x->id;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* reference: the armed timers sorted by (due, seq); qsort has no context
 * argument, so the array is passed through this test-only static */
static struct rt *ref_base;
static int ref_cmp(const void *a, const void *b)
{
	const struct rt *x = &ref_base[*(const int *)a], *y = &ref_base[*(const int *)b];
	if (x->ref_due != y->ref_due)
		return x->ref_due < y->ref_due ? -1 : 1;
	return x->ref_seq < y->ref_seq ? -1 : x->ref_seq > y->ref_seq;
}

static void test_random_vs_reference(void **state)
{
	(void)state;
	struct timer_heap h;
	struct rt *x = calloc(NRAND, sizeof *x);
	int *fired = calloc(NRAND, sizeof *fired);
	int *expect = calloc(NRAND, sizeof *expect);
	assert_non_null(x);
	assert_non_null(fired);
	assert_non_null(expect);
	int nfired = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ULL, now = 0, seq = 0;
	timer_heap_init(&h);
	for (int i = 0; i < NRAND; i++) {
		x[i].id = i;
		x[i].fired = fired;
		x[i].nfired = &nfired;
		timer_init(&x[i].t, rt_fire, &x[i]);
	}
	ref_base = x;
	for (int op = 0; op < 100000; op++) {
		uint64_t r = rng_next(&seed);
		int i = (int)(r % NRAND);
		switch ((r >> 20) % 8) {
		case 0: case 1: case 2: case 3: { /* start or re-arm */
			uint64_t due = now + (r >> 32) % 1000;
			assert_int_equal(timer_start(&h, &x[i].t, due), 0);
			x[i].ref_armed = true;
			x[i].ref_due = due;
			x[i].ref_seq = seq++;
			break;
		}
		case 4: case 5: /* stop */
			timer_stop(&h, &x[i].t);
			x[i].ref_armed = false;
			break;
		case 6: { /* peek */
			uint64_t min = UINT64_MAX;
			size_t cnt = 0;
			for (int k = 0; k < NRAND; k++)
				if (x[k].ref_armed) {
					cnt++;
					if (x[k].ref_due < min)
						min = x[k].ref_due;
				}
			assert_int_equal(timer_heap_next(&h), min);
			assert_int_equal(timer_heap_count(&h), cnt);
			break;
		}
		case 7: { /* advance the clock and run */
			now += (r >> 32) % 300;
			int ne = 0;
			for (int k = 0; k < NRAND; k++)
				if (x[k].ref_armed && x[k].ref_due <= now)
					expect[ne++] = k;
			qsort(expect, (size_t)ne, sizeof *expect, ref_cmp);
			nfired = 0;
			assert_int_equal(timer_heap_run(&h, now), (unsigned)ne);
			assert_int_equal(nfired, ne);
			for (int k = 0; k < ne; k++) {
				assert_int_equal(fired[k], expect[k]);
				x[expect[k]].ref_armed = false;
			}
			break;
		}
		}
		if (op % 997 == 0)
			for (int k = 0; k < NRAND; k++)
				assert_int_equal(timer_armed(&x[k].t), x[k].ref_armed);
	}
	timer_heap_free(&h);
	free(x);
	free(fired);
	free(expect);
}

int main(int argc, char **argv)
{
	/* unit.h counts bytes in use with mallinfo2, which also counts chunks
	 * parked in glibc's per-thread cache after free(); without the cache the
	 * count is exact. Re-run ourselves once with the cache off (not under
	 * valgrind, whose own allocator needs none of this). */
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_order),
		UNIT_TEST(test_stop_and_rearm),
		UNIT_TEST(test_callbacks_change_heap),
		UNIT_TEST(test_callback_frees_owner),
		UNIT_TEST(test_free_disarms),
		UNIT_TEST(test_random_vs_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
