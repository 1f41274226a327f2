/*
 * core_message.c: instant messages (RFC 3428) between extensions.
 *
 * An authenticated MESSAGE to an extension is sent to every registered
 * contact of it at once; the sender gets 200 as soon as one contact takes
 * it, or the best failure when none does, or 480 when nobody is registered.
 */
#include "core_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "log.h"

#define MSG_MAX_FORKS 16
#define MSG_BODY_MAX 16384 /* RFC 3428 asks for at most 1300 bytes over UDP; we allow more on TCP */

struct msg_relay {
	struct msg_relay *next, *prev; /* every relay of the core, freed at shutdown */
	struct core *core;
	struct sip_txn *st;       /* the sender's MESSAGE; NULL once it ended */
	unsigned pending;         /* our MESSAGEs without a final response */
	int best;                 /* best failure so far */
	bool answered;
	struct sip_dest src;
	size_t req_len;
	char req[];               /* the sender's request, to build its response later */
};

static void relay_unlink_free(struct msg_relay *r)
{
	struct core *c = r->core;
	if (r->prev)
		r->prev->next = r->next;
	else
		c->msg_relays = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r);
}

static void relay_done(struct msg_relay *r)
{
	if (r->pending == 0 && !r->st)
		relay_unlink_free(r);
}

/* Shutdown: the transaction layer is gone and reports nothing more. */
void core_message_free_all(struct core *c)
{
	while (c->msg_relays)
		relay_unlink_free(c->msg_relays);
}

static void relay_answer(struct core *c, struct msg_relay *r, int code)
{
	if (r->answered || !r->st)
		return;
	r->answered = true;
	if (sip_msg_parse(c->msg_tmp, r->req, r->req_len, SIP_DGRAM) == 0)
		core_reply(c, r->st, c->msg_tmp, &r->src, code, NULL);
}

void core_message(struct core *c, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src)
{
	const struct config_ext *from = core_auth(c, st, req, src, req->from.uri.user);
	if (!from)
		return;
	char user[32];
	long n = req->ruri.user.p ? sip_unescape(user, sizeof user, req->ruri.user) : -1;
	const struct config_ext *to = n > 0 ? config_ext_find(c->cfg, user, (size_t)n) : NULL;
	if (!to) {
		core_reply(c, st, req, src, 404, NULL);
		return;
	}
	if (req->body.len > MSG_BODY_MAX) {
		core_reply(c, st, req, src, 413, NULL);
		return;
	}
	struct reg_aor *aor = registrar_find(c->reg, to->number);
	if (!aor || !aor->bindings) {
		core_reply(c, st, req, src, 480, NULL);
		return;
	}
	const struct sip_hdr *ct = sip_msg_hdr(req, SIP_HDR_CONTENT_TYPE);
	struct msg_relay *r = calloc(1, sizeof *r + req->len);
	if (!r) {
		core_reply(c, st, req, src, 500, NULL);
		return;
	}
	r->best = 480;
	memcpy(r->req, req->buf, req->len);
	r->req_len = req->len;
	r->src = *src;
	unsigned sent = 0;
	for (struct reg_binding *b = aor->bindings; b && sent < MSG_MAX_FORKS; b = b->next) {
		char branch[17], tag[17], callid[17], local[SIP_ADDRSTR_MAX];
		sip_random_token(branch);
		sip_random_token(tag);
		sip_random_token(callid);
		struct sip_dest dst = b->reach;
		if (dst.local.ss_family == 0)
			dst.local = *sip_transport_primary(c->tp);
		sip_addr_str(&dst.local, local, sizeof local);
		struct sip_buf m;
		sip_buf_init(&m, c->resp, sizeof c->resp);
		sip_buf_printf(&m,
			       "MESSAGE %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%s;rport\r\nMax-Forwards: 70\r\n"
			       "From: <sip:%s@%s>;tag=%s\r\nTo: <sip:%s@%s>\r\nCall-ID: %s@%s\r\nCSeq: 1 MESSAGE\r\n"
			       "User-Agent: %s\r\n",
			       b->contact, dlg_tp_name(dst.tp), local, branch, from->number, local, tag, to->number,
			       local, callid, local, sip_server_name);
		sip_buf_str(&m, "Content-Type: ");
		if (ct)
			sip_buf_slice(&m, ct->value);
		else
			sip_buf_str(&m, "text/plain");
		sip_buf_printf(&m, "\r\nContent-Length: %zu\r\n\r\n", req->body.len);
		sip_buf_slice(&m, req->body);
		if (!sip_buf_ok(&m))
			continue;
		if (sip_txn_request(c->txl, m.p, m.len, &dst, r, NULL) == 0) {
			r->pending++;
			sent++;
		}
	}
	if (sent == 0) {
		free(r);
		core_reply(c, st, req, src, 480, NULL);
		return;
	}
	r->st = st;
	sip_txn_set_user(st, r);
	r->core = c;
	r->next = c->msg_relays;
	if (r->next)
		r->next->prev = r;
	c->msg_relays = r;
	c->st.messages++;
	log_info("message: %s -> %s, %u contact%s", from->number, to->number, sent, sent == 1 ? "" : "s");
}

/* A final response (or a failure: status 408/503) for one of our MESSAGEs. */
void core_message_result(struct core *c, struct sip_txn *ct, int status)
{
	struct msg_relay *r = sip_txn_user(ct);
	if (!r || status < 200)
		return;
	sip_txn_set_user(ct, NULL);
	if (r->pending)
		r->pending--;
	if (status < 300) {
		relay_answer(c, r, 200);
	} else {
		/* Prefer an answer that says something over a timeout. */
		if (status != 408 && status != 503)
			r->best = status;
		if (r->pending == 0)
			relay_answer(c, r, r->best);
	}
	relay_done(r);
}

void core_message_server_gone(struct core *c, struct sip_txn *st)
{
	(void)c;
	struct msg_relay *r = sip_txn_user(st);
	if (!r)
		return;
	r->st = NULL;
	relay_done(r);
}
