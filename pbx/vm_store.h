/*
 * vm_store.h: the voicemail worker thread, where recordings meet the disk.
 *
 * The core hands it finished recordings (8 kHz PCM from the media engine)
 * and the requests of the phone menu (list, decode, save, delete, PIN);
 * the thread encodes each one to Ogg/Opus (media/vm_file.h: a temporary
 * file renamed into the spool only when complete), then adds its row
 * (db_vm_msg_add), and reports back through an eventfd with the mailbox's
 * new counts so message-waiting lamps can follow. Encoding a three-minute
 * message takes a while and touches the disk, so none of it may run on the
 * core or a media thread; one worker keeps a mailbox's changes in order.
 *
 * Nothing is lost quietly: a mailbox that is full or a spool that cannot
 * take the file is reported (and logged) with its errno, and a file
 * already stored is never touched by a failing one.
 *
 * The vm_store_* calls are for the core thread; none of them waits for
 * the disk or SQLite.
 */
#ifndef PBX_VM_STORE_H
#define PBX_VM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define VM_STORE_QUEUE_MAX 64 /* recordings waiting; past this, refused (EAGAIN) */

struct vm_store;

int vm_store_start(struct vm_store **out, const char *db_path, const char *spool);
/* Finish what is queued (each job is bounded by its length), stop, free. */
void vm_store_stop(struct vm_store *s);

/*
 * Can the spool take a recording of max_ms for mailbox now? Asked before
 * the greeting so the caller is told "mailbox unavailable" rather than
 * speaking into nothing: the spool's tmp folder writable and the file
 * system has room (statvfs, cheap). 0, or the errno (EACCES, EROFS,
 * ENOSPC, ENOENT).
 */
int vm_store_check(const struct vm_store *s, uint32_t max_ms);

enum vm_store_op {
	VM_OP_MESSAGE,  /* store a recorded message (pcm) */
	VM_OP_GREETING, /* store a recorded greeting of kind greeting (pcm) */
	VM_OP_LIST,     /* the mailbox's messages, new then old, oldest first */
	VM_OP_LOAD,     /* decode msg_id of mailbox (msg_id 0: greeting of kind greeting) */
	VM_OP_HEARD,    /* mark msg_id heard */
	VM_OP_SAVE,     /* move msg_id to old (and heard) */
	VM_OP_DELETE,   /* delete msg_id: row, then file */
	VM_OP_SET_PIN,  /* the mailbox PIN */
};

struct vm_store_req {
	enum vm_store_op op;
	uint64_t token;                      /* handed back in the result (a call id) */
	uint32_t tag;                        /* too (the menu's token) */
	char mailbox[DB_NUMBER_MAX + 1];
	int64_t msg_id;
	enum db_vm_greeting greeting;
	char pin[DB_PIN_MAX + 1];
	/* VM_OP_MESSAGE */
	char caller[DB_CDR_PARTY_MAX + 1];
	char caller_name[DB_NAME_BYTES + 1];
	int64_t received_at;                 /* unix ms */
	uint32_t max_ms;                     /* MESSAGE, GREETING: the longest; LOAD: the longest decoded */
	unsigned max_messages;
};

/* Queue a request (copied; pcm, for MESSAGE and GREETING, taken whatever
 * happens). 0, or EAGAIN (queue full), EINVAL, ENOMEM: nothing is done and
 * the caller of this logs it. */
int vm_store_post(struct vm_store *s, const struct vm_store_req *r, int16_t *pcm, size_t n);

struct vm_menu_msg;

struct vm_store_result {
	enum vm_store_op op;
	uint64_t token;
	uint32_t tag;
	char mailbox[DB_NUMBER_MAX + 1];
	int err;               /* 0 done, ENODATA too short (discarded), ENOSPC full, ENOENT, ... */
	int64_t msg_id;        /* MESSAGE: the new row */
	uint32_t duration_ms;
	unsigned n_new, n_old; /* the mailbox's counts after the job */
	int16_t *pcm;          /* LOAD: 8 kHz samples, the taker frees */
	size_t n;
	struct vm_menu_msg *msgs; /* LIST: the taker frees */
	size_t n_msgs;
};

/* Readable (EPOLLIN) when results wait. */
int vm_store_fd(const struct vm_store *s);
/* Move up to max results into out (the taker owns their pcm and msgs);
 * returns how many. Reads the eventfd. */
size_t vm_store_take(struct vm_store *s, struct vm_store_result *out, size_t max);

#endif
