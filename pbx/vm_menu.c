/*
 * vm_menu.c: the by-phone voicemail menu (see vm_menu.h).
 *
 * One enum of states and one enter_state() that does each state's entry
 * work (its prompt, after an optional prefix such as "wrong pin"), so every
 * transition is logged in one place. Menu states play a prompt the caller
 * may cut short with a digit; when it has played out the input timer is
 * armed. Number states (mailbox, PIN, new PIN) collect digits until #, or
 * until the digit timer fires after the last one.
 */
#include "vm_menu.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum vm_state {
	S_ASK_MAILBOX,  /* *98: which mailbox */
	S_ASK_PIN,
	S_LOADING,      /* waiting for the message list */
	S_MAIN,         /* 1 listen, 0 options, # goodbye */
	S_MSG_PLAY,     /* a message plays */
	S_MSG_MENU,     /* after it: 7 9 # * */
	S_MSG_NEXT,     /* "message deleted/saved", then the next one */
	S_OPTIONS,      /* 1 2 3 greetings, 4 PIN, * back */
	S_REC_PROMPT,   /* "record after the tone" and the beep */
	S_RECORDING,
	S_REC_STOPPING, /* # pressed, waiting for the recording's end */
	S_NEW_PIN,
	S_NEW_PIN_AGAIN,
	S_BYE,          /* goodbye plays, then hang up */
	S_DONE,
};

static const char *const state_names[] = {
	[S_ASK_MAILBOX] = "ask_mailbox", [S_ASK_PIN] = "ask_pin",         [S_LOADING] = "loading",
	[S_MAIN] = "main",               [S_MSG_PLAY] = "msg_play",       [S_MSG_MENU] = "msg_menu",
	[S_MSG_NEXT] = "msg_next",       [S_OPTIONS] = "options",         [S_REC_PROMPT] = "rec_prompt",
	[S_RECORDING] = "recording",     [S_REC_STOPPING] = "rec_stopping", [S_NEW_PIN] = "new_pin",
	[S_NEW_PIN_AGAIN] = "new_pin_again", [S_BYE] = "bye",             [S_DONE] = "done",
};

#define DIGITS_MAX DB_NUMBER_MAX /* the longest thing typed: a mailbox number */

struct vm_menu {
	enum vm_state state;
	bool ask_mailbox;                    /* *98 */
	bool (*pin_of)(void *ctx, const char *mailbox, char pin[DB_PIN_MAX + 1]);
	void *ctx;
	uint32_t input_ms, digit_ms, greeting_ms;

	char mailbox[DB_NUMBER_MAX + 1];     /* the one being opened, then open */
	bool known;                          /* it exists */
	char pin[DB_PIN_MAX + 1];            /* its PIN */

	char digits[DIGITS_MAX + 1];         /* typed so far in a number state */
	unsigned n_digits;
	bool overflow;                       /* more typed than fits: never valid */

	uint32_t next_token;
	uint32_t play_token;                 /* the playback whose end we wait for; 0 none */
	uint32_t timer_token;                /* the armed timer; 0 none */
	uint32_t rec_token;                  /* the recording; 0 none */

	unsigned pin_failures;
	unsigned timeouts;                   /* silent ones in a row */
	unsigned new_pin_tries;
	char new_pin[DB_PIN_MAX + 1];

	struct vm_menu_msg *msgs;            /* the list; deleted ones have id -1 */
	size_t n_msgs;
	size_t cur;                          /* the message playing or last played */
	enum db_vm_greeting rec_kind;
};

/* ---- actions --------------------------------------------------------------------------- */

static struct vm_act *act(struct vm_acts *acts, enum vm_act_kind kind)
{
	static _Thread_local struct vm_act overflow; /* a sink, never read */
	if (acts->n >= VM_ACTS_MAX) {
		/* More than one event ever produces: a bug of ours. */
		log_err("vm_menu: more than %d actions for one event; dropped", VM_ACTS_MAX);
		memset(&overflow, 0, sizeof overflow);
		return &overflow;
	}
	struct vm_act *a = &acts->a[acts->n++];
	memset(a, 0, sizeof *a);
	a->kind = kind;
	return a;
}

