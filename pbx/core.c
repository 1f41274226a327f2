/*
 * core.c: the SIP core thread's loop and request dispatch.
 *
 * Every datagram or framed stream message is parsed once, checked against
 * what RFC 3261 section 8.2 asks of a UAS (scheme, CSeq, Require, hops),
 * matched to a transaction, and a new request goes to its method's handler.
 * Requests from a source the throttle has banned are dropped unanswered:
 * an attacker learns nothing and costs us nothing.
 */
#include "core_priv.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "call.h"
#include "log.h"
#include "vm_store.h"

#define ALLOW_HDR "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, REFER, NOTIFY, UPDATE, SUBSCRIBE\r\n"

void core_begin_reply(struct core *c, struct sip_buf *b, const struct sip_msg *req,
		      const struct sip_dest *src, int code)
{
	char tag[17];
	sip_random_token(tag);
	sip_buf_init(b, c->resp, sizeof c->resp);
	sip_build_response(b, req, src, code, NULL, tag);
}

void core_send_built(struct core *c, struct sip_txn *st, const struct sip_msg *req,
		     const struct sip_dest *src, struct sip_buf *b, int code)
{
	if (!sip_buf_ok(b)) {
		/* Only an absurdly long request gets here: say so with a bare 500
		 * rather than leave the transaction unanswered. */
		log_warn("response %d to %.*s did not fit", code, (int)(req->method.len > 32 ? 32 : req->method.len),
			 req->method.p);
		if (code != 500)
			core_reply(c, st, req, src, 500, NULL);
		return;
	}
	if (st) {
		sip_txn_respond(st, code, b->p, b->len);
		return;
	}
	struct sip_dest dst;
	sip_response_dest(req, src, &dst);
	sip_transport_send(c->tp, &dst, b->p, b->len);
}

void core_reply(struct core *c, struct sip_txn *st, const struct sip_msg *req,
		const struct sip_dest *src, int code, const char *extra_headers)
{
	struct sip_buf b;
	core_begin_reply(c, &b, req, src, code);
	if (extra_headers)
		sip_buf_str(&b, extra_headers);
	sip_build_end(&b, NULL, 0);
	core_send_built(c, st, req, src, &b, code);
}

/*
 * A request too broken for sip_msg_can_reply (no usable Via, CSeq,
 * Call-ID...) still deserves a 400 when it can be told apart at all: copy
 * the header lines a response carries as they were written, and send it
 * to where the datagram came from (RFC 4475 insuf, badinv01, scalar02).
 */
static void reply_broken(struct core *c, const struct sip_msg *m, const struct sip_dest *src, int code)
{
	struct sip_buf b;
	sip_buf_init(&b, c->resp, sizeof c->resp);
	sip_buf_printf(&b, "SIP/2.0 %d %s\r\n", code, sip_reason(code));
	unsigned copied = 0;
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];
		if (h->id != SIP_HDR_VIA && h->id != SIP_HDR_FROM && h->id != SIP_HDR_TO &&
		    h->id != SIP_HDR_CALL_ID && h->id != SIP_HDR_CSEQ)
			continue;
		sip_buf_slice(&b, h->name);
		sip_buf_str(&b, ": ");
		sip_buf_slice(&b, h->value);
		sip_buf_str(&b, "\r\n");
		copied++;
	}
	if (copied == 0)
		return; /* nothing would let the sender match it */
	sip_build_end(&b, NULL, 0);
	if (!sip_buf_ok(&b))
		return;
	struct sip_dest dst = *src;
	if (m->nvia > 0)
		sip_response_dest(m, src, &dst);
	sip_transport_send(c->tp, &dst, b.p, b.len);
}

/* ---------------------------------------------------------------- methods */

static void handle_options(struct core *c, struct sip_txn *st, const struct sip_msg *req,
			   const struct sip_dest *src)
{
	/* Answered by the PBX itself for any Request-URI, so OPTIONS never
	 * tells a scanner whether an extension exists. */
	core_reply(c, st, req, src, 200,
		   ALLOW_HDR "Accept: application/sdp\r\nAccept-Language: en\r\nSupported: \r\n");
}

