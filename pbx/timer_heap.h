/*
 * timer_heap.h: one-shot timers in a binary min-heap, for the SIP core thread.
 *
 * A struct timer lives inside its owner (a transaction, a dialog, a
 * registration) and is armed into a struct timer_heap with a due time in
 * milliseconds. The clock is supplied by the caller on every call
 * (timer_heap_run(h, now)), so tests drive time with a fake clock and the
 * daemon feeds CLOCK_MONOTONIC. The heap holds pointers to the timers and each
 * timer knows its own position, so stop and re-arm are O(log n).
 *
 * Threads: a heap and its timers belong to one thread (the core thread);
 * nothing here locks.
 */
#ifndef PBX_TIMER_HEAP_H
#define PBX_TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer;
typedef void (*timer_h)(struct timer *t, void *arg);

/* Embedded in its owner. Fields are read-only outside timer_heap.c, except
 * that owners may read due_ms (it keeps the time the timer was due at after it
 * fired, which lets a callback re-arm relative to its schedule). */
struct timer {
	uint64_t due_ms; /* when it is (or was last) due */
	uint64_t seq;    /* arming order: ties fire in the order they were armed */
	size_t idx;      /* 1 + position in the heap array; 0 when not armed */
	timer_h fn;      /* called once when due; the timer is disarmed before */
	void *arg;       /* passed to fn */
};

/* May be embedded too; treat the fields as private. */
struct timer_heap {
	struct timer **v; /* heap array, v[0] earliest */
	size_t n;         /* armed timers */
	size_t cap;       /* slots in v */
	uint64_t seq;     /* next arming sequence number */
	uint64_t run_now; /* the now of the run in progress */
	uint64_t run_limit; /* timers with seq >= this were armed during the run */
	bool running;     /* inside timer_heap_run */
};

/* Set up an empty heap (allocates nothing until the first timer). Returns 0. */
int timer_heap_init(struct timer_heap *h);
/* Release the array. Timers still armed are disarmed (timer_armed() is false
 * afterwards and their callbacks never run), so owners freed later may still
 * call timer_stop on them safely. */
void timer_heap_free(struct timer_heap *h);

/* Prepare a timer; it starts disarmed. */
void timer_init(struct timer *t, timer_h fn, void *arg);

/*
 * Arm t to fire at due_ms, or move it there when it is armed already.
 * Returns 0, or ENOMEM when the heap array could not grow (t is then not
 * armed). Re-arming a timer that is armed never allocates and never fails.
 * Inside timer_heap_run, a timer armed for a time at or before that run's now
 * fires on the next run, not in this one (so a callback cannot loop forever).
 */
int timer_start(struct timer_heap *h, struct timer *t, uint64_t due_ms);
/* Disarm t; nothing happens when it is not armed. */
void timer_stop(struct timer_heap *h, struct timer *t);
bool timer_armed(const struct timer *t);

/* Earliest due time, UINT64_MAX when no timer is armed. */
uint64_t timer_heap_next(const struct timer_heap *h);
/* Armed timers. */
size_t timer_heap_count(const struct timer_heap *h);

/*
 * Fire every timer due at or before now_ms that was armed before this call,
 * earliest first (ties in arming order). Each timer is disarmed before its
 * callback runs; the callback may start or stop any timer (itself included)
 * and may free the timer's owner. Returns how many callbacks ran. A nested
 * call from inside a callback does nothing and returns 0.
 */
unsigned timer_heap_run(struct timer_heap *h, uint64_t now_ms);

#endif
