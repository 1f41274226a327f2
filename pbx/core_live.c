/*
 * core_live.c: answering the web admin's questions about live state.
 *
 * An HTTP thread posts a query to the core's queue and waits, bounded, for
 * the core to fill it in between two events. A query is shared by the two
 * threads with a reference count, so a waiter that gives up (timeout)
 * never leaves the core writing into freed memory.
 */
#include "core_priv.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "call.h"
#include "live.h"
#include "log.h"

#define LIVE_WAIT_MS 1000
#define LIVE_QUEUE_MAX 64

enum live_kind {
	LIVE_REGS, LIVE_BANS, LIVE_BAN_LIFT, LIVE_CALLS, LIVE_CALL_HANGUP, LIVE_STATS,
	LIVE_CONF_MEMBERS, LIVE_CONF_MUTE, LIVE_CONF_KICK, LIVE_CONF_LOCK, LIVE_NET,
};

struct live_query {
	struct live_query *next;
	enum live_kind kind;
	char arg[64];
	uint64_t id;     /* LIVE_CONF_MUTE, LIVE_CONF_KICK: the participant */
	int flag;        /* LIVE_CONF_MUTE: muted; LIVE_CONF_LOCK: locked */
	void *out;       /* LIVE_REGS: struct live_binding[max]; LIVE_BANS: struct live_ban[max] */
	size_t max, n, total;
	int result;
	bool done;
	int refs;        /* under live->mu */
};

struct core_live {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct live_query *head, **tail;
	size_t queued;
	int efd;
	struct loop_watch w;
	struct core *core;
};

static void query_unref_locked(struct live_query *q)
{
	if (--q->refs == 0) {
		free(q->out);
		free(q);
	}
}

static void fill_binding(void *ctx, struct reg_binding *b)
{
	struct live_query *q = ctx;
	q->total++;
	if (q->n >= q->max)
		return;
	struct live_binding *o = &((struct live_binding *)q->out)[q->n++];
	memset(o, 0, sizeof *o);
	snprintf(o->aor, sizeof o->aor, "%s", b->aor->aor);
	snprintf(o->contact, sizeof o->contact, "%s", b->contact);
	sip_addr_str(&b->reach.peer, o->source, sizeof o->source);
	snprintf(o->transport, sizeof o->transport, "%s", b->reach.tp == SIP_TP_TCP ? "tcp" : "udp");
	snprintf(o->user_agent, sizeof o->user_agent, "%s", b->user_agent);
	o->expires_at = b->expires_at;
}

struct ban_fill {
	struct live_query *q;
	uint64_t now_ms;
	int64_t now_s;
};

static void fill_ban(void *ctx, const struct sockaddr_storage *addr, uint64_t until_ms, unsigned failures)
{
	struct ban_fill *f = ctx;
	struct live_query *q = f->q;
	q->total++;
	if (q->n >= q->max)
		return;
	struct live_ban *o = &((struct live_ban *)q->out)[q->n++];
	memset(o, 0, sizeof *o);
	sip_addr_host(addr, o->addr, sizeof o->addr);
	o->until = f->now_s + (int64_t)((until_ms > f->now_ms ? until_ms - f->now_ms : 0) / 1000);
	o->failures = failures;
}

