/*
 * api_events.c: GET /api/v1/events, the live state as Server-Sent Events.
 *
 * One thread, started with the server when there is a core, asks the core
 * for registrations, calls, counters and conference rooms in use once every API_EVENTS_POLL_MS while
 * at least one stream is open (never otherwise), and queues each snapshot
 * that changed to every stream as "event: KIND\ndata: JSON\n\n", where JSON
 * is the body GET /api/v1/KIND answers (rooms: /api/v1/rooms/live). A new stream gets the latest
 * snapshots at once; a stream with nothing to say for keepalive seconds
 * gets a comment line, which is also how a client that went away is
 * noticed. A stream ends when its session does (sign-out, expiry); it
 * does not keep the session alive.
 *
 * libmicrohttpd pulls a stream's bytes through api_stream_read on its own
 * threads. With nothing queued the reader suspends the connection, so an
 * idle stream costs no polling, and the events thread resumes it when it
 * queues something. The handshake, under ev->mu:
 *   reader: RUNNING -> SUSPENDING, then (unlocked) MHD_suspend_connection,
 *           then SUSPENDED, or straight back to RUNNING and resumed by the
 *           reader itself when the events thread queued something meanwhile
 *           (wake);
 *   events thread: SUSPENDED -> RUNNING, then (unlocked) resume.
 * Only the side that moves a stream out of SUSPENDED resumes it, so a
 * connection is resumed once per suspension. ev->mu is never held while
 * calling into libmicrohttpd, so its locks and ours are never taken in
 * opposite orders. A suspended connection cannot close, so a stream is
 * still there when the thread resumes it; a stream is freed only by
 * libmicrohttpd's free callback (api_stream_free), which unlinks it first.
 */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define EV_POLL_GAP_MS 100 /* at least this between two polls, however many streams open */
#define EV_STACK_SIZE (512 * 1024) /* building JSON and asking the core need little */

enum ev_kind { EV_REGS, EV_CALLS, EV_STATS, EV_ROOMS, EV_KINDS };
static const char *const ev_names[EV_KINDS] = { "registrations", "calls", "stats", "rooms" };

enum stream_state { ST_RUNNING, ST_SUSPENDING, ST_SUSPENDED };

struct api_stream {
	struct api_events *ev;
	struct MHD_Connection *conn;   /* valid until api_stream_free */
	char sid[API_TOKEN_HEX + 1];   /* the session it belongs to */
	char *buf;                     /* queued bytes: buf[off..len) */
	size_t off, len, cap;
	unsigned have;                 /* bit per ev_kind: a snapshot of it was queued */
	int64_t last_ms;               /* when something was last queued */
	enum stream_state state;
	bool wake;                     /* queued while SUSPENDING: the reader resumes */
	bool ended;                    /* no more events: end after the queue */
	bool failed;                   /* ended because the client did not read */
};

