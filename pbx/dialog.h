/*
 * dialog.h: one side of a SIP dialog (RFC 3261 section 12) as the B2BUA
 * keeps it for each leg, and the requests it sends inside it.
 *
 * A dialog holds copies (not slices) of everything it needs, because the
 * messages that created it are gone once their callbacks return. Requests
 * go to `dest`, the address the phone really sends from (its REGISTER's or
 * INVITE's source), not to the Contact's host, which is often a private
 * address behind NAT; the Request-URI is still the Contact (remote target).
 * Phones register directly with us, so no route set is kept: a Record-Route
 * from a proxy between us and a phone is not honoured (noted in DESIGN.md).
 */
#ifndef PBX_DIALOG_H
#define PBX_DIALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "sip_addr.h"
#include "sip_build.h"
#include "sip_msg.h"

#define DLG_CALLID_MAX 160
#define DLG_TAG_MAX 80
#define DLG_URI_MAX 256
#define DLG_TARGET_MAX 512

struct dialog {
	char call_id[DLG_CALLID_MAX];
	char local_tag[DLG_TAG_MAX];
	char remote_tag[DLG_TAG_MAX];     /* "" until the peer's tag is known */
	char local_uri[DLG_URI_MAX];      /* name-addr of our side: From in our requests */
	char remote_uri[DLG_URI_MAX];     /* name-addr of the peer: To in our requests */
	char remote_target[DLG_TARGET_MAX]; /* the peer's Contact URI */
	char local_contact[96];           /* our Contact URI: sip:pbx@host:port[;transport=tcp] */
	struct sip_dest dest;             /* where requests to the peer go */
	uint32_t local_cseq;              /* last CSeq we used */
	uint32_t remote_cseq;             /* last CSeq the peer used */
	bool remote_cseq_set;
};

/* Copy a slice into a fixed buffer; false (and "") when it does not fit. */
bool dlg_copy(char *dst, size_t cap, struct slice s);

/* Our Contact URI for a dialog reached through dest. */
void dlg_set_local_contact(struct dialog *d);

/*
 * Start a dialog as the UAS of req (we answer it): Call-ID, the peer's
 * From (URI and tag), our To (req's To with local_tag), the remote target
 * from req's Contact, dest = where req came from. Returns 0 or EMSGSIZE.
 */
int dlg_init_uas(struct dialog *d, const struct sip_msg *req, const struct sip_dest *src,
		 const char *local_tag);

/* Learn the peer's tag and target from a 1xx/2xx to our INVITE (UAC side). */
void dlg_update_from_response(struct dialog *d, const struct sip_msg *resp);

/*
 * Write a request inside the dialog into b: request line to the remote
 * target, a new Via with branch (17+ chars, kept by the caller to match),
 * From/To/Call-ID, CSeq (cseq, method), Contact, Max-Forwards, then extra
 * (already CRLF-terminated lines, may be NULL), content type and body.
 */
void dlg_build_request(const struct dialog *d, struct sip_buf *b, const char *method, uint32_t cseq,
		       const char *branch, const char *extra, const char *ctype, const char *body,
		       size_t body_len);

/* Does an in-dialog request belong to d (Call-ID, From tag = remote tag,
 * To tag = local tag)? */
bool dlg_matches(const struct dialog *d, const struct sip_msg *req);

/* The transport token for Via: "UDP" or "TCP". */
const char *dlg_tp_name(enum sip_tp tp);

#endif
