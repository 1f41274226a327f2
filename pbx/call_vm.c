/*
 * call_vm.c: leaving a voicemail message (DESIGN.md "Voicemail").
 *
 * A call the callee does not take (no answer, busy, not registered, DND,
 * as its mailbox's vm_on says) is answered by the PBX: greeting, beep,
 * then the media engine records what the caller says until '#', hang-up,
 * five seconds of silence or the mailbox's longest message. The PCM goes
 * to the voicemail worker (vm_store.c), which encodes and stores it off
 * this thread; if the caller is still there, they hear whether it was
 * saved. The spool is checked before the greeting, so a full disk or an
 * unwritable spool is said ("mailbox unavailable") before anyone speaks.
 *
 * States: GREETING (prompts playing) -> RECORD -> SAVING (waiting for the
 * worker) -> BYE (last prompt, then hang-up).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call.h"
#include "core_priv.h"
#include "log.h"
#include "vm_store.h"

#define VM_SILENCE_MS 5000   /* this much silence ends a message */
#define VM_SAVE_WAIT_MS 20000 /* the worker's answer, before we hang up anyway */
#define VM_LOAD_WAIT_MS 3000  /* the owner's greeting, decoded, before the generated one instead */

static void vm_play(struct core *c, struct call *call, const struct prompt_seq *s)
{
	if (media_play(c->media, call->a->ms->id, s) != 0)
		call_hangup(c, call, call->disposition, "system");
}

static void vm_bye(struct core *c, struct call *call, enum prompt_id first)
{
	call->vm.state = VM_BYE;
	struct prompt_seq s = { 0 };
	if (first != PROMPT_GOODBYE)
		prompt_seq_add(&s, first);
	prompt_seq_add(&s, PROMPT_GOODBYE);
	vm_play(c, call, &s);
}

static void save_timeout(struct timer *t, void *arg)
{
	(void)t;
	struct call *call = arg;
	if (!call->ended && call->vm.state == VM_SAVING)
		vm_bye(call->core, call, PROMPT_VM_RECORD_FAILED);
}

bool vm_wanted(const struct config_ext *ext, enum vm_reason why)
{
	static const unsigned bit[] = { [VM_NOANSWER] = DB_VM_ON_NOANSWER, [VM_BUSY] = DB_VM_ON_BUSY,
					[VM_UNAVAILABLE] = DB_VM_ON_UNAVAILABLE, [VM_DND] = DB_VM_ON_DND };
	return ext && (ext->vm_on & bit[why]) != 0;
}

static void generated_greeting(struct core *c, struct call *call);

/* The worker did not decode the owner's greeting in time (a long queue, a
 * slow disk): the caller is not kept waiting in silence. */
static void load_timeout(struct timer *t, void *arg)
{
	(void)t;
	struct call *call = arg;
	if (call->ended || call->vm.state != VM_LOADING)
		return;
	log_notice("call %llu: the greeting of %s took longer than %d ms to load; the generated one instead",
		   (unsigned long long)call->id, call->vm.box->number, VM_LOAD_WAIT_MS);
	generated_greeting(call->core, call);
}

void vm_start(struct core *c, struct call *call, const struct config_ext *box, enum vm_reason why)
{
	memset(&call->vm, 0, sizeof call->vm);
	call->vm.box = box;
	call->vm.why = why;
	uint32_t max_ms = box->vm_max_seconds * 1000u;
	int err = c->vm ? vm_store_check(c->vm, max_ms) : ENOENT;
	if (err) {
		log_err("call %llu: voicemail of %s unavailable: %s", (unsigned long long)call->id, box->number,
			strerror(err));
		vm_bye(c, call, PROMPT_VM_UNAVAILABLE);
		return;
	}
	log_info("call %llu: to the voicemail of %s", (unsigned long long)call->id, box->number);
	enum db_vm_greeting g = why == VM_BUSY || why == VM_DND ? DB_VM_GREETING_BUSY : DB_VM_GREETING_UNAVAIL;
	if (box->greeting[g][0]) {
		/* The owner's own greeting: decoded by the worker, then played. */
		struct vm_store_req r;
		memset(&r, 0, sizeof r);
		r.op = VM_OP_LOAD;
		r.token = call->id;
		r.greeting = g;
		r.max_ms = 5 * 60 * 1000;
		snprintf(r.mailbox, sizeof r.mailbox, "%s", box->number);
		if (vm_store_post(c->vm, &r, NULL, 0) == 0) {
			call->vm.state = VM_LOADING;
			call->end_timer.fn = load_timeout;
			timer_start(&c->th, &call->end_timer, c->now_ms + VM_LOAD_WAIT_MS);
			return;
		}
	}
	generated_greeting(c, call);
}