static uint32_t new_token(struct vm_menu *m)
{
	if (++m->next_token == 0)
		m->next_token = 1; /* 0 means "none" */
	return m->next_token;
}

static void cancel_timer(struct vm_menu *m, struct vm_acts *acts)
{
	if (!m->timer_token)
		return;
	struct vm_act *a = act(acts, VM_ACT_TIMER);
	a->token = m->timer_token;
	a->ms = 0;
	m->timer_token = 0;
}

static void arm_timer(struct vm_menu *m, struct vm_acts *acts, uint32_t ms)
{
	struct vm_act *a = act(acts, VM_ACT_TIMER);
	a->token = m->timer_token = new_token(m);
	a->ms = ms;
}

static void play(struct vm_menu *m, struct vm_acts *acts, const struct prompt_seq *seq)
{
	cancel_timer(m, acts);
	struct vm_act *a = act(acts, VM_ACT_PLAY);
	a->token = m->play_token = new_token(m);
	a->seq = *seq;
}

static void stop_play(struct vm_menu *m, struct vm_acts *acts)
{
	if (!m->play_token)
		return;
	act(acts, VM_ACT_STOP_PLAY);
	m->play_token = 0;
}

static void with_mailbox(struct vm_menu *m, struct vm_act *a)
{
	memcpy(a->mailbox, m->mailbox, sizeof a->mailbox);
}

/* Append to a sequence; the menu's sequences are far below the limit, so a
 * failure would be a bug: logged, the prompt dropped. */
static void seq_add(struct prompt_seq *s, enum prompt_id id)
{
	if (prompt_seq_add(s, id) != 0)
		log_err("vm_menu: prompt sequence full");
}

static void seq_count(struct prompt_seq *s, size_t n, enum prompt_id one, enum prompt_id many)
{
	if (prompt_seq_add_number(s, n > 9999 ? 9999 : (unsigned)n) != 0)
		log_err("vm_menu: prompt sequence full");
	seq_add(s, n == 1 ? one : many);
}

/* ---- states ------------------------------------------------------------------------------ */

