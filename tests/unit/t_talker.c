/*
 * t_talker.c: the talker detector's state machine on synthetic level
 * sequences (onset, attack, a burst too short to count, the band between
 * the thresholds, hangover and release, one-frame attack and release) and
 * the level measure on sines, a square wave and silence.
 */
#include <errno.h>
#include <math.h>

#include "talker.h"
#include "unit.h"

#define TWO_PI 6.283185307179586

static const struct talker_cfg cfg4 = {
	.on_dbfs = -30, .off_dbfs = -45, .attack = 4, .release = 10,
};

/* Feed n frames at level db; returns the state after the last. */
static enum talker_state feed(struct talker *t, float db, unsigned n)
{
	enum talker_state s = t->state;
	for (unsigned i = 0; i < n; i++)
		s = talker_update(t, db);
	return s;
}

static void test_defaults_and_bad_cfg(void **state)
{
	(void)state;
	struct talker t;
	assert_int_equal(talker_init(&t, NULL), 0);
	assert_true(t.cfg.on_dbfs < 0 && t.cfg.off_dbfs < t.cfg.on_dbfs);
	assert_true(t.cfg.attack >= 1 && t.cfg.release > t.cfg.attack);
	assert_int_equal(t.state, TALKER_QUIET);
	assert_false(talker_voiced(&t));
	assert_false(talker_speaking(&t));

	struct talker_cfg c = { .on_dbfs = -50, .off_dbfs = -40 };
	assert_int_equal(talker_init(&t, &c), EINVAL);
	c = (struct talker_cfg){ .attack = TALKER_MAX_FRAMES + 1 };
	assert_int_equal(talker_init(&t, &c), EINVAL);
	c = (struct talker_cfg){ .release = TALKER_MAX_FRAMES + 1 };
	assert_int_equal(talker_init(&t, &c), EINVAL);
	assert_int_equal(talker_init(NULL, NULL), EINVAL);
	/* only on given: off follows it down when it is below the default off */
	c = (struct talker_cfg){ .on_dbfs = -70 };
	assert_int_equal(talker_init(&t, &c), 0);
	assert_true(t.cfg.off_dbfs <= -70);
}

static void test_attack(void **state)
{
	(void)state;
	struct talker t;
	assert_int_equal(talker_init(&t, &cfg4), 0);
	/* speech: voiced at once, reported after four frames in a row */
	assert_int_equal(talker_update(&t, -20), TALKER_ONSET);
	assert_true(talker_voiced(&t));
	assert_false(talker_speaking(&t));
	assert_int_equal(feed(&t, -20, 2), TALKER_ONSET);
	assert_int_equal(talker_update(&t, -20), TALKER_SPEAKING);
	assert_true(talker_speaking(&t));
	/* exactly on the threshold counts as speech */
	assert_int_equal(talker_init(&t, &cfg4), 0);
	assert_int_equal(feed(&t, -30, 4), TALKER_SPEAKING);
}

static void test_short_burst_does_not_count(void **state)
{
	(void)state;
	struct talker t;
	assert_int_equal(talker_init(&t, &cfg4), 0);
	/* three frames of a loud tone, then the band between the thresholds:
	 * the start was not held, so it is let go at once */
	for (int round = 0; round < 20; round++) {
		assert_int_equal(feed(&t, -10, 3), TALKER_ONSET);
		assert_false(talker_speaking(&t));
		assert_int_equal(talker_update(&t, -35), TALKER_QUIET);
		assert_false(talker_voiced(&t));
		/* and silence after it changes nothing */
		assert_int_equal(feed(&t, -90, 5), TALKER_QUIET);
	}
	/* the count starts again after a break: 3 + 3 frames never reach 4 */
	assert_int_equal(feed(&t, -10, 3), TALKER_ONSET);
	assert_int_equal(talker_update(&t, -60), TALKER_QUIET);
	assert_int_equal(feed(&t, -10, 3), TALKER_ONSET);
	assert_int_equal(talker_update(&t, -10), TALKER_SPEAKING);
}

static void test_band_between_thresholds(void **state)
{
	(void)state;
	struct talker t;
	assert_int_equal(talker_init(&t, &cfg4), 0);
	/* from quiet, the band is not speech */
	assert_int_equal(feed(&t, -40, 100), TALKER_QUIET);
	/* from speaking, it is not silence: no release however long */
	assert_int_equal(feed(&t, -20, 4), TALKER_SPEAKING);
	assert_int_equal(feed(&t, -40, 500), TALKER_SPEAKING);
	/* just below off starts the hangover; back in the band ends it */
	assert_int_equal(feed(&t, -46, 9), TALKER_HANGOVER);
	assert_true(talker_speaking(&t));
	assert_true(talker_voiced(&t));
	assert_int_equal(talker_update(&t, -44), TALKER_SPEAKING);
	/* the count started again: nine more below off do not release */
	assert_int_equal(feed(&t, -46, 9), TALKER_HANGOVER);
	assert_int_equal(talker_update(&t, -46), TALKER_QUIET);
}

