/*
 * sip_txn.c: SIP transactions (RFC 3261 section 17, RFC 6026).
 *
 * DESIGN. Every transaction, client or server, is one allocation: the struct
 * followed by the bytes matching needs (branch and sent-by host, or the
 * RFC 2543 fields), plus one more allocation of exactly the size of the
 * message it may have to send again (the last response of a server
 * transaction, the request and later the ACK of a client transaction). All
 * live transactions sit in one chained hash table keyed by a seeded hash of
 * the branch (or of Call-ID and CSeq for RFC 2543 peers), so CANCEL and ACK
 * land in the bucket of their INVITE. The table doubles when it holds more
 * transactions than buckets.
 *
 * Each transaction has two timers: tm_retx (A, E, G: retransmissions over
 * UDP) and tm_end (B, F, H: give up; D, I, J, K, L, M: linger to absorb
 * retransmissions; and the guards described in sip_txn.h).
 *
 * Re-entrancy: every entry point that may call the TU holds the transaction
 * (busy count) across the callback. Ending a transaction (txn_end) unlinks
 * it at once, so nothing can match it again, but the memory is released only
 * when the last holder lets go (txn_release). So a callback may respond,
 * abandon or otherwise end the very transaction it is told about.
 */
#include "sip_txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "sip_build.h"

/* ------------------------------------------------------------------ types */

enum txn_state {
	TS_CALLING,    /* client INVITE, request sent, nothing back */
	TS_TRYING,     /* non-INVITE, nothing sent back / received yet */
	TS_PROCEEDING, /* a provisional response went out / came in */
	TS_COMPLETED,  /* non-2xx final (INVITE) or any final (non-INVITE) */
	TS_CONFIRMED,  /* server INVITE: the ACK of the non-2xx final came */
	TS_ACCEPTED,   /* INVITE with a 2xx (RFC 6026) */
	TS_TERMINATED, /* unlinked; freed when no holder is left */
};

static const char *const state_name[] = {
	"Calling", "Trying", "Proceeding", "Completed", "Confirmed", "Accepted", "Terminated",
};

/* Key fields stored after the struct. A client transaction uses KF_BRANCH
 * only; a server transaction with an RFC 3261 branch uses KF_BRANCH and
 * KF_HOST; an RFC 2543 server transaction uses all five slots as R_*. */
enum { KF_BRANCH = 0, KF_HOST = 1, KF_MAX = 5 };
enum { R_RURI = 0, R_TOTAG = 1, R_FROMTAG = 2, R_CALLID = 3, R_VIA = 4 };

/* struct sip_dest is 272 bytes, mostly sockaddr_storage padding; with
 * hundreds of thousands of live transactions that matters, so keep the IP
 * sockaddrs only. */
