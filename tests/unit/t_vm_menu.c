/*
 * t_vm_menu.c: the by-phone voicemail menu driven through every path: *97
 * with and without a PIN, *98 with known, unknown and PIN-less mailboxes,
 * three wrong PINs (counted, source blocked, goodbye), the digit timer
 * ending a PIN, typing over a prompt, the summary in words, listening with
 * 7 9 # * during and after messages, heard messages saved, deletions
 * skipped on the next round, greetings recorded, stopped, failed and timed
 * out, the PIN changed (too short, mismatch, cancel, success), silent
 * timeouts, stale tokens, and a long random walk that must never break the
 * rules (bounded actions, nothing after hang-up).
 *
 * The harness plays the core: it remembers the tokens of the playback,
 * the timer and the recording the menu asked for, and reports their end
 * when a test says so.
 */
#include "unit.h"

#include "log.h"
#include "vm_menu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- harness ------------------------------------------------------------------------------ */

struct box {
	const char *number;
	const char *pin;
};

static const struct box boxes[] = {
	{ "1001", "1234" },
	{ "1002", "" },
	{ "1003", "5678" },
};

static bool pin_of(void *ctx, const char *mailbox, char pin[DB_PIN_MAX + 1])
{
	unsigned *calls = ctx;
	(*calls)++;
	for (size_t i = 0; i < sizeof boxes / sizeof boxes[0]; i++) {
		if (strcmp(boxes[i].number, mailbox) == 0) {
			snprintf(pin, DB_PIN_MAX + 1, "%s", boxes[i].pin);
			return true;
		}
	}
	return false;
}

struct h {
	struct vm_menu *m;
	struct vm_acts acts;
	unsigned lookups;
	uint32_t play_token, timer_token, rec_token;
	bool timer_armed, recording, hung_up;
	uint32_t timer_ms;
	int64_t playing_msg;  /* -1: prompts or nothing */
	unsigned pin_failed, blocked;
};

/* What the core would do with each action. */
static void track(struct h *h)
{
	assert_true(h->acts.n < VM_ACTS_MAX); /* never near the bound */
	if (h->acts.n)
		assert_false(h->hung_up); /* nothing after the hang-up */
	for (unsigned i = 0; i < h->acts.n; i++) {
		const struct vm_act *a = &h->acts.a[i];
		switch (a->kind) {
		case VM_ACT_PLAY:
			assert_true(a->token != 0);
			assert_true(a->seq.n > 0);
			h->play_token = a->token;
			h->playing_msg = -1;
			break;
		case VM_ACT_PLAY_MESSAGE:
			assert_true(a->token != 0);
			h->play_token = a->token;
			h->playing_msg = a->msg_id;
			break;
		case VM_ACT_STOP_PLAY:
			h->play_token = 0;
			break;
		case VM_ACT_TIMER:
			assert_true(a->token != 0);
			if (a->ms) {
				h->timer_token = a->token;
				h->timer_ms = a->ms;
				h->timer_armed = true;
			} else {
				assert_int_equal(a->token, h->timer_token); /* cancels the armed one */
				h->timer_armed = false;
			}
			break;
		case VM_ACT_RECORD:
			h->rec_token = a->token;
			h->recording = true;
			break;
		case VM_ACT_STOP_RECORD:
			h->recording = false;
			break;
		case VM_ACT_PIN_FAILED:
			h->pin_failed++;
			break;
		case VM_ACT_BLOCK_SOURCE:
			h->blocked++;
			break;
		case VM_ACT_HANGUP:
			h->hung_up = true;
			break;
		default:
			break;
		}
	}
}

static void start(struct h *h, const char *mailbox)
{
	memset(h, 0, sizeof *h);
	h->playing_msg = -1;
	struct vm_menu_cfg cfg = { .mailbox = mailbox, .pin_of = pin_of, .ctx = &h->lookups };
	assert_int_equal(vm_menu_new(&h->m, &cfg, &h->acts), 0);
	track(h);
}

static void send(struct h *h, struct vm_ev ev)
{
	h->acts.n = 0;
	vm_menu_event(h->m, &ev, &h->acts);
	track(h);
}

