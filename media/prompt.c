/*
 * prompt.c: the prompt table (files read once at start-up, the beep
 * synthesised), sequences of prompt ids with spoken numbers, and the
 * frame-by-frame player. See prompt.h.
 */
#include "prompt.h"
#include "log.h"
#include "wav.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROMPT_NAME_(id, name) name,
static const char *const prompt_names[PROMPT_COUNT] = { PROMPT_LIST(PROMPT_NAME_) };
#undef PROMPT_NAME_

/* The beep: a 1 kHz tone for 250 ms at about -10 dBFS, with 10 ms ramps so
 * it starts and ends without a click. */
#define BEEP_HZ 1000.0
#define BEEP_MS 250
#define BEEP_RAMP_MS 10
#define BEEP_AMPLITUDE 10362.0 /* 0.316 of full scale */

struct prompt_table {
	struct prompt_pcm pcm[PROMPT_COUNT];
	int16_t *owned[PROMPT_COUNT]; /* what pcm[i].samples points at, freed with the table */
};

const char *prompt_name(enum prompt_id id)
{
	return (unsigned)id < PROMPT_COUNT ? prompt_names[id] : NULL;
}

/* Read a whole file of at most PROMPT_FILE_MAX bytes into a new buffer. */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	struct stat st;
	int ret = 0;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) != 0) {
		ret = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)PROMPT_FILE_MAX) {
		ret = EFBIG;
		goto out;
	}
	size_t size = (size_t)st.st_size, got = 0;
	buf = malloc(size ? size : 1);
	if (!buf) {
		ret = ENOMEM;
		goto out;
	}
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r < 0 ? errno : EIO; /* shrank while we read it */
			goto out;
		}
		got += (size_t)r;
	}
	*out = buf;
	*len = size;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

/* One prompt file into owned host-order samples. ENOMEM is the only error
 * that stops the loading; the others leave the prompt silent. */
static int load_one(const char *dir, enum prompt_id id, int16_t **samples, size_t *n)
{
	char path[4096];
	int len = snprintf(path, sizeof path, "%s/%s.wav", dir, prompt_names[id]);
	if (len < 0 || (size_t)len >= sizeof path)
		return ENAMETOOLONG;
	uint8_t *buf = NULL;
	size_t size = 0;
	int rc = read_file(path, &buf, &size);
	if (rc != 0) {
		log_warn("prompt: %s: %s", path, strerror(rc));
		return rc;
	}
	struct wav_info w;
	rc = wav_parse(buf, size, &w);
	if (rc == 0 && (w.rate != PROMPT_RATE || w.channels != 1 || w.bits != 16)) {
		log_warn("prompt: %s: %u Hz, %u channels, %u bits; wanted %u Hz mono 16 bits", path, w.rate,
			 w.channels, w.bits, PROMPT_RATE);
		rc = ENOTSUP;
	} else if (rc != 0) {
		log_warn("prompt: %s: not a PCM WAV file", path);
	}
	if (rc == 0) {
		size_t count = w.data_len / 2;
		int16_t *s = malloc((count ? count : 1) * sizeof *s);
		if (!s) {
			rc = ENOMEM;
		} else {
			for (size_t i = 0; i < count; i++)
				s[i] = (int16_t)(uint16_t)(w.data[2 * i] | w.data[2 * i + 1] << 8);
			*samples = s;
			*n = count;
		}
	}
	free(buf);
	return rc;
}

static int16_t *make_beep(size_t *n)
{
	size_t count = PROMPT_RATE * BEEP_MS / 1000, ramp = PROMPT_RATE * BEEP_RAMP_MS / 1000;
	int16_t *s = malloc(count * sizeof *s);
	if (!s)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		double gain = 1.0;
		size_t edge = i < count - 1 - i ? i : count - 1 - i;
		if (edge < ramp)
			gain = 0.5 - 0.5 * cos(M_PI * (double)edge / (double)ramp);
		s[i] = (int16_t)lrint(BEEP_AMPLITUDE * gain * sin(2.0 * M_PI * BEEP_HZ * (double)i / PROMPT_RATE));
	}
	*n = count;
	return s;
}