union txn_sa {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

struct txn_addr {
	union txn_sa peer;
	union txn_sa local;
	uint64_t conn_id;
	uint8_t tp; /* enum sip_tp */
};

struct sip_txn {
	struct sip_txn_layer *l;
	struct sip_txn *next;   /* hash chain */
	struct timer tm_retx;   /* A, E, G */
	struct timer tm_end;    /* B, F, H, D, I, J, K, L, M, guards */
	void *user;             /* the TU's pointer */
	char *msg;              /* what we may send again (owned; exact size) */
	uint32_t msg_len;
	uint32_t retx_ms;       /* current retransmission interval */
	uint32_t cseq;          /* RFC 2543 matching */
	uint32_t hash;          /* of the key, seeded */
	uint16_t port;          /* Via sent-by port, default applied */
	uint16_t resp_tag_off;  /* RFC 2543 INVITE: our final's To tag in msg */
	uint16_t resp_tag_len;
	uint16_t busy;          /* holders: callbacks in progress about it */
	uint8_t state;          /* enum txn_state */
	uint8_t method;         /* enum sip_method of the request */
	bool client : 1;
	bool rfc2543 : 1;       /* matched by RFC 2543 rules */
	bool abandoned : 1;     /* no more callbacks */
	bool has_resp_tag : 1;
	struct txn_addr dst;
	uint16_t klen[KF_MAX];  /* lengths of the key fields in key[] */
	char key[];             /* key fields back to back, not NUL-terminated */
};

struct sip_txn_layer {
	struct timer_heap *th;
	struct sip_txn_ops ops;
	void *ctx;
	uint64_t now;
	uint32_t t1, t2, t4;
	bool auto_trying;
	uint64_t seed;
	struct sip_txn **bucket;
	size_t nbucket; /* a power of two */
	size_t count;   /* live (linked) transactions */
};

/* What a message or a transaction is matched on. */
struct txn_key {
	bool rfc2543;
	unsigned nf;
	struct slice f[KF_MAX];
	uint16_t port;
	uint32_t cseq;
	uint32_t hash;
};

#define BUCKETS_MIN 1024u
#define BUCKETS_MAX (1u << 24)
#define MAGIC_COOKIE "z9hG4bK"

/* ------------------------------------------------------------------ small helpers */

static void addr_from_dest(struct txn_addr *a, const struct sip_dest *d)
{
	memset(a, 0, sizeof *a);
	memcpy(&a->peer, &d->peer, sizeof a->peer);
	memcpy(&a->local, &d->local, sizeof a->local);
	a->conn_id = d->conn_id;
	a->tp = (uint8_t)d->tp;
}

static void addr_to_dest(const struct txn_addr *a, struct sip_dest *d)
{
	memset(d, 0, sizeof *d);
	memcpy(&d->peer, &a->peer, sizeof a->peer);
	memcpy(&d->local, &a->local, sizeof a->local);
	d->conn_id = a->conn_id;
	d->tp = (enum sip_tp)a->tp;
}

static bool txn_reliable(const struct sip_txn *t)
{
	return t->dst.tp != SIP_TP_UDP;
}

static uint64_t t64(const struct sip_txn_layer *l)
{
	return 64u * (uint64_t)l->t1;
}

static struct slice txn_field(const struct sip_txn *t, unsigned i)
{
	size_t off = 0;
	for (unsigned k = 0; k < i; k++)
		off += t->klen[k];
	return slice_make(t->key + off, t->klen[i]);
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* FNV-1a over the bytes, started from the layer's random seed so a peer
 * cannot pick branches that all land in one bucket without knowing it, then
 * a finalizer so the low bits (the bucket index) depend on every byte. */
static uint64_t hash_mix(uint64_t h, struct slice s, bool fold_case)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		h ^= fold_case ? lower(c) : c;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint32_t hash_final(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

static uint32_t hash_branch(const struct sip_txn_layer *l, struct slice branch)
{
	return hash_final(hash_mix(l->seed ^ 0xcbf29ce484222325ULL, branch, true));
}

static uint32_t hash_2543(const struct sip_txn_layer *l, struct slice call_id, uint32_t cseq)
{
	uint64_t h = hash_mix(l->seed ^ 0x84222325cbf29ce4ULL, call_id, false);
	h ^= cseq;
	h *= 0x100000001b3ULL;
	return hash_final(h);
}

static bool has_cookie(struct slice branch)
{
	return branch.p && branch.len >= sizeof MAGIC_COOKIE - 1 &&
	       memcmp(branch.p, MAGIC_COOKIE, sizeof MAGIC_COOKIE - 1) == 0;
}

static uint16_t via_port(const struct sip_via *v)
{
	if (v->port)
		return v->port;
	return slice_ieq_cstr(v->transport, "TLS") ? 5061 : 5060;
}

/* Matching key of a received request (RFC 3261 17.2.3). */
static int key_from_request(const struct sip_txn_layer *l, const struct sip_msg *m, struct txn_key *k)
{
	memset(k, 0, sizeof *k);
	if (m->nvia == 0)
		return EBADMSG;
	const struct sip_via *v = &m->via[0];
	if (has_cookie(v->branch)) {
		k->nf = 2;
		k->f[KF_BRANCH] = v->branch;
		k->f[KF_HOST] = v->host;
		k->port = via_port(v);
		k->hash = hash_branch(l, v->branch);
	} else {
		if (!slice_present(m->call_id) || !slice_present(m->ruri.raw))
			return EBADMSG;
		k->rfc2543 = true;
		k->nf = 5;
		k->f[R_RURI] = m->ruri.raw;
		k->f[R_TOTAG] = m->to.tag;
		k->f[R_FROMTAG] = m->from.tag;
		k->f[R_CALLID] = m->call_id;
		k->f[R_VIA] = v->raw;
		k->cseq = m->cseq;
		k->hash = hash_2543(l, m->call_id, m->cseq);
	}
	for (unsigned i = 0; i < k->nf; i++)
		if (k->f[i].len > UINT16_MAX)
			return EBADMSG;
	return 0;
}

/* The key of an existing transaction, as a probe for another lookup. */
static void key_from_txn(const struct sip_txn *t, struct txn_key *k)
{
	memset(k, 0, sizeof *k);
	k->rfc2543 = t->rfc2543;
	k->nf = t->client ? 1 : t->rfc2543 ? 5 : 2;
	for (unsigned i = 0; i < k->nf; i++)
		k->f[i] = txn_field(t, i);
	k->port = t->port;
	k->cseq = t->cseq;
	k->hash = t->hash;
}

/*
 * Does t match key k for a message of method `method` (ACK already mapped to
 * INVITE by the caller, with is_ack set)? Client transactions match on
 * branch and method (17.1.3); server ones on branch, sent-by and method, or
 * on the RFC 2543 fields, where the To tag of an ACK is the one our final
 * response carried.
 */
static bool txn_match(const struct sip_txn *t, const struct txn_key *k, bool client,
		      enum sip_method method, bool is_ack)
{
	if (t->hash != k->hash || t->client != client || t->method != method || t->rfc2543 != k->rfc2543)
		return false;
	if (client)
		return slice_ieq(txn_field(t, KF_BRANCH), k->f[KF_BRANCH]);
	if (!t->rfc2543)
		return t->port == k->port && slice_ieq(txn_field(t, KF_BRANCH), k->f[KF_BRANCH]) &&
		       slice_ieq(txn_field(t, KF_HOST), k->f[KF_HOST]);
	if (t->cseq != k->cseq || !slice_eq(txn_field(t, R_CALLID), k->f[R_CALLID]) ||
	    !slice_eq(txn_field(t, R_FROMTAG), k->f[R_FROMTAG]) ||
	    !slice_eq(txn_field(t, R_RURI), k->f[R_RURI]) || !slice_eq(txn_field(t, R_VIA), k->f[R_VIA]))
		return false;
	if (is_ack && t->has_resp_tag)
		return slice_eq(slice_make(t->msg + t->resp_tag_off, t->resp_tag_len), k->f[R_TOTAG]);
	return slice_eq(txn_field(t, R_TOTAG), k->f[R_TOTAG]);
}

/* ------------------------------------------------------------------ hash table */

static struct sip_txn *table_find(const struct sip_txn_layer *l, const struct txn_key *k, bool client,
				  enum sip_method method, bool is_ack)
{
	for (struct sip_txn *t = l->bucket[k->hash & (l->nbucket - 1)]; t; t = t->next)
		if (txn_match(t, k, client, method, is_ack))
			return t;
	return NULL;
}

/* Double the buckets; on ENOMEM keep the old table (chains grow longer). */
static void table_grow(struct sip_txn_layer *l)
{
	if (l->nbucket >= BUCKETS_MAX)
		return;
	size_t n = l->nbucket * 2;
	struct sip_txn **nb = calloc(n, sizeof *nb);
	if (!nb)
		return;
	for (size_t i = 0; i < l->nbucket; i++) {
		struct sip_txn *t = l->bucket[i];
		while (t) {
			struct sip_txn *next = t->next;
			size_t j = t->hash & (n - 1);
			t->next = nb[j];
			nb[j] = t;
			t = next;
		}
	}
	free(l->bucket);
	l->bucket = nb;
	l->nbucket = n;
}

static void table_insert(struct sip_txn_layer *l, struct sip_txn *t)
{
	if (l->count >= l->nbucket)
		table_grow(l);
	size_t j = t->hash & (l->nbucket - 1);
	t->next = l->bucket[j];
	l->bucket[j] = t;
	l->count++;
}

static void table_remove(struct sip_txn_layer *l, struct sip_txn *t)
{
	struct sip_txn **pp = &l->bucket[t->hash & (l->nbucket - 1)];
	while (*pp && *pp != t)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = t->next;
		l->count--;
	}
	t->next = NULL;
}

/* ------------------------------------------------------------------ lifetime */

static void txn_retx_fired(struct timer *tm, void *arg);
static void txn_end_fired(struct timer *tm, void *arg);

static struct sip_txn *txn_alloc(struct sip_txn_layer *l, const struct txn_key *k, bool client,
				 enum sip_method method)
{
	size_t klen = 0;
	for (unsigned i = 0; i < k->nf; i++)
		klen += k->f[i].len;
	struct sip_txn *t = calloc(1, sizeof *t + klen);
	if (!t)
		return NULL;
	t->l = l;
	t->client = client;
	t->rfc2543 = k->rfc2543;
	t->method = (uint8_t)method;
	t->port = k->port;
	t->cseq = k->cseq;
	t->hash = k->hash;
	size_t off = 0;
	for (unsigned i = 0; i < k->nf; i++) {
		t->klen[i] = (uint16_t)k->f[i].len;
		if (k->f[i].len)
			memcpy(t->key + off, k->f[i].p, k->f[i].len);
		off += k->f[i].len;
	}
	timer_init(&t->tm_retx, txn_retx_fired, t);
	timer_init(&t->tm_end, txn_end_fired, t);
	return t;
}

static void txn_free(struct sip_txn *t)
{
	timer_stop(t->l->th, &t->tm_retx);
	timer_stop(t->l->th, &t->tm_end);
	free(t->msg);
	free(t);
}

static void txn_hold(struct sip_txn *t)
{
	t->busy++;
}

static void txn_release(struct sip_txn *t)
{
	if (--t->busy == 0 && t->state == TS_TERMINATED)
		txn_free(t);
}

static void txn_set_state(struct sip_txn *t, enum txn_state s)
{
	log_debug("txn %p %s %s: %s -> %s", (void *)t, t->client ? "client" : "server",
		  sip_method_name((enum sip_method)t->method), state_name[t->state], state_name[s]);
	t->state = (uint8_t)s;
}

/*
 * End t: unlink it, stop its timers, tell the TU (unless it abandoned t):
 * on_client_fail when reason is not 0, else on_client_gone / on_server_gone.
 * Frees t unless somebody holds it.
 */
static void txn_end(struct sip_txn *t, int reason)
{
	struct sip_txn_layer *l = t->l;
	if (t->state == TS_TERMINATED)
		return;
	txn_set_state(t, TS_TERMINATED);
	timer_stop(l->th, &t->tm_retx);
	timer_stop(l->th, &t->tm_end);
	table_remove(l, t);
	if (!t->abandoned) {
		txn_hold(t);
		if (t->client && reason)
			l->ops.on_client_fail(l->ctx, t, reason);
		else if (t->client && l->ops.on_client_gone)
			l->ops.on_client_gone(l->ctx, t);
		else if (!t->client && l->ops.on_server_gone)
			l->ops.on_server_gone(l->ctx, t);
		t->busy--;
	}
	if (t->busy == 0)
		txn_free(t);
}

/* Arm tm (of t) delay ms from now. Re-arming never fails; a first arming can
 * fail only when the heap cannot grow, which we log (the other timer of the
 * transaction, or the TU, still ends it). */
static int txn_arm(struct sip_txn *t, struct timer *tm, uint64_t delay)
{
	int err = timer_start(t->l->th, tm, t->l->now + delay);
	if (err)
		log_err("sip txn: cannot arm a timer: %s", strerror(err));
	return err;
}

/* Linger in a final state for delay ms, or end now when delay is 0 (reliable
 * transports) or the timer cannot be armed (better than never ending). */
static void txn_linger(struct sip_txn *t, uint64_t delay)
{
	if (delay == 0 || txn_arm(t, &t->tm_end, delay) != 0)
		txn_end(t, 0);
}

static int txn_send(struct sip_txn *t, const char *buf, size_t len)
{
	struct sip_txn_layer *l = t->l;
	struct sip_dest d;
	addr_to_dest(&t->dst, &d);
	int err = l->ops.send(l->ctx, &d, buf, len);
	/* a full socket buffer loses a datagram, as the network may: the
	 * retransmission timers cover it */
	if (err && d.tp == SIP_TP_UDP && (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS))
		err = 0;
	return err;
}

/* ------------------------------------------------------------------ the layer */

int sip_txn_layer_new(struct sip_txn_layer **out, struct timer_heap *th, const struct sip_txn_ops *ops,
		      void *ctx)
{
	*out = NULL;
	if (!th || !ops || !ops->send || !ops->on_request || !ops->on_response || !ops->on_client_fail)
		return EINVAL;
	struct sip_txn_layer *l = calloc(1, sizeof *l);
	if (!l)
		return ENOMEM;
	l->bucket = calloc(BUCKETS_MIN, sizeof *l->bucket);
	if (!l->bucket) {
		free(l);
		return ENOMEM;
	}
	l->nbucket = BUCKETS_MIN;
	l->th = th;
	l->ops = *ops;
	l->ctx = ctx;
	l->t1 = 500;
	l->t2 = 4000;
	l->t4 = 5000;
	l->auto_trying = true;
	if (getrandom(&l->seed, sizeof l->seed, GRND_NONBLOCK) != (ssize_t)sizeof l->seed) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		l->seed = (uint64_t)(uintptr_t)l ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec;
	}
	*out = l;
	return 0;
}

void sip_txn_layer_free(struct sip_txn_layer *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nbucket; i++) {
		struct sip_txn *t = l->bucket[i];
		while (t) {
			struct sip_txn *next = t->next;
			txn_free(t);
			t = next;
		}
	}
	free(l->bucket);
	free(l);
}