struct api_events {
	struct http_server *h;
	pthread_mutex_t mu;
	pthread_cond_t cv;             /* CLOCK_MONOTONIC */
	pthread_t thr;
	bool thr_ok;
	void *stack;                   /* the thread's own stack (mmap), with a guard page */
	size_t stack_len;
	bool stop;                     /* the thread is to end */
	bool stopping;                 /* the server is going: streams end, no new ones */
	bool poll_now;                 /* a new stream wants snapshots */
	int64_t keepalive_ms;
	struct api_stream *streams[API_STREAMS_MAX];
	size_t n;
	char *snap[EV_KINDS];          /* latest frame of each kind; NULL before one */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- queueing (ev->mu held) --------------------------------------------------- */

static void stream_queue(struct api_stream *s, const char *text, int64_t now)
{
	size_t n = strlen(text);
	if (s->ended)
		return;
	if (s->len - s->off + n > API_STREAM_PENDING_MAX) {
		/* The client stopped reading: end it rather than hold more. */
		s->ended = s->failed = true;
		s->off = s->len = 0;
		return;
	}
	if (s->off) {
		memmove(s->buf, s->buf + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n)
			cap *= 2;
		char *b = realloc(s->buf, cap);
		if (!b) {
			s->ended = s->failed = true;
			return;
		}
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, text, n);
	s->len += n;
	s->last_ms = now;
}

/* Has the reader something to do (bytes or the end)? Then make sure it
 * runs: returns the connection to resume, or NULL. */
static struct MHD_Connection *stream_kick(struct api_stream *s)
{
	if (s->off == s->len && !s->ended)
		return NULL;
	if (s->state == ST_SUSPENDING)
		s->wake = true;
	if (s->state != ST_SUSPENDED)
		return NULL;
	s->state = ST_RUNNING;
	return s->conn;
}

/* ---- the thread ----------------------------------------------------------------- */

static char *frame_of(enum ev_kind k, int rc, json_t *o)
{
	if (rc != 0)
		return NULL; /* not this round: the last snapshot stands */
	char *json = json_dumps(o, API_JSON_DUMP);
	json_decref(o);
	char *frame = NULL;
	if (json && asprintf(&frame, "event: %s\ndata: %s\n\n", ev_names[k], json) < 0)
		frame = NULL;
	free(json);
	return frame;
}

/* Ask the core; ev->mu is not held (each question may take a second). */
static void poll_core(struct api_events *ev, char *frame[EV_KINDS])
{
	const struct live_ops *live = ev->h->live;
	json_t *o;
	int rc = api_live_regs_json(live, API_EVENTS_ITEMS_MAX, &o);
	frame[EV_REGS] = frame_of(EV_REGS, rc, o);
	rc = api_live_calls_json(live, API_EVENTS_ITEMS_MAX, &o);
	frame[EV_CALLS] = frame_of(EV_CALLS, rc, o);
	rc = api_live_stats_json(live, &o);
	frame[EV_STATS] = frame_of(EV_STATS, rc, o);
	rc = api_live_rooms_json(live, API_EVENTS_ITEMS_MAX, &o);
	frame[EV_ROOMS] = frame_of(EV_ROOMS, rc, o);
}

/* Take the new frames and queue what each stream has not seen. Returns
 * how many connections went into wake[] to be resumed. */
static size_t publish(struct api_events *ev, char *frame[EV_KINDS], struct MHD_Connection **wake)
{
	bool changed[EV_KINDS] = { false };
	for (int k = 0; k < EV_KINDS; k++) {
		if (!frame[k])
			continue;
		if (!ev->snap[k] || strcmp(ev->snap[k], frame[k]) != 0) {
			free(ev->snap[k]);
			ev->snap[k] = frame[k];
			changed[k] = true;
		} else {
			free(frame[k]);
		}
	}
	int64_t now = mono_ms();
	int64_t now_s = api_now();
	size_t nw = 0;
	for (size_t i = 0; i < ev->n; i++) {
		struct api_stream *s = ev->streams[i];
		if (!s->ended && !api_session_alive(ev->h->sessions, s->sid, now_s))
			s->ended = true;
		for (int k = 0; k < EV_KINDS; k++) {
			if (ev->snap[k] && (changed[k] || !(s->have & 1u << k))) {
				stream_queue(s, ev->snap[k], now);
				s->have |= 1u << k;
			}
		}
		if (s->off == s->len && now - s->last_ms >= ev->keepalive_ms)
			stream_queue(s, ": keepalive\n\n", now);
		struct MHD_Connection *c = stream_kick(s);
		if (c)
			wake[nw++] = c;
	}
	return nw;
}

static void wait_until(struct api_events *ev, int64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 };
	pthread_cond_timedwait(&ev->cv, &ev->mu, &ts);
}

static void *events_main(void *arg)
{
	struct api_events *ev = arg;
	pthread_mutex_lock(&ev->mu);
	while (!ev->stop) {
		if (ev->n == 0) {
			/* Nobody watches: forget the snapshots (they would be old
			 * when the next one comes) and ask the core nothing. */
			for (int k = 0; k < EV_KINDS; k++) {
				free(ev->snap[k]);
				ev->snap[k] = NULL;
			}
			pthread_cond_wait(&ev->cv, &ev->mu);
			continue;
		}
		ev->poll_now = false;
		int64_t start = mono_ms();
		pthread_mutex_unlock(&ev->mu);
		char *frame[EV_KINDS];
		poll_core(ev, frame);
		struct MHD_Connection *wake[API_STREAMS_MAX];
		pthread_mutex_lock(&ev->mu);
		size_t nw = publish(ev, frame, wake);
		pthread_mutex_unlock(&ev->mu);
		for (size_t i = 0; i < nw; i++)
			MHD_resume_connection(wake[i]);
		pthread_mutex_lock(&ev->mu);
		int64_t deadline = start + API_EVENTS_POLL_MS, earliest = start + EV_POLL_GAP_MS;
		for (;;) {
			int64_t now = mono_ms();
			if (ev->stop || now >= deadline || (ev->poll_now && now >= earliest))
				break;
			wait_until(ev, ev->poll_now ? earliest : deadline);
		}
	}
	pthread_mutex_unlock(&ev->mu);
	return NULL;
}

/* ---- start and stop ----------------------------------------------------------------- */

