/*
 * media_thread.c: one media thread. Its epoll loop waits on the sockets of
 * its legs, on its command eventfd and on a 20 ms timerfd. Commands from
 * the core create, configure, connect and free legs and rooms; the tick
 * drives the legs that have timed work (transcoders, tones, prompts), the
 * rooms' mixers and, every MEDIA_SWEEP_TICKS, the sweep over all legs
 * (timeouts, RTCP reports).
 *
 * A leg closed while an epoll batch is being handled may still be named by
 * a later event of the same batch, so it is only marked dead and freed once
 * the batch is done. CLOSED events that find the event queue full wait in
 * the leg itself on closed_wait and are retried every loop iteration;
 * RECORD_DONE events, which carry a recording, wait the same way on
 * rec_wait (media_record.c), and go first: a leg freed while recording
 * reports RECORD_DONE before CLOSED.
 *
 * A leg moving to another thread (struct leg_move in media_priv.h) is
 * detached at once but handed over only after the batch, for the same
 * reason; the thread it goes to stops taking commands at the ADOPT until
 * the leg is there, and goes on relaying its other legs meanwhile.
 */
#include "media_priv.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "log.h"

#define MEDIA_EPOLL_BATCH 64
#define MEDIA_RT_PRIORITY 10

/* ------------------------------------------------------------ the events */

static bool ev_push(struct media_thread *t, const struct media_event *ev)
{
	uint32_t slot;
	if (!spsc_slot_put(&t->evq, &slot))
		return false;
	t->evs[slot] = *ev;
	spsc_commit(&t->evq);
	uint64_t one = 1;
	if (write(t->me->ev_fd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_warn("media: event fd: %s", strerror(errno));
	return true;
}

bool media_thread_push(struct media_thread *t, const struct media_event *ev)
{
	return ev_push(t, ev);
}

void media_thread_post(struct media_thread *t, struct media_event *ev)
{
	if (ev_push(t, ev))
		return;
	uint64_t d = atomic_load_explicit(&t->ctr.events_dropped, memory_order_relaxed);
	ctr_add(&t->ctr.events_dropped, 1);
	if (d % 1000 == 0)
		log_warn("media: thread %u: event queue full, %llu events dropped", t->index,
			 (unsigned long long)d + 1);
}

void media_leg_event(struct leg *l, enum media_ev_kind kind, struct media_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	ev->leg = l->id;
	ev->cookie = l->cookie;
}

static void closed_wait_flush(struct media_thread *t)
{
	/* a leg's RECORD_DONE goes before its CLOSED */
	if (!rec_wait_flush(t))
		return;
	while (t->closed_wait) {
		struct leg *l = t->closed_wait;
		if (!ev_push(t, &l->closed))
			return;
		t->closed_wait = l->dnext;
		if (!t->closed_wait)
			t->closed_wait_tail = NULL;
		free(l);
	}
}

/* ------------------------------------------------------------ leg table */

static struct leg **leg_slot(struct media_thread *t, media_leg_id id)
{
	struct leg **pp = &t->hash[(id >> MEDIA_ID_THREAD_BITS) & (MEDIA_LEG_BUCKETS - 1)];
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->hnext;
	return pp;
}

static struct leg *leg_find(struct media_thread *t, media_leg_id id)
{
	return *leg_slot(t, id);
}

void media_leg_tick_update(struct leg *l)
{
	struct media_thread *t = l->t;
	bool want = !l->dead && !l->moving && (l->xc || l->tone_on || l->play || l->rec);
	if (want == l->on_tick)
		return;
	if (want) {
		l->tprev = NULL;
		l->tnext = t->tick_legs;
		if (t->tick_legs)
			t->tick_legs->tprev = l;
		t->tick_legs = l;
	} else {
		if (l->tprev)
			l->tprev->tnext = l->tnext;
		else
			t->tick_legs = l->tnext;
		if (l->tnext)
			l->tnext->tprev = l->tprev;
		l->tprev = l->tnext = NULL;
	}
	l->on_tick = want;
}

/* ------------------------------------------------------------- commands */

static void sock_watch(struct media_thread *t, int fd, struct leg_watch *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		log_err("media: epoll add: %s", strerror(errno));
}

/* Make l one of t's legs: its table, its list, its epoll, its tick. */
static void leg_link(struct media_thread *t, struct leg *l)
{
	l->t = t;
	struct leg **pp = leg_slot(t, l->id);
	l->hnext = *pp;
	*pp = l;
	l->prev = NULL;
	l->next = t->legs;
	if (t->legs)
		t->legs->prev = l;
	t->legs = l;
	sock_watch(t, l->rtp_fd, &l->w_rtp);
	sock_watch(t, l->rtcp_fd, &l->w_rtcp);
	media_leg_tick_update(l);
	ctr_add(&t->ctr.legs, 1);
}

/* The reverse; l stays whole (sockets open). Take it off the tick list
 * first (dead or moving set). */
static void leg_unlink(struct media_thread *t, struct leg *l)
{
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, l->rtp_fd, NULL);
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, l->rtcp_fd, NULL);
	*leg_slot(t, l->id) = l->hnext;
	l->hnext = NULL;
	if (l->prev)
		l->prev->next = l->next;
	else
		t->legs = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
	ctr_add(&t->ctr.legs, (uint64_t)-1);
}

