/*
 * throttle.c: failed-attempt counting and bans per source address.
 *
 * DESIGN. All memory is taken at creation: a pool of THROTTLE_MAX_ENTRIES
 * entries, a bucket array twice that size for a chained hash, and two age
 * lists threaded through the entries by index:
 *   - counting: sources with failures but no ban, ordered by the start of
 *     their window (an entry whose window restarts moves to the tail), so
 *     the head is always the first to expire;
 *   - banned: sources serving a ban, ordered by when the ban started.
 * A flood of distinct sources therefore recycles counting entries oldest
 * first and leaves running bans alone. Expired heads of both lists are
 * collected a few at a time on each failure, so the cost of a call stays
 * constant. The hash is seeded from getrandom() so that a sender choosing
 * its addresses cannot aim them all at one bucket.
 *
 * Known limit: an attacker who can fill the whole table faster than the
 * window (65536 distinct sources within window_s) pushes a slow guesser's
 * count out before it reaches the limit. Owned by the SIP core thread.
 */
#include "throttle.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define THR_NIL UINT32_MAX
#define THR_BUCKETS (2 * THROTTLE_MAX_ENTRIES) /* power of two */
#define THR_GC_STEPS 4                         /* expired heads collected per failure */

enum thr_state { THR_FREE = 0, THR_COUNTING, THR_BANNED };

struct thr_entry {
	uint8_t key[16];   /* IPv4-mapped address, or IPv6 /64 with the low half zero */
	uint64_t start_ms; /* COUNTING: when the current window began */
	uint64_t until_ms; /* BANNED: when the ban ends */
	uint32_t count;    /* failures in the current window */
	uint32_t failures; /* failures since the entry was made (shown by list) */
	uint32_t hnext;    /* next entry in the same bucket */
	uint32_t prev;     /* neighbours in the counting or banned list, */
	uint32_t next;     /* or next in the free list */
	uint8_t state;     /* enum thr_state */
};

struct thr_list {
	uint32_t head, tail;
};

struct thr_net {
	uint8_t addr[16]; /* IPv4 networks as IPv4-mapped, prefix + 96 */
	unsigned bits;
};

struct throttle {
	struct throttle_cfg cfg;
	uint64_t seed[2];
	struct thr_entry *e;  /* THROTTLE_MAX_ENTRIES */
	uint32_t *buckets;    /* THR_BUCKETS chain heads */
	uint32_t free_head;
	size_t used;
	struct thr_list counting, banned;
	struct thr_net allow[THROTTLE_ALLOW_MAX];
	size_t nallow;
};

/* ------------------------------------------------------------------ */
/* Addresses                                                            */
/* ------------------------------------------------------------------ */

static const uint8_t thr_v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* The full 16-byte form of src (IPv4 as IPv4-mapped). False for other
 * families. */
static bool thr_addr16(const struct sockaddr_storage *src, uint8_t out[16])
{
	if (!src)
		return false;
	if (src->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)src;
		memcpy(out, thr_v4mapped, 12);
		memcpy(out + 12, &s4->sin_addr, 4);
		return true;
	}
	if (src->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)src;
		memcpy(out, &s6->sin6_addr, 16);
		return true;
	}
	return false;
}

static bool thr_is_v4(const uint8_t a[16])
{
	return memcmp(a, thr_v4mapped, 12) == 0;
}

/* Table key: the IPv4 address, or the /64 of an IPv6 address. */
static void thr_key(const uint8_t a[16], uint8_t key[16])
{
	memcpy(key, a, 16);
	if (!thr_is_v4(a))
		memset(key + 8, 0, 8);
}