static void enter_state(struct vm_menu *m, enum vm_state s, const struct prompt_seq *prefix, struct vm_acts *acts)
{
	log_debug("vm_menu %s: %s -> %s", m->mailbox[0] ? m->mailbox : "?", state_names[m->state],
		  state_names[s]);
	m->state = s;
	m->n_digits = 0;
	m->overflow = false;
	m->digits[0] = '\0';
	struct prompt_seq seq = { 0 };
	if (prefix)
		seq = *prefix;

	switch (s) {
	case S_ASK_MAILBOX:
		seq_add(&seq, PROMPT_VM_ENTER_MAILBOX);
		play(m, acts, &seq);
		break;
	case S_ASK_PIN:
		seq_add(&seq, PROMPT_VM_ENTER_PIN);
		play(m, acts, &seq);
		break;
	case S_LOADING: {
		stop_play(m, acts);
		struct vm_act *a = act(acts, VM_ACT_LOAD_MESSAGES);
		with_mailbox(m, a);
		cancel_timer(m, acts);
		arm_timer(m, acts, VM_MENU_WAIT_MS);
		break;
	}
	case S_MAIN:
		seq_add(&seq, PROMPT_VM_MAIN_MENU);
		play(m, acts, &seq);
		break;
	case S_MSG_PLAY: {
		cancel_timer(m, acts);
		struct vm_act *a = act(acts, VM_ACT_PLAY_MESSAGE);
		a->token = m->play_token = new_token(m);
		a->msg_id = m->msgs[m->cur].id;
		with_mailbox(m, a);
		break;
	}
	case S_MSG_MENU:
		seq_add(&seq, PROMPT_VM_MESSAGE_MENU);
		play(m, acts, &seq);
		break;
	case S_MSG_NEXT:
		play(m, acts, &seq);
		break;
	case S_OPTIONS:
		seq_add(&seq, PROMPT_VM_OPTIONS_MENU);
		play(m, acts, &seq);
		break;
	case S_REC_PROMPT:
		seq_add(&seq, m->rec_kind == DB_VM_GREETING_NAME ? PROMPT_VM_RECORD_NAME : PROMPT_VM_RECORD_GREETING);
		seq_add(&seq, PROMPT_BEEP);
		play(m, acts, &seq);
		break;
	case S_RECORDING: {
		cancel_timer(m, acts);
		struct vm_act *a = act(acts, VM_ACT_RECORD);
		a->token = m->rec_token = new_token(m);
		a->greeting = m->rec_kind;
		a->ms = m->greeting_ms;
		with_mailbox(m, a);
		arm_timer(m, acts, m->greeting_ms + VM_MENU_WAIT_MS);
		break;
	}
	case S_REC_STOPPING: {
		struct vm_act *a = act(acts, VM_ACT_STOP_RECORD);
		with_mailbox(m, a);
		cancel_timer(m, acts);
		arm_timer(m, acts, VM_MENU_WAIT_MS);
		break;
	}
	case S_NEW_PIN:
		seq_add(&seq, PROMPT_VM_NEW_PIN);
		play(m, acts, &seq);
		break;
	case S_NEW_PIN_AGAIN:
		seq_add(&seq, PROMPT_VM_NEW_PIN_AGAIN);
		play(m, acts, &seq);
		break;
	case S_BYE:
		seq_add(&seq, PROMPT_GOODBYE);
		play(m, acts, &seq);
		/* No input is expected: the timer only guards against a
		 * playback that never reports its end. */
		arm_timer(m, acts, VM_MENU_WAIT_MS);
		break;
	case S_DONE:
		cancel_timer(m, acts);
		m->play_token = m->rec_token = 0;
		act(acts, VM_ACT_HANGUP);
		break;
	}
}

static struct prompt_seq one_prompt(enum prompt_id id)
{
	struct prompt_seq s = { 0 };
	seq_add(&s, id);
	return s;
}

/* Enter s after a single prompt. */
static void enter_after(struct vm_menu *m, enum vm_state s, enum prompt_id id, struct vm_acts *acts)
{
	struct prompt_seq p = one_prompt(id);
	enter_state(m, s, &p, acts);
}

static bool is_number_state(enum vm_state s)
{
	return s == S_ASK_MAILBOX || s == S_ASK_PIN || s == S_NEW_PIN || s == S_NEW_PIN_AGAIN;
}

static bool is_menu_state(enum vm_state s)
{
	return s == S_MAIN || s == S_MSG_MENU || s == S_OPTIONS || is_number_state(s);
}

/* Compare without an early exit, so the time does not tell how much of a
 * PIN was right. */
static bool pin_equal(const char *typed, const char *pin)
{
	size_t a = strnlen(typed, DB_PIN_MAX + 1), b = strnlen(pin, DB_PIN_MAX + 1);
	unsigned diff = a != b;
	for (size_t i = 0; i < DB_PIN_MAX; i++) {
		unsigned char x = i < a ? (unsigned char)typed[i] : 0, y = i < b ? (unsigned char)pin[i] : 0;
		diff |= x ^ y;
	}
	return diff == 0;
}

static void look_up(struct vm_menu *m)
{
	m->pin[0] = '\0';
	m->known = m->pin_of(m->ctx, m->mailbox, m->pin);
	m->pin[DB_PIN_MAX] = '\0';
	if (!m->known)
		m->pin[0] = '\0';
}

/* ---- listening ----------------------------------------------------------------------------- */

static bool find_from(struct vm_menu *m, size_t from, size_t *at)
{
	for (size_t i = from; i < m->n_msgs; i++) {
		if (m->msgs[i].id >= 0) {
			*at = i;
			return true;
		}
	}
	return false;
}

