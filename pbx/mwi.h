/*
 * mwi.h: the body of a message-summary NOTIFY (RFC 3842), which lights the
 * message-waiting lamp of a phone:
 *
 *   Messages-Waiting: yes
 *   Message-Account: sip:1001@pbx.example
 *   Voice-Message: 2/8 (0/0)
 *
 * (new/old, then urgent new/old: we keep no urgent messages). A pure
 * function: the core builds the body for each SUBSCRIBE dialog or
 * unsolicited NOTIFY when a mailbox's counts change.
 *
 * Also pure, for the core's subscriptions (pbx/core_mwi.c) and the jobs
 * thread's recounts: the checks of a SUBSCRIBE's Event, Accept and Expires,
 * and a table of counts per mailbox. Nothing here locks; each table belongs
 * to one thread or is guarded by its owner's mutex.
 */
#ifndef PBX_MWI_H
#define PBX_MWI_H

#include <stdbool.h>
#include <stddef.h>

#include "slice.h"

#define MWI_CONTENT_TYPE "application/simple-message-summary"
#define MWI_EVENT "message-summary"
#define MWI_ACCOUNT_MAX 256 /* bytes of the Message-Account URI */
#define MWI_BODY_MAX 400    /* a body always fits this */

/*
 * Write the body into out (NUL-terminated) and its length into *len.
 * account: the mailbox's URI ("sip:1001@host"), or NULL/"" to leave the
 * Message-Account line out; it must be a URI of printable ASCII without
 * spaces (EINVAL otherwise: it would break the body's lines). ENOSPC when
 * cap is too small (MWI_BODY_MAX always does).
 */
int mwi_body(char *out, size_t cap, const char *account, unsigned n_new, unsigned n_old, size_t *len);

/* ---- SUBSCRIBE checks ------------------------------------------------------ */

#define MWI_EXPIRES_DEFAULT 3600 /* seconds, when a SUBSCRIBE has no Expires */
#define MWI_EXPIRES_MIN 60       /* below: 423 with Min-Expires */
#define MWI_EXPIRES_MAX 86400    /* above: granted this much */
#define MWI_EVENT_ID_MAX 64      /* bytes of an Event id parameter we echo */

/*
 * The duration to grant a SUBSCRIBE that asked for `asked` seconds (-1: no
 * Expires header): the default when absent, at most MWI_EXPIRES_MAX, 0 to
 * unsubscribe (or fetch once). 0 and *granted, or ERANGE when
 * 0 < asked < MWI_EXPIRES_MIN (answer 423).
 */
int mwi_expires(long asked, long *granted);

/*
 * Is an Event header value "message-summary" (RFC 6665 event types compare
 * exactly; whitespace around is allowed), with any parameters? When id is
 * not NULL it gets the id parameter (absent when none), which each NOTIFY
 * must echo (RFC 6665 8.2.3).
 */
bool mwi_event_ok(struct slice value, struct slice *id);

/*
 * Does one Accept header value allow MWI_CONTENT_TYPE (itself,
 * application/<star> or <star>/<star>, with or without parameters, q=0
 * excluded)? An empty value accepts nothing. A request without any Accept
 * header accepts our type (RFC 3842 default).
 */
bool mwi_accept_ok(struct slice value);

/* ---- counts per mailbox ---------------------------------------------------- */

#define MWI_MAILBOX_MAX 15     /* bytes of a mailbox number (DB_NUMBER_MAX) */
#define MWI_TABLE_MAX 200000   /* mailboxes a table holds; beyond: ENOSPC */

struct mwi_count {
	char mailbox[MWI_MAILBOX_MAX + 1];
	unsigned n_new, n_old;
};

struct mwi_table; /* mailbox -> new/old, owned by whoever made it */

int mwi_table_new(struct mwi_table **out); /* 0 or ENOMEM */
void mwi_table_free(struct mwi_table *t);   /* NULL is fine */
/*
 * Store mailbox's counts (an entry is kept even for 0/0). *changed (may be
 * NULL) tells whether they differ from before, an absent mailbox counting
 * 0/0. 0, EINVAL (mailbox empty or longer than MWI_MAILBOX_MAX), ENOSPC
 * (MWI_TABLE_MAX mailboxes already) or ENOMEM; the table is unchanged then.
 */
int mwi_table_set(struct mwi_table *t, const char *mailbox, unsigned n_new, unsigned n_old, bool *changed);
/* The counts of mailbox, 0/0 when absent. */
void mwi_table_get(const struct mwi_table *t, const char *mailbox, unsigned *n_new, unsigned *n_old);
/* Move up to max entries out of the table into out (in no particular
 * order); returns how many. A queue of changes drains this way. */
size_t mwi_table_take(struct mwi_table *t, struct mwi_count *out, size_t max);
size_t mwi_table_count(const struct mwi_table *t);

#endif
