/*
 * jobs.c: the jobs thread; see jobs.h.
 *
 * Shared state (the pending table, the CDR queue, the feature-code queue,
 * the new snapshot) is guarded by one mutex; the core only ever holds it
 * for a hash insert or one copy into a queue. Each pass of the thread takes
 * everything queued in one go and writes it outside the mutex.
 *
 * The CDR queue is two fixed arrays: the core fills cdr_q; the thread swaps
 * it with its own empty cdr_spare under the mutex and writes the full one,
 * so taking a batch costs two pointer moves however large it is.
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

/* A forwarding or DND change asked for by a feature code. */
struct fwd_op {
	bool dnd;                         /* a DND switch, else a forwarding rule */
	bool on;                          /* DND on */
	enum db_fwd_kind kind;
	char number[DB_NUMBER_MAX + 1];
	char target[DB_NUMBER_MAX + 1];   /* "" = off */
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
	unsigned long bind_failures; /* batches of binding changes that failed in a row (thread only) */
	uint64_t queued_gen, written_gen;
	pthread_cond_t written;
	struct config *new_cfg;
	int64_t serial;

	struct db_cdr *cdr_q;             /* JOBS_CDR_QUEUE_MAX rows; under mu */
	size_t n_cdr;
	struct db_cdr *cdr_spare;         /* the jobs thread's own, empty between passes */
	unsigned long cdr_dropped;        /* under mu */
	struct fwd_op ops[JOBS_FWD_QUEUE_MAX]; /* under mu, in order */
	size_t n_ops;
	unsigned long ops_dropped;

	/* Message waiting (see jobs.h). */
	int vm_efd;                       /* readable: vm_out holds counts */
	struct mwi_table *vm_ask;         /* under mu: mailboxes to recount (values unused) */
	bool vm_ask_all;                  /* under mu: recount every mailbox */
	struct mwi_table *vm_out;         /* under mu: counts for the core, newest per mailbox */
	struct mwi_table *vm_seen;        /* the jobs thread's: counts as last read */
	int64_t vm_data_version;          /* the jobs thread's; -1 until the first read */
};

_Static_assert(MWI_MAILBOX_MAX == DB_NUMBER_MAX, "a mailbox is an extension number");

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

/* ---- call records -------------------------------------------------------------- */

void jobs_cdr_put(struct jobs *j, const struct db_cdr *r)
{
	pthread_mutex_lock(&j->mu);
	unsigned long dropped = 0;
	if (j->n_cdr >= JOBS_CDR_QUEUE_MAX) {
		dropped = ++j->cdr_dropped;
	} else {
		j->cdr_q[j->n_cdr++] = *r;
		j->queued_gen++;
		if (j->n_cdr == JOBS_CDR_QUEUE_MAX / 2) {
			/* A burst: write now rather than at the end of the wait. */
			j->kick = true;
			pthread_cond_signal(&j->cond);
		}
	}
	pthread_mutex_unlock(&j->mu);
	if (dropped % 1000 == 1)
		log_warn("jobs: call record queue full (%d), %lu records dropped so far (storage too slow?)",
			 JOBS_CDR_QUEUE_MAX, dropped);
}

unsigned long jobs_cdr_dropped(struct jobs *j)
{
	pthread_mutex_lock(&j->mu);
	unsigned long n = j->cdr_dropped;
	pthread_mutex_unlock(&j->mu);
	return n;
}

/* ---- feature codes ---------------------------------------------------------------- */

static void ops_add(struct jobs *j, const struct fwd_op *op)
{
	pthread_mutex_lock(&j->mu);
	unsigned long dropped = 0;
	if (j->n_ops >= JOBS_FWD_QUEUE_MAX) {
		dropped = ++j->ops_dropped;
	} else {
		j->ops[j->n_ops++] = *op;
		j->queued_gen++;
		j->kick = true;
		pthread_cond_signal(&j->cond);
	}
	pthread_mutex_unlock(&j->mu);
	if (dropped)
		log_warn("jobs: %d forwarding changes pending; the one for %s is dropped", JOBS_FWD_QUEUE_MAX,
			 op->number);
}