int prompt_table_load(const char *dir, struct prompt_table **out, unsigned *missing)
{
	*out = NULL;
	if (missing)
		*missing = 0;
	if (!dir || !*dir)
		return EINVAL;
	struct prompt_table *t = calloc(1, sizeof *t);
	if (!t)
		return ENOMEM;
	unsigned lost = 0;
	for (int id = 0; id < PROMPT_COUNT; id++) {
		int16_t *s = NULL;
		size_t n = 0;
		if (id == PROMPT_BEEP) {
			s = make_beep(&n);
			if (!s) {
				prompt_table_free(t);
				return ENOMEM;
			}
		} else {
			int rc = load_one(dir, (enum prompt_id)id, &s, &n);
			if (rc == ENOMEM) {
				prompt_table_free(t);
				return ENOMEM;
			}
			if (rc != 0)
				lost++;
		}
		t->owned[id] = s;
		t->pcm[id] = (struct prompt_pcm){ .samples = s, .n = s ? n : 0 };
	}
	if (lost)
		log_warn("prompt: %u of %d prompts from %s could not be loaded; they stay silent", lost,
			 PROMPT_COUNT - 1, dir);
	if (missing)
		*missing = lost;
	*out = t;
	return 0;
}

void prompt_table_free(struct prompt_table *t)
{
	if (!t)
		return;
	for (int i = 0; i < PROMPT_COUNT; i++)
		free(t->owned[i]);
	free(t);
}

struct prompt_pcm prompt_get(const struct prompt_table *t, enum prompt_id id)
{
	if (!t || (unsigned)id >= PROMPT_COUNT)
		return (struct prompt_pcm){ NULL, 0 };
	return t->pcm[id];
}

unsigned prompt_ms(const struct prompt_table *t, enum prompt_id id)
{
	return (unsigned)(prompt_get(t, id).n * 1000 / PROMPT_RATE);
}

/* ---- sequences ------------------------------------------------------------------ */

int prompt_seq_add(struct prompt_seq *s, enum prompt_id id)
{
	if (!s || (unsigned)id >= PROMPT_COUNT || s->n > PROMPT_SEQ_MAX)
		return EINVAL;
	if (s->n == PROMPT_SEQ_MAX)
		return ENOSPC;
	s->id[s->n++] = (uint8_t)id;
	return 0;
}

int prompt_seq_add_digits(struct prompt_seq *s, const char *digits)
{
	if (!s || !digits || s->n > PROMPT_SEQ_MAX)
		return EINVAL;
	size_t len = strnlen(digits, 16);
	if (len == 0 || len > 15 || strspn(digits, "0123456789") != len)
		return EINVAL;
	if (len > (size_t)(PROMPT_SEQ_MAX - s->n))
		return ENOSPC;
	for (size_t i = 0; i < len; i++)
		s->id[s->n++] = (uint8_t)(PROMPT_NUM_0 + (digits[i] - '0'));
	return 0;
}

/* 1..99 in words into ids; returns how many (at most 2). */
static unsigned below_hundred(unsigned n, uint8_t *ids)
{
	if (n < 20)
		return ids[0] = (uint8_t)(PROMPT_NUM_0 + n), 1;
	ids[0] = (uint8_t)(PROMPT_NUM_20 + (n / 10 - 2));
	if (n % 10 == 0)
		return 1;
	ids[1] = (uint8_t)(PROMPT_NUM_0 + n % 10);
	return 2;
}

