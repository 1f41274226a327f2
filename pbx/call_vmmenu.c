/*
 * call_vmmenu.c: listening to voicemail by phone, *97 (own mailbox) and
 * *98 (any mailbox, number then PIN).
 *
 * The menu itself is vm_menu.c, a state machine without I/O; this file
 * carries out its actions: prompts and decoded messages through the media
 * engine, the one timer on the core's heap, everything that touches SQLite
 * or the spool through the voicemail worker (vm_store.c), and a wrong PIN
 * counted against the caller's address like a failed SIP authentication.
 *
 * Every media_play that will report PLAY_DONE pushes the menu token it
 * plays for; each PLAY_DONE pops the oldest, so a prompt cut short by the
 * next one reports with its own (stale, ignored) token.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "core_priv.h"
#include "log.h"
#include "throttle.h"
#include "vm_menu.h"
#include "vm_store.h"

#define MENU_GREETING_SILENCE_MS 4000 /* silence that ends a recorded greeting */

static void run_acts(struct core *c, struct call *call, struct vm_acts *acts);

static bool pin_of(void *ctx, const char *mailbox, char pin[DB_PIN_MAX + 1])
{
	struct call *call = ctx;
	const struct config_ext *e = config_ext_find(call->cfg, mailbox, strlen(mailbox));
	if (!e)
		return false;
	snprintf(pin, DB_PIN_MAX + 1, "%s", e->vm_pin);
	return true;
}

static void feed(struct core *c, struct call *call, const struct vm_ev *ev)
{
	struct call_vmmenu *v = &call->menu;
	if (!v->m || call->ended)
		return;
	struct vm_acts acts = { .n = 0 };
	vm_menu_event(v->m, ev, &acts);
	run_acts(c, call, &acts);
}

static void plays_push(struct call_vmmenu *v, uint32_t tag)
{
	if (v->n_plays < sizeof v->plays / sizeof v->plays[0])
		v->plays[(v->play_head + v->n_plays++) % (sizeof v->plays / sizeof v->plays[0])] = tag;
}

static void menu_timer(struct timer *t, void *arg)
{
	(void)t;
	struct call *call = arg;
	struct vm_ev ev = { .kind = VM_EV_TIMEOUT, .token = call->menu.timer_tag };
	feed(call->core, call, &ev);
}

static void post(struct core *c, struct call *call, enum vm_store_op op, const struct vm_act *a, uint32_t tag)
{
	struct vm_store_req r;
	memset(&r, 0, sizeof r);
	r.op = op;
	r.token = call->id;
	r.tag = tag;
	snprintf(r.mailbox, sizeof r.mailbox, "%s", a->mailbox);
	r.msg_id = a->msg_id;
	snprintf(r.pin, sizeof r.pin, "%s", a->pin);
	int err = c->vm ? vm_store_post(c->vm, &r, NULL, 0) : ENOENT;
	if (err) {
		log_err("call %llu: voicemail %s: %s", (unsigned long long)call->id, a->mailbox, strerror(err));
		/* The menu must not wait for an answer that will not come. */
		struct vm_ev ev = { .token = tag, .result = err };
		if (op == VM_OP_LIST) {
			ev.kind = VM_EV_MESSAGES;
			feed(c, call, &ev);
		} else if (op == VM_OP_LOAD) {
			ev.kind = VM_EV_PLAY_DONE;
			feed(c, call, &ev);
		}
	}
}