static void cmd_add(struct media_thread *t, const struct media_cmd *c)
{
	struct leg *l = calloc(1, sizeof *l);
	if (!l) {
		/* the core believes in the leg: later commands find nothing and
		 * its FREE still reports CLOSED */
		log_err("media: no memory for a leg");
		close(c->u.add.rtp_fd);
		close(c->u.add.rtcp_fd);
		return;
	}
	l->id = c->leg;
	l->cookie = c->cookie;
	l->rtp_fd = c->u.add.rtp_fd;
	l->rtcp_fd = c->u.add.rtcp_fd;
	l->port = c->u.add.port;
	l->w_rtp.leg = l;
	l->w_rtcp.leg = l;
	l->w_rtcp.rtcp = true;
	tx_stream_init(&l->tx);
	rtp_stats_init(&l->rs);
	dtmf_rx_init(&l->drx);
	leg_link(t, l);
}

static void bridge_end(struct leg *l)
{
	struct leg *p = l->peer;
	l->peer = NULL;
	l->echo = false;
	l->gen++;
	if (p) {
		p->peer = NULL;
		p->gen++;
		leg_path_update(p);
	}
	leg_path_update(l);
}

/* Take the leg out of the loop and the tables; its memory goes on the dead
 * list (report: queue CLOSED, kept in the leg if the queue is full). */
static void leg_close(struct leg *l, bool report)
{
	struct media_thread *t = l->t;
	room_leave(l);
	if (l->peer || l->echo)
		bridge_end(l);
	leg_tone_stop(l, false);
	if (report)
		leg_rec_stop(l, MEDIA_REC_CLOSED); /* queued before CLOSED */
	struct media_event ev;
	media_leg_event(l, MEDIA_EV_CLOSED, &ev);
	leg_stats(l, &ev.stats);
	int64_t lost = ev.stats.lost - l->lost_counted;
	if (lost > 0)
		ctr_add(&t->ctr.lost_packets, (uint64_t)lost);
	leg_release(l);
	l->dead = true;
	media_leg_tick_update(l);
	leg_unlink(t, l);
	close(l->rtp_fd);
	close(l->rtcp_fd);
	l->closed = ev;
	l->dnext = t->dead;
	t->dead = l;
	if (report)
		l->closed_pending = true;
}

static void cmd_free(struct media_thread *t, const struct media_cmd *c)
{
	struct leg *l = leg_find(t, c->leg);
	if (l) {
		leg_close(l, true);
		return;
	}
	struct media_event ev = { .kind = MEDIA_EV_CLOSED, .leg = c->leg, .cookie = c->cookie };
	if (!t->closed_wait && !t->rec_wait && ev_push(t, &ev))
		return;
	/* no leg to keep the event in: make a shell that only carries it */
	struct leg *shell = calloc(1, sizeof *shell);
	if (!shell) {
		log_err("media: no memory: CLOSED of leg %u lost", c->leg);
		return;
	}
	shell->closed = ev;
	shell->dead = true;
	if (t->closed_wait_tail)
		t->closed_wait_tail->dnext = shell;
	else
		t->closed_wait = shell;
	t->closed_wait_tail = shell;
}

static void cmd_set(struct media_thread *t, struct media_cmd *c)
{
	struct leg *l = leg_find(t, c->leg);
	if (!l)
		return;
	struct media_leg_params old = l->p;
	bool was_set = l->set;
	l->p = c->u.set;
	l->set = true;
	l->gen++;
	leg_apply_params(l, &old, was_set);
	/* the SRTP contexts hold the keys now (and tell a changed one) */
	explicit_bzero(&old, sizeof old);
	explicit_bzero(l->p.tx_key, sizeof l->p.tx_key);
	explicit_bzero(l->p.rx_key, sizeof l->p.rx_key);
	leg_path_update(l);
	if (l->peer)
		leg_path_update(l->peer);
	room_leg_update(l);
}