static void key(struct h *h, char d)
{
	send(h, (struct vm_ev){ .kind = VM_EV_DIGIT, .digit = d });
}

static void keys(struct h *h, const char *s)
{
	for (; *s; s++)
		key(h, *s);
}

static void played(struct h *h)
{
	assert_true(h->play_token != 0);
	uint32_t t = h->play_token;
	h->play_token = 0;
	send(h, (struct vm_ev){ .kind = VM_EV_PLAY_DONE, .token = t });
}

static void play_failed(struct h *h, int err)
{
	assert_true(h->play_token != 0);
	uint32_t t = h->play_token;
	h->play_token = 0;
	send(h, (struct vm_ev){ .kind = VM_EV_PLAY_DONE, .token = t, .result = err });
}

static void fire(struct h *h)
{
	assert_true(h->timer_armed);
	h->timer_armed = false;
	send(h, (struct vm_ev){ .kind = VM_EV_TIMEOUT, .token = h->timer_token });
}

static void recorded(struct h *h, int result)
{
	assert_true(h->rec_token != 0);
	h->recording = false;
	send(h, (struct vm_ev){ .kind = VM_EV_RECORD_DONE, .token = h->rec_token, .result = result });
}

static void messages(struct h *h, const struct vm_menu_msg *m, size_t n)
{
	send(h, (struct vm_ev){ .kind = VM_EV_MESSAGES, .msgs = m, .n_msgs = n });
}

static void stop(struct h *h)
{
	vm_menu_free(h->m);
	h->m = NULL;
}

static const struct vm_act *find(const struct h *h, enum vm_act_kind kind)
{
	for (unsigned i = 0; i < h->acts.n; i++)
		if (h->acts.a[i].kind == kind)
			return &h->acts.a[i];
	return NULL;
}

static unsigned count(const struct h *h, enum vm_act_kind kind)
{
	unsigned n = 0;
	for (unsigned i = 0; i < h->acts.n; i++)
		n += h->acts.a[i].kind == kind;
	return n;
}

/* The last event played exactly these prompts. */
static void expect_play_n(const struct h *h, const enum prompt_id *ids, unsigned n)
{
	const struct vm_act *a = find(h, VM_ACT_PLAY);
	assert_non_null(a);
	assert_int_equal(count(h, VM_ACT_PLAY), 1);
	if (a->seq.n != n) {
		fprintf(stderr, "played %u prompts:", a->seq.n);
		for (unsigned i = 0; i < a->seq.n; i++)
			fprintf(stderr, " %s", prompt_name(a->seq.id[i]));
		fprintf(stderr, "\n");
	}
	assert_int_equal(a->seq.n, n);
	for (unsigned i = 0; i < n; i++)
		assert_string_equal(prompt_name(a->seq.id[i]), prompt_name(ids[i]));
}

#define expect_play(h, ...)                                                                         \
	expect_play_n((h), (const enum prompt_id[]){ __VA_ARGS__ },                                 \
		      sizeof((const enum prompt_id[]){ __VA_ARGS__ }) / sizeof(enum prompt_id))

static void expect_message(const struct h *h, int64_t id)
{
	const struct vm_act *a = find(h, VM_ACT_PLAY_MESSAGE);
	assert_non_null(a);
	assert_int_equal(a->msg_id, id);
	assert_string_equal(a->mailbox, "1001");
}

static void expect_state(const struct h *h, const char *name)
{
	assert_string_equal(vm_menu_state(h->m), name);
}

/* *97 on 1001 with the right PIN, then this list. */
static void log_in_97(struct h *h, const struct vm_menu_msg *list, size_t n)
{
	start(h, "1001");
	expect_state(h, "ask_pin");
	expect_play(h, PROMPT_VM_ENTER_PIN);
	played(h);
	assert_true(h->timer_armed);
	assert_int_equal(h->timer_ms, VM_MENU_INPUT_TIMEOUT_MS);
	keys(h, "1234#");
	assert_non_null(find(h, VM_ACT_LOGGED_IN));
	const struct vm_act *load = find(h, VM_ACT_LOAD_MESSAGES);
	assert_non_null(load);
	assert_string_equal(load->mailbox, "1001");
	expect_state(h, "loading");
	messages(h, list, n);
	expect_state(h, "main");
}

