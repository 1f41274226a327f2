/*
 * vm_notify.c: the voicemail email thread (see vm_notify.h).
 *
 * DESIGN. Posters only append an id to a bounded ring under one mutex and
 * signal a condition; everything slow (SQLite, the SMTP session, the file)
 * happens on this module's thread, one message at a time. Messages waiting
 * for another try sit in a small array owned by the thread alone, each with
 * the monotonic time it is due; the thread sleeps until the next of them or
 * the next post.
 *
 * Stopping must not hang the daemon's shutdown on a relay that accepted the
 * connection and then went silent: smtp_send cannot be interrupted, so
 * vm_notify_stop waits a bounded time and otherwise leaves the thread
 * running, detached, and marks the object orphaned. Whichever side finishes
 * last frees it (decided under the mutex): the owner after a join, or the
 * thread itself on its way out.
 */
#include "vm_notify.h"

#include "db.h"
#include "log.h"
#include "smtp.h"
#include "vm_file.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Room for a prefix ("retrying: ") before the status smtp_send gives;
 * db_vm_msg_set_email_status cuts to DB_VM_STATUS_MAX. */
#define STATUS_BUF (SMTP_STATUS_MAX + 32)

struct retry {
	int64_t id;
	unsigned tries;  /* sends made so far */
	uint64_t due_ms; /* monotonic time of the next one */
};

struct vm_notify {
	pthread_mutex_t mu;
	pthread_cond_t wake;    /* the thread: a post, or stop */
	pthread_cond_t done_cv; /* vm_notify_stop: the thread is finished */
	pthread_t thread;

	/* Under mu. */
	bool stop;    /* vm_notify_stop was called */
	bool done;    /* the thread is past its last use of SQLite and the relay */
	bool orphan;  /* stop gave up waiting: the thread frees n */
	int64_t queue[VM_NOTIFY_QUEUE_MAX]; /* posted ids, a ring */
	unsigned q_head, q_len;
	int64_t full[VM_NOTIFY_FULL_MAX];   /* ids dropped as the queue was full, a ring */
	unsigned full_head, full_len;
	unsigned long dropped;

	/* The thread's alone. */
	struct retry retry[VM_NOTIFY_RETRY_MAX];
	unsigned n_retry;

