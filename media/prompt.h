/*
 * prompt.h: the spoken prompts of voicemail and the conference bridge, and
 * a player that hands them out one 20 ms frame per tick.
 *
 * Prompts are generated at build time from prompts/NAME.txt by
 * prompts/build.sh into NAME.wav (8 kHz mono S16, the codec-neutral format:
 * each leg's encoder takes it from there). prompt_table_load reads them all
 * into memory once, at start-up, on any thread; afterwards the table is
 * read-only and shared by every media thread without locks. The beep is not
 * speech: it is synthesised here.
 *
 * A prompt_seq is a short list of prompt ids, the unit the core asks the
 * media engine to play (copied by value through the command queue); the
 * number helpers compose "you have" + "twelve" + "new messages" from word
 * prompts. A prompt_player lives inside a media leg, owned by its media
 * thread; it allocates nothing and only points at PCM that outlives it (the
 * table's, or a caller's buffer such as a decoded message).
 */
#ifndef PBX_PROMPT_H
#define PBX_PROMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROMPT_RATE 8000
#define PROMPT_FRAME 160             /* samples: 20 ms at PROMPT_RATE */
#define PROMPT_FILE_MAX (4u << 20)   /* bytes of one prompt file (about 4 minutes) */

/* X(id, file name) for every prompt; the file is prompts/<name>.txt. */
#define PROMPT_LIST(X)                                                                  \
	X(BEEP, "beep") /* synthesised: 1 kHz, 250 ms, no file */                       \
	X(NUM_0, "num_0") X(NUM_1, "num_1") X(NUM_2, "num_2") X(NUM_3, "num_3")         \
	X(NUM_4, "num_4") X(NUM_5, "num_5") X(NUM_6, "num_6") X(NUM_7, "num_7")         \
	X(NUM_8, "num_8") X(NUM_9, "num_9") X(NUM_10, "num_10") X(NUM_11, "num_11")     \
	X(NUM_12, "num_12") X(NUM_13, "num_13") X(NUM_14, "num_14") X(NUM_15, "num_15") \
	X(NUM_16, "num_16") X(NUM_17, "num_17") X(NUM_18, "num_18") X(NUM_19, "num_19") \
	X(NUM_20, "num_20") X(NUM_30, "num_30") X(NUM_40, "num_40") X(NUM_50, "num_50") \
	X(NUM_60, "num_60") X(NUM_70, "num_70") X(NUM_80, "num_80") X(NUM_90, "num_90") \
	X(NUM_100, "num_100") X(NUM_1000, "num_1000")                                   \
	X(GOODBYE, "goodbye")                                                           \
	X(WRONG_PIN, "wrong_pin")                                                       \
	X(INVALID_OPTION, "invalid_option")                                             \
	X(CONF_ENTER_PIN, "conf_enter_pin")                                             \
	X(CONF_ONLY_ONE, "conf_only_one")                                               \
	X(CONF_JOINED, "conf_joined")                                                   \
	X(CONF_LEFT, "conf_left")                                                       \
	X(CONF_MUTED, "conf_muted")                                                     \
	X(CONF_UNMUTED, "conf_unmuted")                                                 \
	X(CONF_LOCKED, "conf_locked")             /* refused: the room is locked */     \
	X(CONF_NOW_LOCKED, "conf_now_locked")     /* the moderator locked it */         \
	X(CONF_NOW_UNLOCKED, "conf_now_unlocked")                                       \
	X(CONF_FULL, "conf_full")                                                       \
	X(CONF_WAIT_MODERATOR, "conf_wait_moderator")                                   \
	X(CONF_ALL_MUTED, "conf_all_muted")                                             \
	X(CONF_KICKED, "conf_kicked")                                                   \
	X(CONF_THERE_ARE, "conf_there_are")       /* "there are" N "participants" */    \
	X(CONF_PARTICIPANTS, "conf_participants")                                       \
	X(VM_LEAVE_MESSAGE, "vm_leave_message")                                         \
	X(VM_PERSON_AT_EXT, "vm_person_at_ext")   /* + digits + not available/busy */   \
	X(VM_NOT_AVAILABLE, "vm_not_available")                                         \
	X(VM_IS_BUSY, "vm_is_busy")                                                     \
	X(VM_UNAVAILABLE, "vm_unavailable")       /* the mailbox cannot record now */   \
	X(VM_FULL, "vm_full")                                                           \
	X(VM_ENTER_MAILBOX, "vm_enter_mailbox")                                         \
	X(VM_ENTER_PIN, "vm_enter_pin")                                                 \
	X(VM_YOU_HAVE, "vm_you_have")                                                   \
	X(VM_NEW_MESSAGE, "vm_new_message")                                             \
	X(VM_NEW_MESSAGES, "vm_new_messages")                                           \
	X(VM_OLD_MESSAGE, "vm_old_message")                                             \
	X(VM_OLD_MESSAGES, "vm_old_messages")                                           \
	X(VM_AND, "vm_and")                                                             \
	X(VM_NO_MESSAGES, "vm_no_messages")                                             \
	X(VM_MAIN_MENU, "vm_main_menu")                                                 \
	X(VM_MESSAGE_MENU, "vm_message_menu")                                           \
	X(VM_MSG_DELETED, "vm_msg_deleted")                                             \
	X(VM_MSG_SAVED, "vm_msg_saved")                                                 \
	X(VM_NO_MORE, "vm_no_more")                                                     \
	X(VM_OPTIONS_MENU, "vm_options_menu")                                           \
	X(VM_RECORD_GREETING, "vm_record_greeting")                                     \
	X(VM_RECORD_NAME, "vm_record_name")                                             \
	X(VM_RECORDED, "vm_recorded")                                                   \
	X(VM_RECORD_FAILED, "vm_record_failed")                                         \
	X(VM_NEW_PIN, "vm_new_pin")                                                     \
	X(VM_NEW_PIN_AGAIN, "vm_new_pin_again")                                         \
	X(VM_PIN_MISMATCH, "vm_pin_mismatch")                                           \
	X(VM_PIN_INVALID, "vm_pin_invalid")                                             \
	X(VM_PIN_CHANGED, "vm_pin_changed")