void sip_txn_set_now(struct sip_txn_layer *l, uint64_t now_ms)
{
	l->now = now_ms;
}

int sip_txn_set_timers(struct sip_txn_layer *l, uint32_t t1, uint32_t t2, uint32_t t4)
{
	if (t1 == 0 || t2 < t1 || t4 == 0 || t1 > UINT32_MAX / 64)
		return EINVAL;
	l->t1 = t1;
	l->t2 = t2;
	l->t4 = t4;
	return 0;
}

void sip_txn_set_auto_trying(struct sip_txn_layer *l, bool on)
{
	l->auto_trying = on;
}

size_t sip_txn_count(const struct sip_txn_layer *l)
{
	return l->count;
}

/* ------------------------------------------------------------------ timers */

/* A timer is due no later than now; counting the next interval from the
 * time it was due keeps the schedule even if the caller's clock is stale. */
static void txn_clock_from(struct sip_txn *t, const struct timer *tm)
{
	if (tm->due_ms > t->l->now)
		t->l->now = tm->due_ms;
}

/* A, E, G */
static void txn_retx_fired(struct timer *tm, void *arg)
{
	struct sip_txn *t = arg;
	struct sip_txn_layer *l = t->l;
	txn_clock_from(t, tm);
	if (!t->msg)
		return;
	bool again;
	uint64_t next;
	if (t->client && t->method == SIP_INVITE) { /* timer A: doubles, timer B bounds it */
		again = t->state == TS_CALLING;
		next = 2 * (uint64_t)t->retx_ms;
		if (next > t64(l))
			next = t64(l);
	} else if (t->client) { /* timer E */
		again = t->state == TS_TRYING || t->state == TS_PROCEEDING;
		next = t->state == TS_PROCEEDING ? l->t2 : 2 * (uint64_t)t->retx_ms;
		if (next > l->t2)
			next = l->t2;
	} else { /* timer G */
		again = t->method == SIP_INVITE && t->state == TS_COMPLETED;
		next = 2 * (uint64_t)t->retx_ms;
		if (next > l->t2)
			next = l->t2;
	}
	if (!again)
		return;
	txn_hold(t);
	int err = txn_send(t, t->msg, t->msg_len);
	if (err) {
		log_info("sip txn: retransmission failed: %s", strerror(err));
		txn_end(t, err);
	} else {
		t->retx_ms = (uint32_t)next;
		txn_arm(t, &t->tm_retx, next);
	}
	txn_release(t);
}