static void handle_invite(struct core *c, struct sip_txn *st, const struct sip_msg *req,
			  const struct sip_dest *src)
{
	const struct config_ext *caller = core_auth(c, st, req, src, req->from.uri.user);
	if (!caller)
		return;
	call_invite(c, st, req, src, caller);
}

static void on_request(void *ctx, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src)
{
	struct core *c = ctx;
	if (req->to.tag.len && req->method_id != SIP_CANCEL && req->method_id != SIP_REGISTER &&
	    req->method_id != SIP_OPTIONS) {
		/* Inside a dialog: the B2BUA's calls or a message-waiting subscription. */
		if (!call_in_dialog(c, st, req, src) && !core_mwi_in_dialog(c, st, req, src) &&
		    req->method_id != SIP_ACK)
			core_reply(c, st, req, src, 481, NULL);
		return;
	}
	switch (req->method_id) {
	case SIP_REGISTER:
		core_register(c, st, req, src);
		return;
	case SIP_OPTIONS:
		handle_options(c, st, req, src);
		return;
	case SIP_INVITE:
		handle_invite(c, st, req, src);
		return;
	case SIP_MESSAGE:
		core_message(c, st, req, src);
		return;
	case SIP_SUBSCRIBE:
		core_mwi_subscribe(c, st, req, src);
		return;
	case SIP_ACK:
		return; /* an ACK outside any dialog: nothing to do */
	case SIP_CANCEL: {
		struct sip_txn *inv = sip_txn_cancel_target(st);
		core_reply(c, st, req, src, inv ? 200 : 481, NULL);
		if (inv)
			call_cancel(c, inv);
		return;
	}
	case SIP_BYE:
	case SIP_UPDATE:
	case SIP_REFER:
	case SIP_NOTIFY:
		core_reply(c, st, req, src, 481, NULL);
		return;
	default:
		core_reply(c, st, req, src, 501, ALLOW_HDR);
		return;
	}
}

/* Our client transactions belong to their method's owner: OPTIONS to the
 * keepalives, MESSAGE to the message relay, everything else to calls. */
static void on_response(void *ctx, struct sip_txn *ct, const struct sip_msg *resp,
			const struct sip_dest *src)
{
	struct core *c = ctx;
	(void)src;
	switch (sip_txn_method(ct)) {
	case SIP_OPTIONS:
		if (resp->status >= 200)
			core_register_txn_done(c, ct, resp->status);
		return;
	case SIP_MESSAGE:
		core_message_result(c, ct, resp->status);
		return;
	case SIP_NOTIFY:
		if (!core_mwi_txn_result(c, ct, resp->status))
			call_response(c, ct, resp);
		return;
	default:
		call_response(c, ct, resp);
		return;
	}
}

static void on_client_fail(void *ctx, struct sip_txn *ct, int reason)
{
	struct core *c = ctx;
	int status = reason == ETIMEDOUT ? 408 : 503;
	switch (sip_txn_method(ct)) {
	case SIP_OPTIONS:
		core_register_txn_done(c, ct, status);
		return;
	case SIP_MESSAGE:
		core_message_result(c, ct, status);
		return;
	case SIP_NOTIFY:
		if (!core_mwi_txn_result(c, ct, status))
			call_client_fail(c, ct, reason);
		return;
	default:
		call_client_fail(c, ct, reason);
		return;
	}
}

static void on_client_gone(void *ctx, struct sip_txn *ct)
{
	struct core *c = ctx;
	enum sip_method m = sip_txn_method(ct);
	if (m != SIP_OPTIONS && m != SIP_MESSAGE)
		call_client_gone(c, ct);
}

static void on_server_gone(void *ctx, struct sip_txn *st)
{
	struct core *c = ctx;
	switch (sip_txn_method(st)) {
	case SIP_INVITE:
		call_server_gone(c, st);
		return;
	case SIP_MESSAGE:
		core_message_server_gone(c, st);
		return;
	default:
		return;
	}
}

