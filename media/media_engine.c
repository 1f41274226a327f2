/*
 * media_engine.c: the core thread's side of the media engine (media.h):
 * starting and stopping the media threads, binding port pairs, naming legs
 * and rooms, routing commands to the thread a leg or room lives on, the
 * prompt table, and taking events.
 *
 * The core keeps the set of live ids, each with the thread the leg lives
 * on now and its cookie: commands are routed by it, ENOENT answered from
 * it, and the threads' leg counts (to choose the least loaded) follow it. A
 * leg moves when media_bridge joins it to a leg of another thread (struct
 * leg_move in media_priv.h); its id stays, and so does the thread it was
 * born on in the id's low MEDIA_ID_THREAD_BITS bits, which only keeps ids
 * of different threads apart. That set, the moves in flight, the port
 * cursor and the id counter belong to the core thread alone.
 *
 * Rooms are named the same way: the core keeps each live room id with its
 * thread (rooms never move) and its members as the core sees them, so that
 * a join of a leg from another thread moves the leg first, a full room is
 * refused at once, and a leg that is bridged, echoed, freed or joins
 * elsewhere stops counting as a member. The thread's own state follows the
 * same commands in the same order.
 */
#include "media_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define MEDIA_DSCP_EF 0xb8 /* expedited forwarding, RFC 3246 */

/* A live id, as the core sees it. */
struct core_leg {
	struct core_leg *next;
	media_leg_id id;
	uint64_t cookie;
	unsigned thread;            /* where it lives now (it moves on media_bridge) */
	struct core_room *room;     /* the room it joined, or NULL */
	struct core_leg *rprev, *rnext; /* that room's members */
	unsigned recs;              /* media_record calls whose RECORD_DONE was not taken */
};

/* A live room id. */
struct core_room {
	struct core_room *next;
	media_room_id id;
	unsigned thread;            /* where its mixer is */
	unsigned members;
	struct core_leg *first;
};

/* A prompt table replaced by media_engine_set_prompts, kept until stop. */
struct prompt_keep {
	struct prompt_keep *next;
	struct prompt_table *table;
};

uint64_t media_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned id_thread(media_leg_id id)
{
	return id & ((1u << MEDIA_ID_THREAD_BITS) - 1);
}

static size_t id_bucket(media_leg_id id)
{
	return (id * 2654435761u) >> 18 & (MEDIA_CORE_BUCKETS - 1);
}

static struct core_leg **id_slot(struct media_engine *me, media_leg_id id)
{
	struct core_leg **pp = &me->ids[id_bucket(id)];
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

static struct core_leg *id_find(const struct media_engine *me, media_leg_id id)
{
	if (id == 0 || id_thread(id) >= me->nthreads)
		return NULL;
	struct core_leg *c = me->ids[id_bucket(id)];
	while (c && c->id != id)
		c = c->next;
	return c;
}

/* ---------------------------------------------------------------- start */

/* Free the moves the threads are done with; at stop (threads joined) all
 * of them, closing a leg that was handed over and never taken in. */
static void moves_collect(struct media_engine *me, bool stopping)
{
	/* bounded: one record per media_bridge not yet collected */
	for (struct leg_move *m = me->moves, *next; m; m = next) {
		next = m->next;
		int st = atomic_load_explicit(&m->state, memory_order_acquire);
		if (!stopping && st != MOVE_DONE)
			continue;
		if (stopping && st == MOVE_HANDED && m->leg)
			media_leg_discard(m->leg);
		if (m->prev)
			m->prev->next = m->next;
		else
			me->moves = m->next;
		if (m->next)
			m->next->prev = m->prev;
		free(m);
	}
}

static void thread_free(struct media_thread *t)
{
	if (!t)
		return;
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->cmd_fd >= 0)
		close(t->cmd_fd);
	if (t->tick_fd >= 0)
		close(t->tick_fd);
	free(t->cmds);
	free(t->evs);
	free(t->rx_buf);
	free(t);
}