int api_events_start(struct http_server *h, unsigned keepalive_s, struct api_events **out)
{
	*out = NULL;
	struct api_events *ev = calloc(1, sizeof *ev);
	if (!ev)
		return ENOMEM;
	ev->h = h;
	ev->keepalive_ms = (int64_t)(keepalive_s ? keepalive_s : API_EVENTS_KEEPALIVE_S) * 1000;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* A stack of our own rather than one from glibc's cache: this thread
	 * comes and goes with each server, and the cache's stacks are left to
	 * libmicrohttpd's threads (the unit tests' heap check counts what the
	 * cache's churn allocates). */
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	ev->stack_len = EV_STACK_SIZE + page;
	ev->stack = mmap(NULL, ev->stack_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (ev->stack == MAP_FAILED) {
		ev->stack = NULL;
		api_events_free(ev);
		return ENOMEM;
	}
	pthread_attr_t ta;
	int rc = mprotect(ev->stack, page, PROT_NONE) == 0 ? pthread_attr_init(&ta) : errno;
	if (rc == 0) {
		rc = pthread_attr_setstack(&ta, (char *)ev->stack + page, EV_STACK_SIZE);
		if (rc == 0)
			rc = pthread_create(&ev->thr, &ta, events_main, ev);
		pthread_attr_destroy(&ta);
	}
	if (rc != 0) {
		api_events_free(ev);
		return rc;
	}
	ev->thr_ok = true;
	*out = ev;
	return 0;
}

void api_events_stop(struct api_events *ev)
{
	if (!ev)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->stop = true;
	pthread_cond_signal(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	if (ev->thr_ok) {
		pthread_join(ev->thr, NULL);
		ev->thr_ok = false;
	}
	struct MHD_Connection *wake[API_STREAMS_MAX];
	size_t nw = 0;
	pthread_mutex_lock(&ev->mu);
	ev->stopping = true;
	for (size_t i = 0; i < ev->n; i++) {
		ev->streams[i]->ended = true;
		struct MHD_Connection *c = stream_kick(ev->streams[i]);
		if (c)
			wake[nw++] = c;
	}
	pthread_mutex_unlock(&ev->mu);
	for (size_t i = 0; i < nw; i++)
		MHD_resume_connection(wake[i]);
}

void api_events_free(struct api_events *ev)
{
	if (!ev)
		return;
	if (ev->n)
		log_err("http: %zu event streams left at shutdown", ev->n);
	for (int k = 0; k < EV_KINDS; k++)
		free(ev->snap[k]);
	if (ev->stack)
		munmap(ev->stack, ev->stack_len); /* the thread was joined */
	pthread_cond_destroy(&ev->cv);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
}

size_t api_events_count(struct api_events *ev)
{
	pthread_mutex_lock(&ev->mu);
	size_t n = ev->n;
	pthread_mutex_unlock(&ev->mu);
	return n;
}

/* ---- one stream ----------------------------------------------------------------------- */

ssize_t api_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct api_stream *s = cls;
	struct api_events *ev = s->ev;
	(void)pos;
	pthread_mutex_lock(&ev->mu);
	if (s->off < s->len) {
		size_t n = s->len - s->off < max ? s->len - s->off : max;
		memcpy(buf, s->buf + s->off, n);
		s->off += n;
		if (s->off == s->len)
			s->off = s->len = 0;
		pthread_mutex_unlock(&ev->mu);
		return (ssize_t)n;
	}
	if (s->ended || ev->stopping) {
		bool failed = s->failed;
		pthread_mutex_unlock(&ev->mu);
		return failed ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
	}
	s->state = ST_SUSPENDING;
	s->wake = false;
	pthread_mutex_unlock(&ev->mu);
	MHD_suspend_connection(s->conn);
	pthread_mutex_lock(&ev->mu);
	bool resume = s->wake;
	s->state = resume ? ST_RUNNING : ST_SUSPENDED;
	s->wake = false;
	pthread_mutex_unlock(&ev->mu);
	if (resume)
		MHD_resume_connection(s->conn);
	return 0; /* called again once resumed */
}

void api_stream_free(void *cls)
{
	struct api_stream *s = cls;
	struct api_events *ev = s->ev;
	pthread_mutex_lock(&ev->mu);
	for (size_t i = 0; i < ev->n; i++) {
		if (ev->streams[i] == s) {
			ev->streams[i] = ev->streams[--ev->n];
			break;
		}
	}
	pthread_mutex_unlock(&ev->mu);
	free(s->buf);
	explicit_bzero(s->sid, sizeof s->sid);
	free(s);
}

int api_events_get(struct api_req *r)
{
	struct api_events *ev = r->srv->events;
	if (!ev)
		return api_live_error(r, ENOTSUP);
	struct api_stream *s = calloc(1, sizeof *s);
	if (!s)
		return api_error(r, 500, NULL, "out of memory");
	s->ev = ev;
	s->conn = r->conn;
	memcpy(s->sid, r->sess.id, sizeof s->sid);
	int64_t now = mono_ms();
	pthread_mutex_lock(&ev->mu);
	if (ev->stopping || ev->n >= API_STREAMS_MAX) {
		pthread_mutex_unlock(&ev->mu);
		free(s);
		snprintf(r->retry_after, sizeof r->retry_after, "5");
		return api_error(r, 503, NULL, "too many event streams are open (at most %d)", API_STREAMS_MAX);
	}
	/* How long the browser waits before it reconnects a broken stream. */
	stream_queue(s, "retry: 3000\n\n", now);
	for (int k = 0; k < EV_KINDS; k++) {
		if (ev->snap[k]) {
			stream_queue(s, ev->snap[k], now);
			s->have |= 1u << k;
		}
	}
	ev->streams[ev->n++] = s;
	ev->poll_now = true;
	pthread_cond_signal(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	r->stream = s;
	return api_reply_text(r, 200, "text/event-stream; charset=utf-8", NULL, 0);
}
