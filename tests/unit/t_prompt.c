/*
 * t_prompt.c: the prompts as built by prompts/build.sh (every id has its
 * text and its audio, spoken, at the right rate and level), the beep, the
 * WAV reader on good and broken headers, files the loader must refuse
 * without failing, spoken numbers, and the player's frames across items.
 *
 * The built prompts are read from $PBX_PROMPT_DIR, else build/prompts (the
 * Makefile builds them before the unit tests); the texts from prompts/.
 */
#include "unit.h"

#include "log.h"
#include "prompt.h"
#include "wav.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static const char *built_dir(void)
{
	const char *d = getenv("PBX_PROMPT_DIR");
	return d && *d ? d : "build/prompts";
}

/* ---- WAV building for the tests -------------------------------------------------- */

static size_t put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return 2;
}

static size_t put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
	return 4;
}

/* A canonical PCM WAV with samples s[0..n). Returns its length. */
static size_t make_wav(uint8_t *buf, size_t cap, uint16_t tag, uint16_t channels, uint32_t rate,
		       uint16_t bits, const int16_t *s, size_t n)
{
	size_t data = n * 2, len = 44 + data;
	assert_true(len <= cap);
	memcpy(buf, "RIFF", 4);
	put32(buf + 4, (uint32_t)(len - 8));
	memcpy(buf + 8, "WAVEfmt ", 8);
	put32(buf + 16, 16);
	put16(buf + 20, tag);
	put16(buf + 22, channels);
	put32(buf + 24, rate);
	put32(buf + 28, rate * channels * bits / 8);
	put16(buf + 32, (unsigned)(channels * bits / 8));
	put16(buf + 34, bits);
	memcpy(buf + 36, "data", 4);
	put32(buf + 40, (uint32_t)data);
	for (size_t i = 0; i < n; i++)
		put16(buf + 44 + 2 * i, (uint16_t)s[i]);
	return len;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* ---- the WAV reader ------------------------------------------------------------------ */

static void test_wav_parse(void **state)
{
	(void)state;
	uint8_t buf[512];
	int16_t s[4] = { 1, -2, 300, -32768 };
	struct wav_info w;
	size_t len = make_wav(buf, sizeof buf, 1, 1, 8000, 16, s, 4);
	assert_int_equal(wav_parse(buf, len, &w), 0);
	assert_int_equal(w.rate, 8000);
	assert_int_equal(w.channels, 1);
	assert_int_equal(w.bits, 16);
	assert_ptr_equal(w.data, buf + 44);
	assert_int_equal(w.data_len, 8);

	/* A data chunk longer than the file: taken as far as it goes, whole frames. */
	assert_int_equal(wav_parse(buf, len - 1, &w), 0);
	assert_int_equal(w.data_len, 6);
	/* Too short for any header, or the wrong magic. */
	for (size_t cut = 0; cut < 44; cut++)
		assert_int_equal(wav_parse(buf, cut, &w), EBADMSG);
	buf[0] = 'X';
	assert_int_equal(wav_parse(buf, len, &w), EBADMSG);
	assert_int_equal(wav_parse(NULL, 0, &w), EBADMSG);

	/* Float and compressed formats are not ours to read. */
	len = make_wav(buf, sizeof buf, 3, 1, 8000, 32, s, 4);
	assert_int_equal(wav_parse(buf, len, &w), ENOTSUP);
	len = make_wav(buf, sizeof buf, 7, 1, 8000, 8, s, 4);
	assert_int_equal(wav_parse(buf, len, &w), ENOTSUP);

	/* Inconsistent fields. */
	len = make_wav(buf, sizeof buf, 1, 1, 8000, 16, s, 4);
	put16(buf + 32, 4); /* block align of stereo */
	assert_int_equal(wav_parse(buf, len, &w), EBADMSG);
	len = make_wav(buf, sizeof buf, 1, 0, 8000, 16, s, 4);
	assert_int_equal(wav_parse(buf, len, &w), EBADMSG);
	len = make_wav(buf, sizeof buf, 1, 1, 0, 16, s, 4);
	assert_int_equal(wav_parse(buf, len, &w), EBADMSG);
	len = make_wav(buf, sizeof buf, 1, 1, 8000, 12, s, 4);
	assert_int_equal(wav_parse(buf, len, &w), EBADMSG);
	/* fmt longer than the file. */
	len = make_wav(buf, sizeof buf, 1, 1, 8000, 16, s, 4);
	put32(buf + 16, 4000);
	assert_int_equal(wav_parse(buf, len, &w), EBADMSG);
}

static void test_wav_chunks(void **state)
{
	(void)state;
	uint8_t buf[4096];
	struct wav_info w;
	/* RIFF, an odd-sized LIST chunk (with its pad byte), fmt, data. */
	size_t o = 0;
	memcpy(buf, "RIFF\0\0\0\0WAVE", 12);
	o = 12;
	memcpy(buf + o, "LIST", 4);
	o += 4;
	o += put32(buf + o, 3);
	memcpy(buf + o, "abc", 3);
	o += 4; /* 3 bytes and the pad */
	memcpy(buf + o, "fmt ", 4);
	o += 4;
	o += put32(buf + o, 16);
	o += put16(buf + o, 1);
	o += put16(buf + o, 2);
	o += put32(buf + o, 48000);
	o += put32(buf + o, 48000 * 4);
	o += put16(buf + o, 4);
	o += put16(buf + o, 16);
	memcpy(buf + o, "data", 4);
	o += 4;
	o += put32(buf + o, 10); /* 2.5 frames: the half is dropped */
	memset(buf + o, 0x11, 10);
	o += 10;
	assert_int_equal(wav_parse(buf, o, &w), 0);
	assert_int_equal(w.channels, 2);
	assert_int_equal(w.rate, 48000);
	assert_int_equal(w.data_len, 8);

	/* data before fmt. */
	memcpy(buf + 12, "data", 4);
	assert_int_equal(wav_parse(buf, o, &w), EBADMSG);

	/* WAVE_FORMAT_EXTENSIBLE with the PCM sub-format, and with another one. */
	static const uint8_t pcm_guid[16] = { 1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71 };
	o = 12;
	memcpy(buf + o, "fmt ", 4);
	o += 4;
	o += put32(buf + o, 40);
	o += put16(buf + o, 0xfffe);
	o += put16(buf + o, 1);
	o += put32(buf + o, 8000);
	o += put32(buf + o, 16000);
	o += put16(buf + o, 2);
	o += put16(buf + o, 16);
	o += put16(buf + o, 22);
	o += put16(buf + o, 16);
	o += put32(buf + o, 4);
	size_t guid_at = o;
	memcpy(buf + o, pcm_guid, 16);
	o += 16;
	memcpy(buf + o, "data", 4);
	o += 4;
	o += put32(buf + o, 4);
	o += put32(buf + o, 0x7fff8000);
	assert_int_equal(wav_parse(buf, o, &w), 0);
	assert_int_equal(w.bits, 16);
	assert_int_equal(w.data_len, 4);
	buf[guid_at] = 3; /* IEEE float */
	assert_int_equal(wav_parse(buf, o, &w), ENOTSUP);

	/* Only WAV_MAX_CHUNKS chunks are looked at before giving up. */
	o = 12;
	for (unsigned i = 0; i < WAV_MAX_CHUNKS + 2; i++) {
		memcpy(buf + o, "junk", 4);
		o += 4;
		o += put32(buf + o, 0);
	}
	assert_true(o < sizeof buf);
	assert_int_equal(wav_parse(buf, o, &w), EBADMSG);
}

/* ---- the built prompts --------------------------------------------------------------- */

static void test_every_prompt_has_text(void **state)
{
	(void)state;
	/* Every id (but the synthesised beep) has its text ... */
	for (int id = 0; id < PROMPT_COUNT; id++) {
		const char *name = prompt_name((enum prompt_id)id);
		assert_non_null(name);
		if (id == PROMPT_BEEP)
			continue;
		char path[256];
		snprintf(path, sizeof path, "prompts/%s.txt", name);
		struct stat st;
		if (stat(path, &st) != 0)
			fprintf(stderr, "missing %s\n", path);
		assert_int_equal(stat(path, &st), 0);
		assert_true(st.st_size > 1);
	}
	assert_null(prompt_name(PROMPT_COUNT));
	/* ... and every text is a prompt the code knows. */
	DIR *d = opendir("prompts");
	assert_non_null(d);
	struct dirent *e;
	unsigned texts = 0;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".txt") != 0)
			continue;
		texts++;
		bool known = false;
		for (int id = 0; id < PROMPT_COUNT && !known; id++)
			known = strlen(prompt_name((enum prompt_id)id)) == n - 4 &&
				strncmp(prompt_name((enum prompt_id)id), e->d_name, n - 4) == 0;
		if (!known)
			fprintf(stderr, "prompts/%s has no prompt id\n", e->d_name);
		assert_true(known);
	}
	closedir(d);
	assert_int_equal(texts, PROMPT_COUNT - 1);
}

