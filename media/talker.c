/*
 * talker.c: talker detection by frame energy with hysteresis (see
 * talker.h for the states and why there are two answers).
 *
 * Every transition goes through enter(), so the state machine reads in one
 * place; talker_update only decides which one.
 */
#include "talker.h"

#include <errno.h>
#include <math.h>

#define TALKER_DEF_ON (-40.0f)
#define TALKER_DEF_OFF (-50.0f)
#define TALKER_DEF_ATTACK 3
#define TALKER_DEF_RELEASE 25
#define FULL_SCALE_SINE_MS (32767.0 * 32767.0 / 2) /* mean square of 0 dBFS */

int talker_init(struct talker *t, const struct talker_cfg *cfg)
{
	if (!t)
		return EINVAL;
	struct talker_cfg c = { 0 };
	if (cfg)
		c = *cfg;
	if (c.on_dbfs == 0)
		c.on_dbfs = TALKER_DEF_ON;
	if (c.off_dbfs == 0)
		c.off_dbfs = c.on_dbfs < TALKER_DEF_OFF ? c.on_dbfs : TALKER_DEF_OFF;
	if (!c.attack)
		c.attack = TALKER_DEF_ATTACK;
	if (!c.release)
		c.release = TALKER_DEF_RELEASE;
	if (!(c.off_dbfs <= c.on_dbfs) || c.attack > TALKER_MAX_FRAMES ||
	    c.release > TALKER_MAX_FRAMES)
		return EINVAL;
	t->cfg = c;
	talker_reset(t);
	return 0;
}

void talker_reset(struct talker *t)
{
	t->state = TALKER_QUIET;
	t->count = 0;
	t->level = TALKER_FLOOR_DBFS;
}

static void enter(struct talker *t, enum talker_state s)
{
	t->state = s;
	t->count = 0;
}

enum talker_state talker_update(struct talker *t, float dbfs)
{
	bool speech = dbfs >= t->cfg.on_dbfs;
	bool silence = dbfs < t->cfg.off_dbfs;
	t->level = dbfs;
	switch (t->state) {
	case TALKER_QUIET:
		if (speech) {
			enter(t, TALKER_ONSET);
			if (++t->count >= t->cfg.attack)
				enter(t, TALKER_SPEAKING);
		}
		break;
	case TALKER_ONSET:
		/* a start must hold above on: between the thresholds is not
		 * speech yet, so a burst of noise is let go at once */
		if (!speech)
			enter(t, TALKER_QUIET);
		else if (++t->count >= t->cfg.attack)
			enter(t, TALKER_SPEAKING);
		break;
	case TALKER_SPEAKING:
		if (silence) {
			enter(t, TALKER_HANGOVER);
			if (++t->count >= t->cfg.release)
				enter(t, TALKER_QUIET);
		}
		break;
	case TALKER_HANGOVER:
		if (!silence)
			enter(t, TALKER_SPEAKING);
		else if (++t->count >= t->cfg.release)
			enter(t, TALKER_QUIET);
		break;
	}
	return t->state;
}

float talker_dbfs(const int16_t *pcm, size_t n)
{
	if (!pcm || n == 0)
		return TALKER_FLOOR_DBFS;
	/* 2^30 per sample: an int64 holds 2^33 samples of full scale */
	int64_t e = 0;
	for (size_t i = 0; i < n; i++)
		e += (int32_t)pcm[i] * pcm[i];
	if (e == 0)
		return TALKER_FLOOR_DBFS;
	double db = 10 * log10((double)e / (double)n / FULL_SCALE_SINE_MS);
	return db < TALKER_FLOOR_DBFS ? TALKER_FLOOR_DBFS : (float)db;
}

const char *talker_state_name(enum talker_state s)
{
	switch (s) {
	case TALKER_QUIET:
		return "quiet";
	case TALKER_ONSET:
		return "onset";
	case TALKER_SPEAKING:
		return "speaking";
	case TALKER_HANGOVER:
		return "hangover";
	}
	return "?";
}