/* B, F (fail), H (no ACK), D, I, J, K, L, M (linger over), guards */
static void txn_end_fired(struct timer *tm, void *arg)
{
	struct sip_txn *t = arg;
	txn_clock_from(t, tm);
	int reason = 0;
	if (t->client && (t->state == TS_CALLING || t->state == TS_TRYING ||
			  (t->state == TS_PROCEEDING && t->method != SIP_INVITE)))
		reason = ETIMEDOUT; /* B or F */
	else if (!t->client && t->method == SIP_INVITE && t->state == TS_COMPLETED)
		log_info("sip txn: no ACK for a final response to INVITE (timer H)");
	txn_hold(t);
	txn_end(t, reason);
	txn_release(t);
}

/* ------------------------------------------------------------------ server side */

/* Keep a copy of a response as the one to retransmit. */
static int txn_keep(struct sip_txn *t, const char *buf, size_t len)
{
	char *copy = malloc(len);
	if (!copy)
		return ENOMEM;
	memcpy(copy, buf, len);
	free(t->msg);
	t->msg = copy;
	t->msg_len = (uint32_t)len;
	t->has_resp_tag = false;
	return 0;
}

/* RFC 2543 peers ACK a non-2xx with the To tag of our response, which is the
 * only field of theirs that differs from the INVITE: remember where it is. */
