/*
 * dialog.c: dialog state copied out of messages, and in-dialog requests.
 */
#include "dialog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool dlg_copy(char *dst, size_t cap, struct slice s)
{
	if (!s.p || s.len >= cap) {
		dst[0] = '\0';
		return !s.p;
	}
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return true;
}

const char *dlg_tp_name(enum sip_tp tp) { return tp == SIP_TP_TCP ? "TCP" : "UDP"; }

void dlg_set_local_contact(struct dialog *d)
{
	char a[SIP_ADDRSTR_MAX];
	sip_addr_str(&d->dest.local, a, sizeof a);
	snprintf(d->local_contact, sizeof d->local_contact, "sip:pbx@%s%s", a,
		 d->dest.tp == SIP_TP_TCP ? ";transport=tcp" : "");
}

/* The name-addr of a From/To without its tag: display name and <URI>,
 * other header parameters dropped (they belong to the hop). */
static bool copy_nameaddr(char *dst, size_t cap, const struct sip_nameaddr *na)
{
	int n;
	if (na->display.len)
		n = snprintf(dst, cap, "%.*s <%.*s>", (int)na->display.len, na->display.p,
			     (int)na->uri.raw.len, na->uri.raw.p);
	else
		n = snprintf(dst, cap, "<%.*s>", (int)na->uri.raw.len, na->uri.raw.p);
	return n > 0 && (size_t)n < cap;
}

int dlg_init_uas(struct dialog *d, const struct sip_msg *req, const struct sip_dest *src,
		 const char *local_tag)
{
	memset(d, 0, sizeof *d);
	sip_response_dest(req, src, &d->dest);
	if (!dlg_copy(d->call_id, sizeof d->call_id, req->call_id) ||
	    !dlg_copy(d->remote_tag, sizeof d->remote_tag, req->from.tag) ||
	    !copy_nameaddr(d->remote_uri, sizeof d->remote_uri, &req->from) ||
	    !copy_nameaddr(d->local_uri, sizeof d->local_uri, &req->to))
		return EMSGSIZE;
	snprintf(d->local_tag, sizeof d->local_tag, "%s", local_tag);
	if (req->ncontacts > 0) {
		if (!dlg_copy(d->remote_target, sizeof d->remote_target, req->contacts[0].na.uri.raw))
			return EMSGSIZE;
	} else {
		/* No Contact (RFC 3261 says there must be one): fall back to From. */
		if (!dlg_copy(d->remote_target, sizeof d->remote_target, req->from.uri.raw))
			return EMSGSIZE;
	}
	d->remote_cseq = req->cseq;
	d->remote_cseq_set = true;
	d->local_cseq = 0;
	dlg_set_local_contact(d);
	return 0;
}

void dlg_update_from_response(struct dialog *d, const struct sip_msg *resp)
{
	if (resp->to.tag.len)
		dlg_copy(d->remote_tag, sizeof d->remote_tag, resp->to.tag);
	if (resp->ncontacts > 0 && resp->contacts[0].na.uri.raw.len < sizeof d->remote_target)
		dlg_copy(d->remote_target, sizeof d->remote_target, resp->contacts[0].na.uri.raw);
}

void dlg_build_request(const struct dialog *d, struct sip_buf *b, const char *method, uint32_t cseq,
		       const char *branch, const char *extra, const char *ctype, const char *body,
		       size_t body_len)
{
	char local[SIP_ADDRSTR_MAX];
	sip_addr_str(&d->dest.local, local, sizeof local);
	sip_buf_printf(b, "%s %s SIP/2.0\r\n", method, d->remote_target);
	sip_buf_printf(b, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", dlg_tp_name(d->dest.tp), local, branch);
	sip_buf_str(b, "Max-Forwards: 70\r\n");
	sip_buf_printf(b, "From: %s;tag=%s\r\n", d->local_uri, d->local_tag);
	if (d->remote_tag[0])
		sip_buf_printf(b, "To: %s;tag=%s\r\n", d->remote_uri, d->remote_tag);
	else
		sip_buf_printf(b, "To: %s\r\n", d->remote_uri);
	sip_buf_printf(b, "Call-ID: %s\r\nCSeq: %u %s\r\nContact: <%s>\r\n", d->call_id, cseq, method,
		       d->local_contact);
	if (extra)
		sip_buf_str(b, extra);
	sip_buf_printf(b, "User-Agent: %s\r\n", sip_server_name);
	if (body_len && ctype)
		sip_buf_printf(b, "Content-Type: %s\r\n", ctype);
	sip_buf_printf(b, "Content-Length: %zu\r\n\r\n", body_len);
	if (body_len)
		sip_buf_add(b, body, body_len);
}

bool dlg_matches(const struct dialog *d, const struct sip_msg *req)
{
	return slice_eq_cstr(req->call_id, d->call_id) && slice_eq_cstr(req->to.tag, d->local_tag) &&
	       slice_eq_cstr(req->from.tag, d->remote_tag);
}