/* "The person at extension 1 0 0 2 is not available / is busy. Please leave
 * a message after the tone.", then the beep. */
static void generated_greeting(struct core *c, struct call *call)
{
	const struct config_ext *box = call->vm.box;
	enum vm_reason why = call->vm.why;
	call->vm.state = VM_GREETING;
	struct prompt_seq s = { 0 };
	prompt_seq_add(&s, PROMPT_VM_PERSON_AT_EXT);
	prompt_seq_add_digits(&s, box->number);
	prompt_seq_add(&s, why == VM_BUSY || why == VM_DND ? PROMPT_VM_IS_BUSY : PROMPT_VM_NOT_AVAILABLE);
	prompt_seq_add(&s, PROMPT_VM_LEAVE_MESSAGE);
	prompt_seq_add(&s, PROMPT_BEEP);
	vm_play(c, call, &s);
}

static void start_recording(struct core *c, struct call *call)
{
	uint32_t max_ms = call->vm.box->vm_max_seconds * 1000u;
	int err = media_record(c->media, call->a->ms->id, max_ms, VM_SILENCE_MS);
	if (err) {
		log_err("call %llu: cannot record: %s", (unsigned long long)call->id, strerror(err));
		vm_bye(c, call, PROMPT_VM_RECORD_FAILED);
		return;
	}
	call->vm.state = VM_RECORD;
	call->vm.recording = true;
	log_info("call %llu: recording started for %s", (unsigned long long)call->id, call->vm.box->number);
}

void vm_play_done(struct core *c, struct call *call)
{
	if (call->ended)
		return;
	if (call->vm.state == VM_GREETING_PCM) {
		struct prompt_seq s = { 0 };
		prompt_seq_add(&s, PROMPT_BEEP);
		call->vm.state = VM_GREETING;
		vm_play(c, call, &s);
	} else if (call->vm.state == VM_GREETING) {
		start_recording(c, call);
	}
	else if (call->vm.state == VM_BYE)
		call_hangup(c, call, call->disposition, "system");
}

void vm_dtmf(struct core *c, struct call *call, char digit)
{
	if (call->ended)
		return;
	if (digit == '#' && call->vm.state == VM_RECORD)
		media_record_stop(c->media, call->a->ms->id);
	else if (digit == '#' && (call->vm.state == VM_GREETING || call->vm.state == VM_GREETING_PCM))
		start_recording(c, call); /* skip the greeting */
}

