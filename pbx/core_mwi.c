/*
 * core_mwi.c: message waiting indication, the message-summary event
 * package (RFC 3842) over SIP events (RFC 6665).
 *
 * DESIGN. The core keeps every mailbox's counts in memory (c->mwi->counts,
 * 0/0 until told otherwise). They come from the jobs thread, which reads
 * SQLite (jobs_vm_changed, and its once-a-second look at data_version for
 * writes by other connections and processes) and hands over only counts
 * that changed; core_mwi_counts takes them from there or from voicemail
 * code on this thread. A change is told to every subscription of the
 * mailbox, and, when the extension asks for unsolicited MWI, to every
 * registered contact of it with an out-of-dialog NOTIFY (also to a binding
 * when it is first registered).
 *
 * A subscription is a dialog we hold as notifier: created by an
 * authenticated SUBSCRIBE for the subscriber's own mailbox, refreshed or
 * ended by SUBSCRIBEs inside it (not challenged again: the dialog's tags
 * are the proof), ended by its expiry timer, and dropped when a NOTIFY to
 * it fails (481, 408, a timeout, any other refusal but a challenge). Only
 * one NOTIFY per subscription is in flight (RFC 6665 4.2.2); a change
 * meanwhile is sent when it completes. Subscriptions are counted per
 * extension (the one closest to expiry makes room, like registrar
 * bindings) and in total (then the SUBSCRIBE is refused with 503).
 *
 * Our NOTIFY client transactions carry their subscription as user pointer;
 * they are told apart from the B2BUA's NOTIFYs (REFER progress) by
 * looking them up among the subscriptions, and the pointer is cleared (or
 * the transaction abandoned) before a subscription is freed.
 */
#include "core_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "dialog.h"
#include "log.h"
#include "mwi.h"

#define MWI_SUBS_PER_EXT 8     /* the one closest to expiry makes room */
#define MWI_SUBS_MAX 4096      /* in total; beyond, SUBSCRIBE gets 503 */
#define MWI_UNSOLICITED_MAX 16 /* contacts of one extension told at once */
#define MWI_TAKE_BATCH 64      /* counts taken from the jobs thread at a time */
#define MWI_TAKE_ROUNDS 16     /* batches per wake-up; the rest on the next */
#define MWI_REQ_MAX 4096       /* a NOTIFY we build: dialog fields and body */

struct mwi_sub {
	struct mwi_sub *next, *prev;     /* c->mwi->subs */
	struct core *core;               /* for the timer callback */
	char mailbox[MWI_MAILBOX_MAX + 1];
	char event_id[MWI_EVENT_ID_MAX + 1]; /* Event's id parameter, "" = none */
	struct dialog dlg;
	struct timer expiry;
	uint64_t expires_ms;             /* monotonic, when the subscription ends */
	struct sip_txn *notify_ct;       /* our NOTIFY without a final response yet */
	bool dirty;                      /* a change came while notify_ct was out */
	bool ending;                     /* the next NOTIFY is the terminated one */
	const char *reason;              /* its reason parameter, "" = none */
};

struct core_mwi {
	struct core *core;
	struct mwi_table *counts;        /* mailbox -> new/old as last told */
	struct mwi_sub *subs;            /* every subscription */
	unsigned n_subs;
	struct loop_watch vm_w;          /* jobs_vm_fd */
	bool watching;
};

/* ---------------------------------------------------------------- subscriptions */

static void sub_free(struct core *c, struct mwi_sub *s)
{
	struct core_mwi *m = c->mwi;
	if (s->prev)
		s->prev->next = s->next;
	else
		m->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	m->n_subs--;
	timer_stop(&c->th, &s->expiry);
	if (s->notify_ct)
		sip_txn_abandon(s->notify_ct); /* it reports nothing more */
	free(s);
}

/* "sip:1001@192.0.2.1:5060" for the Message-Account line. */
static void account_uri(char *out, size_t cap, const char *mailbox, const struct sockaddr_storage *local)
{
	char a[SIP_ADDRSTR_MAX];
	sip_addr_str(local, a, sizeof a);
	snprintf(out, cap, "sip:%s@%s", mailbox, a);
}