static void run_act(struct core *c, struct call *call, const struct vm_act *a)
{
	struct call_vmmenu *v = &call->menu;
	media_leg_id leg = call->a->ms->id;
	switch (a->kind) {
	case VM_ACT_PLAY:
		if (media_play(c->media, leg, &a->seq) == 0 && a->seq.n)
			plays_push(v, a->token);
		break;
	case VM_ACT_PLAY_MESSAGE:
		post(c, call, VM_OP_LOAD, a, a->token);
		break;
	case VM_ACT_STOP_PLAY: {
		struct prompt_seq none = { 0 };
		media_play(c->media, leg, &none); /* the running one reports, with its stale token */
		break;
	}
	case VM_ACT_TIMER:
		timer_stop(&c->th, &call->end_timer);
		if (a->ms) {
			v->timer_tag = a->token;
			call->end_timer.fn = menu_timer;
			timer_start(&c->th, &call->end_timer, c->now_ms + a->ms);
		}
		break;
	case VM_ACT_LOAD_MESSAGES:
		post(c, call, VM_OP_LIST, a, 0);
		break;
	case VM_ACT_RECORD: {
		int err = media_record(c->media, leg, a->ms ? a->ms : 60000, MENU_GREETING_SILENCE_MS);
		if (err) {
			struct vm_ev ev = { .kind = VM_EV_RECORD_DONE, .token = a->token, .result = err };
			feed(c, call, &ev);
			break;
		}
		static const char *const kinds[] = { "unavailable", "busy", "name" };
		log_info("call %llu: recording the %s greeting of %s", (unsigned long long)call->id,
			 (unsigned)a->greeting < DB_VM_GREETING_COUNT ? kinds[a->greeting] : "?", a->mailbox);
		v->recording = true;
		v->rec_tag = a->token;
		v->rec_greeting = a->greeting;
		snprintf(v->rec_mailbox, sizeof v->rec_mailbox, "%s", a->mailbox);
		break;
	}
	case VM_ACT_STOP_RECORD:
		media_record_stop(c->media, leg);
		break;
	case VM_ACT_DELETE:
		post(c, call, VM_OP_DELETE, a, 0);
		break;
	case VM_ACT_SAVE:
		post(c, call, VM_OP_SAVE, a, 0);
		break;
	case VM_ACT_SET_PIN:
		post(c, call, VM_OP_SET_PIN, a, 0);
		break;
	case VM_ACT_LOGGED_IN:
		log_info("call %llu: %s logged in to mailbox %s", (unsigned long long)call->id, call->caller->number,
			 a->mailbox);
		break;
	case VM_ACT_PIN_FAILED: {
		char addr[SIP_ADDRSTR_MAX];
		log_notice("call %llu: wrong voicemail PIN from %s (%s)", (unsigned long long)call->id,
			   call->caller->number, sip_addr_str(&call->a->req_src.peer, addr, sizeof addr));
		/* Counted like a failed SIP authentication: enough of them ban the source. */
		if (throttle_fail(c->thr, &call->a->req_src.peer, c->now_ms))
			log_notice("call %llu: %s banned after wrong voicemail PINs", (unsigned long long)call->id, addr);
		break;
	}
	case VM_ACT_BLOCK_SOURCE:
		log_notice("call %llu: three wrong voicemail PINs from %s, hanging up", (unsigned long long)call->id,
			   call->caller->number);
		break;
	case VM_ACT_HANGUP:
		call_hangup(c, call, "answered", "system");
		break;
	}
}

static void run_acts(struct core *c, struct call *call, struct vm_acts *acts)
{
	/* Actions may feed events back (an error answered at once); bounded by
	 * the menu, which never loops on its own errors. */
	for (unsigned i = 0; i < acts->n && !call->ended; i++)
		run_act(c, call, &acts->a[i]);
}

void vmmenu_start(struct core *c, struct call *call, const char *mailbox)
{
	struct call_vmmenu *v = &call->menu;
	memset(v, 0, sizeof *v);
	struct vm_menu_cfg cfg = { .mailbox = mailbox, .pin_of = pin_of, .ctx = call };
	struct vm_acts acts = { .n = 0 };
	int err = vm_menu_new(&v->m, &cfg, &acts);
	if (err) {
		log_err("call %llu: voicemail menu: %s", (unsigned long long)call->id, strerror(err));
		call_hangup(c, call, "failed", "system");
		return;
	}
	log_info("call %llu: %s opens voicemail%s%s", (unsigned long long)call->id, call->caller->number,
		 mailbox ? " of " : " (asks for the mailbox)", mailbox ? mailbox : "");
	run_acts(c, call, &acts);
}