static double rms(const int16_t *s, size_t n)
{
	double acc = 0;
	for (size_t i = 0; i < n; i++)
		acc += (double)s[i] * s[i];
	return n ? sqrt(acc / (double)n) : 0;
}

/* Energy of one frequency (Goertzel), normalised to the amplitude of a sine. */
static double tone_level(const int16_t *s, size_t n, double hz)
{
	double k = 2.0 * cos(2.0 * M_PI * hz / PROMPT_RATE), s1 = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		double s0 = s[i] + k * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	double p = s1 * s1 + s2 * s2 - k * s1 * s2;
	return 2.0 * sqrt(p > 0 ? p : 0) / (double)n;
}

static void test_built_prompts_load(void **state)
{
	(void)state;
	struct prompt_table *t = NULL;
	unsigned missing = 99;
	assert_int_equal(prompt_table_load(built_dir(), &t, &missing), 0);
	if (missing)
		fprintf(stderr, "%u prompts missing in %s (run prompts/build.sh)\n", missing, built_dir());
	assert_int_equal(missing, 0);
	for (int id = 1; id < PROMPT_COUNT; id++) {
		struct prompt_pcm p = prompt_get(t, (enum prompt_id)id);
		/* Speech: between a short word and a long menu, clearly audible,
		 * normalised by build.sh to a -6 dBFS peak. */
		assert_true(p.n >= PROMPT_RATE / 5);
		assert_true(p.n <= PROMPT_RATE * 20);
		assert_true(rms(p.samples, p.n) > 800);
		int peak = 0;
		for (size_t i = 0; i < p.n; i++)
			peak = abs(p.samples[i]) > peak ? abs(p.samples[i]) : peak;
		assert_true(peak > 14000 && peak < 18000);
	}
	/* A menu is longer than a digit. */
	assert_true(prompt_ms(t, PROMPT_VM_MAIN_MENU) > 3 * prompt_ms(t, PROMPT_NUM_1));
	prompt_table_free(t);
}