static void sub_notify(struct core *c, struct mwi_sub *s)
{
	if (s->notify_ct) {
		s->dirty = true;
		return;
	}
	s->dirty = false;
	if (!s->ending && !config_ext_find(c->cfg, s->mailbox, strlen(s->mailbox))) {
		/* The extension was deleted since: its subscriptions end at their
		 * next NOTIFY (RFC 6665: the resource no longer exists). */
		s->ending = true;
		s->reason = "noresource";
		timer_stop(&c->th, &s->expiry);
	}
	unsigned n_new, n_old;
	mwi_table_get(c->mwi->counts, s->mailbox, &n_new, &n_old);
	char acc[MWI_ACCOUNT_MAX + 1], body[MWI_BODY_MAX], extra[256], branch[32], tok[17];
	size_t blen = 0;
	account_uri(acc, sizeof acc, s->mailbox, &s->dlg.dest.local);
	if (mwi_body(body, sizeof body, acc, n_new, n_old, &blen) != 0)
		mwi_body(body, sizeof body, NULL, n_new, n_old, &blen);
	char state[64];
	if (s->ending) {
		snprintf(state, sizeof state, "terminated%s%s", s->reason[0] ? ";reason=" : "", s->reason);
	} else {
		uint64_t left = s->expires_ms > c->now_ms ? (s->expires_ms - c->now_ms + 999) / 1000 : 0;
		snprintf(state, sizeof state, "active;expires=%llu", (unsigned long long)left);
	}
	snprintf(extra, sizeof extra, "Event: %s%s%s\r\nSubscription-State: %s\r\n", MWI_EVENT,
		 s->event_id[0] ? ";id=" : "", s->event_id, state);
	sip_random_token(tok);
	snprintf(branch, sizeof branch, "z9hG4bK%s", tok);
	char buf[MWI_REQ_MAX];
	struct sip_buf b;
	sip_buf_init(&b, buf, sizeof buf);
	dlg_build_request(&s->dlg, &b, "NOTIFY", ++s->dlg.local_cseq, branch, extra, MWI_CONTENT_TYPE, body,
			  blen);
	struct sip_txn *ct = NULL;
	int err = sip_buf_ok(&b) ? sip_txn_request(c->txl, b.p, b.len, &s->dlg.dest, s, &ct) : EMSGSIZE;
	if (err) {
		log_info("mwi: NOTIFY to %s's subscriber not sent (%s); subscription dropped", s->mailbox,
			 strerror(err));
		sub_free(c, s);
		return;
	}
	s->notify_ct = ct;
}

/* Start the end of s: the terminated NOTIFY now, or after the one in flight. */
static void sub_end(struct core *c, struct mwi_sub *s, const char *reason)
{
	s->ending = true;
	s->reason = reason;
	timer_stop(&c->th, &s->expiry);
	sub_notify(c, s);
}

static void on_expiry(struct timer *t, void *arg)
{
	(void)t;
	struct mwi_sub *s = arg;
	log_info("mwi: subscription to %s expired", s->mailbox);
	sub_end(s->core, s, "timeout");
}

static struct mwi_sub *sub_by_txn(struct core *c, const struct sip_txn *ct)
{
	/* Bounded by MWI_SUBS_MAX. */
	for (struct mwi_sub *s = c->mwi ? c->mwi->subs : NULL; s; s = s->next)
		if (s->notify_ct == ct)
			return s;
	return NULL;
}

bool core_mwi_txn_result(struct core *c, struct sip_txn *ct, int status)
{
	struct mwi_sub *s = sub_by_txn(c, ct);
	if (!s)
		return false;
	if (status < 200)
		return true;
	sip_txn_set_user(ct, NULL);
	s->notify_ct = NULL;
	if (s->ending) {
		sub_free(c, s);
		return true;
	}
	/* 481: the subscriber forgot the dialog; 408 or a timeout: gone. A
	 * challenge is not fatal (we cannot answer it, the next change tries
	 * again); every other refusal ends the subscription (RFC 6665 4.2.2). */
	if (status >= 300 && status != 401 && status != 407) {
		log_info("mwi: NOTIFY for %s answered %d; subscription dropped", s->mailbox, status);
		sub_free(c, s);
		return true;
	}
	if (s->dirty)
		sub_notify(c, s);
	return true;
}

/* ---------------------------------------------------------------- unsolicited */

