/*
 * registrar.c: bindings per AOR with expiry and NAT keepalive timers; see
 * registrar.h. All times for expiry are wall-clock seconds (they are
 * persisted and must mean the same after a restart); the timers run on the
 * monotonic heap clock, armed with the remaining seconds.
 */
#include "registrar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"

#define AOR_HASH 4096

struct registrar {
	struct timer_heap *th;
	struct registrar_hooks hooks;
	void *ctx;
	struct reg_limits lim;
	struct reg_aor *buckets[AOR_HASH];
	size_t nbindings;
};

static unsigned aor_hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % AOR_HASH;
}

int registrar_new(struct registrar **out, struct timer_heap *th, const struct registrar_hooks *hooks,
		  void *ctx)
{
	struct registrar *r = calloc(1, sizeof *r);
	if (!r)
		return ENOMEM;
	r->th = th;
	r->hooks = *hooks;
	r->ctx = ctx;
	r->lim = (struct reg_limits){ 60, 3600, 3600, 10, 30 };
	*out = r;
	return 0;
}

void registrar_set_limits(struct registrar *r, const struct reg_limits *lim) { r->lim = *lim; }

struct reg_aor *registrar_find(struct registrar *r, const char *aor)
{
	for (struct reg_aor *a = r->buckets[aor_hash(aor)]; a; a = a->hnext)
		if (strcmp(a->aor, aor) == 0)
			return a;
	return NULL;
}

static struct reg_aor *aor_get(struct registrar *r, const char *aor)
{
	struct reg_aor *a = registrar_find(r, aor);
	if (a)
		return a;
	if (strlen(aor) >= REG_AOR_MAX)
		return NULL;
	a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	strcpy(a->aor, aor);
	unsigned h = aor_hash(aor);
	a->hnext = r->buckets[h];
	r->buckets[h] = a;
	return a;
}

static void aor_drop_if_empty(struct registrar *r, struct reg_aor *a)
{
	if (a->bindings)
		return;
	struct reg_aor **pp = &r->buckets[aor_hash(a->aor)];
	while (*pp && *pp != a)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = a->hnext;
	free(a);
}

static void binding_unlink_free(struct registrar *r, struct reg_binding *b, bool notify)
{
	struct reg_aor *a = b->aor;
	if (notify && r->hooks.changed)
		r->hooks.changed(r->ctx, b, REG_REMOVED);
	timer_stop(r->th, &b->expiry);
	timer_stop(r->th, &b->keepalive);
	struct reg_binding **pp = &a->bindings;
	while (*pp && *pp != b)
		pp = &(*pp)->next;
	if (*pp)
		*pp = b->next;
	a->count--;
	r->nbindings--;
	free(b);
	aor_drop_if_empty(r, a);
}

void registrar_remove(struct registrar *r, struct reg_binding *b) { binding_unlink_free(r, b, true); }

/* Remove every binding of a; a itself is freed with its last binding. */
static void aor_remove_all(struct registrar *r, struct reg_aor *a, bool notify)
{
	if (!a->bindings) {
		aor_drop_if_empty(r, a);
		return;
	}
	while (a->bindings) {
		struct reg_binding *b = a->bindings;
		bool last = b->next == NULL;
		binding_unlink_free(r, b, notify);
		if (last)
			break; /* a was freed with its last binding */
	}
}

void registrar_remove_aor(struct registrar *r, const char *aor)
{
	struct reg_aor *a = registrar_find(r, aor);
	if (a)
		aor_remove_all(r, a, true);
}

void registrar_prune(struct registrar *r, bool (*keep)(void *ctx, const char *aor), void *ctx)
{
	for (size_t i = 0; i < AOR_HASH; i++) {
		struct reg_aor *a = r->buckets[i];
		while (a) {
			/* Removal frees a, so take its successor first. The hooks
			 * only report; they do not change the registrar. */
			struct reg_aor *next = a->hnext;
			if (!keep(ctx, a->aor))
				aor_remove_all(r, a, true);
			a = next;
		}
	}
}

static void binding_expired(struct timer *t, void *arg)
{
	struct reg_binding *b = arg;
	(void)t;
	log_info("registrar: %s %s expired", b->aor->aor, b->contact);
	binding_unlink_free(b->reg, b, true);
}