static const struct vm_menu_msg three[] = { { 11, true }, { 12, true }, { 13, false } };

/* ---- logging in ------------------------------------------------------------------------------- */

static void test_own_mailbox_pin(void **state)
{
	(void)state;
	struct h h;
	start(&h, "1001");
	assert_int_equal(h.lookups, 1);
	played(&h);
	keys(&h, "1234#");
	/* The summary, in words, then the main menu. */
	messages(&h, three, 3);
	expect_play(&h, PROMPT_VM_YOU_HAVE, PROMPT_NUM_2, PROMPT_VM_NEW_MESSAGES, PROMPT_VM_AND, PROMPT_NUM_1,
		    PROMPT_VM_OLD_MESSAGE, PROMPT_VM_MAIN_MENU);
	assert_false(h.timer_armed); /* the loading guard is gone */
	assert_int_equal(h.pin_failed, 0);
	/* # in the main menu: goodbye, then the hang-up once it has played. */
	played(&h);
	key(&h, '#');
	expect_play(&h, PROMPT_GOODBYE);
	assert_false(vm_menu_done(h.m));
	played(&h);
	assert_non_null(find(&h, VM_ACT_HANGUP));
	assert_true(vm_menu_done(h.m));
	/* Nothing moves any more. */
	key(&h, '1');
	assert_int_equal(h.acts.n, 0);
	stop(&h);
}

static void test_summary_words(void **state)
{
	(void)state;
	struct h h;
	log_in_97(&h, NULL, 0);
	expect_play(&h, PROMPT_VM_NO_MESSAGES, PROMPT_VM_MAIN_MENU);
	/* 1 with nothing to hear. */
	key(&h, '1');
	expect_play(&h, PROMPT_VM_NO_MESSAGES, PROMPT_VM_MAIN_MENU);
	stop(&h);

	struct vm_menu_msg one_new[] = { { 5, true } };
	log_in_97(&h, one_new, 1);
	expect_play(&h, PROMPT_VM_YOU_HAVE, PROMPT_NUM_1, PROMPT_VM_NEW_MESSAGE, PROMPT_VM_MAIN_MENU);
	stop(&h);

	struct vm_menu_msg two_old[] = { { 5, false }, { 6, false } };
	log_in_97(&h, two_old, 2);
	expect_play(&h, PROMPT_VM_YOU_HAVE, PROMPT_NUM_0, PROMPT_VM_NEW_MESSAGES, PROMPT_VM_AND, PROMPT_NUM_2,
		    PROMPT_VM_OLD_MESSAGES, PROMPT_VM_MAIN_MENU);
	stop(&h);

	struct vm_menu_msg many[125];
	for (int i = 0; i < 125; i++)
		many[i] = (struct vm_menu_msg){ 100 + i, i < 25 };
	log_in_97(&h, many, 125);
	expect_play(&h, PROMPT_VM_YOU_HAVE, PROMPT_NUM_20, PROMPT_NUM_5, PROMPT_VM_NEW_MESSAGES, PROMPT_VM_AND,
		    PROMPT_NUM_1, PROMPT_NUM_100, PROMPT_VM_OLD_MESSAGES, PROMPT_VM_MAIN_MENU);
	stop(&h);
}

static void test_own_mailbox_without_pin_or_gone(void **state)
{
	(void)state;
	struct h h;
	/* No PIN: the phone's own SIP login is enough for *97. */
	start(&h, "1002");
	assert_non_null(find(&h, VM_ACT_LOGGED_IN));
	assert_non_null(find(&h, VM_ACT_LOAD_MESSAGES));
	assert_null(find(&h, VM_ACT_PLAY));
	expect_state(&h, "loading");
	stop(&h);

	/* A mailbox that no longer exists. */
	start(&h, "1009");
	expect_play(&h, PROMPT_VM_UNAVAILABLE, PROMPT_GOODBYE);
	played(&h);
	assert_true(vm_menu_done(h.m));
	stop(&h);

	struct vm_menu *m = NULL;
	struct vm_acts acts = { .n = 0 };
	struct vm_menu_cfg bad = { .mailbox = "10a1", .pin_of = pin_of };
	assert_int_equal(vm_menu_new(&m, &bad, &acts), EINVAL);
	bad.mailbox = "1001";
	bad.pin_of = NULL;
	assert_int_equal(vm_menu_new(&m, &bad, &acts), EINVAL);
	assert_null(m);
	assert_int_equal(acts.n, 0);
}