/* RECORD: its bridge, echo or room ends, as media.h says. */
static void cmd_record(struct media_thread *t, struct media_cmd *c)
{
	struct leg *l = leg_find(t, c->leg);
	if (!l) {
		/* only a leg whose memory failed at MEDIA_CMD_ADD */
		rec_fail(t, c->u.rec, c->leg, c->cookie);
		return;
	}
	room_leave(l);
	if (l->peer || l->echo)
		bridge_end(l);
	leg_rec_start(l, c->u.rec);
}

static void bridge_pair(struct leg *a, struct leg *b)
{
	if (!a || !b || a == b || a->peer == b)
		return;
	room_leave(a);
	room_leave(b);
	if (a->peer || a->echo)
		bridge_end(a);
	if (b->peer || b->echo)
		bridge_end(b);
	a->peer = b;
	b->peer = a;
	a->gen++;
	b->gen++;
	leg_path_update(a);
	leg_path_update(b);
}

/* MOVE, on the leg's thread: end its bridge here, detach it; it is handed
 * over after the batch (handing_flush). */
static void cmd_move(struct media_thread *t, const struct media_cmd *c)
{
	struct leg_move *m = c->u.move.m;
	struct leg *l = leg_find(t, c->leg);
	m->leg = l;
	if (l) {
		/* its room and its bridge stay here */
		room_leave(l);
		if (l->peer || l->echo)
			bridge_end(l);
		l->moving = true;
		media_leg_tick_update(l);
		leg_unlink(t, l);
	}
	m->tnext = t->handing;
	t->handing = m;
}

/* Publish what this batch detached; the records are not ours after that. */
static void handing_flush(struct media_thread *t)
{
	while (t->handing) {
		struct leg_move *m = t->handing;
		struct media_thread *to = m->to;
		t->handing = m->tnext;
		atomic_store_explicit(&m->state, MOVE_HANDED, memory_order_release);
		uint64_t one = 1;
		if (write(to->cmd_fd, &one, sizeof one) < 0 && errno != EAGAIN)
			log_warn("media: cannot wake thread %u: %s", to->index, strerror(errno));
	}
}

/* While a leg moves here to be bridged to l, l's packets wait in its
 * sockets (out of epoll, not merely skipped: a socket error would keep a
 * level-triggered watch firing): sent after media_bridge, they belong to
 * the new bridge, as they would on one thread where commands come first. */
static void hold(struct media_thread *t, struct leg *l, bool on)
{
	if (on) {
		if (!l || l->held)
			return;
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, l->rtp_fd, NULL);
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, l->rtcp_fd, NULL);
		l->held = true;
		t->held = l;
	} else if (t->held) {
		l = t->held;
		l->held = false;
		t->held = NULL;
		sock_watch(t, l->rtp_fd, &l->w_rtp);
		sock_watch(t, l->rtcp_fd, &l->w_rtcp);
	}
}

/* ADOPT, on the new thread: false while the leg is still on its way (the
 * command stays first in the queue and holds back the ones after it). */
static bool cmd_adopt(struct media_thread *t, const struct media_cmd *c)
{
	struct leg_move *m = c->u.move.m;
	if (atomic_load_explicit(&m->state, memory_order_acquire) == MOVE_SENT) {
		hold(t, leg_find(t, c->u.move.other), true);
		return false;
	}
	hold(t, NULL, false);
	struct leg *l = m->leg;
	if (l) {
		l->moving = false;
		leg_link(t, l);
		if (c->u.move.other)
			bridge_pair(leg_find(t, c->u.move.other), l);
	}
	atomic_store_explicit(&m->state, MOVE_DONE, memory_order_release);
	return true;
}

void media_leg_discard(struct leg *l)
{
	l->dead = true;
	leg_release(l);
	close(l->rtp_fd);
	close(l->rtcp_fd);
	free(l);
}