static void answer(struct core *c, struct live_query *q)
{
	switch (q->kind) {
	case LIVE_REGS:
		registrar_foreach(c->reg, fill_binding, q);
		q->result = 0;
		break;
	case LIVE_BANS: {
		struct ban_fill f = { q, loop_now_ms(), loop_wall_s() };
		throttle_list(c->thr, f.now_ms, fill_ban, &f);
		q->result = 0;
		break;
	}
	case LIVE_CALLS:
		q->n = calls_list(c, q->out, q->max, &q->total);
		q->result = 0;
		break;
	case LIVE_CALL_HANGUP: {
		char *end;
		unsigned long long id = strtoull(q->arg, &end, 10);
		q->result = *end ? EINVAL : calls_hangup(c, id);
		break;
	}
	case LIVE_STATS: {
		struct live_stats *st = q->out;
		struct media_totals mt;
		st->registrations = registrar_count(c->reg);
		st->calls_active = calls_active(c);
		st->call_setups = c->st.call_setups;
		st->calls_answered = c->st.calls_answered;
		st->messages = c->st.messages;
		st->sip_rx = c->st.rx;
		st->sip_rx_bad = c->st.rx_bad;
		st->auth_failures = c->st.auth_failures;
		media_engine_totals(c->media, &mt);
		st->rtp_rx_packets = mt.rx_packets;
		st->rtp_tx_packets = mt.tx_packets;
		st->rtp_lost_packets = mt.lost_packets;
		st->media_legs = mt.legs;
		st->media_tick_max_us = mt.tick_max_us;
		q->n = 1;
		q->result = 0;
		break;
	}
	case LIVE_NET:
		core_net_describe(c, q->out);
		q->n = 1;
		q->result = 0;
		break;
	case LIVE_CONF_MEMBERS:
		q->n = conf_admin_list(c, q->out, q->max, &q->total);
		q->result = 0;
		break;
	case LIVE_CONF_MUTE:
		q->result = conf_admin_mute(c, q->arg, q->id, q->flag != 0);
		break;
	case LIVE_CONF_KICK:
		q->result = conf_admin_kick(c, q->arg, q->id);
		break;
	case LIVE_CONF_LOCK:
		q->result = conf_admin_lock(c, q->arg, q->flag != 0);
		break;
	case LIVE_BAN_LIFT: {
		struct sockaddr_storage a;
		if (sip_addr_parse(q->arg, 0, &a) != 0)
			q->result = EINVAL;
		else
			q->result = throttle_lift(c->thr, &a) ? 0 : ENOENT;
		if (q->result == 0)
			log_notice("ban on %s lifted by the administrator", q->arg);
		break;
	}
	}
}

static void on_live(struct loop_watch *w, uint32_t events)
{
	struct core_live *l = (struct core_live *)((char *)w - offsetof(struct core_live, w));
	uint64_t v;
	(void)events;
	ssize_t r = read(l->efd, &v, sizeof v);
	(void)r;
	for (;;) {
		pthread_mutex_lock(&l->mu);
		struct live_query *q = l->head;
		if (q) {
			l->head = q->next;
			if (!l->head)
				l->tail = &l->head;
			l->queued--;
		}
		pthread_mutex_unlock(&l->mu);
		if (!q)
			return;
		answer(l->core, q); /* no lock held: the waiter only reads after done */
		pthread_mutex_lock(&l->mu);
		q->done = true;
		pthread_cond_broadcast(&l->cond);
		query_unref_locked(q);
		pthread_mutex_unlock(&l->mu);
	}
}

/* HTTP thread: post a query and wait for it with a bound. id and flag are
 * the arguments of the room controls besides arg. */
