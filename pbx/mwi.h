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
 */
#ifndef PBX_MWI_H
#define PBX_MWI_H

#include <stddef.h>

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

#endif
