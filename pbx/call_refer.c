/*
 * call_refer.c: call transfer by REFER (RFC 3515) from a phone in a call.
 *
 * Media is anchored in the PBX, so neither kind of transfer asks the other
 * phones to move their RTP: the PBX re-bridges media legs and the phones
 * that stay keep talking to the same ports.
 *   - Blind: the phone that stays (the transferee) becomes the caller of a
 *     new call to the Refer-To extension; the transferor's leg is hung up.
 *   - Attended (Refer-To carries Replaces naming the transferor's other
 *     call): the two phones that stay are bridged to each other and both of
 *     the transferor's legs are hung up.
 * The transferor gets 202 and one NOTIFY with the outcome (sipfrag).
 */
#include "core_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "log.h"

static void notify_result(struct core *c, struct leg *l, int code)
{
	char frag[64];
	int n = snprintf(frag, sizeof frag, "SIP/2.0 %d %s\r\n", code, sip_reason(code));
	call_leg_request(c, l, "NOTIFY", "Event: refer\r\nSubscription-State: terminated;reason=noresource\r\n",
			 "message/sipfrag;version=2.0", frag, (size_t)n);
}

/* Find "name=value" in a ';'-separated list; value copied into out. */
static bool param(const char *list, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *p = list; p && *p;) {
		while (*p == ';' || *p == ' ')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && strncasecmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t vl = len - nl - 1;
			if (vl >= cap)
				return false;
			memcpy(out, p + nl + 1, vl);
			out[vl] = '\0';
			return true;
		}
		p = end;
	}
	return false;
}

/* The Replaces of a Refer-To URI's headers ("Replaces=...&..."), unescaped
 * into "call-id;to-tag=..;from-tag=..". */
static bool replaces_of(struct slice headers, char *out, size_t cap)
{
	const char *p = headers.p, *end = headers.p + headers.len;
	while (p && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t len = amp ? (size_t)(amp - p) : (size_t)(end - p);
		if (len > 9 && strncasecmp(p, "Replaces=", 9) == 0)
			return sip_unescape(out, cap, slice_make(p + 9, len - 9)) > 0;
		p = amp ? amp + 1 : NULL;
	}
	return false;
}

/* Leg x leaves its call; y takes its place (same side). */
static void swap_in(struct call *call, struct leg *x, struct leg *y)
{
	int side = call->a == x ? 0 : 1;
	if (call->a == x)
		call->a = y;
	else
		call->b = y;
	y->call = call;
	if (y->ms)
		call_slot_move(y->ms, call, side);
}

static void refer_attended(struct core *c, struct leg *l, const char *rep)
{
	struct call *x = l->call;
	struct leg *stay1 = l == x->a ? x->b : x->a;
	char callid[DLG_CALLID_MAX], to_tag[DLG_TAG_MAX], from_tag[DLG_TAG_MAX];
	const char *semi = strchr(rep, ';');
	size_t cl = semi ? (size_t)(semi - rep) : strlen(rep);
	if (!semi || cl >= sizeof callid || !param(semi, "to-tag", to_tag, sizeof to_tag) ||
	    !param(semi, "from-tag", from_tag, sizeof from_tag)) {
		notify_result(c, l, 400);
		return;
	}
	memcpy(callid, rep, cl);
	callid[cl] = '\0';
	struct leg *m = call_find_dialog(c, callid, to_tag, from_tag);
	struct call *z = m ? m->call : NULL;
	struct leg *stay2 = z ? (m == z->a ? z->b : z->a) : NULL;
	if (!m || z == x || !stay1 || !stay2 || stay1->state != LEG_CONFIRMED || stay2->state != LEG_CONFIRMED ||
	    !stay1->ms || !stay2->ms) {
		log_info("call %llu: attended transfer names no connected call", (unsigned long long)x->id);
		notify_result(c, l, 481);
		return;
	}
	int rc = media_bridge(c->media, stay1->ms->id, stay2->ms->id);
	if (rc) {
		log_warn("call %llu: cannot bridge for the transfer: %s", (unsigned long long)x->id, strerror(rc));
		notify_result(c, l, 503);
		return;
	}
	/* z keeps stay2 and gets stay1 in m's place; x ends with the
	 * transferor's two legs, l and m. */
	swap_in(z, m, stay1);
	swap_in(x, stay1, m);
	log_info("call %llu: attended transfer by %s: %s now talks to %s", (unsigned long long)z->id,
		 l->ext ? l->ext->number : "?", stay1->ext ? stay1->ext->number : "?",
		 stay2->ext ? stay2->ext->number : "?");
	notify_result(c, l, 200);
	call_hangup(c, x, "answered", "transfer");
	/* Either phone may have been put on hold by the transferor: resume. */
	struct leg *stay[2] = { stay1, stay2 };
	for (int i = 0; i < 2; i++) {
		struct leg *s = stay[i];
		if (!s->holding_peer)
			continue;
		char *sdp = NULL;
		size_t len = 0;
		if (call_media_reoffer(c, s, SDP_DIR_SENDRECV, &sdp, &len) == 0) {
			s->holding_peer = false;
			free(s->sdp);
			s->sdp = sdp;
			s->sdp_len = len;
			leg_reinvite(c, s);
		}
	}
}