static void on_media(struct loop_watch *w, uint32_t events)
{
	struct core *c = (struct core *)((char *)w - offsetof(struct core, media_w));
	(void)events;
	struct media_event ev[32];
	size_t n;
	/* Bounded: at most 32 batches per wake-up, the rest on the next one. */
	for (int round = 0; round < 32 && (n = media_events_take(c->media, ev, 32)) > 0; round++)
		for (size_t i = 0; i < n; i++)
			call_media_event(c, &ev[i]);
}

static void on_vm(struct loop_watch *w, uint32_t events)
{
	struct core *c = (struct core *)((char *)w - offsetof(struct core, vm_w));
	(void)events;
	vm_results(c);
}

static int txn_send(void *ctx, const struct sip_dest *dst, const char *buf, size_t len)
{
	struct core *c = ctx;
	return sip_transport_send(c->tp, dst, buf, len);
}

/* ---------------------------------------------------------------- input */

/* RFC 3261 8.2.2: is there an option in Require we do not support? The
 * only one we do is "timer" (RFC 4028); the others are listed back. */
static bool require_unsupported(const struct sip_msg *req, char *unsup, size_t cap)
{
	unsup[0] = '\0';
	if (req->method_id == SIP_ACK || req->method_id == SIP_CANCEL)
		return false;
	struct sip_buf b;
	sip_buf_init(&b, unsup, cap - 1);
	unsigned n = 0;
	for (unsigned i = 0; i < req->nhdrs; i++) {
		const struct sip_hdr *h = &req->hdrs[i];
		if (h->id != SIP_HDR_REQUIRE)
			continue;
		const char *p = h->value.p, *end = h->value.p + h->value.len;
		while (p < end) {
			while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
				p++;
			const char *s = p;
			while (p < end && *p != ',' && *p != ' ' && *p != '\t')
				p++;
			struct slice opt = slice_make(s, (size_t)(p - s));
			if (opt.len == 0 || slice_ieq_cstr(opt, "timer"))
				continue;
			sip_buf_str(&b, n++ ? ", " : "Unsupported: ");
			sip_buf_slice(&b, opt);
		}
	}
	if (n == 0)
		return false;
	if (!sip_buf_ok(&b))
		return false; /* too long to list: cannot be ours anyway, but say nothing wrong */
	sip_buf_str(&b, "\r\n");
	unsup[b.len < cap ? b.len : cap - 1] = '\0';
	return true;
}

static bool banned(struct core *c, const struct sip_dest *src)
{
	if (!throttle_banned(c->thr, &src->peer, c->now_ms))
		return false;
	c->st.rx_banned++;
	return true;
}

static void on_message(void *ctx, const char *buf, size_t len, const struct sip_dest *src)
{
	struct core *c = ctx;
	c->st.rx++;
	c->now_ms = loop_now_ms();
	sip_txn_set_now(c->txl, c->now_ms);
	if (banned(c, src))
		return;
	struct sip_msg m;
	int err = sip_msg_parse(&m, buf, len, src->tp == SIP_TP_TCP ? SIP_STREAM : SIP_DGRAM);
	if (err == EAGAIN)
		return; /* the transport closes a stream it cannot frame */
	if (err) {
		char a[SIP_ADDRSTR_MAX];
		c->st.rx_bad++;
		log_info("sip: unparseable %s from %s (%s)", m.is_request ? "request" : "message",
			 sip_addr_str(&src->peer, a, sizeof a), err == EPROTONOSUPPORT ? "version" : "syntax");
		int code = err == EPROTONOSUPPORT ? 505 : 400;
		if (m.is_request && m.method_id != SIP_ACK) {
			if (sip_msg_can_reply(&m))
				core_reply(c, NULL, &m, src, code, NULL);
			else
				reply_broken(c, &m, src, code);
		}
		return;
	}
	if (m.is_request) {
		char unsup[256];
		int code = 0;
		const char *extra = NULL;
		if (m.nvia == 0)
			return; /* cannot answer anyway */
		if (m.cseq_method_id != m.method_id ||
		    (m.method_id == SIP_METHOD_UNKNOWN && !slice_eq(m.cseq_method, m.method)))
			code = 400; /* RFC 4475 mismatch01/02 */
		else if (!m.ruri.is_sip && !slice_ieq_cstr(m.ruri.scheme, "tel"))
			code = 416;
		else if (require_unsupported(&m, unsup, sizeof unsup)) {
			code = 420;
			extra = unsup;
		} else if (m.max_forwards == 0 && m.method_id != SIP_OPTIONS && m.method_id != SIP_REGISTER &&
			   m.method_id != SIP_ACK)
			code = 483;
		if (code) {
			if (m.method_id != SIP_ACK)
				core_reply(c, NULL, &m, src, code, extra);
			return;
		}
	}
	int rc = sip_txn_input(c->txl, &m, src);
	if (rc == ENOENT && !m.is_request)
		log_debug("sip: response %d matches no transaction", m.status);
}