static void test_beep(void **state)
{
	(void)state;
	struct prompt_table *t = NULL;
	unsigned missing = 0;
	/* The beep needs no file: it is there even when nothing else is. */
	char nowhere[128];
	snprintf(nowhere, sizeof nowhere, "%s/none", tmpdir);
	assert_int_equal(prompt_table_load(nowhere, &t, &missing), 0);
	assert_int_equal(missing, PROMPT_COUNT - 1);
	struct prompt_pcm b = prompt_get(t, PROMPT_BEEP);
	assert_int_equal(b.n, PROMPT_RATE / 4);
	assert_int_equal(prompt_ms(t, PROMPT_BEEP), 250);
	double at1k = tone_level(b.samples, b.n, 1000), at2k = tone_level(b.samples, b.n, 2000);
	assert_true(at1k > 9000 && at1k < 11000);
	assert_true(at2k < at1k / 100);
	/* Soft edges: no click. */
	assert_true(abs(b.samples[0]) < 50 && abs(b.samples[b.n - 1]) < 50);
	for (int id = 1; id < PROMPT_COUNT; id++)
		assert_int_equal(prompt_get(t, (enum prompt_id)id).n, 0);
	prompt_table_free(t);

	assert_int_equal(prompt_table_load("", &t, &missing), EINVAL);
	assert_null(t);
}

/* Files the loader must leave silent: other rates, stereo, garbage, a
 * folder in place of a file, too big. The good one is read little-endian. */
