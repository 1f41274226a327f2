/*
 * loop.h: the core thread's epoll loop.
 *
 * A watch is an fd plus a callback, embedded in its owner (a socket, a TCP
 * connection, the timerfd). epoll hands back the watch pointer, so dispatch
 * needs no lookup. The loop is owned by one thread; nothing here locks.
 */
#ifndef PBX_LOOP_H
#define PBX_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop_watch;
typedef void (*loop_watch_h)(struct loop_watch *w, uint32_t events);

struct loop_watch {
	int fd;
	loop_watch_h fn;
};

struct loop {
	int epfd;
	bool stop; /* set by a handler to leave loop_run */
};

int loop_init(struct loop *l);
void loop_close(struct loop *l);
/* events: EPOLLIN / EPOLLOUT ... */
int loop_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events, loop_watch_h fn);
int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events);
void loop_del(struct loop *l, struct loop_watch *w);
/* Wait up to timeout_ms (-1 forever) and dispatch what is ready. Returns
 * the number of events handled, or -1 on a fatal epoll error. */
int loop_once(struct loop *l, int timeout_ms);

/* CLOCK_MONOTONIC in milliseconds, and CLOCK_REALTIME in seconds. */
uint64_t loop_now_ms(void);
int64_t loop_wall_s(void);

#endif