/* The message after the current one, or back to the main menu. */
static void next_message(struct vm_menu *m, struct vm_acts *acts)
{
	size_t at;
	if (find_from(m, m->cur + 1, &at)) {
		m->cur = at;
		enter_state(m, S_MSG_PLAY, NULL, acts);
	} else {
		enter_after(m, S_MAIN, PROMPT_VM_NO_MORE, acts);
	}
}

static void summary(struct vm_menu *m, struct vm_acts *acts)
{
	size_t n_new = 0, n_old = 0;
	for (size_t i = 0; i < m->n_msgs; i++)
		*(m->msgs[i].is_new ? &n_new : &n_old) += 1;
	struct prompt_seq s = { 0 };
	if (n_new + n_old == 0) {
		seq_add(&s, PROMPT_VM_NO_MESSAGES);
	} else {
		seq_add(&s, PROMPT_VM_YOU_HAVE);
		seq_count(&s, n_new, PROMPT_VM_NEW_MESSAGE, PROMPT_VM_NEW_MESSAGES);
		if (n_old) {
			seq_add(&s, PROMPT_VM_AND);
			seq_count(&s, n_old, PROMPT_VM_OLD_MESSAGE, PROMPT_VM_OLD_MESSAGES);
		}
	}
	enter_state(m, S_MAIN, &s, acts);
}

/* 7 9 # * on a message, playing or played. */
static void message_key(struct vm_menu *m, char d, struct vm_acts *acts)
{
	struct vm_menu_msg *msg = &m->msgs[m->cur];
	switch (d) {
	case '7': {
		stop_play(m, acts);
		struct vm_act *a = act(acts, VM_ACT_DELETE);
		a->msg_id = msg->id;
		with_mailbox(m, a);
		msg->id = -1;
		enter_after(m, S_MSG_NEXT, PROMPT_VM_MSG_DELETED, acts);
		break;
	}
	case '9':
		stop_play(m, acts);
		if (msg->is_new) {
			struct vm_act *a = act(acts, VM_ACT_SAVE);
			a->msg_id = msg->id;
			with_mailbox(m, a);
			msg->is_new = false;
		}
		enter_after(m, S_MSG_NEXT, PROMPT_VM_MSG_SAVED, acts);
		break;
	case '#':
		stop_play(m, acts);
		next_message(m, acts);
		break;
	case '*':
		stop_play(m, acts);
		enter_state(m, S_MSG_PLAY, NULL, acts);
		break;
	default:
		/* Other keys do not cut a message short; after it they are a
		 * mistake worth saying. */
		if (m->state == S_MSG_MENU)
			enter_after(m, S_MSG_MENU, PROMPT_INVALID_OPTION, acts);
		break;
	}
}

/* ---- numbers --------------------------------------------------------------------------------- */