/* Copy an extension number into a fixed field; false when it does not fit. */
static bool number_copy(char out[DB_NUMBER_MAX + 1], const char *in)
{
	size_t n = strnlen(in, DB_NUMBER_MAX + 1);
	if (n > DB_NUMBER_MAX)
		return false;
	memcpy(out, in, n);
	out[n] = '\0';
	return true;
}

void jobs_fwd_set(struct jobs *j, const char *number, enum db_fwd_kind kind, const char *target)
{
	struct fwd_op op = { .kind = kind };
	if (!number || !number_copy(op.number, number) || !number_copy(op.target, target ? target : "") ||
	    !db_fwd_kind_name(kind)) {
		log_warn("jobs: forwarding change for %.16s refused: bad number, target or kind",
			 number ? number : "(none)");
		return;
	}
	ops_add(j, &op);
}

void jobs_dnd_set(struct jobs *j, const char *number, bool on)
{
	struct fwd_op op = { .dnd = true, .on = on };
	if (!number || !number_copy(op.number, number)) {
		log_warn("jobs: DND change for %.16s refused: bad number", number ? number : "(none)");
		return;
	}
	ops_add(j, &op);
}

/* Apply the changes in order; true when any was written. */
static bool ops_apply(sqlite3 *db, const struct fwd_op *ops, size_t n)
{
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		const struct fwd_op *op = &ops[i];
		char err[256] = "";
		int rc;
		if (op->dnd) {
			rc = db_ext_set_dnd(db, op->number, op->on);
			if (rc == ENOENT)
				snprintf(err, sizeof err, "extension: %s does not exist", op->number);
		} else {
			rc = db_ext_set_fwd_one(db, op->number, op->kind, op->target, err, sizeof err);
		}
		if (rc != 0) {
			log_warn("jobs: extension %s: %s change refused: %s", op->number,
				 op->dnd ? "dnd" : db_fwd_kind_name(op->kind), err[0] ? err : strerror(rc));
			continue;
		}
		any = true;
		if (op->dnd)
			log_notice("extension %s: do not disturb %s", op->number, op->on ? "on" : "off");
		else
			log_notice("extension %s: %s %s%s", op->number, db_fwd_kind_name(op->kind),
				   op->target[0] ? "to " : "off", op->target);
	}
	return any;
}

/* ---- message waiting ------------------------------------------------------------ */

void jobs_vm_changed(struct jobs *j, const char *mailbox)
{
	pthread_mutex_lock(&j->mu);
	int e = mailbox ? mwi_table_set(j->vm_ask, mailbox, 0, 0, NULL) : ENOSPC;
	if (e && e != EINVAL)
		j->vm_ask_all = true; /* no room to remember which: count them all */
	if (e != EINVAL) {
		j->kick = true;
		pthread_cond_signal(&j->cond);
	}
	pthread_mutex_unlock(&j->mu);
	if (e == EINVAL)
		log_warn("jobs: message waiting recount for a bad mailbox name ignored");
}

int jobs_vm_fd(const struct jobs *j) { return j->vm_efd; }

static void vm_wake(struct jobs *j)
{
	uint64_t one = 1;
	ssize_t w = write(j->vm_efd, &one, sizeof one);
	(void)w;
}

size_t jobs_take_vm_counts(struct jobs *j, struct mwi_count *out, size_t max)
{
	uint64_t v;
	ssize_t r = read(j->vm_efd, &v, sizeof v);
	(void)r;
	pthread_mutex_lock(&j->mu);
	size_t n = mwi_table_take(j->vm_out, out, max);
	size_t left = mwi_table_count(j->vm_out);
	pthread_mutex_unlock(&j->mu);
	if (left)
		vm_wake(j);
	return n;
}

/* Jobs thread: mailbox now holds these counts; queue them for the core when
 * they differ from the last read. True when queued. */
static bool vm_post(struct jobs *j, const char *mailbox, unsigned n_new, unsigned n_old)
{
	bool changed = false;
	if (mwi_table_set(j->vm_seen, mailbox, n_new, n_old, &changed) != 0 || !changed)
		return false;
	pthread_mutex_lock(&j->mu);
	int e = mwi_table_set(j->vm_out, mailbox, n_new, n_old, NULL);
	pthread_mutex_unlock(&j->mu);
	if (e) {
		/* Counts nobody has: the next recount finds them changed again. */
		mwi_table_set(j->vm_seen, mailbox, UINT32_MAX, UINT32_MAX, NULL);
		log_warn("jobs: message waiting counts of %s not handed over: %s", mailbox, strerror(e));
		return false;
	}
	return true;
}

