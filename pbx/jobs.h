/*
 * jobs.h: the jobs thread, where slow I/O happens so the core never blocks.
 *
 * It owns its own SQLite connection. The core hands it binding changes
 * (persisted in batches, one transaction per batch; repeated changes of the
 * same binding coalesce so a phone refreshing often costs one row write per
 * batch). Once a second it checks the config serial and, when pbxctl or the
 * web admin changed something, loads a new config snapshot and wakes the
 * core through an eventfd; the core takes it with jobs_take_config().
 */
#ifndef PBX_JOBS_H
#define PBX_JOBS_H

#include "config.h"
#include "db.h"

struct jobs;

int jobs_start(struct jobs **out, const char *db_path, int64_t serial);
/* Flush what is queued, stop the thread, free everything. */
void jobs_stop(struct jobs *j);

/* Queue a binding write (copied). Never blocks on SQLite. */
void jobs_location_put(struct jobs *j, const struct db_binding *b);
/* Queue the removal of one binding (contact NULL: every binding of aor). */
void jobs_location_del(struct jobs *j, const char *aor, const char *contact);

/* Readable when a new config snapshot waits. */
int jobs_config_fd(const struct jobs *j);
/* The newest snapshot loaded since the last call, or NULL. The caller owns
 * the reference. */
struct config *jobs_take_config(struct jobs *j);

/* Something changed SQLite: check the config serial now, not at the next
 * one-second poll. Never blocks on SQLite. Any thread. */
void jobs_config_check(struct jobs *j);

/* Wait until everything queued so far is written (tests, shutdown). */
void jobs_sync(struct jobs *j);

#endif
