/*
 * core.h: the SIP core thread (DESIGN.md "Threads and ownership").
 *
 * It owns the SIP transport, the transactions, the registrar, the digest
 * nonces, the failed-auth throttle and the current config snapshot, and it
 * runs the epoll loop until SIGTERM or SIGINT.
 */
#ifndef PBX_CORE_H
#define PBX_CORE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "db.h"
#include "sip_addr.h"

#define CORE_MAX_LISTEN 8

struct core_opts {
	const char *db_path;
	struct sockaddr_storage sip[CORE_MAX_LISTEN];
	unsigned nsip;
	bool sip_trace;
	uint16_t rtp_lo, rtp_hi;  /* media ports */
	unsigned media_threads;   /* 0: one per core */
	const char *prompt_dir;   /* spoken prompts (build/prompts, share/pbxd/prompts) */
	const char *spool;        /* voicemail recordings */
};

struct core;

/* db: the main thread's connection, used here only during start-up to
 * read the bindings back. cfg: the first snapshot; the core takes it. */
int core_new(struct core **out, const struct core_opts *o, sqlite3 *db, struct config *cfg);
/* Run until SIGTERM/SIGINT (blocked in every thread, read by signalfd).
 * *ready is true while the loop runs (GET /healthz reads it). */
int core_run(struct core *c, atomic_bool *ready);
void core_free(struct core *c);
/* The SIP listen addresses in use (ports filled in), up to max; the core's
 * thread, or before core_run. */
size_t core_sip_listening(struct core *c, struct sockaddr_storage *out, size_t max);

/* How the web admin asks this core for live state (valid until core_free;
 * stop the HTTP server before freeing the core). */
struct live_ops;
void core_live_ops(struct core *c, struct live_ops *ops);

#endif