static void binding_keepalive(struct timer *t, void *arg)
{
	struct reg_binding *b = arg;
	struct registrar *r = b->reg;
	(void)t;
	if (r->lim.keepalive_s == 0)
		return;
	timer_start(r->th, &b->keepalive, loop_now_ms() + r->lim.keepalive_s * 1000ull);
	if (r->hooks.keepalive)
		r->hooks.keepalive(r->ctx, b); /* may remove b: nothing after this */
}

static void binding_arm(struct registrar *r, struct reg_binding *b, int64_t now)
{
	int64_t left = b->expires_at - now;
	if (left < 0)
		left = 0;
	if (left > (int64_t)UINT32_MAX)
		left = UINT32_MAX; /* a stored row from far in the future: no overflow below */
	uint64_t mono = loop_now_ms();
	timer_start(r->th, &b->expiry, mono + (uint64_t)left * 1000u);
	if (b->natted && r->lim.keepalive_s && !timer_armed(&b->keepalive))
		timer_start(r->th, &b->keepalive, mono + r->lim.keepalive_s * 1000ull);
	if (!b->natted)
		timer_stop(r->th, &b->keepalive);
}

static int copy_str(char *dst, size_t cap, struct slice s)
{
	return slice_copy(dst, cap, s) == 0 ? 0 : EINVAL;
}

/* Is the Contact somewhere other than where the REGISTER came from? Then
 * the phone is behind NAT (or a mangling ALG) and we must use the source. */
static bool contact_same_host(const struct sip_uri *u, const struct sip_dest *src)
{
	char host[64];
	sip_addr_host(&src->peer, host, sizeof host);
	struct slice h = u->host;
	if (h.len >= 2 && h.p[0] == '[') {
		h.p++;
		h.len -= 2;
	}
	return slice_ieq_cstr(h, host);
}

/* Does the top Via's sent-by name the address the request came from? */
static bool via_is_source(const struct sip_msg *req, const struct sip_dest *src)
{
	if (req->nvia == 0)
		return false;
	char host[64];
	sip_addr_host(&src->peer, host, sizeof host);
	struct slice h = req->via[0].host;
	if (h.len >= 2 && h.p[0] == '[') {
		h.p++;
		h.len -= 2;
	}
	uint16_t port = req->via[0].port ? req->via[0].port : 5060;
	return slice_ieq_cstr(h, host) && port == sip_addr_port(&src->peer);
}

static bool contact_natted(const struct sip_uri *u, const struct sip_dest *src)
{
	uint16_t port = u->port ? u->port : 5060;
	return !contact_same_host(u, src) || port != sip_addr_port(&src->peer);
}

static long contact_expires(const struct registrar *r, const struct sip_msg *req,
			    const struct sip_contact *c)
{
	long e = c->expires >= 0 ? c->expires : req->expires >= 0 ? req->expires : r->lim.default_expires;
	return e;
}

static struct slice contact_instance(const struct sip_contact *c)
{
	struct slice v = SLICE_NULL;
	if (!sip_param_get(c->na.params, "+sip.instance", &v) || !v.p)
		return SLICE_NULL;
	return v;
}

static struct reg_binding *binding_match(struct reg_aor *a, const struct sip_contact *c)
{
	if (!a)
		return NULL;
	struct slice inst = contact_instance(c);
	for (struct reg_binding *b = a->bindings; b; b = b->next) {
		if (inst.p && b->instance[0]) {
			if (slice_eq_cstr(inst, b->instance))
				return b;
			continue;
		}
		struct sip_uri bu;
		if (sip_uri_parse(&bu, slice_cstr(b->contact)) == 0 && sip_uri_equal(&bu, &c->na.uri))
			return b;
	}
	return NULL;
}

static double contact_q(const struct sip_contact *c)
{
	char buf[16];
	if (!c->q.p || slice_copy(buf, sizeof buf, c->q) != 0)
		return 1.0;
	double q = strtod(buf, NULL);
	return q < 0 || q > 1 ? 1.0 : q;
}

/* +sip.instance and reg-id (RFC 5626); lengths were checked before. */
static void binding_take_instance(struct reg_binding *b, const struct sip_contact *c)
{
	struct slice inst = contact_instance(c);
	copy_str(b->instance, sizeof b->instance, inst.p ? inst : slice_cstr(""));
	struct slice rid;
	unsigned long reg_id = 0;
	if (sip_param_get(c->na.params, "reg-id", &rid))
		slice_to_ulong(rid, 1000000, &reg_id);
	b->reg_id = (int)reg_id;
}