/* ---------------------------------------------------------------- config */

static void apply_config(struct core *c)
{
	snprintf(c->realm, sizeof c->realm, "%s", c->cfg->realm);
	struct throttle_cfg tc = { c->cfg->ban_limit, c->cfg->ban_window, c->cfg->ban_time };
	throttle_set_cfg(c->thr, &tc);
	if (throttle_set_allow(c->thr, c->cfg->ban_allow) != 0)
		log_err("setting ban_allow: '%s' is not a list of networks; keeping the old one",
			c->cfg->ban_allow);
	core_auth_apply_config(c);
	core_register_apply_config(c);
	core_net_apply(c);
}

static bool ext_exists(void *ctx, const char *aor)
{
	struct core *c = ctx;
	return config_ext_find(c->cfg, aor, strlen(aor)) != NULL;
}

static void on_config(struct loop_watch *w, uint32_t events)
{
	struct core *c = (struct core *)((char *)w - offsetof(struct core, cfg_w));
	(void)events;
	struct config *n = jobs_take_config(c->jobs);
	if (!n)
		return;
	struct config *old = c->cfg;
	c->cfg = n;
	apply_config(c);
	/* Bindings of deleted extensions go too: their owner is gone. */
	registrar_prune(c->reg, ext_exists, c);
	config_unref(old);
}

static void on_signal(struct loop_watch *w, uint32_t events)
{
	struct core *c = (struct core *)((char *)w - offsetof(struct core, sig_w));
	struct signalfd_siginfo si;
	(void)events;
	while (read(c->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_notice("signal %u: shutting down", si.ssi_signo);
			c->loop.stop = true;
		}
	}
}

/* ---------------------------------------------------------------- life */