static void submit_number(struct vm_menu *m, struct vm_acts *acts)
{
	switch (m->state) {
	case S_ASK_MAILBOX:
		if (m->n_digits == 0) {
			enter_state(m, S_ASK_MAILBOX, NULL, acts); /* # alone: ask again */
			return;
		}
		if (m->overflow) {
			m->mailbox[0] = '\0';
			m->known = false;
			m->pin[0] = '\0';
		} else {
			memcpy(m->mailbox, m->digits, sizeof m->mailbox);
			look_up(m);
		}
		enter_state(m, S_ASK_PIN, NULL, acts);
		return;
	case S_ASK_PIN: {
		bool ok = m->known && m->pin[0] && !m->overflow && pin_equal(m->digits, m->pin);
		if (ok) {
			struct vm_act *a = act(acts, VM_ACT_LOGGED_IN);
			with_mailbox(m, a);
			m->pin_failures = 0;
			enter_state(m, S_LOADING, NULL, acts);
			return;
		}
		act(acts, VM_ACT_PIN_FAILED);
		if (++m->pin_failures >= VM_MENU_TRIES) {
			act(acts, VM_ACT_BLOCK_SOURCE);
			enter_after(m, S_BYE, PROMPT_WRONG_PIN, acts);
		} else {
			enter_after(m, m->ask_mailbox ? S_ASK_MAILBOX : S_ASK_PIN, PROMPT_WRONG_PIN, acts);
		}
		return;
	}
	case S_NEW_PIN:
		if (m->overflow || m->n_digits < DB_PIN_MIN || m->n_digits > DB_PIN_MAX) {
			if (++m->new_pin_tries >= VM_MENU_TRIES)
				enter_after(m, S_OPTIONS, PROMPT_VM_PIN_INVALID, acts);
			else
				enter_after(m, S_NEW_PIN, PROMPT_VM_PIN_INVALID, acts);
			return;
		}
		memcpy(m->new_pin, m->digits, sizeof m->new_pin);
		enter_state(m, S_NEW_PIN_AGAIN, NULL, acts);
		return;
	case S_NEW_PIN_AGAIN:
		if (m->overflow || strcmp(m->digits, m->new_pin) != 0) {
			if (++m->new_pin_tries >= VM_MENU_TRIES)
				enter_after(m, S_OPTIONS, PROMPT_VM_PIN_MISMATCH, acts);
			else
				enter_after(m, S_NEW_PIN, PROMPT_VM_PIN_MISMATCH, acts);
			return;
		}
		struct vm_act *a = act(acts, VM_ACT_SET_PIN);
		with_mailbox(m, a);
		memcpy(a->pin, m->new_pin, sizeof a->pin);
		memcpy(m->pin, m->new_pin, sizeof m->pin);
		enter_after(m, S_OPTIONS, PROMPT_VM_PIN_CHANGED, acts);
		return;
	default:
		return;
	}
}

static void number_digit(struct vm_menu *m, char d, struct vm_acts *acts)
{
	stop_play(m, acts); /* typing ahead cuts the prompt short */
	if (d == '#') {
		cancel_timer(m, acts);
		submit_number(m, acts);
		return;
	}
	if (d == '*') {
		if (m->state == S_NEW_PIN || m->state == S_NEW_PIN_AGAIN) {
			enter_state(m, S_OPTIONS, NULL, acts); /* give up changing it */
			return;
		}
		/* Start over. */
		m->n_digits = 0;
		m->overflow = false;
		m->digits[0] = '\0';
	} else if (m->n_digits < DIGITS_MAX) {
		m->digits[m->n_digits++] = d;
		m->digits[m->n_digits] = '\0';
	} else {
		m->overflow = true;
	}
	unsigned max = m->state == S_ASK_MAILBOX ? DB_NUMBER_MAX : DB_PIN_MAX;
	if (m->n_digits > max)
		m->overflow = true;
	arm_timer(m, acts, m->digit_ms);
}

/* ---- events ------------------------------------------------------------------------------------ */

static void on_digit(struct vm_menu *m, char d, struct vm_acts *acts)
{
	if (!strchr("0123456789*#", d) || d == '\0')
		return;
	if (is_menu_state(m->state) || m->state == S_MSG_PLAY)
		m->timeouts = 0;
	if (is_number_state(m->state)) {
		number_digit(m, d, acts);
		return;
	}
	switch (m->state) {
	case S_MAIN:
		stop_play(m, acts);
		if (d == '1') {
			size_t at;
			if (find_from(m, 0, &at)) {
				m->cur = at;
				enter_state(m, S_MSG_PLAY, NULL, acts);
			} else {
				enter_after(m, S_MAIN, PROMPT_VM_NO_MESSAGES, acts);
			}
		} else if (d == '0') {
			enter_state(m, S_OPTIONS, NULL, acts);
		} else if (d == '#') {
			enter_state(m, S_BYE, NULL, acts);
		} else {
			enter_after(m, S_MAIN, PROMPT_INVALID_OPTION, acts);
		}
		break;
	case S_MSG_PLAY:
	case S_MSG_MENU:
		message_key(m, d, acts);
		break;
	case S_OPTIONS:
		stop_play(m, acts);
		if (d >= '1' && d <= '3') {
			m->rec_kind = d == '1' ? DB_VM_GREETING_UNAVAIL
				    : d == '2' ? DB_VM_GREETING_BUSY
					       : DB_VM_GREETING_NAME;
			enter_state(m, S_REC_PROMPT, NULL, acts);
		} else if (d == '4') {
			m->new_pin_tries = 0;
			enter_state(m, S_NEW_PIN, NULL, acts);
		} else if (d == '*') {
			enter_state(m, S_MAIN, NULL, acts);
		} else {
			enter_after(m, S_OPTIONS, PROMPT_INVALID_OPTION, acts);
		}
		break;
	case S_REC_PROMPT:
		if (d == '*') {
			stop_play(m, acts);
			enter_state(m, S_OPTIONS, NULL, acts);
		}
		break;
	case S_RECORDING:
		if (d == '#')
			enter_state(m, S_REC_STOPPING, NULL, acts);
		break;
	default:
		break; /* loading, announcing, stopping, goodbye: keys wait */
	}
}