static void binding_fill(struct reg_binding *b, const struct sip_msg *req, const struct sip_contact *c,
			 const struct sip_dest *src, long expires, int64_t now)
{
	b->cseq = req->cseq;
	slice_copy(b->call_id, sizeof b->call_id, req->call_id);
	b->expires_at = now + expires;
	b->q = contact_q(c);
	b->reach = *src;
	b->natted = contact_natted(&c->na.uri, src);
	if (b->natted && src->tp == SIP_TP_UDP && contact_same_host(&c->na.uri, src) && via_is_source(req, src)) {
		/* The REGISTER came from where its Via says and the Contact names
		 * the same address: no NAT in between. The phone registered from
		 * another socket than the one it listens on (or for another device
		 * there, RFC 3261 10.2): requests go to the Contact's port. */
		sip_addr_set_port(&b->reach.peer, c->na.uri.port ? c->na.uri.port : 5060);
		b->natted = false;
	}
	const struct sip_hdr *ua = sip_msg_hdr(req, SIP_HDR_USER_AGENT);
	b->user_agent[0] = '\0';
	if (ua) {
		struct slice v = ua->value;
		if (v.len >= sizeof b->user_agent)
			v.len = sizeof b->user_agent - 1;
		slice_copy(b->user_agent, sizeof b->user_agent, v);
	}
}

int registrar_apply(struct registrar *r, const char *aor, const struct sip_msg *req,
		    const struct sip_dest *src, int64_t now, long *min_expires)
{
	struct reg_aor *a = registrar_find(r, aor);

	if (req->contact_star) {
		/* RFC 3261 10.3 step 6: '*' only with Expires: 0 and alone. */
		if (req->expires != 0 || req->ncontacts > 0)
			return 400;
		for (struct reg_binding *b = a ? a->bindings : NULL; b; b = b->next)
			if (slice_eq_cstr(req->call_id, b->call_id) && req->cseq <= b->cseq)
				return 500;
		if (a)
			registrar_remove_aor(r, aor);
		return 200;
	}

	if (req->call_id.len >= REG_CALLID_MAX)
		return 400;
	/* Check every contact before changing anything. */
	for (unsigned i = 0; i < req->ncontacts; i++) {
		const struct sip_contact *c = &req->contacts[i];
		if (!c->na.uri.is_sip || c->na.uri.raw.len >= REG_CONTACT_MAX)
			return 400;
		if (contact_instance(c).len >= REG_INSTANCE_MAX)
			return 400;
		long e = contact_expires(r, req, c);
		if (e != 0 && e < r->lim.min_expires) {
			*min_expires = r->lim.min_expires;
			return 423;
		}
		struct reg_binding *b = binding_match(a, c);
		if (b && slice_eq_cstr(req->call_id, b->call_id) && req->cseq <= b->cseq)
			return 500;
	}

	for (unsigned i = 0; i < req->ncontacts; i++) {
		const struct sip_contact *c = &req->contacts[i];
		long e = contact_expires(r, req, c);
		if (e > r->lim.max_expires)
			e = r->lim.max_expires;
		struct reg_binding *b = binding_match(a, c);
		if (b && e == 0) {
			log_info("registrar: %s %s removed", aor, b->contact);
			bool last = a->count == 1;
			binding_unlink_free(r, b, true);
			if (last)
				a = NULL;
			continue;
		}
		if (e == 0)
			continue;
		if (b) {
			/* The Contact may be written differently (params): keep the newest
			 * text, and let the owner forget what it stored under the old one. */
			if (!slice_eq_cstr(c->na.uri.raw, b->contact) && r->hooks.changed)
				r->hooks.changed(r->ctx, b, REG_RENAMING);
			copy_str(b->contact, sizeof b->contact, c->na.uri.raw);
			if (!b->instance[0])
				binding_take_instance(b, c); /* so a later new Contact URI still matches */
			binding_fill(b, req, c, src, e, now);
			binding_arm(r, b, now);
			if (r->hooks.changed)
				r->hooks.changed(r->ctx, b, REG_UPDATED);
			continue;
		}
		if (!a && !(a = aor_get(r, aor)))
			return 500;
		/* Make room: drop the bindings closest to expiry. A loop, not a
		 * single drop, so a lowered max_contacts takes effect; bounded by
		 * the bindings there are. */
		while (a->count >= r->lim.max_contacts && a->bindings) {
			struct reg_binding *old = a->bindings;
			for (struct reg_binding *x = a->bindings; x; x = x->next)
				if (x->expires_at < old->expires_at)
					old = x;
			log_info("registrar: %s has %u contacts, dropping %s", aor, a->count, old->contact);
			bool last = a->count == 1;
			binding_unlink_free(r, old, true);
			if (last && !(a = aor_get(r, aor)))
				return 500;
		}
		b = calloc(1, sizeof *b);
		if (!b) {
			aor_drop_if_empty(r, a); /* never leave an AOR without bindings */
			return 500;
		}
		b->aor = a;
		b->reg = r;
		copy_str(b->contact, sizeof b->contact, c->na.uri.raw);
		binding_take_instance(b, c);
		binding_fill(b, req, c, src, e, now);
		timer_init(&b->expiry, binding_expired, b);
		timer_init(&b->keepalive, binding_keepalive, b);
		b->next = a->bindings;
		a->bindings = b;
		a->count++;
		r->nbindings++;
		binding_arm(r, b, now);
		log_info("registrar: %s %s added, %ld s", aor, b->contact, e);
		if (r->hooks.changed)
			r->hooks.changed(r->ctx, b, REG_ADDED);
	}
	return 200;
}