static int thread_new(struct media_engine *me, unsigned index, struct media_thread **out)
{
	struct media_thread *t = calloc(1, sizeof *t);
	if (!t)
		return ENOMEM;
	t->me = me;
	t->index = index;
	t->epfd = t->cmd_fd = t->tick_fd = -1;
	t->cmdq.mask = MEDIA_CMD_QUEUE - 1;
	t->evq.mask = MEDIA_EV_QUEUE - 1;
	t->cmds = calloc(MEDIA_CMD_QUEUE, sizeof *t->cmds);
	t->evs = calloc(MEDIA_EV_QUEUE, sizeof *t->evs);
	t->rx_buf = calloc(MEDIA_BATCH, sizeof *t->rx_buf);
	int rc = 0;
	if (!t->cmds || !t->evs || !t->rx_buf) {
		rc = ENOMEM;
		goto out;
	}
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->cmd_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	t->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->epfd < 0 || t->cmd_fd < 0 || t->tick_fd < 0) {
		rc = errno;
		goto out;
	}
	struct itimerspec its = {
		.it_interval = { 0, MEDIA_TICK_MS * 1000000L },
		.it_value = { 0, MEDIA_TICK_MS * 1000000L },
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	/* data.ptr NULL is the command eventfd, &t->tick_fd the timer */
	if (timerfd_settime(t->tick_fd, 0, &its, NULL) < 0 ||
	    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->cmd_fd, &ev) < 0) {
		rc = errno;
		goto out;
	}
	ev.data.ptr = &t->tick_fd;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->tick_fd, &ev) < 0) {
		rc = errno;
		goto out;
	}
out:
	if (rc) {
		thread_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* An even RTP port and its RTCP port fit in [lo, hi]. */
static bool port_range_ok(uint32_t lo, uint32_t hi)
{
	uint32_t first = lo + (lo & 1u);
	return lo != 0 && hi <= 65535 && first + 1 <= hi;
}

static void port_range_set(struct media_engine *me, uint16_t lo, uint16_t hi, uint32_t start)
{
	me->port_lo = lo;
	me->port_hi = hi;
	me->port_first = lo + (lo & 1u);
	me->npairs = (hi - me->port_first - 1) / 2 + 1;
	me->port_cursor = start % me->npairs;
}

int media_engine_set_ports(struct media_engine *me, uint16_t lo, uint16_t hi)
{
	if (!me || !port_range_ok(lo, hi))
		return EINVAL;
	if (lo != me->port_lo || hi != me->port_hi)
		port_range_set(me, lo, hi, (uint32_t)media_now_ns() / 1000u);
	return 0;
}

void media_engine_ports(const struct media_engine *me, uint16_t *lo, uint16_t *hi)
{
	*lo = me->port_lo;
	*hi = me->port_hi;
}

int media_engine_start(struct media_engine **out, const struct media_engine_cfg *cfg)
{
	if (!out || !cfg)
		return EINVAL;
	*out = NULL;
	if (!port_range_ok(cfg->port_lo, cfg->port_hi))
		return EINVAL;
	unsigned n = cfg->threads;
	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (unsigned)c : 1;
	}
	if (n > MEDIA_MAX_THREADS)
		n = MEDIA_MAX_THREADS;
	int rc = srtp_ctx_lib_init();
	if (rc)
		return rc;
	struct media_engine *me = calloc(1, sizeof *me);
	if (!me)
		return ENOMEM;
	me->cfg = *cfg;
	me->cfg.threads = n;
	me->ev_fd = -1;
	uint32_t rnd[2] = { 0, 0 };
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd[0] = rnd[1] = (uint32_t)media_now_ns();
	port_range_set(me, cfg->port_lo, cfg->port_hi, rnd[0]); /* a restart does not reuse the last ports first */
	snprintf(me->cname, sizeof me->cname, "pbx-%08x", rnd[1]);
	me->id_next = 1;
	me->cfg.prompt_dir = NULL; /* the caller's string, read only here */
	me->room_next = 1;
	me->threads = calloc(n, sizeof *me->threads);
	if (!me->threads) {
		free(me);
		return ENOMEM;
	}
	if (cfg->prompt_dir && *cfg->prompt_dir &&
	    (rc = media_engine_set_prompts(me, cfg->prompt_dir)) != 0) {
		log_err("media: prompts from %s: %s", cfg->prompt_dir, strerror(rc));
		goto fail;
	}
	me->ev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (me->ev_fd < 0) {
		rc = errno;
		goto fail;
	}
	me->nthreads = n;
	for (unsigned i = 0; i < n; i++) {
		rc = thread_new(me, i, &me->threads[i]);
		if (rc)
			goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		rc = pthread_create(&me->threads[i]->tid, NULL, media_thread_main, me->threads[i]);
		if (rc)
			goto fail;
		me->threads[i]->running = true;
	}
	*out = me;
	return 0;
fail:
	media_engine_stop(me);
	return rc;
}