struct vm_walk {
	struct jobs *j;
	bool posted;
};

static int vm_walk_one(void *ctx, const char *mailbox, unsigned n_new, unsigned n_old)
{
	struct vm_walk *w = ctx;
	if (vm_post(w->j, mailbox, n_new, n_old))
		w->posted = true;
	return 0;
}

static int data_version(sqlite3 *db, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	rc = sqlite3_step(st);
	int ret = rc == SQLITE_ROW ? 0 : db_errno(db, rc);
	if (ret == 0)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return ret;
}

#define VM_ASK_BATCH 64

/* Recount what was asked for, and everything when poll finds that another
 * connection wrote since the last look. */
static void check_vm(struct jobs *j, sqlite3 *db, bool poll)
{
	struct mwi_count ask[VM_ASK_BATCH];
	size_t n_ask = 0;
	pthread_mutex_lock(&j->mu);
	bool all = j->vm_ask_all;
	j->vm_ask_all = false;
	if (all) {
		while (mwi_table_take(j->vm_ask, ask, VM_ASK_BATCH) > 0)
			; /* every one is counted below anyway */
	} else {
		n_ask = mwi_table_take(j->vm_ask, ask, VM_ASK_BATCH);
		if (mwi_table_count(j->vm_ask))
			j->kick = true; /* the rest on the next pass */
	}
	pthread_mutex_unlock(&j->mu);
	int64_t dv = -1;
	if (poll && data_version(db, &dv) == 0 && dv != j->vm_data_version) {
		j->vm_data_version = dv;
		all = true;
	}
	struct vm_walk w = { j, false };
	if (all) {
		int e = db_vm_counts_all(db, vm_walk_one, &w);
		if (e)
			log_err("jobs: counting voicemail messages failed: %s", strerror(e));
	} else {
		for (size_t i = 0; i < n_ask; i++) {
			unsigned n_new, n_old;
			int e = db_vm_counts(db, ask[i].mailbox, &n_new, &n_old);
			if (e)
				log_err("jobs: counting the messages of %s failed: %s", ask[i].mailbox, strerror(e));
			else
				vm_walk_one(&w, ask[i].mailbox, n_new, n_old);
		}
	}
	if (w.posted)
		vm_wake(j);
}

/* ---- one pass -------------------------------------------------------------------- */

static void check_config(struct jobs *j, sqlite3 *db);

/* Caller holds mu. Put back a change whose batch failed, unless a newer
 * change of the same binding was queued meanwhile (then p is freed). */
static void pending_requeue(struct jobs *j, struct pending *p)
{
	unsigned h = pending_hash(p->b.aor, p->b.contact);
	for (struct pending *q = j->pending[h]; q; q = q->next)
		if (strcmp(q->b.aor, p->b.aor) == 0 && strcmp(q->b.contact, p->b.contact) == 0 &&
		    q->del_all == p->del_all) {
			free(p);
			return;
		}
	p->next = j->pending[h];
	j->pending[h] = p;
	j->npending++;
}

/* One transaction for the batch. A row the database refuses (a binding it
 * finds invalid) is logged and skipped: the others still go in. Removing a
 * binding that is not stored is no error: its add may have been coalesced
 * away in the same batch. Returns 0, or the errno of a storage failure
 * (nothing written then). */
static int write_bindings(sqlite3 *db, const struct pending *list)
{
	int err = db_begin(db);
	for (const struct pending *p = list; p && !err; p = p->next) {
		int e = p->del ? db_location_del(db, p->b.aor, p->del_all ? NULL : p->b.contact)
			       : db_location_put(db, &p->b);
		if (e == ENOENT && p->del)
			continue;
		if (e == EINVAL || e == EEXIST) {
			log_warn("jobs: binding %s %s not stored: %s", p->b.aor, p->b.contact, strerror(e));
			continue;
		}
		err = e;
	}
	if (!err)
		err = db_commit(db);
	if (err)
		db_rollback(db);
	return err;
}

