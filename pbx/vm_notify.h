/*
 * vm_notify.h: the thread that emails new voicemail to its mailbox's owner.
 *
 * The core (or whoever adds a message row) posts the message's id; the
 * thread reads the row and its mailbox with its own SQLite connection, and
 * when the mailbox has an email address it sends one mail through the relay
 * named by the settings smtp_host, smtp_port, smtp_tls, smtp_user,
 * smtp_password, smtp_from and smtp_ca_file (read for every message, so a
 * change in the web admin applies to the next one), with the recording
 * attached as audio/ogg when the mailbox asks for it. The outcome goes on
 * the row (vm_messages.email_status): "sent: 250 ...", "failed: RCPT: 550
 * ...", "not sent: ...". A temporary failure (4xx reply, timeout, connect
 * error, connection dropped) is tried again after a wait that grows, a few
 * times, then recorded as failed; that state lives in memory only.
 *
 * The SMTP session blocks (pbx/smtp.h), which is why it has a thread of its
 * own: a slow relay delays nothing else.
 */
#ifndef PBX_VM_NOTIFY_H
#define PBX_VM_NOTIFY_H

#include <stdint.h>

#define VM_NOTIFY_QUEUE_MAX 256    /* posted ids waiting; past it, posts are dropped */
#define VM_NOTIFY_RETRY_MAX 64     /* messages waiting for another try */
#define VM_NOTIFY_FULL_MAX 64      /* dropped ids remembered, to mark their rows */
#define VM_NOTIFY_TRIES 3          /* sends per message, the first included */
#define VM_NOTIFY_RETRY_MS 120000  /* wait before the second try; each later one waits 4 times longer */
#define VM_NOTIFY_STOP_MS 3000     /* how long vm_notify_stop waits for a session in progress */

struct vm_notify;

/* Everything but the paths may be 0 for its default. */
struct vm_notify_cfg {
	const char *db_path;     /* the SQLite file (the thread opens its own connection) */
	const char *spool;       /* the folder the rows' file names are relative to */
	unsigned tries;          /* VM_NOTIFY_TRIES */
	unsigned retry_ms;       /* VM_NOTIFY_RETRY_MS */
	unsigned stop_ms;        /* VM_NOTIFY_STOP_MS */
	unsigned smtp_timeout_ms; /* smtp_cfg.timeout_ms and total_ms: smtp.h's defaults */
	unsigned smtp_total_ms;
};

/* Start the thread with the defaults. 0, EINVAL (a path too long), ENOMEM,
 * or pthread_create's error. The database is opened by the thread: a file
 * it cannot open is logged there, and posts are then only counted. */
int vm_notify_start(struct vm_notify **out, const char *db_path, const char *spool);
int vm_notify_start_cfg(struct vm_notify **out, const struct vm_notify_cfg *cfg);

/*
 * Ask for the email of message id. Any thread; never blocks (one mutex,
 * held to copy an integer). When VM_NOTIFY_QUEUE_MAX ids are waiting the id
 * is dropped: its row is marked "not sent: queue full" once the thread gets
 * to it (the last VM_NOTIFY_FULL_MAX such ids are remembered; older ones
 * are only logged). n NULL is fine (no notifier running).
 */
void vm_notify_post(struct vm_notify *n, int64_t id);

/* Ids dropped so far because the queue was full. */
unsigned long vm_notify_dropped(struct vm_notify *n);

/*
 * Stop the thread and free n (NULL is fine). Messages still waiting (queued
 * or between tries) are marked "not sent: stopped before sending". Returns
 * within stop_ms even when a relay holds a session open: the thread is
 * then left to end that session on its own (bounded by the SMTP timeouts)
 * and frees what it holds itself.
 */
void vm_notify_stop(struct vm_notify *n);

#endif