void vm_record_done(struct core *c, struct call *call, const struct media_event *ev)
{
	int16_t *pcm = ev->rec.pcm;
	call->vm.recording = false;
	static const char *const why[] = { "#", "silence", "the longest message", "hang-up", "failure" };
	log_info("call %llu: recording for %s ended by %s (%zu ms)", (unsigned long long)call->id,
		 call->vm.box->number, ev->rec.end <= MEDIA_REC_FAILED ? why[ev->rec.end] : "?",
		 ev->rec.n / 8);
	int err = ENODATA;
	if (ev->rec.n > 0 && ev->rec.end != MEDIA_REC_FAILED) {
		struct vm_store_req m;
		memset(&m, 0, sizeof m);
		m.op = VM_OP_MESSAGE;
		m.token = call->id;
		snprintf(m.mailbox, sizeof m.mailbox, "%s", call->vm.box->number);
		snprintf(m.caller, sizeof m.caller, "%s", call->caller->number);
		snprintf(m.caller_name, sizeof m.caller_name, "%s", call->caller->name);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		m.received_at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		m.max_ms = call->vm.box->vm_max_seconds * 1000u;
		m.max_messages = call->vm.box->vm_max_messages;
		err = vm_store_post(c->vm, &m, pcm, ev->rec.n); /* takes pcm */
		pcm = NULL;
		if (err)
			log_err("call %llu: the message for %s is lost: %s", (unsigned long long)call->id,
				m.mailbox, strerror(err));
	}
	free(pcm);
	if (call->ended)
		return;
	if (err == ENODATA && ev->rec.end == MEDIA_REC_FAILED) {
		vm_bye(c, call, PROMPT_VM_RECORD_FAILED);
	} else if (err == ENODATA) {
		vm_bye(c, call, PROMPT_GOODBYE);
	} else if (err) {
		vm_bye(c, call, PROMPT_VM_RECORD_FAILED);
	} else {
		call->vm.state = VM_SAVING;
		call->end_timer.fn = save_timeout;
		timer_start(&c->th, &call->end_timer, c->now_ms + VM_SAVE_WAIT_MS);
	}
}

/* The owner's greeting, decoded (or not: then the generated one). */
static void greeting_loaded(struct core *c, struct call *call, struct vm_store_result *r)
{
	if (call->ended || call->vm.state != VM_LOADING)
		return; /* too late (load_timeout), or the caller has gone */
	timer_stop(&c->th, &call->end_timer);
	if (r->err == 0) {
		int16_t *pcm = r->pcm;
		r->pcm = NULL; /* media_play_pcm takes it */
		if (media_play_pcm(c->media, call->a->ms->id, pcm, r->n) == 0) {
			call->vm.state = VM_GREETING_PCM;
			return;
		}
	}
	log_notice("call %llu: the greeting of %s could not be played (%s); the generated one instead",
		   (unsigned long long)call->id, call->vm.box->number, strerror(r->err ? r->err : EIO));
	generated_greeting(c, call);
}

static void message_stored(struct core *c, struct call *call, const struct vm_store_result *r)
{
	if (r->err == 0 && c->notify)
		vm_notify_post(c->notify, r->msg_id); /* email, if the mailbox has one */
	if (!call || call->kind != CALL_VM || call->vm.state != VM_SAVING || call->ended)
		return;
	timer_stop(&c->th, &call->end_timer);
	enum prompt_id p = r->err == 0        ? PROMPT_VM_MSG_SAVED
			   : r->err == ENODATA ? PROMPT_GOODBYE
			   : r->err == ENOSPC  ? PROMPT_VM_FULL
						: PROMPT_VM_RECORD_FAILED;
	vm_bye(c, call, p);
}

/* The worker's answers: to the call that asked (if it is still there), and
 * the mailbox's counts to message waiting. */
void vm_results(struct core *c)
{
	struct vm_store_result r[16];
	size_t n;
	for (int round = 0; round < 16 && (n = vm_store_take(c->vm, r, 16)) > 0; round++) {
		for (size_t i = 0; i < n; i++) {
			struct call *call = call_by_id(c, r[i].token);
			if (r[i].op == VM_OP_MESSAGE)
				message_stored(c, call, &r[i]);
			else if (call && call->kind == CALL_VM && r[i].op == VM_OP_LOAD)
				greeting_loaded(c, call, &r[i]);
			else if (call && call->kind == CALL_VMMENU && !call->ended)
				vmmenu_result(c, call, &r[i]);
			core_mwi_counts(c, r[i].mailbox, r[i].n_new, r[i].n_old); /* lamps follow */
			free(r[i].pcm);
			free(r[i].msgs);
		}
	}
}