static void test_three_wrong_pins(void **state)
{
	(void)state;
	struct h h;
	start(&h, "1001");
	played(&h);
	keys(&h, "1111#");
	assert_int_equal(h.pin_failed, 1);
	expect_play(&h, PROMPT_WRONG_PIN, PROMPT_VM_ENTER_PIN);
	played(&h);
	keys(&h, "12345#"); /* right beginning, one digit too many */
	assert_int_equal(h.pin_failed, 2);
	assert_int_equal(h.blocked, 0);
	played(&h);
	keys(&h, "123#");
	assert_int_equal(h.pin_failed, 3);
	assert_int_equal(h.blocked, 1);
	expect_play(&h, PROMPT_WRONG_PIN, PROMPT_GOODBYE);
	expect_state(&h, "bye");
	/* Keys during goodbye change nothing; the right PIN is too late. */
	keys(&h, "1234#");
	assert_int_equal(h.acts.n, 0);
	played(&h);
	assert_non_null(find(&h, VM_ACT_HANGUP));
	assert_null(find(&h, VM_ACT_LOGGED_IN));
	stop(&h);
}

static void test_any_mailbox(void **state)
{
	(void)state;
	struct h h;
	start(&h, NULL);
	expect_state(&h, "ask_mailbox");
	expect_play(&h, PROMPT_VM_ENTER_MAILBOX);
	assert_int_equal(h.lookups, 0);
	played(&h);
	keys(&h, "1003#");
	assert_int_equal(h.lookups, 1);
	expect_play(&h, PROMPT_VM_ENTER_PIN);
	played(&h);
	keys(&h, "5678#");
	const struct vm_act *a = find(&h, VM_ACT_LOGGED_IN);
	assert_non_null(a);
	assert_string_equal(a->mailbox, "1003");
	assert_string_equal(find(&h, VM_ACT_LOAD_MESSAGES)->mailbox, "1003");
	stop(&h);

	/* A wrong PIN asks for the mailbox again; an unknown mailbox and a
	 * mailbox without a PIN are wrong PINs too (never opened by *98). */
	start(&h, "");
	played(&h);
	keys(&h, "1003#1111#");
	expect_play(&h, PROMPT_WRONG_PIN, PROMPT_VM_ENTER_MAILBOX);
	keys(&h, "9999#");
	expect_play(&h, PROMPT_VM_ENTER_PIN); /* no hint that 9999 does not exist */
	keys(&h, "1234#");
	assert_int_equal(h.pin_failed, 2);
	keys(&h, "1002#");
	keys(&h, "#");
	assert_int_equal(h.pin_failed, 3);
	assert_int_equal(h.blocked, 1);
	expect_play(&h, PROMPT_WRONG_PIN, PROMPT_GOODBYE);
	stop(&h);

	/* A mailbox number too long to be one, and # alone. */
	start(&h, NULL);
	keys(&h, "#");
	expect_play(&h, PROMPT_VM_ENTER_MAILBOX);
	keys(&h, "1234567890123456#");
	expect_state(&h, "ask_pin");
	keys(&h, "1234#");
	assert_int_equal(h.pin_failed, 1);
	stop(&h);
}