int prompt_seq_add_number(struct prompt_seq *s, unsigned n)
{
	_Static_assert(PROMPT_NUM_19 - PROMPT_NUM_0 == 19 && PROMPT_NUM_90 - PROMPT_NUM_20 == 7,
		       "number prompts in order");
	if (!s || n > 9999 || s->n > PROMPT_SEQ_MAX)
		return EINVAL;
	uint8_t ids[8];
	unsigned k = 0;
	if (n == 0)
		ids[k++] = PROMPT_NUM_0;
	if (n >= 1000) {
		ids[k++] = (uint8_t)(PROMPT_NUM_0 + n / 1000);
		ids[k++] = PROMPT_NUM_1000;
		n %= 1000;
	}
	if (n >= 100) {
		ids[k++] = (uint8_t)(PROMPT_NUM_0 + n / 100);
		ids[k++] = PROMPT_NUM_100;
		n %= 100;
	}
	if (n > 0)
		k += below_hundred(n, ids + k);
	if (k > (unsigned)(PROMPT_SEQ_MAX - s->n))
		return ENOSPC;
	memcpy(s->id + s->n, ids, k);
	s->n = (uint8_t)(s->n + k);
	return 0;
}

/* ---- player ---------------------------------------------------------------------- */

void prompt_player_init(struct prompt_player *p)
{
	memset(p, 0, sizeof *p);
}

int prompt_player_add_seq(struct prompt_player *p, const struct prompt_table *t, const struct prompt_seq *s)
{
	if (!p || !t || !s || s->n > PROMPT_SEQ_MAX)
		return EINVAL;
	unsigned add = 0;
	for (unsigned i = 0; i < s->n; i++) {
		if (s->id[i] >= PROMPT_COUNT)
			return EINVAL;
		if (t->pcm[s->id[i]].n)
			add++;
	}
	if (add > PROMPT_PLAYER_ITEMS - p->n)
		return ENOSPC;
	for (unsigned i = 0; i < s->n; i++)
		if (t->pcm[s->id[i]].n)
			p->item[p->n++] = t->pcm[s->id[i]];
	return 0;
}

int prompt_player_add_pcm(struct prompt_player *p, const int16_t *pcm, size_t n)
{
	if (!p || (!pcm && n))
		return EINVAL;
	if (n == 0)
		return 0;
	if (p->n == PROMPT_PLAYER_ITEMS)
		return ENOSPC;
	p->item[p->n++] = (struct prompt_pcm){ pcm, n };
	return 0;
}

int prompt_player_add_silence(struct prompt_player *p, unsigned ms)
{
	if (!p || ms > 60000)
		return EINVAL;
	if (ms == 0)
		return 0;
	if (p->n == PROMPT_PLAYER_ITEMS)
		return ENOSPC;
	p->item[p->n++] = (struct prompt_pcm){ NULL, (size_t)ms * PROMPT_RATE / 1000 };
	return 0;
}

bool prompt_player_done(const struct prompt_player *p)
{
	return p->cur >= p->n;
}

bool prompt_player_next(struct prompt_player *p, int16_t out[PROMPT_FRAME])
{
	if (prompt_player_done(p)) {
		memset(out, 0, PROMPT_FRAME * sizeof out[0]);
		return false;
	}
	size_t filled = 0;
	/* Each pass finishes an item or fills the frame: at most items + 1 passes. */
	while (filled < PROMPT_FRAME && p->cur < p->n) {
		const struct prompt_pcm *it = &p->item[p->cur];
		size_t take = it->n - p->pos;
		if (take > PROMPT_FRAME - filled)
			take = PROMPT_FRAME - filled;
		if (it->samples)
			memcpy(out + filled, it->samples + p->pos, take * sizeof out[0]);
		else
			memset(out + filled, 0, take * sizeof out[0]);
		filled += take;
		p->pos += take;
		if (p->pos >= it->n) {
			p->cur++;
			p->pos = 0;
		}
	}
	if (filled < PROMPT_FRAME)
		memset(out + filled, 0, (PROMPT_FRAME - filled) * sizeof out[0]);
	return true;
}
