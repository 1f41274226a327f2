/*
 * call.c: the B2BUA's call life: an INVITE from an extension, routing
 * (forwarding, feature codes), forking to every contact of the callee,
 * first answer wins, CANCEL and BYE from either side, re-INVITE and UPDATE
 * (hold, resume, session refresh), media events, and the call record.
 *
 * Disposition of a call that never connects: every fork busy (486, 600,
 * 603) is busy; the ring time running out is no answer; no contact at all
 * is unavailable; the caller's CANCEL is cancelled.
 */
#include "core_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call.h"
#include "db.h"
#include "live.h"
#include "log.h"

#define CALL_ALLOW "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, REFER, NOTIFY, UPDATE\r\n"
#define DLG_BUCKETS 4096
#define MAX_FORKS 16
#define SE_DEFAULT 1800  /* session interval we ask for, seconds */
#define SE_MIN 90        /* RFC 4028 minimum */

struct calls {
	struct leg *dlg[DLG_BUCKETS]; /* dialogs by Call-ID */
	struct call *list;
	size_t n;
	uint64_t next_id;
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t hash_str(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

/* ---------------------------------------------------------------- dialogs */

static void dlg_table_add(struct core *c, struct leg *l)
{
	if (l->in_table)
		return;
	uint32_t h = hash_str(l->dlg.call_id, strlen(l->dlg.call_id)) % DLG_BUCKETS;
	l->hnext = c->calls->dlg[h];
	c->calls->dlg[h] = l;
	l->in_table = true;
}

static void dlg_table_del(struct core *c, struct leg *l)
{
	if (!l->in_table)
		return;
	uint32_t h = hash_str(l->dlg.call_id, strlen(l->dlg.call_id)) % DLG_BUCKETS;
	for (struct leg **pp = &c->calls->dlg[h]; *pp; pp = &(*pp)->hnext) {
		if (*pp == l) {
			*pp = l->hnext;
			break;
		}
	}
	l->in_table = false;
}

static struct leg *dlg_find(struct core *c, const struct sip_msg *req)
{
	uint32_t h = hash_str(req->call_id.p, req->call_id.len) % DLG_BUCKETS;
	for (struct leg *l = c->calls->dlg[h]; l; l = l->hnext)
		if (dlg_matches(&l->dlg, req))
			return l;
	return NULL;
}

/* ---------------------------------------------------------------- legs */

static void ok_timer_fire(struct timer *t, void *arg);
static void se_timer_fire(struct timer *t, void *arg);

static struct leg *leg_new(struct call *call, bool is_a)
{
	struct leg *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->call = call;
	l->is_a = is_a;
	timer_init(&l->ok_timer, ok_timer_fire, l);
	timer_init(&l->se_timer, se_timer_fire, l);
	return l;
}

static void leg_free(struct core *c, struct leg *l)
{
	if (!l)
		return;
	dlg_table_del(c, l);
	timer_stop(&c->th, &l->ok_timer);
	timer_stop(&c->th, &l->se_timer);
	if (l->inv_st) {
		sip_txn_set_user(l->inv_st, NULL);
		if (l->state < LEG_CONFIRMED)
			sip_txn_abandon(l->inv_st);
	}
	if (l->reinv_st)
		sip_txn_set_user(l->reinv_st, NULL);
	if (l->inv_ct)
		sip_txn_abandon(l->inv_ct);
	if (l->reinv_ct)
		sip_txn_abandon(l->reinv_ct);
	if (l->ms)
		call_slot_free(c, l->ms);
	free(l->req);
	free(l->ok);
	free(l->sdp);
	free(l);
}

/* The INVITE of leg A, parsed again from its copy. */
static const struct sip_msg *leg_req(struct core *c, struct leg *l)
{
	if (!l->req || sip_msg_parse(c->msg_tmp, l->req, l->req_len, SIP_DGRAM) != 0)
		return NULL;
	return c->msg_tmp;
}

/* Send a request inside the leg's dialog in a client transaction. user is
 * the leg when the answer matters, NULL to fire and forget. */
static int leg_request(struct core *c, struct leg *l, const char *method, uint32_t cseq, const char *extra,
		       const char *ctype, const char *body, size_t body_len, struct leg *user,
		       struct sip_txn **out)
{
	char branch[40], tok[17];
	sip_random_token(tok);
	snprintf(branch, sizeof branch, "z9hG4bK%s", tok);
	struct sip_buf b;
	char *buf = c->resp;
	sip_buf_init(&b, buf, sizeof c->resp);
	dlg_build_request(&l->dlg, &b, method, cseq, branch, extra, ctype, body, body_len);
	if (!sip_buf_ok(&b))
		return EMSGSIZE;
	struct sip_txn *t = NULL;
	int rc = sip_txn_request(c->txl, b.p, b.len, &l->dlg.dest, user, &t);
	if (rc)
		return rc;
	if (!user)
		sip_txn_abandon(t);
	else if (out)
		*out = t;
	return 0;
}

static void leg_bye(struct core *c, struct leg *l)
{
	if (!l || l->state != LEG_CONFIRMED)
		return;
	l->state = LEG_GONE;
	leg_request(c, l, "BYE", ++l->dlg.local_cseq, NULL, NULL, NULL, 0, NULL, NULL);
}

/* CANCEL of a fork's INVITE (RFC 3261 9.1): same branch, Request-URI,
 * Call-ID, From, To and CSeq number. Only after a provisional response. */
static void fork_cancel(struct core *c, struct leg *f)
{
	if (f->state == LEG_GONE || f->state == LEG_CONFIRMED || f->cancelled)
		return;
	f->cancelled = true;
	if (f->state == LEG_TRYING)
		return; /* sent when the first provisional response arrives */
	char local[SIP_ADDRSTR_MAX];
	sip_addr_str(&f->dlg.dest.local, local, sizeof local);
	struct sip_buf b;
	sip_buf_init(&b, c->resp, sizeof c->resp);
	sip_buf_printf(&b,
		       "CANCEL %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=%s;rport\r\nMax-Forwards: 70\r\n"
		       "From: %s;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %u CANCEL\r\nContent-Length: 0\r\n\r\n",
		       f->dlg.remote_target, dlg_tp_name(f->dlg.dest.tp), local, f->branch, f->dlg.local_uri,
		       f->dlg.local_tag, f->dlg.remote_uri, f->dlg.call_id, f->inv_cseq);
	struct sip_txn *t;
	if (sip_buf_ok(&b) && sip_txn_request(c->txl, b.p, b.len, &f->dlg.dest, NULL, &t) == 0)
		sip_txn_abandon(t);
}

/* ACK for a 2xx (RFC 3261 13.2.2.4): its own branch, outside any transaction. */
static void leg_send_ack(struct core *c, struct leg *l, uint32_t cseq)
{
	char branch[40], tok[17];
	sip_random_token(tok);
	snprintf(branch, sizeof branch, "z9hG4bK%s", tok);
	struct sip_buf b;
	sip_buf_init(&b, c->resp, sizeof c->resp);
	dlg_build_request(&l->dlg, &b, "ACK", cseq, branch, NULL, NULL, NULL, 0);
	if (sip_buf_ok(&b))
		sip_transport_send(c->tp, &l->dlg.dest, b.p, b.len);
}

/* ---------------------------------------------------------------- responses to leg A */

/* A response to leg A's INVITE (or to req, a re-INVITE/UPDATE, when given). */
static void leg_respond(struct core *c, struct leg *l, struct sip_txn *st, const struct sip_msg *req,
			const struct sip_dest *src, int code, const char *extra, const char *sdp, size_t sdp_len)
{
	if (!req) {
		req = leg_req(c, l);
		src = &l->req_src;
		st = l->inv_st;
		if (!req || !st)
			return;
	}
	struct sip_buf b;
	sip_buf_init(&b, c->resp, sizeof c->resp);
	sip_build_response(&b, req, src, code, NULL, l->dlg.local_tag);
	if (code > 100 && code < 300)
		sip_buf_printf(&b, "Contact: <%s>\r\n", l->dlg.local_contact);
	if (code >= 200 && code < 300)
		sip_buf_str(&b, CALL_ALLOW "Supported: timer\r\n");
	if (extra)
		sip_buf_str(&b, extra);
	if (sdp_len)
		sip_buf_str(&b, "Content-Type: application/sdp\r\n");
	sip_build_end(&b, sdp, sdp_len);
	if (!sip_buf_ok(&b)) {
		core_reply(c, st, req, src, 500, NULL);
		return;
	}
	if (code >= 200 && code < 300 && req->method_id == SIP_INVITE) {
		/* Kept and retransmitted until the ACK comes (T1 doubling to T2). */
		free(l->ok);
		l->ok = malloc(b.len);
		if (l->ok) {
			memcpy(l->ok, b.p, b.len);
			l->ok_len = b.len;
			l->ok_cseq = req->cseq;
			l->ok_interval = 500;
			l->ok_deadline = c->now_ms + 64 * 500;
			timer_start(&c->th, &l->ok_timer, c->now_ms + l->ok_interval);
		}
	}
	if (st)
		sip_txn_respond(st, code, b.p, b.len);
}

/* ---------------------------------------------------------------- call life */

static void call_finish(struct core *c, struct call *call);

static struct call *call_new(struct core *c)
{
	struct call *call = calloc(1, sizeof *call);
	if (!call)
		return NULL;
	call->core = c;
	call->id = ++c->calls->next_id;
	call->cfg = config_ref(c->cfg);
	call->start_ms = wall_ms();
	timer_init(&call->ring_timer, NULL, call);
	timer_init(&call->end_timer, NULL, call);
	call->next = c->calls->list;
	if (call->next)
		call->next->prev = call;
	c->calls->list = call;
	c->calls->n++;
	return call;
}

static void forks_drop(struct core *c, struct call *call)
{
	while (call->forks) {
		struct leg *f = call->forks;
		call->forks = f->next_fork;
		leg_free(c, f);
	}
}

static void forks_cancel(struct core *c, struct call *call, struct leg *keep)
{
	for (struct leg *f = call->forks; f; f = f->next_fork)
		if (f != keep)
			fork_cancel(c, f);
}

/* The end of a call: every leg told, media closed; the record is written
 * once the engine has reported the media legs' statistics. */
static void call_end(struct core *c, struct call *call, const char *disposition, const char *by)
{
	if (call->ended)
		return;
	call->ended = true;
	if (!call->disposition)
		call->disposition = disposition;
	if (!call->hangup_by)
		call->hangup_by = by;
	call->end_ms = wall_ms();
	timer_stop(&c->th, &call->ring_timer);
	timer_stop(&c->th, &call->end_timer);
	if (call->kind == CALL_CONF)
		conf_leave(c, call);
	forks_cancel(c, call, NULL);
	if (call->a) {
		leg_bye(c, call->a);
		dlg_table_del(c, call->a);
	}
	if (call->b) {
		leg_bye(c, call->b);
		dlg_table_del(c, call->b);
	}
	/* Forks stay until their INVITE ends (a late 2xx still needs ACK+BYE).
	 * The media slots now belong to the engine's CLOSED report, which
	 * frees them: the legs let go of them here. */
	struct media_slot **slots[5] = { call->a ? &call->a->ms : NULL, call->b ? &call->b->ms : NULL,
					 &call->fork_ms, &call->vid[0], &call->vid[1] };
	for (int i = 0; i < 5; i++) {
		if (slots[i] && *slots[i]) {
			call_slot_free(c, *slots[i]);
			*slots[i] = NULL;
		}
	}
	log_info("call %llu: %s -> %s ended: %s (%s)", (unsigned long long)call->id,
		 call->caller ? call->caller->number : "?", call->dialed, call->disposition, call->hangup_by);
	call_finish(c, call);
}

static enum db_cdr_disp disp_of(const char *d)
{
	static const struct { const char *name; enum db_cdr_disp v; } map[] = {
		{ "answered", DB_CDR_ANSWERED },   { "busy", DB_CDR_BUSY },
		{ "noanswer", DB_CDR_NOANSWER },   { "unavailable", DB_CDR_UNAVAILABLE },
		{ "cancelled", DB_CDR_CANCELLED }, { "redirected", DB_CDR_REDIRECTED },
		{ "rejected", DB_CDR_REJECTED },
	};
	for (size_t i = 0; d && i < sizeof map / sizeof map[0]; i++)
		if (strcmp(d, map[i].name) == 0)
			return map[i].v;
	return DB_CDR_FAILED;
}

static enum db_cdr_by by_of(const char *b)
{
	if (!b)
		return DB_CDR_BY_NONE;
	if (!strcmp(b, "caller"))
		return DB_CDR_BY_CALLER;
	if (!strcmp(b, "callee"))
		return DB_CDR_BY_CALLEE;
	return DB_CDR_BY_SYSTEM;
}

static void cdr_leg(const struct call_cdr_leg *l, struct db_cdr_leg *o)
{
	o->srtp = l->srtp;
	if (!l->have)
		return;
	snprintf(o->codec, sizeof o->codec, "%s", sdp_codec_info(l->st.codec)->name);
	o->rx_packets = (int64_t)l->st.rx_packets;
	o->tx_packets = (int64_t)l->st.tx_packets;
	o->lost = l->st.lost;
	o->jitter_ms = (int)l->st.jitter_ms;
}

static void cdr_fill(const struct call *call, struct db_cdr *r)
{
	memset(r, 0, sizeof *r);
	snprintf(r->call_id, sizeof r->call_id, "%s", call->call_id);
	snprintf(r->caller, sizeof r->caller, "%s", call->caller ? call->caller->number : "");
	snprintf(r->callee, sizeof r->callee, "%s", call->callee ? call->callee->number : "");
	snprintf(r->dialed, sizeof r->dialed, "%s", call->dialed);
	r->start_at = call->start_ms;
	r->answer_at = call->answered ? call->answer_ms : 0;
	r->end_at = call->end_ms < call->start_ms ? call->start_ms : call->end_ms;
	r->disposition = disp_of(call->disposition);
	/* "transfer" and "system" are both the PBX's doing in the record. */
	r->hangup_by = call->answered ? by_of(call->hangup_by) : DB_CDR_BY_NONE;
	cdr_leg(&call->cdr[0], &r->a);
	cdr_leg(&call->cdr[1], &r->b);
}

/* Free the call once nothing refers to it any more. */
static void call_finish(struct core *c, struct call *call)
{
	if (!call->ended || call->media_open > 0)
		return;
	for (struct leg *f = call->forks; f; f = f->next_fork)
		if (f->inv_ct)
			return; /* waiting for its INVITE to end */
	if (call->kind != CALL_FEATURE || call->answered) {
		struct db_cdr r;
		cdr_fill(call, &r);
		jobs_cdr_put(c->jobs, &r);
	}
	forks_drop(c, call);
	if (call->kind == CALL_VMMENU)
		vmmenu_free(call);
	leg_free(c, call->a);
	leg_free(c, call->b);
	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls->list = call->next;
	if (call->next)
		call->next->prev = call->prev;
	c->calls->n--;
	free(call->fork_sdp);
	config_unref(call->cfg);
	free(call);
}

/* Give up on a call that has not been answered: a final response to the
 * caller, then the end. */
static void call_fail(struct core *c, struct call *call, int code, const char *disposition, const char *extra)
{
	if (call->a && call->a->state < LEG_CONFIRMED && call->a->inv_st) {
		leg_respond(c, call->a, NULL, NULL, NULL, code, extra, NULL, 0);
		call->a->state = LEG_GONE;
	}
	call_end(c, call, disposition, "system");
}

/* ---------------------------------------------------------------- routing */

static void route_to(struct core *c, struct call *call, const struct config_ext *ext);

static bool visited(const struct call *call, const char *number)
{
	for (unsigned i = 0; i < call->nvisited; i++)
		if (strcmp(call->visited[i], number) == 0)
			return true;
	return false;
}

/* Follow a forwarding rule of ext to target, unless it would loop. Returns
 * false when it does not apply (no target, unknown target, loop). */
static bool forward(struct core *c, struct call *call, const struct config_ext *ext, const char *target)
{
	if (!target || !target[0])
		return false;
	const struct config_ext *t = config_ext_find(call->cfg, target, strlen(target));
	if (!t) {
		log_info("call %llu: %s forwards to %s, which is not an extension", (unsigned long long)call->id,
			 ext->number, target);
		return false;
	}
	if (visited(call, t->number) || call->nvisited >= sizeof call->visited / sizeof call->visited[0]) {
		log_notice("call %llu: forwarding loop at %s -> %s, stopped", (unsigned long long)call->id,
			   ext->number, t->number);
		return false;
	}
	if (ext->flags & EXT_F_REDIRECT) {
		/* Redirect-server behaviour: tell the caller where to go. */
		char hdr[160];
		char local[SIP_ADDRSTR_MAX];
		sip_addr_str(&call->a->dlg.dest.local, local, sizeof local);
		snprintf(hdr, sizeof hdr, "Contact: <sip:%s@%s>\r\n", t->number, local);
		call->callee = t;
		call_fail(c, call, 302, "redirected", hdr);
		return true;
	}
	log_info("call %llu: %s forwarded to %s", (unsigned long long)call->id, ext->number, t->number);
	forks_cancel(c, call, NULL);
	route_to(c, call, t);
	return true;
}

static bool answer_local(struct core *c, struct call *call);

/* The callee did not take the call: its mailbox does, if it wants calls
 * that end this way. A call already answered (a transfer being routed)
 * cannot be answered again and goes on as before. */
static bool to_voicemail(struct core *c, struct call *call, const struct config_ext *ext, enum vm_reason why)
{
	if (!vm_wanted(ext, why) || call->a->state >= LEG_CONFIRMED || call->ended)
		return false;
	static const char *const disp[] = { [VM_NOANSWER] = "noanswer", [VM_BUSY] = "busy",
					    [VM_UNAVAILABLE] = "unavailable", [VM_DND] = "busy" };
	timer_stop(&c->th, &call->ring_timer);
	forks_cancel(c, call, NULL);
	if (call->fork_ms) {
		call_slot_free(c, call->fork_ms);
		call->fork_ms = NULL;
	}
	call->callee = ext;
	call->kind = CALL_VM;
	call->disposition = disp[why]; /* the record says why, not "answered" */
	if (answer_local(c, call))
		vm_start(c, call, ext, why);
	return true;
}

static void on_busy(struct core *c, struct call *call, const struct config_ext *ext, bool dnd)
{
	if (forward(c, call, ext, ext->fwd_busy))
		return;
	if (to_voicemail(c, call, ext, dnd ? VM_DND : VM_BUSY))
		return;
	call_fail(c, call, 486, "busy", NULL);
}

static void on_no_answer(struct core *c, struct call *call, const struct config_ext *ext, bool registered)
{
	if (forward(c, call, ext, ext->fwd_noanswer))
		return;
	if (to_voicemail(c, call, ext, registered ? VM_NOANSWER : VM_UNAVAILABLE))
		return;
	call_fail(c, call, 480, registered ? "noanswer" : "unavailable", NULL);
}

static void ring_timeout(struct timer *t, void *arg)
{
	(void)t;
	struct call *call = arg;
	struct core *c = call->core;
	if (call->answered || call->ended)
		return;
	log_info("call %llu: %s did not answer", (unsigned long long)call->id, call->callee->number);
	on_no_answer(c, call, call->callee, true);
}

static struct leg *fork_new(struct core *c, struct call *call, const struct config_ext *ext,
			    const struct reg_binding *bnd)
{
	struct leg *f = leg_new(call, false);
	if (!f)
		return NULL;
	f->ext = ext;
	struct dialog *d = &f->dlg;
	char tok[17], local[SIP_ADDRSTR_MAX];
	d->dest = bnd->reach;
	if (d->dest.local.ss_family == 0)
		d->dest.local = *sip_transport_primary(c->tp);
	sip_addr_str(&d->dest.local, local, sizeof local);
	sip_random_token(tok);
	snprintf(d->call_id, sizeof d->call_id, "%s@%s", tok, local);
	sip_random_token(d->local_tag);
	const struct config_ext *from = call->caller;
	char name[96] = "";
	if (from->name[0]) {
		/* A display name in quotes; quotes and backslashes inside are dropped. */
		size_t j = 0;
		for (size_t i = 0; from->name[i] && j < sizeof name - 1; i++)
			if (from->name[i] != '"' && from->name[i] != '\\')
				name[j++] = from->name[i];
		name[j] = '\0';
	}
	if (name[0])
		snprintf(d->local_uri, sizeof d->local_uri, "\"%s\" <sip:%s@%s>", name, from->number, local);
	else
		snprintf(d->local_uri, sizeof d->local_uri, "<sip:%s@%s>", from->number, local);
	snprintf(d->remote_uri, sizeof d->remote_uri, "<sip:%s@%s>", ext->number, local);
	snprintf(d->remote_target, sizeof d->remote_target, "%s", bnd->contact);
	dlg_set_local_contact(d);
	sip_random_token(tok);
	snprintf(f->branch, sizeof f->branch, "z9hG4bK%s", tok);
	f->inv_cseq = d->local_cseq = 1;

	struct sip_buf b;
	sip_buf_init(&b, c->resp, sizeof c->resp);
	dlg_build_request(d, &b, "INVITE", f->inv_cseq, f->branch, CALL_ALLOW, "application/sdp", call->fork_sdp,
			  call->fork_sdp_len);
	if (!sip_buf_ok(&b) || sip_txn_request(c->txl, b.p, b.len, &d->dest, f, &f->inv_ct) != 0) {
		leg_free(c, f);
		return NULL;
	}
	dlg_table_add(c, f);
	return f;
}

/* Ring every contact of ext at once. */
static void route_to(struct core *c, struct call *call, const struct config_ext *ext)
{
	if (call->nvisited < sizeof call->visited / sizeof call->visited[0])
		snprintf(call->visited[call->nvisited++], sizeof call->visited[0], "%s", ext->number);
	call->callee = ext;
	call->busy_forks = call->failed_forks = 0;
	timer_stop(&c->th, &call->ring_timer);
	if (ext->dnd) {
		log_info("call %llu: %s is on do-not-disturb", (unsigned long long)call->id, ext->number);
		on_busy(c, call, ext, true);
		return;
	}
	if (forward(c, call, ext, ext->fwd_always))
		return;
	if (call->ended)
		return;
	struct reg_aor *aor = registrar_find(c->reg, ext->number);
	if (!aor || !aor->bindings) {
		log_info("call %llu: %s is not registered", (unsigned long long)call->id, ext->number);
		on_no_answer(c, call, ext, false);
		return;
	}
	/* The callee side's media leg and offer, shared by every fork. */
	if (!call->fork_ms) {
		call->fork_ms = call_slot_new(c, call, 1, &aor->bindings->reach, call->a->ms->id);
		if (!call->fork_ms) {
			call_fail(c, call, 503, "failed", NULL);
			return;
		}
	}
	if (call->vid[0] && !call->vid[1])
		call->vid[1] = call_slot_new(c, call, 2, &aor->bindings->reach, call->a->ms->id);
	int orc;
	if (call->a->state == LEG_CONFIRMED) {
		orc = call_media_fork_offer(c, call, NULL); /* a transfer */
	} else {
		const struct sip_msg *inv = leg_req(c, call->a);
		orc = !inv || call_sdp_parse(inv, c->sdp_tmp[0]) != 0 ? EBADMSG
			: call_media_fork_offer(c, call, c->sdp_tmp[0]);
	}
	if (orc != 0) {
		/* ENOTSUP: none of the caller's codecs is one codec_order allows */
		call_fail(c, call, orc == ENOTSUP ? 488 : 500, "failed", NULL);
		return;
	}
	unsigned n = 0;
	for (struct reg_binding *bnd = aor->bindings; bnd && n < MAX_FORKS; bnd = bnd->next) {
		struct leg *f = fork_new(c, call, ext, bnd);
		if (!f)
			continue;
		f->next_fork = call->forks;
		call->forks = f;
		n++;
	}
	if (n == 0) {
		on_no_answer(c, call, ext, false);
		return;
	}
	call->ring_timer.fn = ring_timeout;
	timer_start(&c->th, &call->ring_timer, c->now_ms + (uint64_t)(ext->ring_time > 0 ? ext->ring_time : 25) * 1000);
}

/* ---------------------------------------------------------------- feature codes */

static void feature_end(struct timer *t, void *arg)
{
	(void)t;
	struct call *call = arg;
	call_end(call->core, call, "answered", "system");
}

/* 200 to the caller with our description sdp (taken over), and the call is up. */
static void answer_caller(struct core *c, struct call *call, char *sdp, size_t len, const char *extra)
{
	free(call->a->sdp);
	call->a->sdp = sdp;
	call->a->sdp_len = len;
	leg_respond(c, call->a, NULL, NULL, NULL, 200, extra, sdp, len);
	call->a->state = LEG_CONFIRMED;
	call->answered = true;
	call->answer_ms = wall_ms();
}

/* Answer leg A locally (echo test, feature codes). */
static bool answer_local(struct core *c, struct call *call)
{
	const struct sip_msg *inv = leg_req(c, call->a);
	char *sdp = NULL;
	size_t len = 0;
	if (!inv || call_sdp_parse(inv, c->sdp_tmp[0]) != 0) {
		call_fail(c, call, 488, "failed", NULL);
		return false;
	}
	int rc = call_media_answer_local(c, call->a, c->sdp_tmp[0], &sdp, &len);
	if (rc) {
		call_fail(c, call, rc, "failed", NULL);
		return false;
	}
	answer_caller(c, call, sdp, len, NULL);
	return true;
}

/*
 * *43 echo; *72N and *73 forward all on and off, *90N and *91 on busy,
 * *52N and *53 on no answer, *78 and *79 DND. The phone hears a confirmation (or error) tone, then
 * the PBX hangs up. Returns false when dialed is no feature code.
 */
static bool feature_code(struct core *c, struct call *call, const char *dialed)
{
	if (dialed[0] != '*' || strlen(dialed) < 3)
		return false;
	char code[3] = { dialed[1], dialed[2], '\0' };
	const char *arg = dialed + 3;
	const char *me = call->caller->number;
	if (strcmp(code, "43") == 0 && !*arg) {
		call->kind = CALL_ECHO;
		if (answer_local(c, call))
			media_echo(c->media, call->a->ms->id);
		return true;
	}
	if ((strcmp(code, "97") == 0 || strcmp(code, "98") == 0) && !*arg) {
		call->kind = CALL_VMMENU;
		if (answer_local(c, call))
			vmmenu_start(c, call, code[1] == '7' ? me : NULL);
		return true;
	}
	bool ok = false, known = true;
	enum db_fwd_kind kind = DB_FWD_ALWAYS;
	bool is_fwd = false, fwd_on = false;
	if (!strcmp(code, "72") || !strcmp(code, "90") || !strcmp(code, "52")) {
		kind = code[0] == '7' ? DB_FWD_ALWAYS : code[0] == '9' ? DB_FWD_BUSY : DB_FWD_NOANSWER;
		is_fwd = fwd_on = true;
	} else if (!strcmp(code, "73") || !strcmp(code, "91") || !strcmp(code, "53")) {
		kind = code[0] == '7' ? DB_FWD_ALWAYS : code[0] == '9' ? DB_FWD_BUSY : DB_FWD_NOANSWER;
		is_fwd = true;
	} else if (strcmp(code, "78") && strcmp(code, "79")) {
		known = false;
	}
	if (!known)
		return false;
	call->kind = CALL_FEATURE;
	if (is_fwd && fwd_on) {
		const struct config_ext *t = config_ext_find(call->cfg, arg, strlen(arg));
		ok = t && strcmp(t->number, me) != 0;
		if (ok)
			jobs_fwd_set(c->jobs, me, kind, t->number);
	} else if (is_fwd) {
		ok = !*arg;
		if (ok)
			jobs_fwd_set(c->jobs, me, kind, "");
	} else {
		ok = !*arg;
		if (ok)
			jobs_dnd_set(c->jobs, me, code[1] == '8');
	}
	log_info("call %llu: %s dialled feature code *%s%s: %s", (unsigned long long)call->id, me, code, arg,
		 ok ? "done" : "refused");
	if (!answer_local(c, call))
		return true;
	media_tone(c->media, call->a->ms->id, ok ? MEDIA_TONE_CONFIRM : MEDIA_TONE_ERROR);
	/* If the tone's end is never reported, hang up anyway. */
	call->end_timer.fn = feature_end;
	timer_start(&c->th, &call->end_timer, c->now_ms + 5000);
	return true;
}

/* ---------------------------------------------------------------- new INVITE */

static uint32_t parse_se(const struct sip_msg *req)
{
	struct slice name = slice_cstr("Session-Expires");
	const struct sip_hdr *h = sip_msg_hdr_name(req, name);
	if (!h)
		h = sip_msg_hdr_name(req, slice_cstr("x"));
	if (!h)
		return 0;
	uint32_t v = 0;
	for (size_t i = 0; i < h->value.len && h->value.p[i] >= '0' && h->value.p[i] <= '9' && v < 1000000; i++)
		v = v * 10 + (uint32_t)(h->value.p[i] - '0');
	return v;
}

static bool supports_timer(const struct sip_msg *req)
{
	const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_SUPPORTED);
	if (!h)
		return false;
	for (size_t i = 0; i + 5 <= h->value.len; i++)
		if (slice_ieq_cstr(slice_make(h->value.p + i, 5), "timer"))
			return true;
	return false;
}

/* RFC 4028 on leg A: when the phone supports session timers it refreshes;
 * we only watch. The extra header line goes into our 2xx. */
static void session_timer_setup(struct core *c, struct leg *l, const struct sip_msg *req, char *extra, size_t cap)
{
	extra[0] = '\0';
	if (!supports_timer(req))
		return;
	uint32_t se = parse_se(req);
	if (se == 0)
		se = SE_DEFAULT;
	if (se < SE_MIN)
		se = SE_MIN;
	l->se_interval = se;
	snprintf(extra, cap, "Session-Expires: %u;refresher=uac\r\nRequire: timer\r\n", se);
	timer_start(&c->th, &l->se_timer, c->now_ms + (uint64_t)se * 1000);
}

static void se_timer_fire(struct timer *t, void *arg)
{
	(void)t;
	struct leg *l = arg;
	struct call *call = l->call;
	log_notice("call %llu: session expired without a refresh, hanging up", (unsigned long long)call->id);
	call_end(call->core, call, call->answered ? "answered" : "failed", "system");
}

static void ok_timer_fire(struct timer *t, void *arg)
{
	(void)t;
	struct leg *l = arg;
	struct core *c = l->call->core;
	if (!l->ok)
		return;
	if (c->now_ms >= l->ok_deadline) {
		/* RFC 3261 13.3.1.4: no ACK within 64*T1, so the dialog ends. */
		log_notice("call %llu: no ACK for our 200, hanging up", (unsigned long long)l->call->id);
		free(l->ok);
		l->ok = NULL;
		call_end(c, l->call, l->call->answered ? "answered" : "failed", "system");
		return;
	}
	sip_transport_send(c->tp, &l->dlg.dest, l->ok, l->ok_len);
	l->ok_interval = l->ok_interval * 2 > 4000 ? 4000 : l->ok_interval * 2;
	timer_start(&c->th, &l->ok_timer, c->now_ms + l->ok_interval);
}

void call_invite(struct core *c, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src,
		 const struct config_ext *caller)
{
	char dialed[32];
	long n = req->ruri.user.p ? sip_unescape(dialed, sizeof dialed, req->ruri.user) : -1;
	if (n <= 0) {
		core_reply(c, st, req, src, 404, NULL);
		return;
	}
	if (req->body.len == 0) {
		/* An INVITE without an offer would need our offer in the 2xx and
		 * the answer in the ACK; no phone we serve does that. */
		core_reply(c, st, req, src, 488, "Warning: 399 pbx \"an SDP offer is required\"\r\n");
		return;
	}
	if (call_sdp_parse(req, c->sdp_tmp[0]) != 0) {
		core_reply(c, st, req, src, 488, "Warning: 399 pbx \"unreadable SDP\"\r\n");
		return;
	}
	struct call *call = call_new(c);
	struct leg *a = call ? leg_new(call, true) : NULL;
	char tag[17];
	sip_random_token(tag);
	if (!a || dlg_init_uas(&a->dlg, req, src, tag) != 0 || !(a->req = malloc(req->len))) {
		if (call) {
			free(a);
			call->ended = true;
			call_finish(c, call);
		}
		core_reply(c, st, req, src, 500, NULL);
		return;
	}
	memcpy(a->req, req->buf, req->len);
	a->req_len = req->len;
	a->req_src = *src;
	a->inv_st = st;
	a->ext = caller;
	sip_txn_set_user(st, a);
	call->a = a;
	call->caller = config_ext_find(call->cfg, caller->number, strlen(caller->number));
	if (!call->caller)
		call->caller = caller; /* same snapshot in practice; kept alive by c->cfg */
	snprintf(call->dialed, sizeof call->dialed, "%s", dialed);
	dlg_copy(call->call_id, sizeof call->call_id, req->call_id);
	dlg_table_add(c, a);
	log_info("call %llu: %s -> %s", (unsigned long long)call->id, caller->number, dialed);
	c->st.call_setups++;

	bool video = call_sdp_video(c->sdp_tmp[0]) != NULL;
	a->ms = call_slot_new(c, call, 0, src, 0);
	if (!a->ms) {
		call_fail(c, call, 503, "failed", NULL);
		return;
	}
	if (video)
		call->vid[0] = call_slot_new(c, call, 2, src, a->ms->id); /* none: video is refused */
	if (feature_code(c, call, dialed))
		return;
	const struct config_room *room = config_room_find(call->cfg, dialed, strlen(dialed));
	if (room) {
		call->kind = CALL_CONF;
		if (answer_local(c, call))
			conf_start(c, call, room);
		return;
	}
	const struct config_ext *ext = config_ext_find(call->cfg, dialed, strlen(dialed));
	if (!ext) {
		call_fail(c, call, 404, "failed", NULL);
		return;
	}
	route_to(c, call, ext);
}

/* ---------------------------------------------------------------- responses from forks */

static void fork_done(struct core *c, struct call *call, struct leg *f, int status)
{
	f->state = LEG_GONE;
	f->final_status = status;
	if (f->inv_ct) {
		/* The layer ACKs and retires it; nothing more to hear about it. */
		sip_txn_abandon(f->inv_ct);
		f->inv_ct = NULL;
	}
	if (call->answered || call->ended) {
		call_finish(c, call);
		return;
	}
	if (f->cancelled)
		return; /* cancelled by a forward or a timeout: the next step is already on */
	if (status == 486 || status == 600 || status == 603)
		call->busy_forks++;
	else
		call->failed_forks++;
	for (struct leg *x = call->forks; x; x = x->next_fork)
		if (x->state != LEG_GONE && !x->cancelled)
			return; /* others still ringing */
	timer_stop(&c->th, &call->ring_timer);
	if (call->busy_forks > 0)
		on_busy(c, call, call->callee, false);
	else
		on_no_answer(c, call, call->callee, false);
}

static void fork_answered(struct core *c, struct call *call, struct leg *f, const struct sip_msg *resp)
{
	dlg_update_from_response(&f->dlg, resp);
	leg_send_ack(c, f, f->inv_cseq);
	if (f->state == LEG_CONFIRMED)
		return; /* a retransmitted 2xx: the ACK above was all it needed */
	f->state = LEG_CONFIRMED;
	if (call->answered || call->ended || f->cancelled || !call->a || call->a->state == LEG_GONE) {
		/* A second fork answered, or the call is over: hang it up. */
		leg_bye(c, f);
		return;
	}
	/* The winner: it takes the forks' media leg. */
	f->ms = call->fork_ms;
	call->fork_ms = NULL;
	call->b = f;
	for (struct leg **pp = &call->forks; *pp; pp = &(*pp)->next_fork) {
		if (*pp == f) {
			*pp = f->next_fork;
			break;
		}
	}
	f->next_fork = NULL;
	forks_cancel(c, call, NULL);
	timer_stop(&c->th, &call->ring_timer);

	if (call->a->state == LEG_CONFIRMED) {
		/* A transfer: the caller side is connected already. */
		if (call_media_answered(c, call, f, resp, NULL, NULL, NULL) != 0) {
			call_end(c, call, "failed", "system");
			return;
		}
		call->answered = true;
		call->answer_ms = wall_ms();
		call->disposition = "answered";
		return;
	}
	const struct sip_msg *inv = leg_req(c, call->a);
	char *sdp = NULL;
	size_t len = 0;
	int code = 500;
	if (inv && call_sdp_parse(inv, c->sdp_tmp[0]) == 0)
		code = call_media_answered(c, call, f, resp, c->sdp_tmp[0], &sdp, &len);
	if (code != 0) {
		call_fail(c, call, code, "failed", NULL);
		return;
	}
	char extra[128];
	inv = leg_req(c, call->a); /* msg_tmp may have been reused */
	session_timer_setup(c, call->a, inv, extra, sizeof extra);
	answer_caller(c, call, sdp, len, extra);
	call->disposition = "answered";
	c->st.calls_answered++;
}

static void reinvite_answered(struct core *c, struct leg *l, const struct sip_msg *resp)
{
	if (resp->status >= 200 && resp->status < 300) {
		leg_send_ack(c, l, resp->cseq);
		if (call_media_reanswer(c, l, resp) != 0)
			log_info("call %llu: the answer to our re-INVITE was not usable", (unsigned long long)l->call->id);
	}
	if (resp->status >= 200)
		l->reinv_pending = false;
}

void call_response(struct core *c, struct sip_txn *ct, const struct sip_msg *resp)
{
	struct leg *l = sip_txn_user(ct);
	if (!l)
		return;
	struct call *call = l->call;
	if (ct == l->reinv_ct) {
		reinvite_answered(c, l, resp);
		return;
	}
	if (ct != l->inv_ct)
		return;
	if (resp->status < 200) {
		if (resp->status == 100)
			return;
		if (l->state == LEG_TRYING) {
			l->state = LEG_EARLY;
			dlg_update_from_response(&l->dlg, resp);
			if (l->cancelled) {
				l->cancelled = false;
				fork_cancel(c, l); /* held back until now (RFC 3261 9.1) */
			}
		}
		if (!call->ringing_sent && !call->answered && !call->ended && call->a && call->a->state < LEG_CONFIRMED) {
			/* The caller's phone plays its own ringback: no early media. */
			call->ringing_sent = true;
			leg_respond(c, call->a, NULL, NULL, NULL, 180, NULL, NULL, 0);
			if (call->a->state == LEG_TRYING)
				call->a->state = LEG_EARLY;
		}
		return;
	}
	if (resp->status < 300) {
		fork_answered(c, call, l, resp);
		return;
	}
	fork_done(c, call, l, resp->status);
}

void call_client_fail(struct core *c, struct sip_txn *ct, int reason)
{
	struct leg *l = sip_txn_user(ct);
	if (!l)
		return;
	if (ct == l->reinv_ct) {
		l->reinv_ct = NULL;
		l->reinv_pending = false;
		return;
	}
	if (ct == l->inv_ct) {
		l->inv_ct = NULL; /* freed when this returns */
		fork_done(c, l->call, l, reason == ETIMEDOUT ? 408 : 503);
	}
}

void call_client_gone(struct core *c, struct sip_txn *ct)
{
	struct leg *l = sip_txn_user(ct);
	if (!l)
		return;
	if (ct == l->reinv_ct) {
		l->reinv_ct = NULL;
		l->reinv_pending = false;
	}
	if (ct == l->inv_ct) {
		l->inv_ct = NULL;
		if (l->call && l != l->call->b && l != l->call->a)
			call_finish(c, l->call);
	}
}

void call_server_gone(struct core *c, struct sip_txn *st)
{
	(void)c;
	struct leg *l = sip_txn_user(st);
	if (!l)
		return;
	if (l->inv_st == st)
		l->inv_st = NULL;
	if (l->reinv_st == st)
		l->reinv_st = NULL;
}

bool call_cancel(struct core *c, struct sip_txn *invite_st)
{
	struct leg *l = sip_txn_user(invite_st);
	if (!l || !l->is_a)
		return false;
	struct call *call = l->call;
	if (l->state >= LEG_CONFIRMED)
		return true; /* too late: the 200 stands (RFC 3261 9.2) */
	leg_respond(c, l, NULL, NULL, NULL, 487, NULL, NULL, 0);
	l->state = LEG_GONE;
	call_end(c, call, "cancelled", "caller");
	return true;
}

/* ---------------------------------------------------------------- in-dialog requests */

static struct leg *other_leg(struct leg *l)
{
	struct call *call = l->call;
	if (!call)
		return NULL;
	return l == call->a ? call->b : l == call->b ? call->a : NULL;
}

/* Send our current description (o->sdp) to a confirmed leg in a re-INVITE. */
void leg_reinvite(struct core *c, struct leg *o)
{
	if (o->reinv_ct) {
		sip_txn_abandon(o->reinv_ct); /* the previous one is answered; forget it */
		o->reinv_ct = NULL;
	}
	if (leg_request(c, o, "INVITE", ++o->dlg.local_cseq, CALL_ALLOW, "application/sdp", o->sdp, o->sdp_len, o,
			&o->reinv_ct) == 0)
		o->reinv_pending = true;
}

/* Tell the other phone about hold or resume with a re-INVITE of our own. */
static void propagate_hold(struct core *c, struct leg *from)
{
	struct leg *o = other_leg(from);
	if (!o || o->state != LEG_CONFIRMED || o->reinv_pending || !o->ms)
		return;
	bool hold = from->held_by_peer;
	if (hold == o->holding_peer)
		return;
	char *sdp = NULL;
	size_t len = 0;
	if (call_media_reoffer(c, o, hold ? SDP_DIR_SENDONLY : SDP_DIR_SENDRECV, &sdp, &len) != 0)
		return;
	o->holding_peer = hold;
	free(o->sdp);
	o->sdp = sdp;
	o->sdp_len = len;
	leg_reinvite(c, o);
}

static void in_dialog_offer(struct core *c, struct leg *l, struct sip_txn *st, const struct sip_msg *req,
			    const struct sip_dest *src)
{
	if (req->method_id == SIP_INVITE && (l->reinv_pending || l->reinv_st)) {
		core_reply(c, st, req, src, 491, "Retry-After: 1\r\n"); /* glare (RFC 3261 14.2) */
		return;
	}
	char *sdp = NULL;
	size_t len = 0;
	if (req->body.len) {
		if (call_sdp_parse(req, c->sdp_tmp[0]) != 0) {
			core_reply(c, st, req, src, 488, NULL);
			return;
		}
		int rc = call_media_answer_local(c, l, c->sdp_tmp[0], &sdp, &len);
		if (rc) {
			core_reply(c, st, req, src, rc, NULL);
			return;
		}
		free(l->sdp);
		l->sdp = sdp;
		l->sdp_len = len;
	} else if (req->method_id == SIP_INVITE) {
		/* No offer: send the description we sent last, as an offer. */
		sdp = l->sdp;
		len = l->sdp_len;
	}
	char extra[128] = "";
	if (l->se_interval) {
		timer_start(&c->th, &l->se_timer, c->now_ms + (uint64_t)l->se_interval * 1000);
		snprintf(extra, sizeof extra, "Session-Expires: %u;refresher=uac\r\nRequire: timer\r\n", l->se_interval);
	}
	if (req->method_id == SIP_INVITE)
		l->reinv_st = st;
	leg_respond(c, l, st, req, src, 200, extra, req->body.len || req->method_id == SIP_INVITE ? sdp : NULL,
		    req->body.len || req->method_id == SIP_INVITE ? len : 0);
	if (req->body.len)
		propagate_hold(c, l);
}

bool call_in_dialog(struct core *c, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src)
{
	struct leg *l = dlg_find(c, req);
	if (!l)
		return false;
	struct call *call = l->call;
	if (req->method_id != SIP_ACK && req->method_id != SIP_CANCEL) {
		if (l->dlg.remote_cseq_set && req->cseq <= l->dlg.remote_cseq && req->method_id != SIP_ACK) {
			core_reply(c, st, req, src, 500, "Retry-After: 1\r\n"); /* out of order (RFC 3261 12.2.2) */
			return true;
		}
		l->dlg.remote_cseq = req->cseq;
		l->dlg.remote_cseq_set = true;
		/* Phones move (NAT rebinding): follow where they send from. */
		sip_response_dest(req, src, &l->dlg.dest);
	}
	switch (req->method_id) {
	case SIP_ACK:
		if (l->ok && req->cseq == l->ok_cseq) {
			timer_stop(&c->th, &l->ok_timer);
			free(l->ok);
			l->ok = NULL;
			l->reinv_st = NULL;
		}
		return true;
	case SIP_BYE:
		core_reply(c, st, req, src, 200, NULL);
		l->state = LEG_GONE;
		if (l == call->a || l == call->b)
			call_end(c, call, call->answered ? "answered" : "cancelled", l == call->a ? "caller" : "callee");
		return true;
	case SIP_INVITE:
	case SIP_UPDATE:
		if (l->state != LEG_CONFIRMED || call->ended) {
			core_reply(c, st, req, src, 481, NULL);
			return true;
		}
		in_dialog_offer(c, l, st, req, src);
		return true;
	case SIP_REFER:
		call_refer(c, l, st, req, src);
		return true;
	case SIP_NOTIFY:
	case SIP_INFO:
	case SIP_OPTIONS:
		core_reply(c, st, req, src, 200, NULL);
		return true;
	default:
		core_reply(c, st, req, src, 501, CALL_ALLOW);
		return true;
	}
}

/* ---------------------------------------------------------------- media events */

void call_media_event(struct core *c, const struct media_event *ev)
{
	struct media_slot *ms = (struct media_slot *)(uintptr_t)ev->cookie;
	if (!ms) {
		if (ev->kind == MEDIA_EV_RECORD_DONE)
			free(ev->rec.pcm); /* ours once taken, whoever it was for */
		return;
	}
	struct call *call = ms->call;
	switch (ev->kind) {
	case MEDIA_EV_CLOSED:
		if (call) {
			call->cdr[ms->side].st = ev->stats;
			call->cdr[ms->side].have = true;
			if (call->media_open)
				call->media_open--;
		}
		call_slot_release(c, ms);
		if (call)
			call_finish(c, call);
		return;
	case MEDIA_EV_TIMEOUT:
		if (call && !ms->closing && !call->ended) {
			log_notice("call %llu: no media for too long, hanging up", (unsigned long long)call->id);
			call_end(c, call, call->answered ? "answered" : "failed", "system");
		}
		return;
	case MEDIA_EV_TONE_DONE:
		if (call && call->kind == CALL_FEATURE && !call->ended) {
			/* The last beep is still in the phone's jitter buffer: let it play. */
			call->end_timer.fn = feature_end;
			timer_start(&c->th, &call->end_timer, c->now_ms + 500);
		}
		return;
	case MEDIA_EV_DTMF:
		log_debug("call %llu: DTMF %c", call ? (unsigned long long)call->id : 0ULL, ev->digit);
		if (call && call->kind == CALL_CONF && !call->ended && !ms->closing)
			conf_dtmf(c, call, ev->digit);
		else if (call && call->kind == CALL_VM && !call->ended && !ms->closing)
			vm_dtmf(c, call, ev->digit);
		else if (call && call->kind == CALL_VMMENU && !call->ended && !ms->closing)
			vmmenu_dtmf(c, call, ev->digit);
		return;
	case MEDIA_EV_PLAY_DONE:
		if (call && call->kind == CALL_CONF && !call->ended && !ms->closing)
			conf_play_done(c, call);
		else if (call && call->kind == CALL_VM && !call->ended && !ms->closing)
			vm_play_done(c, call);
		else if (call && call->kind == CALL_VMMENU && !call->ended && !ms->closing)
			vmmenu_play_done(c, call);
		return;
	case MEDIA_EV_TALKING:
		log_debug("call %llu: %s talking", call ? (unsigned long long)call->id : 0ULL,
			  ev->talking ? "started" : "stopped");
		return;
	case MEDIA_EV_RECORD_DONE:
		/* Also after the call ended: what was said before the hang-up is the message. */
		if (call && call->kind == CALL_VM && call->vm.recording)
			vm_record_done(c, call, ev);
		else if (call && call->kind == CALL_VMMENU && call->menu.recording)
			vmmenu_record_done(c, call, ev);
		else
			free(ev->rec.pcm);
		return;
	case MEDIA_EV_LATCHED: {
		char a[SIP_ADDRSTR_MAX];
		log_debug("media leg %u: sending to %s", ev->leg, sip_addr_str(&ev->addr, a, sizeof a));
		return;
	}
	}
}

/* ---------------------------------------------------------------- shared with call_refer.c */

struct call *call_create(struct core *c) { return call_new(c); }
void call_route(struct core *c, struct call *call, const struct config_ext *ext) { route_to(c, call, ext); }
void call_hangup(struct core *c, struct call *call, const char *disposition, const char *by)
{
	if (call->a && call->a->state < LEG_CONFIRMED && call->a->inv_st)
		call_fail(c, call, 480, disposition, NULL);
	else
		call_end(c, call, disposition, by);
}

int call_leg_request(struct core *c, struct leg *l, const char *method, const char *extra, const char *ctype,
		     const char *body, size_t body_len)
{
	return leg_request(c, l, method, ++l->dlg.local_cseq, extra, ctype, body, body_len, NULL, NULL);
}

void call_dlg_index(struct core *c, struct leg *l, bool add)
{
	if (add)
		dlg_table_add(c, l);
	else
		dlg_table_del(c, l);
}

/* A dialog by Call-ID and its two tags, in either order (Replaces gives
 * them from the other end's point of view). */
struct leg *call_find_dialog(struct core *c, const char *call_id, const char *tag1, const char *tag2)
{
	uint32_t h = hash_str(call_id, strlen(call_id)) % DLG_BUCKETS;
	for (struct leg *l = c->calls->dlg[h]; l; l = l->hnext) {
		if (strcmp(l->dlg.call_id, call_id) != 0)
			continue;
		if ((!strcmp(l->dlg.local_tag, tag1) && !strcmp(l->dlg.remote_tag, tag2)) ||
		    (!strcmp(l->dlg.local_tag, tag2) && !strcmp(l->dlg.remote_tag, tag1)))
			return l;
	}
	return NULL;
}

/* ---------------------------------------------------------------- life */

int calls_init(struct core *c)
{
	c->calls = calloc(1, sizeof *c->calls);
	c->sdp_tmp[0] = malloc(sizeof(struct sdp_session));
	c->sdp_tmp[1] = malloc(sizeof(struct sdp_session));
	c->msg_tmp = malloc(sizeof(struct sip_msg));
	if (!c->calls || !c->sdp_tmp[0] || !c->sdp_tmp[1] || !c->msg_tmp)
		return ENOMEM;
	return 0;
}

void calls_free(struct core *c)
{
	if (c->calls) {
		while (c->calls->list) {
			struct call *call = c->calls->list;
			/* Shutdown: tell the phones, then drop everything at once. */
			call_end(c, call, call->answered ? "answered" : "failed", "system");
			if (c->calls->list == call) {
				call->media_open = 0;
				for (struct leg *f = call->forks; f; f = f->next_fork)
					if (f->inv_ct) {
						sip_txn_abandon(f->inv_ct);
						f->inv_ct = NULL;
					}
				call_finish(c, call);
			}
		}
		free(c->calls);
		c->calls = NULL;
	}
	free(c->sdp_tmp[0]);
	free(c->sdp_tmp[1]);
	free(c->msg_tmp);
	c->sdp_tmp[0] = c->sdp_tmp[1] = NULL;
	c->msg_tmp = NULL;
}

void calls_release_slots(struct core *c)
{
	while (c->slots)
		call_slot_release(c, c->slots);
}

size_t calls_active(const struct core *c) { return c->calls ? c->calls->n : 0; }

size_t calls_list(struct core *c, struct live_call *out, size_t max, size_t *total)
{
	size_t n = 0, all = 0;
	for (struct call *call = c->calls->list; call; call = call->next) {
		if (call->ended)
			continue; /* waiting only for its media statistics */
		all++;
		if (n >= max)
			continue;
		struct live_call *o = &out[n++];
		memset(o, 0, sizeof *o);
		o->id = call->id;
		snprintf(o->caller, sizeof o->caller, "%s", call->caller ? call->caller->number : "");
		snprintf(o->callee, sizeof o->callee, "%s", call->callee ? call->callee->number : "");
		snprintf(o->dialed, sizeof o->dialed, "%s", call->dialed);
		snprintf(o->state, sizeof o->state, "%s",
			 call->kind == CALL_ECHO ? "echo" : call->kind == CALL_FEATURE ? "feature"
			 : call->kind == CALL_CONF ? "conference" : call->kind == CALL_VM ? "voicemail" : call->kind == CALL_VMMENU ? "voicemail-menu"
			 : call->answered ? "answered" : "ringing");
		o->start_ms = call->start_ms;
		o->answer_ms = call->answered ? call->answer_ms : 0;
		struct leg *legs[2] = { call->a, call->b };
		char *codec[2] = { o->codec_a, o->codec_b };
		int *srtp[2] = { &o->srtp_a, &o->srtp_b };
		for (int i = 0; i < 2; i++) {
			if (!legs[i] || !legs[i]->ms || !legs[i]->ms->params_set)
				continue;
			snprintf(codec[i], 16, "%s", sdp_codec_info(legs[i]->ms->params.codec)->name);
			*srtp[i] = legs[i]->ms->params.srtp;
		}
	}
	*total = all;
	return n;
}

struct call *call_by_id(struct core *c, uint64_t id)
{
	for (struct call *call = c->calls->list; call; call = call->next)
		if (call->id == id)
			return call;
	return NULL;
}

static bool leg_uses_port(const struct leg *l, int family, uint16_t port)
{
	const struct sockaddr_storage *a = &l->dlg.dest.local;
	return a->ss_family == family && sip_addr_port(a) == port;
}

bool calls_use_port(const struct core *c, int family, uint16_t port)
{
	for (const struct call *call = c->calls->list; call; call = call->next) {
		if (call->ended)
			continue;
		if ((call->a && leg_uses_port(call->a, family, port)) || (call->b && leg_uses_port(call->b, family, port)))
			return true;
		for (const struct leg *f = call->forks; f; f = f->next_fork)
			if (leg_uses_port(f, family, port))
				return true;
	}
	return false;
}

int calls_hangup(struct core *c, uint64_t id)
{
	for (struct call *call = c->calls->list; call; call = call->next) {
		if (call->id != id || call->ended)
			continue;
		log_notice("call %llu: hung up by the administrator", (unsigned long long)id);
		call_hangup(c, call, call->answered ? "answered" : "failed", "system");
		return 0;
	}
	return ENOENT;
}