static void test_pin_entry_details(void **state)
{
	(void)state;
	struct h h;
	/* Typing over the prompt stops it; the digit timer ends the PIN. */
	start(&h, "1001");
	key(&h, '1');
	assert_non_null(find(&h, VM_ACT_STOP_PLAY));
	assert_int_equal(h.play_token, 0);
	assert_true(h.timer_armed);
	assert_int_equal(h.timer_ms, VM_MENU_DIGIT_TIMEOUT_MS);
	keys(&h, "234");
	fire(&h);
	assert_non_null(find(&h, VM_ACT_LOGGED_IN));
	stop(&h);

	/* * starts over. */
	start(&h, "1001");
	keys(&h, "99*1234#");
	assert_non_null(find(&h, VM_ACT_LOGGED_IN));
	assert_int_equal(h.pin_failed, 0);
	stop(&h);

	/* Far too many digits: wrong, without overrunning anything. */
	start(&h, "1001");
	keys(&h, "123412341234123412341234#");
	assert_int_equal(h.pin_failed, 1);
	stop(&h);

	/* A timer that was replaced does not count. */
	start(&h, "1001");
	key(&h, '1');
	uint32_t old = h.timer_token;
	key(&h, '2');
	send(&h, (struct vm_ev){ .kind = VM_EV_TIMEOUT, .token = old });
	assert_int_equal(h.acts.n, 0);
	expect_state(&h, "ask_pin");
	stop(&h);
}

static void test_silent_caller(void **state)
{
	(void)state;
	struct h h;
	start(&h, "1001");
	for (int i = 0; i < VM_MENU_TRIES - 1; i++) {
		played(&h);
		fire(&h);
		expect_play(&h, PROMPT_VM_ENTER_PIN);
	}
	played(&h);
	fire(&h);
	expect_play(&h, PROMPT_GOODBYE);
	assert_int_equal(h.pin_failed, 0); /* silence is not a wrong PIN */
	played(&h);
	assert_true(vm_menu_done(h.m));
	stop(&h);

	/* In the main menu, and a key in between starts the count again. */
	log_in_97(&h, three, 3);
	played(&h);
	fire(&h);
	expect_play(&h, PROMPT_VM_MAIN_MENU);
	played(&h);
	fire(&h);
	key(&h, '5');
	expect_play(&h, PROMPT_INVALID_OPTION, PROMPT_VM_MAIN_MENU);
	played(&h);
	fire(&h);
	played(&h);
	fire(&h);
	expect_state(&h, "main");
	played(&h);
	fire(&h);
	expect_play(&h, PROMPT_GOODBYE);
	/* Goodbye that never reports its end still hangs up. */
	fire(&h);
	assert_true(vm_menu_done(h.m));
	stop(&h);
}

static void test_loading_fails(void **state)
{
	(void)state;
	struct h h;
	start(&h, "1002");
	send(&h, (struct vm_ev){ .kind = VM_EV_MESSAGES, .result = EIO });
	expect_play(&h, PROMPT_VM_UNAVAILABLE, PROMPT_GOODBYE);
	stop(&h);

	start(&h, "1002");
	keys(&h, "1#"); /* keys while loading wait */
	assert_int_equal(h.acts.n, 0);
	assert_int_equal(h.timer_ms, VM_MENU_WAIT_MS);
	fire(&h);
	expect_play(&h, PROMPT_VM_UNAVAILABLE, PROMPT_GOODBYE);
	/* A list that comes too late is ignored. */
	messages(&h, three, 3);
	assert_int_equal(h.acts.n, 0);
	stop(&h);
}

/* ---- listening ---------------------------------------------------------------------------- */

