/*
 * talker.h: talker detection for the conference mixer: from the energy of
 * a participant's 20 ms frames, is it talking, with hysteresis.
 *
 * Two thresholds: a frame at or above on_dbfs is speech, one below off_dbfs
 * (lower) is silence, one between changes nothing. Two answers, because the
 * mixer and the people watching the room need different ones:
 *   - voiced (talker_voiced): mix this participant now. True from the
 *     first frame of speech, so no syllable is cut; a start that does not
 *     last `attack` frames is dropped at its first frame below on_dbfs.
 *   - speaking (talker_speaking): tell the room. True after `attack` frames
 *     of speech in a row; false again after `release` frames of silence in
 *     a row (the pauses between words stay inside the talkspurt).
 *
 *   QUIET --(e >= on)--> ONSET --(attack frames >= on)--> SPEAKING
 *   ONSET --(e < on)--> QUIET
 *   SPEAKING --(e < off)--> HANGOVER --(e >= off)--> SPEAKING
 *   HANGOVER --(release frames < off in a row)--> QUIET
 *
 * Levels are dBFS with a full-scale sine at 0 dBFS (AES17), so a square wave
 * at full scale is +3 dBFS and digital silence is TALKER_FLOOR_DBFS.
 * Pure and allocation-free; one struct per participant, owned by the
 * thread that runs its mixer.
 */
#ifndef PBX_TALKER_H
#define PBX_TALKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TALKER_FLOOR_DBFS (-100.0f) /* what silence measures */
#define TALKER_MAX_FRAMES 1000      /* attack and release are at most this */

/* Zero fields take the default in brackets (so {0} is the default). */
struct talker_cfg {
	float on_dbfs;     /* speech at or above this [-40]; 0 is not a usable threshold */
	float off_dbfs;    /* silence below this [-50]; at most on_dbfs */
	unsigned attack;   /* frames of speech in a row before speaking [3: 60 ms] */
	unsigned release;  /* frames of silence in a row before quiet [25: 500 ms] */
};

enum talker_state {
	TALKER_QUIET,    /* not mixed, not speaking */
	TALKER_ONSET,    /* speech began: mixed, not yet reported */
	TALKER_SPEAKING, /* mixed and reported */
	TALKER_HANGOVER, /* a pause: still mixed and reported, release counting */
};

struct talker {
	struct talker_cfg cfg;  /* with the defaults filled in */
	enum talker_state state;
	unsigned count;         /* ONSET: frames of speech; HANGOVER: frames of silence */
	float level;            /* dBFS of the last frame */
};

/* 0, or EINVAL when off is above on or attack/release exceed
 * TALKER_MAX_FRAMES. The detector starts QUIET. */
int talker_init(struct talker *t, const struct talker_cfg *cfg);

/* Back to QUIET (a muted participant, a new stream). */
void talker_reset(struct talker *t);

/* One frame's level in; the new state out. */
enum talker_state talker_update(struct talker *t, float dbfs);

static inline bool talker_voiced(const struct talker *t)
{
	return t->state != TALKER_QUIET;
}

static inline bool talker_speaking(const struct talker *t)
{
	return t->state == TALKER_SPEAKING || t->state == TALKER_HANGOVER;
}

/* Mean-square level of n samples in dBFS (see above), at least
 * TALKER_FLOOR_DBFS; n == 0 gives the floor. */
float talker_dbfs(const int16_t *pcm, size_t n);

const char *talker_state_name(enum talker_state s);

#endif