/* The room commands. */
static void cmd_rooms(struct media_thread *t, struct media_cmd *c)
{
	struct leg *l = c->leg ? leg_find(t, c->leg) : NULL;
	struct room *r;
	switch (c->kind) {
	case MEDIA_CMD_ROOM_NEW:
		room_link(t, c->u.room.r);
		break;
	case MEDIA_CMD_ROOM_FREE:
		if ((r = room_find(t, c->u.room.id)))
			room_free(r);
		break;
	case MEDIA_CMD_ROOM_JOIN:
		r = room_find(t, c->u.room.id);
		if (!l || !r) {
			/* only a leg whose memory failed at MEDIA_CMD_ADD */
			log_warn("media: leg %u cannot join room %u: no %s here", c->leg,
				 c->u.room.id, l ? "room" : "leg");
			break;
		}
		if (l->room != r && (l->peer || l->echo))
			bridge_end(l);
		room_join(r, l, c->u.room.muted);
		break;
	case MEDIA_CMD_ROOM_LEAVE:
		if (l)
			room_leave(l);
		break;
	case MEDIA_CMD_ROOM_MUTE:
		if (l)
			room_mute(l, c->u.room.muted);
		break;
	case MEDIA_CMD_ROOM_VOLUME:
		if (l)
			room_volume(l, c->u.room.volume);
		break;
	default:
		log_err("media: thread %u: unknown command %d", t->index, (int)c->kind);
		break;
	}
}

static void cmd_run(struct media_thread *t, struct media_cmd *c)
{
	struct leg *l;
	switch (c->kind) {
	case MEDIA_CMD_ADD:
		cmd_add(t, c);
		break;
	case MEDIA_CMD_SET:
		cmd_set(t, c);
		break;
	case MEDIA_CMD_BRIDGE:
		bridge_pair(leg_find(t, c->leg), leg_find(t, c->u.other));
		break;
	case MEDIA_CMD_UNBRIDGE:
		if ((l = leg_find(t, c->leg)) && (l->peer || l->echo))
			bridge_end(l);
		break;
	case MEDIA_CMD_ECHO:
		if ((l = leg_find(t, c->leg))) {
			room_leave(l);
			if (l->peer)
				bridge_end(l);
			l->echo = true;
			l->gen++;
			leg_path_update(l);
		}
		break;
	case MEDIA_CMD_TONE:
		if ((l = leg_find(t, c->leg)))
			leg_tone_start(l, c->u.tone);
		break;
	case MEDIA_CMD_FREE:
		cmd_free(t, c);
		break;
	case MEDIA_CMD_MOVE:
		cmd_move(t, c);
		break;
	case MEDIA_CMD_ADOPT:
		break; /* cmds_drain */
	case MEDIA_CMD_PLAY:
		if ((l = leg_find(t, c->leg)))
			leg_play_start(l, c->u.play.table, &c->u.play.seq);
		break;
	case MEDIA_CMD_PLAY_PCM:
		if ((l = leg_find(t, c->leg)))
			leg_play_pcm(l, c->u.pcm.pcm, c->u.pcm.n);
		else
			free(c->u.pcm.pcm);
		break;
	case MEDIA_CMD_RECORD:
		cmd_record(t, c);
		break;
	case MEDIA_CMD_RECORD_STOP:
		if ((l = leg_find(t, c->leg)))
			leg_rec_stop(l, MEDIA_REC_STOPPED);
		break;
	default:
		cmd_rooms(t, c);
		break;
	}
}