static bool thr_prefix_match(const uint8_t a[16], const uint8_t net[16], unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(a, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return (a[full] & m) == (net[full] & m);
}

static bool thr_trusted(const struct throttle *t, const uint8_t a[16])
{
	for (size_t i = 0; i < t->nallow; i++)
		if (thr_prefix_match(a, t->allow[i].addr, t->allow[i].bits))
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Table                                                                */
/* ------------------------------------------------------------------ */

static uint64_t thr_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint32_t thr_bucket(const struct throttle *t, const uint8_t key[16])
{
	uint64_t k0, k1;
	memcpy(&k0, key, 8);
	memcpy(&k1, key + 8, 8);
	uint64_t h = thr_mix(k0 ^ t->seed[0]);
	h = thr_mix(h ^ k1 ^ t->seed[1]);
	return (uint32_t)(h & (THR_BUCKETS - 1));
}

static uint32_t thr_find(const struct throttle *t, const uint8_t key[16])
{
	/* A chain holds at most every entry, so the walk is bounded. */
	for (uint32_t i = t->buckets[thr_bucket(t, key)]; i != THR_NIL; i = t->e[i].hnext)
		if (memcmp(t->e[i].key, key, 16) == 0)
			return i;
	return THR_NIL;
}

static void thr_list_push(struct throttle *t, struct thr_list *l, uint32_t i)
{
	t->e[i].prev = l->tail;
	t->e[i].next = THR_NIL;
	if (l->tail != THR_NIL)
		t->e[l->tail].next = i;
	else
		l->head = i;
	l->tail = i;
}

static void thr_list_unlink(struct throttle *t, struct thr_list *l, uint32_t i)
{
	struct thr_entry *x = &t->e[i];
	if (x->prev != THR_NIL)
		t->e[x->prev].next = x->next;
	else
		l->head = x->next;
	if (x->next != THR_NIL)
		t->e[x->next].prev = x->prev;
	else
		l->tail = x->prev;
	x->prev = x->next = THR_NIL;
}

static struct thr_list *thr_list_of(struct throttle *t, uint32_t i)
{
	return t->e[i].state == THR_BANNED ? &t->banned : &t->counting;
}

/* Unlink i from its hash chain and age list and put it on the free list. */
static void thr_remove(struct throttle *t, uint32_t i)
{
	struct thr_entry *x = &t->e[i];
	uint32_t *pp = &t->buckets[thr_bucket(t, x->key)];
	while (*pp != i && *pp != THR_NIL)
		pp = &t->e[*pp].hnext;
	if (*pp == i)
		*pp = x->hnext;
	thr_list_unlink(t, thr_list_of(t, i), i);
	memset(x, 0, sizeof(*x));
	x->state = THR_FREE;
	x->hnext = x->prev = THR_NIL;
	x->next = t->free_head;
	t->free_head = i;
	t->used--;
}

static uint64_t thr_window_ms(const struct throttle *t)
{
	return (uint64_t)t->cfg.window_s * 1000;
}

static bool thr_counting_expired(const struct throttle *t, uint32_t i, uint64_t now_ms)
{
	const struct thr_entry *x = &t->e[i];
	return now_ms >= x->start_ms && now_ms - x->start_ms >= thr_window_ms(t);
}

static bool thr_ban_expired(const struct throttle *t, uint32_t i, uint64_t now_ms)
{
	return now_ms >= t->e[i].until_ms;
}

/* Collect a few expired entries from the heads of both lists. */
static void thr_gc(struct throttle *t, uint64_t now_ms)
{
	for (int k = 0; k < THR_GC_STEPS && t->banned.head != THR_NIL; k++) {
		if (!thr_ban_expired(t, t->banned.head, now_ms))
			break;
		thr_remove(t, t->banned.head);
	}
	for (int k = 0; k < THR_GC_STEPS && t->counting.head != THR_NIL; k++) {
		if (!thr_counting_expired(t, t->counting.head, now_ms))
			break;
		thr_remove(t, t->counting.head);
	}
}

/* A free entry, making room when the pool is full. */
static uint32_t thr_alloc(struct throttle *t, uint64_t now_ms)
{
	if (t->free_head == THR_NIL) {
		uint32_t victim;
		if (t->banned.head != THR_NIL && thr_ban_expired(t, t->banned.head, now_ms))
			victim = t->banned.head;
		else if (t->counting.head != THR_NIL)
			victim = t->counting.head;
		else
			victim = t->banned.head;
		thr_remove(t, victim);
	}
	uint32_t i = t->free_head;
	t->free_head = t->e[i].next;
	t->used++;
	return i;
}

/* ------------------------------------------------------------------ */
/* API                                                                  */
/* ------------------------------------------------------------------ */

int throttle_new(struct throttle **out, const struct throttle_cfg *cfg)
{
	if (!out || !cfg)
		return EINVAL;
	struct throttle *t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->e = calloc(THROTTLE_MAX_ENTRIES, sizeof(*t->e));
	t->buckets = malloc(THR_BUCKETS * sizeof(*t->buckets));
	if (!t->e || !t->buckets) {
		throttle_free(t);
		return ENOMEM;
	}
	if (getrandom(t->seed, sizeof(t->seed), 0) != (ssize_t)sizeof(t->seed)) {
		throttle_free(t);
		return EIO;
	}
	for (size_t i = 0; i < THR_BUCKETS; i++)
		t->buckets[i] = THR_NIL;
	for (uint32_t i = 0; i < THROTTLE_MAX_ENTRIES; i++) {
		t->e[i].hnext = t->e[i].prev = THR_NIL;
		t->e[i].next = i + 1 < THROTTLE_MAX_ENTRIES ? i + 1 : THR_NIL;
	}
	t->free_head = 0;
	t->counting.head = t->counting.tail = THR_NIL;
	t->banned.head = t->banned.tail = THR_NIL;
	t->cfg = *cfg;
	*out = t;
	return 0;
}

void throttle_free(struct throttle *t)
{
	if (!t)
		return;
	free(t->e);
	free(t->buckets);
	free(t);
}

void throttle_set_cfg(struct throttle *t, const struct throttle_cfg *cfg)
{
	if (t && cfg)
		t->cfg = *cfg;
}

/* One allow-list entry: "addr" or "addr/bits". */
static int thr_parse_net(const char *tok, size_t len, struct thr_net *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (len == 0 || len >= sizeof(buf))
		return EINVAL;
	memcpy(buf, tok, len);
	buf[len] = '\0';

	char *slash = strchr(buf, '/');
	long bits = -1;
	if (slash) {
		*slash = '\0';
		const char *d = slash + 1;
		size_t nd = strlen(d);
		if (nd == 0 || nd > 3)
			return EINVAL;
		bits = 0;
		for (size_t k = 0; k < nd; k++) {
			if (d[k] < '0' || d[k] > '9')
				return EINVAL;
			bits = bits * 10 + (d[k] - '0');
		}
	}
	memset(out, 0, sizeof(*out));
	if (strchr(buf, ':')) {
		if (inet_pton(AF_INET6, buf, out->addr) != 1 || bits > 128)
			return EINVAL;
		out->bits = bits < 0 ? 128 : (unsigned)bits;
	} else {
		memcpy(out->addr, thr_v4mapped, 12);
		if (inet_pton(AF_INET, buf, out->addr + 12) != 1 || bits > 32)
			return EINVAL;
		out->bits = 96 + (bits < 0 ? 32 : (unsigned)bits);
	}
	/* Clear host bits so the stored form is canonical. */
	for (unsigned b = out->bits; b < 128; b++)
		out->addr[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
	return 0;
}

int throttle_set_allow(struct throttle *t, const char *list)
{
	if (!t || !list)
		return EINVAL;
	struct thr_net nets[THROTTLE_ALLOW_MAX];
	size_t n = 0;
	const char *p = list;
	for (;;) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if (n == THROTTLE_ALLOW_MAX || thr_parse_net(s, (size_t)(p - s), &nets[n]) != 0)
			return EINVAL;
		n++;
	}
	memcpy(t->allow, nets, n * sizeof(nets[0]));
	t->nallow = n;
	return 0;
}

bool throttle_banned(struct throttle *t, const struct sockaddr_storage *src, uint64_t now_ms)
{
	uint8_t a[16], key[16];
	if (!t || !thr_addr16(src, a) || thr_trusted(t, a))
		return false;
	thr_key(a, key);
	uint32_t i = thr_find(t, key);
	if (i == THR_NIL || t->e[i].state != THR_BANNED)
		return false;
	if (thr_ban_expired(t, i, now_ms)) {
		thr_remove(t, i);
		return false;
	}
	return true;
}

bool throttle_fail(struct throttle *t, const struct sockaddr_storage *src, uint64_t now_ms)
{
	uint8_t a[16], key[16];
	if (!t || t->cfg.limit == 0 || !thr_addr16(src, a) || thr_trusted(t, a))
		return false;
	thr_key(a, key);
	thr_gc(t, now_ms);

	uint32_t i = thr_find(t, key);
	if (i != THR_NIL && t->e[i].state == THR_BANNED) {
		if (!thr_ban_expired(t, i, now_ms)) {
			if (t->e[i].failures < UINT32_MAX)
				t->e[i].failures++;
			return false;
		}
		thr_remove(t, i); /* served its ban: start afresh */
		i = THR_NIL;
	}
	if (i != THR_NIL && thr_counting_expired(t, i, now_ms)) {
		/* Window over: restart it, and keep the list in window order. */
		t->e[i].count = 0;
		t->e[i].start_ms = now_ms;
		thr_list_unlink(t, &t->counting, i);
		thr_list_push(t, &t->counting, i);
	}
	if (i == THR_NIL) {
		i = thr_alloc(t, now_ms);
		struct thr_entry *x = &t->e[i];
		memcpy(x->key, key, 16);
		x->start_ms = now_ms;
		x->until_ms = 0;
		x->count = x->failures = 0;
		x->state = THR_COUNTING;
		uint32_t b = thr_bucket(t, key);
		x->hnext = t->buckets[b];
		t->buckets[b] = i;
		thr_list_push(t, &t->counting, i);
	}

	struct thr_entry *x = &t->e[i];
	x->count++;
	if (x->failures < UINT32_MAX)
		x->failures++;
	if (x->count < t->cfg.limit)
		return false;
	thr_list_unlink(t, &t->counting, i);
	x->state = THR_BANNED;
	x->until_ms = now_ms + (uint64_t)t->cfg.ban_s * 1000;
	thr_list_push(t, &t->banned, i);
	return true;
}

size_t throttle_list(struct throttle *t, uint64_t now_ms,
		     void (*cb)(void *ctx, const struct sockaddr_storage *addr, uint64_t until_ms,
				unsigned failures),
		     void *ctx)
{
	if (!t)
		return 0;
	size_t n = 0;
	for (uint32_t i = t->banned.head; i != THR_NIL; i = t->e[i].next) {
		const struct thr_entry *x = &t->e[i];
		if (thr_ban_expired(t, i, now_ms))
			continue;
		n++;
		if (!cb)
			continue;
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		if (thr_is_v4(x->key)) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, x->key + 12, 4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, x->key, 16);
		}
		cb(ctx, &ss, x->until_ms, x->failures);
	}
	return n;
}

bool throttle_lift(struct throttle *t, const struct sockaddr_storage *addr)
{
	uint8_t a[16], key[16];
	if (!t || !thr_addr16(addr, a))
		return false;
	thr_key(a, key);
	uint32_t i = thr_find(t, key);
	if (i == THR_NIL)
		return false;
	bool was = t->e[i].state == THR_BANNED;
	thr_remove(t, i);
	return was;
}

size_t throttle_count(const struct throttle *t)
{
	return t ? t->used : 0;
}