int registrar_restore(struct registrar *r, const char *aor, const char *contact,
		      const struct sip_dest *reach, const char *call_id, uint32_t cseq,
		      int64_t expires_at, double q, const char *user_agent, const char *instance,
		      int reg_id, int64_t now)
{
	struct sip_uri u;
	if (expires_at <= now || !aor[0] || strlen(contact) >= REG_CONTACT_MAX || strlen(aor) >= REG_AOR_MAX ||
	    strlen(call_id) >= REG_CALLID_MAX || sip_uri_parse(&u, slice_cstr(contact)) != 0 || !u.is_sip)
		return EINVAL;
	struct reg_aor *a = aor_get(r, aor);
	if (!a)
		return ENOMEM;
	struct reg_binding *b = calloc(1, sizeof *b);
	if (!b) {
		aor_drop_if_empty(r, a);
		return ENOMEM;
	}
	b->aor = a;
	b->reg = r;
	snprintf(b->contact, sizeof b->contact, "%s", contact);
	snprintf(b->call_id, sizeof b->call_id, "%s", call_id);
	snprintf(b->user_agent, sizeof b->user_agent, "%s", user_agent ? user_agent : "");
	snprintf(b->instance, sizeof b->instance, "%s", instance ? instance : "");
	b->reg_id = reg_id;
	b->cseq = cseq;
	/* A row may come from a run with a higher max_expires (or be corrupt):
	 * clamp it as a REGISTER would be. */
	b->expires_at = expires_at - now > r->lim.max_expires ? now + r->lim.max_expires : expires_at;
	b->q = q >= 0 && q <= 1 ? q : 1.0; /* NaN too */
	b->reach = *reach;
	/* A TCP connection does not survive our restart; the phone reconnects
	 * and re-registers, meanwhile UDP-style reachability is all we have. */
	b->reach.conn_id = 0;
	b->natted = contact_natted(&u, reach);
	timer_init(&b->expiry, binding_expired, b);
	timer_init(&b->keepalive, binding_keepalive, b);
	b->next = a->bindings;
	a->bindings = b;
	a->count++;
	r->nbindings++;
	binding_arm(r, b, now);
	return 0;
}

size_t registrar_count(const struct registrar *r) { return r->nbindings; }

void registrar_foreach(struct registrar *r, void (*fn)(void *ctx, struct reg_binding *b), void *ctx)
{
	for (size_t i = 0; i < AOR_HASH; i++)
		for (struct reg_aor *a = r->buckets[i]; a; a = a->hnext)
			for (struct reg_binding *b = a->bindings; b; b = b->next)
				fn(ctx, b);
}

void registrar_free(struct registrar *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < AOR_HASH; i++) {
		/* aor_remove_all frees a (also one left without bindings), so
		 * this loop always advances. */
		while (r->buckets[i])
			aor_remove_all(r, r->buckets[i], false);
	}
	free(r);
}