static void txn_note_resp_tag(struct sip_txn *t)
{
	struct sip_msg *m = malloc(sizeof *m);
	if (!m)
		return;
	if (sip_msg_parse(m, t->msg, t->msg_len, SIP_DGRAM) == 0 && m->to.tag.p &&
	    m->to.tag.p >= t->msg && m->to.tag.len <= UINT16_MAX &&
	    (size_t)(m->to.tag.p - t->msg) <= UINT16_MAX) {
		t->resp_tag_off = (uint16_t)(m->to.tag.p - t->msg);
		t->resp_tag_len = (uint16_t)m->to.tag.len;
		t->has_resp_tag = true;
	}
	free(m);
}

int sip_txn_respond(struct sip_txn *st, int status, const char *buf, size_t len)
{
	if (!st || st->client || !buf || len == 0 || len > SIP_MAX_MSG || status < 100 || status > 699 ||
	    st->state == TS_TERMINATED)
		return EINVAL;
	struct sip_txn_layer *l = st->l;
	bool invite = st->method == SIP_INVITE;
	int err = 0;
	txn_hold(st);
	if (invite && st->state == TS_ACCEPTED) {
		/* RFC 6026 7.1: the TU's own 2xx retransmissions pass through */
		if (status < 200 || status >= 300) {
			err = EPROTO;
		} else if ((err = txn_send(st, buf, len)) != 0) {
			txn_end(st, 0);
		}
		goto out;
	}
	if (st->state != TS_TRYING && st->state != TS_PROCEEDING) {
		err = EPROTO;
		goto out;
	}
	if ((err = txn_keep(st, buf, len)) != 0)
		goto out;
	if ((err = txn_send(st, st->msg, st->msg_len)) != 0) {
		log_info("sip txn: sending a %d failed: %s", status, strerror(err));
		txn_end(st, 0);
		goto out;
	}
	if (status < 200) {
		txn_set_state(st, TS_PROCEEDING);
	} else if (invite && status < 300) {
		/* the TU retransmits its 2xx; the copy is of no use any more */
		free(st->msg);
		st->msg = NULL;
		st->msg_len = 0;
		txn_set_state(st, TS_ACCEPTED);
		txn_linger(st, t64(l)); /* timer L */
	} else if (invite) {
		txn_set_state(st, TS_COMPLETED);
		if (st->rfc2543)
			txn_note_resp_tag(st);
		if (!txn_reliable(st)) {
			st->retx_ms = l->t1;
			txn_arm(st, &st->tm_retx, l->t1); /* timer G */
		}
		txn_linger(st, t64(l)); /* timer H */
	} else {
		txn_set_state(st, TS_COMPLETED);
		txn_linger(st, txn_reliable(st) ? 0 : t64(l)); /* timer J */
	}
out:
	txn_release(st);
	return err;
}