void media_engine_stop(struct media_engine *me)
{
	if (!me)
		return;
	for (unsigned i = 0; i < me->nthreads; i++) {
		struct media_thread *t = me->threads[i];
		if (!t || !t->running)
			continue;
		atomic_store_explicit(&t->stop, true, memory_order_release);
		uint64_t one = 1;
		if (write(t->cmd_fd, &one, sizeof one) < 0 && errno != EAGAIN)
			log_warn("media: cannot wake thread %u: %s", i, strerror(errno));
	}
	for (unsigned i = 0; i < me->nthreads; i++) {
		struct media_thread *t = me->threads[i];
		if (t && t->running)
			pthread_join(t->tid, NULL);
	}
	moves_collect(me, true);
	for (unsigned i = 0; i < me->nthreads; i++) {
		struct media_thread *t = me->threads[i];
		uint32_t slot;
		/* events never taken: the recordings in them are ours to free
		 * (bounded by the queue's size) */
		while (t && spsc_slot_get(&t->evq, &slot)) {
			if (t->evs[slot].kind == MEDIA_EV_RECORD_DONE)
				free(t->evs[slot].rec.pcm);
			spsc_release(&t->evq);
		}
		thread_free(t);
	}
	for (size_t b = 0; b < MEDIA_CORE_BUCKETS; b++) {
		struct core_leg *c = me->ids[b];
		while (c) {
			struct core_leg *next = c->next;
			free(c);
			c = next;
		}
	}
	while (me->rooms) {
		struct core_room *r = me->rooms;
		me->rooms = r->next;
		free(r);
	}
	prompt_table_free(me->prompts);
	while (me->prompts_old) {
		struct prompt_keep *k = me->prompts_old;
		me->prompts_old = k->next;
		prompt_table_free(k->table);
		free(k);
	}
	if (me->ev_fd >= 0)
		close(me->ev_fd);
	free(me->threads);
	free(me);
}

/* ------------------------------------------------------------- commands */

/* Wait until thread t's queue has room for n commands. A full queue is
 * waited for with a bound: the thread drains thousands of commands a
 * millisecond, so only a stuck thread makes this return EAGAIN. Room, once
 * there, stays: the core is the queue's only producer. */