static void unsolicited_one(struct core *c, const char *mailbox, const struct reg_binding *b, unsigned n_new,
			    unsigned n_old)
{
	char branch[17], tag[17], callid[17], local[SIP_ADDRSTR_MAX], acc[MWI_ACCOUNT_MAX + 1];
	char body[MWI_BODY_MAX], buf[MWI_REQ_MAX];
	size_t blen = 0;
	struct sip_dest dst = b->reach;
	if (dst.local.ss_family == 0)
		dst.local = *sip_transport_primary(c->tp);
	sip_addr_str(&dst.local, local, sizeof local);
	account_uri(acc, sizeof acc, mailbox, &dst.local);
	if (mwi_body(body, sizeof body, acc, n_new, n_old, &blen) != 0)
		mwi_body(body, sizeof body, NULL, n_new, n_old, &blen);
	sip_random_token(branch);
	sip_random_token(tag);
	sip_random_token(callid);
	struct sip_buf m;
	sip_buf_init(&m, buf, sizeof buf);
	sip_buf_printf(&m,
		       "NOTIFY %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%s;rport\r\nMax-Forwards: 70\r\n"
		       "From: <sip:%s@%s>;tag=%s\r\nTo: <sip:%s@%s>\r\nCall-ID: %s@%s\r\nCSeq: 1 NOTIFY\r\n"
		       "Event: %s\r\nSubscription-State: active\r\nUser-Agent: %s\r\n"
		       "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
		       b->contact, dlg_tp_name(dst.tp), local, branch, mailbox, local, tag, mailbox, local, callid,
		       local, MWI_EVENT, sip_server_name, MWI_CONTENT_TYPE, blen);
	sip_buf_add(&m, body, blen);
	if (!sip_buf_ok(&m))
		return;
	/* Nothing waits for the answer: a phone that refuses it keeps its lamp. */
	struct sip_txn *t = NULL;
	if (sip_txn_request(c->txl, m.p, m.len, &dst, NULL, &t) == 0 && t)
		sip_txn_abandon(t);
}

static bool wants_unsolicited(struct core *c, const char *mailbox)
{
	const struct config_ext *e = config_ext_find(c->cfg, mailbox, strlen(mailbox));
	return e && e->unsolicited_mwi;
}

static void unsolicited_all(struct core *c, const char *mailbox, unsigned n_new, unsigned n_old)
{
	if (!wants_unsolicited(c, mailbox))
		return;
	struct reg_aor *aor = registrar_find(c->reg, mailbox);
	unsigned n = 0;
	for (struct reg_binding *b = aor ? aor->bindings : NULL; b && n < MWI_UNSOLICITED_MAX; b = b->next, n++)
		unsolicited_one(c, mailbox, b, n_new, n_old);
}

void core_mwi_binding_added(struct core *c, const struct reg_binding *b)
{
	if (!c->mwi || !wants_unsolicited(c, b->aor->aor))
		return;
	unsigned n_new, n_old;
	mwi_table_get(c->mwi->counts, b->aor->aor, &n_new, &n_old);
	unsolicited_one(c, b->aor->aor, b, n_new, n_old);
}

/* ---------------------------------------------------------------- counts */

void core_mwi_counts(struct core *c, const char *mailbox, unsigned n_new, unsigned n_old)
{
	if (!c->mwi || !mailbox)
		return;
	bool changed = false;
	int err = mwi_table_set(c->mwi->counts, mailbox, n_new, n_old, &changed);
	if (err) {
		log_warn("mwi: counts of %.16s not kept: %s", mailbox, strerror(err));
		return;
	}
	if (!changed)
		return;
	log_info("mwi: mailbox %s now %u new, %u old", mailbox, n_new, n_old);
	struct mwi_sub *s = c->mwi->subs;
	while (s) {
		struct mwi_sub *next = s->next; /* sub_notify may free s */
		if (!s->ending && strcmp(s->mailbox, mailbox) == 0)
			sub_notify(c, s);
		s = next;
	}
	unsolicited_all(c, mailbox, n_new, n_old);
}

/* Counts from the jobs thread. */
static void on_vm(struct loop_watch *w, uint32_t events)
{
	(void)events;
	struct core_mwi *m = (struct core_mwi *)((char *)w - offsetof(struct core_mwi, vm_w));
	struct core *c = m->core;
	struct mwi_count got[MWI_TAKE_BATCH];
	size_t n;
	/* Bounded: the rest keeps the eventfd readable for the next wake-up. */
	for (int round = 0; round < MWI_TAKE_ROUNDS && (n = jobs_take_vm_counts(c->jobs, got, MWI_TAKE_BATCH)) > 0;
	     round++)
		for (size_t i = 0; i < n; i++)
			core_mwi_counts(c, got[i].mailbox, got[i].n_new, got[i].n_old);
}

/* ---------------------------------------------------------------- SUBSCRIBE */

/* The mailbox a SUBSCRIBE is about: the Request-URI's user when it names
 * an extension (phones address the mailbox so), else the To user. */