/* RFC 3261 17.2.1: answer an INVITE the TU did not answer at once with 100. */
static void txn_send_trying(struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src)
{
	size_t cap = req->len + 1024; /* a response to req, no body: never longer */
	char *mem = malloc(cap);
	if (!mem)
		return;
	struct sip_buf b;
	sip_buf_init(&b, mem, cap);
	sip_build_response(&b, req, src, 100, "Trying", NULL);
	const struct sip_hdr *ts = sip_msg_hdr_name(req, SLICE_LIT("Timestamp"));
	if (ts) { /* RFC 3261 8.2.6.1 */
		sip_buf_str(&b, "Timestamp: ");
		sip_buf_slice(&b, ts->value);
		sip_buf_str(&b, "\r\n");
	}
	sip_build_end(&b, NULL, 0);
	if (sip_buf_ok(&b))
		sip_txn_respond(st, 100, b.p, b.len);
	free(mem);
}

/* A request that matched server transaction st. */
static void server_again(struct sip_txn *st, const struct sip_msg *m, const struct sip_dest *src)
{
	struct sip_txn_layer *l = st->l;
	if (m->method_id == SIP_ACK) {
		if (st->state == TS_COMPLETED) {
			txn_set_state(st, TS_CONFIRMED);
			timer_stop(l->th, &st->tm_retx);
			/* the response copy was kept for retransmissions only
			 * (and, RFC 2543, to match this ACK) */
			free(st->msg);
			st->msg = NULL;
			st->msg_len = 0;
			st->has_resp_tag = false;
			txn_linger(st, txn_reliable(st) ? 0 : l->t4); /* timer I */
		} else if (st->state == TS_ACCEPTED && !st->abandoned) {
			l->ops.on_request(l->ctx, NULL, m, src); /* RFC 6026 7.1 */
		}
		return; /* otherwise absorbed */
	}
	if (st->method == SIP_INVITE && (st->state == TS_ACCEPTED || st->state == TS_CONFIRMED))
		return; /* RFC 6026: the TU resends its 2xx, not us */
	if (!st->msg)
		return; /* nothing sent yet */
	int err = txn_send(st, st->msg, st->msg_len);
	if (err)
		txn_end(st, 0);
}

static int input_request(struct sip_txn_layer *l, const struct sip_msg *m, const struct sip_dest *src)
{
	struct txn_key k;
	int err = key_from_request(l, m, &k);
	if (err)
		return err;
	bool is_ack = m->method_id == SIP_ACK;
	enum sip_method method = is_ack ? SIP_INVITE : m->method_id;
	struct sip_txn *st = table_find(l, &k, false, method, is_ack);
	if (st) {
		txn_hold(st);
		server_again(st, m, src);
		txn_release(st);
		return 0;
	}
	if (is_ack) {
		l->ops.on_request(l->ctx, NULL, m, src);
		return 0;
	}
	st = txn_alloc(l, &k, false, method);
	if (!st)
		return ENOMEM;
	struct sip_dest d;
	sip_response_dest(m, src, &d);
	addr_from_dest(&st->dst, &d);
	st->state = method == SIP_INVITE ? TS_PROCEEDING : TS_TRYING;
	table_insert(l, st);
	if (method != SIP_INVITE)
		txn_arm(st, &st->tm_end, t64(l) + l->t4); /* guard: the TU never answers */
	txn_hold(st);
	l->ops.on_request(l->ctx, st, m, src);
	if (method == SIP_INVITE && l->auto_trying && st->state == TS_PROCEEDING && !st->msg)
		txn_send_trying(st, m, src);
	txn_release(st);
	return 0;
}

struct sip_txn *sip_txn_cancel_target(struct sip_txn *cancel_st)
{
	if (!cancel_st || cancel_st->client || cancel_st->method != SIP_CANCEL ||
	    cancel_st->state == TS_TERMINATED)
		return NULL;
	struct txn_key k;
	key_from_txn(cancel_st, &k);
	return table_find(cancel_st->l, &k, false, SIP_INVITE, false);
}

/* ------------------------------------------------------------------ client side */

/* A bounded writer that only counts when p is NULL (first pass: the size). */
struct wbuf {
	char *p;
	size_t len;
};