static void test_listen_all_keys(void **state)
{
	(void)state;
	struct h h;
	log_in_97(&h, three, 3);
	key(&h, '1');
	expect_message(&h, 11);
	expect_state(&h, "msg_play");
	/* Keys that mean nothing during a message do not cut it short. */
	key(&h, '3');
	assert_int_equal(h.acts.n, 0);
	/* Heard to the end: a new message is saved, the message menu follows. */
	played(&h);
	const struct vm_act *save = find(&h, VM_ACT_SAVE);
	assert_non_null(save);
	assert_int_equal(save->msg_id, 11);
	expect_play(&h, PROMPT_VM_MESSAGE_MENU);
	key(&h, '3');
	expect_play(&h, PROMPT_INVALID_OPTION, PROMPT_VM_MESSAGE_MENU);
	/* # next. */
	key(&h, '#');
	expect_message(&h, 12);
	/* 7 during the message deletes it at once. */
	key(&h, '7');
	assert_non_null(find(&h, VM_ACT_STOP_PLAY));
	const struct vm_act *del = find(&h, VM_ACT_DELETE);
	assert_non_null(del);
	assert_int_equal(del->msg_id, 12);
	assert_string_equal(del->mailbox, "1001");
	assert_null(find(&h, VM_ACT_SAVE));
	expect_play(&h, PROMPT_VM_MSG_DELETED);
	key(&h, '9'); /* while the confirmation plays: nothing */
	assert_int_equal(h.acts.n, 0);
	played(&h);
	expect_message(&h, 13);
	/* * again: the same message with a new token; the old end is stale. */
	uint32_t first = h.play_token;
	key(&h, '*');
	expect_message(&h, 13);
	assert_true(h.play_token != first);
	send(&h, (struct vm_ev){ .kind = VM_EV_PLAY_DONE, .token = first });
	assert_int_equal(h.acts.n, 0);
	played(&h);
	assert_null(find(&h, VM_ACT_SAVE)); /* 13 was old already */
	/* 9 on an old message: said, nothing to write. */
	key(&h, '9');
	assert_null(find(&h, VM_ACT_SAVE));
	expect_play(&h, PROMPT_VM_MSG_SAVED);
	played(&h);
	expect_play(&h, PROMPT_VM_NO_MORE, PROMPT_VM_MAIN_MENU);
	expect_state(&h, "main");

	/* Once more from the top: the deleted one is skipped. */
	key(&h, '1');
	expect_message(&h, 11);
	key(&h, '#');
	expect_message(&h, 13);
	key(&h, '#');
	expect_play(&h, PROMPT_VM_NO_MORE, PROMPT_VM_MAIN_MENU);
	stop(&h);
}

static void test_save_skip_and_repeat_after(void **state)
{
	(void)state;
	struct h h;
	struct vm_menu_msg two_new[] = { { 21, true }, { 22, true } };
	log_in_97(&h, two_new, 2);
	key(&h, '1');
	/* # before the end: skipped, stays new. */
	key(&h, '#');
	assert_null(find(&h, VM_ACT_SAVE));
	expect_message(&h, 22);
	/* 9 during the message saves it, once. */
	key(&h, '9');
	const struct vm_act *save = find(&h, VM_ACT_SAVE);
	assert_non_null(save);
	assert_int_equal(save->msg_id, 22);
	played(&h);
	expect_play(&h, PROMPT_VM_NO_MORE, PROMPT_VM_MAIN_MENU);
	key(&h, '1');
	expect_message(&h, 21);
	/* A message that cannot be played is not saved as heard. */
	play_failed(&h, EBADMSG);
	assert_null(find(&h, VM_ACT_SAVE));
	expect_play(&h, PROMPT_VM_MESSAGE_MENU);
	/* * after the message: again. */
	key(&h, '*');
	expect_message(&h, 21);
	played(&h);
	assert_non_null(find(&h, VM_ACT_SAVE));
	/* 7 from the message menu. */
	key(&h, '7');
	assert_int_equal(find(&h, VM_ACT_DELETE)->msg_id, 21);
	played(&h);
	expect_message(&h, 22);
	key(&h, '7');
	played(&h);
	expect_play(&h, PROMPT_VM_NO_MORE, PROMPT_VM_MAIN_MENU);
	/* Everything deleted. */
	key(&h, '1');
	expect_play(&h, PROMPT_VM_NO_MESSAGES, PROMPT_VM_MAIN_MENU);
	/* The message menu times out like the others. */
	stop(&h);

	log_in_97(&h, two_new, 2);
	key(&h, '1');
	played(&h);
	for (int i = 0; i < VM_MENU_TRIES - 1; i++) {
		played(&h);
		fire(&h);
		expect_play(&h, PROMPT_VM_MESSAGE_MENU);
	}
	played(&h);
	fire(&h);
	expect_play(&h, PROMPT_GOODBYE);
	stop(&h);
}

/* ---- options -------------------------------------------------------------------------------- */

static void to_options(struct h *h)
{
	log_in_97(h, NULL, 0);
	key(h, '0');
	expect_play(h, PROMPT_VM_OPTIONS_MENU);
	expect_state(h, "options");
}