static int ask_full(struct core_live *l, enum live_kind kind, const char *arg, uint64_t id, int flag,
		    void *out, size_t elem, size_t max, size_t *n, size_t *total)
{
	struct live_query *q = calloc(1, sizeof *q);
	if (!q)
		return ENOMEM;
	q->kind = kind;
	if (arg)
		snprintf(q->arg, sizeof q->arg, "%s", arg);
	q->id = id;
	q->flag = flag;
	q->max = max;
	if (max && !(q->out = calloc(max, elem))) {
		free(q);
		return ENOMEM;
	}
	q->refs = 2;
	pthread_mutex_lock(&l->mu);
	if (l->queued >= LIVE_QUEUE_MAX) {
		pthread_mutex_unlock(&l->mu);
		free(q->out);
		free(q);
		return EBUSY;
	}
	*l->tail = q;
	l->tail = &q->next;
	l->queued++;
	uint64_t one = 1;
	ssize_t w = write(l->efd, &one, sizeof one);
	(void)w;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += (LIVE_WAIT_MS % 1000) * 1000000L;
	until.tv_sec += LIVE_WAIT_MS / 1000 + until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	while (!q->done)
		if (pthread_cond_timedwait(&l->cond, &l->mu, &until) == ETIMEDOUT)
			break;
	int rc = ETIMEDOUT;
	if (q->done) {
		rc = q->result;
		if (out && q->n)
			memcpy(out, q->out, q->n * elem);
		if (n)
			*n = q->n;
		if (total)
			*total = q->total;
	}
	query_unref_locked(q);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

static int ask(struct core_live *l, enum live_kind kind, const char *arg, void *out, size_t elem,
	       size_t max, size_t *n, size_t *total)
{
	return ask_full(l, kind, arg, 0, 0, out, elem, max, n, total);
}

static int ops_registrations(void *ctx, struct live_binding *out, size_t max, size_t *n, size_t *total)
{
	return ask(ctx, LIVE_REGS, NULL, out, sizeof *out, max, n, total);
}

static int ops_bans(void *ctx, struct live_ban *out, size_t max, size_t *n)
{
	return ask(ctx, LIVE_BANS, NULL, out, sizeof *out, max, n, NULL);
}

static int ops_ban_lift(void *ctx, const char *addr)
{
	return ask(ctx, LIVE_BAN_LIFT, addr, NULL, 0, 0, NULL, NULL);
}

static int ops_calls(void *ctx, struct live_call *out, size_t max, size_t *n, size_t *total)
{
	return ask(ctx, LIVE_CALLS, NULL, out, sizeof *out, max, n, total);
}

static int ops_call_hangup(void *ctx, uint64_t id)
{
	char arg[24];
	snprintf(arg, sizeof arg, "%llu", (unsigned long long)id);
	return ask(ctx, LIVE_CALL_HANGUP, arg, NULL, 0, 0, NULL, NULL);
}

static int ops_conf_members(void *ctx, struct live_conf_member *out, size_t max, size_t *n, size_t *total)
{
	return ask(ctx, LIVE_CONF_MEMBERS, NULL, out, sizeof *out, max, n, total);
}

/* A room number that does not fit cannot be in use. */
static bool room_arg_ok(const char *room)
{
	return room && strlen(room) < sizeof ((struct live_query *)0)->arg;
}

static int ops_conf_mute(void *ctx, const char *room, uint64_t id, int muted)
{
	if (!room_arg_ok(room))
		return ENOENT;
	return ask_full(ctx, LIVE_CONF_MUTE, room, id, muted != 0, NULL, 0, 0, NULL, NULL);
}

static int ops_conf_kick(void *ctx, const char *room, uint64_t id)
{
	if (!room_arg_ok(room))
		return ENOENT;
	return ask_full(ctx, LIVE_CONF_KICK, room, id, 0, NULL, 0, 0, NULL, NULL);
}

static int ops_conf_lock(void *ctx, const char *room, int locked)
{
	if (!room_arg_ok(room))
		return ENOENT;
	return ask_full(ctx, LIVE_CONF_LOCK, room, 0, locked != 0, NULL, 0, 0, NULL, NULL);
}

static int ops_stats(void *ctx, struct live_stats *out)
{
	return ask(ctx, LIVE_STATS, NULL, out, sizeof *out, 1, NULL, NULL);
}

static int ops_net(void *ctx, struct live_net *out)
{
	return ask(ctx, LIVE_NET, NULL, out, sizeof *out, 1, NULL, NULL);
}

static void ops_config_changed(void *ctx)
{
	struct core_live *l = ctx;
	jobs_config_check(l->core->jobs);
}

/* Any thread: jobs_vm_changed only queues the recount. */
static void ops_vm_changed(void *ctx, const char *mailbox)
{
	struct core_live *l = ctx;
	jobs_vm_changed(l->core->jobs, mailbox);
}

int core_live_init(struct core *c)
{
	struct core_live *l = calloc(1, sizeof *l);
	if (!l)
		return ENOMEM;
	l->core = c;
	l->tail = &l->head;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int err = l->efd < 0 ? errno : loop_add(&c->loop, &l->w, l->efd, EPOLLIN, on_live);
	if (err) {
		if (l->efd >= 0)
			close(l->efd);
		pthread_mutex_destroy(&l->mu);
		pthread_cond_destroy(&l->cond);
		free(l);
		return err;
	}
	c->live = l;
	return 0;
}

/* Called after the HTTP server stopped: nobody can wait any more. */
void core_live_free(struct core *c)
{
	struct core_live *l = c->live;
	if (!l)
		return;
	loop_del(&c->loop, &l->w);
	while (l->head) {
		struct live_query *q = l->head;
		l->head = q->next;
		query_unref_locked(q);
	}
	close(l->efd);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cond);
	free(l);
	c->live = NULL;
}

void core_live_ops(struct core *c, struct live_ops *ops)
{
	ops->ctx = c->live;
	ops->registrations = ops_registrations;
	ops->bans = ops_bans;
	ops->ban_lift = ops_ban_lift;
	ops->calls = ops_calls;
	ops->call_hangup = ops_call_hangup;
	ops->stats = ops_stats;
	ops->net = ops_net;
	ops->conf_members = ops_conf_members;
	ops->conf_mute = ops_conf_mute;
	ops->conf_kick = ops_conf_kick;
	ops->conf_lock = ops_conf_lock;
	ops->config_changed = ops_config_changed;
	ops->vm_changed = ops_vm_changed;
}