	/* Copied at start, read-only after. */
	char db_path[PATH_MAX];
	char spool[PATH_MAX];
	unsigned tries, retry_ms, stop_ms, smtp_timeout_ms, smtp_total_ms;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timespec mono_at(uint64_t ms)
{
	return (struct timespec){ .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 };
}

static void notify_free(struct vm_notify *n)
{
	pthread_cond_destroy(&n->done_cv);
	pthread_cond_destroy(&n->wake);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

/* ---- one message ------------------------------------------------------------------------------ */

static void set_status(sqlite3 *db, int64_t id, const char *status)
{
	int rc = db_vm_msg_set_email_status(db, id, status);
	if (rc == ENOENT)
		log_info("vm_notify: message %lld deleted before its email status was stored", (long long)id);
	else if (rc != 0)
		log_warn("vm_notify: message %lld: cannot store email status \"%s\": %s", (long long)id, status,
			 strerror(rc));
}

/* The mailbox a message belongs to. db.h's calls take the mailbox with the
 * id so one box cannot reach another's messages; the poster hands us only
 * the id, so this one lookup is by id alone. */
static int msg_mailbox(sqlite3 *db, int64_t id, char out[DB_NUMBER_MAX + 1])
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT mailbox FROM vm_messages WHERE id = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(db, rc);
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	int ret;
	if (rc == SQLITE_ROW) {
		const char *v = db_col_text(st, 0);
		size_t len = strlen(v);
		if (len == 0 || len > DB_NUMBER_MAX) {
			ret = EINVAL;
		} else {
			memcpy(out, v, len + 1);
			ret = 0;
		}
	} else {
		ret = rc == SQLITE_DONE ? ENOENT : db_errno(db, rc);
	}
	sqlite3_finalize(st);
	return ret;
}

/* The relay's settings, copied out of the settings table. */
struct relay {
	char host[DB_SETTING_VALUE_MAX + 1];
	char user[DB_SETTING_VALUE_MAX + 1];
	char password[DB_SETTING_VALUE_MAX + 1];
	char from[DB_SETTING_VALUE_MAX + 1];
	char ca_file[DB_SETTING_VALUE_MAX + 1];
	uint16_t port;
	enum smtp_tls tls;
};

/* One key into out ("" when missing), checked like pbxctl and the web
 * admin check it: the file may have been edited by other means. */
static int relay_key(sqlite3 *db, const char *key, char *out, size_t cap, char *why, size_t whycap)
{
	out[0] = '\0';
	int rc = db_setting_get(db, key, out, cap);
	if (rc == ENOENT) {
		out[0] = '\0';
		return 0;
	}
	if (rc != 0) {
		out[0] = '\0';
		snprintf(why, whycap, "setting %s: %s", key, rc == ENOSPC ? "too long" : strerror(rc));
		return rc;
	}
	char err[160];
	if (db_setting_validate(key, out, err, sizeof err) != 0) {
		out[0] = '\0';
		snprintf(why, whycap, "setting %s", err);
		return EINVAL;
	}
	return 0;
}

static int relay_load(sqlite3 *db, struct relay *r, char *why, size_t whycap)
{
	char tls[32], port[16];
	int rc;
	if ((rc = relay_key(db, "smtp_host", r->host, sizeof r->host, why, whycap)) ||
	    (rc = relay_key(db, "smtp_port", port, sizeof port, why, whycap)) ||
	    (rc = relay_key(db, "smtp_tls", tls, sizeof tls, why, whycap)) ||
	    (rc = relay_key(db, "smtp_user", r->user, sizeof r->user, why, whycap)) ||
	    (rc = relay_key(db, "smtp_password", r->password, sizeof r->password, why, whycap)) ||
	    (rc = relay_key(db, "smtp_from", r->from, sizeof r->from, why, whycap)) ||
	    (rc = relay_key(db, "smtp_ca_file", r->ca_file, sizeof r->ca_file, why, whycap)))
		return rc;
	if (!r->host[0]) {
		snprintf(why, whycap, "no relay (setting smtp_host)");
		return ENOENT;
	}
	r->tls = !tls[0] || strcmp(tls, "opportunistic") == 0 ? SMTP_TLS_OPPORTUNISTIC
		 : strcmp(tls, "required") == 0		    ? SMTP_TLS_REQUIRED
		 : strcmp(tls, "implicit") == 0		    ? SMTP_TLS_IMPLICIT
							    : SMTP_TLS_NONE;
	/* Validated: 1..65535 when present. */
	r->port = port[0] ? (uint16_t)strtol(port, NULL, 10) : r->tls == SMTP_TLS_IMPLICIT ? 465 : 25;
	return 0;
}

/* Our host name when it can serve as the EHLO argument and a mail domain;
 * "localhost" otherwise. */
static void host_name(char *out, size_t cap)
{
	char h[256] = "";
	size_t len = gethostname(h, sizeof h - 1) == 0 ? strlen(h) : 0;
	if (len == 0 || len >= cap || h[0] == '-' || h[0] == '.' ||
	    strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != len)
		snprintf(out, cap, "localhost");
	else
		memcpy(out, h, len + 1);
}

/* Failures worth another try later: the relay said 4xx, was not reachable
 * (connect: refused, unreachable, name not resolved), timed out or dropped
 * the connection. Refusals (5xx), TLS and AUTH problems, bad settings and a
 * missing file will not go away by waiting. */
static bool temporary(int rc, const char *status)
{
	return rc == EAGAIN || rc == ETIMEDOUT || rc == ECONNRESET || rc == ENOMEM ||
	       strncmp(status, "connect:", 8) == 0;
}

/* The retry due after 'tries' sends: retry_ms, then 4 times longer each. */
static uint64_t retry_delay(const struct vm_notify *n, unsigned tries)
{
	uint64_t d = n->retry_ms;
	for (unsigned i = 1; i < tries && d < UINT64_C(1) << 40; i++)
		d *= 4;
	return d;
}

/* m:ss of a duration, rounded to the second. */
static void fmt_duration(uint32_t ms, char *out, size_t cap)
{
	uint32_t s = (ms + 500) / 1000;
	snprintf(out, cap, "%u:%02u", s / 60, s % 60);
}

/* Send the email of message id (tries sends made before this one). */
static void notify_one(struct vm_notify *n, sqlite3 *db, int64_t id, unsigned tries)
{
	char box[DB_NUMBER_MAX + 1];
	int rc = msg_mailbox(db, id, box);
	if (rc != 0) {
		if (rc == ENOENT)
			log_info("vm_notify: message %lld is gone; no email", (long long)id);
		else
			log_warn("vm_notify: message %lld: %s", (long long)id, strerror(rc));
		return;
	}
	struct db_vm_msg m;
	struct db_mailbox mb;
	if ((rc = db_vm_msg_get(db, box, id, &m)) != 0 || (rc = db_vm_mailbox_get(db, box, &mb)) != 0) {
		if (rc != ENOENT)
			log_warn("vm_notify: message %lld of %s: %s", (long long)id, box, strerror(rc));
		return;
	}
	if (!mb.email[0])
		return; /* no notification asked for: the status stays empty */

	char status[STATUS_BUF], line[SMTP_STATUS_MAX];
	struct relay rl, *r = &rl;
	char why[200];
	if (relay_load(db, r, why, sizeof why) != 0) {
		snprintf(status, sizeof status, "not sent: %s", why);
		log_notice("vm_notify: message %lld to %s %s", (long long)id, mb.email, status);
		set_status(db, id, status);
		return;
	}

	char me[254], dflt_from[sizeof me + 4], dur[16], when[64], subject[SMTP_SUBJECT_MAX + 1];
	host_name(me, sizeof me);
	snprintf(dflt_from, sizeof dflt_from, "pbx@%s", me);
	/* smtp_from was validated as an address by relay_key. */
	const char *from = r->from[0] ? r->from : db_vm_email_valid(dflt_from) ? dflt_from : "pbx@localhost";
	fmt_duration(m.duration_ms, dur, sizeof dur);
	time_t t = (time_t)(m.received_at / 1000);
	struct tm tm;
	if (!localtime_r(&t, &tm) || strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		snprintf(when, sizeof when, "%lld (unix ms)", (long long)m.received_at);
	/* A long display name is left out of the subject rather than cut
	 * inside a UTF-8 sequence; the text carries it whole. */
	int sl = -1;
	if (m.caller_name[0])
		sl = snprintf(subject, sizeof subject, "New voicemail from %s <%s> (%s)", m.caller_name, m.caller, dur);
	if (sl < 0 || (size_t)sl >= sizeof subject)
		snprintf(subject, sizeof subject, "New voicemail from %s (%s)", m.caller, dur);

	char path[PATH_MAX], attach_name[64];
	bool attach = mb.email_attach;
	if (attach && vm_file_path(path, sizeof path, n->spool, m.file) != 0) {
		snprintf(status, sizeof status, "failed: attachment: bad file name");
		set_status(db, id, status);
		return;
	}
	snprintf(attach_name, sizeof attach_name, "voicemail-%s-%lld.ogg", box, (long long)id);

	char text[1024];
	snprintf(text, sizeof text,
		 "You have a new voicemail in mailbox %s.\n"
		 "\n"
		 "From:     %s%s%s%s\n"
		 "Received: %s\n"
		 "Length:   %s\n"
		 "\n"
		 "%s\n",
		 box, m.caller_name, m.caller_name[0] ? " <" : "", m.caller, m.caller_name[0] ? ">" : "", when,
		 dur,
		 attach ? "The recording is attached (Ogg/Opus)."
			: "Listen to it by phone (*97) or in the web admin.");

	struct smtp_cfg cfg = {
		.host = r->host,
		.port = r->port,
		.tls = r->tls,
		.ca_file = r->ca_file[0] ? r->ca_file : NULL,
		.user = r->user,
		.password = r->password,
		.helo = me,
		.timeout_ms = n->smtp_timeout_ms,
		.total_ms = n->smtp_total_ms,
	};
	struct smtp_mail mail = {
		.from = from,
		.from_name = "Voicemail",
		.to = mb.email,
		.subject = subject,
		.text = text,
		.attach_path = attach ? path : NULL,
		.attach_name = attach ? attach_name : NULL,
		.attach_type = attach ? "audio/ogg" : NULL,
	};
	rc = smtp_send(&cfg, &mail, line, sizeof line);
	tries++;
	if (rc == 0) {
		log_info("vm_notify: message %lld to %s %s", (long long)id, mb.email, line);
		set_status(db, id, line);
		return;
	}
	if (temporary(rc, line) && tries < n->tries && n->n_retry < VM_NOTIFY_RETRY_MAX) {
		uint64_t wait = retry_delay(n, tries);
		n->retry[n->n_retry++] = (struct retry){ .id = id, .tries = tries, .due_ms = mono_ms() + wait };
		snprintf(status, sizeof status, "retrying: %s", line);
		log_notice("vm_notify: message %lld to %s: %s; try %u of %u in %llu s", (long long)id, mb.email,
			   line, tries + 1, n->tries, (unsigned long long)(wait / 1000));
		set_status(db, id, status);
		return;
	}
	snprintf(status, sizeof status, "failed: %s", line);
	log_notice("vm_notify: message %lld to %s %s", (long long)id, mb.email, status);
	set_status(db, id, status);
}

/* ---- the thread ------------------------------------------------------------------------------- */

/* The retry due first, or -1. */
static int next_retry(const struct vm_notify *n)
{
	int best = -1;
	for (unsigned i = 0; i < n->n_retry; i++)
		if (best < 0 || n->retry[i].due_ms < n->retry[best].due_ms)
			best = (int)i;
	return best;
}

/* At stop: whatever is still waiting gets a status saying so (the queue is
 * copied out under the mutex; rows are written without it). */
static void mark_left(struct vm_notify *n, sqlite3 *db)
{
	static const char why[] = "not sent: stopped before sending";
	int64_t ids[VM_NOTIFY_QUEUE_MAX + VM_NOTIFY_FULL_MAX];
	unsigned k = 0;
	pthread_mutex_lock(&n->mu);
	for (unsigned i = 0; i < n->q_len; i++)
		ids[k++] = n->queue[(n->q_head + i) % VM_NOTIFY_QUEUE_MAX];
	n->q_len = 0;
	unsigned nfull = n->full_len, fhead = n->full_head;
	int64_t full[VM_NOTIFY_FULL_MAX];
	for (unsigned i = 0; i < nfull; i++)
		full[i] = n->full[(fhead + i) % VM_NOTIFY_FULL_MAX];
	n->full_len = 0;
	pthread_mutex_unlock(&n->mu);
	if (!db)
		return;
	for (unsigned i = 0; i < nfull; i++)
		set_status(db, full[i], "not sent: queue full");
	for (unsigned i = 0; i < k; i++)
		set_status(db, ids[i], why);
	for (unsigned i = 0; i < n->n_retry; i++)
		set_status(db, n->retry[i].id, why);
	if (k + n->n_retry)
		log_notice("vm_notify: %u voicemail emails not sent at stop", k + n->n_retry);
	n->n_retry = 0;
}

static void *notify_main(void *arg)
{
	struct vm_notify *n = arg;
	sqlite3 *db = NULL;
	char err[256];
	if (db_open(n->db_path, &db, err, sizeof err) != 0) {
		log_err("vm_notify: cannot open %s: %s; voicemail emails are off", n->db_path, err);
		db = NULL;
	}
	pthread_mutex_lock(&n->mu);
	while (!n->stop) {
		int64_t id;
		if (n->full_len) {
			id = n->full[n->full_head];
			n->full_head = (n->full_head + 1) % VM_NOTIFY_FULL_MAX;
			n->full_len--;
			pthread_mutex_unlock(&n->mu);
			if (db)
				set_status(db, id, "not sent: queue full");
			pthread_mutex_lock(&n->mu);
			continue;
		}
		if (n->q_len) {
			id = n->queue[n->q_head];
			n->q_head = (n->q_head + 1) % VM_NOTIFY_QUEUE_MAX;
			n->q_len--;
			pthread_mutex_unlock(&n->mu);
			if (db)
				notify_one(n, db, id, 0);
			pthread_mutex_lock(&n->mu);
			continue;
		}
		int r = next_retry(n);
		if (r >= 0 && n->retry[r].due_ms <= mono_ms()) {
			struct retry t = n->retry[r];
			n->retry[r] = n->retry[--n->n_retry];
			pthread_mutex_unlock(&n->mu);
			if (db)
				notify_one(n, db, t.id, t.tries);
			pthread_mutex_lock(&n->mu);
			continue;
		}
		if (r >= 0) {
			struct timespec until = mono_at(n->retry[r].due_ms);
			pthread_cond_timedwait(&n->wake, &n->mu, &until);
		} else {
			pthread_cond_wait(&n->wake, &n->mu);
		}
	}
	pthread_mutex_unlock(&n->mu);

	mark_left(n, db);
	db_close(db);

	pthread_mutex_lock(&n->mu);
	n->done = true;
	bool orphan = n->orphan;
	pthread_cond_broadcast(&n->done_cv);
	pthread_mutex_unlock(&n->mu);
	if (orphan)
		notify_free(n);
	return NULL;
}

/* ---- the owner's side ------------------------------------------------------------------------- */

int vm_notify_start_cfg(struct vm_notify **out, const struct vm_notify_cfg *cfg)
{
	*out = NULL;
	if (!cfg || !cfg->db_path || !cfg->spool || strlen(cfg->db_path) >= PATH_MAX ||
	    strlen(cfg->spool) >= PATH_MAX)
		return EINVAL;
	struct vm_notify *n = calloc(1, sizeof *n);
	if (!n)
		return ENOMEM;
	memcpy(n->db_path, cfg->db_path, strlen(cfg->db_path) + 1);
	memcpy(n->spool, cfg->spool, strlen(cfg->spool) + 1);
	n->tries = cfg->tries ? cfg->tries : VM_NOTIFY_TRIES;
	n->retry_ms = cfg->retry_ms ? cfg->retry_ms : VM_NOTIFY_RETRY_MS;
	n->stop_ms = cfg->stop_ms ? cfg->stop_ms : VM_NOTIFY_STOP_MS;
	n->smtp_timeout_ms = cfg->smtp_timeout_ms;
	n->smtp_total_ms = cfg->smtp_total_ms;

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->wake, &ca);
	pthread_cond_init(&n->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&n->thread, NULL, notify_main, n);
	if (rc != 0) {
		notify_free(n);
		return rc;
	}
	pthread_setname_np(n->thread, "vm_notify");
	*out = n;
	return 0;
}

int vm_notify_start(struct vm_notify **out, const char *db_path, const char *spool)
{
	struct vm_notify_cfg cfg = { .db_path = db_path, .spool = spool };
	return vm_notify_start_cfg(out, &cfg);
}

void vm_notify_post(struct vm_notify *n, int64_t id)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	if (n->q_len < VM_NOTIFY_QUEUE_MAX) {
		n->queue[(n->q_head + n->q_len) % VM_NOTIFY_QUEUE_MAX] = id;
		n->q_len++;
	} else {
		n->dropped++;
		/* Keep the newest: overwrite the oldest remembered one. */
		if (n->full_len == VM_NOTIFY_FULL_MAX) {
			log_warn("vm_notify: queue full; no email for message %lld",
				 (long long)n->full[n->full_head]);
			n->full_head = (n->full_head + 1) % VM_NOTIFY_FULL_MAX;
			n->full_len--;
		}
		n->full[(n->full_head + n->full_len) % VM_NOTIFY_FULL_MAX] = id;
		n->full_len++;
	}
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->mu);
}

unsigned long vm_notify_dropped(struct vm_notify *n)
{
	if (!n)
		return 0;
	pthread_mutex_lock(&n->mu);
	unsigned long d = n->dropped;
	pthread_mutex_unlock(&n->mu);
	return d;
}

void vm_notify_stop(struct vm_notify *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	n->stop = true;
	pthread_cond_signal(&n->wake);
	struct timespec until = mono_at(mono_ms() + n->stop_ms);
	int rc = 0;
	while (!n->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&n->done_cv, &n->mu, &until);
	if (!n->done) {
		/* Detached under the mutex: the thread cannot free n before it
		 * takes the mutex and reads orphan; n is not touched after. */
		unsigned waited = n->stop_ms;
		n->orphan = true;
		pthread_detach(n->thread);
		pthread_mutex_unlock(&n->mu);
		log_warn("vm_notify: an SMTP session is still running after %u ms; not waiting for it", waited);
		return;
	}
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->thread, NULL);
	notify_free(n);
}
