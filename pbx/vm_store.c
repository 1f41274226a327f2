/*
 * vm_store.c: the voicemail worker thread; see vm_store.h.
 *
 * Jobs and results are fixed rings under one mutex; the core holds it only
 * to copy into or out of them. The thread owns its SQLite connection.
 */
#include "vm_store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "vm_file.h"
#include "vm_menu.h"

#define RESULTS_MAX 256

struct job {
	struct vm_store_req m;
	int16_t *pcm;
	size_t n;
};

struct vm_store {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	char *db_path;
	char *spool;
	char tmp[PATH_MAX];
	int efd;
	struct job jobs[VM_STORE_QUEUE_MAX]; /* ring, under mu */
	size_t job_head, n_jobs;
	struct vm_store_result res[RESULTS_MAX]; /* ring, under mu */
	size_t res_head, n_res;
	unsigned long res_dropped;
};

int vm_store_check(const struct vm_store *s, uint32_t max_ms)
{
	return vm_spool_room(s->spool, max_ms);
}

int vm_store_post(struct vm_store *s, const struct vm_store_req *m, int16_t *pcm, size_t n)
{
	bool needs_pcm = m && (m->op == VM_OP_MESSAGE || m->op == VM_OP_GREETING);
	if (!m || !m->mailbox[0] || (needs_pcm && (!pcm || n == 0)) ||
	    (m->op == VM_OP_MESSAGE && !m->caller[0])) {
		free(pcm);
		return EINVAL;
	}
	if (!needs_pcm) {
		free(pcm);
		pcm = NULL;
		n = 0;
	}
	pthread_mutex_lock(&s->mu);
	if (s->n_jobs >= VM_STORE_QUEUE_MAX || s->stop) {
		pthread_mutex_unlock(&s->mu);
		free(pcm);
		return EAGAIN;
	}
	struct job *j = &s->jobs[(s->job_head + s->n_jobs) % VM_STORE_QUEUE_MAX];
	j->m = *m;
	j->pcm = pcm;
	j->n = n;
	s->n_jobs++;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int vm_store_fd(const struct vm_store *s) { return s->efd; }

size_t vm_store_take(struct vm_store *s, struct vm_store_result *out, size_t max)
{
	uint64_t v;
	ssize_t r = read(s->efd, &v, sizeof v);
	(void)r;
	pthread_mutex_lock(&s->mu);
	size_t k = 0;
	while (k < max && s->n_res) {
		out[k++] = s->res[s->res_head];
		s->res_head = (s->res_head + 1) % RESULTS_MAX;
		s->n_res--;
	}
	bool more = s->n_res > 0;
	pthread_mutex_unlock(&s->mu);
	if (more) { /* wake the core again for the rest */
		uint64_t one = 1;
		r = write(s->efd, &one, sizeof one);
		(void)r;
	}
	return k;
}

static void post_result(struct vm_store *s, const struct vm_store_result *res)
{
	pthread_mutex_lock(&s->mu);
	if (s->n_res >= RESULTS_MAX) {
		/* The core is not draining: keep the newest (counts are absolute). */
		free(s->res[s->res_head].pcm);
		free(s->res[s->res_head].msgs);
		s->res_head = (s->res_head + 1) % RESULTS_MAX;
		s->n_res--;
		if (s->res_dropped++ % 100 == 0)
			log_warn("voicemail: the core is not taking results; dropping the oldest");
	}
	s->res[(s->res_head + s->n_res) % RESULTS_MAX] = *res;
	s->n_res++;
	pthread_mutex_unlock(&s->mu);
	uint64_t one = 1;
	ssize_t r = write(s->efd, &one, sizeof one);
	(void)r;
}

/* Encode, rename into place, add the row. On any failure nothing of this
 * message stays behind and earlier messages are untouched. */
static int store_one(struct vm_store *s, sqlite3 *db, const struct job *j, int64_t *id, uint32_t *dur)
{
	unsigned n_new = 0, n_old = 0;
	int err = db_vm_counts(db, j->m.mailbox, &n_new, &n_old);
	if (err)
		return err;
	if (n_new + n_old >= j->m.max_messages)
		return ENOSPC;
	uint32_t ms = (uint32_t)(j->n / (VM_FILE_RATE / 1000));
	if (ms < VM_FILE_MIN_MS)
		return ENODATA;
	uint32_t max_ms = j->m.max_ms < VM_FILE_MIN_MS ? VM_FILE_MIN_MS : j->m.max_ms;
	if (max_ms > VM_FILE_MAX_MS)
		max_ms = VM_FILE_MAX_MS;
	struct vm_rec *r = NULL;
	if ((err = vm_rec_open(&r, s->spool, j->m.mailbox, max_ms)) != 0)
		return err;
	if ((err = vm_rec_write(r, j->pcm, j->n)) != 0) {
		vm_rec_abort(r);
		return err;
	}
	struct db_vm_msg m;
	memset(&m, 0, sizeof m);
	if ((err = vm_rec_commit(r, NULL, m.file, sizeof m.file, dur)) != 0)
		return err;
	snprintf(m.mailbox, sizeof m.mailbox, "%s", j->m.mailbox);
	snprintf(m.caller, sizeof m.caller, "%s", j->m.caller);
	snprintf(m.caller_name, sizeof m.caller_name, "%s", j->m.caller_name);
	m.folder = DB_VM_NEW;
	m.received_at = j->m.received_at;
	m.duration_ms = *dur;
	if ((err = db_vm_msg_add(db, &m, id)) != 0) {
		/* No row may be missing its file, nor a file its row. */
		vm_file_unlink(s->spool, m.file);
		return err;
	}
	return 0;
}

/* A greeting: encoded like a message, stored under its fixed name (the
 * previous one replaced in one rename), then the mailbox row points at it. */
static int store_greeting(struct vm_store *s, sqlite3 *db, const struct job *j, uint32_t *dur)
{
	static const char *const names[DB_VM_GREETING_COUNT] = { "greeting-unavail", "greeting-busy",
								 "greeting-name" };
	if ((unsigned)j->m.greeting >= DB_VM_GREETING_COUNT)
		return EINVAL;
	uint32_t ms = (uint32_t)(j->n / (VM_FILE_RATE / 1000));
	if (ms < VM_FILE_MIN_MS)
		return ENODATA;
	struct vm_rec *r = NULL;
	int err = vm_rec_open(&r, s->spool, j->m.mailbox, ms + 1000);
	if (err)
		return err;
	if ((err = vm_rec_write(r, j->pcm, j->n)) != 0) {
		vm_rec_abort(r);
		return err;
	}
	char rel[DB_VM_FILE_MAX + 1];
	if ((err = vm_rec_commit(r, names[j->m.greeting], rel, sizeof rel, dur)) != 0)
		return err;
	return db_vm_set_greeting(db, j->m.mailbox, j->m.greeting, rel);
}

struct list_ctx {
	struct vm_menu_msg *v;
	size_t n, cap;
};

static int list_one(void *ctx, const struct db_vm_msg *m)
{
	struct list_ctx *L = ctx;
	if (L->n == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 32;
		if (cap > VM_MENU_MSGS_MAX)
			cap = VM_MENU_MSGS_MAX;
		if (cap == L->cap)
			return 0; /* bounded: the rest are not offered */
		struct vm_menu_msg *v = realloc(L->v, cap * sizeof *v);
		if (!v)
			return ENOMEM;
		L->v = v;
		L->cap = cap;
	}
	L->v[L->n].id = m->id;
	L->v[L->n].is_new = m->folder == DB_VM_NEW;
	L->n++;
	return 0;
}

/* Decode a message (or a greeting when msg_id is 0) for playing. */
static int load_one(struct vm_store *s, sqlite3 *db, const struct job *j, struct vm_store_result *res)
{
	char rel[DB_VM_FILE_MAX + 1];
	if (j->m.msg_id) {
		struct db_vm_msg m;
		int err = db_vm_msg_get(db, j->m.mailbox, j->m.msg_id, &m);
		if (err)
			return err;
		snprintf(rel, sizeof rel, "%s", m.file);
		res->duration_ms = m.duration_ms;
	} else {
		struct db_mailbox b;
		int err = db_vm_mailbox_get(db, j->m.mailbox, &b);
		if (err)
			return err;
		if ((unsigned)j->m.greeting >= DB_VM_GREETING_COUNT || !b.greeting[j->m.greeting][0])
			return ENOENT;
		snprintf(rel, sizeof rel, "%s", b.greeting[j->m.greeting]);
	}
	uint32_t max = j->m.max_ms ? j->m.max_ms : VM_FILE_MAX_MS;
	return vm_file_decode(s->spool, rel, max, &res->pcm, &res->n);
}

static int run_op(struct vm_store *s, sqlite3 *db, struct job *j, struct vm_store_result *res)
{
	char file[DB_VM_FILE_MAX + 1];
	int err;
	switch (j->m.op) {
	case VM_OP_MESSAGE:
		return store_one(s, db, j, &res->msg_id, &res->duration_ms);
	case VM_OP_GREETING:
		return store_greeting(s, db, j, &res->duration_ms);
	case VM_OP_LIST: {
		struct list_ctx L = { 0 };
		err = db_vm_msg_list(db, j->m.mailbox, DB_VM_ANY, list_one, &L);
		if (err) {
			free(L.v);
			return err;
		}
		res->msgs = L.v;
		res->n_msgs = L.n;
		return 0;
	}
	case VM_OP_LOAD:
		return load_one(s, db, j, res);
	case VM_OP_HEARD:
		return db_vm_msg_set_heard(db, j->m.mailbox, j->m.msg_id, true);
	case VM_OP_SAVE:
		err = db_vm_msg_move_old(db, j->m.mailbox, j->m.msg_id);
		if (err == 0)
			err = db_vm_msg_set_heard(db, j->m.mailbox, j->m.msg_id, true);
		return err;
	case VM_OP_DELETE:
		/* The row first: a file without a row is an orphan, a row without
		 * its file a broken message. */
		err = db_vm_msg_del(db, j->m.mailbox, j->m.msg_id, file);
		if (err == 0 && file[0]) {
			int e = vm_file_unlink(s->spool, file);
			if (e && e != ENOENT)
				log_warn("voicemail: %s: could not remove %s: %s", j->m.mailbox, file, strerror(e));
		}
		return err;
	case VM_OP_SET_PIN:
		return db_vm_set_pin(db, j->m.mailbox, j->m.pin);
	}
	return EINVAL;
}

static void run_job(struct vm_store *s, sqlite3 *db, struct job *j)
{
	struct vm_store_result res;
	memset(&res, 0, sizeof res);
	res.op = j->m.op;
	res.token = j->m.token;
	res.tag = j->m.tag;
	res.msg_id = j->m.msg_id;
	snprintf(res.mailbox, sizeof res.mailbox, "%s", j->m.mailbox);
	res.err = db ? run_op(s, db, j, &res) : EIO;
	free(j->pcm);
	j->pcm = NULL;
	if (j->m.op == VM_OP_MESSAGE) {
		if (res.err == 0)
			log_info("voicemail: message %lld for %s from %s stored (%u ms)", (long long)res.msg_id,
				 j->m.mailbox, j->m.caller, res.duration_ms);
		else if (res.err == ENODATA)
			log_info("voicemail: message for %s from %s under a second, discarded", j->m.mailbox,
				 j->m.caller);
		else
			log_err("voicemail: message for %s from %s not stored: %s", j->m.mailbox, j->m.caller,
				res.err == ENOSPC && db ? "mailbox full or disk full" : strerror(res.err));
	} else if (j->m.op == VM_OP_GREETING && res.err == 0) {
		log_info("voicemail: greeting %d of %s stored (%u ms)", (int)j->m.greeting, j->m.mailbox,
			 res.duration_ms);
	} else if (res.err && res.err != ENODATA) {
		static const char *const ops[] = { "message", "greeting", "list", "load", "heard", "save",
						   "delete", "set-pin" };
		log_err("voicemail: %s %s %lld: %s", ops[j->m.op], j->m.mailbox, (long long)j->m.msg_id,
			strerror(res.err));
	}
	if (db)
		db_vm_counts(db, j->m.mailbox, &res.n_new, &res.n_old);
	post_result(s, &res);
}

static void *vm_store_main(void *arg)
{
	struct vm_store *s = arg;
	sqlite3 *db = NULL;
	char err[256];
	if (db_open(s->db_path, &db, err, sizeof err) != 0) {
		log_err("voicemail: cannot open %s: %s; messages cannot be stored", s->db_path, err);
		db = NULL;
	}
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && s->n_jobs == 0)
			pthread_cond_wait(&s->cond, &s->mu);
		if (s->n_jobs == 0)
			break; /* stopping, and everything queued is done */
		struct job j = s->jobs[s->job_head];
		s->job_head = (s->job_head + 1) % VM_STORE_QUEUE_MAX;
		s->n_jobs--;
		pthread_mutex_unlock(&s->mu);
		run_job(s, db, &j);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	db_close(db);
	return NULL;
}