static void refer_blind(struct core *c, struct leg *l, const struct config_ext *target)
{
	struct call *x = l->call;
	struct leg *stay = l == x->a ? x->b : x->a;
	if (!stay || stay->state != LEG_CONFIRMED || !stay->ms) {
		notify_result(c, l, 481);
		return;
	}
	struct call *y = call_create(c);
	if (!y) {
		notify_result(c, l, 503);
		return;
	}
	/* The transferee becomes the caller side of the new call. */
	if (x->a == stay)
		x->a = NULL;
	else
		x->b = NULL;
	stay->call = y;
	y->a = stay;
	call_slot_move(stay->ms, y, 0);
	y->caller = stay->ext ? config_ext_find(y->cfg, stay->ext->number, strlen(stay->ext->number)) : NULL;
	if (!y->caller)
		y->caller = target; /* never NULL below; the record shows the target then */
	snprintf(y->dialed, sizeof y->dialed, "%s", target->number);
	snprintf(y->call_id, sizeof y->call_id, "%s", stay->dlg.call_id);
	log_info("call %llu: blind transfer by %s of %s to %s (call %llu)", (unsigned long long)x->id,
		 l->ext ? l->ext->number : "?", stay->ext ? stay->ext->number : "?", target->number,
		 (unsigned long long)y->id);
	notify_result(c, l, 200);
	call_hangup(c, x, "answered", "transfer");
	call_route(c, y, config_ext_find(y->cfg, target->number, strlen(target->number)));
}

void call_refer(struct core *c, struct leg *l, struct sip_txn *st, const struct sip_msg *req,
		const struct sip_dest *src)
{
	struct call *x = l->call;
	const struct sip_hdr *h = sip_msg_hdr_name(req, slice_cstr("Refer-To"));
	if (!h)
		h = sip_msg_hdr_name(req, slice_cstr("r"));
	struct sip_nameaddr na;
	if (!h || sip_nameaddr_parse(&na, h->value) != 0 || !na.uri.is_sip) {
		core_reply(c, st, req, src, 400, "Warning: 399 pbx \"Refer-To missing or unreadable\"\r\n");
		return;
	}
	if (!x || x->ended || l->state != LEG_CONFIRMED || (l != x->a && l != x->b) || !x->answered) {
		core_reply(c, st, req, src, 481, NULL);
		return;
	}
	char rep[512];
	if (slice_present(na.uri.headers) && replaces_of(na.uri.headers, rep, sizeof rep)) {
		core_reply(c, st, req, src, 202, NULL);
		refer_attended(c, l, rep);
		return;
	}
	char user[32];
	long n = na.uri.user.p ? sip_unescape(user, sizeof user, na.uri.user) : -1;
	const struct config_ext *t = n > 0 ? config_ext_find(x->cfg, user, (size_t)n) : NULL;
	if (!t) {
		core_reply(c, st, req, src, 404, NULL);
		return;
	}
	core_reply(c, st, req, src, 202, NULL);
	refer_blind(c, l, t);
}
