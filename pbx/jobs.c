/*
 * jobs.c: the jobs thread; see jobs.h.
 *
 * Shared state (the pending table, the new snapshot) is guarded by one
 * mutex; the core only ever holds it for a hash insert.
 */
#include "jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define PENDING_HASH 8192
#define PENDING_MAX 200000 /* beyond this, changes are dropped (and said so) */

struct pending {
	struct pending *next;
	bool del;
	bool del_all; /* every binding of aor */
	struct db_binding b;
};

struct jobs {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	bool kick;
	bool check_now; /* config_changed: look at the serial at once */
	char *db_path;
	int efd;
	struct pending *pending[PENDING_HASH];
	size_t npending;
	unsigned long dropped;
	uint64_t queued_gen, written_gen;
	pthread_cond_t written;
	struct config *new_cfg;
	int64_t serial;
};

static unsigned pending_hash(const char *aor, const char *contact)
{
	unsigned h = 2166136261u;
	for (const char *s = aor; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h = (h ^ '\n') * 16777619u;
	for (const char *s = contact; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % PENDING_HASH;
}

/* Caller holds mu. Replaces a pending change of the same binding. */
static void pending_add(struct jobs *j, const struct db_binding *b, bool del, bool del_all)
{
	unsigned h = pending_hash(b->aor, b->contact);
	for (struct pending *p = j->pending[h]; p; p = p->next)
		if (strcmp(p->b.aor, b->aor) == 0 && strcmp(p->b.contact, b->contact) == 0 &&
		    p->del_all == del_all) {
			p->b = *b;
			p->del = del;
			j->queued_gen++;
			return;
		}
	if (j->npending >= PENDING_MAX) {
		if (j->dropped++ % 10000 == 0)
			log_warn("jobs: %zu binding writes pending, dropping (storage too slow?)", j->npending);
		return;
	}
	struct pending *p = malloc(sizeof *p);
	if (!p)
		return;
	p->b = *b;
	p->del = del;
	p->del_all = del_all;
	p->next = j->pending[h];
	j->pending[h] = p;
	j->npending++;
	j->queued_gen++;
}

void jobs_location_put(struct jobs *j, const struct db_binding *b)
{
	pthread_mutex_lock(&j->mu);
	pending_add(j, b, false, false);
	pthread_mutex_unlock(&j->mu);
}

void jobs_location_del(struct jobs *j, const char *aor, const char *contact)
{
	struct db_binding b;
	memset(&b, 0, sizeof b);
	snprintf(b.aor, sizeof b.aor, "%s", aor);
	snprintf(b.contact, sizeof b.contact, "%s", contact ? contact : "");
	pthread_mutex_lock(&j->mu);
	pending_add(j, &b, true, contact == NULL);
	pthread_mutex_unlock(&j->mu);
}

/* Write one batch; returns how many changes it held. */
static size_t flush_batch(struct jobs *j, sqlite3 *db)
{
	pthread_mutex_lock(&j->mu);
	struct pending *list = NULL;
	for (size_t i = 0; i < PENDING_HASH; i++) {
		while (j->pending[i]) {
			struct pending *p = j->pending[i];
			j->pending[i] = p->next;
			p->next = list;
			list = p;
		}
	}
	size_t n = j->npending;
	j->npending = 0;
	uint64_t gen = j->queued_gen;
	pthread_mutex_unlock(&j->mu);
	if (!list)
		goto done;
	int err = db_begin(db);
	for (struct pending *p = list; p && !err; p = p->next) {
		if (p->del)
			err = db_location_del(db, p->b.aor, p->del_all ? NULL : p->b.contact);
		else
			err = db_location_put(db, &p->b);
	}
	if (!err)
		err = db_commit(db);
	if (err) {
		db_rollback(db);
		log_err("jobs: writing %zu binding changes failed: %s", n, strerror(err));
	}
	while (list) {
		struct pending *p = list;
		list = p->next;
		free(p);
	}
done:
	pthread_mutex_lock(&j->mu);
	if (gen > j->written_gen)
		j->written_gen = gen;
	pthread_cond_broadcast(&j->written);
	pthread_mutex_unlock(&j->mu);
	return n;
}

static void check_config(struct jobs *j, sqlite3 *db)
{
	int64_t serial;
	if (db_config_serial(db, &serial) != 0 || serial == j->serial)
		return;
	struct config *c;
	if (config_load(db, &c) != 0) {
		log_err("jobs: configuration changed but could not be loaded");
		return;
	}
	j->serial = serial;
	log_notice("configuration changed (serial %lld), %zu extensions", (long long)serial,
		   config_ext_count(c));
	pthread_mutex_lock(&j->mu);
	struct config *old = j->new_cfg;
	j->new_cfg = c;
	pthread_mutex_unlock(&j->mu);
	if (old)
		config_unref(old);
	uint64_t one = 1;
	ssize_t w = write(j->efd, &one, sizeof one);
	(void)w;
}

static void *jobs_main(void *arg)
{
	struct jobs *j = arg;
	sqlite3 *db = NULL;
	char err[256];
	if (db_open(j->db_path, &db, err, sizeof err) != 0) {
		log_err("jobs: cannot open %s: %s", j->db_path, err);
		return NULL;
	}
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		pthread_mutex_lock(&j->mu);
		/* Batch: wait a little so many changes share one transaction. */
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 200 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!j->stop && !j->kick) {
			if (pthread_cond_timedwait(&j->cond, &j->mu, &until) == ETIMEDOUT)
				break;
		}
		bool stop = j->stop;
		bool check_now = j->check_now;
		j->kick = false;
		j->check_now = false;
		pthread_mutex_unlock(&j->mu);
		flush_batch(j, db);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (check_now || now.tv_sec > next.tv_sec ||
		    (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
			check_config(j, db);
			next = now;
			next.tv_sec += 1;
		}
		if (stop)
			break;
	}
	flush_batch(j, db);
	db_close(db);
	return NULL;
}

int jobs_start(struct jobs **out, const char *db_path, int64_t serial)
{
	struct jobs *j = calloc(1, sizeof *j);
	if (!j)
		return ENOMEM;
	j->db_path = strdup(db_path);
	j->serial = serial;
	j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_cond_init(&j->written, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&j->mu, NULL);
	if (!j->db_path || j->efd < 0 || pthread_create(&j->thread, NULL, jobs_main, j) != 0) {
		if (j->efd >= 0)
			close(j->efd);
		free(j->db_path);
		free(j);
		return ENOMEM;
	}
	*out = j;
	return 0;
}

void jobs_sync(struct jobs *j)
{
	pthread_mutex_lock(&j->mu);
	uint64_t want = j->queued_gen;
	j->kick = true;
	pthread_cond_signal(&j->cond);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 10; /* bounded: storage that hangs must not hang shutdown */
	while (j->written_gen < want)
		if (pthread_cond_timedwait(&j->written, &j->mu, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&j->mu);
}

void jobs_config_check(struct jobs *j)
{
	pthread_mutex_lock(&j->mu);
	j->check_now = true;
	j->kick = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->mu);
}

void jobs_stop(struct jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	j->stop = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->mu);
	pthread_join(j->thread, NULL);
	for (size_t i = 0; i < PENDING_HASH; i++)
		while (j->pending[i]) {
			struct pending *p = j->pending[i];
			j->pending[i] = p->next;
			free(p);
		}
	if (j->new_cfg)
		config_unref(j->new_cfg);
	close(j->efd);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cond);
	pthread_cond_destroy(&j->written);
	free(j->db_path);
	free(j);
}

int jobs_config_fd(const struct jobs *j) { return j->efd; }

struct config *jobs_take_config(struct jobs *j)
{
	uint64_t v;
	ssize_t r = read(j->efd, &v, sizeof v);
	(void)r;
	pthread_mutex_lock(&j->mu);
	struct config *c = j->new_cfg;
	j->new_cfg = NULL;
	pthread_mutex_unlock(&j->mu);
	return c;
}