static void on_play_done(struct vm_menu *m, const struct vm_ev *ev, struct vm_acts *acts)
{
	if (!m->play_token || ev->token != m->play_token)
		return;
	m->play_token = 0;
	switch (m->state) {
	case S_MSG_PLAY: {
		struct vm_menu_msg *msg = &m->msgs[m->cur];
		if (ev->result == 0 && msg->is_new) {
			struct vm_act *a = act(acts, VM_ACT_SAVE);
			a->msg_id = msg->id;
			with_mailbox(m, a);
			msg->is_new = false;
		}
		enter_state(m, S_MSG_MENU, NULL, acts);
		break;
	}
	case S_MSG_NEXT:
		next_message(m, acts);
		break;
	case S_REC_PROMPT:
		enter_state(m, S_RECORDING, NULL, acts);
		break;
	case S_BYE:
		enter_state(m, S_DONE, NULL, acts);
		break;
	default:
		if (is_menu_state(m->state))
			arm_timer(m, acts, m->input_ms);
		break;
	}
}

static void on_timeout(struct vm_menu *m, const struct vm_ev *ev, struct vm_acts *acts)
{
	if (!m->timer_token || ev->token != m->timer_token)
		return;
	m->timer_token = 0;
	if (is_number_state(m->state) && (m->n_digits > 0 || m->overflow)) {
		submit_number(m, acts); /* the caller stopped typing */
		return;
	}
	switch (m->state) {
	case S_LOADING:
		enter_after(m, S_BYE, PROMPT_VM_UNAVAILABLE, acts);
		return;
	case S_RECORDING:
	case S_REC_STOPPING:
		if (m->state == S_RECORDING)
			act(acts, VM_ACT_STOP_RECORD);
		m->rec_token = 0;
		enter_after(m, S_OPTIONS, PROMPT_VM_RECORD_FAILED, acts);
		return;
	case S_BYE:
		enter_state(m, S_DONE, NULL, acts);
		return;
	default:
		break;
	}
	if (!is_menu_state(m->state))
		return;
	if (++m->timeouts >= VM_MENU_TRIES) {
		stop_play(m, acts);
		enter_state(m, S_BYE, NULL, acts);
	} else {
		enter_state(m, m->state, NULL, acts);
	}
}

static void on_messages(struct vm_menu *m, const struct vm_ev *ev, struct vm_acts *acts)
{
	if (m->state != S_LOADING)
		return;
	if (ev->result != 0 || (ev->n_msgs && !ev->msgs)) {
		enter_after(m, S_BYE, PROMPT_VM_UNAVAILABLE, acts);
		return;
	}
	size_t n = ev->n_msgs > VM_MENU_MSGS_MAX ? VM_MENU_MSGS_MAX : ev->n_msgs;
	free(m->msgs);
	m->msgs = NULL;
	m->n_msgs = 0;
	if (n) {
		m->msgs = malloc(n * sizeof *m->msgs);
		if (!m->msgs) {
			enter_after(m, S_BYE, PROMPT_VM_UNAVAILABLE, acts);
			return;
		}
		memcpy(m->msgs, ev->msgs, n * sizeof *m->msgs);
		/* Ids below 0 would read as deleted: keep them out. */
		for (size_t i = 0; i < n; i++)
			if (m->msgs[i].id < 0)
				m->msgs[i].id = -1;
		m->n_msgs = n;
	}
	m->cur = 0;
	summary(m, acts);
}