void vmmenu_free(struct call *call)
{
	vm_menu_free(call->menu.m);
	call->menu.m = NULL;
}

void vmmenu_dtmf(struct core *c, struct call *call, char digit)
{
	struct vm_ev ev = { .kind = VM_EV_DIGIT, .digit = digit };
	feed(c, call, &ev);
}

void vmmenu_play_done(struct core *c, struct call *call)
{
	struct call_vmmenu *v = &call->menu;
	if (v->n_plays == 0)
		return; /* a play we did not ask to hear about */
	uint32_t tag = v->plays[v->play_head];
	v->play_head = (v->play_head + 1) % (sizeof v->plays / sizeof v->plays[0]);
	v->n_plays--;
	struct vm_ev ev = { .kind = VM_EV_PLAY_DONE, .token = tag };
	feed(c, call, &ev);
}

void vmmenu_record_done(struct core *c, struct call *call, const struct media_event *ev)
{
	struct call_vmmenu *v = &call->menu;
	v->recording = false;
	int16_t *pcm = ev->rec.pcm;
	if (call->ended || !v->m || ev->rec.n == 0 || ev->rec.end == MEDIA_REC_FAILED) {
		free(pcm);
		struct vm_ev e = { .kind = VM_EV_RECORD_DONE, .token = v->rec_tag,
				   .result = ev->rec.end == MEDIA_REC_FAILED ? EIO : ENODATA };
		feed(c, call, &e);
		return;
	}
	struct vm_store_req r;
	memset(&r, 0, sizeof r);
	r.op = VM_OP_GREETING;
	r.token = call->id;
	r.tag = v->rec_tag;
	r.greeting = v->rec_greeting;
	snprintf(r.mailbox, sizeof r.mailbox, "%s", v->rec_mailbox);
	int err = c->vm ? vm_store_post(c->vm, &r, pcm, ev->rec.n) : ENOENT;
	if (!c->vm)
		free(pcm);
	if (err) {
		struct vm_ev e = { .kind = VM_EV_RECORD_DONE, .token = v->rec_tag, .result = err };
		feed(c, call, &e);
	}
}

void vmmenu_result(struct core *c, struct call *call, struct vm_store_result *r)
{
	struct call_vmmenu *v = &call->menu;
	switch (r->op) {
	case VM_OP_LIST: {
		struct vm_ev ev = { .kind = VM_EV_MESSAGES, .result = r->err, .msgs = r->msgs, .n_msgs = r->n_msgs };
		feed(c, call, &ev);
		break;
	}
	case VM_OP_LOAD: {
		int err = r->err;
		if (err == 0 && !call->ended) {
			int16_t *pcm = r->pcm;
			r->pcm = NULL; /* media_play_pcm takes it whatever it returns */
			err = media_play_pcm(c->media, call->a->ms->id, pcm, r->n);
			if (err == 0) {
				plays_push(v, r->tag);
				struct vm_act heard = { .msg_id = r->msg_id };
				snprintf(heard.mailbox, sizeof heard.mailbox, "%s", r->mailbox);
				post(c, call, VM_OP_HEARD, &heard, 0);
				break;
			}
		}
		struct vm_ev ev = { .kind = VM_EV_PLAY_DONE, .token = r->tag, .result = err ? err : EIO };
		feed(c, call, &ev);
		break;
	}
	case VM_OP_GREETING: {
		struct vm_ev ev = { .kind = VM_EV_RECORD_DONE, .token = r->tag, .result = r->err };
		feed(c, call, &ev);
		break;
	}
	default:
		break;
	}
}
