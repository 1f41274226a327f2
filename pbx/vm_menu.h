/*
 * vm_menu.h: the voicemail menu a caller drives with DTMF (*97 own mailbox,
 * *98 any mailbox), as a state machine with no I/O of its own.
 *
 * The core feeds it events (a digit, a playback or recording that ended, a
 * timer that fired, the message list it asked for) and carries out the
 * actions it hands back, in order: play prompts or a stored message, arm the
 * one timer, load the message list, record a greeting, save or delete a
 * message, change the PIN, count a failed PIN against the caller's source,
 * hang up. Nothing here blocks or touches SQLite, files or sockets, so every
 * path is driven by tests/unit/t_vm_menu.c.
 *
 * Tokens: each PLAY, PLAY_MESSAGE, TIMER and RECORD action carries a fresh
 * token; the event that reports its end must carry it back. A playback that
 * was replaced or stopped must not be reported, but if its end raced with
 * the replacement, the stale token is simply ignored. A new PLAY or
 * PLAY_MESSAGE replaces whatever is playing; a new TIMER replaces the armed
 * one (ms 0 only cancels it).
 *
 * Rules it keeps:
 * - Three wrong PINs (an unknown mailbox is just a wrong PIN, so numbers
 *   cannot be probed): each one is VM_ACT_PIN_FAILED, the third also
 *   VM_ACT_BLOCK_SOURCE, then goodbye and hang-up.
 * - *97 on a mailbox without a PIN lets the caller in (the phone already
 *   authenticated as that extension); *98 never opens a mailbox without one.
 * - 1 listens to new messages then old ones, oldest first (the order of the
 *   list given). During or after a message: 7 deletes, 9 saves (to old), #
 *   goes to the next, * plays it again. A new message heard to its end is
 *   saved to old (VM_ACT_SAVE) as the caller leaves it heard.
 * - 0 opens the options: 1/2/3 record the unavailable/busy greeting or the
 *   name (prompt, beep, record until # or the engine ends it), 4 changes
 *   the PIN (entered twice, 4..12 digits), * goes back.
 * - Three silent timeouts in a row end the call with goodbye.
 *
 * One menu per call, owned by the core thread.
 */
#ifndef PBX_VM_MENU_H
#define PBX_VM_MENU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "prompt.h"

#define VM_MENU_TRIES 3               /* wrong PINs, silent timeouts, bad new PINs */
#define VM_MENU_MSGS_MAX DB_VM_MESSAGES_MAX
#define VM_MENU_INPUT_TIMEOUT_MS 8000 /* after a prompt, for the first digit */
#define VM_MENU_DIGIT_TIMEOUT_MS 4000 /* between the digits of a number or PIN */
#define VM_MENU_GREETING_MS 60000     /* longest greeting recorded */
#define VM_MENU_WAIT_MS 15000         /* for the message list, a recording's end, goodbye */

/* One message of the list the core loads (db_vm_msg_list, DB_VM_ANY). */
struct vm_menu_msg {
	int64_t id;
	bool is_new; /* folder new */
};

enum vm_ev_kind {
	VM_EV_DIGIT,       /* digit: '0'..'9', '*', '#' */
	VM_EV_PLAY_DONE,   /* token of the PLAY or PLAY_MESSAGE that played to its end;
			    * result: 0, or an errno when a message could not be played */
	VM_EV_TIMEOUT,     /* token of the TIMER that fired */
	VM_EV_MESSAGES,    /* the list VM_ACT_LOAD_MESSAGES asked for (copied); result
			    * non-zero when it could not be loaded */
	VM_EV_RECORD_DONE, /* token of the RECORD; result: 0 stored, ENODATA too
			    * short, another errno when it failed */
};

struct vm_ev {
	enum vm_ev_kind kind;
	char digit;
	uint32_t token;
	int result;
	const struct vm_menu_msg *msgs; /* VM_EV_MESSAGES: new first, then old */
	size_t n_msgs;
};

enum vm_act_kind {
	VM_ACT_PLAY,          /* seq; token */
	VM_ACT_PLAY_MESSAGE,  /* msg_id of mailbox; token */
	VM_ACT_STOP_PLAY,     /* stop what plays (a digit cut it short); no PLAY_DONE */
	VM_ACT_TIMER,         /* ms (0 = cancel); token */
	VM_ACT_LOAD_MESSAGES, /* mailbox: answer with VM_EV_MESSAGES */
	VM_ACT_RECORD,        /* greeting of mailbox, at most ms; token */
	VM_ACT_STOP_RECORD,   /* end the recording now and keep it (the caller pressed #) */
	VM_ACT_DELETE,        /* msg_id of mailbox (db_vm_msg_del, then the file) */
	VM_ACT_SAVE,          /* msg_id of mailbox to old (db_vm_msg_move_old) */
	VM_ACT_SET_PIN,       /* pin of mailbox (db_vm_set_pin) */
	VM_ACT_LOGGED_IN,     /* mailbox: the PIN was right (for the log) */
	VM_ACT_PIN_FAILED,    /* count one failure against the caller's source */
	VM_ACT_BLOCK_SOURCE,  /* the third failure: refuse the source for a while */
	VM_ACT_HANGUP,
};

struct vm_act {
	enum vm_act_kind kind;
	uint32_t token;
	uint32_t ms;
	int64_t msg_id;
	enum db_vm_greeting greeting;
	struct prompt_seq seq;
	char mailbox[DB_NUMBER_MAX + 1];
	char pin[DB_PIN_MAX + 1];
};

#define VM_ACTS_MAX 8

/* The actions of one call, in order; the caller empties it (n = 0) first. */
struct vm_acts {
	struct vm_act a[VM_ACTS_MAX];
	unsigned n;
};

struct vm_menu_cfg {
	/* *97: the caller's own mailbox; NULL or "": *98, ask for the number. */
	const char *mailbox;
	/* The PIN of a mailbox (from the config snapshot): false when there is
	 * no such mailbox. Called during vm_menu_new and vm_menu_event only. */
	bool (*pin_of)(void *ctx, const char *mailbox, char pin[DB_PIN_MAX + 1]);
	void *ctx;
	/* 0 = the defaults above. */
	uint32_t input_timeout_ms;
	uint32_t digit_timeout_ms;
	uint32_t greeting_ms;
};

struct vm_menu;

/* Start: the first actions go into acts. EINVAL (no pin_of, a mailbox that
 * is not digits), ENOMEM. */
int vm_menu_new(struct vm_menu **out, const struct vm_menu_cfg *cfg, struct vm_acts *acts);
void vm_menu_free(struct vm_menu *m);
/* One event in, its actions appended to acts. Events that make no sense in
 * the current state, or carry a stale token, are ignored. */
void vm_menu_event(struct vm_menu *m, const struct vm_ev *ev, struct vm_acts *acts);
/* After VM_ACT_HANGUP: nothing more will happen. */
bool vm_menu_done(const struct vm_menu *m);
/* The state's name, for logs and tests ("ask_pin", "main", ...). */
const char *vm_menu_state(const struct vm_menu *m);

#endif
