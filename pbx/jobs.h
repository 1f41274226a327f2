/*
 * jobs.h: the jobs thread, where slow I/O happens so the core never blocks.
 *
 * It owns its own SQLite connection. The core hands it binding changes
 * (persisted in batches, one transaction per batch; repeated changes of the
 * same binding coalesce so a phone refreshing often costs one row write per
 * batch; a batch storage refuses is kept and tried again, never dropped), call detail records (a bounded queue, one transaction per batch)
 * and the forwarding and DND changes phones make with feature codes. Once a
 * second it checks the config serial and, when pbxctl or the web admin
 * changed something, loads a new config snapshot and wakes the core through
 * an eventfd; the core takes it with jobs_take_config(). A feature-code
 * change loads the new snapshot right after writing it, not a second later.
 *
 * The jobs_* calls below are for the core thread (any thread is safe: one
 * mutex, held only to copy into a queue); none of them waits for SQLite.
 */
#ifndef PBX_JOBS_H
#define PBX_JOBS_H

#include "config.h"
#include "db.h"
#include "mwi.h"

struct jobs;

int jobs_start(struct jobs **out, const char *db_path, int64_t serial);
/* Flush what is queued, stop the thread, free everything. */
void jobs_stop(struct jobs *j);

/* Queue a binding write (copied). Never blocks on SQLite. */
void jobs_location_put(struct jobs *j, const struct db_binding *b);
/* Queue the removal of one binding (contact NULL: every binding of aor). */
void jobs_location_del(struct jobs *j, const char *aor, const char *contact);

/* Call records waiting to be written; past this, jobs_cdr_put drops (and
 * counts) them rather than grow without bound when storage stalls. */
#define JOBS_CDR_QUEUE_MAX 4096
/* Forwarding and DND changes waiting to be written. */
#define JOBS_FWD_QUEUE_MAX 256

/* Queue one call record (copied; see struct db_cdr for what a valid one
 * holds: bad rows are logged and skipped when written). */
void jobs_cdr_put(struct jobs *j, const struct db_cdr *r);
/* Call records dropped so far: queue full, or their batch failed to write. */
unsigned long jobs_cdr_dropped(struct jobs *j);

/* A feature code: set forwarding rule kind of extension number to target
 * ("" or NULL = off), or switch DND. Written in order, checked by db.h
 * (target an existing extension, not number itself: a refused change is
 * logged), then the new snapshot is loaded and the core woken through
 * jobs_config_fd. Arguments longer than an extension number are refused
 * (logged) at once. */
void jobs_fwd_set(struct jobs *j, const char *number, enum db_fwd_kind kind, const char *target);
void jobs_dnd_set(struct jobs *j, const char *number, bool on);

/* Readable when a new config snapshot waits. */
int jobs_config_fd(const struct jobs *j);
/* The newest snapshot loaded since the last call, or NULL. The caller owns
 * the reference. */
struct config *jobs_take_config(struct jobs *j);

/* Something changed SQLite: check the config serial now, not at the next
 * one-second poll. Never blocks on SQLite. Any thread. */
void jobs_config_check(struct jobs *j);

/*
 * Message waiting. The jobs thread keeps every mailbox's counts as it last
 * read them. Once a second it reads PRAGMA data_version, which moves when
 * another connection commits (the web admin, pbxctl, any other process),
 * and then recounts every mailbox; jobs_vm_changed asks for one mailbox's
 * recount at once, and is what a writer calls after adding, moving or
 * deleting a message (a write on the jobs thread's own connection does not
 * move its data_version). Counts that differ from the last read are handed
 * to the core: jobs_vm_fd becomes readable and jobs_take_vm_counts takes
 * them, the newest per mailbox. Right after the start every mailbox that
 * holds messages is handed over (the core starts from 0/0 everywhere).
 */
/* Recount mailbox soon (NULL: every mailbox). Any thread; never blocks on
 * SQLite. */
void jobs_vm_changed(struct jobs *j, const char *mailbox);
/* Readable when counts wait for the core. */
int jobs_vm_fd(const struct jobs *j);
/* Take up to max waiting counts into out; returns how many. When more
 * wait, jobs_vm_fd stays readable. */
size_t jobs_take_vm_counts(struct jobs *j, struct mwi_count *out, size_t max);

/* Wait (at most 10 s) until everything queued so far is written, and for
 * feature-code changes, until the snapshot after them is loaded (tests,
 * shutdown). */
void jobs_sync(struct jobs *j);

#endif