static bool target_mailbox(struct core *c, const struct sip_msg *req, char out[MWI_MAILBOX_MAX + 1])
{
	char user[32];
	long n = req->ruri.user.p ? sip_unescape(user, sizeof user, req->ruri.user) : -1;
	if (n > 0 && n <= MWI_MAILBOX_MAX && config_ext_find(c->cfg, user, (size_t)n)) {
		memcpy(out, user, (size_t)n);
		out[n] = '\0';
		return true;
	}
	n = req->to.uri.user.p ? sip_unescape(user, sizeof user, req->to.uri.user) : -1;
	if (n > 0 && n <= MWI_MAILBOX_MAX) {
		memcpy(out, user, (size_t)n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* Every Accept header together: none at all accepts our type. */
static bool accept_ok(const struct sip_msg *req)
{
	bool any = false;
	for (unsigned i = 0; i < req->nhdrs; i++) {
		const struct sip_hdr *h = &req->hdrs[i];
		if (h->id != SIP_HDR_OTHER || !slice_ieq_cstr(h->name, "Accept"))
			continue;
		if (mwi_accept_ok(h->value))
			return true;
		any = true;
	}
	return !any;
}

static void reply_ok(struct core *c, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src,
		     struct mwi_sub *s, long expires)
{
	struct sip_buf b;
	sip_buf_init(&b, c->resp, sizeof c->resp);
	sip_build_response(&b, req, src, 200, NULL, s->dlg.local_tag);
	sip_buf_printf(&b, "Expires: %ld\r\nContact: <%s>\r\n", expires, s->dlg.local_contact);
	sip_build_end(&b, NULL, 0);
	core_send_built(c, st, req, src, &b, 200);
}

static void reply_423(struct core *c, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src)
{
	char h[64];
	snprintf(h, sizeof h, "Min-Expires: %d\r\n", MWI_EXPIRES_MIN);
	core_reply(c, st, req, src, 423, h);
}

#define ALLOW_EVENTS "Allow-Events: " MWI_EVENT "\r\n"

/* Make room for one more subscription of mailbox: the one closest to
 * expiry ends when the extension has MWI_SUBS_PER_EXT already. */
static void make_room(struct core *c, const char *mailbox)
{
	unsigned n = 0;
	struct mwi_sub *oldest = NULL;
	for (struct mwi_sub *s = c->mwi->subs; s; s = s->next) {
		if (s->ending || strcmp(s->mailbox, mailbox) != 0)
			continue;
		n++;
		if (!oldest || s->expires_ms < oldest->expires_ms)
			oldest = s;
	}
	if (n >= MWI_SUBS_PER_EXT && oldest) {
		log_info("mwi: %s has %u subscriptions; the one closest to expiry ends", mailbox, n);
		sub_end(c, oldest, "rejected");
	}
}

void core_mwi_subscribe(struct core *c, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src)
{
	/* The package first: phones subscribing to presence or dialog state
	 * learn at once, without a challenge, that we only serve this one. */
	struct slice id;
	const struct sip_hdr *ev = sip_msg_hdr(req, SIP_HDR_EVENT);
	if (!ev || !mwi_event_ok(ev->value, &id)) {
		core_reply(c, st, req, src, 489, ALLOW_EVENTS);
		return;
	}
	const struct config_ext *ext = core_auth(c, st, req, src, req->from.uri.user);
	if (!ext)
		return;
	char mailbox[MWI_MAILBOX_MAX + 1];
	if (!target_mailbox(c, req, mailbox) || strcmp(mailbox, ext->number) != 0) {
		char a[SIP_ADDRSTR_MAX];
		log_info("mwi: %s may not subscribe to another mailbox (from %s)", ext->number,
			 sip_addr_str(&src->peer, a, sizeof a));
		core_reply(c, st, req, src, 403, NULL);
		return;
	}
	if (!accept_ok(req)) {
		core_reply(c, st, req, src, 406, "Accept: " MWI_CONTENT_TYPE "\r\n");
		return;
	}
	long expires;
	if (mwi_expires(req->expires, &expires) != 0) {
		reply_423(c, st, req, src);
		return;
	}
	if (c->mwi->n_subs >= MWI_SUBS_MAX) {
		log_warn("mwi: %u subscriptions, refusing one more for %s", c->mwi->n_subs, mailbox);
		core_reply(c, st, req, src, 503, "Retry-After: 300\r\n");
		return;
	}
	struct mwi_sub *s = calloc(1, sizeof *s);
	if (!s) {
		core_reply(c, st, req, src, 500, NULL);
		return;
	}
	char tag[17];
	sip_random_token(tag);
	if (dlg_init_uas(&s->dlg, req, src, tag) != 0) {
		free(s);
		core_reply(c, st, req, src, 400, NULL);
		return;
	}
	if (expires > 0)
		make_room(c, mailbox);
	s->core = c;
	s->reason = "";
	snprintf(s->mailbox, sizeof s->mailbox, "%s", mailbox);
	slice_copy(s->event_id, sizeof s->event_id, id.p ? id : slice_cstr(""));
	s->expires_ms = c->now_ms + (uint64_t)expires * 1000;
	timer_init(&s->expiry, on_expiry, s);
	s->next = c->mwi->subs;
	if (s->next)
		s->next->prev = s;
	c->mwi->subs = s;
	c->mwi->n_subs++;
	reply_ok(c, st, req, src, s, expires);
	if (expires == 0) {
		/* A fetch (RFC 6665 4.4.3): the state once, then the end. */
		sub_end(c, s, "timeout");
		return;
	}
	if (timer_start(&c->th, &s->expiry, s->expires_ms) != 0) {
		sub_end(c, s, "noresource");
		return;
	}
	log_info("mwi: %s subscribed for %ld s", mailbox, expires);
	sub_notify(c, s);
}

bool core_mwi_in_dialog(struct core *c, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src)
{
	struct mwi_sub *s;
	for (s = c->mwi ? c->mwi->subs : NULL; s; s = s->next)
		if (dlg_matches(&s->dlg, req))
			break;
	if (!s)
		return false;
	if (req->method_id == SIP_ACK)
		return true; /* nothing of ours to acknowledge */
	if (s->dlg.remote_cseq_set && req->cseq <= s->dlg.remote_cseq) {
		core_reply(c, st, req, src, 500, "Retry-After: 1\r\n"); /* out of order (RFC 3261 12.2.2) */
		return true;
	}
	s->dlg.remote_cseq = req->cseq;
	s->dlg.remote_cseq_set = true;
	if (req->method_id != SIP_SUBSCRIBE) {
		core_reply(c, st, req, src, 405, "Allow: SUBSCRIBE\r\n");
		return true;
	}
	if (s->ending) {
		core_reply(c, st, req, src, 481, NULL); /* already ending: start a new one */
		return true;
	}
	const struct sip_hdr *ev = sip_msg_hdr(req, SIP_HDR_EVENT);
	struct slice id;
	if (!ev || !mwi_event_ok(ev->value, &id) || !slice_eq_cstr(id.p ? id : slice_cstr(""), s->event_id)) {
		core_reply(c, st, req, src, 489, ALLOW_EVENTS);
		return true;
	}
	long expires;
	if (mwi_expires(req->expires, &expires) != 0) {
		reply_423(c, st, req, src);
		return true;
	}
	/* Phones move (NAT rebinding): follow where they send from. */
	sip_response_dest(req, src, &s->dlg.dest);
	if (req->ncontacts > 0)
		dlg_copy(s->dlg.remote_target, sizeof s->dlg.remote_target, req->contacts[0].na.uri.raw);
	reply_ok(c, st, req, src, s, expires);
	if (expires == 0) {
		log_info("mwi: %s unsubscribed", s->mailbox);
		sub_end(c, s, "");
		return true;
	}
	s->expires_ms = c->now_ms + (uint64_t)expires * 1000;
	if (timer_start(&c->th, &s->expiry, s->expires_ms) != 0) {
		sub_end(c, s, "noresource");
		return true;
	}
	sub_notify(c, s); /* RFC 6665 4.2.2: the state after every refresh */
	return true;
}

/* ---------------------------------------------------------------- life */

int core_mwi_init(struct core *c)
{
	struct core_mwi *m = calloc(1, sizeof *m);
	if (!m)
		return ENOMEM;
	int err = mwi_table_new(&m->counts);
	if (err) {
		free(m);
		return err;
	}
	m->core = c;
	if ((err = loop_add(&c->loop, &m->vm_w, jobs_vm_fd(c->jobs), EPOLLIN, on_vm)) != 0) {
		mwi_table_free(m->counts);
		free(m);
		return err;
	}
	m->watching = true;
	c->mwi = m;
	return 0;
}

void core_mwi_free(struct core *c)
{
	struct core_mwi *m = c->mwi;
	if (!m)
		return;
	if (m->watching)
		loop_del(&c->loop, &m->vm_w);
	while (m->subs)
		sub_free(c, m->subs);
	mwi_table_free(m->counts);
	free(m);
	c->mwi = NULL;
}