static void wb_add(struct wbuf *w, const char *s, size_t n)
{
	if (w->p && n)
		memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void wb_str(struct wbuf *w, const char *s)
{
	wb_add(w, s, strlen(s));
}

static void wb_slice(struct wbuf *w, struct slice s)
{
	wb_add(w, s.p, s.len);
}

/* RFC 3261 17.1.1.3: the ACK of a non-2xx final, built from the INVITE. */
static void ack_write(struct wbuf *w, const struct sip_msg *inv, const struct sip_msg *resp)
{
	char cseq[32];
	snprintf(cseq, sizeof cseq, "CSeq: %u ACK\r\n", (unsigned)inv->cseq);
	wb_str(w, "ACK ");
	wb_slice(w, inv->ruri.raw);
	wb_str(w, " SIP/2.0\r\nVia: ");
	wb_slice(w, inv->via[0].raw);
	wb_str(w, "\r\n");
	for (unsigned i = 0; i < inv->nhdrs; i++)
		if (inv->hdrs[i].id == SIP_HDR_ROUTE) {
			wb_str(w, "Route: ");
			wb_slice(w, inv->hdrs[i].value);
			wb_str(w, "\r\n");
		}
	wb_str(w, "From: ");
	wb_slice(w, inv->from.raw);
	wb_str(w, "\r\nTo: ");
	wb_slice(w, resp->to.raw);
	wb_str(w, "\r\nCall-ID: ");
	wb_slice(w, inv->call_id);
	wb_str(w, "\r\n");
	wb_str(w, cseq);
	wb_str(w, "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
}

/* Replace the stored INVITE of ct by the ACK for resp. */
static int ack_build(struct sip_txn *ct, const struct sip_msg *resp)
{
	struct sip_msg *inv = malloc(sizeof *inv);
	if (!inv)
		return ENOMEM;
	int err = sip_msg_parse(inv, ct->msg, ct->msg_len, SIP_DGRAM);
	if (err || inv->nvia == 0) {
		free(inv);
		return err ? err : EBADMSG;
	}
	struct wbuf w = { NULL, 0 };
	ack_write(&w, inv, resp);
	char *ack = malloc(w.len);
	if (!ack) {
		free(inv);
		return ENOMEM;
	}
	size_t n = w.len;
	w = (struct wbuf){ ack, 0 };
	ack_write(&w, inv, resp);
	free(inv); /* its slices pointed into ct->msg, freed next */
	free(ct->msg);
	ct->msg = ack;
	ct->msg_len = (uint32_t)n;
	return 0;
}

static void client_deliver(struct sip_txn *ct, const struct sip_msg *m, const struct sip_dest *src)
{
	if (!ct->abandoned)
		ct->l->ops.on_response(ct->l->ctx, ct, m, src);
}

static void client_invite_response(struct sip_txn *ct, const struct sip_msg *m, const struct sip_dest *src)
{
	struct sip_txn_layer *l = ct->l;
	int status = m->status;
	switch (ct->state) {
	case TS_CALLING:
	case TS_PROCEEDING:
		if (status < 200) {
			txn_set_state(ct, TS_PROCEEDING);
			timer_stop(l->th, &ct->tm_retx);
			if (!ct->abandoned)
				timer_stop(l->th, &ct->tm_end); /* B applies in Calling only */
			client_deliver(ct, m, src);
		} else if (status < 300) {
			txn_set_state(ct, TS_ACCEPTED);
			timer_stop(l->th, &ct->tm_retx);
			/* the request is not sent again; a 2xx is ACKed by the TU */
			free(ct->msg);
			ct->msg = NULL;
			ct->msg_len = 0;
			if (txn_arm(ct, &ct->tm_end, t64(l)) != 0) { /* timer M */
				client_deliver(ct, m, src);
				txn_end(ct, 0);
				break;
			}
			client_deliver(ct, m, src);
		} else {
			txn_set_state(ct, TS_COMPLETED);
			timer_stop(l->th, &ct->tm_retx);
			int err = ack_build(ct, m);
			if (err) {
				log_err("sip txn: cannot build the ACK: %s", strerror(err));
				free(ct->msg);
				ct->msg = NULL;
				ct->msg_len = 0;
			} else if ((err = txn_send(ct, ct->msg, ct->msg_len)) != 0) {
				log_info("sip txn: sending ACK failed: %s", strerror(err));
			}
			bool end_now = err || txn_reliable(ct) ||
				       txn_arm(ct, &ct->tm_end, t64(l)) != 0; /* timer D */
			client_deliver(ct, m, src);
			if (end_now)
				txn_end(ct, 0);
		}
		break;
	case TS_COMPLETED:
		/* a retransmitted final: send the ACK again (17.1.1.2) */
		if (status >= 300 && ct->msg) {
			int err = txn_send(ct, ct->msg, ct->msg_len);
			if (err)
				txn_end(ct, 0);
		}
		break;
	case TS_ACCEPTED:
		/* RFC 6026 7.2: every 2xx goes up; it may be a new fork */
		if (status >= 200 && status < 300)
			client_deliver(ct, m, src);
		break;
	default:
		break;
	}
}

static void client_nict_response(struct sip_txn *ct, const struct sip_msg *m, const struct sip_dest *src)
{
	struct sip_txn_layer *l = ct->l;
	if (ct->state != TS_TRYING && ct->state != TS_PROCEEDING)
		return; /* Completed absorbs retransmissions */
	if (m->status < 200) {
		txn_set_state(ct, TS_PROCEEDING);
		client_deliver(ct, m, src);
		return;
	}
	txn_set_state(ct, TS_COMPLETED);
	timer_stop(l->th, &ct->tm_retx);
	free(ct->msg); /* never sent again */
	ct->msg = NULL;
	ct->msg_len = 0;
	bool end_now = txn_reliable(ct) || txn_arm(ct, &ct->tm_end, l->t4) != 0; /* timer K */
	client_deliver(ct, m, src);
	if (end_now)
		txn_end(ct, 0);
}

static int input_response(struct sip_txn_layer *l, const struct sip_msg *m, const struct sip_dest *src)
{
	if (m->nvia == 0 || !slice_present(m->via[0].branch) || m->via[0].branch.len > UINT16_MAX)
		return ENOENT;
	struct txn_key k = { 0 };
	k.nf = 1;
	k.f[KF_BRANCH] = m->via[0].branch;
	k.hash = hash_branch(l, m->via[0].branch);
	struct sip_txn *ct = table_find(l, &k, true, m->cseq_method_id, false);
	if (!ct)
		return ENOENT;
	if (m->status < 100 || m->status > 699)
		return EBADMSG;
	txn_hold(ct);
	/* over TCP, the ACK follows the connection the answer came on */
	if (ct->dst.tp == SIP_TP_TCP && ct->dst.conn_id == 0 && src && src->tp == SIP_TP_TCP)
		ct->dst.conn_id = src->conn_id;
	if (ct->method == SIP_INVITE)
		client_invite_response(ct, m, src);
	else
		client_nict_response(ct, m, src);
	txn_release(ct);
	return 0;
}

int sip_txn_request(struct sip_txn_layer *l, const char *buf, size_t len, const struct sip_dest *dst,
		    void *user, struct sip_txn **out)
{
	if (out)
		*out = NULL;
	if (!l || !buf || len == 0 || len > SIP_MAX_MSG || !dst)
		return EINVAL;
	struct sip_msg *m = malloc(sizeof *m);
	if (!m)
		return ENOMEM;
	int err = sip_msg_parse(m, buf, len, SIP_DGRAM);
	if (err || !m->is_request || m->method_id == SIP_ACK || m->nvia == 0 ||
	    !slice_present(m->via[0].branch) || m->via[0].branch.len == 0 ||
	    m->via[0].branch.len > UINT16_MAX) {
		free(m);
		return EINVAL;
	}
	struct txn_key k = { 0 };
	k.nf = 1;
	k.f[KF_BRANCH] = m->via[0].branch;
	k.hash = hash_branch(l, m->via[0].branch);
	enum sip_method method = m->method_id;
	struct sip_txn *ct = NULL;
	if (table_find(l, &k, true, method, false)) {
		err = EEXIST;
		goto out;
	}
	ct = txn_alloc(l, &k, true, method);
	if (!ct) {
		err = ENOMEM;
		goto out;
	}
	addr_from_dest(&ct->dst, dst);
	ct->user = user;
	ct->state = method == SIP_INVITE ? TS_CALLING : TS_TRYING;
	if ((err = txn_keep(ct, buf, len)) != 0)
		goto out;
	/* timer B / F first: a transaction that could never time out must
	 * not start */
	if ((err = txn_arm(ct, &ct->tm_end, t64(l))) != 0)
		goto out;
	if (!txn_reliable(ct)) {
		ct->retx_ms = l->t1;
		txn_arm(ct, &ct->tm_retx, l->t1); /* timer A / E */
	}
	if ((err = txn_send(ct, ct->msg, ct->msg_len)) != 0)
		goto out;
	table_insert(l, ct);
	if (out)
		*out = ct;
	ct = NULL;
out:
	if (ct)
		txn_free(ct);
	free(m);
	return err;
}

/* ------------------------------------------------------------------ input, accessors */

int sip_txn_input(struct sip_txn_layer *l, const struct sip_msg *m, const struct sip_dest *src)
{
	if (!l || !m || !src)
		return EINVAL;
	return m->is_request ? input_request(l, m, src) : input_response(l, m, src);
}

void sip_txn_abandon(struct sip_txn *t)
{
	if (!t || t->state == TS_TERMINATED || t->abandoned)
		return;
	t->abandoned = true;
	t->user = NULL;
	if (!timer_armed(&t->tm_end)) {
		txn_hold(t);
		txn_linger(t, t64(t->l));
		txn_release(t);
	}
}

void *sip_txn_user(const struct sip_txn *t)
{
	return t->user;
}

void sip_txn_set_user(struct sip_txn *t, void *user)
{
	t->user = user;
}

void sip_txn_dest(const struct sip_txn *t, struct sip_dest *out)
{
	addr_to_dest(&t->dst, out);
}

void sip_txn_set_dest(struct sip_txn *t, const struct sip_dest *dst)
{
	addr_from_dest(&t->dst, dst);
}

enum sip_method sip_txn_method(const struct sip_txn *t)
{
	return (enum sip_method)t->method;
}

bool sip_txn_is_client(const struct sip_txn *t)
{
	return t->client;
}