/* Write one batch; returns how many changes it held. */
static size_t flush_batch(struct jobs *j, sqlite3 *db)
{
	struct fwd_op ops[JOBS_FWD_QUEUE_MAX];
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
	struct db_cdr *cdrs = j->cdr_q;
	size_t n_cdr = j->n_cdr;
	j->cdr_q = j->cdr_spare;
	j->n_cdr = 0;
	size_t n_ops = j->n_ops;
	memcpy(ops, j->ops, n_ops * sizeof ops[0]);
	j->n_ops = 0;
	uint64_t gen = j->queued_gen;
	pthread_mutex_unlock(&j->mu);
	j->cdr_spare = cdrs; /* written below, then empty again for the next swap */

	if (n_ops && ops_apply(db, ops, n_ops))
		check_config(j, db); /* the phone that dialled the code is told at once */
	if (n_cdr) {
		int e = db_cdr_insert_batch(db, cdrs, n_cdr);
		if (e != 0) {
			log_err("jobs: writing %zu call records failed: %s; they are lost", n_cdr, strerror(e));
			pthread_mutex_lock(&j->mu);
			j->cdr_dropped += n_cdr;
			pthread_mutex_unlock(&j->mu);
		}
	}
	if (!list)
		goto done;
	int err = write_bindings(db, list);
	if (err) {
		/* Storage refused the whole transaction (busy, full, I/O): keep the
		 * changes for the next pass rather than lose them; a newer change
		 * of the same binding queued meanwhile wins. */
		if (j->bind_failures++ % 100 == 0) /* every 20 s while storage stays down */
			log_err("jobs: writing %zu binding changes failed: %s; retrying", n, strerror(err));
		pthread_mutex_lock(&j->mu);
		while (list) {
			struct pending *p = list;
			list = p->next;
			pending_requeue(j, p);
		}
		pthread_mutex_unlock(&j->mu);
		gen = 0; /* not written: jobs_sync keeps waiting */
	} else {
		if (j->bind_failures)
			log_notice("jobs: binding changes written again after %lu failed tries", j->bind_failures);
		j->bind_failures = 0;
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
	return n + n_cdr + n_ops;
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
	check_vm(j, db, true); /* the counts the core starts from */
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
		bool due = check_now || now.tv_sec > next.tv_sec ||
			   (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec);
		if (due) {
			check_config(j, db);
			next = now;
			next.tv_sec += 1;
		}
		check_vm(j, db, due);
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
	/* Untouched pages of these cost nothing until a busy day fills them. */
	j->cdr_q = calloc(JOBS_CDR_QUEUE_MAX, sizeof *j->cdr_q);
	j->cdr_spare = calloc(JOBS_CDR_QUEUE_MAX, sizeof *j->cdr_spare);
	j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	j->vm_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	j->vm_data_version = -1;
	bool vm_ok = mwi_table_new(&j->vm_ask) == 0 && mwi_table_new(&j->vm_out) == 0 &&
		     mwi_table_new(&j->vm_seen) == 0;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_cond_init(&j->written, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&j->mu, NULL);
	if (!j->db_path || !j->cdr_q || !j->cdr_spare || j->efd < 0 || j->vm_efd < 0 || !vm_ok ||
	    pthread_create(&j->thread, NULL, jobs_main, j) != 0) {
		if (j->efd >= 0)
			close(j->efd);
		if (j->vm_efd >= 0)
			close(j->vm_efd);
		mwi_table_free(j->vm_ask);
		mwi_table_free(j->vm_out);
		mwi_table_free(j->vm_seen);
		pthread_mutex_destroy(&j->mu);
		pthread_cond_destroy(&j->cond);
		pthread_cond_destroy(&j->written);
		free(j->cdr_q);
		free(j->cdr_spare);
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
	if (j->n_cdr)
		log_err("jobs: %zu call records could not be written before shutdown", j->n_cdr);
	free(j->cdr_q);
	free(j->cdr_spare);
	close(j->efd);
	close(j->vm_efd);
	mwi_table_free(j->vm_ask);
	mwi_table_free(j->vm_out);
	mwi_table_free(j->vm_seen);
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