static void test_bad_files_stay_silent(void **state)
{
	(void)state;
	char dir[128], path[256];
	snprintf(dir, sizeof dir, "%s/bad", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	uint8_t buf[1024];
	int16_t s[6] = { 0, 1000, -1000, 32767, -32768, 258 };

	snprintf(path, sizeof path, "%s/%s.wav", dir, prompt_name(PROMPT_GOODBYE));
	write_file(path, buf, make_wav(buf, sizeof buf, 1, 1, 8000, 16, s, 6));
	snprintf(path, sizeof path, "%s/%s.wav", dir, prompt_name(PROMPT_NUM_1));
	write_file(path, buf, make_wav(buf, sizeof buf, 1, 1, 16000, 16, s, 6));
	snprintf(path, sizeof path, "%s/%s.wav", dir, prompt_name(PROMPT_NUM_2));
	write_file(path, buf, make_wav(buf, sizeof buf, 1, 2, 8000, 16, s, 6));
	snprintf(path, sizeof path, "%s/%s.wav", dir, prompt_name(PROMPT_NUM_3));
	write_file(path, "not a wav file at all, not at all", 33);
	snprintf(path, sizeof path, "%s/%s.wav", dir, prompt_name(PROMPT_NUM_4));
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/%s.wav", dir, prompt_name(PROMPT_NUM_5));
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, 44, f), 44);
	assert_int_equal(fseek(f, PROMPT_FILE_MAX, SEEK_SET), 0); /* sparse, past the limit */
	assert_int_equal(fputc(0, f), 0);
	assert_int_equal(fclose(f), 0);

	struct prompt_table *t = NULL;
	unsigned missing = 0;
	assert_int_equal(prompt_table_load(dir, &t, &missing), 0);
	assert_int_equal(missing, PROMPT_COUNT - 2);
	struct prompt_pcm g = prompt_get(t, PROMPT_GOODBYE);
	assert_int_equal(g.n, 6);
	assert_memory_equal(g.samples, s, sizeof s);
	for (int id = PROMPT_NUM_1; id <= PROMPT_NUM_5; id++)
		assert_int_equal(prompt_get(t, (enum prompt_id)id).n, 0);
	assert_int_equal(prompt_get(t, PROMPT_COUNT).n, 0);
	prompt_table_free(t);
}

/* ---- sequences ------------------------------------------------------------------------ */