static void on_record_done(struct vm_menu *m, const struct vm_ev *ev, struct vm_acts *acts)
{
	if (!m->rec_token || ev->token != m->rec_token)
		return;
	m->rec_token = 0;
	if (m->state != S_RECORDING && m->state != S_REC_STOPPING)
		return;
	enter_after(m, S_OPTIONS, ev->result == 0 ? PROMPT_VM_RECORDED : PROMPT_VM_RECORD_FAILED, acts);
}

void vm_menu_event(struct vm_menu *m, const struct vm_ev *ev, struct vm_acts *acts)
{
	if (!m || !ev || m->state == S_DONE)
		return;
	switch (ev->kind) {
	case VM_EV_DIGIT:
		on_digit(m, ev->digit, acts);
		break;
	case VM_EV_PLAY_DONE:
		on_play_done(m, ev, acts);
		break;
	case VM_EV_TIMEOUT:
		on_timeout(m, ev, acts);
		break;
	case VM_EV_MESSAGES:
		on_messages(m, ev, acts);
		break;
	case VM_EV_RECORD_DONE:
		on_record_done(m, ev, acts);
		break;
	}
}

static bool digits_only(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	return n >= 1 && n <= max && strspn(s, "0123456789") == n;
}

int vm_menu_new(struct vm_menu **out, const struct vm_menu_cfg *cfg, struct vm_acts *acts)
{
	*out = NULL;
	if (!cfg || !cfg->pin_of || !acts)
		return EINVAL;
	bool ask = !cfg->mailbox || !*cfg->mailbox;
	if (!ask && !digits_only(cfg->mailbox, DB_NUMBER_MAX))
		return EINVAL;
	struct vm_menu *m = calloc(1, sizeof *m);
	if (!m)
		return ENOMEM;
	m->ask_mailbox = ask;
	m->pin_of = cfg->pin_of;
	m->ctx = cfg->ctx;
	m->input_ms = cfg->input_timeout_ms ? cfg->input_timeout_ms : VM_MENU_INPUT_TIMEOUT_MS;
	m->digit_ms = cfg->digit_timeout_ms ? cfg->digit_timeout_ms : VM_MENU_DIGIT_TIMEOUT_MS;
	m->greeting_ms = cfg->greeting_ms ? cfg->greeting_ms : VM_MENU_GREETING_MS;
	m->state = ask ? S_ASK_MAILBOX : S_ASK_PIN;
	*out = m;
	if (ask) {
		enter_state(m, S_ASK_MAILBOX, NULL, acts);
		return 0;
	}
	snprintf(m->mailbox, sizeof m->mailbox, "%s", cfg->mailbox);
	look_up(m);
	if (!m->known) {
		/* The caller's own mailbox is gone (deleted meanwhile). */
		enter_after(m, S_BYE, PROMPT_VM_UNAVAILABLE, acts);
	} else if (!m->pin[0]) {
		struct vm_act *a = act(acts, VM_ACT_LOGGED_IN);
		with_mailbox(m, a);
		enter_state(m, S_LOADING, NULL, acts);
	} else {
		enter_state(m, S_ASK_PIN, NULL, acts);
	}
	return 0;
}

void vm_menu_free(struct vm_menu *m)
{
	if (!m)
		return;
	free(m->msgs);
	free(m);
}

bool vm_menu_done(const struct vm_menu *m)
{
	return m->state == S_DONE;
}

const char *vm_menu_state(const struct vm_menu *m)
{
	return state_names[m->state];
}