static int cmd_room(struct media_thread *t, uint32_t n)
{
	uint64_t one = 1;
	for (unsigned waited = 0; !spsc_room(&t->cmdq, n); waited++) {
		if (waited == 0 && write(t->cmd_fd, &one, sizeof one) < 0 && errno != EAGAIN)
			return errno;
		if (waited >= MEDIA_CMD_WAIT_MS * 10) {
			log_err("media: thread %u does not take commands", t->index);
			return EAGAIN;
		}
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* Queue cmd (copied) where cmd_room found room. */
static void cmd_put(struct media_thread *t, const struct media_cmd *cmd)
{
	uint32_t slot;
	uint64_t one = 1;
	if (!spsc_slot_put(&t->cmdq, &slot))
		return; /* not reached: cmd_room said there was room */
	t->cmds[slot] = *cmd;
	spsc_commit(&t->cmdq);
	if (write(t->cmd_fd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_warn("media: cannot wake thread %u: %s", t->index, strerror(errno));
}

static int cmd_send(struct media_thread *t, const struct media_cmd *cmd)
{
	int rc = cmd_room(t, 1);
	if (rc == 0)
		cmd_put(t, cmd);
	return rc;
}

static int cmd_to(struct media_engine *me, media_leg_id id, struct media_cmd *cmd)
{
	struct core_leg *c = me ? id_find(me, id) : NULL;
	if (!c)
		return me ? ENOENT : EINVAL;
	cmd->leg = id;
	cmd->cookie = c->cookie;
	return cmd_send(me->threads[c->thread], cmd);
}

/* ----------------------------------------------------------------- legs */

static int bind_one(const struct sockaddr_storage *local, uint16_t port, int *fd)
{
	struct sockaddr_storage a = *local;
	socklen_t len;
	if (a.ss_family == AF_INET) {
		((struct sockaddr_in *)&a)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	} else if (a.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&a)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	} else {
		return EAFNOSUPPORT;
	}
	int s = socket(a.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	int tos = MEDIA_DSCP_EF;
	/* best effort: a network that ignores DSCP is fine */
	if (a.ss_family == AF_INET)
		(void)setsockopt(s, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
	else
		(void)setsockopt(s, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
	if (bind(s, (struct sockaddr *)&a, len) < 0) {
		int e = errno;
		close(s);
		return e;
	}
	*fd = s;
	return 0;
}

/* Bind an even/odd pair from the rotating cursor; pairs that fail to bind
 * (another program, a leg not yet closed) are skipped. */
static int bind_pair(struct media_engine *me, const struct sockaddr_storage *local, int *rtp,
		     int *rtcp, uint16_t *port)
{
	for (uint32_t tries = 0; tries < me->npairs; tries++) {
		uint32_t p = me->port_first + 2 * me->port_cursor;
		me->port_cursor = (me->port_cursor + 1) % me->npairs;
		int rc = bind_one(local, (uint16_t)p, rtp);
		if (rc == EADDRINUSE || rc == EACCES)
			continue;
		if (rc)
			return rc;
		rc = bind_one(local, (uint16_t)(p + 1), rtcp);
		if (rc) {
			close(*rtp);
			if (rc == EADDRINUSE || rc == EACCES)
				continue;
			return rc;
		}
		*port = (uint16_t)p;
		return 0;
	}
	return EADDRINUSE;
}

static media_leg_id id_new(struct media_engine *me, unsigned thread)
{
	for (;;) {
		uint32_t n = me->id_next++ & (UINT32_MAX >> MEDIA_ID_THREAD_BITS);
		if (n == 0)
			continue;
		media_leg_id id = n << MEDIA_ID_THREAD_BITS | thread;
		if (!*id_slot(me, id))
			return id;
	}
}

int media_leg_new(struct media_engine *me, const struct sockaddr_storage *local, media_leg_id near,
		  uint64_t cookie, media_leg_id *id, uint16_t *port)
{
	if (!me || !local || !id || !port)
		return EINVAL;
	unsigned ti;
	if (near) {
		struct core_leg *n = id_find(me, near);
		if (!n)
			return ENOENT;
		ti = n->thread;
	} else {
		ti = 0;
		for (unsigned i = 1; i < me->nthreads; i++)
			if (me->threads[i]->core_legs < me->threads[ti]->core_legs)
				ti = i;
	}
	struct core_leg *c = calloc(1, sizeof *c);
	if (!c)
		return ENOMEM;
	struct media_cmd cmd = { .kind = MEDIA_CMD_ADD, .cookie = cookie };
	int rc = bind_pair(me, local, &cmd.u.add.rtp_fd, &cmd.u.add.rtcp_fd, &cmd.u.add.port);
	if (rc) {
		free(c);
		return rc;
	}
	cmd.leg = id_new(me, ti);
	rc = cmd_send(me->threads[ti], &cmd);
	if (rc) {
		close(cmd.u.add.rtp_fd);
		close(cmd.u.add.rtcp_fd);
		free(c);
		return rc;
	}
	c->id = cmd.leg;
	c->cookie = cookie;
	c->thread = ti;
	struct core_leg **pp = id_slot(me, c->id);
	c->next = NULL;
	*pp = c;
	me->threads[ti]->core_legs++;
	*id = c->id;
	*port = cmd.u.add.port;
	return 0;
}

int media_leg_set(struct media_engine *me, media_leg_id id, const struct media_leg_params *p)
{
	if (!p)
		return EINVAL;
	struct media_cmd cmd = { .kind = MEDIA_CMD_SET };
	cmd.u.set = *p;
	int rc = cmd_to(me, id, &cmd);
	explicit_bzero(&cmd.u.set.tx_key, sizeof cmd.u.set.tx_key);
	explicit_bzero(&cmd.u.set.rx_key, sizeof cmd.u.set.rx_key);
	return rc;
}

/* c goes to thread to_i (struct leg_move) and, when other is not 0, is
 * bridged there to it. Both commands are queued or neither; extra more
 * commands will fit in to_i's queue after them (the caller's, queued with
 * cmd_put). */
static int leg_move(struct media_engine *me, struct core_leg *c, unsigned to_i, media_leg_id other,
		    uint32_t extra)
{
	struct media_thread *from = me->threads[c->thread], *to = me->threads[to_i];
	moves_collect(me, false);
	struct leg_move *m = calloc(1, sizeof *m);
	if (!m)
		return ENOMEM;
	int rc = cmd_room(from, 1);
	if (rc == 0)
		rc = cmd_room(to, 1 + extra);
	if (rc) {
		free(m);
		return rc;
	}
	m->to = to;
	atomic_init(&m->state, MOVE_SENT);
	m->next = me->moves;
	if (me->moves)
		me->moves->prev = m;
	me->moves = m;
	struct media_cmd move = { .kind = MEDIA_CMD_MOVE, .leg = c->id, .cookie = c->cookie,
				  .u.move = { .m = m } };
	struct media_cmd adopt = { .kind = MEDIA_CMD_ADOPT, .leg = c->id, .cookie = c->cookie,
				   .u.move = { .m = m, .other = other } };
	cmd_put(from, &move);
	cmd_put(to, &adopt);
	from->core_legs--;
	to->core_legs++;
	c->thread = to_i;
	return 0;
}

/* The leg is no longer a member of a room (as the core sees it). */
static void room_detach(struct core_leg *c)
{
	struct core_room *r = c->room;
	if (!r)
		return;
	if (c->rprev)
		c->rprev->rnext = c->rnext;
	else
		r->first = c->rnext;
	if (c->rnext)
		c->rnext->rprev = c->rprev;
	c->rprev = c->rnext = NULL;
	c->room = NULL;
	r->members--;
}

static void room_attach(struct core_room *r, struct core_leg *c)
{
	c->room = r;
	c->rprev = NULL;
	c->rnext = r->first;
	if (r->first)
		r->first->rprev = c;
	r->first = c;
	r->members++;
}

int media_bridge(struct media_engine *me, media_leg_id a, media_leg_id b)
{
	if (!me)
		return EINVAL;
	struct core_leg *ca = id_find(me, a), *cb = id_find(me, b);
	if (!ca || !cb)
		return ENOENT;
	if (a == b)
		return EINVAL;
	int rc;
	if (ca->thread != cb->thread) {
		rc = leg_move(me, cb, ca->thread, ca->id, 0);
	} else {
		struct media_cmd cmd = { .kind = MEDIA_CMD_BRIDGE, .u.other = b };
		rc = cmd_to(me, a, &cmd);
	}
	if (rc == 0) {
		/* a bridge ends the rooms of both */
		room_detach(ca);
		room_detach(cb);
	}
	return rc;
}

int media_leg_thread(const struct media_engine *me, media_leg_id id, unsigned *thread)
{
	if (!me || !thread)
		return EINVAL;
	struct core_leg *c = id_find(me, id);
	if (!c)
		return ENOENT;
	*thread = c->thread;
	return 0;
}

int media_unbridge(struct media_engine *me, media_leg_id id)
{
	struct media_cmd cmd = { .kind = MEDIA_CMD_UNBRIDGE };
	return cmd_to(me, id, &cmd);
}

int media_echo(struct media_engine *me, media_leg_id id)
{
	struct media_cmd cmd = { .kind = MEDIA_CMD_ECHO };
	int rc = cmd_to(me, id, &cmd);
	if (rc == 0)
		room_detach(id_find(me, id));
	return rc;
}

int media_tone(struct media_engine *me, media_leg_id id, enum media_tone tone)
{
	if (tone != MEDIA_TONE_CONFIRM && tone != MEDIA_TONE_ERROR)
		return EINVAL;
	struct media_cmd cmd = { .kind = MEDIA_CMD_TONE, .u.tone = tone };
	return cmd_to(me, id, &cmd);
}

int media_leg_free(struct media_engine *me, media_leg_id id)
{
	struct media_cmd cmd = { .kind = MEDIA_CMD_FREE };
	int rc = cmd_to(me, id, &cmd);
	if (rc)
		return rc;
	struct core_leg **pp = id_slot(me, id);
	struct core_leg *c = *pp;
	*pp = c->next;
	room_detach(c);
	me->threads[c->thread]->core_legs--;
	free(c);
	return 0;
}

/* -------------------------------------------------------------- prompts */

int media_engine_set_prompts(struct media_engine *me, const char *dir)
{
	if (!me || !dir || !*dir)
		return EINVAL;
	struct prompt_table *t = NULL;
	unsigned missing = 0;
	int rc = prompt_table_load(dir, &t, &missing);
	if (rc)
		return rc;
	if (me->prompts) {
		struct prompt_keep *k = malloc(sizeof *k);
		if (!k) {
			prompt_table_free(t);
			return ENOMEM;
		}
		k->table = me->prompts;
		k->next = me->prompts_old;
		me->prompts_old = k;
	}
	/* the table reaches a thread inside a command (release/acquire on the
	 * queue), after it is whole */
	me->prompts = t;
	log_info("media: prompts from %s (%u of %d missing)", dir, missing, PROMPT_COUNT - 1);
	return 0;
}

int media_play(struct media_engine *me, media_leg_id id, const struct prompt_seq *seq)
{
	if (!seq || seq->n > PROMPT_SEQ_MAX)
		return EINVAL;
	for (unsigned i = 0; i < seq->n; i++)
		if (seq->id[i] >= PROMPT_COUNT)
			return EINVAL;
	struct media_cmd cmd = { .kind = MEDIA_CMD_PLAY };
	cmd.u.play.table = me ? me->prompts : NULL;
	cmd.u.play.seq = *seq;
	return cmd_to(me, id, &cmd);
}

int media_play_pcm(struct media_engine *me, media_leg_id id, int16_t *pcm, size_t n)
{
	/* the buffer is ours whatever happens */
	if (!pcm || n == 0 || n > MEDIA_PCM_MAX) {
		free(pcm);
		return EINVAL;
	}
	struct media_cmd cmd = { .kind = MEDIA_CMD_PLAY_PCM, .u.pcm = { .pcm = pcm, .n = n } };
	int rc = cmd_to(me, id, &cmd);
	if (rc)
		free(pcm);
	return rc;
}

/* ------------------------------------------------------------ recording */

int media_record(struct media_engine *me, media_leg_id id, uint32_t max_ms, uint32_t silence_ms)
{
	if (!me || max_ms == 0 || max_ms > MEDIA_REC_MAX_MS)
		return EINVAL;
	struct core_leg *c = id_find(me, id);
	if (!c)
		return ENOENT;
	struct media_cmd cmd = { .kind = MEDIA_CMD_RECORD };
	/* made here, so the thread always has what it reports RECORD_DONE with */
	int rc = rec_new(max_ms, silence_ms, &cmd.u.rec);
	if (rc)
		return rc;
	rc = cmd_to(me, id, &cmd);
	if (rc) {
		rec_discard(cmd.u.rec);
		return rc;
	}
	c->recs++;
	/* a record ends the leg's bridge or room, on the thread as here */
	room_detach(c);
	return 0;
}

int media_record_stop(struct media_engine *me, media_leg_id id)
{
	struct core_leg *c = me ? id_find(me, id) : NULL;
	if (!c)
		return me ? ENOENT : EINVAL;
	if (c->recs == 0)
		return ENOENT;
	struct media_cmd cmd = { .kind = MEDIA_CMD_RECORD_STOP };
	return cmd_to(me, id, &cmd);
}

/* ---------------------------------------------------------------- rooms */

static struct core_room *room_by_id(const struct media_engine *me, media_room_id id)
{
	struct core_room *r = me->rooms;
	while (r && r->id != id)
		r = r->next;
	return r;
}

int media_room_new(struct media_engine *me, media_leg_id near, media_room_id *out)
{
	if (!me || !out)
		return EINVAL;
	unsigned ti = 0;
	if (near) {
		struct core_leg *n = id_find(me, near);
		if (!n)
			return ENOENT;
		ti = n->thread;
	} else {
		for (unsigned i = 1; i < me->nthreads; i++)
			if (me->threads[i]->core_legs < me->threads[ti]->core_legs)
				ti = i;
	}
	media_room_id id;
	/* bounded: live rooms are far fewer than ids */
	do {
		id = me->room_next++;
	} while (id == 0 || room_by_id(me, id));
	struct core_room *cr = calloc(1, sizeof *cr);
	if (!cr)
		return ENOMEM;
	struct media_cmd cmd = { .kind = MEDIA_CMD_ROOM_NEW, .u.room = { .id = id } };
	int rc = room_new(id, &cmd.u.room.r);
	if (rc == 0) {
		rc = cmd_send(me->threads[ti], &cmd);
		if (rc)
			room_discard(cmd.u.room.r);
	}
	if (rc) {
		free(cr);
		return rc;
	}
	cr->id = id;
	cr->thread = ti;
	cr->next = me->rooms;
	me->rooms = cr;
	*out = id;
	return 0;
}

int media_room_free(struct media_engine *me, media_room_id room)
{
	if (!me)
		return EINVAL;
	struct core_room **pp = &me->rooms;
	while (*pp && (*pp)->id != room)
		pp = &(*pp)->next;
	struct core_room *r = *pp;
	if (!r || room == 0)
		return ENOENT;
	struct media_cmd cmd = { .kind = MEDIA_CMD_ROOM_FREE, .u.room = { .id = room } };
	int rc = cmd_send(me->threads[r->thread], &cmd);
	if (rc)
		return rc;
	/* bounded: each pass takes one member off */
	while (r->first)
		room_detach(r->first);
	*pp = r->next;
	free(r);
	return 0;
}

int media_room_join(struct media_engine *me, media_room_id room, media_leg_id id, bool muted)
{
	if (!me)
		return EINVAL;
	struct core_room *r = room ? room_by_id(me, room) : NULL;
	struct core_leg *c = id_find(me, id);
	if (!r || !c)
		return ENOENT;
	if (c->room != r && r->members >= MIXER_MAX)
		return ENOSPC;
	struct media_cmd join = { .kind = MEDIA_CMD_ROOM_JOIN, .leg = id, .cookie = c->cookie,
				  .u.room = { .id = room, .muted = muted } };
	int rc;
	if (c->thread != r->thread) {
		/* the leg comes to the room's thread first, as in media_bridge */
		rc = leg_move(me, c, r->thread, 0, 1);
		if (rc == 0)
			cmd_put(me->threads[r->thread], &join);
	} else {
		rc = cmd_send(me->threads[r->thread], &join);
	}
	if (rc)
		return rc;
	if (c->room != r) {
		room_detach(c);
		room_attach(r, c);
	}
	return 0;
}

int media_room_leave(struct media_engine *me, media_leg_id id)
{
	struct core_leg *c = me ? id_find(me, id) : NULL;
	if (!c)
		return me ? ENOENT : EINVAL;
	if (!c->room)
		return 0;
	struct media_cmd cmd = { .kind = MEDIA_CMD_ROOM_LEAVE };
	int rc = cmd_to(me, id, &cmd);
	if (rc == 0)
		room_detach(c);
	return rc;
}

int media_room_mute(struct media_engine *me, media_leg_id id, bool muted)
{
	struct core_leg *c = me ? id_find(me, id) : NULL;
	if (!c || !c->room)
		return me ? ENOENT : EINVAL;
	struct media_cmd cmd = { .kind = MEDIA_CMD_ROOM_MUTE, .u.room = { .muted = muted } };
	return cmd_to(me, id, &cmd);
}

int media_room_volume(struct media_engine *me, media_leg_id id, int step)
{
	struct core_leg *c = me ? id_find(me, id) : NULL;
	if (!c || !c->room)
		return me ? ENOENT : EINVAL;
	if (step < MIXER_VOL_MIN || step > MIXER_VOL_MAX)
		return EINVAL;
	struct media_cmd cmd = { .kind = MEDIA_CMD_ROOM_VOLUME, .u.room = { .volume = step } };
	return cmd_to(me, id, &cmd);
}

/* --------------------------------------------------------------- events */

int media_event_fd(const struct media_engine *me)
{
	return me ? me->ev_fd : -1;
}

size_t media_events_take(struct media_engine *me, struct media_event *ev, size_t max)
{
	if (!me || !ev)
		return 0;
	uint64_t v;
	/* read first: an event queued after this read writes the eventfd again */
	if (read(me->ev_fd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warn("media: event fd: %s", strerror(errno));
	size_t n = 0;
	bool more = false;
	for (unsigned k = 0; k < me->nthreads; k++) {
		struct media_thread *t = me->threads[(me->ev_rr + k) % me->nthreads];
		uint32_t slot;
		while (spsc_slot_get(&t->evq, &slot)) {
			if (n == max) {
				more = true;
				break;
			}
			ev[n] = t->evs[slot];
			spsc_release(&t->evq);
			if (ev[n].kind == MEDIA_EV_RECORD_DONE) {
				/* media_record_stop answers ENOENT once all are in */
				struct core_leg *c = id_find(me, ev[n].leg);
				if (c && c->recs)
					c->recs--;
			}
			n++;
		}
		if (more)
			break;
	}
	me->ev_rr = me->nthreads ? (me->ev_rr + 1) % me->nthreads : 0;
	if (more) {
		uint64_t one = 1;
		/* stay readable for what is left */
		if (write(me->ev_fd, &one, sizeof one) < 0 && errno != EAGAIN)
			log_warn("media: event fd: %s", strerror(errno));
	}
	return n;
}

void media_engine_totals(const struct media_engine *me, struct media_totals *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof *out);
	if (!me)
		return;
	for (unsigned i = 0; i < me->nthreads; i++) {
		const struct media_counters *c = &me->threads[i]->ctr;
		out->legs += atomic_load_explicit(&c->legs, memory_order_relaxed);
		out->rx_packets += atomic_load_explicit(&c->rx_packets, memory_order_relaxed);
		out->tx_packets += atomic_load_explicit(&c->tx_packets, memory_order_relaxed);
		out->lost_packets += atomic_load_explicit(&c->lost_packets, memory_order_relaxed);
		out->transcoded_frames +=
			atomic_load_explicit(&c->transcoded_frames, memory_order_relaxed);
		uint64_t m = atomic_load_explicit(&c->tick_max_us, memory_order_relaxed);
		if (m > out->tick_max_us)
			out->tick_max_us = m;
	}
}
