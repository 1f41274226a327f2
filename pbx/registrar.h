/*
 * registrar.h: the location service (RFC 3261 section 10.3).
 *
 * Bindings live in memory, owned by the core thread, keyed by extension
 * number (the AOR's user part). Each binding remembers where its REGISTER
 * came from (source address, local address, transport, TCP connection), so
 * a phone behind NAT is reached where it really is, not at the private
 * address in its Contact. Every change is reported to a hook so the owner
 * can persist it (the jobs thread writes the location table); on start-up
 * the table is read back with registrar_restore().
 */
#ifndef PBX_REGISTRAR_H
#define PBX_REGISTRAR_H

#include <stdbool.h>
#include <stdint.h>

#include "sip_addr.h"
#include "sip_msg.h"
#include "timer_heap.h"

#define REG_AOR_MAX 32
#define REG_CONTACT_MAX 512
#define REG_CALLID_MAX 256
#define REG_UA_MAX 128
#define REG_INSTANCE_MAX 128

struct reg_binding {
	struct reg_binding *next;          /* next binding of the same AOR */
	struct reg_aor *aor;               /* owner */
	struct registrar *reg;             /* for the timer callbacks */
	char contact[REG_CONTACT_MAX];     /* Contact URI, without <> */
	char instance[REG_INSTANCE_MAX];   /* +sip.instance (RFC 5626), "" if none */
	int reg_id;
	char call_id[REG_CALLID_MAX];
	uint32_t cseq;
	int64_t expires_at;                /* wall clock, seconds */
	double q;
	char user_agent[REG_UA_MAX];
	struct sip_dest reach;             /* where requests for it are sent */
	bool natted;                       /* Contact differs from where it came from */
	struct timer expiry;
	struct timer keepalive;
	void *ka_txn;                      /* OPTIONS keepalive in flight (owner: core) */
};

struct reg_aor {
	struct reg_aor *hnext;
	char aor[REG_AOR_MAX];
	struct reg_binding *bindings;
	unsigned count;
};

/* REG_RENAMING: the binding keeps living but its Contact text is about to
 * change (b->contact still holds the old text); REG_UPDATED follows. */
enum reg_change { REG_ADDED, REG_UPDATED, REG_REMOVED, REG_RENAMING };

struct registrar_hooks {
	/* A binding was added, refreshed or is about to be removed (then it is
	 * freed right after the call). */
	void (*changed)(void *ctx, const struct reg_binding *b, enum reg_change what);
	/* Time to send a keepalive to a NATed binding. */
	void (*keepalive)(void *ctx, struct reg_binding *b);
};

struct reg_limits {
	long min_expires, max_expires, default_expires;
	unsigned max_contacts;      /* per AOR; the binding closest to expiry makes room */
	unsigned keepalive_s;       /* 0: no keepalives */
};

struct registrar;

int registrar_new(struct registrar **out, struct timer_heap *th, const struct registrar_hooks *hooks,
		  void *ctx);
void registrar_free(struct registrar *r);
void registrar_set_limits(struct registrar *r, const struct reg_limits *lim);

/*
 * Apply a REGISTER for aor whose credentials were already checked.
 * Returns the SIP status to answer: 200, 400 (bad Contact or '*' misuse),
 * 423 (*min_expires is set), 500 (out-of-order CSeq for a binding).
 * Nothing is changed unless the whole request is acceptable.
 */
int registrar_apply(struct registrar *r, const char *aor, const struct sip_msg *req,
		    const struct sip_dest *src, int64_t now, long *min_expires);

/* Re-create a binding read from storage (start-up). 0, or EINVAL when the
 * row is unusable (then the caller reports and drops it). */
int registrar_restore(struct registrar *r, const char *aor, const char *contact,
		      const struct sip_dest *reach, const char *call_id, uint32_t cseq,
		      int64_t expires_at, double q, const char *user_agent, const char *instance,
		      int reg_id, int64_t now);

struct reg_aor *registrar_find(struct registrar *r, const char *aor);
void registrar_remove(struct registrar *r, struct reg_binding *b);
/* Drop every binding of aor (the extension was deleted). */
void registrar_remove_aor(struct registrar *r, const char *aor);
/* Drop every binding of every AOR for which keep(ctx, aor) is false (an
 * extension was deleted); each removal is reported with REG_REMOVED. keep
 * is called once per AOR and must not change the registrar. */
void registrar_prune(struct registrar *r, bool (*keep)(void *ctx, const char *aor), void *ctx);
size_t registrar_count(const struct registrar *r);
void registrar_foreach(struct registrar *r, void (*fn)(void *ctx, struct reg_binding *b), void *ctx);

#endif