#define PROMPT_ENUM_(id, name) PROMPT_##id,
enum prompt_id { PROMPT_LIST(PROMPT_ENUM_) PROMPT_COUNT };
#undef PROMPT_ENUM_

/* The file name without ".wav"/".txt"; NULL out of range. */
const char *prompt_name(enum prompt_id id);

/* PCM of one prompt: 8 kHz mono, host-order S16. */
struct prompt_pcm {
	const int16_t *samples; /* owned by the table (or the caller's buffer) */
	size_t n;               /* samples; 0 for a prompt that failed to load */
};

struct prompt_table;

/*
 * Load dir/<name>.wav for every prompt (PROMPT_RATE mono 16-bit PCM, at
 * most PROMPT_FILE_MAX bytes) and synthesise the beep. A file that is
 * missing or not in that format is logged and left silent (n = 0) rather
 * than keeping the PBX from starting; *missing (may be NULL) counts them.
 * Returns 0, EINVAL or ENOMEM (nothing is kept then).
 */
int prompt_table_load(const char *dir, struct prompt_table **out, unsigned *missing);
void prompt_table_free(struct prompt_table *t);
/* Valid while the table lives; {NULL, 0} for an id out of range. */
struct prompt_pcm prompt_get(const struct prompt_table *t, enum prompt_id id);
/* Milliseconds of one prompt, for timeouts that start after it. */
unsigned prompt_ms(const struct prompt_table *t, enum prompt_id id);

/* ---- sequences ------------------------------------------------------------------ */

#define PROMPT_SEQ_MAX 24

struct prompt_seq {
	uint8_t n;                    /* ids in use */
	uint8_t id[PROMPT_SEQ_MAX];   /* enum prompt_id values, in playing order */
};
_Static_assert(PROMPT_COUNT <= 256, "prompt ids fit a byte");

/* Each returns 0, EINVAL (bad argument) or ENOSPC (the sequence is full);
 * on error the sequence is as it was. */
int prompt_seq_add(struct prompt_seq *s, enum prompt_id id);
/* Digits spoken one by one ("1001": one zero zero one); 1..15 digits. */
int prompt_seq_add_digits(struct prompt_seq *s, const char *digits);
/* A count in words, 0..9999 ("two thousand three hundred forty five"). */
int prompt_seq_add_number(struct prompt_seq *s, unsigned n);

/* ---- player ---------------------------------------------------------------------- */

#define PROMPT_PLAYER_ITEMS 32

/* Embed it; the fields are private (use the functions). */
struct prompt_player {
	struct prompt_pcm item[PROMPT_PLAYER_ITEMS]; /* samples NULL: n samples of silence */
	unsigned n;                                  /* items queued */
	unsigned cur;                                /* item playing */
	size_t pos;                                  /* next sample within it */
};

/* Empty (also: stop and forget everything queued). */
void prompt_player_init(struct prompt_player *p);
/* Queue after what is queued. ENOSPC when the items do not fit (nothing
 * queued then), EINVAL for an id out of range. Prompts that failed to load
 * are skipped. */
int prompt_player_add_seq(struct prompt_player *p, const struct prompt_table *t, const struct prompt_seq *s);
/* Someone else's PCM (a decoded message or greeting, 8 kHz): it must stay
 * valid and unchanged until the player is done with it or re-initialised. */
int prompt_player_add_pcm(struct prompt_player *p, const int16_t *pcm, size_t n);
int prompt_player_add_silence(struct prompt_player *p, unsigned ms);
/* One tick: the next PROMPT_FRAME samples into out. Items follow each other
 * without a gap; the last frame is padded with silence. Returns true when
 * out holds audio of the queue, false when the queue had ended (out is
 * silence then). */
bool prompt_player_next(struct prompt_player *p, int16_t out[PROMPT_FRAME]);
bool prompt_player_done(const struct prompt_player *p);

#endif