int vm_store_start(struct vm_store **out, const char *db_path, const char *spool)
{
	*out = NULL;
	struct vm_store *s = calloc(1, sizeof *s);
	if (!s)
		return ENOMEM;
	s->efd = -1;
	s->db_path = strdup(db_path);
	s->spool = strdup(spool);
	if (!s->db_path || !s->spool) {
		free(s->db_path);
		free(s->spool);
		free(s);
		return ENOMEM;
	}
	if (snprintf(s->tmp, sizeof s->tmp, "%s/%s", spool, VM_FILE_TMP) >= (int)sizeof s->tmp) {
		free(s->db_path);
		free(s->spool);
		free(s);
		return ENAMETOOLONG;
	}
	/* A spool that cannot be written is no reason not to start: calls go
	 * on, callers hear "mailbox unavailable", the log says why. */
	if (mkdir(s->tmp, 0750) != 0 && errno != EEXIST)
		log_err("voicemail: cannot create %s: %s", s->tmp, strerror(errno));
	unsigned removed = 0;
	if (vm_spool_clean_tmp(spool, &removed) == 0 && removed)
		log_notice("voicemail: removed %u unfinished recordings from %s", removed, s->tmp);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (s->efd < 0 || pthread_create(&s->thread, NULL, vm_store_main, s) != 0) {
		int e = s->efd < 0 ? errno : EAGAIN;
		if (s->efd >= 0)
			close(s->efd);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cond);
		free(s->db_path);
		free(s->spool);
		free(s);
		return e;
	}
	*out = s;
	return 0;
}

void vm_store_stop(struct vm_store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	for (size_t i = 0; i < s->n_res; i++) { /* results the core never took */
		struct vm_store_result *r = &s->res[(s->res_head + i) % RESULTS_MAX];
		free(r->pcm);
		free(r->msgs);
	}
	close(s->efd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
	free(s->db_path);
	free(s->spool);
	free(s);
}