static void test_record_greetings(void **state)
{
	(void)state;
	struct h h;
	to_options(&h);
	key(&h, '1');
	expect_play(&h, PROMPT_VM_RECORD_GREETING, PROMPT_BEEP);
	key(&h, '#'); /* too early: the prompt plays on */
	assert_int_equal(h.acts.n, 0);
	played(&h);
	const struct vm_act *rec = find(&h, VM_ACT_RECORD);
	assert_non_null(rec);
	assert_int_equal(rec->greeting, DB_VM_GREETING_UNAVAIL);
	assert_int_equal(rec->ms, VM_MENU_GREETING_MS);
	assert_string_equal(rec->mailbox, "1001");
	expect_state(&h, "recording");
	key(&h, '5'); /* ignored while recording */
	assert_int_equal(h.acts.n, 0);
	key(&h, '#');
	assert_non_null(find(&h, VM_ACT_STOP_RECORD));
	expect_state(&h, "rec_stopping");
	recorded(&h, 0);
	expect_play(&h, PROMPT_VM_RECORDED, PROMPT_VM_OPTIONS_MENU);

	/* Busy greeting, ended by the engine (too short). */
	key(&h, '2');
	played(&h);
	assert_int_equal(find(&h, VM_ACT_RECORD)->greeting, DB_VM_GREETING_BUSY);
	recorded(&h, ENODATA);
	expect_play(&h, PROMPT_VM_RECORD_FAILED, PROMPT_VM_OPTIONS_MENU);

	/* The name, failing on a full disk. */
	key(&h, '3');
	expect_play(&h, PROMPT_VM_RECORD_NAME, PROMPT_BEEP);
	played(&h);
	assert_int_equal(find(&h, VM_ACT_RECORD)->greeting, DB_VM_GREETING_NAME);
	recorded(&h, ENOSPC);
	expect_play(&h, PROMPT_VM_RECORD_FAILED, PROMPT_VM_OPTIONS_MENU);

	/* * during the prompt: back without recording. */
	key(&h, '1');
	key(&h, '*');
	assert_null(find(&h, VM_ACT_RECORD));
	expect_play(&h, PROMPT_VM_OPTIONS_MENU);

	/* A recording that never reports: stopped and called failed; its
	 * late end is ignored. */
	key(&h, '2');
	played(&h);
	assert_int_equal(h.timer_ms, VM_MENU_GREETING_MS + VM_MENU_WAIT_MS);
	uint32_t rt = h.rec_token;
	fire(&h);
	assert_non_null(find(&h, VM_ACT_STOP_RECORD));
	expect_play(&h, PROMPT_VM_RECORD_FAILED, PROMPT_VM_OPTIONS_MENU);
	send(&h, (struct vm_ev){ .kind = VM_EV_RECORD_DONE, .token = rt });
	assert_int_equal(h.acts.n, 0);

	/* # pressed but the end never comes. */
	key(&h, '1');
	played(&h);
	key(&h, '#');
	fire(&h);
	assert_null(find(&h, VM_ACT_STOP_RECORD)); /* asked for already */
	expect_play(&h, PROMPT_VM_RECORD_FAILED, PROMPT_VM_OPTIONS_MENU);

	/* Unknown option, then back to the main menu. */
	key(&h, '8');
	expect_play(&h, PROMPT_INVALID_OPTION, PROMPT_VM_OPTIONS_MENU);
	key(&h, '*');
	expect_play(&h, PROMPT_VM_MAIN_MENU);
	stop(&h);
}

