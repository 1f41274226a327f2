/*
 * timer_heap.c: binary min-heap of timer pointers ordered by (due, seq).
 *
 * Each timer stores 1 + its index in the array, so it can be found and
 * removed in O(log n) without a search; idx 0 means "not armed".
 *
 * Bounding a run: timer_heap_run takes the current sequence number as a
 * limit and fires only timers armed before the run started. A timer armed
 * during the run for a time at or before the run's now is stored as due at
 * exactly that now, with a sequence number past the limit; ordered by
 * (due, seq), every such timer sorts after every timer that was due before
 * the run began, so the loop stops at the first of them and they fire on
 * the next run.
 */
#include "timer_heap.h"

#include <errno.h>
#include <stdlib.h>

/* strictly earlier in firing order */
static bool timer_before(const struct timer *a, const struct timer *b)
{
	if (a->due_ms != b->due_ms)
		return a->due_ms < b->due_ms;
	return a->seq < b->seq;
}

static void heap_set(struct timer_heap *h, size_t i, struct timer *t)
{
	h->v[i] = t;
	t->idx = i + 1;
}

static void heap_up(struct timer_heap *h, size_t i)
{
	struct timer *t = h->v[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_before(t, h->v[parent]))
			break;
		heap_set(h, i, h->v[parent]);
		i = parent;
	}
	heap_set(h, i, t);
}

static void heap_down(struct timer_heap *h, size_t i)
{
	struct timer *t = h->v[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && timer_before(h->v[c + 1], h->v[c]))
			c++;
		if (!timer_before(h->v[c], t))
			break;
		heap_set(h, i, h->v[c]);
		i = c;
	}
	heap_set(h, i, t);
}

/* Restore the heap around position i after its key changed either way. */
static void heap_fix(struct timer_heap *h, size_t i)
{
	if (i > 0 && timer_before(h->v[i], h->v[(i - 1) / 2]))
		heap_up(h, i);
	else
		heap_down(h, i);
}

int timer_heap_init(struct timer_heap *h)
{
	*h = (struct timer_heap){ 0 };
	return 0;
}

void timer_heap_free(struct timer_heap *h)
{
	for (size_t i = 0; i < h->n; i++)
		h->v[i]->idx = 0;
	free(h->v);
	*h = (struct timer_heap){ 0 };
}

void timer_init(struct timer *t, timer_h fn, void *arg)
{
	*t = (struct timer){ .fn = fn, .arg = arg };
}

bool timer_armed(const struct timer *t)
{
	return t->idx != 0;
}

static int heap_grow(struct timer_heap *h)
{
	size_t ncap = h->cap ? h->cap * 2 : 64;
	if (ncap > SIZE_MAX / sizeof *h->v)
		return ENOMEM;
	struct timer **nv = realloc(h->v, ncap * sizeof *nv);
	if (!nv)
		return ENOMEM;
	h->v = nv;
	h->cap = ncap;
	return 0;
}

int timer_start(struct timer_heap *h, struct timer *t, uint64_t due_ms)
{
	if (h->running && due_ms < h->run_now)
		due_ms = h->run_now; /* see the comment at the top */
	t->due_ms = due_ms;
	t->seq = h->seq++;
	if (t->idx) {
		heap_fix(h, t->idx - 1);
		return 0;
	}
	if (h->n == h->cap) {
		int err = heap_grow(h);
		if (err)
			return err;
	}
	heap_set(h, h->n, t);
	h->n++;
	heap_up(h, h->n - 1);
	return 0;
}

void timer_stop(struct timer_heap *h, struct timer *t)
{
	if (!t->idx)
		return;
	size_t i = t->idx - 1;
	t->idx = 0;
	h->n--;
	if (i == h->n)
		return;
	heap_set(h, i, h->v[h->n]);
	heap_fix(h, i);
}

uint64_t timer_heap_next(const struct timer_heap *h)
{
	return h->n ? h->v[0]->due_ms : UINT64_MAX;
}

size_t timer_heap_count(const struct timer_heap *h)
{
	return h->n;
}

unsigned timer_heap_run(struct timer_heap *h, uint64_t now_ms)
{
	if (h->running)
		return 0;
	h->running = true;
	h->run_now = now_ms;
	h->run_limit = h->seq;
	unsigned fired = 0;
	while (h->n) {
		struct timer *t = h->v[0];
		if (t->due_ms > now_ms || t->seq >= h->run_limit)
			break;
		timer_stop(h, t);
		fired++;
		/* t may be freed by its callback: do not touch it afterwards */
		t->fn(t, t->arg);
	}
	h->running = false;
	return fired;
}