static void expect_seq(const struct prompt_seq *s, const enum prompt_id *want, unsigned n)
{
	assert_int_equal(s->n, n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(s->id[i], want[i]);
}

static void number_is(unsigned n, const enum prompt_id *want, unsigned count)
{
	struct prompt_seq s = { 0 };
	assert_int_equal(prompt_seq_add_number(&s, n), 0);
	expect_seq(&s, want, count);
}

static void test_numbers_and_digits(void **state)
{
	(void)state;
	number_is(0, (enum prompt_id[]){ PROMPT_NUM_0 }, 1);
	number_is(7, (enum prompt_id[]){ PROMPT_NUM_7 }, 1);
	number_is(13, (enum prompt_id[]){ PROMPT_NUM_13 }, 1);
	number_is(20, (enum prompt_id[]){ PROMPT_NUM_20 }, 1);
	number_is(42, (enum prompt_id[]){ PROMPT_NUM_40, PROMPT_NUM_2 }, 2);
	number_is(99, (enum prompt_id[]){ PROMPT_NUM_90, PROMPT_NUM_9 }, 2);
	number_is(100, (enum prompt_id[]){ PROMPT_NUM_1, PROMPT_NUM_100 }, 2);
	number_is(105, (enum prompt_id[]){ PROMPT_NUM_1, PROMPT_NUM_100, PROMPT_NUM_5 }, 3);
	number_is(1000, (enum prompt_id[]){ PROMPT_NUM_1, PROMPT_NUM_1000 }, 2);
	number_is(2345, (enum prompt_id[]){ PROMPT_NUM_2, PROMPT_NUM_1000, PROMPT_NUM_3, PROMPT_NUM_100,
					    PROMPT_NUM_40, PROMPT_NUM_5 },
		  6);
	number_is(9019, (enum prompt_id[]){ PROMPT_NUM_9, PROMPT_NUM_1000, PROMPT_NUM_19 }, 3);

	struct prompt_seq s = { 0 };
	assert_int_equal(prompt_seq_add_number(&s, 10000), EINVAL);
	assert_int_equal(s.n, 0);

	/* "The person at extension one zero zero one is busy." */
	assert_int_equal(prompt_seq_add(&s, PROMPT_VM_PERSON_AT_EXT), 0);
	assert_int_equal(prompt_seq_add_digits(&s, "1001"), 0);
	assert_int_equal(prompt_seq_add(&s, PROMPT_VM_IS_BUSY), 0);
	expect_seq(&s,
		   (enum prompt_id[]){ PROMPT_VM_PERSON_AT_EXT, PROMPT_NUM_1, PROMPT_NUM_0, PROMPT_NUM_0,
				       PROMPT_NUM_1, PROMPT_VM_IS_BUSY },
		   6);
	assert_int_equal(prompt_seq_add_digits(&s, "10a1"), EINVAL);
	assert_int_equal(prompt_seq_add_digits(&s, ""), EINVAL);
	assert_int_equal(prompt_seq_add_digits(&s, "1234567890123456"), EINVAL);
	assert_int_equal(prompt_seq_add(&s, PROMPT_COUNT), EINVAL);
	assert_int_equal(s.n, 6);

	/* Full: all or nothing. */
	assert_int_equal(prompt_seq_add_digits(&s, "123456789012345"), 0);
	assert_int_equal(s.n, 21);
	assert_int_equal(prompt_seq_add_number(&s, 2345), ENOSPC);
	assert_int_equal(prompt_seq_add_digits(&s, "1234"), ENOSPC);
	assert_int_equal(s.n, 21);
	assert_int_equal(prompt_seq_add_number(&s, 42), 0);
	assert_int_equal(prompt_seq_add(&s, PROMPT_GOODBYE), 0);
	assert_int_equal(s.n, PROMPT_SEQ_MAX);
	assert_int_equal(prompt_seq_add(&s, PROMPT_GOODBYE), ENOSPC);
}

/* ---- player ------------------------------------------------------------------------------ */

static void test_player_frames(void **state)
{
	(void)state;
	/* Three items of 100, 250 and 30 samples counting up: the frames must
	 * run through them without a gap, the last one padded with zeros. */
	static int16_t a[100], b[250], c[30];
	int16_t v = 1;
	for (size_t i = 0; i < 100; i++)
		a[i] = v++;
	for (size_t i = 0; i < 250; i++)
		b[i] = v++;
	for (size_t i = 0; i < 30; i++)
		c[i] = v++;
	struct prompt_player p;
	prompt_player_init(&p);
	assert_true(prompt_player_done(&p));
	assert_int_equal(prompt_player_add_pcm(&p, a, 100), 0);
	assert_int_equal(prompt_player_add_pcm(&p, b, 250), 0);
	assert_int_equal(prompt_player_add_pcm(&p, NULL, 0), 0); /* nothing */
	assert_int_equal(prompt_player_add_pcm(&p, NULL, 5), EINVAL);
	assert_int_equal(prompt_player_add_silence(&p, 10), 0);   /* 80 zeros */
	assert_int_equal(prompt_player_add_pcm(&p, c, 30), 0);
	assert_false(prompt_player_done(&p));

	int16_t f[PROMPT_FRAME];
	int16_t want = 1;
	size_t total = 0;
	unsigned frames = 0;
	while (prompt_player_next(&p, f)) {
		assert_true(++frames <= 4);
		for (size_t i = 0; i < PROMPT_FRAME; i++, total++) {
			if (total < 350 || (total >= 430 && total < 460))
				assert_int_equal(f[i], want++);
			else
				assert_int_equal(f[i], 0); /* the silence item, then the padding */
		}
	}
	/* 100 + 250 + 80 + 30 = 460 samples: three frames. */
	assert_int_equal(frames, 3);
	assert_true(prompt_player_done(&p));
	memset(f, 0x55, sizeof f);
	assert_false(prompt_player_next(&p, f));
	for (size_t i = 0; i < PROMPT_FRAME; i++)
		assert_int_equal(f[i], 0);

	/* Re-initialising stops at once. */
	assert_int_equal(prompt_player_add_pcm(&p, a, 100), 0);
	prompt_player_init(&p);
	assert_true(prompt_player_done(&p));

	/* Capacity. */
	for (unsigned i = 0; i < PROMPT_PLAYER_ITEMS; i++)
		assert_int_equal(prompt_player_add_pcm(&p, a, 1), 0);
	assert_int_equal(prompt_player_add_pcm(&p, a, 1), ENOSPC);
	assert_int_equal(prompt_player_add_silence(&p, 20), ENOSPC);
	assert_int_equal(prompt_player_add_silence(&p, 70000), EINVAL);
	/* Thirty-two one-sample items fit one frame. */
	assert_true(prompt_player_next(&p, f));
	assert_true(prompt_player_done(&p));
	for (size_t i = 0; i < PROMPT_PLAYER_ITEMS; i++)
		assert_int_equal(f[i], a[0]);
	assert_int_equal(f[PROMPT_PLAYER_ITEMS], 0);
}

static void test_player_sequences(void **state)
{
	(void)state;
	char dir[128], path[256];
	snprintf(dir, sizeof dir, "%s/seq", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	uint8_t buf[2048];
	int16_t one[200], two[300];
	for (size_t i = 0; i < 200; i++)
		one[i] = 1;
	for (size_t i = 0; i < 300; i++)
		two[i] = 2;
	snprintf(path, sizeof path, "%s/num_1.wav", dir);
	write_file(path, buf, make_wav(buf, sizeof buf, 1, 1, 8000, 16, one, 200));
	snprintf(path, sizeof path, "%s/num_2.wav", dir);
	write_file(path, buf, make_wav(buf, sizeof buf, 1, 1, 8000, 16, two, 300));
	struct prompt_table *t = NULL;
	assert_int_equal(prompt_table_load(dir, &t, NULL), 0);

	/* "one, (missing three: skipped), two, beep" */
	struct prompt_seq s = { 0 };
	assert_int_equal(prompt_seq_add_digits(&s, "132"), 0);
	assert_int_equal(prompt_seq_add(&s, PROMPT_BEEP), 0);
	struct prompt_player p;
	prompt_player_init(&p);
	assert_int_equal(prompt_player_add_seq(&p, t, &s), 0);
	struct prompt_pcm beep = prompt_get(t, PROMPT_BEEP);
	int16_t f[PROMPT_FRAME];
	size_t n = 0, ones = 0, twos = 0, beep_same = 0, after = 0;
	while (prompt_player_next(&p, f)) {
		for (size_t i = 0; i < PROMPT_FRAME; i++, n++) {
			if (n < 200)
				ones += f[i] == 1;
			else if (n < 500)
				twos += f[i] == 2;
			else if (n < 500 + beep.n)
				beep_same += f[i] == beep.samples[n - 500];
			else
				after += f[i] != 0;
		}
		assert_true(n < 10000);
	}
	assert_int_equal(ones, 200);
	assert_int_equal(twos, 300);
	assert_int_equal(beep_same, beep.n);
	assert_int_equal(after, 0);
	assert_int_equal(n, ((500 + PROMPT_RATE / 4 + PROMPT_FRAME - 1) / PROMPT_FRAME) * PROMPT_FRAME);

	/* A sequence that would overflow the player is refused whole. */
	prompt_player_init(&p);
	for (unsigned i = 0; i < PROMPT_PLAYER_ITEMS - 2; i++)
		assert_int_equal(prompt_player_add_pcm(&p, one, 1), 0);
	s.n = 0;
	assert_int_equal(prompt_seq_add_digits(&s, "121"), 0);
	assert_int_equal(prompt_player_add_seq(&p, t, &s), ENOSPC);
	assert_int_equal(p.n, PROMPT_PLAYER_ITEMS - 2);
	/* Silent prompts take no room. */
	s.n = 0;
	assert_int_equal(prompt_seq_add_digits(&s, "13331"), 0);
	assert_int_equal(prompt_player_add_seq(&p, t, &s), 0);
	assert_int_equal(p.n, PROMPT_PLAYER_ITEMS);
	s.n = 1;
	s.id[0] = PROMPT_COUNT;
	assert_int_equal(prompt_player_add_seq(&p, t, &s), EINVAL);
	prompt_table_free(t);
}

static int group_setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERR);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_prompt.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_wav_parse),
		UNIT_TEST(test_wav_chunks),
		UNIT_TEST(test_every_prompt_has_text),
		UNIT_TEST(test_built_prompts_load),
		UNIT_TEST(test_beep),
		UNIT_TEST(test_bad_files_stay_silent),
		UNIT_TEST(test_numbers_and_digits),
		UNIT_TEST(test_player_frames),
		UNIT_TEST(test_player_sequences),
	};
	return cmocka_run_group_tests_name("prompt", tests, group_setup, group_teardown);
}