static void cmds_drain(struct media_thread *t, bool stopping)
{
	uint64_t v;
	if (read(t->cmd_fd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warn("media: command fd: %s", strerror(errno));
	uint32_t slot;
	/* bounded: what the core can have queued */
	for (unsigned n = 0; n < MEDIA_CMD_QUEUE && spsc_slot_get(&t->cmdq, &slot); n++) {
		struct media_cmd *c = &t->cmds[slot];
		if (!stopping) {
			/* a leg on its way: read the eventfd first (above), so the
			 * wake-up of its hand-over is not lost */
			if (c->kind == MEDIA_CMD_ADOPT && !cmd_adopt(t, c))
				return;
			cmd_run(t, c);
		} else if (c->kind == MEDIA_CMD_ADD) {
			close(c->u.add.rtp_fd);
			close(c->u.add.rtcp_fd);
		} else if (c->kind == MEDIA_CMD_ROOM_NEW) {
			room_discard(c->u.room.r);
		} else if (c->kind == MEDIA_CMD_PLAY_PCM) {
			free(c->u.pcm.pcm);
		} else if (c->kind == MEDIA_CMD_RECORD) {
			rec_discard(c->u.rec);
		}
		if (c->kind == MEDIA_CMD_SET)
			explicit_bzero(&c->u.set, sizeof c->u.set);
		spsc_release(&t->cmdq);
	}
}

/* --------------------------------------------------------------- the loop */

static void dead_free(struct media_thread *t)
{
	while (t->dead) {
		struct leg *l = t->dead;
		t->dead = l->dnext;
		l->dnext = NULL;
		if (!l->closed_pending) {
			free(l);
			continue;
		}
		if (!t->closed_wait && !t->rec_wait && ev_push(t, &l->closed)) {
			free(l);
			continue;
		}
		if (t->closed_wait_tail)
			t->closed_wait_tail->dnext = l;
		else
			t->closed_wait = l;
		t->closed_wait_tail = l;
	}
}

static void on_tick(struct media_thread *t)
{
	uint64_t exp;
	if (read(t->tick_fd, &exp, sizeof exp) < 0)
		return;
	uint64_t t0 = media_now_ns();
	/* exp > 1: the thread fell behind. Transcoders and tones keep their
	 * own due times and catch up on their own (bounded, see leg_tick);
	 * prompts and rooms play one frame per expiration, at most
	 * MEDIA_CATCHUP_MAX (a room counts the rest in its timestamps); the
	 * sweep keeps to the wall clock through the expiration count. */
	uint64_t run = exp > MEDIA_CATCHUP_MAX ? MEDIA_CATCHUP_MAX : exp;
	uint64_t skipped = exp - run;
	t->tick_frames = (unsigned)run;
	for (struct leg *l = t->tick_legs, *next; l; l = next) {
		next = l->tnext;
		leg_tick(l, t->now_ms);
	}
	for (struct room *r = t->rooms; r; r = room_next(r))
		room_tick(r, t->now_ms, skipped);
	uint64_t before = t->ticks;
	t->ticks += exp;
	if (t->ticks / MEDIA_SWEEP_TICKS != before / MEDIA_SWEEP_TICKS)
		for (struct leg *l = t->legs; l; l = l->next)
			leg_sweep(l, t->now_ms, t->now_ns);
	ctr_max(&t->ctr.tick_max_us, (media_now_ns() - t0) / 1000);
}

static void set_realtime(struct media_thread *t)
{
	if (!t->me->cfg.realtime)
		return;
	struct sched_param sp = { .sched_priority = MEDIA_RT_PRIORITY };
	int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	if (rc)
		log_notice("media: thread %u: SCHED_FIFO refused (%s), running at normal priority",
			   t->index, strerror(rc));
}

void *media_thread_main(void *arg)
{
	struct media_thread *t = arg;
	char name[16];
	/* for top -H, perf and the benchmarks, which time the media threads */
	snprintf(name, sizeof name, "media%u", t->index);
	pthread_setname_np(pthread_self(), name);
	set_realtime(t);
	struct epoll_event evs[MEDIA_EPOLL_BATCH];
	while (!atomic_load_explicit(&t->stop, memory_order_acquire)) {
		int n = epoll_wait(t->epfd, evs, MEDIA_EPOLL_BATCH, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("media: thread %u: epoll_wait: %s", t->index, strerror(errno));
			break;
		}
		t->now_ns = media_now_ns();
		t->now_ms = t->now_ns / 1000000u;
		/* commands first, whatever order epoll gives: a level-triggered
		 * socket can come before an eventfd that was signalled earlier,
		 * and a command the core gave before a packet arrived applies to
		 * that packet */
		uint32_t slot;
		if (spsc_slot_get(&t->cmdq, &slot))
			cmds_drain(t, false);
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (!p) {
				cmds_drain(t, false);
			} else if (p == &t->tick_fd) {
				on_tick(t);
			} else {
				struct leg_watch *w = p;
				if (!w->leg->dead && !w->leg->moving && !w->leg->held)
					leg_readable(w->leg, w->rtcp);
			}
		}
		dead_free(t);
		closed_wait_flush(t);
		handing_flush(t);
	}
	/* stopping: close what is left without events; a move not handed
	 * over leaves the leg here, one handed over and not adopted is closed
	 * by media_engine_stop */
	cmds_drain(t, true);
	while (t->legs)
		leg_close(t->legs, false);
	while (t->rooms)
		room_free(t->rooms);
	dead_free(t);
	while (t->closed_wait) {
		struct leg *l = t->closed_wait;
		t->closed_wait = l->dnext;
		free(l);
	}
	t->closed_wait_tail = NULL;
	rec_wait_free(t);
	return NULL;
}