static void test_release(void **state)
{
	(void)state;
	struct talker t;
	assert_int_equal(talker_init(&t, &cfg4), 0);
	assert_int_equal(feed(&t, -12, 10), TALKER_SPEAKING);
	/* pauses between words shorter than the release stay in */
	for (int word = 0; word < 10; word++) {
		assert_int_equal(feed(&t, TALKER_FLOOR_DBFS, 9), TALKER_HANGOVER);
		assert_int_equal(feed(&t, -15, 3), TALKER_SPEAKING);
	}
	/* silence for exactly `release` frames ends it, not one before */
	assert_int_equal(feed(&t, TALKER_FLOOR_DBFS, 9), TALKER_HANGOVER);
	assert_true(talker_speaking(&t));
	assert_int_equal(talker_update(&t, TALKER_FLOOR_DBFS), TALKER_QUIET);
	assert_false(talker_speaking(&t));
	assert_false(talker_voiced(&t));
	/* and a new talkspurt needs the attack again */
	assert_int_equal(feed(&t, -12, 3), TALKER_ONSET);
	assert_int_equal(talker_update(&t, -12), TALKER_SPEAKING);
	/* reset drops it at once */
	talker_reset(&t);
	assert_int_equal(t.state, TALKER_QUIET);
	assert_true(t.level <= TALKER_FLOOR_DBFS);
}

static void test_one_frame_attack_and_release(void **state)
{
	(void)state;
	struct talker t;
	struct talker_cfg c = { .on_dbfs = -30, .off_dbfs = -30, .attack = 1, .release = 1 };
	assert_int_equal(talker_init(&t, &c), 0);
	assert_int_equal(talker_update(&t, -29), TALKER_SPEAKING);
	assert_int_equal(talker_update(&t, -31), TALKER_QUIET);
	assert_int_equal(talker_update(&t, -30), TALKER_SPEAKING);
	assert_string_equal(talker_state_name(TALKER_SPEAKING), "speaking");
	assert_string_equal(talker_state_name(TALKER_HANGOVER), "hangover");
	assert_string_equal(talker_state_name(TALKER_ONSET), "onset");
	assert_string_equal(talker_state_name(TALKER_QUIET), "quiet");
}

static void sine(int16_t *x, size_t n, double amp, double freq)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (int16_t)lrint(amp * sin(TWO_PI * freq * (double)i / 48000));
}

static void test_level(void **state)
{
	(void)state;
	static int16_t x[960];
	sine(x, 960, 32767, 1000);
	assert_float_equal(talker_dbfs(x, 960), 0.0, 0.05);
	sine(x, 960, 32767 * 0.5011872, 1000); /* -6 dB */
	assert_float_equal(talker_dbfs(x, 960), -6.0, 0.05);
	sine(x, 960, 32767 * 0.01, 440); /* -40 dB */
	assert_float_equal(talker_dbfs(x, 960), -40.0, 0.1);
	for (size_t i = 0; i < 960; i++)
		x[i] = i & 1 ? 32767 : -32767;
	assert_float_equal(talker_dbfs(x, 960), 3.01, 0.05);
	memset(x, 0, sizeof(x));
	assert_true(talker_dbfs(x, 960) == TALKER_FLOOR_DBFS);
	assert_true(talker_dbfs(x, 0) == TALKER_FLOOR_DBFS);
	assert_true(talker_dbfs(NULL, 10) == TALKER_FLOOR_DBFS);
	/* one LSB everywhere: -87.3 dBFS; one LSB in one sample: below the floor */
	for (size_t i = 0; i < 960; i++)
		x[i] = 1;
	assert_float_equal(talker_dbfs(x, 960), -87.3, 0.05);
	memset(x, 0, sizeof(x));
	x[0] = 1;
	assert_true(talker_dbfs(x, 960) == TALKER_FLOOR_DBFS);
	/* the 8 kHz frame of the same tone measures the same */
	int16_t y[160];
	for (size_t i = 0; i < 160; i++)
		y[i] = (int16_t)lrint(32767 * 0.5011872 * sin(TWO_PI * 1000 * (double)i / 8000));
	assert_float_equal(talker_dbfs(y, 160), -6.0, 0.05);
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_defaults_and_bad_cfg),
		UNIT_TEST(test_attack),
		UNIT_TEST(test_short_burst_does_not_count),
		UNIT_TEST(test_band_between_thresholds),
		UNIT_TEST(test_release),
		UNIT_TEST(test_one_frame_attack_and_release),
		UNIT_TEST(test_level),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