static void test_change_pin(void **state)
{
	(void)state;
	struct h h;
	to_options(&h);
	key(&h, '4');
	expect_play(&h, PROMPT_VM_NEW_PIN);
	keys(&h, "12#");
	expect_play(&h, PROMPT_VM_PIN_INVALID, PROMPT_VM_NEW_PIN);
	keys(&h, "4321#");
	expect_play(&h, PROMPT_VM_NEW_PIN_AGAIN);
	keys(&h, "4322#");
	expect_play(&h, PROMPT_VM_PIN_MISMATCH, PROMPT_VM_NEW_PIN);
	keys(&h, "4321#");
	keys(&h, "4321#");
	const struct vm_act *a = find(&h, VM_ACT_SET_PIN);
	assert_non_null(a);
	assert_string_equal(a->pin, "4321");
	assert_string_equal(a->mailbox, "1001");
	expect_play(&h, PROMPT_VM_PIN_CHANGED, PROMPT_VM_OPTIONS_MENU);
	expect_state(&h, "options");

	/* Three bad tries give up; * cancels; the digit timer ends it too. */
	key(&h, '4');
	keys(&h, "1#");
	keys(&h, "1234567890123#");
	keys(&h, "5#");
	assert_null(find(&h, VM_ACT_SET_PIN));
	expect_play(&h, PROMPT_VM_PIN_INVALID, PROMPT_VM_OPTIONS_MENU);
	key(&h, '4');
	keys(&h, "55");
	key(&h, '*');
	expect_play(&h, PROMPT_VM_OPTIONS_MENU);
	key(&h, '4');
	keys(&h, "246810");
	fire(&h);
	expect_play(&h, PROMPT_VM_NEW_PIN_AGAIN);
	keys(&h, "2468*");
	expect_play(&h, PROMPT_VM_OPTIONS_MENU);
	key(&h, '4');
	keys(&h, "246810#");
	keys(&h, "246810");
	fire(&h);
	assert_string_equal(find(&h, VM_ACT_SET_PIN)->pin, "246810");
	stop(&h);
}

/* ---- random walk ------------------------------------------------------------------------------ */

/* Any sequence of events, stale or not: the rules hold and it ends. */
static void test_random_walk(void **state)
{
	(void)state;
	uint32_t seed = 0x9e3779b9u;
	static const char keyset[] = "0123456789*#";
	struct vm_menu_msg list[40];
	for (int i = 0; i < 40; i++)
		list[i] = (struct vm_menu_msg){ 1000 + i, i % 3 != 0 };
	unsigned ended = 0;
	for (int run = 0; run < 300; run++) {
		struct h h;
		start(&h, run % 4 == 0 ? NULL : run % 4 == 1 ? "1002" : "1001");
		for (int step = 0; step < 400 && !vm_menu_done(h.m); step++) {
			seed = seed * 1664525u + 1013904223u;
			unsigned r = seed >> 24;
			switch (r % 7) {
			case 0:
			case 1:
				key(&h, keyset[(seed >> 8) % 12]);
				break;
			case 2:
				if (h.play_token)
					played(&h);
				break;
			case 3:
				if (h.timer_armed)
					fire(&h);
				break;
			case 4:
				messages(&h, list, (seed >> 4) % 41);
				break;
			case 5:
				if (h.rec_token)
					send(&h, (struct vm_ev){ .kind = VM_EV_RECORD_DONE, .token = h.rec_token,
								 .result = (int)(seed % 2) });
				break;
			default:
				/* A stale or made-up token. */
				send(&h, (struct vm_ev){ .kind = (enum vm_ev_kind)((seed >> 3) % 5),
							 .token = (seed >> 9) % 5, .digit = 'x' });
				break;
			}
			if (h.blocked)
				assert_int_equal(h.pin_failed, VM_MENU_TRIES);
		}
		ended += vm_menu_done(h.m);
		stop(&h);
	}
	assert_true(ended > 0);
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	log_set_level(LOG_ERR);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_own_mailbox_pin),
		UNIT_TEST(test_summary_words),
		UNIT_TEST(test_own_mailbox_without_pin_or_gone),
		UNIT_TEST(test_three_wrong_pins),
		UNIT_TEST(test_any_mailbox),
		UNIT_TEST(test_pin_entry_details),
		UNIT_TEST(test_silent_caller),
		UNIT_TEST(test_loading_fails),
		UNIT_TEST(test_listen_all_keys),
		UNIT_TEST(test_save_skip_and_repeat_after),
		UNIT_TEST(test_record_greetings),
		UNIT_TEST(test_change_pin),
		UNIT_TEST(test_random_walk),
	};
	return cmocka_run_group_tests_name("vm_menu", tests, NULL, NULL);
}