int core_new(struct core **out, const struct core_opts *o, sqlite3 *db, struct config *cfg)
{
	struct core *c = calloc(1, sizeof *c);
	int err;
	if (!c)
		return ENOMEM;
	c->cfg = cfg;
	c->sigfd = -1;
	timer_heap_init(&c->th);
	if ((err = loop_init(&c->loop)) != 0)
		goto fail;
	c->now_ms = loop_now_ms();

	struct sip_transport_cfg tcfg = { .trace = o->sip_trace };
	if ((err = sip_transport_new(&c->tp, &c->loop, &c->th, &tcfg, on_message, c)) != 0)
		goto fail;
	if ((err = core_net_start(c, o)) != 0)
		goto fail;
	static const struct sip_txn_ops ops = {
		.send = txn_send,
		.on_request = on_request,
		.on_response = on_response,
		.on_client_fail = on_client_fail,
		.on_client_gone = on_client_gone,
		.on_server_gone = on_server_gone,
	};
	if ((err = sip_txn_layer_new(&c->txl, &c->th, &ops, c)) != 0)
		goto fail;
	if ((err = digest_nonces_new(&c->nonces, cfg->nonce_key, (unsigned)cfg->nonce_lifetime, 1u << 20)) != 0)
		goto fail;
	struct throttle_cfg tc = { cfg->ban_limit, cfg->ban_window, cfg->ban_time };
	if ((err = throttle_new(&c->thr, &tc)) != 0)
		goto fail;
	int64_t serial = cfg->serial;
	if ((err = jobs_start(&c->jobs, o->db_path, serial)) != 0)
		goto fail;
	if ((err = core_mwi_init(c)) != 0)
		goto fail;
	if ((err = core_register_init(c, db)) != 0)
		goto fail;
	if ((err = core_live_init(c)) != 0)
		goto fail;
	if ((err = calls_init(c)) != 0)
		goto fail;
	struct media_engine_cfg mcfg = {
		.threads = o->media_threads,
		.port_lo = o->rtp_lo ? o->rtp_lo : 10000,
		.port_hi = o->rtp_hi ? o->rtp_hi : 20000,
		.timeout_ms = 30000,
		.hold_timeout_ms = 3600000,
		.realtime = true,
		.prompt_dir = o->prompt_dir,
	};
	if ((err = media_engine_start(&c->media, &mcfg)) != 0) {
		log_err("media: cannot start: %s", strerror(err));
		goto fail;
	}
	if ((err = loop_add(&c->loop, &c->media_w, media_event_fd(c->media), EPOLLIN, on_media)) != 0)
		goto fail;
	/* Without its worker the PBX still runs; callers hear "mailbox unavailable". */
	if (o->spool && (err = vm_store_start(&c->vm, o->db_path, o->spool)) != 0)
		log_err("voicemail: cannot start: %s", strerror(err));
	if (c->vm && (err = loop_add(&c->loop, &c->vm_w, vm_store_fd(c->vm), EPOLLIN, on_vm)) != 0)
		goto fail;
	apply_config(c);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	c->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (c->sigfd < 0) {
		err = errno;
		goto fail;
	}
	if ((err = loop_add(&c->loop, &c->sig_w, c->sigfd, EPOLLIN, on_signal)) != 0 ||
	    (err = loop_add(&c->loop, &c->cfg_w, jobs_config_fd(c->jobs), EPOLLIN, on_config)) != 0)
		goto fail;
	*out = c;
	return 0;
fail:
	core_free(c);
	return err;
}

int core_run(struct core *c, atomic_bool *ready)
{
	atomic_store(ready, true);
	while (!c->loop.stop) {
		c->now_ms = loop_now_ms();
		uint64_t next = timer_heap_next(&c->th);
		int timeout = -1;
		if (next != UINT64_MAX)
			timeout = next <= c->now_ms ? 0 : (int)(next - c->now_ms > 60000 ? 60000 : next - c->now_ms);
		if (loop_once(&c->loop, timeout) < 0) {
			log_err("epoll: %s", strerror(errno));
			return EIO;
		}
		c->now_ms = loop_now_ms();
		sip_txn_set_now(c->txl, c->now_ms);
		timer_heap_run(&c->th, c->now_ms);
		sip_transport_reap(c->tp);
	}
	atomic_store(ready, false);
	return 0;
}

void core_free(struct core *c)
{
	if (!c)
		return;
	if (c->sigfd >= 0) {
		loop_del(&c->loop, &c->sig_w);
		close(c->sigfd);
	}
	core_live_free(c);
	/* Calls end first: their BYEs still go out through the transport. */
	calls_free(c);
	conf_free_all(c);
	if (c->media) {
		loop_del(&c->loop, &c->media_w);
		media_engine_stop(c->media);
	}
	calls_release_slots(c);
	core_mwi_free(c);
	if (c->vm) {
		/* After the media engine: no recording can arrive any more. Queued
		 * messages are still written (each bounded by its length). */
		loop_del(&c->loop, &c->vm_w);
		vm_store_stop(c->vm);
		c->vm = NULL;
	}
	/* The registrar goes first: its removal hooks must not fire into a
	 * freed jobs queue, and bindings stay stored for the next start. */
	registrar_free(c->reg);
	if (c->jobs) {
		loop_del(&c->loop, &c->cfg_w);
		jobs_stop(c->jobs);
	}
	sip_txn_layer_free(c->txl);
	core_message_free_all(c);
	core_net_free(c);
	sip_transport_free(c->tp);
	digest_nonces_free(c->nonces);
	throttle_free(c->thr);
	if (c->cfg)
		config_unref(c->cfg);
	timer_heap_free(&c->th);
	loop_close(&c->loop);
	free(c);
}
